use siderpy::prelude::*;

fn f(redis: &siderpy::Redis) {
    let _ = redis.set("k");
}

fn main() {}
