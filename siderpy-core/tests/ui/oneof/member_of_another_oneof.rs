use siderpy_core::prelude::*;
use siderpy_core::types::LmoveWherefrom;

fn f(redis: &siderpy_core::Redis) {
    // Each oneof has its own enum: a `wherefrom` is not a `whereto`.
    let _ = redis.lmove("a", "b", LmoveWherefrom::Left, LmoveWherefrom::Right);
}

fn main() {}
