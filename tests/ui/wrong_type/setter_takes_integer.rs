use siderpy::prelude::*;

fn f(redis: &siderpy::Redis) {
    let _ = redis.set("k", "v").ex(1.5);
}

fn main() {}
