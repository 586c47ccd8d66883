//! Options that change a reply's shape (COUNT on pops, WITHSCORES, JUSTID...)
//! change the generated method's reply type with them, and a reply that
//! still does not fit is an error that keeps it: against a real server,
//! under RESP2 and RESP3.

// ZRANGEBYSCORE, GEORADIUS... are deprecated, and their options probed too.
#![allow(deprecated)]

#[macro_use]
mod support;

use std::collections::HashMap;

use bytes::Bytes;
use siderpy::prelude::*;
use siderpy::{Error, Protocol, Value};
use support::RedisServer;

protocol_tests!(a_failed_conversion_keeps_the_reply, shape_changing_options);

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn bs(items: &[&str]) -> Vec<Bytes> {
    items.iter().map(|s| b(s)).collect()
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

/// Every option that changes a reply's shape, through the setter that
/// sends it: the reply converts to the type the setter switched to (a
/// mismatch fails the `.await`), and holds what the server sent.
async fn shape_changing_options(p: Protocol) {
    let server = RedisServer::start();
    let redis = support::client(&server, p);

    // COUNT on the pops: an array (nil for a missing key on LPOP/RPOP).
    redis.rpush("l", ["a", "b", "c", "d"]).await.unwrap();
    let popped: Option<Vec<Bytes>> = redis.lpop("l").count(2).await.unwrap();
    assert_eq!(popped, Some(bs(&["a", "b"])));
    assert_eq!(redis.rpop("l").count(1).await.unwrap(), Some(bs(&["d"])));
    assert_eq!(redis.rpop("nolist").count(2).await.unwrap(), None);
    assert_eq!(redis.rpop("l").await.unwrap(), Some(b("c")), "without COUNT: one element");
    redis.sadd("s", ["x", "y"]).await.unwrap();
    let mut members: Vec<Bytes> = redis.srandmember("s").count(-3).await.unwrap();
    assert_eq!(members.len(), 3);
    members = redis.spop("s").count(5).await.unwrap();
    members.sort();
    assert_eq!(members, bs(&["x", "y"]));

    // LPOS COUNT: positions.
    redis.rpush("p", ["a", "b", "a"]).await.unwrap();
    let positions: Vec<i64> = redis.lpos("p", "a").count(0).await.unwrap();
    assert_eq!(positions, [0, 2]);

    // The random-member commands: COUNT, then WITHVALUES/WITHSCORES.
    redis.hset("h", [("f", "v")]).await.unwrap();
    let fields: Vec<Bytes> = redis.hrandfield("h").options(5).await.unwrap();
    assert_eq!(fields, bs(&["f"]));
    let pairs: Vec<(Bytes, Bytes)> = redis.hrandfield("h").options_withvalues(5).await.unwrap();
    assert_eq!(pairs, [(b("f"), b("v"))]);
    redis.zadd("z", [(1.5, "m"), (2.0, "n")]).await.unwrap();
    let mut picked: Vec<Bytes> = redis.zrandmember("z").options(2).await.unwrap();
    picked.sort();
    assert_eq!(picked, bs(&["m", "n"]));
    let mut scored: Vec<(Bytes, f64)> = redis.zrandmember("z").options_withscores(2).await.unwrap();
    scored.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(scored, [(b("m"), 1.5), (b("n"), 2.0)]);

    // WITHSCORES on ranges and set operations.
    let with: Vec<(Bytes, f64)> = redis.zrange("z", "0", "-1").withscores().await.unwrap();
    assert_eq!(with, [(b("m"), 1.5), (b("n"), 2.0)]);
    assert_eq!(redis.zrangebyscore("z", 2.0, 3.0).withscores().await.unwrap(), [(b("n"), 2.0)]);
    assert_eq!(redis.zrevrange("z", 0, 0).withscores().await.unwrap(), [(b("n"), 2.0)]);
    assert_eq!(redis.zrevrangebyscore("z", 3.0, 2.0).withscores().await.unwrap(), [(b("n"), 2.0)]);
    assert_eq!(redis.zunion(["z"]).withscores().await.unwrap(), [(b("m"), 1.5), (b("n"), 2.0)]);
    assert_eq!(redis.zinter(["z"]).withscores().await.unwrap(), [(b("m"), 1.5), (b("n"), 2.0)]);
    assert_eq!(redis.zdiff(["z"]).withscores().await.unwrap(), [(b("m"), 1.5), (b("n"), 2.0)]);

    // ZADD INCR: the new score, nil when NX/XX aborts it.
    assert_eq!(redis.zadd("z", [(1.0, "m")]).incr().await.unwrap(), Some(2.5));
    assert_eq!(redis.zadd("z", [(1.0, "m")]).nx().incr().await.unwrap(), None);

    // SET GET: the old value.
    redis.set("k", "old").await.unwrap();
    assert_eq!(redis.set("k", "new").get().await.unwrap(), Some(b("old")));
    assert_eq!(redis.set("fresh", "v").get().await.unwrap(), None);

    // SORT STORE, GEORADIUS STORE/STOREDIST: a count.
    redis.rpush("nums", ["3", "1", "2"]).await.unwrap();
    assert_eq!(redis.sort("nums").store("sorted").await.unwrap(), 3);
    redis.geoadd("g", [(13.361389, 38.115556, "Palermo"), (15.087269, 37.502669, "Catania")]).await.unwrap();
    assert_eq!(redis.georadius("g", 15.0, 37.0, 200.0, siderpy::types::Unit::Km).store("gs").await.unwrap(), 2);
    assert_eq!(redis.georadius("g", 15.0, 37.0, 200.0, siderpy::types::Unit::Km).storedist("gd").await.unwrap(), 2);
    assert_eq!(redis.georadiusbymember("g", "Palermo", 10.0, siderpy::types::Unit::Km).store("gs").await.unwrap(), 1);
    // WITH* options combine, each adding a field: `Value`.
    let with = redis
        .geosearch(
            "g",
            siderpy::types::GeosearchFrom::Frommember(b("Palermo").into()),
            siderpy::types::By::Box(400.0, 400.0, siderpy::types::Unit::Km),
        )
        .withdist()
        .await
        .unwrap();
    assert!(matches!(with, Value::Array(ref v) if v.len() == 2), "{with:?}");

    // LCS LEN / IDX / WITHMATCHLEN.
    redis.set("a", "ohmytext").await.unwrap();
    redis.set("b", "mynewtext").await.unwrap();
    assert_eq!(redis.lcs("a", "b").await.unwrap(), b("mytext"));
    assert_eq!(redis.lcs("a", "b").len().await.unwrap(), 6);
    let idx: HashMap<String, Value> = redis.lcs("a", "b").idx().await.unwrap();
    assert_eq!(idx.get("len"), Some(&Value::Int(6)));
    let with_len = redis.lcs("a", "b").idx().withmatchlen().await.unwrap();
    assert!(!matches!(with_len, Value::Nil), "{with_len:?}");

    // Streams: NOMKSTREAM, JUSTID, XPENDING's range form.
    assert_eq!(
        redis.xadd("nostream", siderpy::types::XaddIdOrAuto::AutoId, [("f", "v")]).nomkstream().await.unwrap(),
        None
    );
    let id = redis.xadd("st", siderpy::types::XaddIdOrAuto::AutoId, [("f", "v")]).await.unwrap();
    redis.xgroup_create("st", "g", siderpy::types::XgroupCreateId::Id(b("0").into())).await.unwrap();
    let read = redis.xreadgroup("g", "c", ["st"], [">"]).await.unwrap();
    assert!(read.is_some());
    let pending: Vec<(Bytes, Bytes, i64, i64)> =
        redis.xpending("st", "g").filters(None, "-", "+", 10, None).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!((&pending[0].0, &pending[0].1, pending[0].3), (&id, &b("c"), 1));
    let claimed: Vec<Bytes> = redis.xclaim("st", "g", "c2", 0, [id.clone()]).justid().await.unwrap();
    assert_eq!(claimed, std::slice::from_ref(&id));
    let (_, ids, deleted): (Bytes, Vec<Bytes>, Vec<Bytes>) =
        redis.xautoclaim("st", "g", "c3", 0, "0").justid().await.unwrap();
    assert_eq!((ids, deleted), (vec![id], vec![]));

    // ACL LOG RESET: +OK.
    redis.acl_log().reset().await.unwrap();

    newer_spec_options(&redis).await;
}

/// Options of specs newer than the bundled 7.0 one (ZRANK WITHSCORE is
/// 7.2+, HSCAN NOVALUES 7.4+ and Valkey 8): compiled and run when the
/// suite is built against the newer fixture spec (`scripts/test.sh`).
#[cfg(siderpy_newer_spec)]
async fn newer_spec_options(redis: &siderpy::Redis) {
    redis.zadd("rank", [(1.5, "m"), (2.0, "n")]).await.unwrap();
    assert_eq!(redis.zrank("rank", "n").withscore().await.unwrap(), Some((1, 2.0)));
    assert_eq!(redis.zrevrank("rank", "n").withscore().await.unwrap(), Some((0, 2.0)));
    assert_eq!(redis.zrank("rank", "none").withscore().await.unwrap(), None);
    // Used to read the field names as (field, value) pairs.
    redis.hset("hs", [("f1", "v1"), ("f2", "v2")]).await.unwrap();
    let (cursor, mut fields): (u64, Vec<Bytes>) = redis.hscan("hs", 0).novalues().await.unwrap();
    fields.sort();
    assert_eq!((cursor, fields), (0, bs(&["f1", "f2"])));
}

#[cfg(not(siderpy_newer_spec))]
async fn newer_spec_options(_: &siderpy::Redis) {}
