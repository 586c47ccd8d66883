//! Each workload, written once per client the way its users would write it.
//!
//! Connecting happens before the clock starts; every reply is checked (its
//! length or count), so no client wins by skipping work.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;

use crate::{cluster_keys, hot_keys, mget_keys, Client, Outcome, Sizes, Workload, BIG_KEY, CHANNEL, SMALL_KEY};

type R<T> = Result<T, String>;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// How long a subscriber waits for the next message before counting the
/// rest as lost.
const PUBSUB_IDLE: Duration = Duration::from_secs(3);
/// `hot_get` does this many times the GETs of `conc50_get`.
const HOT_FACTOR: usize = 2;

fn payload() -> Bytes {
    Bytes::from_static(b"0123456789abcdef") // 16 bytes
}

/// Runs workload `w`; `url` is the cluster's comma-separated seed URLs for
/// the cluster workloads.
pub async fn run(client: Client, w: Workload, url: &str, sizes: &Sizes, fred_capacity: Option<usize>) -> R<Outcome> {
    if w.is_cluster() {
        return match client {
            Client::Siderpy => siderpy_cluster_run(w, url, sizes).await,
            Client::RedisRs => redis_rs_cluster_run(w, url, sizes).await,
            Client::Fred => fred_cluster_run(w, url, sizes).await,
        };
    }
    match client {
        Client::Siderpy => siderpy_run(w, url, sizes).await,
        Client::RedisRs => redis_rs_run(w, url, sizes).await,
        Client::Fred => fred_run(w, url, sizes, fred_capacity).await,
    }
}

fn rate(ops: usize, started: Instant) -> Outcome {
    Outcome { rate: ops as f64 / started.elapsed().as_secs_f64(), ops, failure: None }
}

/// What a subscriber task reports: messages received and when the last came.
struct Received {
    count: usize,
    last: Instant,
    lagged: u64,
}

fn pubsub_outcome(sizes: &Sizes, started: Instant, got: Received) -> Outcome {
    let elapsed = got.last.saturating_duration_since(started).as_secs_f64().max(1e-9);
    let lost = sizes.pubsub_msgs.saturating_sub(got.count);
    let failure = (lost > 0).then(|| {
        format!(
            "received {} of {} messages ({lost} lost{})",
            got.count,
            sizes.pubsub_msgs,
            if got.lagged > 0 { format!(", {} reported as lagged", got.lagged) } else { String::new() }
        )
    });
    Outcome { rate: got.count as f64 / elapsed, ops: sizes.pubsub_msgs, failure }
}

// ---------------------------------------------------------------- siderpy

async fn siderpy_run(w: Workload, url: &str, sizes: &Sizes) -> R<Outcome> {
    use siderpy::prelude::*;
    let redis = if w == Workload::HotGetCached {
        let builder = siderpy::Redis::builder(url).map_err(err)?.protocol(siderpy::Protocol::Resp3);
        builder.cache(siderpy::CacheConfig::new()).build()
    } else {
        siderpy::Redis::new(url).map_err(err)?
    };
    redis.execute_cmd("PING", ()).await.map_err(err)?;
    let out = match w {
        Workload::ClusterConc50Get | Workload::ClusterPipeSet => return Err(format!("{w:?} needs a cluster")),
        Workload::Idle => {
            let v = redis.get(SMALL_KEY).await.map_err(err)?;
            check_len(v.as_deref(), 3)?;
            Outcome { rate: 0.0, ops: 0, failure: None }
        }
        Workload::SeqGet => {
            let t = Instant::now();
            for _ in 0..sizes.seq_get {
                let v = redis.get(SMALL_KEY).await.map_err(err)?;
                check_len(v.as_deref(), 3)?;
            }
            rate(sizes.seq_get, t)
        }
        Workload::PipeSet => siderpy_pipe_set(redis.pipe(), sizes).await?,
        Workload::HotGet | Workload::HotGetCached => {
            let keys = std::sync::Arc::new(hot_keys(sizes));
            let t = Instant::now();
            let tasks: Vec<_> = (0..sizes.conc_tasks)
                .map(|task| {
                    let (redis, keys) = (redis.clone(), keys.clone());
                    let n = sizes.conc_per_task * HOT_FACTOR;
                    tokio::spawn(async move {
                        for j in 0..n {
                            let v = redis.get(&keys[(task + j) % keys.len()]).await.map_err(err)?;
                            check_nonempty(v.as_deref())?;
                        }
                        R::Ok(())
                    })
                })
                .collect();
            for task in tasks {
                task.await.map_err(err)??;
            }
            let out = rate(sizes.conc_tasks * sizes.conc_per_task * HOT_FACTOR, t);
            if let Some(stats) = redis.cache_stats() {
                check_hits(stats.hits as usize, stats.misses as usize, sizes)?;
            }
            out
        }
        Workload::Conc50Get => {
            let t = Instant::now();
            let tasks: Vec<_> = (0..sizes.conc_tasks)
                .map(|_| {
                    let redis = redis.clone();
                    let n = sizes.conc_per_task;
                    tokio::spawn(async move {
                        for _ in 0..n {
                            let v = redis.get(SMALL_KEY).await.map_err(err)?;
                            check_len(v.as_deref(), 3)?;
                        }
                        R::Ok(())
                    })
                })
                .collect();
            for task in tasks {
                task.await.map_err(err)??;
            }
            rate(sizes.conc_tasks * sizes.conc_per_task, t)
        }
        Workload::Get1MiB => {
            let t = Instant::now();
            for _ in 0..sizes.big_gets {
                let v = redis.get(BIG_KEY).await.map_err(err)?;
                check_len(v.as_deref(), sizes.big_len)?;
            }
            rate(sizes.big_gets, t)
        }
        Workload::Mget1000 => {
            let keys = mget_keys(sizes);
            let t = Instant::now();
            for _ in 0..sizes.mget_calls {
                let v: Vec<Option<Bytes>> = redis.execute_cmd("MGET", &keys[..]).returning().await.map_err(err)?;
                check_count(v.iter().filter(|v| v.is_some()).count(), sizes.mget_keys)?;
            }
            rate(sizes.mget_calls, t)
        }
        Workload::PubSub1M => {
            let sub = siderpy::Redis::new(url).map_err(err)?;
            sub.execute_cmd("SUBSCRIBE", [CHANNEL]).await.map_err(err)?;
            let queue = sub.pubsub_queue();
            let n = sizes.pubsub_msgs;
            let reader = tokio::spawn(async move {
                let mut got = Received { count: 0, last: Instant::now(), lagged: 0 };
                while got.count < n {
                    match tokio::time::timeout(PUBSUB_IDLE, queue.recv()).await {
                        Ok(Ok(m)) => {
                            debug_assert_eq!(m.payload.len(), 16);
                            got.count += 1;
                            got.last = Instant::now();
                        }
                        _ => break,
                    }
                }
                got
            });
            let t = Instant::now();
            let mut p = redis.pipe();
            for start in (0..n).step_by(sizes.pubsub_batch) {
                for _ in start..(start + sizes.pubsub_batch).min(n) {
                    p.execute_cmd("PUBLISH", (CHANNEL, payload())).queue();
                }
                for r in p.execute().await.map_err(err)? {
                    r.map_err(err)?;
                }
            }
            let got = reader.await.map_err(err)?;
            drop(sub);
            pubsub_outcome(sizes, t, got)
        }
    };
    redis.close().await;
    Ok(out)
}

/// `pipe_set` through a siderpy pipeline, on one server or a cluster alike.
async fn siderpy_pipe_set(mut p: siderpy::Pipeline, sizes: &Sizes) -> R<Outcome> {
    use siderpy::prelude::*;
    let t = Instant::now();
    for start in (0..sizes.pipe_set).step_by(sizes.pipe_batch) {
        for i in start..(start + sizes.pipe_batch).min(sizes.pipe_set) {
            p.set(format!("key:{i}"), i).queue();
        }
        for r in p.execute().await.map_err(err)? {
            r.map_err(err)?;
        }
    }
    Ok(rate(sizes.pipe_set, t))
}

fn check_len(v: Option<&[u8]>, want: usize) -> R<()> {
    match v {
        Some(b) if b.len() == want => Ok(()),
        other => Err(format!("expected a value of {want} bytes, got {:?}", other.map(<[u8]>::len))),
    }
}

fn check_count(got: usize, want: usize) -> R<()> {
    if got == want {
        Ok(())
    } else {
        Err(format!("expected {want} values, got {got}"))
    }
}

// ---------------------------------------------------------------- redis-rs

async fn redis_rs_run(w: Workload, url: &str, sizes: &Sizes) -> R<Outcome> {
    if w == Workload::HotGetCached {
        return redis_rs_hot_get_cached(url, sizes).await;
    }
    let client = redis::Client::open(url).map_err(err)?;
    let mut con = client.get_multiplexed_async_connection().await.map_err(err)?;
    redis::cmd("PING").query_async::<()>(&mut con).await.map_err(err)?;
    let out = match w {
        Workload::ClusterConc50Get | Workload::ClusterPipeSet => return Err(format!("{w:?} needs a cluster")),
        Workload::Idle => {
            let v: Option<Vec<u8>> = redis::cmd("GET").arg(SMALL_KEY).query_async(&mut con).await.map_err(err)?;
            check_len(v.as_deref(), 3)?;
            Outcome { rate: 0.0, ops: 0, failure: None }
        }
        Workload::SeqGet => {
            let t = Instant::now();
            for _ in 0..sizes.seq_get {
                let v: Option<Vec<u8>> = redis::cmd("GET").arg(SMALL_KEY).query_async(&mut con).await.map_err(err)?;
                check_len(v.as_deref(), 3)?;
            }
            rate(sizes.seq_get, t)
        }
        Workload::PipeSet => {
            let t = Instant::now();
            for start in (0..sizes.pipe_set).step_by(sizes.pipe_batch) {
                let mut p = redis::pipe();
                for i in start..(start + sizes.pipe_batch).min(sizes.pipe_set) {
                    p.cmd("SET").arg(format!("key:{i}")).arg(i).ignore();
                }
                p.query_async::<()>(&mut con).await.map_err(err)?;
            }
            rate(sizes.pipe_set, t)
        }
        Workload::Conc50Get => {
            let t = Instant::now();
            let tasks: Vec<_> = (0..sizes.conc_tasks)
                .map(|_| {
                    let mut con = con.clone();
                    let n = sizes.conc_per_task;
                    tokio::spawn(async move {
                        for _ in 0..n {
                            let v: Option<Vec<u8>> =
                                redis::cmd("GET").arg(SMALL_KEY).query_async(&mut con).await.map_err(err)?;
                            check_len(v.as_deref(), 3)?;
                        }
                        R::Ok(())
                    })
                })
                .collect();
            for task in tasks {
                task.await.map_err(err)??;
            }
            rate(sizes.conc_tasks * sizes.conc_per_task, t)
        }
        Workload::HotGet => redis_rs_hot_get(con, sizes).await?,
        Workload::HotGetCached => unreachable!("above"),
        Workload::Get1MiB => {
            let t = Instant::now();
            for _ in 0..sizes.big_gets {
                let v: Option<Vec<u8>> = redis::cmd("GET").arg(BIG_KEY).query_async(&mut con).await.map_err(err)?;
                check_len(v.as_deref(), sizes.big_len)?;
            }
            rate(sizes.big_gets, t)
        }
        Workload::Mget1000 => {
            let keys = mget_keys(sizes);
            let t = Instant::now();
            for _ in 0..sizes.mget_calls {
                let v: Vec<Option<Vec<u8>>> =
                    redis::cmd("MGET").arg(&keys[..]).query_async(&mut con).await.map_err(err)?;
                check_count(v.iter().filter(|v| v.is_some()).count(), sizes.mget_keys)?;
            }
            rate(sizes.mget_calls, t)
        }
        Workload::PubSub1M => {
            let mut sub = client.get_async_pubsub().await.map_err(err)?;
            sub.subscribe(CHANNEL).await.map_err(err)?;
            let mut stream = sub.into_on_message();
            let n = sizes.pubsub_msgs;
            let reader = tokio::spawn(async move {
                let mut got = Received { count: 0, last: Instant::now(), lagged: 0 };
                while got.count < n {
                    match tokio::time::timeout(PUBSUB_IDLE, stream.next()).await {
                        Ok(Some(m)) => {
                            debug_assert_eq!(m.get_payload_bytes().len(), 16);
                            got.count += 1;
                            got.last = Instant::now();
                        }
                        _ => break,
                    }
                }
                got
            });
            let t = Instant::now();
            let payload = payload();
            for start in (0..n).step_by(sizes.pubsub_batch) {
                let mut p = redis::pipe();
                for _ in start..(start + sizes.pubsub_batch).min(n) {
                    p.cmd("PUBLISH").arg(CHANNEL).arg(&payload[..]).ignore();
                }
                p.query_async::<()>(&mut con).await.map_err(err)?;
            }
            let got = reader.await.map_err(err)?;
            pubsub_outcome(sizes, t, got)
        }
    };
    Ok(out)
}

/// `hot_get` on a redis-rs multiplexed connection (with or without its cache).
async fn redis_rs_hot_get(con: redis::aio::MultiplexedConnection, sizes: &Sizes) -> R<Outcome> {
    let keys = std::sync::Arc::new(hot_keys(sizes));
    let t = Instant::now();
    let tasks: Vec<_> = (0..sizes.conc_tasks)
        .map(|task| {
            let (mut con, keys) = (con.clone(), keys.clone());
            let n = sizes.conc_per_task * HOT_FACTOR;
            tokio::spawn(async move {
                for j in 0..n {
                    let key = &keys[(task + j) % keys.len()];
                    let v: Option<Vec<u8>> = redis::cmd("GET").arg(key).query_async(&mut con).await.map_err(err)?;
                    check_nonempty(v.as_deref())?;
                }
                R::Ok(())
            })
        })
        .collect();
    for task in tasks {
        task.await.map_err(err)??;
    }
    let out = rate(sizes.conc_tasks * sizes.conc_per_task * HOT_FACTOR, t);
    if let Some(stats) = con.get_cache_statistics() {
        check_hits(stats.hit, stats.miss, sizes)?;
    }
    Ok(out)
}

/// `hot_get_cached` with redis-rs's own client-side cache (`cache-aio`,
/// which needs RESP3), default settings.
async fn redis_rs_hot_get_cached(url: &str, sizes: &Sizes) -> R<Outcome> {
    let sep = if url.contains('?') {
        "&"
    } else if url.ends_with('/') {
        "?"
    } else {
        "/?"
    };
    let client = redis::Client::open(format!("{url}{sep}protocol=resp3")).map_err(err)?;
    let config = redis::AsyncConnectionConfig::new().set_cache_config(redis::caching::CacheConfig::new());
    let con = client.get_multiplexed_async_connection_with_config(&config).await.map_err(err)?;
    redis_rs_hot_get(con, sizes).await
}

/// Most reads of a hot-set run must be hits, or it measures something else.
/// At first every task may miss every key (concurrent misses are not
/// merged), so a run too short to outlast that (`--quick`) only has to show
/// the cache answering at all.
fn check_hits(hits: usize, misses: usize, sizes: &Sizes) -> R<()> {
    let reads = sizes.conc_tasks * sizes.conc_per_task * HOT_FACTOR;
    let first_misses = sizes.conc_tasks * hot_keys(sizes).len();
    let enough = if reads >= 20 * first_misses { hits >= 10 * misses } else { hits > 0 };
    if !enough {
        return Err(format!("the cache answered only {hits} reads ({misses} misses)"));
    }
    Ok(())
}

fn check_nonempty(v: Option<&[u8]>) -> R<()> {
    match v {
        Some(v) if !v.is_empty() => Ok(()),
        _ => Err(format!("expected a value, got {v:?}")),
    }
}

// ---------------------------------------------------------------- fred

async fn fred_client(url: &str, capacity: Option<usize>) -> R<fred::prelude::Client> {
    use fred::prelude::*;
    let config = Config::from_url(url).map_err(err)?;
    let mut builder = Builder::from_config(config);
    if let Some(c) = capacity {
        builder.with_performance_config(|p| p.broadcast_channel_capacity = c);
    }
    let client = builder.build().map_err(err)?;
    client.init().await.map_err(err)?;
    Ok(client)
}

async fn fred_run(w: Workload, url: &str, sizes: &Sizes, capacity: Option<usize>) -> R<Outcome> {
    use fred::prelude::*;
    let client = fred_client(url, capacity).await?;
    client.ping::<()>(None).await.map_err(err)?;
    let out = match w {
        Workload::ClusterConc50Get | Workload::ClusterPipeSet => return Err(format!("{w:?} needs a cluster")),
        Workload::HotGet | Workload::HotGetCached => {
            return Err("fred has no client-side cache; hot_get is compared with siderpy and redis-rs".into())
        }
        Workload::Idle => {
            let v: Option<Bytes> = client.get(SMALL_KEY).await.map_err(err)?;
            check_len(v.as_deref(), 3)?;
            Outcome { rate: 0.0, ops: 0, failure: None }
        }
        Workload::SeqGet => {
            let t = Instant::now();
            for _ in 0..sizes.seq_get {
                let v: Option<Bytes> = client.get(SMALL_KEY).await.map_err(err)?;
                check_len(v.as_deref(), 3)?;
            }
            rate(sizes.seq_get, t)
        }
        Workload::PipeSet => {
            let t = Instant::now();
            for start in (0..sizes.pipe_set).step_by(sizes.pipe_batch) {
                let p = client.pipeline();
                for i in start..(start + sizes.pipe_batch).min(sizes.pipe_set) {
                    let () = p.set(format!("key:{i}"), i as i64, None, None, false).await.map_err(err)?;
                }
                let _: Vec<fred::types::Value> = p.all().await.map_err(err)?;
            }
            rate(sizes.pipe_set, t)
        }
        Workload::Conc50Get => {
            let t = Instant::now();
            let tasks: Vec<_> = (0..sizes.conc_tasks)
                .map(|_| {
                    let client = client.clone();
                    let n = sizes.conc_per_task;
                    tokio::spawn(async move {
                        for _ in 0..n {
                            let v: Option<Bytes> = client.get(SMALL_KEY).await.map_err(err)?;
                            check_len(v.as_deref(), 3)?;
                        }
                        R::Ok(())
                    })
                })
                .collect();
            for task in tasks {
                task.await.map_err(err)??;
            }
            rate(sizes.conc_tasks * sizes.conc_per_task, t)
        }
        Workload::Get1MiB => {
            let t = Instant::now();
            for _ in 0..sizes.big_gets {
                let v: Option<Bytes> = client.get(BIG_KEY).await.map_err(err)?;
                check_len(v.as_deref(), sizes.big_len)?;
            }
            rate(sizes.big_gets, t)
        }
        Workload::Mget1000 => {
            let keys: Vec<fred::types::Key> = mget_keys(sizes).into_iter().map(Into::into).collect();
            let t = Instant::now();
            for _ in 0..sizes.mget_calls {
                let v: Vec<Option<Bytes>> = client.mget(keys.clone()).await.map_err(err)?;
                check_count(v.iter().filter(|v| v.is_some()).count(), sizes.mget_keys)?;
            }
            rate(sizes.mget_calls, t)
        }
        Workload::PubSub1M => {
            let sub = fred_client(url, capacity).await?;
            let mut rx = sub.message_rx();
            sub.subscribe(CHANNEL).await.map_err(err)?;
            let n = sizes.pubsub_msgs;
            let reader = tokio::spawn(async move {
                let mut got = Received { count: 0, last: Instant::now(), lagged: 0 };
                while (got.count as u64 + got.lagged) < n as u64 {
                    match tokio::time::timeout(PUBSUB_IDLE, rx.recv()).await {
                        Ok(Ok(_)) => {
                            got.count += 1;
                            got.last = Instant::now();
                        }
                        Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(k))) => got.lagged += k,
                        _ => break,
                    }
                }
                got
            });
            let t = Instant::now();
            let payload = payload();
            for start in (0..n).step_by(sizes.pubsub_batch) {
                let p = client.pipeline();
                for _ in start..(start + sizes.pubsub_batch).min(n) {
                    let () = p.publish(CHANNEL, payload.clone()).await.map_err(err)?;
                }
                let _: Vec<fred::types::Value> = p.all().await.map_err(err)?;
            }
            let got = reader.await.map_err(err)?;
            let _ = sub.quit().await;
            pubsub_outcome(sizes, t, got)
        }
    };
    let _ = client.quit().await;
    Ok(out)
}

// ---------------------------------------------------------------- clusters
//
// The cluster workloads, on one cluster client per run shared by all its
// tasks. Before the clock starts each client reads the first WARM_UP_KEYS
// keys (spread over every primary), so it has discovered the cluster and
// connected to every node.

const WARM_UP_KEYS: usize = 64;

/// Which key task `task` reads on its `j`th GET in `cluster_conc50_get`:
/// the tasks walk the keys from different places, so every node is busy.
fn conc_key(sizes: &Sizes, task: usize, j: usize) -> usize {
    (task * sizes.conc_per_task + j) % sizes.cluster_keys
}

async fn siderpy_cluster_run(w: Workload, seeds: &str, sizes: &Sizes) -> R<Outcome> {
    use siderpy::prelude::*;
    let seeds: Vec<&str> = seeds.split(',').collect();
    let cluster = siderpy::cluster::RedisCluster::new(&seeds).map_err(err)?;
    let keys = Arc::new(cluster_keys(sizes));
    for k in keys.iter().take(WARM_UP_KEYS) {
        check_len(cluster.get(k.as_str()).await.map_err(err)?.as_deref(), 3)?;
    }
    let out = match w {
        Workload::ClusterConc50Get => {
            let t = Instant::now();
            let tasks: Vec<_> = (0..sizes.conc_tasks)
                .map(|task| {
                    let (cluster, keys, sizes) = (cluster.clone(), Arc::clone(&keys), *sizes);
                    tokio::spawn(async move {
                        for j in 0..sizes.conc_per_task {
                            let v = cluster.get(keys[conc_key(&sizes, task, j)].as_str()).await.map_err(err)?;
                            check_len(v.as_deref(), 3)?;
                        }
                        R::Ok(())
                    })
                })
                .collect();
            for task in tasks {
                task.await.map_err(err)??;
            }
            rate(sizes.conc_tasks * sizes.conc_per_task, t)
        }
        // siderpy splits a cluster pipeline per node and sends the parts at once.
        Workload::ClusterPipeSet => siderpy_pipe_set(cluster.pipe(), sizes).await?,
        _ => return Err(format!("{w:?} is not a cluster workload")),
    };
    cluster.close().await;
    Ok(out)
}

async fn redis_rs_cluster_run(w: Workload, seeds: &str, sizes: &Sizes) -> R<Outcome> {
    use redis::cluster_routing::{Route, SingleNodeRoutingInfo, SlotAddr};
    let client = redis::cluster::ClusterClient::new(seeds.split(',').collect::<Vec<_>>()).map_err(err)?;
    let mut con = client.get_async_connection().await.map_err(err)?;
    let keys = Arc::new(cluster_keys(sizes));
    for k in keys.iter().take(WARM_UP_KEYS) {
        let v: Option<Vec<u8>> = redis::cmd("GET").arg(k).query_async(&mut con).await.map_err(err)?;
        check_len(v.as_deref(), 3)?;
    }
    let out = match w {
        Workload::ClusterConc50Get => {
            let t = Instant::now();
            let tasks: Vec<_> = (0..sizes.conc_tasks)
                .map(|task| {
                    let (mut con, keys, sizes) = (con.clone(), Arc::clone(&keys), *sizes);
                    tokio::spawn(async move {
                        for j in 0..sizes.conc_per_task {
                            let v: Option<Vec<u8>> = redis::cmd("GET")
                                .arg(&keys[conc_key(&sizes, task, j)])
                                .query_async(&mut con)
                                .await
                                .map_err(err)?;
                            check_len(v.as_deref(), 3)?;
                        }
                        R::Ok(())
                    })
                })
                .collect();
            for task in tasks {
                task.await.map_err(err)??;
            }
            rate(sizes.conc_tasks * sizes.conc_per_task, t)
        }
        Workload::ClusterPipeSet => {
            // redis-rs's async cluster connection refuses a pipeline whose
            // keys span slots (CrossSlot), so each batch is split here the
            // way siderpy and fred split theirs: one pipeline per node, from
            // the slot map read once before the clock, each sent with
            // `route_pipeline` to its node, all at once.
            let (owner, nodes) = redis_rs_slot_owners(&mut con).await?;
            let t = Instant::now();
            for start in (0..sizes.pipe_set).step_by(sizes.pipe_batch) {
                // Per node: its pipeline, a slot it serves, how many commands.
                let mut parts: Vec<Option<(redis::Pipeline, u16, usize)>> = (0..nodes).map(|_| None).collect();
                for i in start..(start + sizes.pipe_batch).min(sizes.pipe_set) {
                    let key = format!("key:{i}");
                    let slot = siderpy::cluster::key_slot(key.as_bytes());
                    let part = parts[owner[usize::from(slot)]].get_or_insert_with(|| (redis::pipe(), slot, 0));
                    part.0.cmd("SET").arg(key).arg(i);
                    part.2 += 1;
                }
                let sent = parts.into_iter().flatten().map(|(p, slot, n)| {
                    let mut con = con.clone();
                    async move {
                        let route = SingleNodeRoutingInfo::SpecificNode(Route::new(slot, SlotAddr::Master));
                        let replies = con.route_pipeline(p, 0, n, route).await.map_err(err)?;
                        check_count(replies.iter().filter(|v| matches!(v, redis::Value::Okay)).count(), n)
                    }
                });
                futures::future::try_join_all(sent).await?;
            }
            rate(sizes.pipe_set, t)
        }
        _ => return Err(format!("{w:?} is not a cluster workload")),
    };
    Ok(out)
}

/// For every slot, the index of the primary serving it (from `CLUSTER
/// SLOTS`), and how many primaries there are.
async fn redis_rs_slot_owners(con: &mut redis::cluster_async::ClusterConnection) -> R<(Vec<usize>, usize)> {
    use redis::Value;
    let reply: Value = redis::cmd("CLUSTER").arg("SLOTS").query_async(con).await.map_err(err)?;
    let mut owner = vec![usize::MAX; 16384];
    let mut nodes: Vec<(Vec<u8>, i64)> = Vec::new();
    let Value::Array(ranges) = reply else { return Err(format!("CLUSTER SLOTS said {reply:?}")) };
    for range in ranges {
        let bad = || format!("bad CLUSTER SLOTS entry {range:?}");
        let Value::Array(fields) = &range else { return Err(bad()) };
        let (Some(Value::Int(from)), Some(Value::Int(to)), Some(Value::Array(primary))) =
            (fields.first(), fields.get(1), fields.get(2))
        else {
            return Err(bad());
        };
        let (Some(Value::BulkString(host)), Some(Value::Int(port))) = (primary.first(), primary.get(1)) else {
            return Err(bad());
        };
        let node = match nodes.iter().position(|n| n.0 == *host && n.1 == *port) {
            Some(n) => n,
            None => {
                nodes.push((host.clone(), *port));
                nodes.len() - 1
            }
        };
        for slot in *from..=*to {
            *owner.get_mut(slot as usize).ok_or_else(bad)? = node;
        }
    }
    if owner.contains(&usize::MAX) {
        return Err("CLUSTER SLOTS leaves slots unserved".into());
    }
    Ok((owner, nodes.len()))
}

async fn fred_cluster_run(w: Workload, seeds: &str, sizes: &Sizes) -> R<Outcome> {
    use fred::prelude::*;
    let hosts: Vec<(String, u16)> = seeds.split(',').map(crate::host_port).collect();
    let config = Config { server: ServerConfig::new_clustered(hosts), ..Default::default() };
    let client = Builder::from_config(config).build().map_err(err)?;
    client.init().await.map_err(err)?;
    let keys = Arc::new(cluster_keys(sizes));
    for k in keys.iter().take(WARM_UP_KEYS) {
        let v: Option<Bytes> = client.get(k.as_str()).await.map_err(err)?;
        check_len(v.as_deref(), 3)?;
    }
    let out = match w {
        Workload::ClusterConc50Get => {
            let t = Instant::now();
            let tasks: Vec<_> = (0..sizes.conc_tasks)
                .map(|task| {
                    let (client, keys, sizes) = (client.clone(), Arc::clone(&keys), *sizes);
                    tokio::spawn(async move {
                        for j in 0..sizes.conc_per_task {
                            let v: Option<Bytes> =
                                client.get(keys[conc_key(&sizes, task, j)].as_str()).await.map_err(err)?;
                            check_len(v.as_deref(), 3)?;
                        }
                        R::Ok(())
                    })
                })
                .collect();
            for task in tasks {
                task.await.map_err(err)??;
            }
            rate(sizes.conc_tasks * sizes.conc_per_task, t)
        }
        Workload::ClusterPipeSet => {
            // fred sends each command of a pipeline to its own node.
            let t = Instant::now();
            for start in (0..sizes.pipe_set).step_by(sizes.pipe_batch) {
                let p = client.pipeline();
                for i in start..(start + sizes.pipe_batch).min(sizes.pipe_set) {
                    let () = p.set(format!("key:{i}"), i as i64, None, None, false).await.map_err(err)?;
                }
                let _: Vec<fred::types::Value> = p.all().await.map_err(err)?;
            }
            rate(sizes.pipe_set, t)
        }
        _ => return Err(format!("{w:?} is not a cluster workload")),
    };
    let _ = client.quit().await;
    Ok(out)
}
