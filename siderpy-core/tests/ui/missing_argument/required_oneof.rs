use siderpy_core::prelude::*;

fn f(redis: &siderpy_core::Redis) {
    // The `<LEFT | RIGHT>` choice is required.
    let _ = redis.lmpop(1, ["list"]);
}

fn main() {}
