//! No command desynchronises a connection or silently changes one that
//! others share: what each executor (shared client, dedicated handle, pool,
//! pipeline) does with the commands that change connection state, against
//! real servers, RESP2 and RESP3.

#[macro_use]
mod support;

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use siderpy::prelude::*;
use siderpy::{Error, MessageKind, Protocol, Redis, RedisPool, Value};
use support::{client, client_id, client_info, url, wait_until, RedisServer};

protocol_tests!(
    empty_name_is_refused_before_anything_is_sent,
    shared_client_refuses_state_changing_commands,
    pool_refuses_state_changing_commands,
    pipeline_refuses_state_changing_commands,
    invalidations_reach_a_redirect_subscriber,
    channel_counts_come_from_the_words_sent,
    dedicated_settings_follow_its_commands_across_reconnects,
    client_reply_on_a_dedicated_handle,
    multi_on_a_dedicated_handle_returns_queued,
    monitor_is_a_stream_on_its_own_connection,
    tracking_on_a_dedicated_handle_queues_invalidations,
    randomised_state_changes_never_reach_other_callers,
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

/// ECHOes from 20 tasks at once through clones of `redis`: each gets its own.
async fn replies_reach_their_callers(redis: &Redis) {
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let redis = redis.clone();
            tokio::spawn(async move {
                let got: String = redis.execute_cmd("ECHO", [format!("v{i}")]).returning().await.unwrap();
                assert_eq!(got, format!("v{i}"));
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
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
    // ASKING is the exception: it flags only the command right after it,
    // which a pipeline sends with it (tests/pipeline.rs); last, it is refused.
    for (name, args) in STATE_CHANGING.iter().filter(|(n, _)| *n != "ASKING").chain(&[("SUBSCRIBE", &["c"][..])]) {
        for handle in [&redis, &dedicated] {
            let mut pipe = handle.pipe();
            pipe.set("k", "v").queue().execute_cmd(name, args.to_vec()).queue().get("k").queue();
            usage(name, pipe.execute().await);
        }
    }
    let mut pipe = redis.pipe();
    pipe.set("k", "v").queue().execute_cmd("ASKING", ()).queue();
    usage("ASKING last", pipe.execute().await);
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

async fn shared_client_refuses_state_changing_commands(p: Protocol) {
    let server = RedisServer::start();
    let redis = Redis::builder(&url(&server, p)).unwrap().client_name("app").build();
    let id = client_id(&redis).await;
    for (name, args) in STATE_CHANGING {
        let msg = usage(name, redis.execute_cmd(name, args.to_vec()).await);
        let tool = match *name {
            "SELECT" => "db()",
            "AUTH" | "HELLO" => "auth()",
            "MONITOR" => "monitor()",
            "QUIT" => "close()",
            "CLIENT" if args[0] == "SETNAME" => "client_name()",
            _ => "dedicated()",
        };
        assert!(msg.contains(tool), "{name} {args:?}: {msg}");
    }
    // Typed methods too, and on a handle pinned only for a transaction.
    usage("typed SELECT", redis.select(1).await);
    usage("typed RESET", redis.reset().await);
    redis.multi().await.unwrap();
    usage("SELECT in a shared handle's MULTI", redis.select(1).await);
    redis.execute_cmd("DISCARD", ()).await.unwrap();
    // Nothing reached the server: same connection, same state, replies in step.
    assert_eq!(client_id(&redis).await, id);
    state_is(&redis, "0", "app", resp(p), "default").await;
    replies_reach_their_callers(&redis).await;
}

/// `execute_cmd("SUBSCRIBE a", ["b"])`: a multi-word name plus arguments
/// subscribes to both (the count once came from the name, and the second
/// confirmation was taken as a stray reply, closing the connection).
async fn channel_counts_come_from_the_words_sent(p: Protocol) {
    let server = RedisServer::start();
    let sub = client(&server, p);
    let publisher = client(&server, p);
    let confirmations: Vec<(String, Option<String>, i64)> =
        sub.execute_cmd("SUBSCRIBE a", ["b"]).returning().await.unwrap();
    assert_eq!(confirmations.len(), 2, "{confirmations:?}");
    let queue = sub.pubsub_queue();
    for ch in ["a", "b"] {
        publisher.execute_cmd("PUBLISH", (ch, "hi")).await.unwrap();
        let m = tokio::time::timeout(Duration::from_secs(5), queue.recv()).await.unwrap().unwrap();
        assert_eq!(&m.channel[..], ch.as_bytes());
    }
    let gone: Vec<Value> = sub.execute_cmd("UNSUBSCRIBE a", ["b"]).returning().await.unwrap();
    assert_eq!(gone.len(), 2);
    assert_eq!(sub.execute_cmd("PING", ()).await.unwrap(), Value::Simple(Bytes::from_static(b"PONG")));
}

/// Kills the server side of `redis`'s connection, and waits until the
/// client is on a new one (it reconnects by itself on its next command).
async fn kill_connection(admin: &Redis, redis: &Redis) {
    let id = client_id(redis).await;
    admin.execute_cmd("CLIENT", ("KILL", "ID", id)).await.unwrap();
    wait_until("a new connection", Duration::from_secs(5), || async {
        redis.execute_cmd("CLIENT", ["ID"]).returning::<i64>().await.is_ok_and(|new| new != id)
    })
    .await;
}

async fn dedicated_settings_follow_its_commands_across_reconnects(p: Protocol) {
    let server = RedisServer::builder().user("alice", "alice-pw").start();
    let admin = server.admin();
    let redis = Redis::builder(&url(&server, p)).unwrap().client_name("app").build();
    let conn = redis.dedicated().await.unwrap();
    let other = match p {
        Protocol::Resp2 => "3",
        Protocol::Resp3 => "2",
    };
    conn.select(4).await.unwrap();
    conn.client_setname("mine").await.unwrap();
    conn.execute_cmd("AUTH", ["alice", "alice-pw"]).await.unwrap();
    conn.execute_cmd("HELLO", [other]).await.unwrap();
    conn.set("in-4", "1").await.unwrap();
    state_is(&conn, "4", "mine", other, "alice").await;
    // A clone shares the connection, and so its settings.
    let clone = conn.clone();
    state_is(&clone, "4", "mine", other, "alice").await;
    // Reconnected, the handle is as its commands left it...
    kill_connection(&admin, &conn).await;
    state_is(&conn, "4", "mine", other, "alice").await;
    assert_eq!(conn.get("in-4").await.unwrap(), Some(Bytes::from_static(b"1")));
    // So after close(): the handle stays dedicated, with its settings.
    conn.close().await;
    state_is(&conn, "4", "mine", other, "alice").await;
    // ...and RESET's state is replayed too.
    conn.reset().await.unwrap();
    state_is(&conn, "0", "", "2", "default").await;
    kill_connection(&admin, &conn).await;
    state_is(&conn, "0", "", "2", "default").await;
    // The shared connection never moved.
    state_is(&redis, "0", "app", resp(p), "default").await;
    assert_eq!(redis.get("in-4").await.unwrap(), None);
    // Inside MULTI such a command would run at EXEC: refused.
    conn.multi().await.unwrap();
    usage("SELECT in MULTI", conn.select(2).await);
    conn.execute_cmd("DISCARD", ()).await.unwrap();
    // QUIT closes the dedicated connection; the next command reconnects.
    conn.quit().await.unwrap();
    wait_until("QUIT to close the connection", Duration::from_secs(5), || async { conn.ping().await.is_ok() }).await;
    state_is(&conn, "0", "", "2", "default").await;
}

async fn client_reply_on_a_dedicated_handle(p: Protocol) {
    let server = RedisServer::start();
    let conn = client(&server, p).dedicated().await.unwrap();
    // OFF: commands return Nil once written; the server runs them silently.
    conn.execute_cmd("CLIENT", ("REPLY", "OFF")).await.unwrap();
    assert_eq!(conn.execute_cmd("SET", ("a", "1")).await.unwrap(), Value::Nil);
    assert_eq!(conn.execute_cmd("INCR", ["n"]).await.unwrap(), Value::Nil);
    usage("pipeline while replies are off", conn.pipe().get("a").queue().execute().await);
    usage("subscribe while replies are off", conn.subscribe(["c"]).await);
    assert_eq!(conn.execute_cmd("CLIENT REPLY", ["ON"]).await.unwrap(), Value::Simple(Bytes::from_static(b"OK")));
    assert_eq!(conn.get("a").await.unwrap(), Some(Bytes::from_static(b"1")));
    // SKIP: that command and the next go unanswered, then replies again.
    conn.client_reply(siderpy::types::ClientReplyOnOffSkip::Skip).await.unwrap();
    assert_eq!(conn.execute_cmd("INCR", ["n"]).await.unwrap(), Value::Nil);
    assert_eq!(conn.incr("n").await.unwrap(), 3);
    // Replies reach their own callers, from many tasks at once.
    replies_reach_their_callers(&conn).await;
}

async fn multi_on_a_dedicated_handle_returns_queued(p: Protocol) {
    let server = RedisServer::start();
    let conn = client(&server, p).dedicated().await.unwrap();
    conn.multi().await.unwrap();
    // Typed methods: a typed "queued" result, with the place in EXEC's reply.
    assert!(matches!(conn.incr("n").await, Err(Error::Queued { index: 0 })));
    assert!(matches!(conn.set("k", "v").await, Err(Error::Queued { index: 1 })));
    assert!(matches!(conn.get("k").await, Err(Error::Queued { index: 2 })));
    let (n, set, k): (i64, bool, Option<String>) = conn.execute().returning().await.unwrap();
    assert_eq!((n, set, k.as_deref()), (1, true, Some("v")));
    // Each ran once: no caller was told to retry.
    assert_eq!(conn.get("n").await.unwrap(), Some(Bytes::from_static(b"1")));
    // After EXEC, replies are plain again.
    assert_eq!(conn.incr("n").await.unwrap(), 2);
}

async fn monitor_is_a_stream_on_its_own_connection(p: Protocol) {
    let server = RedisServer::start();
    let admin = server.admin();
    let redis = client(&server, p);
    let monitor = redis.monitor().await.unwrap();
    redis.set("watched", "a \"quoted\" value").await.unwrap();
    let line = loop {
        let line = tokio::time::timeout(Duration::from_secs(5), monitor.recv()).await.unwrap().unwrap().unwrap();
        if line.command.first().is_some_and(|c| c.eq_ignore_ascii_case(b"set")) {
            break line;
        }
    };
    assert_eq!(line.command[1..], [&b"watched"[..], b"a \"quoted\" value"]);
    assert_eq!(line.db, 0);
    assert!(line.time > 1.0e9, "{line:?}");
    // Other callers are untouched by it.
    assert_eq!(redis.get("watched").await.unwrap().map(|v| v.len()), Some(16));
    // Dropped, its connection closes.
    drop(monitor);
    wait_until("the monitor's connection to close", Duration::from_secs(5), || async {
        let list: String = admin.execute_cmd("CLIENT", ["LIST"]).returning().await.unwrap();
        !list.contains("cmd=monitor")
    })
    .await;
}

async fn tracking_on_a_dedicated_handle_queues_invalidations(p: Protocol) {
    if p == Protocol::Resp2 {
        return; // RESP2 needs REDIRECT: `invalidations_reach_a_redirect_subscriber`
    }
    let server = RedisServer::start();
    let admin = server.admin();
    let conn = client(&server, p).dedicated().await.unwrap();
    conn.execute_cmd("CLIENT", ("TRACKING", "ON")).await.unwrap();
    assert_eq!(conn.get("cached").await.unwrap(), None);
    admin.set("cached", "new").await.unwrap();
    let m = tokio::time::timeout(Duration::from_secs(5), conn.pubsub_queue().recv()).await.unwrap().unwrap();
    assert_eq!((m.kind, m.invalidated), (MessageKind::Invalidate, Some(vec![Bytes::from_static(b"cached")])));
    // Replies are still in step.
    assert_eq!(conn.get("cached").await.unwrap(), Some(Bytes::from_static(b"new")));
    // A subscription that comes and goes leaves the invalidations flowing.
    conn.subscribe(["ch"]).await.unwrap();
    conn.unsubscribe().await.unwrap();
    admin.set("cached", "newer").await.unwrap();
    let m = tokio::time::timeout(Duration::from_secs(5), conn.pubsub_queue().recv()).await.unwrap().unwrap();
    assert_eq!(m.kind, MessageKind::Invalidate, "{m:?}");
}

/// A small deterministic generator (xorshift), seeded from the clock and
/// printed, so a failing run can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// Ordinary commands from many tasks, each with values of its own, through
/// every executor, while one task sends every state-changing command
/// through every executor. Every reply must reach its own caller, and each
/// connection must stay what its client believes: the shared client and the
/// pool as configured, the dedicated handle as its commands set it.
async fn randomised_state_changes_never_reach_other_callers(p: Protocol) {
    let server = RedisServer::start();
    let u = url(&server, p);
    let redis = Redis::builder(&u).unwrap().client_name("app").build();
    let pool = RedisPool::builder(&u).unwrap().size(3).client(|c| c.client_name("app")).build();
    let conn = redis.dedicated().await.unwrap();
    let seed = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    println!("seed {seed}");

    let workers: Vec<_> = (0..12)
        .map(|t| {
            let (redis, pool, conn) = (redis.clone(), pool.clone(), conn.clone());
            tokio::spawn(async move {
                let mut rng = Rng(seed.wrapping_add(t) | 1);
                for i in 0..60 {
                    let v = format!("t{t}-{i}");
                    match rng.next(4) {
                        0 => {
                            let got: String = redis.execute_cmd("ECHO", [&v]).returning().await.unwrap();
                            assert_eq!(got, v);
                        }
                        1 => {
                            pool.set(&v, &v).await.unwrap();
                            let got: Option<String> = pool.get(&v).returning().await.unwrap();
                            assert_eq!(got.as_deref(), Some(v.as_str()));
                        }
                        2 => {
                            let mut pipe = redis.pipe();
                            pipe.echo(&v).queue().set(&v, &v).queue().get(&v).queue();
                            let (echoed, _, got): (String, bool, String) = pipe.query().await.unwrap();
                            assert_eq!((echoed.as_str(), got.as_str()), (v.as_str(), v.as_str()));
                        }
                        _ => {
                            // The dedicated connection's db, user and protocol
                            // move under it: ECHO is the same in all of them.
                            // A command sent while the disruptor had replies
                            // off is answered with Nil, never another's value.
                            let got = conn.execute_cmd("ECHO", [&v]).await.unwrap();
                            assert!(got == Value::Bulk(Bytes::from(v.clone())) || got == Value::Nil, "{got:?} for {v}");
                        }
                    }
                }
            })
        })
        .collect();

    // The disruptor: every state-changing command, through every executor.
    let mut rng = Rng(seed);
    let mut believed = ("0", "app", resp(p), "default");
    for _ in 0..40 {
        let (name, args) = STATE_CHANGING[rng.next(STATE_CHANGING.len())];
        usage(name, redis.execute_cmd(name, args.to_vec()).await);
        usage(name, pool.execute_cmd(name, args.to_vec()).await);
        usage(name, redis.pipe().execute_cmd(name, args.to_vec()).queue().execute().await);
        let on_dedicated: &[&str] = match (name, args) {
            ("SELECT", _) => &["SELECT", "1"],
            ("RESET", _) => &["RESET"],
            ("HELLO", _) => &["HELLO", "3"],
            ("AUTH", _) => &["AUTH", "default", "any"],
            ("CLIENT", ["SETNAME", ..]) => &["CLIENT", "SETNAME", "moved"],
            ("CLIENT", ["REPLY", ..]) | ("CLIENT REPLY", _) => &["CLIENT", "REPLY", "SKIP"],
            _ => continue, // tested on their own (MONITOR refused, QUIT, tracking)
        };
        conn.execute_cmd(on_dedicated[0], on_dedicated[1..].to_vec()).await.unwrap();
        match on_dedicated[0] {
            "SELECT" => believed.0 = "1",
            "RESET" => believed = ("0", "", "2", "default"),
            "HELLO" => believed.2 = "3",
            "CLIENT" if on_dedicated[1] == "SETNAME" => believed.1 = "moved",
            _ => {}
        }
    }
    for w in workers {
        w.await.unwrap();
    }
    // Whatever SKIP left pending is used up by this PING.
    let _ = conn.ping().await;
    state_is(&redis, "0", "app", resp(p), "default").await;
    state_is(&conn, believed.0, believed.1, believed.2, believed.3).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(pool.get_redis(None).await.unwrap());
        state_is(held.last().unwrap(), "0", "app", resp(p), "default").await;
    }
}
