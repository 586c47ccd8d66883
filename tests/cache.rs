//! Client-side caching against real servers: counters, what is cached,
//! a stale-read hunter over a million reads with a server restart, OPTIN
//! and BCAST, the size bounds, RESP2 through REDIRECT (and losing it), the
//! pool, a cluster whose slot moves, and cached reads as commands like any
//! other (observed once each; options set only before the first poll).

#[macro_use]
mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use siderpy::cluster::RedisCluster;
use siderpy::prelude::*;
use siderpy::{
    CacheConfig, CacheMode, CacheStats, CommandEvent, CommandObserver, Error, Outcome, Protocol, Redis, RedisPool,
};
use support::cluster::{key_for_slot, TestCluster};
use support::{client, ping_once_reconnected, url, wait_until, RedisServer};

protocol_tests!(
    reads_are_served_from_the_cache_until_invalidated,
    optin_caches_only_marked_reads,
    bcast_caches_only_keys_under_its_prefixes,
    entries_and_bytes_stay_within_bounds,
    pool_clients_read_through_their_caches,
);

fn cached(server: &RedisServer, p: Protocol, config: CacheConfig) -> Redis {
    Redis::builder(&url(server, p)).unwrap().cache(config).build()
}

fn stats(redis: &Redis) -> CacheStats {
    redis.cache_stats().expect("the client has a cache")
}

/// Waits until a read through `redis` returns `want` (the invalidation is
/// on its way from the server).
async fn read_until(redis: &Redis, key: &str, want: Option<&str>) {
    wait_until(&format!("{key} reads {want:?}"), Duration::from_secs(5), || async {
        redis.get(key).returning::<Option<String>>().await.unwrap().as_deref() == want
    })
    .await;
}

async fn reads_are_served_from_the_cache_until_invalidated(p: Protocol) {
    let server = RedisServer::start();
    let writer = client(&server, p);
    let redis = cached(&server, p, CacheConfig::new());
    writer.set("k", "v1").await.unwrap();

    let first: Option<String> = redis.get("k").returning().await.unwrap();
    let second: Option<String> = redis.get("k").returning().await.unwrap();
    assert_eq!((first.as_deref(), second.as_deref()), (Some("v1"), Some("v1")));
    let s = stats(&redis);
    assert_eq!((s.misses, s.hits, s.entries), (1, 1, 1), "{s:?}");
    // The server saw one GET: the second came from the cache.
    let info: String = writer.execute_cmd("INFO", ["commandstats"]).returning().await.unwrap();
    assert!(info.contains("cmdstat_get:calls=1,"), "{info}");

    // Another connection's write invalidates the entry.
    writer.set("k", "v2").await.unwrap();
    read_until(&redis, "k", Some("v2")).await;
    assert!(stats(&redis).invalidations >= 1, "{:?}", stats(&redis));

    // Its own write too, and a deletion.
    let _: i64 = redis.execute_cmd("DEL", ["k"]).returning().await.unwrap();
    read_until(&redis, "k", None).await;

    // Replies that vary without a write are never kept; neither are errors.
    writer.set("t", "x").ex(100).await.unwrap();
    let before = stats(&redis);
    for _ in 0..3 {
        let _: i64 = redis.ttl("t").await.unwrap();
    }
    writer.lpush("list", "a").await.unwrap();
    for _ in 0..2 {
        assert!(redis.get("list").returning::<Option<String>>().await.is_err(), "WRONGTYPE");
    }
    let after = stats(&redis);
    assert_eq!(after.hits, before.hits, "TTL and an error reply are not cached: {after:?}");
    assert_eq!(after.misses, before.misses + 2, "GET is cacheable, TTL is not: {after:?}");

    // A transaction's reads reach the server.
    let tx = redis.clone();
    writer.set("m", "1").await.unwrap();
    let _: Option<String> = redis.get("m").returning().await.unwrap();
    tx.multi().await.unwrap();
    assert!(matches!(tx.get("m").returning::<Option<String>>().await, Err(siderpy::Error::Queued { .. })));
    let replies: Vec<Option<String>> = tx.execute_cmd("EXEC", ()).returning().await.unwrap();
    assert_eq!(replies, vec![Some("1".to_owned())]);

    // FLUSHALL invalidates everything.
    let _: Option<String> = redis.get("m").returning().await.unwrap();
    let _: () = writer.execute_cmd("FLUSHALL", ()).returning().await.unwrap();
    read_until(&redis, "m", None).await;
}

async fn optin_caches_only_marked_reads(p: Protocol) {
    let server = RedisServer::start();
    let writer = client(&server, p);
    let redis = cached(&server, p, CacheConfig::new().mode(CacheMode::OptIn));
    writer.set("marked", "1").await.unwrap();
    writer.set("plain", "1").await.unwrap();
    for _ in 0..3 {
        let _: Option<String> = redis.get("marked").cached().returning().await.unwrap();
        let _: Option<String> = redis.get("plain").returning().await.unwrap();
    }
    let s = stats(&redis);
    assert_eq!((s.misses, s.hits, s.entries), (1, 2, 1), "only the marked read is cached: {s:?}");
    // The server tracks the marked key only: the plain one's write sends
    // no invalidation, the marked one's does.
    writer.set("plain", "2").await.unwrap();
    writer.set("marked", "2").await.unwrap();
    wait_until("the marked key is invalidated", Duration::from_secs(5), || async { stats(&redis).invalidations == 1 })
        .await;
    let v: Option<String> = redis.get("marked").cached().returning().await.unwrap();
    assert_eq!(v.as_deref(), Some("2"));
}

async fn bcast_caches_only_keys_under_its_prefixes(p: Protocol) {
    let server = RedisServer::start();
    let writer = client(&server, p);
    let mode = CacheMode::Broadcast { prefixes: vec!["user:".into(), "cfg:".into()] };
    let redis = cached(&server, p, CacheConfig::new().mode(mode));
    writer.set("user:1", "a").await.unwrap();
    writer.set("other", "a").await.unwrap();
    for _ in 0..3 {
        let _: Option<String> = redis.get("user:1").returning().await.unwrap();
        let _: Option<String> = redis.get("other").returning().await.unwrap();
    }
    let s = stats(&redis);
    assert_eq!((s.misses, s.hits, s.entries), (1, 2, 1), "only keys under a prefix: {s:?}");
    writer.set("user:1", "b").await.unwrap();
    read_until(&redis, "user:1", Some("b")).await;
    // A write to a key under the prefix, never read here, invalidates nothing cached.
    writer.set("cfg:x", "1").await.unwrap();
    let _: Option<String> = redis.get("cfg:x").returning().await.unwrap();
    writer.set("cfg:x", "2").await.unwrap();
    read_until(&redis, "cfg:x", Some("2")).await;
}

async fn entries_and_bytes_stay_within_bounds(p: Protocol) {
    let server = RedisServer::start();
    let writer = client(&server, p);
    let redis = cached(&server, p, CacheConfig::new().max_entries(50).max_bytes(20_000));
    let value = "x".repeat(1000);
    for i in 0..200 {
        writer.set(format!("k{i}"), &value).await.unwrap();
    }
    for round in 0..3 {
        for i in 0..200 {
            let v: Option<String> = redis.get(format!("k{i}")).returning().await.unwrap();
            assert_eq!(v.as_deref(), Some(value.as_str()), "round {round}, key {i}");
            let s = stats(&redis);
            assert!(s.entries <= 50 && s.bytes <= 20_000, "{s:?}");
        }
    }
    let s = stats(&redis);
    assert!(s.evictions > 0 && s.entries > 0, "{s:?}");
    // A hot key survives the churn of cold ones (least recently used go first).
    let hot = || async { redis.get("k0").returning::<Option<String>>().await.unwrap() };
    hot().await;
    let hits = stats(&redis).hits;
    for i in 1..30 {
        let _: Option<String> = redis.get(format!("k{i}")).returning().await.unwrap();
        hot().await;
    }
    assert!(stats(&redis).hits >= hits + 29, "{:?}", stats(&redis));
    // A reply larger than the byte bound alone is not kept.
    writer.set("big", "y".repeat(30_000)).await.unwrap();
    for _ in 0..2 {
        let _: Option<String> = redis.get("big").returning().await.unwrap();
    }
    assert!(stats(&redis).bytes <= 20_000);
}

async fn pool_clients_read_through_their_caches(p: Protocol) {
    let server = RedisServer::start();
    let writer = client(&server, p);
    let pool = RedisPool::builder(&url(&server, p)).unwrap().size(3).client(|c| c.cache(CacheConfig::new())).build();
    writer.set("k", "1").await.unwrap();
    for _ in 0..20 {
        let v: Option<String> = pool.get("k").returning().await.unwrap();
        assert_eq!(v.as_deref(), Some("1"));
    }
    let redis = pool.get_redis(None).await.unwrap();
    let s = redis.cache_stats().expect("pooled clients have a cache");
    assert!(s.hits > 0, "{s:?}");
    drop(redis);
    writer.set("k", "2").await.unwrap();
    wait_until("every pooled client sees the write", Duration::from_secs(5), || async {
        let mut all = true;
        for _ in 0..20 {
            all &= pool.get("k").returning::<Option<String>>().await.unwrap().as_deref() == Some("2");
        }
        all
    })
    .await;
}

/// RESP2: invalidations come to a subscriber connection of the client's
/// own (`REDIRECT`). Killing it flushes the cache and reconnects both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resp2_redirect_subscriber_lost_flushes_the_cache() {
    let p = Protocol::Resp2;
    let server = RedisServer::start();
    let writer = client(&server, p);
    let redis = cached(&server, p, CacheConfig::new());
    writer.set("k", "1").await.unwrap();
    for _ in 0..3 {
        let _: Option<String> = redis.get("k").returning().await.unwrap();
    }
    assert_eq!(stats(&redis).entries, 1);
    let list: String = writer.execute_cmd("CLIENT", ["LIST"]).returning().await.unwrap();
    let subscriber = list
        .lines()
        .find(|l| l.contains(" sub=1 ") && l.contains("cmd=subscribe"))
        .unwrap_or_else(|| panic!("a subscriber connection: {list}"));
    let id = subscriber.split_whitespace().find_map(|f| f.strip_prefix("id=")).unwrap();
    let tracked = list.lines().find(|l| l.contains(&format!("redir={id}")));
    assert!(tracked.is_some(), "the shared connection redirects to it: {list}");

    let _: i64 = writer.execute_cmd("CLIENT", ("KILL", "ID", id)).returning().await.unwrap();
    wait_until("the cache is flushed", Duration::from_secs(5), || async { stats(&redis).entries == 0 }).await;
    // Nothing of before is trusted; the next read reconnects both and caches again.
    writer.set("k", "2").await.unwrap();
    ping_once_reconnected(&redis).await.ok();
    read_until(&redis, "k", Some("2")).await;
    for _ in 0..3 {
        let _: Option<String> = redis.get("k").returning().await.unwrap();
    }
    assert!(stats(&redis).entries == 1 && stats(&redis).hits > 0, "{:?}", stats(&redis));
    writer.set("k", "3").await.unwrap();
    read_until(&redis, "k", Some("3")).await;
}

// ---------------------------------------------------------------------------
// The stale-read hunter

/// One change of a key: it took `value` at some moment between `start` and
/// `end` (a write, from before it is sent until it is acknowledged *and* the
/// caching client has read everything the server sent it before: see
/// `fence`); a restart is a change to `None`.
#[derive(Debug, Clone)]
struct Change {
    value: Option<u64>,
    start: Instant,
    end: Instant,
}

/// One read through the cache.
struct Read {
    key: usize,
    value: Option<u64>,
    start: Instant,
    end: Instant,
}

const KEYS: usize = 8;
const READERS: usize = 6;
/// At least this many reads (`CACHE_HUNT_READS` to change it).
fn reads_wanted() -> u64 {
    std::env::var("CACHE_HUNT_READS").ok().and_then(|n| n.parse().ok()).unwrap_or(1_000_000)
}

/// After a write is acknowledged, the caching client may not have read its
/// invalidation yet: the server sends it to the caching connection when it
/// runs the write, but no client can act on it before it arrives, and a
/// reply on another connection can overtake it. A `PING` on the caching
/// client's own connection is answered after the invalidation (one stream,
/// in order): once it returns, the cache must not serve the old value. A
/// write ends there. (`CACHE_HUNT_NO_FENCE=1` leaves it out, to see that
/// window: the hunter then reports reads inside it as stale.)
async fn fence(redis: &Redis) {
    if std::env::var("CACHE_HUNT_NO_FENCE").is_ok() {
        return;
    }
    let _: String = redis.execute_cmd("PING", ()).returning().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_read_hunter_over_a_million_reads_with_a_restart() {
    let p = Protocol::Resp3;
    let mut server = RedisServer::start();
    let redis = Redis::builder(&url(&server, p))
        .unwrap()
        .cache(CacheConfig::new())
        .reconnect(siderpy::Backoff::new(Duration::from_millis(5), Duration::from_millis(50)))
        .build();
    let writer = client(&server, p);
    let key = |i: usize| format!("hunt:{i}");
    let reads_wanted = reads_wanted();

    // Every key's changes, in order (one writer per key).
    let history: Arc<Vec<std::sync::Mutex<Vec<Change>>>> =
        Arc::new((0..KEYS).map(|_| std::sync::Mutex::new(Vec::new())).collect());
    for i in 0..KEYS {
        let start = Instant::now();
        writer.set(key(i), 0u64).await.unwrap();
        fence(&redis).await;
        history[i].lock().unwrap().push(Change { value: Some(0), start, end: Instant::now() });
    }

    let started = Instant::now();
    let done = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    // Writers pause for the restart: a write cut short would leave its key
    // either way, which no log could tell.
    let gate = Arc::new(tokio::sync::RwLock::new(()));

    let mut writers = Vec::new();
    for w in 0..2 {
        let (writer, redis, history, done, gate) =
            (client(&server, p), redis.clone(), history.clone(), done.clone(), gate.clone());
        writers.push(tokio::spawn(async move {
            let mut version = 0u64;
            let unpaced = std::env::var("CACHE_HUNT_UNPACED").is_ok();
            let mut n = 0usize;
            while !done.load(Ordering::Relaxed) {
                n += 1;
                let i = (w + 2 * (n % (KEYS / 2))) % KEYS; // writer w owns keys of its parity
                version += 1;
                let _open = gate.read().await;
                let start = Instant::now();
                if writer.set(format!("hunt:{i}"), version).await.is_err() {
                    // Only before the restart is noticed; the gate keeps
                    // writes out of the restart itself.
                    panic!("a write failed outside the restart");
                }
                fence(&redis).await;
                history[i].lock().unwrap().push(Change { value: Some(version), start, end: Instant::now() });
                drop(_open);
                // Paced, so that most reads are hits and the run is short
                // (`CACHE_HUNT_UNPACED=1`: as fast as it goes, a few minutes).
                if !unpaced && version % 4 == 0 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        }));
    }

    let mut readers = Vec::new();
    for r in 0..READERS {
        let (redis, done, reads) = (redis.clone(), done.clone(), reads.clone());
        readers.push(tokio::spawn(async move {
            let mut log = Vec::with_capacity((reads_wanted as usize / READERS) + 1024);
            let mut errors = 0u64;
            let mut n = r;
            while !done.load(Ordering::Relaxed) {
                n += 1;
                let k = n % KEYS;
                let start = Instant::now();
                match redis.get(format!("hunt:{k}")).returning::<Option<u64>>().await {
                    Ok(value) => {
                        log.push(Read { key: k, value, start, end: Instant::now() });
                        reads.fetch_add(1, Ordering::Relaxed);
                    }
                    // The restart: calls fail until the server is back.
                    Err(_) => errors += 1,
                }
            }
            (log, errors)
        }));
    }

    // Halfway, the server is killed and restarted (its data is gone).
    while reads.load(Ordering::Relaxed) < reads_wanted / 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    println!("restart after {:?}: {:?}", started.elapsed(), stats(&redis));
    {
        let _closed = gate.write().await;
        let start = Instant::now();
        server.restart().await;
        ping_once_reconnected(&redis).await.unwrap();
        let end = Instant::now();
        for h in history.iter() {
            h.lock().unwrap().push(Change { value: None, start, end });
        }
    }
    println!("restarted after {:?}: {:?}", started.elapsed(), stats(&redis));
    while reads.load(Ordering::Relaxed) < reads_wanted {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    done.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for r in readers {
        let (log, e) = r.await.unwrap();
        all.extend(log);
        errors += e;
    }

    // Every value read must be one its key held at some moment between
    // the read's start and end: taken (its change started) before the read
    // ended, and not yet replaced (the next change had not ended) when the
    // read started.
    let history: Vec<Vec<Change>> = history.iter().map(|h| h.lock().unwrap().clone()).collect();
    let mut stale = Vec::new();
    for read in &all {
        let changes = &history[read.key];
        let held = changes.iter().enumerate().any(|(i, c)| {
            c.value == read.value && c.start <= read.end && changes.get(i + 1).is_none_or(|next| next.end > read.start)
        });
        if !held {
            stale.push(read);
        }
    }
    let s = stats(&redis);
    let writes: usize = history.iter().map(Vec::len).sum();
    println!("{} reads, {writes} writes, {errors} failed reads during the restart, {s:?}", all.len());
    assert!(all.len() as u64 >= reads_wanted);
    assert!(s.hits > reads_wanted / 2, "most reads are hits: {s:?}");
    assert!(s.invalidations > 100, "{s:?}");
    assert!(
        stale.is_empty(),
        "{} stale reads, e.g. key {} read {:?}; its changes: {:?}",
        stale.len(),
        stale[0].key,
        stale[0].value,
        history[stale[0].key].iter().map(|c| c.value).collect::<Vec<_>>()
    );
}

// ---------------------------------------------------------------------------
// Cluster

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_nodes_cache_and_a_slot_migration_invalidates() {
    let cluster = TestCluster::start(3, 0).await;
    let seeds = cluster.seed_urls();
    let redis = RedisCluster::builder(&seeds).unwrap().client(|c| c.cache(CacheConfig::new())).build();
    let writer = RedisCluster::builder(&seeds).unwrap().build();
    let key = key_for_slot(1000);
    let slot = 1000;
    writer.set(&key, "1").await.unwrap();
    let others: HashMap<u16, String> = cluster.key_on_each_primary().await.into_iter().collect();
    for k in others.values() {
        writer.set(k, "x").await.unwrap();
    }
    for _ in 0..3 {
        let v: Option<String> = redis.get(&key).returning().await.unwrap();
        assert_eq!(v.as_deref(), Some("1"));
        for k in others.values() {
            let _: Option<String> = redis.get(k).returning().await.unwrap();
        }
    }
    let s = redis.cache_stats().unwrap();
    assert_eq!(s.entries, 1 + others.len() as u64, "one entry per key, each on its node's cache: {s:?}");
    assert!(s.hits >= 2 * (1 + others.len() as u64), "{s:?}");

    // The slot moves: the source deletes the key, which invalidates it
    // there; reads go to the new node, which tracks them for its own cache.
    let from = cluster.primary_for_slot(slot).await;
    let to = cluster.primary_ports().await.into_iter().find(|&p| p != from).unwrap();
    cluster.migrate_slot(slot, to).await;
    wait_until("the moved key reads from its new node", Duration::from_secs(10), || async {
        redis.get(&key).returning::<Option<String>>().await.unwrap().as_deref() == Some("1")
    })
    .await;
    writer.set(&key, "2").await.unwrap();
    wait_until("the new node's write invalidates the entry", Duration::from_secs(5), || async {
        redis.get(&key).returning::<Option<String>>().await.unwrap().as_deref() == Some("2")
    })
    .await;
    let before = redis.cache_stats().unwrap().hits;
    for _ in 0..3 {
        let _: Option<String> = redis.get(&key).returning().await.unwrap();
    }
    assert!(redis.cache_stats().unwrap().hits >= before + 2, "cached on the new node");
}

/// What an observer heard: each command's operation and outcome.
#[derive(Default)]
struct Heard(Mutex<Vec<(String, String)>>);

impl CommandObserver for Heard {
    fn on_complete(&self, ev: &CommandEvent<'_>) {
        let outcome = match ev.outcome {
            Outcome::Ok => "ok",
            Outcome::Cancelled => "cancelled",
            _ => ev.error_type().unwrap_or("error"),
        };
        self.0.lock().unwrap().push((ev.operation.to_owned(), outcome.to_owned()));
    }
}

impl Heard {
    fn take(&self) -> Vec<(String, String)> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

fn heard(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

#[tokio::test]
async fn cached_reads_are_observed_once_each_and_take_options_only_before_polling() {
    let server = RedisServer::start();
    let writer = client(&server, Protocol::Resp3);
    let events = Arc::new(Heard::default());
    let redis = Redis::builder(&url(&server, Protocol::Resp3))
        .unwrap()
        .cache(CacheConfig::new())
        .observer(events.clone())
        .build();
    writer.set("k", "v").await.unwrap();
    writer.set("j", "w").await.unwrap();
    writer.lpush("list", "a").await.unwrap();

    // Before connecting (the general path: connect, then look up), once
    // connected (the fast path), and the hits after each miss.
    for key in ["k", "k", "k", "j", "j"] {
        let v: Option<String> = redis.get(key).returning().await.unwrap();
        assert_eq!(v.as_deref(), Some(if key == "k" { "v" } else { "w" }));
    }
    for _ in 0..2 {
        assert!(redis.get("list").returning::<Option<String>>().await.is_err(), "WRONGTYPE");
    }
    let s = stats(&redis);
    assert_eq!((s.misses, s.hits), (4, 3), "two keys missed once each, the list twice: {s:?}");
    let info: String = writer.execute_cmd("INFO", ["commandstats"]).returning().await.unwrap();
    assert!(info.contains("cmdstat_get:calls=4,"), "{info}");
    // Every read reported once, hit or miss, as the server would answer it.
    let mut want = vec![("GET", "ok"); 5];
    want.extend([("GET", "WRONGTYPE"); 2]);
    assert_eq!(events.take(), heard(&want));

    // Marking a read after its first poll is refused like any option.
    let mut cmd = redis.get("k").returning::<Option<String>>();
    assert!((&mut cmd).now_or_never().is_some_and(|hit| hit.is_ok()), "a hit is ready at once");
    let mut cmd = redis.blpop("empty", 0);
    assert!((&mut cmd).now_or_never().is_none(), "BLPOP on an empty list waits");
    let err = cmd.cached().await.unwrap_err();
    assert!(matches!(&err, Error::Usage(m) if m.contains("after the command was first polled")), "{err:?}");
    assert_eq!(redis.get("k").returning::<Option<String>>().await.unwrap().as_deref(), Some("v"));
}
