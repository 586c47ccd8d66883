//! Test harness: a Sentinel deployment of local processes: a master, two
//! replicas and three `redis-server --sentinel`, each on free ports with its
//! config in a temporary directory, and timeouts short enough that a
//! failover takes a few seconds (`down-after-milliseconds 500`,
//! `failover-timeout 2000`).
//!
//! ```ignore
//! let deployment = TestSentinel::builder().password("pw").tls().start().await;
//! let sentinel = Sentinel::builder(&deployment.url())?.client(|c| deployment.trust(c)).build();
//! deployment.kill_data(deployment.master_port().await);
//! ```
//!
//! The harness talks to the servers with plain single-node clients only.

use std::sync::Arc;
use std::time::Duration;

use siderpy::prelude::*;
use siderpy::{Redis, RedisBuilder};

use super::{conf_quote, percent_encode, wait_until, Pki, RedisServer};

/// The name the sentinels monitor the master under.
pub const MASTER_NAME: &str = "mymaster";
/// How long the deployment may take to be whole (replicas linked, the
/// sentinels aware of each other and of the replicas).
const SETTLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Settings of a [`TestSentinel`].
#[derive(Default)]
pub struct TestSentinelBuilder {
    password: Option<String>,
    sentinel_password: Option<String>,
    tls: bool,
}

impl TestSentinelBuilder {
    /// `requirepass` on the master and replicas (with `masterauth`, and
    /// `sentinel auth-pass` for the sentinels).
    pub fn password(mut self, pw: &str) -> Self {
        self.password = Some(pw.to_owned());
        self
    }

    /// `requirepass` on the sentinels (with `sentinel sentinel-pass` so
    /// they still talk to each other).
    pub fn sentinel_password(mut self, pw: &str) -> Self {
        self.sentinel_password = Some(pw.to_owned());
        self
    }

    /// Every server listens for TLS only, certificates from one CA;
    /// replication and the sentinels' links use TLS too.
    pub fn tls(mut self) -> Self {
        self.tls = true;
        self
    }

    /// Starts the master, then its replicas, then the sentinels, and waits
    /// until the sentinels know the replicas and each other.
    pub async fn start(self) -> TestSentinel {
        let pki = self.tls.then(|| Arc::new(Pki::generate()));
        let node = |pki: &Option<Arc<Pki>>| {
            let mut b = RedisServer::builder();
            if let Some(pki) = pki {
                b = b.tls_pki(Arc::clone(pki)).tls_only().config("tls-replication yes");
            }
            if let Some(pw) = &self.password {
                // `masterauth` too: a master that comes back as a replica syncs.
                b = b.password(pw).config(&format!("masterauth {}", conf_quote(pw)));
            }
            b
        };
        let master = node(&pki).start();
        let replicas: Vec<RedisServer> =
            (0..2).map(|_| node(&pki).config(&format!("replicaof 127.0.0.1 {}", master.port())).start()).collect();
        {
            let admin = master.admin();
            wait_until("both replicas to be linked", SETTLE_TIMEOUT, || async {
                let info: String = admin.execute_cmd("INFO", ["replication"]).returning().await.unwrap_or_default();
                info.matches("state=online").count() == 2
            })
            .await;
        }
        let sentinels: Vec<RedisServer> = (0..3)
            .map(|_| {
                let mut b = RedisServer::builder()
                    .sentinel()
                    .config(&format!("sentinel monitor {MASTER_NAME} 127.0.0.1 {} 2", master.port()))
                    .config(&format!("sentinel down-after-milliseconds {MASTER_NAME} 500"))
                    .config(&format!("sentinel failover-timeout {MASTER_NAME} 2000"))
                    .config(&format!("sentinel parallel-syncs {MASTER_NAME} 2"));
                if let Some(pki) = &pki {
                    b = b.tls_pki(Arc::clone(pki)).tls_only().config("tls-replication yes");
                }
                if let Some(pw) = &self.password {
                    b = b.config(&format!("sentinel auth-pass {MASTER_NAME} {}", conf_quote(pw)));
                }
                if let Some(pw) = &self.sentinel_password {
                    b = b.password(pw).config(&format!("sentinel sentinel-pass {}", conf_quote(pw)));
                }
                b.start()
            })
            .collect();
        let data = std::iter::once(master).chain(replicas).collect();
        let deployment = TestSentinel { data, sentinels, pki, settings: self };
        deployment.wait_whole().await;
        deployment
    }
}

/// A running Sentinel deployment; every process is killed on drop.
pub struct TestSentinel {
    /// The master at start, then the replicas.
    data: Vec<RedisServer>,
    sentinels: Vec<RedisServer>,
    pki: Option<Arc<Pki>>,
    settings: TestSentinelBuilder,
}

impl TestSentinel {
    /// Settings for a deployment.
    pub fn builder() -> TestSentinelBuilder {
        TestSentinelBuilder::default()
    }

    /// A deployment with no passwords or TLS.
    pub async fn start() -> TestSentinel {
        TestSentinel::builder().start().await
    }

    /// `redis+sentinel://` (or `rediss+sentinel://`) naming the three
    /// sentinels, the master and every password.
    pub fn url(&self) -> String {
        let scheme = if self.pki.is_some() { "rediss+sentinel" } else { "redis+sentinel" };
        let auth = self.settings.password.as_ref().map(|pw| format!(":{}@", percent_encode(pw))).unwrap_or_default();
        let hosts: Vec<String> = self.sentinels.iter().map(|s| format!("127.0.0.1:{}", s.port())).collect();
        let query = match &self.settings.sentinel_password {
            Some(pw) => format!("?sentinel_password={}", percent_encode(pw)),
            None => String::new(),
        };
        format!("{scheme}://{auth}{}/{MASTER_NAME}{query}", hosts.join(","))
    }

    /// Trusts the deployment's CA (when it uses TLS): for `client` and
    /// `sentinel_client` of a `SentinelBuilder`.
    pub fn trust(&self, builder: RedisBuilder) -> RedisBuilder {
        match &self.pki {
            Some(pki) => builder.tls(pki.client_config()),
            None => builder,
        }
    }

    /// The sentinels' ports.
    pub fn sentinel_ports(&self) -> Vec<u16> {
        self.sentinels.iter().map(RedisServer::port).collect()
    }

    /// The ports of the master and the replicas (in start order).
    pub fn data_ports(&self) -> Vec<u16> {
        self.data.iter().map(RedisServer::port).collect()
    }

    /// An admin client of the data node on `port`.
    pub fn admin(&self, port: u16) -> Redis {
        self.data.iter().find(|s| s.port() == port).expect("a data node on that port").admin()
    }

    /// An admin client of the `i`-th sentinel.
    pub fn sentinel_admin(&self, i: usize) -> Redis {
        self.sentinels[i].admin()
    }

    /// The master's port, as a running sentinel reports it.
    pub async fn master_port(&self) -> u16 {
        for (i, s) in self.sentinels.iter().enumerate() {
            if !s.is_running() {
                continue;
            }
            let reply: siderpy::Result<Option<(String, u16)>> = self
                .sentinel_admin(i)
                .execute_cmd("SENTINEL", ("GET-MASTER-ADDR-BY-NAME", MASTER_NAME))
                .returning()
                .await;
            if let Ok(Some((_, port))) = reply {
                return port;
            }
        }
        panic!("no sentinel answered")
    }

    /// SIGKILLs the data node on `port`.
    pub fn kill_data(&mut self, port: u16) {
        self.data.iter_mut().find(|s| s.port() == port).expect("a data node on that port").kill();
    }

    /// SIGKILLs the `i`-th sentinel.
    pub fn kill_sentinel(&mut self, i: usize) {
        self.sentinels[i].kill();
    }

    /// Waits until every running sentinel names a master other than `port`.
    pub async fn wait_master_moved_from(&self, port: u16, timeout: Duration) -> u16 {
        wait_until("the sentinels to promote a replica", timeout, || async { self.master_port().await != port }).await;
        self.master_port().await
    }

    /// Waits until each running sentinel knows the master's two replicas
    /// and the two other sentinels: a failover can be agreed on then.
    pub async fn wait_whole(&self) {
        for (i, s) in self.sentinels.iter().enumerate() {
            if !s.is_running() {
                continue;
            }
            let admin = self.sentinel_admin(i);
            wait_until("the sentinels to know the replicas and each other", SETTLE_TIMEOUT, || async {
                let master: siderpy::Result<std::collections::HashMap<String, String>> =
                    admin.execute_cmd("SENTINEL", ("MASTER", MASTER_NAME)).returning().await;
                master.is_ok_and(|m| {
                    m.get("num-slaves").map(String::as_str) == Some("2")
                        && m.get("num-other-sentinels").map(String::as_str) == Some("2")
                        && m.get("flags").map(String::as_str) == Some("master")
                })
            })
            .await;
        }
    }
}

/// A stand-in sentinel for what real ones do only in a failover's brief
/// windows: it names whatever master the test sets (a replica, say), and
/// publishes nothing. It answers `PING`, `SUBSCRIBE` and
/// `SENTINEL GET-MASTER-ADDR-BY-NAME`; anything else is an error reply.
pub struct FakeSentinel {
    pub port: u16,
    /// The master port it names.
    pub master_port: Arc<std::sync::atomic::AtomicU16>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeSentinel {
    pub async fn start(master_port: u16) -> FakeSentinel {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let named = Arc::new(std::sync::atomic::AtomicU16::new(master_port));
        let master = Arc::clone(&named);
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let master = Arc::clone(&master);
                tokio::spawn(async move {
                    let (read, mut write) = socket.into_split();
                    let mut lines = BufReader::new(read).lines();
                    // Commands arrive as RESP arrays of bulk strings: keep
                    // the strings, skip the `*n` and `$len` lines.
                    let mut words: Vec<String> = Vec::new();
                    let mut expected = 0;
                    while let Ok(Some(line)) = lines.next_line().await {
                        if let Some(n) = line.strip_prefix('*') {
                            expected = n.parse().unwrap_or(0);
                            words.clear();
                            continue;
                        }
                        if line.starts_with('$') {
                            continue;
                        }
                        words.push(line.to_ascii_uppercase());
                        if words.len() < expected {
                            continue;
                        }
                        let reply = match words.first().map(String::as_str) {
                            Some("PING") => "+PONG\r\n".to_owned(),
                            Some("SUBSCRIBE") => "*3\r\n$9\r\nsubscribe\r\n$14\r\n+switch-master\r\n:1\r\n".to_owned(),
                            Some("SENTINEL") if words.get(1).map(String::as_str) == Some("GET-MASTER-ADDR-BY-NAME") => {
                                let port = master.load(std::sync::atomic::Ordering::SeqCst).to_string();
                                format!("*2\r\n$9\r\n127.0.0.1\r\n${}\r\n{port}\r\n", port.len())
                            }
                            _ => "-ERR not in this fake\r\n".to_owned(),
                        };
                        if write.write_all(reply.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        FakeSentinel { port, master_port: named, task }
    }

    /// `redis+sentinel://` naming only this sentinel.
    pub fn url(&self) -> String {
        format!("redis+sentinel://127.0.0.1:{}/{MASTER_NAME}", self.port)
    }
}

impl Drop for FakeSentinel {
    fn drop(&mut self) {
        self.task.abort();
    }
}
