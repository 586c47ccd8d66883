//! Scripts and function libraries against real servers: sent by digest,
//! loaded when the server lacks them, on a client, a pool, a pipeline and a
//! cluster whose nodes each have their own script cache.

#[macro_use]
mod support;

use siderpy::cluster::RedisCluster;
use siderpy::prelude::*;
use siderpy::{Error, Library, Protocol, RedisPool, Script, Value};
use support::cluster::{keys_for_slot, TestCluster};
use support::{client, with_protocol, RedisServer};

protocol_tests!(
    script_is_loaded_when_missing_and_sent_by_digest,
    script_errors_and_conversion_failures_reach_the_caller,
    function_library_is_loaded_when_missing,
    pipelines_and_transactions_load_their_scripts_first,
    pipelines_and_transactions_load_their_function_libraries_first,
);

const BUMP: &str = "#!lua name=counters\n\
    redis.register_function('bump', function(keys, args) return redis.call('INCRBY', keys[1], args[1]) end)";

const ADD: &str = "return redis.call('INCRBY', KEYS[1], ARGV[1])";

async fn script_exists(redis: &siderpy::Redis, script: &Script) -> bool {
    let found: Vec<bool> = redis.execute_cmd("SCRIPT", ("EXISTS", script.sha1())).returning().await.unwrap();
    found == [true]
}

/// How many times the server ran `command` (from `INFO commandstats`).
async fn calls(redis: &siderpy::Redis, command: &str) -> i64 {
    let info: String = redis.execute_cmd("INFO", ["commandstats"]).returning().await.unwrap();
    let prefix = format!("cmdstat_{command}:calls=");
    info.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map_or(0, |rest| rest.split(',').next().unwrap().parse().unwrap())
}

async fn script_is_loaded_when_missing_and_sent_by_digest(p: Protocol) {
    let server = RedisServer::start();
    let redis = client(&server, p);
    let add = Script::new(ADD);
    // The digest is Redis's own.
    let sha: String = redis.execute_cmd("SCRIPT", ("LOAD", ADD)).returning().await.unwrap();
    assert_eq!(add.sha1(), sha);
    redis.execute_cmd("SCRIPT", ["FLUSH"]).await.unwrap();
    assert!(!script_exists(&redis, &add).await);

    let n: i64 = add.key("counter").arg(5).invoke(&redis).await.unwrap();
    assert_eq!(n, 5);
    assert!(script_exists(&redis, &add).await);
    let n: i64 = add.keys(["counter"]).args([2]).invoke(&redis).await.unwrap();
    assert_eq!(n, 7);
    // Loaded once: the second call went by digest alone.
    assert_eq!(calls(&redis, "script|load").await, 2, "one SCRIPT LOAD by the test, one by the first invoke");
    assert_eq!(calls(&redis, "eval").await, 0);

    // Through a pool, and in a pipeline once loaded.
    let pool = RedisPool::builder(&with_protocol(&server.url(), p)).unwrap().size(2).build();
    redis.execute_cmd("SCRIPT", ["FLUSH"]).await.unwrap();
    let n: i64 = add.key("counter").arg(1).invoke(&pool).await.unwrap();
    assert_eq!(n, 8);
    let mut pipe = redis.pipe();
    add.key("counter").arg(10).queue(&mut pipe);
    add.key("other").arg(1).queue(&mut pipe);
    let (a, b): (i64, i64) = pipe.query().await.unwrap();
    assert_eq!((a, b), (18, 1));
    redis.execute_cmd("SCRIPT", ["FLUSH"]).await.unwrap();
    add.load(&redis).await.unwrap();
    assert!(script_exists(&redis, &add).await);
}

async fn script_errors_and_conversion_failures_reach_the_caller(p: Protocol) {
    let server = RedisServer::start();
    let redis = client(&server, p);
    let fails = Script::new("return redis.error_reply('MYERR no luck')");
    let err = fails.invoke::<_, Value>(&redis).await.unwrap_err();
    assert_eq!(err.code(), Some("MYERR"), "{err:?}");
    // A script that does not compile is the server's error, not a retry loop.
    let broken = Script::new("return (");
    let err = broken.invoke::<_, Value>(&redis).await.unwrap_err();
    assert!(matches!(err, Error::Redis(_)), "{err:?}");
    let text = Script::new("return 'not a number'");
    let err = text.invoke::<_, i64>(&redis).await.unwrap_err();
    assert!(matches!(err, Error::Type(_)), "{err:?}");
}

async fn pipelines_and_transactions_load_their_scripts_first(p: Protocol) {
    let server = RedisServer::start();
    let redis = client(&server, p);
    let add = Script::new(ADD);
    let echo = Script::new("return ARGV[1]");
    // Never loaded on this server: the pipeline loads both, each once, and
    // its replies are one per queued command, in order.
    let mut pipe = redis.pipe();
    pipe.set("plain", "v").queue();
    add.key("counter").arg(5).queue(&mut pipe);
    echo.arg("hello").queue(&mut pipe);
    add.key("counter").arg(1).queue(&mut pipe);
    let replies = pipe.execute().await.unwrap();
    assert_eq!(replies.len(), 4);
    let replies = Value::Array(replies.into_iter().map(Result::unwrap).collect());
    let (set, a, e, b): (bool, i64, String, i64) = siderpy::FromValue::from_value(replies).unwrap();
    assert_eq!((set, a, e.as_str(), b), (true, 5, "hello", 6));
    assert!(script_exists(&redis, &add).await && script_exists(&redis, &echo).await);
    assert_eq!(calls(&redis, "script|load").await, 2, "each script loaded once");

    // Already loaded: asked about, not loaded again.
    let mut pipe = redis.pipe();
    add.key("counter").arg(1).queue(&mut pipe);
    let (n,): (i64,) = pipe.query().await.unwrap();
    assert_eq!(n, 7);
    assert_eq!(calls(&redis, "script|load").await, 2);

    // After SCRIPT FLUSH, in a transaction: EXEC's results only.
    redis.execute_cmd("SCRIPT", ["FLUSH"]).await.unwrap();
    let mut tx = redis.transaction();
    add.key("counter").arg(10).queue(&mut tx);
    tx.get("counter").queue();
    let (n, got): (i64, i64) = tx.query().await.unwrap();
    assert_eq!((n, got), (17, 17));
    assert!(script_exists(&redis, &add).await);

    // On a dedicated handle that watches a key, the loading leaves the
    // WATCH in place: a change still fails the transaction.
    redis.execute_cmd("SCRIPT", ["FLUSH"]).await.unwrap();
    let conn = redis.dedicated().await.unwrap();
    conn.execute_cmd("WATCH", ["counter"]).await.unwrap();
    redis.set("counter", 0).await.unwrap();
    let mut tx = conn.transaction();
    add.key("counter").arg(1).queue(&mut tx);
    let err = tx.query::<(i64,)>().await.unwrap_err();
    assert!(matches!(err, Error::WatchConflict), "{err:?}");

    // A script the server refuses fails the whole pipeline, nothing sent.
    let broken = Script::new("return (");
    let mut pipe = redis.pipe();
    pipe.set("plain", "changed").queue();
    broken.call().queue(&mut pipe);
    let err = pipe.execute().await.unwrap_err();
    assert!(matches!(err, Error::Redis(_)), "{err:?}");
    let plain: Option<String> = redis.get("plain").returning().await.unwrap();
    assert_eq!(plain.as_deref(), Some("v"));
    // The pipeline is empty and usable again.
    assert!(pipe.is_empty());
    echo.arg("again").queue(&mut pipe);
    let (again,): (String,) = pipe.query().await.unwrap();
    assert_eq!(again, "again");
}

async fn pipelines_and_transactions_load_their_function_libraries_first(p: Protocol) {
    let server = RedisServer::start();
    let redis = client(&server, p);
    let lib = Library::new(BUMP).unwrap();
    // Never loaded: loaded once, before the batch; one reply per command.
    let mut pipe = redis.pipe();
    lib.fcall("bump").key("hits").arg(2).queue(&mut pipe);
    pipe.get("hits").queue();
    lib.fcall("bump").key("hits").arg(3).queue(&mut pipe);
    let (a, got, b): (i64, i64, i64) = pipe.query().await.unwrap();
    assert_eq!((a, got, b), (2, 2, 5));
    assert_eq!(calls(&redis, "function|load").await, 1);

    // Loaded: asked about, not loaded again (a library of that name stays).
    let mut pipe = redis.pipe();
    lib.fcall("bump").key("hits").arg(1).queue(&mut pipe);
    let (n,): (i64,) = pipe.query().await.unwrap();
    assert_eq!(n, 6);
    assert_eq!(calls(&redis, "function|load").await, 1);

    // After FUNCTION FLUSH, in a transaction with a script too; another
    // library whose name starts the same is not taken for this one.
    redis.execute_cmd("FUNCTION", ["FLUSH"]).await.unwrap();
    redis.execute_cmd("SCRIPT", ["FLUSH"]).await.unwrap();
    let decoy = Library::new("#!lua name=counters_v2\nredis.register_function('x', function() return 1 end)").unwrap();
    decoy.load(&redis).await.unwrap();
    let add = Script::new(ADD);
    let mut tx = redis.transaction();
    lib.fcall("bump").key("hits").arg(10).queue(&mut tx);
    add.key("hits").arg(100).queue(&mut tx);
    let (a, b): (i64, i64) = tx.query().await.unwrap();
    assert_eq!((a, b), (16, 116));
}

async fn function_library_is_loaded_when_missing(p: Protocol) {
    let server = RedisServer::start();
    let redis = client(&server, p);
    let lib = Library::new(
        "#!lua name=counters\n\
         redis.register_function('bump', function(keys, args) return redis.call('INCRBY', keys[1], args[1]) end)",
    )
    .unwrap();
    assert_eq!(lib.name(), "counters");
    let n: i64 = lib.fcall("bump").key("hits").arg(3).invoke(&redis).await.unwrap();
    assert_eq!(n, 3);
    redis.execute_cmd("FUNCTION", ["FLUSH"]).await.unwrap();
    let n: i64 = lib.fcall("bump").keys(["hits"]).args([4]).invoke(&redis).await.unwrap();
    assert_eq!(n, 7);
    // Loading again replaces it rather than failing.
    lib.load(&redis).await.unwrap();
    // A function the library does not have is still an error.
    let err = lib.fcall("missing").invoke::<_, Value>(&redis).await.unwrap_err();
    assert!(matches!(err, Error::Redis(_)), "{err:?}");
    let err = Library::new("redis.register_function('f', function() return 1 end)").unwrap_err();
    assert!(matches!(err, Error::Usage(_)), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_on_a_cluster_load_where_each_key_lives() {
    let cluster = TestCluster::start(3, 0).await;
    let seeds: Vec<String> = cluster.seed_urls().iter().map(|u| with_protocol(u, Protocol::Resp3)).collect();
    let redis = RedisCluster::new(&seeds).unwrap();
    let add = Script::new(ADD);
    // Keys in slots served by different primaries: each node loads it.
    let keys: Vec<String> = [0u16, 8000, 16000].iter().map(|s| keys_for_slot(*s, 1).remove(0)).collect();
    for (i, key) in keys.iter().enumerate() {
        let n: i64 = add.key(key).arg(i as i64 + 1).invoke(&redis).await.unwrap();
        assert_eq!(n, i as i64 + 1);
    }
    for port in cluster.primary_ports().await {
        assert!(script_exists(&cluster.admin(port), &add).await, "node {port}");
    }
    let lib = Library::new(
        "#!lua name=c\nredis.register_function('get', function(keys, args) return redis.call('GET', keys[1]) end)",
    )
    .unwrap();
    for key in &keys {
        let v: Option<i64> = lib.fcall("get").key(key).invoke(&redis).await.unwrap();
        assert!(v.is_some(), "{key}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_pipelines_load_scripts_on_the_nodes_they_go_to() {
    let cluster = TestCluster::start(3, 0).await;
    let seeds: Vec<String> = cluster.seed_urls().iter().map(|u| with_protocol(u, Protocol::Resp3)).collect();
    let redis = RedisCluster::new(&seeds).unwrap();
    let add = Script::new(ADD);
    let ports = cluster.primary_ports().await;

    // A pipeline whose commands all go to one node loads the script there only.
    let key = keys_for_slot(0, 1).remove(0);
    let mut pipe = redis.pipe();
    add.key(&key).arg(2).queue(&mut pipe);
    let (n,): (i64,) = pipe.query().await.unwrap();
    assert_eq!(n, 2);
    let mut holders = 0;
    for &port in &ports {
        holders += usize::from(script_exists(&cluster.admin(port), &add).await);
    }
    assert_eq!(holders, 1, "only the node the batch went to loaded it");

    // Keys on every primary: each node's share loads it first.
    let keys: Vec<String> = [0u16, 8000, 16000].iter().map(|s| keys_for_slot(*s, 1).remove(0)).collect();
    let mut pipe = redis.pipe();
    for (i, key) in keys.iter().enumerate() {
        add.key(key).arg(i as i64 + 10).queue(&mut pipe);
        pipe.get(key).queue();
    }
    let replies: Vec<i64> = pipe.query().await.unwrap();
    assert_eq!(replies, [12, 12, 11, 11, 12, 12]);
    for &port in &ports {
        assert!(script_exists(&cluster.admin(port), &add).await, "node {port}");
    }

    // After SCRIPT FLUSH everywhere, a transaction on one slot.
    for &port in &ports {
        cluster.admin(port).execute_cmd("SCRIPT", ["FLUSH"]).await.unwrap();
    }
    let mut tx = redis.transaction();
    add.key("{user}:a").arg(1).queue(&mut tx);
    add.key("{user}:b").arg(2).queue(&mut tx);
    tx.get("{user}:a").queue();
    let (a, b, got): (i64, i64, i64) = tx.query().await.unwrap();
    assert_eq!((a, b, got), (1, 2, 1));
    let node = redis.node_for_slot(siderpy::cluster::key_slot(b"{user}:a")).await.unwrap();
    assert!(script_exists(&node, &add).await);

    // A function library, on every node a pipeline goes to.
    let lib = Library::new(BUMP).unwrap();
    let mut pipe = redis.pipe();
    for key in &keys {
        lib.fcall("bump").key(key).arg(100).queue(&mut pipe);
    }
    let replies: Vec<i64> = pipe.query().await.unwrap();
    assert_eq!(replies, [112, 111, 112]);

    // A script the nodes refuse fails a pipeline or a transaction at once,
    // nothing of it sent, rather than being retried.
    let broken = Script::new("return (");
    let mut pipe = redis.pipe();
    pipe.set(&keys[0], "untouched").queue();
    broken.key(&keys[1]).queue(&mut pipe);
    let err = pipe.execute().await.unwrap_err();
    assert!(matches!(err, Error::Redis(_)), "{err:?}");
    let first: i64 = redis.get(&keys[0]).returning().await.unwrap();
    assert_eq!(first, 112, "no node's share was sent");
    let mut tx = redis.transaction();
    tx.set("{user}:a", "untouched").queue();
    broken.key("{user}:b").queue(&mut tx);
    let err = tx.query::<Value>().await.unwrap_err();
    assert!(matches!(err, Error::Redis(_)), "{err:?}");
    let a: String = redis.get("{user}:a").returning().await.unwrap();
    assert_eq!(a, "1", "the transaction did not run");
}
