use siderpy::prelude::*;

fn f(redis: &siderpy::Redis) {
    let _ = redis.expire("k", "ten");
}

fn main() {}
