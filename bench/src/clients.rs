//! Each workload, written once per client the way its users would write it.
//!
//! Connecting happens before the clock starts; every reply is checked (its
//! length or count), so no client wins by skipping work.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;

use crate::{mget_keys, Client, Outcome, Sizes, Workload, BIG_KEY, CHANNEL, SMALL_KEY};

type R<T> = Result<T, String>;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// How long a subscriber waits for the next message before counting the
/// rest as lost.
const PUBSUB_IDLE: Duration = Duration::from_secs(3);

fn payload() -> Bytes {
    Bytes::from_static(b"0123456789abcdef") // 16 bytes
}

pub async fn run(client: Client, w: Workload, url: &str, sizes: &Sizes, fred_capacity: Option<usize>) -> R<Outcome> {
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
    let redis = siderpy::Redis::new(url).map_err(err)?;
    redis.execute_cmd("PING", ()).await.map_err(err)?;
    let out = match w {
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
        Workload::PipeSet => {
            let t = Instant::now();
            let mut p = redis.pipe();
            for start in (0..sizes.pipe_set).step_by(sizes.pipe_batch) {
                for i in start..(start + sizes.pipe_batch).min(sizes.pipe_set) {
                    p.set(format!("key:{i}"), i).queue();
                }
                for r in p.execute().await.map_err(err)? {
                    r.map_err(err)?;
                }
            }
            rate(sizes.pipe_set, t)
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
    let client = redis::Client::open(url).map_err(err)?;
    let mut con = client.get_multiplexed_async_connection().await.map_err(err)?;
    redis::cmd("PING").query_async::<()>(&mut con).await.map_err(err)?;
    let out = match w {
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
