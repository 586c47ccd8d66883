use siderpy::prelude::*;
use siderpy::types::{GeosearchBy, GeosearchFrom, GeosearchUnit};

fn f(redis: &siderpy::Redis) {
    // FROMMEMBER and FROMLONLAT are one choice: a second one has no place.
    let _ = redis.geosearch(
        "g",
        GeosearchFrom::Frommember("Palermo".into()),
        GeosearchFrom::Fromlonlat(13.36, 38.11),
        GeosearchBy::Circle(100.0, GeosearchUnit::Km),
    );
}

fn main() {}
