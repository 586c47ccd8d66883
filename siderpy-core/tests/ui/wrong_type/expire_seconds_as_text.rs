use siderpy_core::prelude::*;

fn f(redis: &siderpy_core::Redis) {
    let _ = redis.expire("k", "ten");
}

fn main() {}
