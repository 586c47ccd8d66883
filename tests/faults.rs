//! Faults against real servers, trying hard to break the client: the server
//! killed (SIGKILL) or stopped (SIGSTOP) with many commands in flight,
//! connections killed from another client, new clients refused
//! (`maxclients`), restarts with every kind of connection open; and a soak
//! of mixed commands whose futures are dropped or time out at random.
//!
//! Every reply that arrives must be the reply to its own command (ECHO of a
//! payload nobody else sends, INCR of a key only one task touches), every
//! failure must be a clear error that comes promptly, and the client must
//! work again once the server does.

#![forbid(unsafe_code)]

#[macro_use]
mod support;

use std::future::{Future, IntoFuture};
use std::task::Poll;
use std::time::{Duration, Instant};

use siderpy::prelude::*;
use siderpy::{Error, Protocol, Redis, Timeout, Value};
use support::{client, client_id, url, with_protocol, RedisServer};
use tokio::task::JoinSet;

protocol_tests!(
    kill_with_a_thousand_commands_in_flight,
    kill_in_the_middle_of_traffic,
    pause_with_many_concurrent_callers,
    client_kill_of_each_kind_of_connection,
    maxclients_refusal_then_recovery,
    restart_with_every_kind_of_connection_open,
    transaction_whose_connection_dies_runs_nothing_outside_it,
    transaction_with_whose_watch_dies_does_not_run_unwatched,
);

/// How long any one wait in these tests may take before it counts as a hang.
const HANG: Duration = Duration::from_secs(10);

/// ECHOes `payload` and checks the reply is it; `Err` for any failure.
async fn echo(redis: &Redis, payload: String) -> Result<(), Error> {
    let got: String = redis.execute_cmd("ECHO", [&payload]).returning().await?;
    assert_eq!(got, payload, "a reply reached the wrong caller");
    Ok(())
}

/// A payload only this call sends, of a size that varies with `i` so that
/// replies span reads.
fn payload(task: usize, i: usize) -> String {
    format!("{task}:{i}:{}", "x".repeat(i * 37 % 2000))
}

/// Runs `tasks` tasks each sending `per_task` ECHOs at once; returns how
/// many succeeded and the errors of the others.
async fn echo_wave(redis: &Redis, tasks: usize, per_task: usize, tag: usize) -> JoinSet<(usize, Vec<Error>)> {
    let mut set = JoinSet::new();
    for t in 0..tasks {
        let redis = redis.clone();
        set.spawn(async move {
            let mut calls = JoinSet::new();
            for i in 0..per_task {
                let redis = redis.clone();
                calls.spawn(async move { echo(&redis, payload(tag * 1000 + t, i)).await });
            }
            let (mut ok, mut errors) = (0, Vec::new());
            while let Some(r) = calls.join_next().await {
                match r.expect("an ECHO task panicked") {
                    Ok(()) => ok += 1,
                    Err(e) => errors.push(e),
                }
            }
            (ok, errors)
        });
    }
    set
}

/// Waits for every task of a wave; returns the successes and the errors.
async fn outcome(mut wave: JoinSet<(usize, Vec<Error>)>) -> (usize, Vec<Error>) {
    let (mut ok, mut errors) = (0, Vec::new());
    while let Some(r) = tokio::time::timeout(HANG, wave.join_next()).await.expect("a caller hung") {
        let (o, e) = r.expect("a task panicked");
        ok += o;
        errors.extend(e);
    }
    (ok, errors)
}

/// SIGKILL while 20 tasks have 50 commands each in flight (the server is
/// stopped first, so that all 1,000 are surely unanswered): every one fails
/// promptly with a connection error, and after a restart on the same port
/// the next command succeeds.
async fn kill_with_a_thousand_commands_in_flight(p: Protocol) {
    let mut server = RedisServer::start();
    let redis = client(&server, p);
    // Traffic first: every reply checked.
    for round in 0..3 {
        let (ok, errors) = outcome(echo_wave(&redis, 20, 50, round).await).await;
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(ok, 1000);
    }
    server.pause();
    let wave = echo_wave(&redis, 20, 50, 9).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let killed = Instant::now();
    server.kill();
    let (ok, errors) = outcome(wave).await;
    let took = killed.elapsed();
    assert_eq!((ok, errors.len()), (0, 1000), "the server answered nothing");
    assert!(took < Duration::from_secs(2), "the callers learnt of the kill after {took:?}");
    for e in &errors {
        assert!(matches!(e, Error::Io(_)), "{e:?}");
        assert!(e.is_connection_error());
    }
    // Down: refused at once (or failed fast while backing off), not hanging.
    let err = tokio::time::timeout(HANG, redis.execute_cmd("PING", ())).await.expect("hung").unwrap_err();
    assert!(matches!(err, Error::Io(_) | Error::Unavailable { .. }), "{err:?}");
    server.restart().await;
    support::ping_once_reconnected(&redis).await.expect("the first command after a restart");
    echo(&redis, "after the restart".into()).await.expect("the first command after a restart");
}

/// SIGKILL while the server is busy answering: some replies arrive whole,
/// some cut, the rest not at all. Each caller gets its own reply or a
/// connection error, within a moment of the kill.
async fn kill_in_the_middle_of_traffic(p: Protocol) {
    let mut server = RedisServer::start();
    let redis = client(&server, p);
    echo(&redis, "connect".into()).await.unwrap();
    let mut tasks = JoinSet::new();
    for t in 0..20 {
        let redis = redis.clone();
        tasks.spawn(async move {
            let (mut ok, mut round) = (0usize, 0);
            loop {
                let mut calls = JoinSet::new();
                for i in 0..50 {
                    let redis = redis.clone();
                    calls.spawn(async move { echo(&redis, payload(t, round * 50 + i)).await });
                }
                let mut failed = None;
                while let Some(r) = calls.join_next().await {
                    match r.expect("an ECHO task panicked") {
                        Ok(()) => ok += 1,
                        Err(e) => failed = Some(e),
                    }
                }
                if let Some(e) = failed {
                    return (ok, e);
                }
                round += 1;
            }
        });
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let killed = Instant::now();
    server.kill();
    let mut answered = 0;
    while let Some(r) = tokio::time::timeout(HANG, tasks.join_next()).await.expect("a caller hung") {
        let (ok, e) = r.expect("a task panicked");
        answered += ok;
        assert!(e.is_connection_error(), "{e:?}");
    }
    assert!(killed.elapsed() < Duration::from_secs(2), "the callers learnt of the kill after {:?}", killed.elapsed());
    assert!(answered > 0, "no traffic before the kill");
    server.restart().await;
    support::ping_once_reconnected(&redis).await.expect("the first command after a restart");
    echo(&redis, "after the restart".into()).await.expect("the first command after a restart");
}

/// SIGSTOP with a read timeout set and 200 callers waiting: those on the
/// client's read timeout get `Timeout::Read` on time; those with a longer
/// per-call timeout get their own reply once the server continues, as do
/// new callers; the late replies to the timed-out calls reach nobody.
async fn pause_with_many_concurrent_callers(p: Protocol) {
    let server = RedisServer::start();
    let redis = Redis::builder(&url(&server, p)).unwrap().read_timeout(Some(Duration::from_millis(300))).build();
    echo(&redis, "connect".into()).await.unwrap();
    server.pause();
    let paused = Instant::now();
    let mut calls = JoinSet::new();
    for i in 0..200 {
        let redis = redis.clone();
        calls.spawn(async move {
            let payload = payload(i, i);
            let call = redis.execute_cmd("ECHO", [&payload]).returning::<String>();
            let patient = i % 2 == 1;
            let got = if patient { call.with_timeout(Duration::from_secs(5)).await } else { call.await };
            (patient, payload, got, paused.elapsed())
        });
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    server.resume();
    let mut patient_ok = 0;
    while let Some(r) = tokio::time::timeout(HANG, calls.join_next()).await.expect("a caller hung") {
        let (patient, payload, got, took) = r.unwrap();
        if patient {
            assert_eq!(got.expect("answered once resumed"), payload, "a reply reached the wrong caller");
            assert!(took >= Duration::from_millis(650), "answered after {took:?}, while stopped");
            patient_ok += 1;
        } else {
            let err = got.expect_err("the server was stopped");
            assert!(matches!(err, Error::Timeout(Timeout::Read)), "{err:?}");
            assert!(took < Duration::from_millis(650), "timed out after {took:?}");
        }
    }
    assert_eq!(patient_ok, 100);
    let (ok, errors) = outcome(echo_wave(&redis, 20, 20, 5).await).await;
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(ok, 400);
}

/// The `id=` of the connection in `CLIENT LIST` whose line has `needle`.
async fn find_client(admin: &Redis, needle: &str) -> i64 {
    let deadline = Instant::now() + HANG;
    loop {
        let list: String = admin.execute_cmd("CLIENT", ["LIST"]).returning().await.unwrap();
        let id = list
            .lines()
            .find(|l| l.contains(needle))
            .and_then(|l| l.split_whitespace().find_map(|kv| kv.strip_prefix("id=")))
            .and_then(|v| v.parse().ok());
        match id {
            Some(id) => return id,
            None if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(10)).await,
            None => panic!("no client with {needle}: {list}"),
        }
    }
}

async fn kill_client(admin: &Redis, id: i64) {
    let n: i64 = admin.execute_cmd("CLIENT", ("KILL", "ID", id)).returning().await.unwrap();
    assert_eq!(n, 1, "client {id} was not there to kill");
}

/// `CLIENT KILL` from another connection, of the shared connection (with a
/// command in flight), of a blocking command's connection, of a connection
/// pinned by `MULTI`, and of a subscriber's: each caller gets a connection
/// error, and the next command works on a new connection.
async fn client_kill_of_each_kind_of_connection(p: Protocol) {
    let server = RedisServer::start();
    let admin = server.admin();
    let redis = client(&server, p);

    // Shared connection, with `WAIT` (not a blocking command to the spec)
    // holding it when it is killed.
    let id = client_id(&redis).await;
    let waiter = redis.clone();
    let wait = tokio::spawn(async move { waiter.execute_cmd("WAIT", (1, 20_000)).await });
    find_client(&admin, "cmd=wait").await;
    kill_client(&admin, id).await;
    let err = tokio::time::timeout(HANG, wait).await.expect("hung").unwrap().unwrap_err();
    assert!(matches!(err, Error::Io(_)), "{err:?}");
    assert!(err.to_string().contains("closed the connection"), "{err}");
    assert_ne!(client_id(&redis).await, id, "a new connection");

    // Killed while idle: the client notices and reconnects for the next command.
    let id = client_id(&redis).await;
    kill_client(&admin, id).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    echo(&redis, "idle kill".into()).await.unwrap();

    // A blocking command's own connection.
    let blocker = redis.clone();
    let blpop = tokio::spawn(async move { blocker.execute_cmd("BLPOP", ("list", 0)).await });
    let id = find_client(&admin, "cmd=blpop").await;
    kill_client(&admin, id).await;
    let err = tokio::time::timeout(HANG, blpop).await.expect("hung").unwrap().unwrap_err();
    assert!(err.is_connection_error(), "{err:?}");
    let blocker = redis.clone();
    let blpop = tokio::spawn(async move { blocker.execute_cmd("BLPOP", ("list", 0)).returning::<Value>().await });
    find_client(&admin, "cmd=blpop").await;
    admin.execute_cmd("RPUSH", ("list", "item")).await.unwrap();
    let got = tokio::time::timeout(HANG, blpop).await.expect("hung").unwrap().unwrap();
    assert!(format!("{got:?}").contains("item"), "{got:?}");

    // A transaction's pinned connection: EXEC fails, the next transaction works.
    redis.execute_cmd("MULTI", ()).await.unwrap();
    assert!(matches!(redis.execute_cmd("INCR", ["tx"]).await, Err(Error::Queued { index: 0 })));
    let id = find_client(&admin, "cmd=incr").await;
    kill_client(&admin, id).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let err = redis.execute_cmd("EXEC", ()).await.unwrap_err();
    assert!(err.is_connection_error() || matches!(err, Error::Redis(_)), "{err:?}");
    redis.execute_cmd("MULTI", ()).await.unwrap();
    assert!(matches!(redis.execute_cmd("INCR", ["tx"]).await, Err(Error::Queued { index: 0 })));
    let done: Vec<i64> = redis.execute_cmd("EXEC", ()).returning().await.unwrap();
    assert_eq!(done, [1], "the killed transaction did not run");

    // A subscriber: the queue closes with the cause; subscribing again works.
    let sub = client(&server, p);
    sub.execute_cmd("SUBSCRIBE", ["ch"]).await.unwrap();
    let queue = sub.pubsub_queue();
    let id = find_client(&admin, "cmd=subscribe").await;
    kill_client(&admin, id).await;
    let err = tokio::time::timeout(HANG, queue.recv()).await.expect("hung").unwrap_err();
    match err {
        Error::QueueClosed { cause: Some(cause) } => assert!(matches!(*cause, Error::Io(_)), "{cause:?}"),
        other => panic!("expected QueueClosed with the cause, got {other:?}"),
    }
    sub.execute_cmd("SUBSCRIBE", ["ch"]).await.unwrap();
    admin.execute_cmd("PUBLISH", ("ch", "again")).await.unwrap();
    let m = tokio::time::timeout(HANG, sub.pubsub_queue().recv()).await.expect("hung").unwrap();
    assert_eq!(&m.payload[..], b"again");

    // Everyone but the admin at once, in the middle of traffic.
    let wave = echo_wave(&redis, 10, 20, 3).await;
    let _: i64 = admin.execute_cmd("CLIENT", ("KILL", "TYPE", "normal", "SKIPME", "yes")).returning().await.unwrap();
    let (_, errors) = outcome(wave).await;
    assert!(errors.iter().all(Error::is_connection_error), "{errors:?}");
    echo(&redis, "after killing everyone".into()).await.unwrap();
}

/// `CONFIG SET maxclients 1`: a new connection is refused with the server's
/// own words (not a protocol error about a stray reply), commands on the
/// open connection are unaffected, and once the limit is raised the refused
/// client connects.
async fn maxclients_refusal_then_recovery(p: Protocol) {
    let server = RedisServer::start();
    let admin = server.admin();
    let open = client(&server, p);
    echo(&open, "connected before".into()).await.unwrap();
    admin.execute_cmd("CONFIG", ("SET", "maxclients", 1)).await.unwrap();
    for attempt in 0..20 {
        // Plain, and with a handshake (db, name) to be refused.
        let url = if attempt % 2 == 0 { url(&server, p) } else { format!("{}/3?client_name=late", server.url()) };
        let refused = Redis::new(&with_protocol(&url, p)).unwrap();
        let err = tokio::time::timeout(HANG, refused.execute_cmd("PING", ())).await.expect("hung").unwrap_err();
        let shown = err.to_string();
        assert!(shown.contains("max number of clients reached"), "attempt {attempt}: {err:?}");
    }
    echo(&open, "still connected".into()).await.unwrap();
    admin.execute_cmd("CONFIG", ("SET", "maxclients", 100)).await.unwrap();
    let late = client(&server, p);
    echo(&late, "connected after".into()).await.unwrap();
}

/// The harness's restart (kill, then start on the same ports) with a shared
/// connection, a blocking command, an open transaction, a subscriber and a
/// dedicated connection all open: each learns of it with a connection error
/// (the subscriber through its queue), and each works again after.
async fn restart_with_every_kind_of_connection_open(p: Protocol) {
    let mut server = RedisServer::start();
    let redis = client(&server, p);
    echo(&redis, "shared".into()).await.unwrap();
    let dedicated = redis.dedicated().await.unwrap();
    echo(&dedicated, "dedicated".into()).await.unwrap();
    let in_tx = client(&server, p);
    in_tx.execute_cmd("MULTI", ()).await.unwrap();
    assert!(matches!(in_tx.execute_cmd("INCR", ["n"]).await, Err(Error::Queued { index: 0 })));
    let sub = client(&server, p);
    sub.execute_cmd("SUBSCRIBE", ["ch"]).await.unwrap();
    let queue = sub.pubsub_queue();
    let blocker = redis.clone();
    let blpop = tokio::spawn(async move { blocker.execute_cmd("BLPOP", ("list", 0)).await });
    find_client(&server.admin(), "cmd=blpop").await;

    server.restart().await;

    let err = tokio::time::timeout(HANG, blpop).await.expect("hung").unwrap().unwrap_err();
    assert!(err.is_connection_error(), "{err:?}");
    let err = tokio::time::timeout(HANG, queue.recv()).await.expect("hung").unwrap_err();
    assert!(matches!(err, Error::QueueClosed { cause: Some(_) }), "{err:?}");
    let err = in_tx.execute_cmd("EXEC", ()).await.unwrap_err();
    assert!(err.is_connection_error() || matches!(err, Error::Redis(_)), "{err:?}");

    echo(&redis, "shared after".into()).await.unwrap();
    echo(&dedicated, "dedicated after".into()).await.unwrap();
    in_tx.execute_cmd("MULTI", ()).await.unwrap();
    assert!(matches!(in_tx.execute_cmd("INCR", ["n"]).await, Err(Error::Queued { index: 0 })));
    let done: Vec<i64> = in_tx.execute_cmd("EXEC", ()).returning().await.unwrap();
    assert_eq!(done, [1], "the interrupted transaction did not run");
    sub.execute_cmd("SUBSCRIBE", ["ch"]).await.unwrap();
    server.admin().execute_cmd("PUBLISH", ("ch", "again")).await.unwrap();
    let m = tokio::time::timeout(HANG, sub.pubsub_queue().recv()).await.expect("hung").unwrap();
    assert_eq!(&m.payload[..], b"again");
}

/// The connection of an open `MULTI` (or `WATCH`) dies: the commands meant
/// for the transaction fail rather than run at once on another connection,
/// until `EXEC` or `DISCARD` ends it; then the handle works again. On a
/// shared handle, and on a dedicated one.
async fn transaction_whose_connection_dies_runs_nothing_outside_it(p: Protocol) {
    let server = RedisServer::start();
    let admin = server.admin();
    let shared = client(&server, p);
    let dedicated = client(&server, p).dedicated().await.unwrap();
    for (which, redis) in [("shared", &shared), ("dedicated", &dedicated)] {
        let key = |k: &str| format!("{which}:{k}");
        redis.execute_cmd("MULTI", ()).await.unwrap();
        assert!(matches!(redis.execute_cmd("INCR", [key("queued")]).await, Err(Error::Queued { index: 0 })));
        let id = find_client(&admin, "flags=x").await;
        kill_client(&admin, id).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        for k in ["after", "after-too"] {
            let err = redis.execute_cmd("INCR", [key(k)]).await.expect_err("meant for the dead transaction");
            assert!(err.is_connection_error(), "{which}: {err:?}");
        }
        let err = redis.execute_cmd("EXEC", ()).await.expect_err("the transaction is gone");
        assert!(err.is_connection_error(), "{which}: {err:?}");
        for k in ["queued", "after", "after-too"] {
            let v: Option<i64> = admin.execute_cmd("GET", [key(k)]).returning().await.unwrap();
            assert_eq!(v, None, "{which}: {k} ran outside its transaction");
        }
        // Over: the handle works again, transactions too.
        echo(redis, format!("{which} after")).await.unwrap();
        redis.execute_cmd("MULTI", ()).await.unwrap();
        assert!(matches!(redis.execute_cmd("INCR", [key("queued")]).await, Err(Error::Queued { index: 0 })));
        let done: Vec<i64> = redis.execute_cmd("EXEC", ()).returning().await.unwrap();
        assert_eq!(done, [1], "{which}");

        // WATCH alone: a read meant to be watched fails too, until UNWATCH.
        redis.execute_cmd("WATCH", [key("w")]).await.unwrap();
        let id = find_client(&admin, "cmd=watch").await;
        kill_client(&admin, id).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        let err = redis.execute_cmd("GET", [key("w")]).await.expect_err("the WATCH is gone");
        assert!(err.is_connection_error(), "{which}: {err:?}");
        let _ = redis.execute_cmd("UNWATCH", ()).await;
        echo(redis, format!("{which} after UNWATCH")).await.unwrap();
    }
}

/// `transaction_with` WATCHes on a connection of its own. If that
/// connection dies before `EXEC`, the reads and the transaction must not go
/// on, unwatched, on a new connection: a write made meanwhile by another
/// client would be overwritten (a lost update) instead of retried.
async fn transaction_with_whose_watch_dies_does_not_run_unwatched(p: Protocol) {
    let server = RedisServer::start();
    let admin = server.admin();
    admin.execute_cmd("SET", ("balance", 10)).await.unwrap();
    let redis = client(&server, p);
    let attempts = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let result: Result<(i64,), Error> = redis
        .transaction_with(["balance"], 3, |conn| {
            let (admin, attempts) = (admin.clone(), attempts.clone());
            async move {
                if attempts.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                    kill_client(&admin, client_id(&conn).await).await;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                let balance: i64 = conn.execute_cmd("GET", ["balance"]).returning().await?;
                // Another client's write, which the WATCH is there to catch.
                admin.execute_cmd("INCRBY", ("balance", 1000)).await.unwrap();
                let mut tx = conn.transaction();
                tx.execute_cmd("SET", ("balance", balance + 1)).queue();
                tx.execute_cmd("GET", ["balance"]).queue();
                Ok(tx)
            }
        })
        .await
        .map(|((), b): ((), i64)| (b,));
    let balance: i64 = admin.execute_cmd("GET", ["balance"]).returning().await.unwrap();
    match result {
        Err(e) => assert!(e.is_connection_error(), "{e:?}"),
        Ok(got) => panic!("the transaction ran unwatched: {got:?}"),
    }
    // Untouched (the read failed first), or with the other write kept.
    assert!(balance == 10 || balance >= 1010, "the other client's write was lost: {balance}");
}

/// A tiny xorshift generator: the soak needs cheap, reproducible choices.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What a task saw of its counter.
#[derive(Debug, Default)]
struct Counts {
    /// INCRs that returned.
    ok: i64,
    /// INCRs that may or may not have run (dropped after being sent, or timed out).
    uncertain: i64,
    /// ECHOs that returned their own payload.
    echoed: u64,
    /// Futures dropped before their first poll: nothing was sent.
    never_sent: u64,
}

/// What became of one command.
enum Fate<T> {
    Done(T),
    /// Dropped or timed out after it may have been sent.
    Uncertain,
    NeverSent,
}

/// Awaits `fut` normally, or drops it after a random number of polls (1 in
/// 100), or under a timeout of a few microseconds (1 in 100).
async fn run_with_fate<T>(
    rng: &mut Rng,
    fut: impl IntoFuture<Output = Result<T, Error>, IntoFuture: Send>,
) -> Result<Fate<T>, Error> {
    let mut fut = Box::pin(fut.into_future());
    match rng.below(100) {
        0 => {
            let polls = rng.below(4);
            for _ in 0..polls {
                let polled = std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await;
                if let Poll::Ready(r) = polled {
                    return r.map(Fate::Done);
                }
                tokio::task::yield_now().await;
            }
            Ok(if polls == 0 { Fate::NeverSent } else { Fate::Uncertain })
        }
        1 => match tokio::time::timeout(Duration::from_micros(rng.below(50)), fut).await {
            Ok(r) => r.map(Fate::Done),
            Err(_) => Ok(Fate::Uncertain),
        },
        _ => fut.await.map(Fate::Done),
    }
}

/// A million mixed commands (`SIDERPY_SOAK_COMMANDS` to change it) from 32
/// tasks on one shared client, one in a hundred futures dropped at a random
/// point and one in a hundred under a timeout of microseconds (some of
/// those by the client's per-call timeout): every reply that arrives is the
/// reply to its own command, and each counter ends between its successful
/// INCRs and those plus the uncertain ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_with_dropped_and_timed_out_futures() {
    const TASKS: u64 = 32;
    let total: u64 = std::env::var("SIDERPY_SOAK_COMMANDS").ok().and_then(|n| n.parse().ok()).unwrap_or(1_000_000);
    let server = RedisServer::start();
    let redis = client(&server, Protocol::Resp2);
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for t in 0..TASKS {
        let redis = redis.clone();
        tasks.spawn(async move {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (t + 1).wrapping_mul(0x2545_F491_4F6C_DD1D));
            let key = format!("soak:{t}");
            let mut counts = Counts::default();
            let mut last = 0;
            for i in 0..total / TASKS {
                if rng.below(2) == 0 {
                    let incr = redis.execute_cmd("INCR", [&key]).returning::<i64>();
                    let incr = if rng.below(200) == 0 { incr.with_timeout(Duration::from_micros(1)) } else { incr };
                    match run_with_fate(&mut rng, incr).await {
                        Ok(Fate::Done(n)) => {
                            counts.ok += 1;
                            // This and every earlier success ran; of the
                            // uncertain ones, some may have.
                            assert!(
                                n > last && n >= counts.ok && n <= counts.ok + counts.uncertain,
                                "task {t}: INCR {i} gave {n} after {last} ({counts:?}): another command's reply"
                            );
                            last = n;
                        }
                        Ok(Fate::Uncertain) | Err(Error::Timeout(Timeout::Read)) => counts.uncertain += 1,
                        // A budget of microseconds can run out while the
                        // shared connection is still connecting: not sent.
                        Ok(Fate::NeverSent) | Err(Error::Timeout(Timeout::Connect)) => counts.never_sent += 1,
                        Err(e) => panic!("task {t}: INCR {i}: {e:?}"),
                    }
                } else {
                    let size = if rng.below(100) == 0 { rng.below(20_000) as usize } else { 0 };
                    let payload = format!("{t}:{i}:{}:{}", rng.next(), "y".repeat(size));
                    match run_with_fate(&mut rng, redis.execute_cmd("ECHO", [&payload]).returning::<String>()).await {
                        Ok(Fate::Done(got)) => {
                            assert_eq!(got, payload, "task {t}: ECHO {i} got another command's reply");
                            counts.echoed += 1;
                        }
                        Ok(Fate::Uncertain | Fate::NeverSent) | Err(Error::Timeout(Timeout::Read)) => {}
                        Err(e) => panic!("task {t}: ECHO {i}: {e:?}"),
                    }
                }
            }
            (t, counts)
        });
    }
    let mut all = Vec::new();
    while let Some(r) = tokio::time::timeout(Duration::from_secs(600), tasks.join_next()).await.expect("the soak hung")
    {
        all.push(r.expect("a soak task panicked"));
    }
    let took = started.elapsed();
    let (mut ok, mut uncertain, mut echoed, mut never_sent) = (0, 0, 0, 0);
    for (t, counts) in &all {
        // Sent after every command of the task, on the same connection: the
        // dropped INCRs that were sent have run by now.
        let n: i64 = redis.execute_cmd("GET", [format!("soak:{t}")]).returning().await.unwrap();
        assert!(counts.ok <= n && n <= counts.ok + counts.uncertain, "task {t}: counter {n}, {counts:?}");
        ok += counts.ok;
        uncertain += counts.uncertain;
        echoed += counts.echoed;
        never_sent += counts.never_sent;
    }
    eprintln!(
        "soak: {total} commands in {took:?}: {ok} INCRs and {echoed} ECHOs answered, {uncertain} INCRs \
         dropped or timed out after sending, {never_sent} futures dropped unpolled"
    );
    assert!(uncertain > 0 && never_sent > 0 || total < 10_000, "the soak dropped nothing");
    let _: Value = redis.execute_cmd("PING", ()).await.unwrap();
}
