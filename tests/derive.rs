//! `#[derive(FromValue)]` and `#[derive(ToArgs)]` against real servers:
//! structs to and from hashes and stream entries, RESP2 and RESP3.

#[macro_use]
mod support;

use siderpy::prelude::*;
use siderpy::types::XaddIdOrAuto;
use siderpy::{Arg, Error, FromValue, Protocol, ToArgs};
use support::{client, RedisServer};

protocol_tests!(struct_round_trips_through_a_hash, stream_entries_map_to_structs, enums_and_missing_fields);

#[derive(Debug, Clone, PartialEq, FromValue, ToArgs)]
struct User {
    name: String,
    #[siderpy(rename = "mail")]
    email: Option<String>,
    visits: i64,
    #[siderpy(default)]
    score: f64,
}

#[derive(Debug, PartialEq, FromValue, ToArgs)]
#[siderpy(rename_all = "kebab-case")]
struct Reading {
    sensor_id: String,
    value_c: f64,
}

#[derive(Debug, PartialEq, FromValue)]
#[siderpy(rename_all = "lowercase")]
enum KeyType {
    String,
    Hash,
    #[siderpy(rename = "zset")]
    SortedSet,
}

async fn struct_round_trips_through_a_hash(p: Protocol) {
    let server = RedisServer::start();
    let redis = client(&server, p);
    let ada = User { name: "Ada".into(), email: Some("ada@example.com".into()), visits: 3, score: 0.0 };
    assert_eq!(redis.hset("user:1", &ada).await.unwrap(), 4, "every field, a default-valued one too");
    let raw: std::collections::HashMap<String, String> = redis.hgetall("user:1").returning().await.unwrap();
    assert_eq!(raw["mail"], "ada@example.com");
    assert_eq!(raw["visits"], "3");
    let back: User = redis.hgetall("user:1").returning().await.unwrap();
    assert_eq!(back, ada);

    // A None field is not written; a field missing from the hash reads as None / its default.
    let bob = User { name: "Bob".into(), email: None, visits: 1, score: 2.5 };
    redis.hset("user:2", &bob).await.unwrap();
    assert!(!redis.hexists("user:2", "mail").await.unwrap());
    redis.hdel("user:2", "score").await.unwrap();
    let back: User = redis.hgetall("user:2").returning().await.unwrap();
    assert_eq!(back, User { score: 0.0, ..bob });

    // A missing hash is `{}`: None when asked for Option, an error otherwise.
    let none: Option<User> = redis.hgetall("user:404").returning().await.unwrap();
    assert_eq!(none, None);
    let some: Option<User> = redis.hgetall("user:1").returning().await.unwrap();
    assert_eq!(some, Some(ada));
    let err = redis.hgetall("user:404").returning::<User>().await.unwrap_err();
    assert!(matches!(&err, Error::Type(t) if t.to_string().contains("name")), "{err:?}");
}

async fn stream_entries_map_to_structs(p: Protocol) {
    let server = RedisServer::start();
    let redis = client(&server, p);
    let r = Reading { sensor_id: "s-1".into(), value_c: 21.5 };
    let id = redis.xadd("readings", XaddIdOrAuto::Id(Arg::new("1-1")), &r).await.unwrap();
    assert_eq!(id, "1-1");
    let entries: Vec<(String, Reading)> = redis.xrange("readings", "-", "+").returning().await.unwrap();
    assert_eq!(entries, [("1-1".to_owned(), r)]);
}

async fn enums_and_missing_fields(p: Protocol) {
    let server = RedisServer::start();
    let redis = client(&server, p);
    redis.set("s", "v").await.unwrap();
    redis.zadd("z", [(1, "m")]).await.unwrap();
    let t: KeyType = redis.execute_cmd("TYPE", ["s"]).returning().await.unwrap();
    assert_eq!(t, KeyType::String);
    let t: KeyType = redis.execute_cmd("TYPE", ["z"]).returning().await.unwrap();
    assert_eq!(t, KeyType::SortedSet);
    redis.hset("h", [("f", "v")]).await.unwrap();
    assert_eq!(redis.execute_cmd("TYPE", ["h"]).returning::<KeyType>().await.unwrap(), KeyType::Hash);
    let err = redis.execute_cmd("TYPE", ["missing"]).returning::<KeyType>().await.unwrap_err();
    assert!(matches!(&err, Error::Type(t) if t.to_string().contains("\"zset\"")), "{err:?}");
    // A field of the wrong type is a type error, not a silent default.
    redis.hset("reading", [("sensor-id", "x"), ("value-c", "warm")]).await.unwrap();
    let err = redis.hgetall("reading").returning::<Reading>().await.unwrap_err();
    assert!(matches!(err, Error::Type(_)), "{err:?}");
}
