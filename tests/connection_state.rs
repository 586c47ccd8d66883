//! No command desynchronises a connection or silently changes one that
//! others share: what each executor (shared client, dedicated handle, pool,
//! pipeline) does with the commands that change connection state, against
//! real servers, RESP2 and RESP3.

#[macro_use]
mod support;

use std::time::Duration;

use bytes::Bytes;
use siderpy::prelude::*;
use siderpy::{Error, MessageKind, Protocol, Redis, RedisPool, Value};
use support::{client, client_info, url, RedisServer};

protocol_tests!(
    empty_name_is_refused_before_anything_is_sent,
    pool_refuses_state_changing_commands,
    pipeline_refuses_state_changing_commands,
    invalidations_reach_a_redirect_subscriber,
);

/// Every command that changes its connection, as `execute_cmd` takes it.
const STATE_CHANGING: &[(&str, &[&str])] = &[
    ("RESET", &[]),
    ("AUTH", &["nobody", "pw"]),
    ("HELLO", &["3"]),
    ("SELECT", &["1"]),
    ("CLIENT", &["SETNAME", "other"]),
    ("CLIENT", &["REPLY", "OFF"]),
    ("CLIENT REPLY", &["SKIP"]),
    ("CLIENT", &["TRACKING", "ON"]),
    ("MONITOR", &[]),
    ("READONLY", &[]),
    ("ASKING", &[]),
    ("QUIT", &[]),
];

fn usage<T: std::fmt::Debug>(what: &str, r: siderpy::Result<T>) -> String {
    match r {
        Err(Error::Usage(m)) => m,
        other => panic!("{what}: expected Error::Usage, got {other:?}"),
    }
}

/// What the client behind `redis` believes of its connection, checked
/// against the server: db, name, protocol, user.
async fn state_is(redis: &Redis, db: &str, name: &str, resp: &str, user: &str) {
    let info = client_info(redis).await;
    assert_eq!(
        (info["db"].as_str(), info["name"].as_str(), info["resp"].as_str(), info["user"].as_str()),
        (db, name, resp, user),
        "{info:?}"
    );
}

fn resp(p: Protocol) -> &'static str {
    match p {
        Protocol::Resp2 => "2",
        Protocol::Resp3 => "3",
    }
}

async fn empty_name_is_refused_before_anything_is_sent(p: Protocol) {
    let server = RedisServer::start();
    let redis = client(&server, p);
    let dedicated = redis.dedicated().await.unwrap();
    let pool = RedisPool::new(&url(&server, p)).unwrap();
    for name in ["", "   ", "\t"] {
        usage("shared", redis.execute_cmd(name, ()).await);
        usage("shared, with arguments", redis.execute_cmd(name, ["SET", "k", "v"]).await);
        usage("dedicated", dedicated.execute_cmd(name, ()).await);
        usage("pool", pool.execute_cmd(name, ()).await);
        let mut pipe = redis.pipe();
        pipe.set("k", "v").queue().execute_cmd(name, ()).queue().get("k").queue();
        usage("pipeline", pipe.execute().await);
        assert!(pipe.is_empty());
    }
    // Nothing was sent: no reply is owed, so each caller gets its own.
    assert_eq!(redis.get("k").await.unwrap(), None, "the refused pipeline's SET was not sent");
    for (i, r) in [&redis, &dedicated].into_iter().enumerate() {
        let got: String = r.execute_cmd("ECHO", [format!("e{i}")]).returning().await.unwrap();
        assert_eq!(got, format!("e{i}"));
    }
}

async fn pool_refuses_state_changing_commands(p: Protocol) {
    let server = RedisServer::start();
    let pool = RedisPool::builder(&url(&server, p)).unwrap().size(1).client(|c| c.client_name("pooled")).build();
    let before = client_info(&pool.get_redis(None).await.unwrap()).await["id"].clone();
    for (name, args) in STATE_CHANGING.iter().chain(&[("MULTI", &[][..]), ("WATCH", &["k"]), ("SUBSCRIBE", &["c"])]) {
        let msg = usage(name, pool.execute_cmd(name, args.to_vec()).await);
        assert!(msg.contains("get_redis"), "{msg}");
    }
    // Nothing ran: the one client is as its settings made it.
    let redis = pool.get_redis(None).await.unwrap();
    state_is(&redis, "0", "pooled", resp(p), "default").await;
    assert_eq!(client_info(&redis).await["id"], before);
}

async fn pipeline_refuses_state_changing_commands(p: Protocol) {
    let server = RedisServer::start();
    let redis = Redis::builder(&url(&server, p)).unwrap().client_name("app").build();
    let dedicated = redis.dedicated().await.unwrap();
    for (name, args) in STATE_CHANGING.iter().chain(&[("SUBSCRIBE", &["c"][..])]) {
        for handle in [&redis, &dedicated] {
            let mut pipe = handle.pipe();
            pipe.set("k", "v").queue().execute_cmd(name, args.to_vec()).queue().get("k").queue();
            usage(name, pipe.execute().await);
        }
    }
    // A MULTI or WATCH the pipeline would leave open, or any in a transaction.
    let mut pipe = redis.pipe();
    pipe.multi().queue().set("k", "v").queue();
    usage("MULTI without EXEC", pipe.execute().await);
    pipe.watch(["k"]).queue().get("k").queue();
    usage("WATCH without EXEC", pipe.execute().await);
    let mut tx = redis.transaction();
    tx.multi().queue();
    usage("MULTI in a transaction", tx.execute().await);
    assert_eq!(redis.get("k").await.unwrap(), None, "nothing was sent");
    // A whole MULTI ... EXEC (after a WATCH) is sent as it is.
    let mut pipe = redis.pipe();
    pipe.watch(["k"]).queue().multi().queue().set("k", "v").queue().execute_cmd("EXEC", ()).queue();
    let replies = pipe.execute().await.unwrap();
    assert_eq!(replies.len(), 4);
    state_is(&redis, "0", "app", resp(p), "default").await;
    state_is(&dedicated, "0", "app", resp(p), "default").await;
    assert_eq!(redis.get("k").await.unwrap(), Some(Bytes::from_static(b"v")));
}

/// `CLIENT TRACKING ON REDIRECT <id>` sends invalidations to a subscriber of
/// `__redis__:invalidate`: on RESP2 a message whose payload is an array
/// (once taken as a stray reply, killing the subscriber's connection), on
/// RESP3 a push (once dropped).
async fn invalidations_reach_a_redirect_subscriber(p: Protocol) {
    let server = RedisServer::start();
    let admin = server.admin();
    let sub = client(&server, p);
    sub.subscribe(["__redis__:invalidate"]).await.unwrap();
    let queue = sub.pubsub_queue();
    let list: String = admin.execute_cmd("CLIENT", ("LIST", "TYPE", "pubsub")).returning().await.unwrap();
    let id: i64 = list.split_whitespace().find_map(|f| f.strip_prefix("id=")).unwrap().parse().unwrap();

    let tracker = client(&server, p).dedicated().await.unwrap();
    tracker.execute_cmd("CLIENT", ("TRACKING", "ON", "REDIRECT", id)).await.unwrap();
    tracker.get("cached").await.unwrap();
    admin.set("cached", "new").await.unwrap();
    let m = tokio::time::timeout(Duration::from_secs(5), queue.recv()).await.unwrap().unwrap();
    assert_eq!(m.kind, MessageKind::Invalidate, "{m:?}");
    assert_eq!(&m.channel[..], siderpy::INVALIDATE_CHANNEL);
    assert_eq!(m.invalidated, Some(vec![Bytes::from_static(b"cached")]));
    // A flush invalidates every key: no list.
    tracker.get("cached").await.unwrap();
    admin.execute_cmd("FLUSHALL", ()).await.unwrap();
    let m = tokio::time::timeout(Duration::from_secs(5), queue.recv()).await.unwrap().unwrap();
    assert_eq!((m.kind, m.invalidated), (MessageKind::Invalidate, None));
    // The subscriber's connection lived through it.
    let pong: Value = sub.execute_cmd("PING", ()).await.unwrap();
    assert_eq!(pong, Value::Simple(Bytes::from_static(b"PONG")));
    assert!(queue.is_empty());
}
