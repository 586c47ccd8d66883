use siderpy_core::prelude::*;

fn f(redis: &siderpy_core::Redis) {
    let _ = redis.set("k", "v").ex(1.5);
}

fn main() {}
