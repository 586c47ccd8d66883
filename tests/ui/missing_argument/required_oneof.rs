use siderpy::prelude::*;

fn f(redis: &siderpy::Redis) {
    // The `<LEFT | RIGHT>` choice is required.
    let _ = redis.lmpop(["list"]);
}

fn main() {}
