//! Observability against a real server: each command's `tracing` span
//! carries OpenTelemetry's database attributes and no argument values
//! (keys only when asked), and a `CommandObserver` hears of every command
//! once, with its outcome: ok, a server error, a timeout, a connection
//! failure, a command given up. Pipelines and transactions are one span and
//! one event each.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use siderpy::prelude::*;
use siderpy::{CommandEvent, CommandObserver, Outcome, Redis, RedisPool};
use support::{free_port, RedisServer};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::Subscriber;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// A span as a subscriber saw it, once closed: its name and every field
/// recorded on it, as text.
#[derive(Debug, Clone)]
struct SpanSeen {
    name: &'static str,
    fields: BTreeMap<String, String>,
}

impl SpanSeen {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

/// Records the spans of siderpy's commands (target `siderpy::command`).
#[derive(Clone, Default)]
struct Spans {
    open: Arc<Mutex<HashMap<u64, SpanSeen>>>,
    closed: Arc<Mutex<Vec<SpanSeen>>>,
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Spans {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        if attrs.metadata().target() != "siderpy::command" {
            return;
        }
        let mut seen = SpanSeen { name: attrs.metadata().name(), fields: BTreeMap::new() };
        attrs.record(&mut Fields(&mut seen.fields));
        self.open.lock().unwrap().insert(id.into_u64(), seen);
    }
    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        if let Some(seen) = self.open.lock().unwrap().get_mut(&id.into_u64()) {
            values.record(&mut Fields(&mut seen.fields));
        }
    }
    fn on_close(&self, id: Id, _: Context<'_, S>) {
        if let Some(seen) = self.open.lock().unwrap().remove(&id.into_u64()) {
            self.closed.lock().unwrap().push(seen);
        }
    }
}

/// The spans of the servers on `ports`.
///
/// One global subscriber for the whole binary, each test reading only the
/// spans of its own servers: a per-thread default (`set_default`) races
/// with tracing's per-callsite interest cache when tests run in parallel.
fn capture(ports: &[u16]) -> Capture {
    static SPANS: std::sync::OnceLock<Spans> = std::sync::OnceLock::new();
    let spans = SPANS.get_or_init(|| {
        let spans = Spans::default();
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(spans.clone()))
            .expect("the only global subscriber");
        spans
    });
    Capture { spans: spans.clone(), ports: ports.iter().map(u16::to_string).collect() }
}

struct Capture {
    spans: Spans,
    ports: Vec<String>,
}

impl Capture {
    /// The closed spans of this test's servers, in the order they closed.
    fn take(&self) -> Vec<SpanSeen> {
        let mut closed = self.spans.closed.lock().unwrap();
        let (mine, others) = std::mem::take(&mut *closed)
            .into_iter()
            .partition(|s| s.field("server.port").is_some_and(|p| self.ports.iter().any(|q| q == p)));
        *closed = others;
        mine
    }
}

#[tokio::test]
async fn spans_follow_the_database_conventions() {
    let server = RedisServer::start();
    let spans = capture(&[server.port()]);
    let redis = Redis::builder(&server.url()).unwrap().db(3).build();
    redis.set("user:1", "secret-value").await.unwrap();
    let _ = redis.get("user:1").await.unwrap();
    let seen = spans.take();
    let ops: Vec<_> = seen.iter().map(|s| s.field("db.operation.name").unwrap_or_default()).collect();
    // The handshake's own commands are not the caller's: only SET and GET.
    assert_eq!(ops, ["SET", "GET"], "{seen:#?}");
    let port = server.port().to_string();
    for span in &seen {
        assert_eq!(span.name, "redis");
        assert_eq!(span.field("db.system.name"), Some("redis"));
        assert_eq!(span.field("server.address"), Some("127.0.0.1"));
        assert_eq!(span.field("server.port"), Some(port.as_str()));
        assert_eq!(span.field("db.namespace"), Some("3"));
        assert_eq!(span.field("otel.kind"), Some("client"));
        assert_eq!(span.field("otel.name"), span.field("db.operation.name"));
        assert_eq!(span.field("error.type"), None);
        assert_eq!(span.field("db.operation.batch.size"), None);
        // No argument values by default, not even keys.
        assert_eq!(span.field("db.query.text"), None);
        let all = format!("{:?}", span.fields);
        assert!(!all.contains("secret-value") && !all.contains("user:1"), "{all}");
    }

    // A subcommand is named as the spec names it; an error is recorded.
    let dedicated = redis.dedicated().await.unwrap();
    dedicated.client_setname("observed").await.unwrap();
    let err = redis.lpush("user:1", "x").await.unwrap_err();
    assert_eq!(err.code(), Some("WRONGTYPE"));
    // A dedicated handle's commands run in the db it selected.
    dedicated.select(5).await.unwrap();
    dedicated.incr("in5").await.unwrap();
    let seen = spans.take();
    let incr = seen.iter().find(|s| s.field("db.operation.name") == Some("INCR")).expect("an INCR span");
    assert_eq!(incr.field("db.namespace"), Some("5"));
    assert_eq!(seen[0].field("db.operation.name"), Some("CLIENT SETNAME"), "{seen:#?}");
    let failed = seen.iter().find(|s| s.field("db.operation.name") == Some("LPUSH")).expect("an LPUSH span");
    assert_eq!(failed.field("error.type"), Some("WRONGTYPE"));
    assert_eq!(failed.field("db.response.status_code"), Some("WRONGTYPE"));
    assert_eq!(failed.field("otel.status_code"), Some("ERROR"));

    // A pipeline, a transaction: one span each, with the batch's size.
    let mut pipe = redis.pipe();
    pipe.incr("n").queue().get("user:1").queue().lpush("user:1", "x").queue();
    let replies = pipe.execute().await.unwrap();
    assert!(replies[2].is_err(), "an error reply inside a pipeline fails that command only");
    let mut tx = redis.transaction();
    tx.incr("n").queue().incr("n").queue();
    tx.execute().await.unwrap();
    let seen = spans.take();
    let batches: Vec<_> = seen
        .iter()
        .map(|s| (s.field("db.operation.name").unwrap(), s.field("db.operation.batch.size"), s.field("error.type")))
        .collect();
    assert_eq!(batches, [("PIPELINE", Some("3"), None), ("MULTI", Some("2"), None)]);

    // Blocking commands (their own connection) and unknown ones too.
    let _ = redis.blpop("empty", 0).with_timeout(Duration::from_millis(20)).await.unwrap_err();
    let _ = redis.execute_cmd("NO.SUCH.COMMAND", ["user:1"]).await.unwrap_err();
    let seen = spans.take();
    let ops: Vec<_> = seen.iter().map(|s| (s.field("db.operation.name").unwrap(), s.field("error.type"))).collect();
    assert_eq!(ops, [("BLPOP", Some("timeout")), ("NO.SUCH.COMMAND", Some("ERR"))]);
}

#[tokio::test]
async fn keys_are_recorded_only_when_asked() {
    let server = RedisServer::start();
    let spans = capture(&[server.port()]);
    let redis = Redis::builder(&server.url()).unwrap().trace_keys(true).build();
    redis.set("user:1", "secret-value").ex(100).await.unwrap();
    redis.mset([("a", "secret-a"), ("b", "secret-b")]).await.unwrap();
    redis.client_id().await.unwrap();
    let seen = spans.take();
    let texts: Vec<_> = seen.iter().map(|s| s.field("db.query.text").unwrap()).collect();
    assert_eq!(texts, ["SET user:1 ? ? ?", "MSET a ? b ?", "CLIENT ID"]);
    assert!(!format!("{seen:?}").contains("secret"), "{seen:#?}");
}

/// Keeps every event it hears of, as text.
#[derive(Default)]
struct Events(Mutex<Vec<Seen>>);

#[derive(Debug, Clone, PartialEq)]
struct Seen {
    operation: String,
    server: String,
    db: i64,
    batch: usize,
    /// `ok`, `cancelled`, or the error's type.
    outcome: String,
}

impl CommandObserver for Events {
    fn on_complete(&self, ev: &CommandEvent<'_>) {
        let outcome = match ev.outcome {
            Outcome::Ok => "ok".to_owned(),
            Outcome::Error(_) => ev.error_type().expect("a failure has a type").to_owned(),
            Outcome::Cancelled => "cancelled".to_owned(),
            _ => "other".to_owned(),
        };
        self.0.lock().unwrap().push(Seen {
            operation: ev.operation.to_owned(),
            server: ev.server.to_string(),
            db: ev.db,
            batch: ev.batch_size,
            outcome,
        });
    }
}

impl Events {
    fn take(&self) -> Vec<(String, String)> {
        std::mem::take(&mut *self.0.lock().unwrap()).into_iter().map(|s| (s.operation, s.outcome)).collect()
    }
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

#[tokio::test]
async fn observer_hears_of_every_command_once() {
    let server = RedisServer::start();
    let events = Arc::new(Events::default());
    let redis = Redis::builder(&server.url()).unwrap().db(2).observer(events.clone()).build();
    redis.set("s", "v").await.unwrap();
    redis.get("s").await.unwrap();
    redis.lpush("s", "x").await.unwrap_err();
    let first = events.0.lock().unwrap()[0].clone();
    assert_eq!(
        first,
        Seen {
            operation: "SET".into(),
            server: format!("127.0.0.1:{}", server.port()),
            db: 2,
            batch: 1,
            outcome: "ok".into()
        }
    );
    assert_eq!(events.take(), pairs(&[("SET", "ok"), ("GET", "ok"), ("LPUSH", "WRONGTYPE")]));

    // Timeouts: a blocking command's, and one on the shared connection
    // (writes are paused on the server, so the INCR waits).
    redis.blpop("empty", 0).with_timeout(Duration::from_millis(20)).await.unwrap_err();
    server.admin().execute_cmd("CLIENT", ("PAUSE", 400, "WRITE")).await.unwrap();
    let err = redis.incr("n").with_timeout(Duration::from_millis(50)).await.unwrap_err();
    assert!(matches!(err, siderpy::Error::Timeout(_)), "{err:?}");
    assert_eq!(events.take(), pairs(&[("BLPOP", "timeout"), ("INCR", "timeout")]));

    // Given up after it was sent: cancelled. Before: nothing at all.
    let mut cmd = redis.incr("n");
    assert!((&mut cmd).now_or_never().is_none());
    drop(cmd);
    drop(redis.incr("n"));
    assert_eq!(events.take(), pairs(&[("INCR", "cancelled")]));

    // One event per batch.
    let mut pipe = redis.pipe();
    pipe.incr("n").queue().incr("n").queue();
    pipe.execute().await.unwrap();
    let mut tx = redis.transaction();
    tx.incr("n").queue();
    tx.execute().await.unwrap();
    assert_eq!(events.take(), pairs(&[("PIPELINE", "ok"), ("MULTI", "ok")]));
    // A command queued in a MULTI of the handle's own is no failure.
    redis.multi().await.unwrap();
    let queued = redis.incr("n").await.unwrap_err();
    assert!(matches!(queued, siderpy::Error::Queued { index: 0 }), "{queued:?}");
    redis.execute().await.unwrap();
    assert_eq!(events.take(), pairs(&[("MULTI", "ok"), ("INCR", "ok"), ("EXEC", "ok")]));
    let batches: Vec<_> = {
        redis.pipe().incr("n").queue().incr("n").queue().incr("n").queue().execute().await.unwrap();
        events.0.lock().unwrap().iter().map(|s| s.batch).collect()
    };
    assert_eq!(batches, [3]);
}

#[tokio::test]
async fn observer_hears_of_failures_to_connect_and_pool_commands() {
    // Nothing listens on this port.
    let events = Arc::new(Events::default());
    let down = Redis::builder(&format!("redis://127.0.0.1:{}", free_port())).unwrap().observer(events.clone()).build();
    down.get("k").await.unwrap_err();
    // The client now knows the server is down: refused at once, still heard of.
    let err = down.get("k").await.unwrap_err();
    assert!(matches!(err, siderpy::Error::Unavailable { .. }), "{err:?}");
    let seen = std::mem::take(&mut *events.0.lock().unwrap());
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen.iter().all(|s| s.operation == "GET" && s.outcome != "ok"), "{seen:?}");

    // A pool's clients take the observer from its builder.
    let server = RedisServer::start();
    let pool = RedisPool::builder(&server.url()).unwrap().size(2).client(|b| b.observer(events.clone())).build();
    let (a, b) = tokio::join!(pool.incr("p"), pool.incr("p"));
    a.unwrap();
    b.unwrap();
    assert_eq!(events.take(), pairs(&[("INCR", "ok"), ("INCR", "ok")]));
}

/// A cluster's command is heard of from the node that served it, as that
/// node's client: its spans and events name that node.
#[tokio::test]
async fn cluster_commands_name_the_node_that_served_them() {
    let cluster = support::cluster::TestCluster::start(3, 0).await;
    let events = Arc::new(Events::default());
    let ports: Vec<u16> = cluster.seed_urls().iter().map(|u| u.rsplit(':').next().unwrap().parse().unwrap()).collect();
    let spans = capture(&ports);
    let redis = siderpy::cluster::RedisCluster::builder(&cluster.seed_urls())
        .unwrap()
        .client(|c| c.observer(events.clone()))
        .build();
    for (port, key) in cluster.key_on_each_primary().await {
        redis.set(key.as_str(), "v").await.unwrap();
        let seen = std::mem::take(&mut *events.0.lock().unwrap());
        // Reading the layout first is the client's own traffic: skip it.
        let set: Vec<_> = seen.iter().filter(|s| s.operation == "SET").collect();
        assert_eq!(set.len(), 1, "{seen:?}");
        assert_eq!(set[0].server, format!("127.0.0.1:{port}"));
        assert_eq!(set[0].outcome, "ok");
        let spans = spans.take();
        let set = spans.iter().find(|s| s.field("db.operation.name") == Some("SET")).expect("a SET span");
        assert_eq!(set.field("server.port"), Some(port.to_string().as_str()));
    }

    // A cluster pipeline is one pipeline per node it went to.
    let mut pipe = redis.pipe();
    let primaries = cluster.key_on_each_primary().await;
    for (_, key) in &primaries {
        pipe.incr(key.as_str()).queue().incr(key.as_str()).queue();
    }
    pipe.execute().await.unwrap();
    let mut seen: Vec<_> = std::mem::take(&mut *events.0.lock().unwrap())
        .into_iter()
        .filter(|s| s.operation == "PIPELINE")
        .map(|s| (s.server, s.batch, s.outcome))
        .collect();
    seen.sort();
    let mut expected: Vec<_> =
        primaries.iter().map(|(port, _)| (format!("127.0.0.1:{port}"), 2, "ok".to_owned())).collect();
    expected.sort();
    assert_eq!(seen, expected);
}
