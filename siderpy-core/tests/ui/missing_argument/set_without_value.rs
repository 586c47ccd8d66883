use siderpy_core::prelude::*;

fn f(redis: &siderpy_core::Redis) {
    let _ = redis.set("k");
}

fn main() {}
