//! The public client API against real servers: commands and replies, server
//! errors, sharing one client between tasks, cancellation, timeouts,
//! reconnecting and closing. Every test runs under RESP2 and RESP3.

#[macro_use]
mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use siderpy::prelude::*;
use siderpy::{Error, Protocol, Redis, Timeout, Value};
use support::{client, client_id, client_info, url, wait_until, with_protocol, RedisServer};

protocol_tests!(
    commands_round_trip,
    one_argument_where_several_may_go,
    one_pair_where_several_may_go,
    server_error_keeps_the_connection,
    hundred_tasks_share_one_client,
    dropped_future_does_not_desynchronise,
    aborted_tasks_do_not_desynchronise,
    abandoned_blocking_command_closes_its_connection,
    read_timeout_applies_to_blocking_commands_when_asked,
    blpop_without_read_timeout_waits_for_a_push,
    blocking_command_does_not_stall_other_tasks,
    blocking_commands_are_exempt_from_the_read_timeout,
    read_timeout_applies_to_slow_commands,
    per_call_timeout,
    reconnects_after_server_restart,
    command_while_server_down_fails_then_recovers,
    close_then_command_reconnects,
    close_fails_commands_in_flight,
    read_and_write_timeouts_while_server_is_paused,
);

#[test]
fn client_is_send_sync_and_cheap_to_share() {
    fn shareable<T: Send + Sync + Clone + 'static>() {}
    shareable::<Redis>();
    fn error<T: Send + Sync + Clone + std::error::Error + 'static>() {}
    error::<Error>();
}

fn builder(server: &RedisServer, p: Protocol) -> siderpy::RedisBuilder {
    Redis::builder(&url(server, p)).unwrap()
}

/// Where the spec takes several keys, members or values, one works too, and
/// is sent as one argument (a byte string included).
async fn one_argument_where_several_may_go(p: Protocol) {
    let server = RedisServer::start();
    let redis = client(&server, p);
    assert_eq!(redis.lpush("list", "a").await.unwrap(), 1);
    assert_eq!(redis.lpush("list", ["b", "c"]).await.unwrap(), 3);
    // The design's own line.
    let popped = redis.blpop("list", 0).await.unwrap();
    assert_eq!(popped, Some((Bytes::from_static(b"list"), Bytes::from_static(b"c"))));
    assert_eq!(redis.sadd("set", 7).await.unwrap(), 1);
    assert!(redis.sismember("set", "7").await.unwrap());
    redis.set("bytes", "v").await.unwrap();
    assert_eq!(redis.mget(b"bytes".to_vec()).await.unwrap(), vec![Some(Bytes::from_static(b"v"))]);
    let keys = vec!["list".to_owned(), "set".to_owned(), "nothing".to_owned()];
    assert_eq!(redis.exists(&keys).await.unwrap(), 2);
    assert_eq!(redis.exists(keys.iter().filter(|k| k.starts_with('s'))).await.unwrap(), 1);
    assert_eq!(redis.delete("set").await.unwrap(), 1);
    assert_eq!(redis.exists("set").await.unwrap(), 0);
    let n: i64 = redis.eval("return #KEYS").key("k").returning().await.unwrap();
    assert_eq!(n, 1);
}

/// Where the spec repeats a block (field/value pairs, score/member,
/// longitude/latitude/member), one tuple works as well as a list of them.
async fn one_pair_where_several_may_go(p: Protocol) {
    let server = RedisServer::start();
    let redis = client(&server, p);
    assert_eq!(redis.hset("h", ("f", "v")).await.unwrap(), 1);
    assert_eq!(redis.hset("h", [("g", 1), ("h", 2)]).await.unwrap(), 2);
    let fields: HashMap<String, String> = redis.hgetall("h").returning().await.unwrap();
    assert_eq!(fields.len(), 3);
    assert_eq!(fields["f"], "v");
    assert_eq!(redis.zadd("z", (1.5, "ann")).await.unwrap(), 1);
    assert_eq!(redis.zadd("z", vec![(2, "bob"), (3, "cy")]).await.unwrap(), 2);
    assert_eq!(redis.zscore("z", "ann").await.unwrap(), Some(1.5));
    assert_eq!(redis.geoadd("g", (13.361389, 38.115556, "Palermo")).await.unwrap(), 1);
    redis.mset(("k1", "v1")).await.unwrap();
    redis.mset([("k2", "v2"), ("k3", "v3")]).await.unwrap();
    assert_eq!(redis.get("k1").await.unwrap().as_deref(), Some(&b"v1"[..]));
    let pairs = (0..3).map(|i| (format!("f{i}"), i));
    assert_eq!(redis.hset("h2", pairs).await.unwrap(), 3);
}

/// ECHOes a payload only this call uses and checks the reply is it.
async fn assert_echo(redis: &Redis, tag: &str) {
    let payload = format!("{tag}:{:?}", Instant::now());
    let got: String =
        redis.execute_cmd("ECHO", [&payload]).with_timeout(Duration::from_secs(5)).returning().await.expect("ECHO");
    assert_eq!(got, payload);
}

/// How many clients the server has blocked (BLPOP...).
async fn blocked_clients(admin: &Redis) -> i64 {
    let info: String = admin.execute_cmd("INFO", ["clients"]).returning().await.expect("INFO clients");
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("blocked_clients in INFO")
}

async fn wait_blocked(admin: &Redis, n: i64) {
    wait_until(&format!("{n} blocked clients"), Duration::from_secs(5), || async { blocked_clients(admin).await == n })
        .await;
}

fn assert_within(took: Duration, min_ms: u64, max_ms: u64, what: &str) {
    assert!(
        took >= Duration::from_millis(min_ms) && took < Duration::from_millis(max_ms),
        "{what} took {took:?}, expected {min_ms}..{max_ms} ms"
    );
}

async fn commands_round_trip(p: Protocol) {
    let server = RedisServer::start();
    let redis = client(&server, p);
    assert_eq!(client_info(&redis).await["resp"], if p == Protocol::Resp3 { "3" } else { "2" });

    // Typed methods.
    assert!(redis.set("s", "v").await.unwrap());
    assert!(!redis.set("s", "w").nx().await.unwrap());
    assert_eq!(redis.get("s").await.unwrap(), Some(Bytes::from_static(b"v")));
    assert_eq!(redis.get("missing").await.unwrap(), None);
    assert_eq!(redis.incr("n").await.unwrap(), 1);
    assert_eq!(redis.incr("n").await.unwrap(), 2);
    assert_eq!(redis.set("s", "v2").get().await.unwrap(), Some(Bytes::from_static(b"v")));

    // Binary-safe, empty and large values.
    let binary: Vec<u8> = (0..=255u8).chain(*b"\r\n$-1\r\n*3\r\n").collect();
    redis.execute_cmd("SET", ("bin", &binary[..])).await.unwrap();
    let got: Vec<u8> = redis.execute_cmd("GET", ["bin"]).returning().await.unwrap();
    assert_eq!(got, binary);
    redis.execute_cmd("SET", ("empty", "")).await.unwrap();
    assert_eq!(redis.get("empty").await.unwrap(), Some(Bytes::new()));
    let large: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    redis.execute_cmd("SET", ("large", &large[..])).await.unwrap();
    assert_eq!(redis.get("large").await.unwrap().as_deref(), Some(&large[..]));

    // Aggregates: a map is a RESP3 map and a RESP2 flat array; both convert.
    let added: i64 = redis.execute_cmd("HSET", ("h", "f1", "v1", "f2", "v2")).returning().await.unwrap();
    assert_eq!(added, 2);
    let raw = redis.execute_cmd("HGETALL", ["h"]).await.unwrap();
    match p {
        Protocol::Resp2 => assert!(matches!(raw, Value::Array(ref a) if a.len() == 4), "{raw:?}"),
        Protocol::Resp3 => assert!(matches!(raw, Value::Map(ref m) if m.len() == 2), "{raw:?}"),
    }
    let map: HashMap<String, String> = redis.execute_cmd("HGETALL", ["h"]).returning().await.unwrap();
    assert_eq!(map, HashMap::from([("f1".into(), "v1".into()), ("f2".into(), "v2".into())]));
    let pushed: i64 = redis.execute_cmd("RPUSH", ("l", "a", "b", "c")).returning().await.unwrap();
    assert_eq!(pushed, 3);
    let list: Vec<String> = redis.execute_cmd("LRANGE", ("l", 0, -1)).returning().await.unwrap();
    assert_eq!(list, ["a", "b", "c"]);
    redis.execute_cmd("ZADD", ("z", 1.5, "m")).await.unwrap();
    let score: f64 = redis.execute_cmd("ZSCORE", ("z", "m")).returning().await.unwrap();
    assert_eq!(score, 1.5);
    let nested: Vec<Value> = redis.execute_cmd("ZRANGE", ("z", 0, -1, "WITHSCORES")).returning().await.unwrap();
    assert!(!nested.is_empty());

    // A blocking command with data waiting returns at once.
    assert_eq!(redis.blpop(["l"], 0.0).await.unwrap(), Some((Bytes::from_static(b"l"), Bytes::from_static(b"a"))));
    let popped: Option<(String, String)> = redis.execute_cmd("BLPOP", ("nothing", "l", 1)).returning().await.unwrap();
    assert_eq!(popped, Some(("l".into(), "b".into())));
    let echoed: String = redis.execute_cmd("ECHO", ["héllo ✓"]).returning().await.unwrap();
    assert_eq!(echoed, "héllo ✓");
}

async fn server_error_keeps_the_connection(p: Protocol) {
    let server = RedisServer::start();
    let redis = client(&server, p);
    let id = client_id(&redis).await;
    redis.execute_cmd("SET", ("k", "abc")).await.unwrap();

    let err = redis.incr("k").await.expect_err("not an integer");
    assert!(matches!(err, Error::Redis(_)), "{err:?}");
    assert_eq!(err.code(), Some("ERR"));
    assert!(err.as_server_error().unwrap().message().contains("not an integer"), "{err}");
    assert!(!err.is_connection_error());

    let err = redis.execute_cmd("LPUSH", ("k", "x")).await.expect_err("wrong type");
    assert_eq!(err.code(), Some("WRONGTYPE"), "{err:?}");
    let err = redis.execute_cmd("NO-SUCH-COMMAND", ["x"]).await.expect_err("unknown command");
    assert_eq!(err.code(), Some("ERR"), "{err:?}");
    let err = redis.execute_cmd("GET", ()).await.expect_err("wrong arity");
    assert_eq!(err.code(), Some("ERR"), "{err:?}");

    // A reply that does not fit the type asked for is a type error, and the
    // connection is fine too.
    let err = redis.execute_cmd("GET", ["k"]).returning::<i64>().await.expect_err("abc is no integer");
    match &err {
        Error::Type(t) => assert_eq!(t.command.as_deref(), Some("GET")),
        other => panic!("expected a type error, got {other:?}"),
    }
    // So on the general path too: a new client's first command connects.
    let fresh = client(&server, p);
    let err = fresh.get("k").returning::<i64>().await.expect_err("abc is no integer");
    assert!(matches!(&err, Error::Type(t) if t.command.as_deref() == Some("GET")), "{err:?}");

    // Errors nested in an EXEC reply are values, not failures.
    redis.execute_cmd("MULTI", ()).await.unwrap();
    // Queued: a typed "queued" result, not a failure.
    assert!(matches!(redis.execute_cmd("INCR", ["k"]).await, Err(Error::Queued { index: 0 })));
    assert!(matches!(redis.execute_cmd("SET", ("k2", "v")).await, Err(Error::Queued { index: 1 })));
    let results: Vec<Value> = redis.execute_cmd("EXEC", ()).returning().await.unwrap();
    assert!(matches!(&results[0], Value::Error(e) if e.code() == "ERR"), "{results:?}");
    assert_eq!(redis.get("k2").await.unwrap(), Some(Bytes::from_static(b"v")));

    assert_eq!(client_id(&redis).await, id, "a server error must not cost the connection");
    assert_echo(&redis, "after errors").await;
}

async fn hundred_tasks_share_one_client(p: Protocol) {
    const TASKS: usize = 100;
    const OPS: i64 = 1_000;
    let server = RedisServer::start();
    // No command yet: the tasks' first commands race to connect.
    let redis = client(&server, p);
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let redis = redis.clone();
            tokio::spawn(async move {
                let key = format!("counter:{t}");
                for i in 1..=OPS {
                    if i % 2 == 1 {
                        let n: i64 = redis.execute_cmd("INCR", [&key]).returning().await.unwrap();
                        assert_eq!(n, (i + 1) / 2, "task {t}: INCR got another task's reply");
                    } else {
                        let n: i64 = redis.execute_cmd("GET", [&key]).returning().await.unwrap();
                        assert_eq!(n, i / 2, "task {t}: GET got another task's reply");
                    }
                }
                t
            })
        })
        .collect();
    for (t, task) in tasks.into_iter().enumerate() {
        assert_eq!(task.await.unwrap(), t);
    }
    for t in 0..TASKS {
        let n: i64 = redis.execute_cmd("GET", [format!("counter:{t}")]).returning().await.unwrap();
        assert_eq!(n, OPS / 2);
    }
    // One shared connection, opened once.
    let list: String = server.admin().execute_cmd("CLIENT", ["LIST"]).returning().await.unwrap();
    assert_eq!(list.lines().count(), 2, "the shared client and the admin: {list}");
}

async fn dropped_future_does_not_desynchronise(p: Protocol) {
    const ROUNDS: usize = 3;
    let server = RedisServer::start();
    let redis = client(&server, p);
    let id = client_id(&redis).await;
    for round in 0..ROUNDS {
        let slow = redis.execute_cmd("DEBUG", ("SLEEP", "0.1"));
        let dropped = tokio::time::timeout(Duration::from_micros(1), slow).await;
        assert!(dropped.is_err(), "DEBUG SLEEP answered within 1µs");
        // Its reply still comes, and is discarded: the next replies are ours.
        assert_echo(&redis, &format!("round {round}")).await;
    }
    assert_eq!(client_id(&redis).await, id, "dropping a future must not cost the connection");
    // The dropped commands did reach the server.
    let stats: String = server.admin().execute_cmd("INFO", ["commandstats"]).returning().await.unwrap();
    assert!(stats.contains(&format!("cmdstat_debug:calls={ROUNDS},")), "{stats}");
}

async fn aborted_tasks_do_not_desynchronise(p: Protocol) {
    let server = RedisServer::start();
    let redis = client(&server, p);
    let id = client_id(&redis).await;
    for round in 0..20 {
        let tasks: Vec<_> = (0..30)
            .map(|t| {
                let redis = redis.clone();
                tokio::spawn(async move {
                    // Payloads of different sizes, so replies span reads.
                    let payload = format!("{round}:{t}:{}", "x".repeat(t * 997));
                    let got: String = redis.execute_cmd("ECHO", [&payload]).returning().await.unwrap();
                    assert_eq!(got, payload, "task {t} got another task's reply");
                })
            })
            .collect();
        tokio::task::yield_now().await;
        for task in tasks.iter().step_by(3) {
            task.abort();
        }
        for (t, task) in tasks.into_iter().enumerate() {
            match task.await {
                Ok(()) => {}
                Err(e) if e.is_cancelled() && t % 3 == 0 => {}
                Err(e) => panic!("task {t}: {e}"),
            }
        }
        // A select! that drops the losing command mid-flight (by a margin
        // that holds on a loaded machine).
        tokio::select! {
            _ = redis.execute_cmd("DEBUG", ("SLEEP", "0.05")) => panic!("the sleep won"),
            () = tokio::time::sleep(Duration::from_millis(1)) => {}
        }
        assert_echo(&redis, &format!("after round {round}")).await;
    }
    assert_eq!(client_id(&redis).await, id);
}

async fn abandoned_blocking_command_closes_its_connection(p: Protocol) {
    let server = RedisServer::start();
    let admin = server.admin();
    let redis = client(&server, p);
    let id = client_id(&redis).await;
    let abandoned = tokio::time::timeout(Duration::from_millis(200), redis.execute_cmd("BLPOP", ("q", 0))).await;
    assert!(abandoned.is_err(), "BLPOP returned with nothing pushed");
    // The server would keep that BLPOP's connection blocked (and hand it
    // the next push): the client closed it instead.
    wait_blocked(&admin, 0).await;
    admin.execute_cmd("RPUSH", ("q", "for-the-next-reader")).await.unwrap();
    let got: Option<String> = redis.execute_cmd("LPOP", ["q"]).returning().await.unwrap();
    assert_eq!(got.as_deref(), Some("for-the-next-reader"));
    // The BLPOP ran on a connection of its own: the shared one never
    // stalled and is still the same.
    assert_eq!(client_id(&redis).await, id, "the shared connection was kept");
}

async fn read_timeout_applies_to_blocking_commands_when_asked(p: Protocol) {
    let server = RedisServer::start();
    let admin = server.admin();
    let redis =
        builder(&server, p).read_timeout(Some(Duration::from_millis(300))).timeout_blocking_commands(true).build();
    assert_echo(&redis, "connect").await;

    let start = Instant::now();
    let err = redis.execute_cmd("BLPOP", ("q", 0)).await.expect_err("nothing is pushed");
    assert!(matches!(err, Error::Timeout(Timeout::Read)), "{err:?}");
    assert!(err.is_timeout());
    assert_within(start.elapsed(), 280, 2000, "BLPOP");

    let start = Instant::now();
    let err = redis.blpop(["q"], 0.0).await.expect_err("nothing is pushed");
    assert!(matches!(err, Error::Timeout(Timeout::Read)), "{err:?}");
    assert_within(start.elapsed(), 280, 2000, "typed BLPOP");

    // Those connections were closed: nothing stays blocked on the server,
    // and the client goes on with a new one.
    wait_blocked(&admin, 0).await;
    assert_echo(&redis, "after the timeouts").await;
    admin.execute_cmd("RPUSH", ("q", "v")).await.unwrap();
    let got: Option<(String, String)> = redis.execute_cmd("BLPOP", ("q", 0)).returning().await.unwrap();
    assert_eq!(got, Some(("q".into(), "v".into())));
}

async fn blpop_without_read_timeout_waits_for_a_push(p: Protocol) {
    let server = RedisServer::start();
    let admin = server.admin();
    let redis = client(&server, p);
    let blpop = tokio::spawn(async move { redis.blpop(["q"], 0.0).await });
    wait_blocked(&admin, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!blpop.is_finished(), "BLPOP returned with nothing pushed");
    admin.execute_cmd("RPUSH", ("q", "hello")).await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), blpop).await.expect("BLPOP returns after the push");
    assert_eq!(got.unwrap().unwrap(), Some((Bytes::from_static(b"q"), Bytes::from_static(b"hello"))));
}

/// A task blocked in `BLPOP key 0` on a shared client must not hold up
/// the others: here the push that ends the BLPOP goes through the same client.
async fn blocking_command_does_not_stall_other_tasks(p: Protocol) {
    let server = RedisServer::start();
    let redis = client(&server, p);
    let waiting = redis.clone();
    let blpops: Vec<_> = (0..3)
        .map(|i| {
            let r = waiting.clone();
            tokio::spawn(async move { r.blpop([format!("q{i}")], 0.0).await })
        })
        .collect();
    wait_blocked(&server.admin(), 3).await;
    for i in 0..3 {
        assert_echo(&redis, &format!("while blocked {i}")).await;
        redis.execute_cmd("RPUSH", (format!("q{i}"), i)).await.unwrap();
    }
    for (i, blpop) in blpops.into_iter().enumerate() {
        let got = tokio::time::timeout(Duration::from_secs(5), blpop).await.expect("BLPOP returns after the push");
        let (key, value) = got.unwrap().unwrap().expect("a value");
        assert_eq!((&key[..], &value[..]), (format!("q{i}").as_bytes(), i.to_string().as_bytes()));
    }
}

async fn blocking_commands_are_exempt_from_the_read_timeout(p: Protocol) {
    let server = RedisServer::start();
    let admin = server.admin();
    let redis = builder(&server, p).read_timeout(Some(Duration::from_millis(200))).build();
    let id = client_id(&redis).await;

    let waiting = redis.clone();
    let blpop =
        tokio::spawn(
            async move { waiting.execute_cmd("BLPOP", ("q", 0)).returning::<Option<(String, String)>>().await },
        );
    wait_blocked(&admin, 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!blpop.is_finished(), "BLPOP ended past the read timeout with nothing pushed");
    admin.execute_cmd("RPUSH", ("q", "late")).await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), blpop).await.expect("BLPOP returns after the push");
    assert_eq!(got.unwrap().unwrap(), Some(("q".into(), "late".into())));

    // A BLPOP with its own timeout longer than the read timeout gets nil.
    let start = Instant::now();
    let got: Option<(String, String)> = redis.execute_cmd("BLPOP", ("q", "0.4")).returning().await.unwrap();
    assert_eq!(got, None);
    assert_within(start.elapsed(), 380, 2000, "BLPOP q 0.4");
    assert_eq!(client_id(&redis).await, id);
}

async fn read_timeout_applies_to_slow_commands(p: Protocol) {
    let server = RedisServer::start();
    let redis = builder(&server, p).read_timeout(Some(Duration::from_millis(200))).build();
    let id = client_id(&redis).await;
    let start = Instant::now();
    let err = redis.execute_cmd("DEBUG", ("SLEEP", "0.5")).await.expect_err("slower than the read timeout");
    assert!(matches!(err, Error::Timeout(Timeout::Read)), "{err:?}");
    assert!(!err.is_connection_error());
    assert_within(start.elapsed(), 180, 450, "DEBUG SLEEP 0.5");
    // Nothing at all was read for the whole read timeout: as far as the
    // client can tell the server answers nobody, so the connection was
    // closed as dead (with DEBUG's late reply). ECHO (with a longer
    // per-call timeout, since the server is still asleep) gets its own on a
    // new one.
    assert_echo(&redis, "after a read timeout").await;
    assert_ne!(client_id(&redis).await, id, "a read timeout with nothing read replaces the connection");
}

async fn per_call_timeout(p: Protocol) {
    let server = RedisServer::start();
    let redis = client(&server, p);
    assert_echo(&redis, "connect").await;

    // Shorter than the (absent) client timeout.
    let start = Instant::now();
    let err = redis
        .execute_cmd("DEBUG", ("SLEEP", "0.3"))
        .with_timeout(Duration::from_millis(100))
        .await
        .expect_err("too slow");
    assert!(matches!(err, Error::Timeout(Timeout::Read)), "{err:?}");
    assert_within(start.elapsed(), 90, 290, "DEBUG SLEEP 0.3 with a 100 ms timeout");
    assert_echo(&redis, "after a per-call timeout").await;

    // Longer than the client's.
    let short = builder(&server, p).read_timeout(Some(Duration::from_millis(100))).build();
    short.execute_cmd("DEBUG", ("SLEEP", "0.3")).with_timeout(Duration::from_secs(3)).await.expect("within 3 s");
    assert!(short.execute_cmd("DEBUG", ("SLEEP", "0.3")).await.is_err());

    // Blocking commands included.
    let start = Instant::now();
    let err = redis.blpop(["q"], 0.0).with_timeout(Duration::from_millis(200)).await.expect_err("nothing pushed");
    assert!(matches!(err, Error::Timeout(Timeout::Read)), "{err:?}");
    assert_within(start.elapsed(), 190, 2000, "BLPOP with a 200 ms timeout");

    // Typed methods have it too.
    assert!(redis.set("k", "v").with_timeout(Duration::from_secs(3)).await.unwrap());
    assert_eq!(redis.get("k").with_timeout(Duration::from_secs(3)).await.unwrap(), Some(Bytes::from_static(b"v")));
}

async fn reconnects_after_server_restart(p: Protocol) {
    let mut server = RedisServer::builder().password("pw").start();
    let url = format!("redis://:pw@127.0.0.1:{}/3?client_name=survivor", server.port());
    let redis = Redis::new(&with_protocol(&url, p)).unwrap();
    redis.execute_cmd("SET", ("k", "before")).await.unwrap();
    let info = client_info(&redis).await;
    assert_eq!((info["db"].as_str(), info["name"].as_str()), ("3", "survivor"));

    server.restart().await;

    // The next command succeeds, on a new connection with the same settings.
    let v: Option<String> =
        redis.execute_cmd("GET", ["k"]).returning().await.expect("the first command after a restart");
    assert_eq!(v, None, "a new server has no data");
    let info = client_info(&redis).await;
    assert_eq!((info["db"].as_str(), info["name"].as_str()), ("3", "survivor"));
    assert_eq!(info["resp"], if p == Protocol::Resp3 { "3" } else { "2" });
    redis.execute_cmd("SET", ("k", "after")).await.unwrap();
    // SELECT changes its connection: on a dedicated handle (refused on a shared one).
    let admin = server.admin().dedicated().await.unwrap();
    admin.execute_cmd("SELECT", [3]).await.unwrap();
    assert_eq!(admin.get("k").await.unwrap(), Some(Bytes::from_static(b"after")));
}

async fn command_while_server_down_fails_then_recovers(p: Protocol) {
    let mut server = RedisServer::start();
    let redis = client(&server, p);
    assert_echo(&redis, "before").await;
    server.kill();
    // The first command learns of it (from the dead connection, or from
    // connecting); once connecting failed, until the next attempt is due,
    // commands fail at once without trying, saying why and when.
    let mut unavailable = None;
    for _ in 0..3 {
        let err = redis.execute_cmd("PING", ()).await.expect_err("the server is down");
        assert!(err.is_connection_error(), "{err:?}");
        match err {
            Error::Io(_) => {}
            Error::Unavailable { cause, retry_in: Some(_) } if matches!(*cause, Error::Io(_)) => {
                unavailable = Some(cause);
                break;
            }
            err => panic!("{err:?}"),
        }
    }
    assert!(unavailable.is_some(), "no command failed fast");
    server.restart().await;
    // The next attempt (at most the backoff's cap away) connects.
    let back = Instant::now();
    support::ping_once_reconnected(&redis).await.expect("reconnects");
    assert_within(back.elapsed(), 0, 2000 * 3, "reconnecting after a restart");
    assert_echo(&redis, "after").await;
}

async fn close_then_command_reconnects(p: Protocol) {
    let server = RedisServer::start();
    let url = with_protocol(&format!("{}/2?client_name=closer", server.url()), p);
    let redis = Redis::new(&url).unwrap();
    let first = client_id(&redis).await;
    redis.close().await;
    redis.close().await;
    let second = client_id(&redis).await;
    assert_ne!(first, second, "close() must drop the connection");
    let info = client_info(&redis).await;
    assert_eq!((info["db"].as_str(), info["name"].as_str()), ("2", "closer"));
    // Clones share the connection: closing one closes it for all.
    redis.clone().close().await;
    assert_ne!(client_id(&redis).await, second);
    // The old connections are gone from the server.
    let admin = server.admin();
    wait_until("closed connections to go", Duration::from_secs(5), || async {
        let list: String = admin.execute_cmd("CLIENT", ["LIST"]).returning().await.unwrap();
        list.lines().count() == 2
    })
    .await;
}

async fn close_fails_commands_in_flight(p: Protocol) {
    let server = RedisServer::start();
    let redis = client(&server, p);
    assert_echo(&redis, "connect").await;
    let sleeper = redis.clone();
    let slow = tokio::spawn(async move { sleeper.execute_cmd("DEBUG", ("SLEEP", "0.3")).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    redis.close().await;
    let err = tokio::time::timeout(Duration::from_secs(1), slow)
        .await
        .expect("close wakes the caller")
        .unwrap()
        .expect_err("closed");
    assert!(matches!(err, Error::Closed(_)), "{err:?}");
    assert_echo(&redis, "after close").await;
}

async fn read_and_write_timeouts_while_server_is_paused(p: Protocol) {
    let server = RedisServer::start();
    let redis = builder(&server, p)
        .read_timeout(Some(Duration::from_millis(200)))
        .write_timeout(Some(Duration::from_millis(300)))
        .build();
    let id = client_id(&redis).await;
    // A GET that times out with nothing read closes its connection as dead
    // (see `read_timeout_applies_to_slow_commands`): the write timeout is
    // tried on another client's.
    let writer = builder(&server, p).write_timeout(Some(Duration::from_millis(300))).build();
    let writer_id = client_id(&writer).await;

    server.pause();
    let start = Instant::now();
    let err = redis.get("k").await.expect_err("the server is stopped");
    assert!(matches!(err, Error::Timeout(Timeout::Read)), "{err:?}");
    assert_within(start.elapsed(), 180, 1000, "GET to a stopped server");

    // More than the socket buffers hold: the write cannot finish.
    let huge = vec![b'x'; 64 << 20];
    let start = Instant::now();
    let err = writer
        .execute_cmd("SET", ("big", &huge[..]))
        .with_timeout(Duration::from_secs(10))
        .await
        .expect_err("the server reads nothing");
    assert!(matches!(err, Error::Timeout(Timeout::Write)), "{err:?}");
    assert!(err.is_connection_error());
    assert_within(start.elapsed(), 280, 3000, "SET of 64 MiB to a stopped server");
    server.resume();

    // The write timeout closed that connection, the read timeout the
    // other; each client goes on with a new one.
    assert_echo(&writer, "after resume").await;
    assert_ne!(client_id(&writer).await, writer_id);
    assert_echo(&redis, "after resume").await;
    assert_ne!(client_id(&redis).await, id);
}
