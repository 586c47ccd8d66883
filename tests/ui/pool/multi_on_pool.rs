//! A pool lends each command its own connection, so commands that change
//! connection state are not methods of the pool.
use siderpy::prelude::*;

async fn transaction(pool: siderpy::RedisPool) {
    pool.multi().await.unwrap();
}

fn main() {}
