//! With the futures crate's extension traits in scope, typed commands are
//! futures as they are: `join_all`, `select`, `FutureExt` and `tokio::join!`
//! take them without `.into_future()`, on every executor.
#![deny(warnings)]

use futures_util::future::{join_all, select};
use futures_util::{FutureExt, StreamExt, TryFutureExt};
use siderpy::cluster::RedisCluster;
use siderpy::prelude::*;
use siderpy::{Bytes, Redis, RedisPool};

async fn on_redis(redis: &Redis) -> siderpy::Result<()> {
    let _: Vec<siderpy::Result<Option<Bytes>>> = join_all(vec![redis.get("a"), redis.get("b")]).await;
    let _ = select(redis.get("a"), redis.incr("n")).await;
    let _: (siderpy::Result<i64>, siderpy::Result<bool>) = tokio::join!(redis.incr("n"), redis.set("k", "v").nx());
    let _: i64 = redis.incr("n").map_ok(|n| n + 1).await?;
    let _ = redis.get("a").boxed().await?;
    let _ = futures_util::stream::iter(["a", "b"]).then(|k| redis.get(k)).collect::<Vec<_>>().await;
    // IntoFuture still holds, for code bound on it.
    let _ = std::future::IntoFuture::into_future(redis.get("a")).await?;
    Ok(())
}

async fn on_pool_and_cluster(pool: &RedisPool, cluster: &RedisCluster) {
    let _ = join_all(vec![pool.get("a"), pool.get("b")]).await;
    let _ = join_all(vec![cluster.get("a"), cluster.get("b")]).await;
}

fn main() {
    let _ = on_redis;
    let _ = on_pool_and_cluster;
}
