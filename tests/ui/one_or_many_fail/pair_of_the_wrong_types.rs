use siderpy::prelude::*;

fn main() {
    let redis = siderpy::Redis::default();
    // ZADD takes (score, member): a string is no score.
    let _ = redis.zadd("z", ("member", "1.5"));
}
