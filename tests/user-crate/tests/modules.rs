//! The methods generated from RedisJSON's and RedisBloom's specs, against a
//! redis-server with both modules loaded (`SIDERPY_MODULES_DIR` names the
//! directory with `rejson.so` and `redisbloom.so`; scripts/test.sh sets it).

#[path = "../../support/mod.rs"]
mod support;

use siderpy::cluster::{key_slot, RedisCluster};
use siderpy::prelude::*;
use siderpy::{Json, Redis, RedisPool, Value};

use siderpy_user_fixture::bloom_commands::prelude::*;
use siderpy_user_fixture::json_commands::prelude::*;
use support::cluster::{keys_for_slot, TestCluster};
use support::RedisServer;

/// `loadmodule` lines for both modules.
fn modules() -> Vec<String> {
    let dir = std::env::var("SIDERPY_MODULES_DIR")
        .expect("SIDERPY_MODULES_DIR names the directory of rejson.so and redisbloom.so (scripts/test.sh sets it)");
    ["rejson.so", "redisbloom.so"].iter().map(|m| format!("loadmodule {dir}/{m}")).collect()
}

fn server() -> RedisServer {
    modules().iter().fold(RedisServer::builder(), |b, line| b.config(line)).start()
}

#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
struct Doc {
    name: String,
    n: i64,
    tags: Vec<String>,
}

/// Documents in and out as Rust values (`Json<T>`, the `serde` feature).
#[tokio::test]
async fn json_documents_as_rust_values() {
    let server = server();
    let redis = Redis::new(&server.url()).unwrap();
    let doc = Doc { name: "a".into(), n: 1, tags: vec!["x".into()] };
    assert!(redis.json_set("typed:1", "$", Json(&doc)).await.unwrap());
    // No path: the document itself.
    let back: Option<Json<Doc>> = redis.json_get("typed:1").returning().await.unwrap();
    assert_eq!(back, Some(Json(doc)));
    assert!(redis.json_set("typed:1", "$.tags", Json(["y", "z"])).await.unwrap());
    // A JSONPath: every match, in an array.
    let tags: Option<Json<Vec<Vec<String>>>> = redis.json_get("typed:1").path(["$.tags"]).returning().await.unwrap();
    assert_eq!(tags, Some(Json(vec![vec!["y".to_string(), "z".to_string()]])));
    let missing: Option<Json<Doc>> = redis.json_get("typed:none").returning().await.unwrap();
    assert_eq!(missing, None);
}

#[tokio::test]
async fn json_set_get_and_mget_with_paths() {
    let server = server();
    let redis = Redis::new(&server.url()).unwrap();
    // Typed: JSON.SET key path value [NX | XX], replying bool.
    assert!(redis.json_set("doc:1", "$", r#"{"name":"a","n":1,"tags":["x"]}"#).await.unwrap());
    assert!(redis.json_set("doc:2", "$", r#"{"name":"b","n":2}"#).await.unwrap());
    assert!(!redis.json_set("doc:1", "$", "{}").nx().await.unwrap(), "NX on an existing key sets nothing");
    assert!(redis.json_set("doc:1", "$.n", "10").xx().await.unwrap());
    // JSON.GET key [path ...]: the optional paths are a setter.
    assert_eq!(redis.json_get("doc:1").path(["$.n"]).await.unwrap().as_deref(), Some("[10]"));
    // Several paths: an object keyed by path.
    let both = redis.json_get("doc:1").path(["$.name", "$.tags"]).await.unwrap().unwrap();
    assert!(both.contains(r#""$.name":["a"]"#) && both.contains(r#""$.tags":[["x"]]"#), "{both}");
    assert_eq!(redis.json_get("missing").await.unwrap(), None);
    // JSON.MGET key [key ...] path, across keys (a missing one is nil).
    let names = redis.json_mget(["doc:1", "doc:2", "missing"], "$.name").await.unwrap();
    assert_eq!(names, [Some(r#"["a"]"#.to_owned()), Some(r#"["b"]"#.to_owned()), None]);
    assert_eq!(redis.json_del("doc:2").await.unwrap(), 1);
    // JSON.MSET's repeated (key, path, value) block: one triple, or several.
    redis.json_mset(("doc:3", "$", r#"{"n":3}"#)).returning::<()>().await.unwrap();
    redis.json_mset([("doc:4", "$", "4"), ("doc:3", "$.n", "33")]).returning::<()>().await.unwrap();
    let ns = redis.json_mget(["doc:3", "doc:4"], "$").await.unwrap();
    assert_eq!(ns, [Some(r#"[{"n":33}]"#.to_owned()), Some("[4]".to_owned())]);
    // A command with no table entry replies a Value, any type on request.
    assert_eq!(redis.json_type("doc:1").path("$.n").returning::<Vec<String>>().await.unwrap(), ["integer"]);
}

#[tokio::test]
async fn bloom_add_and_exists_on_a_client_a_pipeline_and_a_pool() {
    let server = server();
    let redis = Redis::new(&server.url()).unwrap();
    assert!(redis.bf_add("seen", "alice").returning::<bool>().await.unwrap());
    assert!(!redis.bf_add("seen", "alice").returning::<bool>().await.unwrap(), "already added");
    assert!(redis.bf_exists("seen", "alice").returning::<bool>().await.unwrap());
    assert!(!redis.bf_exists("seen", "bob").returning::<bool>().await.unwrap());
    // Optional arguments of BF.INSERT are setters of its own trait.
    let added: Vec<bool> =
        redis.bf_insert("guests", ["carol", "dave"]).capacity(1000).error(0.001).returning().await.unwrap();
    assert_eq!(added, [true, true]);

    let mut pipe = redis.pipe();
    pipe.bf_add("seen", "erin").queue().bf_exists("seen", "erin").queue().json_set("p", "$", "[]").queue();
    let results: Vec<Value> = pipe.execute().await.unwrap().into_iter().map(Result::unwrap).collect();
    assert_eq!(results[..2], [Value::Int(1), Value::Int(1)]);

    let pool = RedisPool::new(&server.url()).unwrap();
    assert!(pool.bf_exists("seen", "erin").returning::<bool>().await.unwrap());
    assert_eq!(pool.json_get("p").await.unwrap().as_deref(), Some("[]"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_routes_module_commands_by_key() {
    let builder = modules().iter().fold(TestCluster::builder(), |b, line| b.config(line));
    let cluster = builder.start(3, 0).await;
    let seeds = cluster.seed_urls();
    let redis = RedisCluster::new(&seeds).unwrap();
    // Keys on each primary: a misrouted command would be redirected (MOVED),
    // which the node counts as a rejected call.
    let ports = cluster.primary_ports().await;
    for slot in [0u16, 8000, 16000] {
        // Three keys of one slot (one hash tag).
        let [doc, other, bloom] = <[String; 3]>::try_from(keys_for_slot(slot, 3)).unwrap();
        assert_eq!(key_slot(doc.as_bytes()), slot);
        assert!(redis.json_set(doc.as_str(), "$", r#"{"n":1}"#).await.unwrap());
        assert!(redis.json_set(other.as_str(), "$", r#"{"n":2}"#).await.unwrap());
        assert_eq!(redis.json_get(doc.as_str()).path(["$.n"]).await.unwrap().as_deref(), Some("[1]"));
        // JSON.MGET key [key ...] path: all its keys, not its path, pick the slot.
        let got = redis.json_mget([doc.as_str(), other.as_str()], "$.n").await.unwrap();
        assert_eq!(got, [Some("[1]".to_owned()), Some("[2]".to_owned())]);
        assert!(redis.bf_add(bloom.as_str(), "x").returning::<bool>().await.unwrap());
        assert!(redis.bf_exists(bloom.as_str(), "x").returning::<bool>().await.unwrap());
    }
    for port in ports {
        let stats: String = cluster.admin(port).execute_cmd("INFO", ["commandstats"]).returning().await.unwrap();
        let module_stats: Vec<&str> =
            stats.lines().filter(|l| l.starts_with("cmdstat_json.") || l.starts_with("cmdstat_bf.")).collect();
        assert!(!module_stats.is_empty(), "node {port} ran module commands");
        for line in module_stats {
            assert!(line.contains("rejected_calls=0"), "node {port} redirected a module command: {line}");
        }
    }
}
