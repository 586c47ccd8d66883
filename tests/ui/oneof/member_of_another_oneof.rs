use siderpy::prelude::*;
use siderpy::types::{LmoveWherefrom, ZmpopWhere};

fn f(redis: &siderpy::Redis) {
    // One enum per shape: LEFT | RIGHT serves LMOVE's `wherefrom` and
    // `whereto` alike (`LeftOrRight`, and the old names are aliases), but a
    // MIN | MAX is not one of them.
    let _ = redis.lmove("a", "b", LmoveWherefrom::Left, ZmpopWhere::Max);
}

fn main() {}
