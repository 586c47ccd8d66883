//! Generated code must not depend on what the caller's crate root names:
//! every path it emits is fully qualified.
#![deny(warnings)]

#[allow(dead_code)]
struct Result;
#[allow(dead_code)]
struct Option;
#[allow(dead_code)]
struct Vec;
#[allow(dead_code)]
struct String;
#[allow(dead_code)]
struct Box;
#[allow(dead_code)]
struct Some;
#[allow(dead_code)]
struct None;

use siderpy::prelude::*;
use siderpy::types::*;

async fn run(redis: &siderpy::Redis) -> ::core::result::Result<(), siderpy::Error> {
    let _: ::core::option::Option<siderpy::Value> = redis.get("k").returning().await?;
    let _: bool = redis.set("k", "v").nx().ex(10).await?;
    let _ = redis.set("k", "v").get().await?;
    let _ = redis.zadd("z", [(1.0, "a"), (2.0, "b")]).ch().await?;
    let _ = redis
        .geosearch("g", GeosearchFrom::Frommember("m".into()), GeosearchBy::Circle(5.0, GeosearchUnit::Km))
        .count_any(3)
        .await?;
    let _ = redis.client_kill(ClientKillFilter::NewFormat(vec![ClientKillNewFormat::Id(1)])).await?;
    let _ = redis.xadd("s", XaddIdOrAuto::AutoId, [("f", "v")]).trim(XaddStrategy::Maxlen, ::core::option::Option::None, 10, ::core::option::Option::None).await?;
    let _ = redis.multi().await?;
    let _ = redis.execute_cmd("PING", ()).await?;
    Ok(())
}

fn main() {
    let _ = run;
}
