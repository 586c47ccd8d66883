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
    step("BLPOP tour:queue 0", redis.blpop(["tour:queue"], 0.0).await?);

    let removed: i64 = redis.execute_cmd("DEL", ("tour:greeting", "tour:visits", "tour:queue")).returning().await?;
    step("DEL (cleanup)", removed);
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
