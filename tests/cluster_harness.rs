//! The Redis Cluster test harness (`support::cluster`) against real
//! clusters, checked with the single-node client only: the cluster forms
//! with the roles asked for, keys hash as the server says, slots move with
//! their keys (with `-ASK` mid-way and `-MOVED` after), and a replica takes
//! over from a killed primary with the data written to it.

#![forbid(unsafe_code)]

mod support;

use std::collections::HashSet;
use std::time::Instant;

use bytes::Bytes;
use siderpy::cluster::key_slot;
use siderpy::prelude::*;
use siderpy::{Redis, Value};
use support::cluster::{key_for_slot, keys_for_slot, node_builder, Role, TestCluster, SLOTS};

async fn cluster_info(redis: &Redis) -> String {
    redis.execute_cmd("CLUSTER", ["INFO"]).returning().await.expect("CLUSTER INFO")
}

/// The first element of `ROLE`: `master` or `slave`.
async fn role(redis: &Redis) -> String {
    let reply: Vec<Value> = redis.execute_cmd("ROLE", ()).returning().await.expect("ROLE");
    match reply.first() {
        Some(Value::Bulk(b) | Value::Simple(b)) => String::from_utf8_lossy(b).into_owned(),
        other => panic!("ROLE replied {other:?}"),
    }
}

async fn get(redis: &Redis, key: &str) -> siderpy::Result<Option<String>> {
    redis.execute_cmd("GET", [key]).returning().await
}

#[tokio::test]
async fn three_primaries_with_a_replica_each() {
    let began = Instant::now();
    let cluster = TestCluster::start(3, 1).await;
    eprintln!("3 primaries + 3 replicas healthy after {:?} (start says {:?})", began.elapsed(), cluster.startup_time());

    assert_eq!(cluster.seed_urls().len(), 6);
    for port in cluster.ports() {
        let info = cluster_info(&cluster.admin(port)).await;
        assert!(info.contains("cluster_state:ok"), "{port}: {info}");
        assert!(info.contains("cluster_slots_assigned:16384"), "{port}: {info}");
        assert!(info.contains("cluster_known_nodes:6"), "{port}: {info}");
        let myid: String = cluster.admin(port).execute_cmd("CLUSTER", ["MYID"]).returning().await.unwrap();
        assert_eq!(myid, cluster.node_id(port));
    }

    let nodes = cluster.nodes().await;
    let primaries: Vec<_> = nodes.iter().filter(|n| n.role == Role::Primary).collect();
    let replicas: Vec<_> = nodes.iter().filter(|n| n.role == Role::Replica).collect();
    assert_eq!((primaries.len(), replicas.len()), (3, 3), "{nodes:#?}");
    assert!(nodes.iter().all(|n| n.running && n.flags.iter().any(|f| f == "myself")), "{nodes:#?}");

    // Each primary has exactly one replica, and ROLE agrees with CLUSTER NODES.
    for p in &primaries {
        let mine = cluster.replicas_of(p.port).await;
        assert_eq!(mine.len(), 1, "replicas of {}: {mine:?}", p.port);
        assert_eq!(role(&cluster.admin(p.port)).await, "master");
    }
    for r in &replicas {
        let primary = cluster.port_of(r.primary_id.as_deref().expect("a replica has a primary"));
        assert!(primaries.iter().any(|p| p.port == primary), "{r:?}");
        assert_eq!(role(&cluster.admin(r.port)).await, "slave");
        assert!(r.slots.is_empty(), "{r:?}");
    }

    // The primaries' slots cover 0..16384 exactly once.
    let mut covered = vec![0u8; SLOTS as usize];
    for p in &primaries {
        assert!(!p.slots.is_empty(), "{p:?}");
        for range in &p.slots {
            for slot in range.clone() {
                covered[slot as usize] += 1;
            }
        }
    }
    assert!(covered.iter().all(|&c| c == 1), "every slot served once");
    for slot in [0, 5000, 5461, 10922, 16383] {
        let owner = cluster.primary_for_slot(slot).await;
        assert!(primaries.iter().any(|p| p.port == owner && p.owns(slot)));
    }

    // A key written on the owner of its slot is there, and elsewhere MOVED.
    for (port, key) in cluster.key_on_each_primary().await {
        let redis = cluster.admin(port);
        redis.execute_cmd("SET", (&key, "v")).await.unwrap();
        assert_eq!(get(&redis, &key).await.unwrap().as_deref(), Some("v"));
        let other = cluster.primary_ports().await.into_iter().find(|&p| p != port).unwrap();
        let err = get(&cluster.admin(other), &key).await.expect_err("MOVED");
        assert_eq!(err.code(), Some("MOVED"), "{err}");
    }
}

#[tokio::test]
async fn key_for_slot_agrees_with_cluster_keyslot() {
    // Any cluster-enabled node answers CLUSTER KEYSLOT, no cluster needed.
    let server = node_builder().start();
    let redis = server.admin();
    let keyslot = |key: String| {
        let redis = redis.clone();
        async move { redis.execute_cmd("CLUSTER", ["KEYSLOT", &key]).returning::<u16>().await.unwrap() }
    };
    for slot in [0, 1, 42, 866, 5460, 5461, 8192, 12182, 16383] {
        let key = key_for_slot(slot);
        assert_eq!(key_slot(key.as_bytes()), slot);
        assert_eq!(keyslot(key).await, slot);
        let keys = keys_for_slot(slot, 3);
        assert_eq!(keys.iter().collect::<HashSet<_>>().len(), 3, "{keys:?}");
        for key in keys {
            assert_eq!(keyslot(key).await, slot);
        }
    }
    // Hash tags: the first {...} that is not empty, and nothing else.
    for key in [
        "foo",
        "{user1000}.following",
        "{user1000}.followers",
        "foo{}{bar}",
        "foo{{bar}}zap",
        "foo{bar}{zap}",
        "{",
        "}{",
        "a{b",
        "",
        "\u{e9}t\u{e9}",
    ] {
        assert_eq!(key_slot(key.as_bytes()), keyslot(key.to_owned()).await, "{key:?}");
    }
    assert_eq!(key_slot(b"123456789"), 12739); // CRC16-XMODEM check value 0x31C3 % 16384
    assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
}

#[tokio::test]
async fn migrate_slot_moves_the_keys_with_ask_on_the_way() {
    let cluster = TestCluster::start(3, 0).await;
    let slot = 1234;
    let from = cluster.primary_for_slot(slot).await;
    let to = cluster.primary_ports().await.into_iter().find(|&p| p != from).unwrap();
    let keys = keys_for_slot(slot, 50);
    let source = cluster.admin(from);
    for (i, key) in keys.iter().enumerate() {
        source.execute_cmd("SET", (key, i)).await.unwrap();
    }

    // Half-way: moved keys are ASKed for, the others still served.
    let migration = cluster.begin_migration(slot, to).await;
    assert_eq!(cluster.migrate_keys_batch(&migration, 25).await, 25);
    let left: Vec<Bytes> = source.execute_cmd("CLUSTER", ("GETKEYSINSLOT", slot, 100)).returning().await.unwrap();
    assert_eq!(left.len(), 25);
    let (still_here, moved): (Vec<&String>, Vec<&String>) =
        keys.iter().partition(|k| left.iter().any(|l| l.as_ref() == k.as_bytes()));
    let err = get(&source, moved[0]).await.expect_err("ASK");
    assert_eq!(err.code(), Some("ASK"), "{err}");
    assert!(err.to_string().contains(&format!("{slot} 127.0.0.1:{to}")), "{err}");
    assert!(get(&source, still_here[0]).await.unwrap().is_some());
    let target = cluster.admin(to);
    let err = get(&target, moved[0]).await.expect_err("MOVED without ASKING");
    assert_eq!(err.code(), Some("MOVED"), "{err}");
    assert!(err.to_string().contains(&format!("{slot} 127.0.0.1:{from}")), "{err}");
    let mut pipe = target.pipe();
    pipe.execute_cmd("ASKING", ()).queue().execute_cmd("GET", [moved[0]]).queue();
    let ((), value): ((), Option<String>) = pipe.query().await.unwrap();
    assert_eq!(value, Some(keys.iter().position(|k| k == moved[0]).unwrap().to_string()));
    assert_eq!(cluster.primary_for_slot(slot).await, from, "the source serves the slot until the end");

    while cluster.migrate_keys_batch(&migration, 10).await > 0 {}
    cluster.finish_migration(migration).await;
    assert_eq!(cluster.primary_for_slot(slot).await, to);

    for (i, key) in keys.iter().enumerate() {
        assert_eq!(get(&target, key).await.unwrap(), Some(i.to_string()), "{key}");
        let err = get(&source, key).await.expect_err("MOVED");
        assert_eq!(err.code(), Some("MOVED"), "{err}");
        assert!(err.to_string().contains(&format!("{slot} 127.0.0.1:{to}")), "{err}");
    }
    // Every node, the third primary too, sends clients to the new owner.
    for port in cluster.ports().into_iter().filter(|&p| p != to) {
        let err = get(&cluster.admin(port), &keys[0]).await.expect_err("MOVED");
        assert!(err.to_string().contains(&format!("{slot} 127.0.0.1:{to}")), "{port}: {err}");
    }

    // And back in one call, keys and all.
    cluster.migrate_slot(slot, from).await;
    assert_eq!(get(&source, &keys[7]).await.unwrap().as_deref(), Some("7"));
}

#[tokio::test]
async fn a_replica_takes_over_a_killed_primary_with_its_data() {
    let mut cluster = TestCluster::start(3, 1).await;
    let slot = 9000;
    let old = cluster.primary_for_slot(slot).await;
    let replica = cluster.replicas_of(old).await;
    assert_eq!(replica.len(), 1);
    let primary = cluster.admin(old);
    let keys = keys_for_slot(slot, 20);
    for key in &keys {
        primary.execute_cmd("SET", (key, key)).await.unwrap();
    }
    let acked: i64 = primary.execute_cmd("WAIT", (1, 5000)).returning().await.unwrap();
    assert_eq!(acked, 1, "the replica has every write");

    let began = Instant::now();
    cluster.kill_primary(old).await;
    let new = cluster.wait_for_failover(old).await;
    eprintln!("failover took {:?}", began.elapsed());
    assert_eq!(new, replica[0]);

    let nodes = cluster.nodes().await;
    let old_node = nodes.iter().find(|n| n.port == old).unwrap();
    assert!(!old_node.running && old_node.flags.iter().any(|f| f == "fail"), "{old_node:?}");
    assert!(old_node.slots.is_empty(), "{old_node:?}");
    assert_eq!(nodes.iter().filter(|n| n.running && n.role == Role::Primary).count(), 3);
    assert_eq!(cluster.primary_for_slot(slot).await, new);
    assert!(!cluster.seed_urls().contains(&format!("redis://127.0.0.1:{old}")));
    for port in cluster.ports().into_iter().filter(|&p| p != old) {
        let info = cluster_info(&cluster.admin(port)).await;
        assert!(info.contains("cluster_state:ok"), "{port}: {info}");
    }
    let promoted = cluster.admin(new);
    for key in &keys {
        assert_eq!(get(&promoted, key).await.unwrap().as_deref(), Some(key.as_str()));
    }

    // The old primary comes back (empty, with its nodes.conf) as a replica
    // of the new one; a manual failover hands the slots back to it.
    cluster.node_mut(old).restart().await;
    cluster.wait_until_healthy("the old primary to rejoin").await;
    assert_eq!(cluster.replicas_of(new).await, vec![old]);
    assert_eq!(cluster.manual_failover(old).await, new);
    assert_eq!(cluster.primary_for_slot(slot).await, old);
    assert_eq!(get(&cluster.admin(old), &keys[0]).await.unwrap().as_deref(), Some(keys[0].as_str()));
}
