//! Throwaway Redis deployments on loopback: one `redis-server`, or a Redis
//! Cluster of three primaries, each node one such server. Every process is
//! killed and its directory removed on drop.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server or a cluster may take to be ready.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A `redis-server` of our own on a free loopback port, stopped on drop.
pub struct Server {
    child: Child,
    pub port: u16,
    dir: std::path::PathBuf,
}

impl Server {
    /// A standalone server for the single-server workloads.
    pub fn start() -> Result<Server, String> {
        let port = free_ports(1)?[0];
        Server::start_on(port, &[])
    }

    /// A server on `port` with the benchmark's settings (no persistence,
    /// no pub/sub output limit) plus `extra` arguments; waits for its PONG.
    fn start_on(port: u16, extra: &[String]) -> Result<Server, String> {
        let dir = std::env::temp_dir().join(format!("siderpy-bench-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--client-output-buffer-limit", "pubsub 0 0 0", "--protected-mode", "yes"])
            .arg("--dir")
            .arg(&dir)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start redis-server (is it installed?): {e}"))?;
        let server = Server { child, port, dir };
        wait_for(READY_TIMEOUT, &format!("redis-server on port {port} to answer PING"), || {
            query(port, &["PING"]).is_ok_and(|r| r == "PONG")
        })?;
        Ok(server)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A throwaway Redis Cluster: three primaries, no replicas, all 16,384
/// slots assigned by `redis-cli --cluster create`. Stopped on drop.
pub struct Cluster {
    nodes: Vec<Server>,
}

impl Cluster {
    pub const PRIMARIES: usize = 3;

    /// Starts the nodes, joins them, and waits until every node reports
    /// `cluster_state:ok` (Redis 7 holds a new cluster out of that state for
    /// about two seconds) and knows all the others.
    pub fn start() -> Result<Cluster, String> {
        // Every client port and cluster bus port at once, so no two collide
        // (the default bus port, client port + 10000, may not exist).
        let ports = free_ports(2 * Self::PRIMARIES)?;
        let mut nodes = Vec::with_capacity(Self::PRIMARIES);
        for pair in ports.chunks(2) {
            let extra: Vec<String> = [
                "--cluster-enabled",
                "yes",
                // Relative to the server's own directory.
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-port",
                &pair[1].to_string(),
                "--cluster-node-timeout",
                "5000",
            ]
            .map(String::from)
            .into();
            nodes.push(Server::start_on(pair[0], &extra)?);
        }
        let cluster = Cluster { nodes };
        let out = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(cluster.nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)))
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run redis-cli: {e}"))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        // redis-cli may exit 0 on failure; it says this on success.
        if !out.status.success() || !stdout.contains("All 16384 slots covered") {
            return Err(format!("redis-cli --cluster create failed ({}):\n{stdout}", out.status));
        }
        let known = format!("cluster_known_nodes:{}", Self::PRIMARIES);
        wait_for(READY_TIMEOUT, "the cluster to be ok on every node", || {
            cluster.nodes.iter().all(|n| {
                query(n.port, &["CLUSTER", "INFO"]).is_ok_and(|info| {
                    let mut lines = info.lines().map(str::trim);
                    lines.clone().any(|l| l == "cluster_state:ok") && lines.any(|l| l == known)
                })
            })
        })?;
        Ok(cluster)
    }

    /// The nodes' URLs, comma-separated (as `--cluster-url` takes them).
    pub fn seeds(&self) -> String {
        self.nodes.iter().map(Server::url).collect::<Vec<_>>().join(",")
    }
}

/// `n` distinct free loopback ports (all bound at once, then released).
fn free_ports(n: usize) -> Result<Vec<u16>, String> {
    let listeners =
        (0..n).map(|_| TcpListener::bind("127.0.0.1:0")).collect::<Result<Vec<_>, _>>().map_err(|e| e.to_string())?;
    listeners.iter().map(|l| l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())).collect()
}

fn wait_for(limit: Duration, what: &str, mut ready: impl FnMut() -> bool) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    while !ready() {
        if Instant::now() > deadline {
            return Err(format!("timed out after {limit:?} waiting for {what}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// Sends one command to the server on `port` and returns its reply, a
/// simple or bulk string (enough for `PING` and `CLUSTER INFO`).
pub fn query(port: u16, args: &[&str]) -> Result<String, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(5))).map_err(|e| e.to_string())?;
    let mut frame = format!("*{}\r\n", args.len());
    for a in args {
        frame.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    s.write_all(frame.as_bytes()).map_err(|e| e.to_string())?;
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).map_err(|e| e.to_string())?;
    let line = line.trim_end();
    match line.split_at_checked(1) {
        Some(("+", text)) => Ok(text.to_string()),
        Some(("$", len)) => {
            let len: usize = len.parse().map_err(|_| format!("bad reply {line:?}"))?;
            let mut body = vec![0; len + 2];
            r.read_exact(&mut body).map_err(|e| e.to_string())?;
            body.truncate(len);
            String::from_utf8(body).map_err(|e| e.to_string())
        }
        _ => Err(format!("unexpected reply {line:?}")),
    }
}
