//! The cluster client against real local clusters that require auth (a
//! password, an ACL user) or TLS: every node, found from one seed, is
//! reached with the seed's settings, and refusals come back as the server's
//! or the TLS layer's own errors.

#![forbid(unsafe_code)]

mod support;

use std::time::Duration;

use siderpy::cluster::{key_slot, RedisCluster, RedisClusterBuilder};
use siderpy::prelude::*;
use siderpy::{Addr, Error, Protocol, Value};
use support::cluster::TestCluster;
use support::{untrusted_tls_config, with_protocol};

/// How long a refused client may take to say so: a refusal is no hang.
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(5);

/// A client knowing only the first node, at `url` (with credentials, in
/// RESP version `p`): the others are found from the topology.
fn builder(url: &str, p: Protocol) -> RedisClusterBuilder {
    RedisCluster::builder(&[with_protocol(url, p)]).expect("a valid seed URL")
}

/// Writes a key on every primary, reads it back through the client and on
/// the primary itself, checks that `DBSIZE` adds up and that a pipeline
/// across every node keeps its order.
async fn round_trip(cluster: &TestCluster, redis: &RedisCluster, tag: &str) {
    let keys = cluster.key_on_each_primary().await;
    assert_eq!(keys.len(), 3);
    redis.flushall().await.unwrap();
    for (port, key) in &keys {
        redis.set(key, format!("{tag}:{port}")).await.unwrap();
        let got: Option<String> = redis.get(key).returning().await.unwrap();
        assert_eq!(got.as_deref(), Some(format!("{tag}:{port}").as_str()), "{tag}: {key}");
        let there: Option<String> = cluster.admin(*port).get(key).returning().await.unwrap();
        assert_eq!(there, got, "{tag}: {key} is on the primary on port {port}");
    }
    assert_eq!(redis.dbsize().await.unwrap(), 3, "{tag}: DBSIZE adds up every primary's");
    let mut p = redis.pipe();
    for (_, key) in &keys {
        p.incr(format!("{{{key}}}:n")).queue().get(key).queue();
    }
    let results = p.execute().await.unwrap();
    assert_eq!(results.len(), 6);
    for (pair, (port, _)) in results.chunks(2).zip(&keys) {
        assert_eq!(pair[0].as_ref().unwrap(), &Value::Int(1), "{tag}");
        assert_eq!(pair[1].as_ref().unwrap(), &Value::Bulk(format!("{tag}:{port}").into()), "{tag}");
    }
    assert_eq!(redis.dbsize().await.unwrap(), 6);
}

/// The error of a first command, which must come back before [`REFUSAL_TIMEOUT`].
async fn refusal(redis: &RedisCluster, what: &str) -> Error {
    let attempt = redis.get("k").returning::<Option<String>>();
    match tokio::time::timeout(REFUSAL_TIMEOUT, attempt).await {
        Ok(Ok(v)) => panic!("{what}: the command ran ({v:?})"),
        Ok(Err(e)) => e,
        Err(_) => panic!("{what}: no answer in {REFUSAL_TIMEOUT:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_and_acl_user() {
    let cluster = TestCluster::builder().password("pw").acl_user("app", "secret").start(3, 1).await;
    eprintln!("3 + 3 nodes with a password healthy after {:?}", cluster.startup_time());
    let port = cluster.ports()[0];
    for p in [Protocol::Resp2, Protocol::Resp3] {
        for (creds, user) in [(":pw", "default"), ("app:secret", "app")] {
            let redis = builder(&format!("redis://{creds}@127.0.0.1:{port}"), p).build();
            round_trip(&cluster, &redis, &format!("{p:?} {user}")).await;
            // Every primary's connection logged in as the seed URL says.
            for node in redis.primaries().await.unwrap() {
                let me: String = node.execute_cmd("ACL", ["WHOAMI"]).returning().await.unwrap();
                assert_eq!(me, user);
            }
        }
        for creds in [":wrong@", "app:wrong@", "nobody:secret@"] {
            let redis = builder(&format!("redis://{creds}127.0.0.1:{port}"), p).build();
            let err = refusal(&redis, creds).await;
            assert_eq!(err.code(), Some("WRONGPASS"), "{p:?} {creds}: {err:?}");
        }
        let redis = builder(&format!("redis://127.0.0.1:{port}"), p).build();
        let err = refusal(&redis, "no password").await;
        assert_eq!(err.code(), Some("NOAUTH"), "{p:?}: {err:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_only_cluster() {
    let cluster = TestCluster::builder().tls().start(3, 1).await;
    eprintln!("3 + 3 TLS-only nodes healthy after {:?}", cluster.startup_time());
    let seed = &cluster.seed_urls()[0];
    assert!(seed.starts_with("rediss://127.0.0.1:"), "{seed}");
    for p in [Protocol::Resp2, Protocol::Resp3] {
        let redis = builder(seed, p).client(|c| c.tls(cluster.tls_client_config())).build();
        round_trip(&cluster, &redis, &format!("{p:?}")).await;
        // The nodes found from the topology are reached over TLS, on their TLS ports.
        let mut ports: Vec<u16> = (redis.primaries().await.unwrap().iter())
            .map(|node| {
                let info = node.connection_info();
                assert!(info.tls, "{info:?}");
                let Addr::Tcp { port, .. } = info.addr else { panic!("{info:?}") };
                port
            })
            .collect();
        ports.sort();
        let mut primaries = cluster.primary_ports().await;
        primaries.sort();
        assert_eq!(ports, primaries);
    }

    // A slot moves while the client knows the old layout: the MOVED names
    // the TLS port, and the client follows it over TLS.
    let redis = builder(seed, Protocol::Resp3).client(|c| c.tls(cluster.tls_client_config())).build();
    let (from, key) = cluster.key_on_each_primary().await.remove(0);
    let to = cluster.primary_ports().await.into_iter().find(|&p| p != from).unwrap();
    redis.set(&key, "before").await.unwrap();
    cluster.migrate_slot(key_slot(key.as_bytes()), to).await;
    let got: Option<String> = redis.get(&key).returning().await.unwrap();
    assert_eq!(got.as_deref(), Some("before"));
    redis.set(&key, "after").await.unwrap();
    let there: Option<String> = cluster.admin(to).get(&key).returning().await.unwrap();
    assert_eq!(there.as_deref(), Some("after"), "the write went to the new owner on port {to}");

    // A CA that signed none of the nodes' certificates.
    let redis = builder(seed, Protocol::Resp3).client(|c| c.tls(untrusted_tls_config())).build();
    let err = refusal(&redis, "untrusted CA").await;
    assert!(matches!(err, Error::Tls(_)), "{err:?}");
}
