//! The cluster client against a real local cluster: 3 primaries and 3
//! replicas started by the harness for each test.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use siderpy::cluster::{key_slot, RedisCluster};
use siderpy::prelude::*;
use siderpy::{Error, Protocol, Value};
use support::cluster::{keys_for_slot, TestCluster};
use support::with_protocol;

fn client(cluster: &TestCluster, p: Protocol) -> RedisCluster {
    let seeds: Vec<String> = cluster.seed_urls().iter().map(|u| with_protocol(u, p)).collect();
    RedisCluster::new(&seeds).expect("valid seed URLs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_keys_spread_over_every_primary() {
    for p in [Protocol::Resp2, Protocol::Resp3] {
        let cluster = TestCluster::start(3, 1).await;
        let redis = client(&cluster, p);
        let tasks: Vec<_> = (0..20)
            .map(|t| {
                let redis = redis.clone();
                tokio::spawn(async move {
                    for i in (t..10_000).step_by(20) {
                        redis.set(format!("key:{i}"), i).await.unwrap();
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        for i in (0..10_000).step_by(7) {
            let v: Option<i64> = redis.get(format!("key:{i}")).returning().await.unwrap();
            assert_eq!(v, Some(i));
        }
        // Each primary holds its share, and DBSIZE adds them up.
        let mut total = 0;
        for port in cluster.primary_ports().await {
            let n: i64 = cluster.admin(port).execute_cmd("DBSIZE", ()).returning().await.unwrap();
            assert!(n > 2_000, "primary {port} holds only {n} keys");
            total += n;
        }
        assert_eq!(total, 10_000);
        assert_eq!(redis.dbsize().await.unwrap(), 10_000);
        let keys: Vec<String> = redis.keys("key:1*").returning().await.unwrap();
        assert_eq!(keys.len(), 1_111, "KEYS gathers every primary's");
    }
}

#[tokio::test]
async fn cross_slot_commands_fail_before_sending() {
    let cluster = TestCluster::start(3, 1).await;
    let redis = client(&cluster, Protocol::Resp3);
    assert_ne!(key_slot(b"a"), key_slot(b"b"));
    let err = redis.mget(["a", "b"]).await.unwrap_err();
    let Error::CrossSlot { command, slots } = &err else { panic!("expected CrossSlot, got {err:?}") };
    assert_eq!((command.as_str(), *slots), ("MGET", (key_slot(b"a"), key_slot(b"b"))));
    assert!(err.to_string().starts_with("CROSSSLOT"), "{err}");
    // Nothing reached a node.
    assert!(matches!(redis.execute_cmd("RENAME", ("a", "b")).await, Err(Error::CrossSlot { .. })));
    // Keys under one hash tag are served together.
    redis.mset([("{user}.a", "1"), ("{user}.b", "2")]).await.unwrap();
    let both: Vec<Option<String>> = redis.mget(["{user}.a", "{user}.b"]).returning().await.unwrap();
    assert_eq!(both, [Some("1".into()), Some("2".into())]);
    // A transaction across slots is refused too, before sending.
    let mut tx = redis.transaction();
    tx.set("a", 1).queue().set("b", 2).queue();
    assert!(matches!(tx.execute().await, Err(Error::CrossSlot { .. })));
    assert_eq!(redis.exists(["a"]).await.unwrap(), 0);
}

#[tokio::test]
async fn multi_key_commands_split_per_slot_when_asked() {
    let cluster = TestCluster::start(3, 1).await;
    let seeds = cluster.seed_urls();
    let redis = RedisCluster::builder(&seeds).unwrap().split_multi_key_commands(true).build();
    let keys: Vec<String> = (0..50).map(|i| format!("k{i}")).collect();
    let pairs: Vec<(String, String)> = keys.iter().map(|k| (k.clone(), format!("v-{k}"))).collect();
    redis.mset(pairs).await.unwrap();
    let values: Vec<Option<String>> = redis.mget(&keys).returning().await.unwrap();
    let expected: Vec<Option<String>> = keys.iter().map(|k| Some(format!("v-{k}"))).collect();
    assert_eq!(values, expected, "MGET values come back in the order asked");
    assert_eq!(redis.exists(&keys).await.unwrap(), 50);
    assert_eq!(redis.delete(&keys[..20]).await.unwrap(), 20);
    assert_eq!(redis.unlink(&keys).await.unwrap(), 30);
    assert_eq!(redis.dbsize().await.unwrap(), 0);
}

#[tokio::test]
async fn a_ten_thousand_command_pipeline_across_every_node_keeps_its_order() {
    let cluster = TestCluster::start(3, 1).await;
    let redis = client(&cluster, Protocol::Resp2);
    let mut p = redis.pipe();
    for i in 0..5_000 {
        p.set(format!("p:{i}"), i).queue().incr(format!("p:{i}")).queue();
    }
    let results = p.execute().await.unwrap();
    assert_eq!(results.len(), 10_000);
    for (i, pair) in results.chunks(2).enumerate() {
        assert_eq!(pair[0].as_ref().unwrap(), &Value::Simple("OK".into()));
        assert_eq!(pair[1].as_ref().unwrap(), &Value::Int(i as i64 + 1));
    }
    // Typed, and with an error reply in the middle.
    let mut p = redis.pipe();
    p.get("p:1").queue().hset("p:2", [("f", "v")]).queue().get("p:4999").queue();
    let results = p.execute().await.unwrap();
    assert_eq!(results[0].as_ref().unwrap(), &Value::Bulk("2".into()));
    assert_eq!(results[1].as_ref().unwrap_err().code(), Some("WRONGTYPE"));
    assert_eq!(results[2].as_ref().unwrap(), &Value::Bulk("5000".into()));
    // A transaction within one slot runs on its node.
    let mut tx = redis.transaction();
    tx.set("{t}1", "a").queue().append("{t}1", "b").queue().get("{t}1").queue();
    let (_, len, v): ((), i64, String) = tx.query().await.unwrap();
    assert_eq!((len, v.as_str()), (2, "ab"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slot_migrating_under_load_is_followed_through_ask_and_moved() {
    let cluster = TestCluster::start(3, 1).await;
    let redis = client(&cluster, Protocol::Resp3);
    let slot = key_slot(b"migrating");
    let keys = keys_for_slot(slot, 40);
    for k in &keys {
        redis.set(k, 0).await.unwrap();
    }
    let from = cluster.primary_for_slot(slot).await;
    let to = cluster.primary_ports().await.into_iter().find(|&p| p != from).unwrap();

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let increments = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..20)
        .map(|t| {
            let (redis, keys, stop, increments) = (redis.clone(), keys.clone(), stop.clone(), increments.clone());
            tokio::spawn(async move {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let key = &keys[(t * 7 + i) % keys.len()];
                    redis.incr(key).await.unwrap_or_else(|e| panic!("INCR {key} failed: {e}"));
                    increments.fetch_add(1, Ordering::Relaxed);
                    let _: i64 = redis.get(key).returning().await.unwrap_or_else(|e| panic!("GET {key} failed: {e}"));
                    // A fresh key in the slot: on the target once migration began (ASK).
                    let fresh = format!("{key}:{t}:{i}");
                    redis.set(&fresh, i).await.unwrap_or_else(|e| panic!("SET {fresh} failed: {e}"));
                    redis.delete([&fresh]).await.unwrap_or_else(|e| panic!("DEL {fresh} failed: {e}"));
                    // Two keys of the slot: while one has moved and the
                    // other not, the source answers TRYAGAIN.
                    let pair = [key, &keys[(t * 7 + i + 1) % keys.len()]];
                    let both: Vec<Option<i64>> =
                        redis.mget(pair).returning().await.unwrap_or_else(|e| panic!("MGET {pair:?} failed: {e}"));
                    assert!(both.iter().all(Option::is_some), "MGET {pair:?} lost a key: {both:?}");
                    i += 1;
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let migration = cluster.begin_migration(slot, to).await;
    while cluster.migrate_keys_batch(&migration, 5).await > 0 {
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    cluster.finish_migration(migration).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.expect("every call succeeded through the migration");
    }
    assert_eq!(cluster.primary_for_slot(slot).await, to);
    // The calls went through both redirections, not around them.
    let stats: String = cluster.admin(to).execute_cmd("INFO", ["commandstats"]).returning().await.unwrap();
    assert!(stats.contains("cmdstat_asking:calls="), "no ASK was followed: {stats}");
    let errors: String = cluster.admin(from).execute_cmd("INFO", ["errorstats"]).returning().await.unwrap();
    assert!(errors.contains("errorstat_TRYAGAIN"), "no TRYAGAIN was met: {errors}");
    let mut total = 0;
    for k in &keys {
        total += redis.get(k).returning::<i64>().await.unwrap() as usize;
    }
    assert_eq!(total, increments.load(Ordering::Relaxed), "every INCR counted once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_primary_is_replaced_without_manual_action() {
    let mut cluster = TestCluster::start(3, 1).await;
    let redis = client(&cluster, Protocol::Resp2);
    let (victim, key) = cluster.key_on_each_primary().await.swap_remove(0);
    redis.set(&key, "before").await.unwrap();
    let _: i64 = cluster.admin(victim).execute_cmd("WAIT", (1, 0)).returning().await.unwrap();

    // Tasks that each check every reply is their own.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = (0..10)
        .map(|t| {
            let (redis, stop, key) = (redis.clone(), stop.clone(), key.clone());
            tokio::spawn(async move {
                let (mut failures, mut last_failure) = (0, None::<Instant>);
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let mine = format!("{{{key}}}:{t}");
                    let result = async {
                        redis.set(&mine, i).await?;
                        redis.get(&mine).returning::<Option<u64>>().await
                    }
                    .await;
                    match result {
                        Ok(v) => assert_eq!(v, Some(i), "task {t} got another caller's reply"),
                        Err(_) => {
                            failures += 1;
                            last_failure = Some(Instant::now());
                        }
                    }
                    i += 1;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                (failures, last_failure)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let killed_at = Instant::now();
    cluster.kill_primary(victim).await;
    let promoted = cluster.wait_for_failover(victim).await;
    let healed_at = Instant::now();
    // Calls succeed again with no action from us.
    let v: Option<String> = redis.get(&key).returning().await.unwrap();
    assert_eq!(v.as_deref(), Some("before"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let (failures, last_failure) = w.await.unwrap();
        if let Some(at) = last_failure {
            assert!(at > killed_at, "a failure before the kill");
            assert!(at < healed_at + Duration::from_secs(1), "a call failed {:?} after the failover", at - healed_at);
        }
        eprintln!("failures during the failover window: {failures}");
    }
    assert_ne!(promoted, victim);
    assert_eq!(redis.dbsize().await.unwrap(), 11);
}

#[tokio::test]
async fn shard_channels_reach_their_subscriber_and_follow_a_moved_slot() {
    let cluster = TestCluster::start(3, 1).await;
    let redis = client(&cluster, Protocol::Resp3);
    let subscriber = redis.pubsub();
    let channels = ["orders:{eu}", "orders:{us}", "orders:{asia}"];
    subscriber.ssubscribe(channels).await.unwrap();
    for ch in channels {
        assert_eq!(redis.spublish(ch, format!("hello {ch}")).await.unwrap(), 1);
    }
    let mut got = Vec::new();
    for _ in channels {
        let m = tokio::time::timeout(Duration::from_secs(5), subscriber.recv()).await.unwrap().unwrap();
        got.push((String::from_utf8(m.channel.to_vec()).unwrap(), String::from_utf8(m.payload.to_vec()).unwrap()));
    }
    got.sort();
    let mut expected: Vec<_> = channels.iter().map(|c| (c.to_string(), format!("hello {c}"))).collect();
    expected.sort();
    assert_eq!(got, expected);

    // Ordinary channels and patterns hear what is published on any node.
    subscriber.subscribe(["news"]).await.unwrap();
    subscriber.psubscribe(["alerts:*"]).await.unwrap();
    for port in cluster.primary_ports().await {
        let admin = cluster.admin(port);
        let _: i64 = admin.execute_cmd("PUBLISH", ("news", format!("from {port}"))).returning().await.unwrap();
        let m = tokio::time::timeout(Duration::from_secs(5), subscriber.recv()).await.unwrap().unwrap();
        assert_eq!((&m.channel[..], m.payload), (&b"news"[..], format!("from {port}").into()));
    }
    redis.publish("alerts:disk", "full").await.unwrap();
    let m = tokio::time::timeout(Duration::from_secs(5), subscriber.recv()).await.unwrap().unwrap();
    assert_eq!((m.pattern.as_deref(), &m.payload[..]), (Some(&b"alerts:*"[..]), &b"full"[..]));
    subscriber.unsubscribe(["news"]).await.unwrap();
    subscriber.punsubscribe(["alerts:*"]).await.unwrap();

    // Move one channel's slot: the subscription follows it.
    let slot = key_slot(b"orders:{eu}");
    let from = cluster.primary_for_slot(slot).await;
    let to = cluster.primary_ports().await.into_iter().find(|&p| p != from).unwrap();
    cluster.migrate_slot(slot, to).await;
    let mut delivered = 0;
    for _ in 0..100 {
        delivered = redis.spublish("orders:{eu}", "after the move").await.unwrap();
        if delivered == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(delivered, 1, "the subscriber re-subscribed on the slot's new node");
    let m = tokio::time::timeout(Duration::from_secs(5), subscriber.recv()).await.unwrap().unwrap();
    assert_eq!(&m.payload[..], b"after the move");
}

#[tokio::test]
async fn reads_from_replicas_when_asked() {
    let cluster = TestCluster::start(3, 1).await;
    let seeds = cluster.seed_urls();
    let redis = RedisCluster::builder(&seeds).unwrap().read_from_replicas(true).build();
    let (port, key) = cluster.key_on_each_primary().await.swap_remove(0);
    redis.set(&key, "v").await.unwrap();
    let _: i64 = cluster.admin(port).execute_cmd("WAIT", (1, 0)).returning().await.unwrap();
    for _ in 0..20 {
        let v: Option<String> = redis.get(&key).returning().await.unwrap();
        assert_eq!(v.as_deref(), Some("v"));
    }
    let replica = cluster.replicas_of(port).await[0];
    let stats: String = cluster.admin(replica).execute_cmd("INFO", ["commandstats"]).returning().await.unwrap();
    assert!(stats.contains("cmdstat_get:calls="), "the replica served GETs: {stats}");
    assert!(stats.contains("cmdstat_readonly:calls="), "READONLY was sent: {stats}");
}

#[tokio::test]
async fn bad_seeds_fail_clearly() {
    assert!(matches!(RedisCluster::new::<&str>(&[]), Err(Error::Usage(_))));
    assert!(matches!(RedisCluster::new(&["redis+unix:///tmp/x.sock"]), Err(Error::Usage(_))));
    assert!(matches!(RedisCluster::new(&["redis://h:1/3"]), Err(Error::Usage(_))));
    assert!(matches!(RedisCluster::new(&["nope://h"]), Err(Error::Url(_))));
    // No node answers: the discovery error, not a hang.
    let port = support::free_port();
    let redis = RedisCluster::builder(&[format!("redis://127.0.0.1:{port}")])
        .unwrap()
        .client(|c| c.connect_timeout(Duration::from_secs(1)))
        .build();
    assert!(matches!(redis.get("k").await, Err(Error::Io(_))));
    // A seed that accepts and never answers: discovery gives up in time.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let seed = format!("redis://{}", silent.local_addr().unwrap());
    let redis =
        RedisCluster::builder(&[seed]).unwrap().client(|c| c.connect_timeout(Duration::from_millis(300))).build();
    let started = Instant::now();
    let err = redis.get("k").await.unwrap_err();
    assert!(matches!(err, Error::Timeout(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_follows_its_shard_channels_through_a_failover() {
    let mut cluster = TestCluster::start(3, 1).await;
    let redis = client(&cluster, Protocol::Resp3);
    let (victim, key) = cluster.key_on_each_primary().await.swap_remove(0);
    let channel = format!("events:{{{key}}}");
    let subscriber = redis.pubsub();
    subscriber.ssubscribe([&channel]).await.unwrap();
    subscriber.subscribe(["news"]).await.unwrap();
    assert_eq!(redis.spublish(&channel, "before").await.unwrap(), 1);
    let m = tokio::time::timeout(Duration::from_secs(5), subscriber.recv()).await.unwrap().unwrap();
    assert_eq!(&m.payload[..], b"before");

    cluster.kill_primary(victim).await;
    let promoted = cluster.wait_for_failover(victim).await;
    assert_eq!(cluster.primary_for_slot(key_slot(key.as_bytes())).await, promoted);
    // Once the subscriber is back on the promoted node, SPUBLISH reaches it.
    let deadline = Instant::now() + Duration::from_secs(15);
    while redis.spublish(&channel, "after").await.unwrap_or(0) != 1 {
        assert!(Instant::now() < deadline, "the subscriber never came back to the channel's new primary");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let m = tokio::time::timeout(Duration::from_secs(5), subscriber.recv()).await.unwrap().unwrap();
    assert_eq!((&m.channel[..], &m.payload[..]), (channel.as_bytes(), &b"after"[..]));
    // The ordinary channel still delivers, wherever it was held.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        redis.publish("news", "still here").await.unwrap();
        match tokio::time::timeout(Duration::from_millis(200), subscriber.recv()).await {
            Ok(Ok(m)) if &m.channel[..] == b"news" => break,
            Ok(Ok(_)) => {}
            Ok(Err(e)) => panic!("the queue closed: {e}"),
            Err(_) => assert!(Instant::now() < deadline, "no message on the ordinary channel after the failover"),
        }
    }
}
