use siderpy::prelude::*;
use siderpy::types::LmoveWherefrom;

fn f(redis: &siderpy::Redis) {
    // Each oneof has its own enum: a `wherefrom` is not a `whereto`.
    let _ = redis.lmove("a", "b", LmoveWherefrom::Left, LmoveWherefrom::Right);
}

fn main() {}
