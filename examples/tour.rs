//! A tour of siderpy: connects to `$REDIS_URL`, or to a throwaway
//! `redis-server` it starts on a free port, and prints what each step does.
//!
//! Run it with `./scripts/tour.sh` (or `cargo run --example tour`).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use siderpy::prelude::*;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (url, _server) = match std::env::var("REDIS_URL") {
        Ok(url) => (url, None),
        Err(_) => {
            let server = ThrowawayServer::start()?;
            (server.url.clone(), Some(server))
        }
    };
    println!("connecting to {}", siderpy::parse_url(&url)?);
    let redis = siderpy::Redis::builder(&url)?.connect_timeout(Duration::from_secs(5)).build();

    step("SET tour:greeting hello EX 60", redis.set("tour:greeting", "hello").ex(60).await?);
    step("GET tour:greeting", redis.get("tour:greeting").await?);
    step("INCR tour:visits", redis.incr("tour:visits").await?);

    // Any command, typed or not, through the raw fallback.
    let info: String = redis.execute_cmd("INFO", ["server"]).returning().await?;
    let version = info.lines().find_map(|l| l.strip_prefix("redis_version:")).unwrap_or("?");
    step("INFO server (redis_version)", version);

    // Server errors are typed and leave the connection usable.
    let err = redis.execute_cmd("INCR", ["tour:greeting"]).await.unwrap_err();
    step("INCR on a string", format!("{} / code {:?}", err, err.code()));

    // Many tasks share one connection; their commands are pipelined.
    let started = Instant::now();
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let redis = redis.clone();
            tokio::spawn(async move {
                for _ in 0..200 {
                    redis.incr(format!("tour:counter:{i}")).await?;
                }
                redis.get(format!("tour:counter:{i}")).await
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await?.map_err(|e| e.to_string())?.as_deref(), Some(&b"200"[..]));
    }
    step("50 tasks x 200 INCR on one shared connection", format!("{:?}", started.elapsed()));

    // A blocking command: BLPOP waits until another client pushes.
    let pusher = redis.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        pusher.execute_cmd("RPUSH", ("tour:queue", "job-1")).await
    });
    step("BLPOP tour:queue 0", redis.blpop("tour:queue", 0).await?);

    // Typed arguments and replies, from the spec: no annotations needed.
    redis.hset("tour:user", [("name", "ada"), ("lang", "rust")]).await?;
    step("HGETALL tour:user", redis.hgetall("tour:user").await?);
    redis.zadd("tour:scores", [(1.0, "a"), (2.5, "b"), (3.0, "c")]).await?;
    step("ZRANGE tour:scores 0 -1 WITHSCORES", redis.zrange("tour:scores", 0, -1).withscores().await?);
    step("ZSCORE tour:scores b", redis.zscore("tour:scores", "b").await?);

    // A pipeline: many commands, one round trip, typed results.
    let mut pipe = redis.pipe();
    pipe.incr("tour:p").queue().incr("tour:p").queue().get("tour:p").queue();
    let (one, two, now): (i64, i64, Option<String>) = pipe.query().await?;
    step("pipeline INCR, INCR, GET", (one, two, now));

    // A transaction, atomic even on this shared connection.
    let mut tx = redis.transaction();
    tx.incrby("tour:balance", 100).queue().decrby("tour:balance", 30).queue();
    let (after_credit, after_debit): (i64, i64) = tx.query().await?;
    step("MULTI INCRBY 100, DECRBY 30 EXEC", (after_credit, after_debit));

    // Optimistic locking: WATCH, read, write, retried on a conflict.
    let (doubled,): (i64,) = redis
        .transaction_with(["tour:balance"], 5, |conn| async move {
            let balance: i64 = conn.get("tour:balance").returning::<Option<i64>>().await?.unwrap_or(0);
            let mut tx = conn.transaction();
            tx.set("tour:balance", balance * 2).queue();
            tx.get("tour:balance").queue();
            Ok(tx)
        })
        .await
        .map(|(_, b): (bool, i64)| (b,))?;
    step("WATCH + transaction doubling the balance", doubled);

    // Pub/sub: a subscribed handle and its bounded queue.
    let subscriber = siderpy::Redis::builder(&url)?.pubsub_queue_maxsize(100).build();
    step("SUBSCRIBE tour:news", subscriber.subscribe(["tour:news"]).await?);
    step("PUBLISH tour:news hello", redis.publish("tour:news", "hello").await?);
    let message = subscriber.pubsub_queue().recv().await?;
    step("received", (message.channel, message.payload));
    subscriber.unsubscribe().await?;

    // A pool: commands borrow a connection each; MULTI is not even a method.
    let pool = siderpy::RedisPool::builder(&url)?.size(4).build();
    step("pool: INCR tour:pooled", pool.incr("tour:pooled").await?);
    {
        let conn = pool.get_redis(Some(Duration::from_secs(1))).await?;
        step("pool: a borrowed connection, ECHO", conn.echo("borrowed").await?);
    }
    pool.close().await;

    let keys = [
        "tour:greeting",
        "tour:visits",
        "tour:queue",
        "tour:user",
        "tour:scores",
        "tour:p",
        "tour:balance",
        "tour:pooled",
    ];
    step("DEL (cleanup)", redis.delete(keys).await?);
    redis.close().await;
    println!("done");
    Ok(())
}

fn step(what: &str, result: impl std::fmt::Debug) {
    println!("  {what:<46} -> {result:?}");
}

/// A `redis-server` on a free loopback port, stopped when dropped.
struct ThrowawayServer {
    child: Child,
    url: String,
    _dir: std::path::PathBuf,
}

impl ThrowawayServer {
    fn start() -> std::io::Result<Self> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let dir = std::env::temp_dir().join(format!("siderpy-tour-{port}"));
        std::fs::create_dir_all(&dir)?;
        let bin = std::env::var("REDIS_SERVER_BIN").unwrap_or_else(|_| "redis-server".into());
        println!("starting a throwaway {bin} on port {port}");
        let child = Command::new(bin)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .spawn()?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err(std::io::Error::other("redis-server did not start"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(ThrowawayServer { child, url: format!("redis://127.0.0.1:{port}/0"), _dir: dir })
    }
}

impl Drop for ThrowawayServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self._dir);
    }
}
