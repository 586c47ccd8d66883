//! `MockRedis` (the `mock` feature): application code written against the
//! typed API, unit-tested without a server. No server is started here: that
//! is the feature's purpose.

use siderpy::mock::MockRedis;
use siderpy::prelude::*;
use siderpy::{Error, Executor, Value};

/// Application code as a user writes it: generic over the executor, so
/// production passes `&Redis` and tests a `&MockRedis`.
async fn greet<E>(redis: E, user: &str) -> siderpy::Result<String>
where
    E: Commands + Executor + Copy,
    siderpy::Cmd<E::Sink, siderpy::kind::Incr, i64>: std::future::IntoFuture<Output = siderpy::Result<i64>>,
    siderpy::Cmd<E::Sink, siderpy::kind::Hget, Option<bytes::Bytes>>:
        std::future::IntoFuture<Output = siderpy::Result<Option<bytes::Bytes>>>,
{
    let visits = redis.incr(format!("visits:{user}")).await?;
    let name = redis.hget(format!("user:{user}"), "name").await?;
    let name = name.map_or_else(|| user.to_owned(), |n| String::from_utf8_lossy(&n).into_owned());
    Ok(format!("hello {name}, visit {visits}"))
}

#[tokio::test]
async fn typed_api_against_a_script() {
    let mock = MockRedis::new();
    mock.expect(["INCR", "visits:ada"], Value::Int(3)).expect(["HGET", "user:ada", "name"], Value::Bulk("Ada".into()));
    assert_eq!(greet(&mock, "ada").await.unwrap(), "hello Ada, visit 3");
    assert_eq!(mock.pending(), 0);
    assert_eq!(mock.commands(), [vec!["INCR", "visits:ada"], vec!["HGET", "user:ada", "name"]]);

    // Replies convert as real ones do: nil to None, errors to Error::Redis.
    mock.reply(Value::Int(1)).reply(Value::Nil);
    assert_eq!(greet(&mock, "bob").await.unwrap(), "hello bob, visit 1");
    mock.error("WRONGTYPE Operation against a key holding the wrong kind of value");
    let err = greet(&mock, "eve").await.unwrap_err();
    assert_eq!(err.code(), Some("WRONGTYPE"));
}

#[tokio::test]
async fn mismatches_and_missing_replies_are_usage_errors() {
    let mock = MockRedis::new();
    let err = mock.get("k").await.unwrap_err();
    assert!(matches!(&err, Error::Usage(m) if m.contains("no reply scripted for `GET k`")), "{err:?}");

    mock.expect(["SET", "k", "v"], Value::Simple("OK".into()));
    let err = mock.set("k", "w").await.unwrap_err();
    assert!(matches!(&err, Error::Usage(m) if m.contains("expected `SET k v`, got `SET k w`")), "{err:?}");
    // The expectation is still there for the right command.
    assert!(mock.set("k", "v").await.unwrap());
    assert_eq!(mock.pending(), 0);

    // A reply of the wrong shape is a type error, as from a server.
    mock.reply(Value::Array(vec![]));
    assert!(matches!(mock.get("k").await, Err(Error::Type(_))));
    // Optional arguments and one-or-several arguments are recorded as sent.
    mock.reply(Value::Simple("OK".into())).reply(Value::Int(2));
    mock.set("k", "v").ex(10).nx().await.unwrap();
    mock.delete(["a", "b"]).await.unwrap();
    let sent = mock.commands();
    assert_eq!(sent[sent.len() - 2], ["SET", "k", "v", "NX", "EX", "10"]);
    assert_eq!(sent[sent.len() - 1], ["DEL", "a", "b"]);
}
