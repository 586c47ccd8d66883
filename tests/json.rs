//! `Json<T>` (the `serde` feature): values stored as JSON text and read
//! back, against a real server. The JSON.* module commands are exercised
//! with it in tests/user-crate (a crate built from the packages).

#[macro_use]
mod support;

use siderpy::prelude::*;
use siderpy::{Error, Json, Protocol, Value};
use support::{client, RedisServer};

#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq, Clone)]
struct Session {
    user: String,
    roles: Vec<String>,
    expires: Option<u64>,
}

fn session() -> Session {
    Session { user: "ada".into(), roles: vec!["admin".into(), "ops".into()], expires: None }
}

async fn set_and_get_as_json(p: Protocol) {
    let server = RedisServer::start();
    let redis = client(&server, p);
    assert!(redis.set("session:1", Json(&session())).ex(60).await.unwrap());
    // Stored as JSON text, as any other client reads it.
    let raw: String = redis.get("session:1").returning().await.unwrap();
    assert_eq!(raw, r#"{"user":"ada","roles":["admin","ops"],"expires":null}"#);
    let back: Option<Json<Session>> = redis.get("session:1").returning().await.unwrap();
    assert_eq!(back, Some(Json(session())));
    let missing: Option<Json<Session>> = redis.get("session:none").returning().await.unwrap();
    assert_eq!(missing, None);
    // A hash field, and a pipeline.
    redis.hset("h", [("s", Json(session()))]).await.unwrap();
    let mut pipe = redis.pipe();
    pipe.hget("h", "s").queue().set("n", Json(vec![1, 2, 3])).queue().get("n").queue();
    let (field, _, numbers): (Json<Session>, bool, Json<Vec<i64>>) = pipe.query().await.unwrap();
    assert_eq!((field.0, numbers.0), (session(), vec![1, 2, 3]));
}

async fn text_that_is_not_json_for_the_type_keeps_the_reply(p: Protocol) {
    let server = RedisServer::start();
    let redis = client(&server, p);
    redis.set("plain", "not json").await.unwrap();
    let err = redis.get("plain").returning::<Option<Json<Session>>>().await.unwrap_err();
    assert!(matches!(err, Error::Type(_)), "{err:?}");
    assert!(err.to_string().contains("JSON for"), "{err}");
    assert_eq!(err.reply(), Some(&Value::Bulk("not json".into())), "the reply is kept");
    // Valid JSON of another shape: serde says what is missing.
    redis.set("other", Json(serde_json_like())).await.unwrap();
    let err = redis.get("other").returning::<Option<Json<Session>>>().await.unwrap_err();
    assert!(err.to_string().contains("missing field"), "{err}");
    assert!(err.reply().is_some());
}

/// A JSON object without `Session`'s fields.
fn serde_json_like() -> std::collections::BTreeMap<&'static str, i64> {
    [("n", 1)].into_iter().collect()
}

protocol_tests!(set_and_get_as_json, text_that_is_not_json_for_the_type_keeps_the_reply);
