//! A cluster-wide SCAN on a real local cluster, with a slot moving in the
//! middle of the walk.

mod support;

use std::collections::{HashMap, HashSet};

use siderpy::cluster::{key_slot, RedisCluster};
use siderpy::prelude::*;
use siderpy::Protocol;
use support::cluster::{keys_for_slot, TestCluster};
use support::with_protocol;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_scan_returns_every_key_though_a_slot_moves_mid_walk() {
    let cluster = TestCluster::start(3, 0).await;
    let seeds: Vec<String> = cluster.seed_urls().iter().map(|u| with_protocol(u, Protocol::Resp3)).collect();
    let redis = RedisCluster::new(&seeds).unwrap();

    // The client walks the primaries in address order: first, middle, last.
    let mut ports = cluster.primary_ports().await;
    ports.sort();
    let (first, middle, last) = (ports[0], ports[1], ports[2]);
    let primaries = cluster.primaries().await;
    let owner: HashMap<u16, u16> = (0..siderpy::cluster::SLOTS)
        .map(|slot| (slot, primaries.iter().find(|n| n.owns(slot)).expect("every slot served").port))
        .collect();
    // A slot of the last node, full of keys, will move to the first one
    // after the first is walked and before the last is: a walk that trusts
    // each node once would miss all of them.
    let moving = (0..siderpy::cluster::SLOTS).find(|s| owner[s] == last).unwrap();
    let mut all: HashSet<String> = (0..3_000).map(|i| format!("k:{i}")).collect();
    all.extend(keys_for_slot(moving, 300));
    let mut pipe = redis.pipe();
    for key in &all {
        pipe.set(key, 1).queue();
    }
    pipe.execute().await.unwrap();

    let mut seen = HashSet::new();
    let mut moved = false;
    let mut keys = redis.scan_iter().count(50).returning::<String>();
    while let Some(key) = keys.next().await {
        let key = key.unwrap();
        if !moved && owner[&key_slot(key.as_bytes())] == middle {
            cluster.migrate_slot(moving, first).await;
            moved = true;
        }
        seen.insert(key);
    }
    assert!(moved, "the walk reached the middle node");
    let missing: Vec<&String> = all.difference(&seen).collect();
    assert!(missing.is_empty(), "{} keys never returned, e.g. {:?}", missing.len(), missing.first());
    assert_eq!(seen.len(), all.len(), "no key that was never written");

    // Options reach every node.
    let mut typed = redis.scan_iter().match_("k:1*").type_("string").returning::<String>();
    let mut n = 0;
    while let Some(key) = typed.next().await {
        assert!(key.unwrap().starts_with("k:1"));
        n += 1;
    }
    assert!(n >= 1_111, "{n}");
}
