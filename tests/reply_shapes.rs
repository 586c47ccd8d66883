//! Options that change a reply's shape (COUNT on pops, WITHSCORES, JUSTID...)
//! change the generated method's reply type with them, and a reply that
//! still does not fit is an error that keeps it: against a real server,
//! under RESP2 and RESP3.

#[macro_use]
mod support;

use bytes::Bytes;
use siderpy::prelude::*;
use siderpy::{Error, Protocol, Value};
use support::RedisServer;

protocol_tests!(a_failed_conversion_keeps_the_reply);

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn bulks(items: &[&str]) -> Value {
    Value::Array(items.iter().map(|s| Value::Bulk(b(s))).collect())
}

/// `RPOP l 2` read as one element used to fail and lose the two popped
/// elements; the error now hands them back.
async fn a_failed_conversion_keeps_the_reply(p: Protocol) {
    let server = RedisServer::start();
    let redis = support::client(&server, p);
    redis.rpush("l", ["a", "b", "c"]).await.unwrap();
    let err = redis.rpop("l").count(2).returning::<Option<Bytes>>().await.expect_err("an array is no bulk string");
    assert!(matches!(&err, Error::Type(t) if t.command.as_deref() == Some("RPOP")), "{err:?}");
    assert_eq!(err.reply(), Some(&bulks(&["c", "b"])));
    assert_eq!(err.into_reply(), Some(bulks(&["c", "b"])));
    assert_eq!(redis.lrange("l", 0, -1).await.unwrap(), [b("a")], "the two were popped");

    // Through a pipeline's all-at-once conversion too.
    redis.sadd("s", ["x"]).await.unwrap();
    let mut pipe = redis.pipe();
    pipe.spop("s").count(5).queue();
    let err = pipe.query::<(Option<Bytes>,)>().await.expect_err("a set is no bulk string");
    let Some(Value::Array(replies)) = err.reply() else { panic!("{err:?}") };
    assert!(matches!(&replies[..], [Value::Array(v) | Value::Set(v)] if v == &[Value::Bulk(b("x"))]), "{replies:?}");
}
