//! The SCAN family as streams, against real servers: every element comes
//! back, options reach the server, and many pages are walked.

#[macro_use]
mod support;

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use siderpy::prelude::*;
use siderpy::{Error, Protocol};
use support::{client, RedisServer};

protocol_tests!(
    scan_iter_walks_every_key_with_match_count_and_type,
    hash_set_and_sorted_set_walks,
    a_page_that_does_not_convert_ends_the_stream_with_an_error,
    typed_scans_take_back_the_cursor_they_return,
);

async fn scan_iter_walks_every_key_with_match_count_and_type(p: Protocol) {
    let server = RedisServer::start();
    let redis = client(&server, p);
    let mut pipe = redis.pipe();
    for i in 0..2_000 {
        pipe.set(format!("user:{i}"), i).queue();
        pipe.set(format!("other:{i}"), i).queue();
    }
    pipe.sadd("user:set", "m").queue();
    pipe.execute().await.unwrap();

    let mut all = HashSet::new();
    let mut stream = redis.scan_iter().count(100);
    while let Some(key) = stream.next().await {
        all.insert(key.unwrap());
    }
    assert_eq!(all.len(), 4_001);

    let mut users = HashSet::new();
    let mut stream = redis.scan_iter().match_("user:*").type_("string").count(500).returning::<String>();
    while let Some(key) = stream.next().await {
        users.insert(key.unwrap());
    }
    let expected: HashSet<String> = (0..2_000).map(|i| format!("user:{i}")).collect();
    assert_eq!(users, expected);

    // As a futures Stream too.
    use futures_util::StreamExt;
    let sets: Vec<Bytes> = redis.scan_iter().type_("set").map(|k| k.unwrap()).collect().await;
    assert_eq!(sets, [Bytes::from_static(b"user:set")]);
    // An empty database ends at once.
    redis.execute_cmd("FLUSHDB", ()).await.unwrap();
    assert!(redis.scan_iter().next().await.is_none());
}

async fn hash_set_and_sorted_set_walks(p: Protocol) {
    let server = RedisServer::start();
    let redis = client(&server, p);
    // Large enough to be hash tables walked in pages, not one listpack reply.
    let fields: Vec<(String, String)> = (0..1_000).map(|i| (format!("f{i}"), format!("v{i}"))).collect();
    redis.hset("h", fields.clone()).await.unwrap();
    let members: Vec<String> = (0..1_000).map(|i| format!("m{i}")).collect();
    redis.sadd("s", &members).await.unwrap();
    let scored: Vec<(f64, String)> = (0..1_000).map(|i| (i as f64 / 2.0, format!("z{i}"))).collect();
    redis.zadd("z", scored.clone()).await.unwrap();

    let mut got = HashMap::new();
    let mut stream = redis.hscan_iter("h").count(50).returning::<(String, String)>();
    while let Some(pair) = stream.next().await {
        let (f, v) = pair.unwrap();
        got.insert(f, v);
    }
    assert_eq!(got, fields.into_iter().collect::<HashMap<_, _>>());

    let mut got = HashSet::new();
    let mut stream = redis.sscan_iter("s").match_("m1*").returning::<String>();
    while let Some(m) = stream.next().await {
        got.insert(m.unwrap());
    }
    let expected: HashSet<String> = members.into_iter().filter(|m| m.starts_with("m1")).collect();
    assert_eq!(got, expected);

    let mut got = HashMap::new();
    let mut stream = redis.zscan_iter("z").count(200);
    while let Some(pair) = stream.next().await {
        let (m, score) = pair.unwrap();
        got.insert(String::from_utf8(m.to_vec()).unwrap(), score);
    }
    assert_eq!(got.len(), 1_000);
    assert!(scored.iter().all(|(s, m)| got[m] == *s));
}

async fn a_page_that_does_not_convert_ends_the_stream_with_an_error(p: Protocol) {
    let server = RedisServer::start();
    let redis = client(&server, p);
    redis.set("k", "not a number").await.unwrap();
    let mut stream = redis.scan_iter().returning::<i64>();
    let first = stream.next().await.unwrap();
    assert!(matches!(first, Err(Error::Type(_))), "{first:?}");
    assert!(stream.next().await.is_none());
    // A wrong type of key is the server's error, yielded once.
    let mut stream = redis.hscan_iter("k");
    assert!(matches!(stream.next().await, Some(Err(Error::Redis(e))) if e.code() == "WRONGTYPE"));
    assert!(stream.next().await.is_none());
}

/// The typed `scan`, `hscan`, `sscan` and `zscan` take a `u64` cursor, the
/// type their reply's cursor has: it goes back in as it is.
async fn typed_scans_take_back_the_cursor_they_return(p: Protocol) {
    let server = RedisServer::start();
    let redis = client(&server, p);
    let mut pipe = redis.pipe();
    for i in 0..300 {
        pipe.set(format!("k{i}"), i).queue();
        pipe.hset("h", [(format!("f{i}"), i)]).queue();
        pipe.sadd("s", format!("m{i}")).queue();
        pipe.zadd("z", [(f64::from(i), format!("z{i}"))]).queue();
    }
    pipe.execute().await.unwrap();

    let (mut keys, mut pages, mut cursor) = (HashSet::new(), 0, 0);
    loop {
        let (next, page) = redis.scan(cursor).match_("k*").count(20).await.unwrap();
        keys.extend(page);
        pages += 1;
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    assert_eq!(keys.len(), 300);
    assert!(pages > 1, "walked in pages");

    let (mut fields, mut cursor) = (HashSet::new(), 0);
    loop {
        let (next, page) = redis.hscan("h", cursor).count(20).await.unwrap();
        fields.extend(page.into_iter().map(|(f, _)| f));
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    assert_eq!(fields.len(), 300);

    let (mut members, mut cursor) = (HashSet::new(), 0);
    loop {
        let (next, page) = redis.sscan("s", cursor).count(20).await.unwrap();
        members.extend(page);
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    assert_eq!(members.len(), 300);

    let (mut scored, mut cursor) = (HashMap::new(), 0);
    loop {
        let (next, page) = redis.zscan("z", cursor).count(20).await.unwrap();
        scored.extend(page);
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    assert_eq!(scored.len(), 300);
    assert_eq!(scored[&Bytes::from("z7")], 7.0);

    // The whole unsigned range is a cursor, as the server reads it.
    redis.scan(u64::MAX).await.unwrap();
}
