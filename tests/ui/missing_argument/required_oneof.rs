use siderpy::prelude::*;

fn f(redis: &siderpy::Redis) {
    // The `<LEFT | RIGHT>` choice is required.
    let _ = redis.lmpop(1, ["list"]);
}

fn main() {}
