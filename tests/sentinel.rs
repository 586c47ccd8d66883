//! The Sentinel client against real `redis-server --sentinel` processes: a
//! master, two replicas and three sentinels started by the harness for
//! each test (see `support/sentinel.rs`).

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use siderpy::prelude::*;
use siderpy::sentinel::Sentinel;
use siderpy::{Error, Redis, UrlError};
use support::sentinel::{TestSentinel, MASTER_NAME};
use support::wait_until;

/// The port of the server a client's shared connection is on.
async fn port_of(redis: &Redis) -> siderpy::Result<u16> {
    let (_, port): (String, String) = redis.execute_cmd("CONFIG", ("GET", "port")).returning().await?;
    let tls_port: (String, String) = redis.execute_cmd("CONFIG", ("GET", "tls-port")).returning().await?;
    Ok(if port == "0" { tls_port.1.parse().unwrap() } else { port.parse().unwrap() })
}

/// Writes `value` at `key` and returns it, in one command: the reply says
/// which call it answers.
async fn echo_set(redis: &Redis, key: &str, value: &str) -> siderpy::Result<String> {
    redis.execute_cmd("EVAL", ("redis.call('SET', KEYS[1], ARGV[1]) return ARGV[1]", 1, key, value)).returning().await
}

#[test]
fn bad_sentinel_urls_are_typed_errors() {
    let url_err = |url: &str| match Sentinel::new(url) {
        Err(Error::Url(e)) => e,
        other => panic!("{url}: {other:?}"),
    };
    assert!(matches!(url_err("redis+sentinel://127.0.0.1:26379"), UrlError::Sentinel(_)));
    assert!(matches!(url_err("redis+sentinel://a,,b/m"), UrlError::Sentinel(_)));
    assert!(matches!(url_err("redis+sentinel://a:70000/m"), UrlError::InvalidPort(_)));
    assert!(matches!(url_err("redis+sentinel://a/m/-1"), UrlError::InvalidDb(_)));
    assert!(matches!(url_err("redis+sentinel://a/m?bogus=1"), UrlError::UnknownParameter(_)));
    assert!(matches!(url_err("redis://a/m"), UrlError::UnsupportedScheme(_)));
    // The message says what a Sentinel URL looks like.
    let shown = Error::Url(url_err("redis+sentinel://a:1")).to_string();
    assert!(shown.contains("redis+sentinel://") && shown.contains("master-name"), "{shown}");
    // The list form: a port defaults to 26379, a name is required.
    assert!(matches!(Sentinel::with_sentinels(&["redis://a:1"], ""), Err(Error::Url(UrlError::Sentinel(_)))));
    assert!(matches!(Sentinel::with_sentinels::<&str>(&[], "m"), Err(Error::Usage(_))));
    let s = Sentinel::with_sentinels(&["redis://a", "rediss://b:5"], "m").unwrap().build();
    let shown = format!("{s:?}");
    assert!(shown.contains("a:26379") && shown.contains("b:5"), "{shown}");
    // Valid forms, TLS included; no I/O happens here.
    for url in [
        "redis+sentinel://:pw@127.0.0.1:1,127.0.0.1:2/mymaster/3?protocol=3&sentinel_password=x",
        "rediss+sentinel://h/m",
        "valkey+sentinel://[::1]:26379/m",
    ] {
        assert_eq!(Sentinel::new(url).unwrap().master_name(), if url.contains("mymaster") { "mymaster" } else { "m" });
    }
}

/// Discovery, the usual API on the master (RESP3 from the URL, pipelines,
/// transactions, pub/sub), reads from replicas, and a pool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finds_the_master_and_the_replicas() {
    let d = TestSentinel::start().await;
    let master_port = d.master_port().await;
    let url = d.url().replace(&format!("/{MASTER_NAME}"), &format!("/{MASTER_NAME}/2?protocol=3"));
    let sentinel = Sentinel::new(&url).unwrap();
    assert_eq!(sentinel.master_addr().await.unwrap().to_string(), format!("127.0.0.1:{master_port}"));

    let redis = sentinel.master();
    redis.set("k", "v").await.unwrap();
    assert_eq!(port_of(&redis).await.unwrap(), master_port);
    let info: String = redis.execute_cmd("CLIENT", ["INFO"]).returning().await.unwrap();
    let fields: HashMap<&str, &str> = info.split_whitespace().filter_map(|kv| kv.split_once('=')).collect();
    assert_eq!(fields.get("resp"), Some(&"3"), "RESP3 from the URL: {info}");
    assert_eq!(fields.get("db"), Some(&"2"), "db from the URL: {info}");

    let (a, b): (i64, i64) = redis.pipe().incr("n").queue().incr("n").queue().query().await.unwrap();
    assert_eq!((a, b), (1, 2));
    let (c,): (i64,) = redis.transaction().incr("n").queue().query().await.unwrap();
    assert_eq!(c, 3);

    let sub = sentinel.master();
    sub.subscribe("news").await.unwrap();
    redis.publish("news", "hi").await.unwrap();
    let msg = tokio::time::timeout(Duration::from_secs(5), sub.pubsub_queue().recv()).await.unwrap().unwrap();
    assert_eq!(&msg.payload[..], b"hi");

    // Reads from replicas: a replica's port, the master's data, no writes.
    let replicas = sentinel.replica_addrs().await.unwrap();
    assert_eq!(replicas.len(), 2, "{replicas:?}");
    let reads = sentinel.replica();
    wait_until("the write to reach the replica", Duration::from_secs(10), || async {
        reads.get("k").await.ok().flatten().as_deref() == Some(&b"v"[..])
    })
    .await;
    let replica_port = port_of(&reads).await.unwrap();
    assert!(replica_port != master_port && d.data_ports().contains(&replica_port), "{replica_port}");
    match reads.set("k", "w").await {
        Err(e) => assert_eq!(e.code(), Some("READONLY"), "{e}"),
        Ok(_) => panic!("a replica took a write"),
    }
    assert!(reads.get("k").await.is_ok(), "READONLY on a replica client is expected, not a demotion");

    let pool = sentinel.pool().size(2).build();
    pool.set("p", "1").await.unwrap();
    assert_eq!(pool.get("p").await.unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(port_of(&pool.get_redis(None).await.unwrap()).await.unwrap(), master_port);
}

/// SIGKILL of the master while 10 tasks write unique values: writes resume
/// on the promoted replica, every reply is its caller's, and every
/// acknowledged write is readable afterwards unless the failover lost it
/// (counted, and compared with writes confirmed by `WAIT 1`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_the_master_under_load() {
    let mut d = TestSentinel::start().await;
    let old_master = d.master_port().await;
    let sentinel =
        Sentinel::builder(&d.url()).unwrap().client(|c| c.read_timeout(Some(Duration::from_secs(5)))).build();
    let redis = sentinel.master();
    redis.ping().await.unwrap();

    #[derive(Default)]
    struct Log {
        /// (key, acknowledged at, confirmed by WAIT on one replica)
        acked: Vec<(String, Instant, bool)>,
        /// Writes started after the kill that succeeded: when each ended.
        resumed: Vec<Instant>,
        errors: HashMap<String, usize>,
    }
    let log = Arc::new(Mutex::new(Log::default()));
    let killed_at: Arc<Mutex<Option<Instant>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tasks: Vec<_> = (0..10)
        .map(|t| {
            let (redis, log, killed_at, stop) = (redis.clone(), log.clone(), killed_at.clone(), stop.clone());
            tokio::spawn(async move {
                // Even tasks ask one replica to confirm each write.
                let wait = t % 2 == 0;
                let mut i = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    i += 1;
                    let (key, value) = (format!("w:{t}:{i}"), format!("{t}:{i}"));
                    let started = Instant::now();
                    match echo_set(&redis, &key, &value).await {
                        Ok(echo) => {
                            assert_eq!(echo, value, "a reply reached the wrong caller");
                            let confirmed = wait
                                && redis.execute_cmd("WAIT", (1, 200)).returning::<i64>().await.is_ok_and(|n| n >= 1);
                            let now = Instant::now();
                            let mut log = log.lock().unwrap();
                            log.acked.push((key, now, confirmed));
                            if killed_at.lock().unwrap().is_some_and(|k| started > k) {
                                log.resumed.push(now);
                            }
                        }
                        Err(e) => {
                            let kind = match &e {
                                Error::Io(_) => "io",
                                Error::Unavailable { .. } => "unavailable",
                                Error::Sentinel(_) => "sentinel",
                                Error::Timeout(_) => "timeout",
                                Error::Closed(_) => "closed",
                                Error::Redis(e) => match e.code() {
                                    "READONLY" => "readonly",
                                    "LOADING" => "loading",
                                    _ => panic!("unexpected server error: {e}"),
                                },
                                other => panic!("an error that is not the failover's: {other}"),
                            };
                            *log.lock().unwrap().errors.entry(kind.to_owned()).or_default() += 1;
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                    }
                }
            })
        })
        .collect();

    // When the first sentinel switched, as bystanders subscribed to each see it.
    let mut switched = Vec::new();
    for i in 0..3 {
        let bystander = d.sentinel_admin(i);
        bystander.subscribe("+switch-master").await.unwrap();
        switched.push(tokio::spawn(async move {
            bystander.pubsub_queue().recv().await.unwrap();
            Instant::now()
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let kill = Instant::now();
    *killed_at.lock().unwrap() = Some(kill);
    d.kill_data(old_master);
    wait_until("writes to resume", Duration::from_secs(30), || async { !log.lock().unwrap().resumed.is_empty() }).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }

    let new_master = d.master_port().await;
    assert_ne!(new_master, old_master);
    assert_eq!(port_of(&redis).await.unwrap(), new_master, "new calls go to the new master");
    let log = Arc::try_unwrap(log).ok().unwrap().into_inner().unwrap();
    let first_write = *log.resumed.iter().min().unwrap();
    let mut first_switch = None::<Instant>;
    for seen in switched {
        if let Ok(Ok(at)) = tokio::time::timeout(Duration::from_secs(5), seen).await {
            first_switch = Some(first_switch.map_or(at, |f| f.min(at)));
        }
    }
    let switched = first_switch.expect("a sentinel announced the switch");

    // Every acknowledged write, read back from the new master.
    let keys: Vec<&str> = log.acked.iter().map(|(k, _, _)| k.as_str()).collect();
    let mut present = Vec::new();
    for chunk in keys.chunks(500) {
        present.extend(redis.mget(chunk).await.unwrap().into_iter().map(|v| v.is_some()));
    }
    let lost: Vec<_> = log.acked.iter().zip(&present).filter(|(_, p)| !**p).map(|(a, _)| a).collect();
    let lost_confirmed = lost.iter().filter(|(_, _, confirmed)| *confirmed).count();
    let confirmed = log.acked.iter().filter(|(_, _, c)| *c).count();
    println!(
        "sentinel failover: kill-to-first-write {} ms (the sentinels switched at {} ms, so {} ms after the switch); \
         {} writes acknowledged ({} after the kill), {} lost ({} of {} confirmed by WAIT 1); errors {:?}",
        (first_write - kill).as_millis(),
        (switched - kill).as_millis(),
        first_write.saturating_duration_since(switched).as_millis(),
        log.acked.len(),
        log.resumed.len(),
        lost.len(),
        lost_confirmed,
        confirmed,
        log.errors
    );
    // What the new master acknowledged is never lost; only what the old
    // one acknowledged before it died can be (asynchronous replication).
    assert!(lost.iter().all(|(_, at, _)| *at < kill), "a write acknowledged after the kill was lost: {lost:?}");
    assert_eq!(lost_confirmed, 0, "a write confirmed by WAIT 1 was lost");
}

/// `SENTINEL FAILOVER` while a writer runs: the client follows it (READONLY
/// or the closed connections of the demoted master make it ask again), a
/// subscriber re-subscribes on the new master, and a pool follows too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_failover_is_followed() {
    let d = TestSentinel::start().await;
    let old_master = d.master_port().await;
    let sentinel = Sentinel::builder(&d.url()).unwrap().client(|c| c.resubscribe(true)).build();
    let redis = sentinel.master();
    let pool = sentinel.pool().size(2).build();
    pool.set("before", "1").await.unwrap();
    let sub = sentinel.master();
    sub.subscribe("news").await.unwrap();
    let queue = sub.pubsub_queue();

    let writer = {
        let redis = redis.clone();
        tokio::spawn(async move {
            let mut failures = Vec::new();
            for i in 0.. {
                let value = i.to_string();
                match echo_set(&redis, "counter", &value).await {
                    Ok(echo) => assert_eq!(echo, value),
                    Err(e) => failures.push(e.to_string()),
                }
                if let Ok(port) = port_of(&redis).await {
                    if port != old_master {
                        return failures;
                    }
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            unreachable!()
        })
    };
    // A sentinel may not yet rate the replicas good enough (NOGOODSLAVE) on a busy machine: ask again.
    let admin = d.sentinel_admin(1);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match admin.execute_cmd("SENTINEL", ("FAILOVER", MASTER_NAME)).returning::<String>().await {
            Ok(ok) => break assert_eq!(ok, "OK"),
            Err(e) if e.code() == Some("NOGOODSLAVE") && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Err(e) => panic!("SENTINEL FAILOVER: {e}"),
        }
    }
    let new_master = d.wait_master_moved_from(old_master, Duration::from_secs(20)).await;
    let failures = tokio::time::timeout(Duration::from_secs(20), writer).await.expect("the writer follows").unwrap();
    println!("manual failover: {} failed writes during it: {failures:?}", failures.len());
    assert_eq!(port_of(&redis).await.unwrap(), new_master);
    echo_set(&redis, "after", "1").await.unwrap();

    // The pool's clients follow as well.
    assert_eq!(port_of(&pool.get_redis(None).await.unwrap()).await.unwrap(), new_master);
    pool.set("after", "2").await.unwrap();

    // The subscriber is back on the new master.
    let publisher = d.admin(new_master);
    let got = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            publisher.publish("news", "on the new master").await.unwrap();
            if let Ok(Ok(m)) = tokio::time::timeout(Duration::from_millis(200), queue.recv()).await {
                return m;
            }
        }
    })
    .await
    .expect("the subscriber re-subscribed on the new master");
    assert_eq!(&got.payload[..], b"on the new master");
}

/// A sentinel that is down is skipped; all down is a clear error (and
/// clients already connected go on).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn down_sentinels_are_skipped_and_all_down_is_a_clear_error() {
    let mut d = TestSentinel::start().await;
    let url = d.url();
    d.kill_sentinel(0);
    let redis = Sentinel::new(&url).unwrap().master();
    redis.set("k", "v").await.unwrap();
    assert_eq!(port_of(&redis).await.unwrap(), d.master_port().await);

    let ports = d.sentinel_ports();
    d.kill_sentinel(1);
    d.kill_sentinel(2);
    match Sentinel::new(&url).unwrap().master().ping().await {
        Err(Error::Sentinel(why)) => {
            for port in ports {
                assert!(why.contains(&format!("127.0.0.1:{port}")), "names each sentinel: {why}");
            }
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(redis.get("k").await.unwrap().as_deref(), Some(&b"v"[..]), "the open connection still serves");
}

/// Passwords on the master and replicas (`sentinel auth-pass`) and on the
/// sentinels (`requirepass`), in the URL or the list form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinel_and_master_passwords() {
    let d = TestSentinel::builder().password("data pw").sentinel_password("s3ntinel").start().await;
    let redis = Sentinel::new(&d.url()).unwrap().master();
    redis.set("k", "v").await.unwrap();
    assert_eq!(redis.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));

    let urls: Vec<String> = d.sentinel_ports().iter().map(|p| format!("redis://:s3ntinel@127.0.0.1:{p}")).collect();
    let listed = Sentinel::with_sentinels(&urls, MASTER_NAME).unwrap().client(|c| c.auth(None, "data pw")).build();
    assert_eq!(listed.master().get("k").await.unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(listed.replica().ping().await.unwrap(), "PONG");

    // Without the sentinels' password: each refusal is named.
    let no_sentinel_pw = d.url().split('?').next().unwrap().to_owned();
    match Sentinel::new(&no_sentinel_pw).unwrap().master().ping().await {
        Err(Error::Sentinel(why)) => assert!(why.contains("NOAUTH"), "{why}"),
        other => panic!("{other:?}"),
    }
    // A wrong master password is the server's refusal.
    let wrong = Sentinel::with_sentinels(&urls, MASTER_NAME).unwrap().client(|c| c.auth(None, "nope")).build();
    match wrong.master().ping().await {
        Err(e) => assert!(matches!(e.code(), Some("WRONGPASS" | "ERR")), "{e}"),
        Ok(_) => panic!("a wrong password was accepted"),
    }
}

/// TLS to the sentinels and to the master (replication over TLS too).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_to_sentinels_and_master() {
    let d = TestSentinel::builder().tls().password("pw").start().await;
    let sentinel = Sentinel::builder(&d.url()).unwrap().client(|c| d.trust(c)).sentinel_client(|c| d.trust(c)).build();
    let redis = sentinel.master();
    redis.set("k", "v").await.unwrap();
    assert_eq!(port_of(&redis).await.unwrap(), d.master_port().await);
    assert_eq!(sentinel.replica().ping().await.unwrap(), "PONG");

    // Without trusting the CA, the sentinels' certificates are refused.
    let untrusted = Sentinel::new(&d.url()).unwrap();
    match untrusted.master().ping().await {
        Err(Error::Sentinel(why)) => {
            assert!(why.to_lowercase().contains("tls") || why.contains("certificate"), "{why}")
        }
        other => panic!("{other:?}"),
    }
}

/// What real sentinels do only in a failover's brief windows, with a fake
/// one: it names a replica (a ROLE mismatch: asked again, never used), then
/// the master; then the master is demoted behind the sentinels' back, and
/// its `READONLY` makes the client ask again and follow the new master.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_mismatch_and_readonly_make_the_client_ask_again() {
    use std::sync::atomic::Ordering::SeqCst;
    let a = support::RedisServer::start();
    let b = support::RedisServer::builder().config(&format!("replicaof 127.0.0.1 {}", a.port())).start();
    let fake = support::sentinel::FakeSentinel::start(b.port()).await;
    // No polling during the test: only READONLY can reveal the demotion.
    let sentinel = Sentinel::builder(&fake.url()).unwrap().poll_interval(Duration::from_secs(600)).build();
    let redis = sentinel.master();
    match redis.ping().await {
        Err(Error::Sentinel(why)) => assert!(why.contains("slave") && why.contains(&b.port().to_string()), "{why}"),
        other => panic!("a replica was used as the master: {other:?}"),
    }
    fake.master_port.store(a.port(), SeqCst);
    support::ping_once_reconnected(&redis).await.unwrap();
    redis.set("k", "1").await.unwrap();
    assert_eq!(port_of(&redis).await.unwrap(), a.port());

    // B becomes the master, A its replica; the fake now names B.
    b.admin().execute_cmd("REPLICAOF", ("NO", "ONE")).await.unwrap();
    a.admin().execute_cmd("REPLICAOF", ("127.0.0.1", b.port())).await.unwrap();
    fake.master_port.store(b.port(), SeqCst);
    match redis.set("k", "2").await {
        Err(e) => assert_eq!(e.code(), Some("READONLY"), "{e}"),
        Ok(_) => panic!("the demoted master took a write"),
    }
    // The next call asks the sentinel, checks ROLE, and writes on B.
    support::ping_once_reconnected(&redis).await.unwrap();
    redis.set("k", "3").await.unwrap();
    assert_eq!(port_of(&redis).await.unwrap(), b.port());
}

/// The task following failovers ends with the last handle: its subscribed
/// connection to the sentinel closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watcher_ends_with_the_last_handle() {
    let d = TestSentinel::start().await;
    let admin = d.sentinel_admin(0);
    let subscribed = || async {
        let list: String = admin.execute_cmd("CLIENT", ["LIST"]).returning().await.unwrap();
        list.lines().filter(|l| l.contains("sub=1")).count()
    };
    let before = subscribed().await;
    let sentinel = Sentinel::builder(&d.url()).unwrap().poll_interval(Duration::from_millis(50)).build();
    let redis = sentinel.master();
    redis.ping().await.unwrap();
    wait_until("the watcher to subscribe", Duration::from_secs(10), || async { subscribed().await > before }).await;
    drop(sentinel);
    redis.ping().await.unwrap();
    assert!(subscribed().await > before, "a client still holds the watcher");
    drop(redis);
    wait_until("the watcher to end", Duration::from_secs(10), || async { subscribed().await == before }).await;
}

/// When the master moves, calls in flight on the old one (on the shared
/// connection, and a blocking one on its own) fail at once with
/// `Error::Sentinel`, and are not sent again anywhere; new calls go to the
/// new master.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_in_flight_on_the_old_master_fail_and_are_not_resent() {
    use std::sync::atomic::Ordering::SeqCst;
    let (a, b) = (support::RedisServer::start(), support::RedisServer::start());
    let fake = support::sentinel::FakeSentinel::start(a.port()).await;
    let sentinel = Sentinel::builder(&fake.url()).unwrap().poll_interval(Duration::from_millis(50)).build();
    let redis = sentinel.master();
    redis.ping().await.unwrap();
    let slow = {
        let redis = redis.clone();
        // No replica: it waits for ever, on the shared connection.
        tokio::spawn(async move { redis.execute_cmd("WAIT", (1, 0)).await })
    };
    let blocked = {
        let redis = redis.clone();
        tokio::spawn(async move { redis.blpop("q", 0).await })
    };
    let a_admin = a.admin();
    wait_until("both calls to be in flight on A", Duration::from_secs(5), || async {
        let list: String = a_admin.execute_cmd("CLIENT", ["LIST"]).returning().await.unwrap_or_default();
        list.contains("cmd=blpop") && list.contains("cmd=wait")
    })
    .await;
    let moved = Instant::now();
    fake.master_port.store(b.port(), SeqCst);
    let limit = Duration::from_secs(5);
    let slow =
        tokio::time::timeout(limit, slow).await.expect("the call on the shared connection is still waiting").unwrap();
    let blocked = tokio::time::timeout(limit, blocked).await.expect("the blocking call is still waiting").unwrap();
    for call in [slow.map(drop), blocked.map(drop)] {
        match call {
            Err(Error::Sentinel(why)) => assert!(why.contains("moved") && why.contains("not re-sent"), "{why}"),
            other => panic!("{other:?}"),
        }
    }
    assert!(moved.elapsed() < Duration::from_secs(3), "failed at the move");
    assert_eq!(port_of(&redis).await.unwrap(), b.port());
    // Neither was sent again: B never ran WAIT nor BLPOP, and nobody
    // waits on A's list any more.
    let stats: String = b.admin().execute_cmd("INFO", ["commandstats"]).returning().await.unwrap();
    assert!(!stats.contains("cmdstat_wait") && !stats.contains("cmdstat_blpop"), "{stats}");
    a_admin.lpush("q", "x").await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(a_admin.llen("q").await.unwrap(), 1);
}
