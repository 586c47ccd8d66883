//! Test harness: a throwaway Redis Cluster of local `redis-server` processes.
//!
//! Each node is a [`RedisServer`] with `cluster-enabled yes`, its own
//! `nodes.conf` and cluster bus port, and a short `cluster-node-timeout` so
//! that failovers take a few seconds; `redis-cli --cluster create` (the
//! binary from `PATH`, or the one named by `REDIS_CLI_BIN`) joins them.
//!
//! ```ignore
//! let cluster = TestCluster::start(3, 1).await;
//! let secure = TestCluster::builder().password("pw").tls().start(3, 1).await;
//! let slot = 1234;
//! let owner = cluster.primary_for_slot(slot).await;
//! let target = cluster.primary_ports().await.into_iter().find(|&p| p != owner).unwrap();
//! cluster.migrate_slot(slot, target).await;
//! ```
//!
//! The harness talks to the nodes with plain single-node clients only.

use std::collections::{BTreeMap, HashMap};
use std::ops::RangeInclusive;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use siderpy::cluster::key_slot;
pub use siderpy::cluster::SLOTS;
use siderpy::prelude::*;
use siderpy::{FromValue, Redis};

use super::{conf_quote, Pki, RedisServer, RedisServerBuilder};

/// `cluster-node-timeout`: how long a node may not answer before it is
/// suspected to have failed. Short, so failovers are quick; not so short that
/// a busy machine makes healthy nodes look failed.
pub const NODE_TIMEOUT: Duration = Duration::from_millis(1000);
/// How long the cluster may take to be healthy after a change.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(20);
/// How long `redis-cli --cluster create` may take.
const CREATE_TIMEOUT: Duration = Duration::from_secs(30);
/// How often to look at the cluster while waiting.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// The `redis-cli` binary that creates clusters.
pub fn redis_cli_bin() -> String {
    std::env::var("REDIS_CLI_BIN").unwrap_or_else(|_| "redis-cli".to_owned())
}

/// Settings of one cluster node; [`TestCluster::start`] starts its nodes
/// from this. Also usable alone, for a node that answers cluster commands
/// such as `CLUSTER KEYSLOT` without being part of a cluster.
pub fn node_builder() -> RedisServerBuilder {
    RedisServer::builder()
        .cluster_bus()
        .config("cluster-enabled yes")
        // Relative to `dir`, the server's temporary directory.
        .config("cluster-config-file nodes.conf")
        .config(&format!("cluster-node-timeout {}", NODE_TIMEOUT.as_millis()))
        // A replica may take over however long ago it last heard its primary.
        .config("cluster-replica-validity-factor 0")
        // Replicas stay where `--cluster create` put them: no surprise moves
        // to a primary left without replicas after a failover.
        .config("cluster-allow-replica-migration no")
        // Replicas sync at once rather than after the default 5 s.
        .config("repl-diskless-sync yes")
        .config("repl-diskless-sync-delay 0")
}

// ---------------------------------------------------------------------------
// Hash slots

/// For every slot, the first of `k0`, `k1`, `k2`... that hashes to it.
fn slot_keys() -> &'static [String] {
    static KEYS: OnceLock<Vec<String>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut keys: Vec<Option<String>> = vec![None; SLOTS as usize];
        let mut missing = SLOTS as usize;
        for n in 0u64.. {
            let key = format!("k{n}");
            let slot = &mut keys[key_slot(key.as_bytes()) as usize];
            if slot.is_none() {
                *slot = Some(key);
                missing -= 1;
                if missing == 0 {
                    break;
                }
            }
        }
        keys.into_iter().map(|k| k.expect("every slot has a key")).collect()
    })
}

/// A key (without a hash tag) that hashes to `slot`.
///
/// # Panics
/// If `slot` is not below [`SLOTS`].
pub fn key_for_slot(slot: u16) -> String {
    assert!(slot < SLOTS, "slot {slot} out of range");
    slot_keys()[slot as usize].clone()
}

/// `n` distinct keys hashing to `slot`, all sharing one hash tag:
/// `{k…}:0`, `{k…}:1`...
pub fn keys_for_slot(slot: u16, n: usize) -> Vec<String> {
    let tag = key_for_slot(slot);
    (0..n).map(|i| format!("{{{tag}}}:{i}")).collect()
}

// ---------------------------------------------------------------------------
// CLUSTER NODES

/// What a node is in the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Primary,
    Replica,
}

/// One node as the cluster currently sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterNode {
    /// The client port.
    pub port: u16,
    /// The 40-character node id.
    pub id: String,
    pub role: Role,
    /// The id of the primary a replica replicates.
    pub primary_id: Option<String>,
    /// The slots it serves (a primary), as ranges.
    pub slots: Vec<RangeInclusive<u16>>,
    /// Whether its process runs. A node that does not is described as the
    /// running nodes see it (flagged `fail`, once they agree it failed).
    pub running: bool,
    /// The flags of its `CLUSTER NODES` line (`myself`, `master`, `fail?`...).
    pub flags: Vec<String>,
}

impl ClusterNode {
    /// Whether it serves `slot`.
    pub fn owns(&self, slot: u16) -> bool {
        self.slots.iter().any(|r| r.contains(&slot))
    }

    fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }
}

/// Parses a `CLUSTER NODES` reply. Ports are those before the `@`; migrating
/// and importing markers (`[slot->-id]`) are skipped. `running` is left true.
pub fn parse_cluster_nodes(text: &str) -> Vec<ClusterNode> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            assert!(fields.len() >= 8, "malformed CLUSTER NODES line: {line}");
            let addr = fields[1].split(['@', ',']).next().unwrap_or_default();
            let port = addr.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap_or(0);
            let flags: Vec<String> = fields[2].split(',').map(str::to_owned).collect();
            let role = if flags.iter().any(|f| f == "slave") { Role::Replica } else { Role::Primary };
            let slots = fields[8..]
                .iter()
                .filter(|s| !s.starts_with('['))
                .map(|s| {
                    let (a, b) = s.split_once('-').unwrap_or((s, s));
                    let parse = |n: &str| n.parse::<u16>().unwrap_or_else(|_| panic!("bad slot {s:?} in: {line}"));
                    parse(a)..=parse(b)
                })
                .collect();
            ClusterNode {
                port,
                id: fields[0].to_owned(),
                role,
                primary_id: (fields[3] != "-").then(|| fields[3].to_owned()),
                slots,
                running: true,
                flags,
            }
        })
        .collect()
}

/// A slot being moved by [`TestCluster::begin_migration`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    pub slot: u16,
    /// The port of the primary that served the slot.
    pub from: u16,
    /// The port of the primary that will.
    pub to: u16,
}

/// What [`TestCluster::kill_primary`] noted about the primary it killed.
#[derive(Debug, Clone)]
struct Killed {
    slots: Vec<RangeInclusive<u16>>,
    replicas: Vec<u16>,
}

// ---------------------------------------------------------------------------
// The cluster

/// A running Redis Cluster; every node is killed on drop.
#[derive(Debug)]
pub struct TestCluster {
    /// The nodes, in the order given to `redis-cli --cluster create`.
    servers: Vec<RedisServer>,
    /// Node ids, by client port.
    ids: HashMap<u16, String>,
    /// What [`kill_primary`](Self::kill_primary) noted, by port.
    killed: HashMap<u16, Killed>,
    startup: Duration,
    /// The default user's password, which the harness gives too.
    password: Option<String>,
    /// Whether the nodes listen for TLS only.
    tls: bool,
}

/// Settings of a [`TestCluster`]: what every node requires of its clients.
#[derive(Debug, Clone, Default)]
#[must_use = "call .start() to run the cluster"]
pub struct TestClusterBuilder {
    password: Option<String>,
    users: Vec<(String, String)>,
    tls: bool,
    config: Vec<String>,
}

impl TestClusterBuilder {
    /// Every node requires `password` of the default user (`requirepass`),
    /// and replicas give it to their primary (`masterauth`).
    pub fn password(mut self, password: &str) -> Self {
        self.password = Some(password.to_owned());
        self
    }

    /// Every node has an ACL user `name` allowed everything, with `password`.
    pub fn acl_user(mut self, name: &str, password: &str) -> Self {
        self.users.push((name.to_owned(), password.to_owned()));
        self
    }

    /// Every node listens for TLS only (`port 0`), and talks TLS on the
    /// cluster bus and for replication; all share one CA, whose server
    /// certificate is for `localhost` and `127.0.0.1`. Node ports are then
    /// TLS ports; connect with [`TestCluster::tls_client_config`].
    pub fn tls(mut self) -> Self {
        self.tls = true;
        self
    }

    /// Adds a line to every node's configuration (`loadmodule /path/rejson.so`).
    pub fn config(mut self, line: &str) -> Self {
        self.config.push(line.to_owned());
        self
    }

    /// The settings of one node; `pki` is the cluster's CA when it is TLS.
    fn node(&self, pki: Option<&Arc<Pki>>) -> RedisServerBuilder {
        let mut node = node_builder();
        for line in &self.config {
            node = node.config(line);
        }
        if let Some(pw) = &self.password {
            node = node.password(pw).config(&format!("masterauth {}", conf_quote(pw)));
        }
        for (name, pw) in &self.users {
            node = node.user(name, pw);
        }
        if let Some(pki) = pki {
            node = node.tls_only().tls_pki(Arc::clone(pki)).config("tls-cluster yes").config("tls-replication yes");
        }
        node
    }

    /// Starts the cluster as [`TestCluster::start`] does.
    pub async fn start(self, primaries: usize, replicas_per_primary: usize) -> TestCluster {
        assert!(primaries >= 3, "redis-cli --cluster create needs at least 3 primaries, not {primaries}");
        let began = Instant::now();
        let count = primaries * (1 + replicas_per_primary);
        let pki = self.tls.then(|| Arc::new(Pki::generate()));
        let node = self.node(pki.as_ref());
        // `RedisServerBuilder::start` blocks its thread while the server
        // starts (and retries with fresh ports when one was taken): start
        // them side by side, off the runtime.
        let servers = tokio::task::spawn_blocking(move || {
            std::thread::scope(|s| {
                let starting: Vec<_> = (0..count).map(|_| s.spawn(|| node.clone().start())).collect();
                starting.into_iter().map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
            })
        })
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        let mut cluster = TestCluster {
            servers,
            ids: HashMap::new(),
            killed: HashMap::new(),
            startup: Duration::ZERO,
            password: self.password,
            tls: self.tls,
        };
        for server in &cluster.servers {
            let id: String = cluster.query(server.port(), "CLUSTER", vec!["MYID"]).await;
            cluster.ids.insert(server.port(), id);
        }
        cluster.create(replicas_per_primary).await;
        cluster.wait_until_healthy("the new cluster to form").await;
        cluster.startup = began.elapsed();
        cluster
    }
}

impl TestCluster {
    /// Starts `primaries` primaries (at least 3, as `redis-cli` requires)
    /// with `replicas_per_primary` replicas each, and waits until every node
    /// reports `cluster_state:ok`, all agree on the slot map and the nodes,
    /// and every replica's link to its primary is up. No auth, no TLS: see
    /// [`builder`](Self::builder) for those.
    ///
    /// # Panics
    /// When the nodes do not start or the cluster does not form in time.
    pub async fn start(primaries: usize, replicas_per_primary: usize) -> TestCluster {
        TestCluster::builder().start(primaries, replicas_per_primary).await
    }

    /// Settings for a cluster whose nodes require a password, ACL users or TLS.
    pub fn builder() -> TestClusterBuilder {
        TestClusterBuilder::default()
    }

    /// Runs `redis-cli --cluster create` on every node.
    async fn create(&self, replicas_per_primary: usize) {
        let mut cmd = tokio::process::Command::new(redis_cli_bin());
        // In the environment rather than `-a`: not in the process list, and no warning.
        match &self.password {
            Some(pw) => cmd.env("REDISCLI_AUTH", pw),
            None => cmd.env_remove("REDISCLI_AUTH"),
        };
        if self.tls {
            cmd.arg("--tls").arg("--cacert").arg(self.servers[0].ca_cert_path());
        }
        cmd.arg("--cluster").arg("create");
        cmd.args(self.servers.iter().map(|s| format!("127.0.0.1:{}", s.port())));
        cmd.arg("--cluster-replicas").arg(replicas_per_primary.to_string()).arg("--cluster-yes");
        cmd.stdin(std::process::Stdio::null()).kill_on_drop(true);
        let output = tokio::time::timeout(CREATE_TIMEOUT, cmd.output())
            .await
            .unwrap_or_else(|_| panic!("redis-cli --cluster create took more than {CREATE_TIMEOUT:?}"))
            .unwrap_or_else(|e| panic!("cannot run {} (set REDIS_CLI_BIN): {e}", redis_cli_bin()));
        let stdout = String::from_utf8_lossy(&output.stdout);
        // redis-cli exits 0 on some failures: it says "[OK] All 16384 slots covered." on success.
        assert!(
            output.status.success() && stdout.contains("All 16384 slots covered"),
            "redis-cli --cluster create failed ({}):\n{stdout}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// How long [`start`](Self::start) took, until the cluster was healthy.
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    /// Every node's client port, in creation order (killed nodes too).
    pub fn ports(&self) -> Vec<u16> {
        self.servers.iter().map(RedisServer::port).collect()
    }

    /// A rustls configuration trusting the CA of a [TLS](TestClusterBuilder::tls) cluster.
    ///
    /// # Panics
    /// If the cluster was started without TLS.
    pub fn tls_client_config(&self) -> Arc<rustls::ClientConfig> {
        assert!(self.tls, "the cluster was started without .tls()");
        self.servers[0].tls_client_config()
    }

    /// `redis://127.0.0.1:PORT` of every running node (`rediss://` with
    /// [TLS](TestClusterBuilder::tls)), without credentials.
    pub fn seed_urls(&self) -> Vec<String> {
        self.servers.iter().filter(|s| s.is_running()).map(RedisServer::url).collect()
    }

    /// The node on `port`, to [pause](RedisServer::pause) and the like.
    ///
    /// # Panics
    /// If no node of the cluster listens there.
    pub fn node(&self, port: u16) -> &RedisServer {
        self.servers.iter().find(|s| s.port() == port).unwrap_or_else(|| panic!("no cluster node on port {port}"))
    }

    /// The node on `port`, to [kill](RedisServer::kill) or
    /// [restart](RedisServer::restart) (see also [`kill_primary`](Self::kill_primary)).
    pub fn node_mut(&mut self, port: u16) -> &mut RedisServer {
        self.servers.iter_mut().find(|s| s.port() == port).unwrap_or_else(|| panic!("no cluster node on port {port}"))
    }

    /// The node id of the node on `port`.
    pub fn node_id(&self, port: u16) -> &str {
        self.ids.get(&port).unwrap_or_else(|| panic!("no cluster node on port {port}"))
    }

    /// The port of the node with id `id`.
    pub fn port_of(&self, id: &str) -> u16 {
        *self.ids.iter().find(|(_, i)| *i == id).unwrap_or_else(|| panic!("no cluster node has id {id}")).0
    }

    /// A plain (single-node) client of the node on `port`.
    pub fn admin(&self, port: u16) -> Redis {
        self.node(port).admin()
    }

    /// The harness's own client of a node: bounded waits, so that a node that
    /// does not answer makes the harness fail rather than hang.
    fn client(&self, port: u16) -> Redis {
        self.node(port)
            .admin_builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Some(Duration::from_secs(10)))
            .build()
    }

    /// Runs a command on the node on `port`, panicking on failure.
    async fn query<T: FromValue + Send + 'static>(&self, port: u16, cmd: &str, args: Vec<&str>) -> T {
        self.client(port)
            .execute_cmd(cmd, args.clone())
            .returning()
            .await
            .unwrap_or_else(|e| panic!("{cmd} {} on port {port}: {e}", args.join(" ")))
    }

    /// Every node as the cluster sees it now: a running node as it describes
    /// itself (the `myself` line of its `CLUSTER NODES`), any other as a
    /// running node describes it. In creation order. A paused node is
    /// waited for up to the harness's 10 s reply timeout, then described as
    /// the others see it.
    pub async fn nodes(&self) -> Vec<ClusterNode> {
        let mut views = BTreeMap::new();
        for server in self.servers.iter().filter(|s| s.is_running()) {
            if let Ok(text) = self.client(server.port()).execute_cmd("CLUSTER", ["NODES"]).returning::<String>().await {
                views.insert(server.port(), parse_cluster_nodes(&text));
            }
        }
        self.servers
            .iter()
            .map(|server| {
                let port = server.port();
                let id = self.node_id(port);
                let own = views.get(&port).and_then(|v| v.iter().find(|n| n.id == id && n.has_flag("myself")));
                let seen = || views.values().flat_map(|v| v.iter()).find(|n| n.id == id);
                let mut node = own.or_else(seen).cloned().unwrap_or_else(|| panic!("no running node knows {id}"));
                // The address of a node others cannot reach may be blank.
                node.port = port;
                node.running = server.is_running();
                node
            })
            .collect()
    }

    /// The running primaries, as they describe themselves.
    pub async fn primaries(&self) -> Vec<ClusterNode> {
        self.nodes().await.into_iter().filter(|n| n.running && n.role == Role::Primary).collect()
    }

    /// The ports of the running primaries.
    pub async fn primary_ports(&self) -> Vec<u16> {
        self.primaries().await.iter().map(|n| n.port).collect()
    }

    /// The ports of the running replicas of the primary on `port`.
    pub async fn replicas_of(&self, port: u16) -> Vec<u16> {
        let id = self.node_id(port);
        self.nodes()
            .await
            .into_iter()
            .filter(|n| n.running && n.primary_id.as_deref() == Some(id))
            .map(|n| n.port)
            .collect()
    }

    /// The port of the running primary that says it serves `slot` (during a
    /// migration, the source).
    ///
    /// # Panics
    /// If no running primary serves it.
    pub async fn primary_for_slot(&self, slot: u16) -> u16 {
        let primaries = self.primaries().await;
        primaries
            .iter()
            .find(|n| n.owns(slot))
            .unwrap_or_else(|| panic!("no running primary serves slot {slot}: {primaries:#?}"))
            .port
    }

    /// For each running primary, its port and a key in the first slot it serves.
    pub async fn key_on_each_primary(&self) -> Vec<(u16, String)> {
        self.primaries()
            .await
            .iter()
            .map(|n| {
                let slot = *n.slots.first().unwrap_or_else(|| panic!("primary {} serves no slot", n.port)).start();
                (n.port, key_for_slot(slot))
            })
            .collect()
    }

    // -----------------------------------------------------------------------
    // Resharding

    /// Moves `slot` and its keys to the primary on `to`, as `redis-cli
    /// --cluster reshard` does, and waits until every node agrees.
    pub async fn migrate_slot(&self, slot: u16, to: u16) {
        let migration = self.begin_migration(slot, to).await;
        while self.migrate_keys_batch(&migration, 100).await > 0 {}
        self.finish_migration(migration).await;
    }

    /// Marks `slot` importing on `to` and migrating on its current owner.
    /// From now on the owner answers `-ASK` for keys it no longer has, until
    /// [`finish_migration`](Self::finish_migration).
    pub async fn begin_migration(&self, slot: u16, to: u16) -> Migration {
        let from = self.primary_for_slot(slot).await;
        assert_ne!(from, to, "slot {slot} is already on port {to}");
        let slot_arg = slot.to_string();
        let _: () = self.query(to, "CLUSTER", vec!["SETSLOT", &slot_arg, "IMPORTING", self.node_id(from)]).await;
        let _: () = self.query(from, "CLUSTER", vec!["SETSLOT", &slot_arg, "MIGRATING", self.node_id(to)]).await;
        Migration { slot, from, to }
    }

    /// Moves up to `count` keys of the slot from the source to the target
    /// (`MIGRATE ... REPLACE KEYS`); returns how many it moved, 0 once the
    /// source has none left.
    pub async fn migrate_keys_batch(&self, migration: &Migration, count: usize) -> usize {
        let Migration { slot, from, to } = *migration;
        let slot_arg = slot.to_string();
        let count_arg = count.to_string();
        let keys: Vec<Bytes> = self.query(from, "CLUSTER", vec!["GETKEYSINSLOT", &slot_arg, &count_arg]).await;
        if keys.is_empty() {
            return 0;
        }
        let mut args: Vec<Bytes> = ["127.0.0.1", &to.to_string(), "", "0", "5000", "REPLACE"]
            .iter()
            .map(|a| Bytes::from(a.to_string()))
            .collect();
        if let Some(pw) = &self.password {
            args.extend([Bytes::from_static(b"AUTH"), Bytes::from(pw.clone())]);
        }
        args.push(Bytes::from_static(b"KEYS"));
        args.extend(keys.iter().cloned());
        let reply: String = self
            .client(from)
            .execute_cmd("MIGRATE", args)
            .returning()
            .await
            .unwrap_or_else(|e| panic!("MIGRATE of {} keys of slot {slot} from {from} to {to}: {e}", keys.len()));
        assert_eq!(reply, "OK", "MIGRATE of slot {slot} from {from} to {to}");
        keys.len()
    }

    /// Assigns the slot to the target on the target, the source and every
    /// other running primary (`CLUSTER SETSLOT slot NODE id`), and waits
    /// until every node agrees. The source must hold no key of the slot.
    pub async fn finish_migration(&self, migration: Migration) {
        let Migration { slot, from, to } = migration;
        let slot_arg = slot.to_string();
        let dst = self.node_id(to);
        let others = self.primary_ports().await.into_iter().filter(|&p| p != from && p != to);
        for port in [to, from].into_iter().chain(others) {
            let _: () = self.query(port, "CLUSTER", vec!["SETSLOT", &slot_arg, "NODE", dst]).await;
        }
        self.wait_until_healthy(&format!("slot {slot} to move from {from} to {to}")).await;
        let owner = self.primary_for_slot(slot).await;
        assert_eq!(owner, to, "slot {slot} did not move to {to}");
    }

    // -----------------------------------------------------------------------
    // Failures

    /// Kills the primary on `port` (SIGKILL), noting its replicas and slots
    /// for [`wait_for_failover`](Self::wait_for_failover).
    ///
    /// # Panics
    /// If the node is not a running primary.
    pub async fn kill_primary(&mut self, port: u16) {
        let nodes = self.nodes().await;
        let node = nodes.iter().find(|n| n.port == port).expect("a node of the cluster");
        assert!(node.running && node.role == Role::Primary, "port {port} is not a running primary: {node:?}");
        let replicas =
            nodes.iter().filter(|n| n.running && n.primary_id.as_deref() == Some(&node.id)).map(|n| n.port).collect();
        let killed = Killed { slots: node.slots.clone(), replicas };
        self.killed.insert(port, killed);
        self.node_mut(port).kill();
    }

    /// Waits until a replica of the (killed) primary that was on `old` has
    /// been promoted, serves its slots, and the cluster is healthy again;
    /// returns the new primary's port.
    ///
    /// # Panics
    /// After a timeout, saying what was still missing.
    pub async fn wait_for_failover(&self, old: u16) -> u16 {
        let noted = self.killed.get(&old).cloned();
        let Killed { slots, replicas } = match noted {
            Some(k) => k,
            // Killed some other way: its replicas have not been promoted yet.
            None => Killed { slots: Vec::new(), replicas: self.replicas_of(old).await },
        };
        assert!(!replicas.is_empty(), "the primary on port {old} has no replica to take over");
        let began = Instant::now();
        let deadline = began + SETTLE_TIMEOUT;
        loop {
            let nodes = self.nodes().await;
            let promoted = nodes.iter().find(|n| {
                n.running
                    && replicas.contains(&n.port)
                    && n.role == Role::Primary
                    && slots.iter().all(|r| n.owns(*r.start()) && n.owns(*r.end()))
            });
            let why = match promoted {
                None => format!("no replica of {old} ({replicas:?}) is primary yet: {nodes:#?}"),
                Some(new) => match self.health().await {
                    Ok(()) => {
                        eprintln!("failover from {old} to {} took {:?}", new.port, began.elapsed());
                        return new.port;
                    }
                    Err(why) => why,
                },
            };
            assert!(Instant::now() < deadline, "no failover of {old} after {SETTLE_TIMEOUT:?}: {why}");
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Has the replica on `port` take over from its primary (`CLUSTER
    /// FAILOVER`, the graceful manual failover) and waits until the cluster is
    /// healthy with it as primary; returns the old primary's port.
    pub async fn manual_failover(&self, port: u16) -> u16 {
        let me = self.nodes().await.into_iter().find(|n| n.port == port).expect("a node of the cluster");
        let old = self.port_of(me.primary_id.as_deref().unwrap_or_else(|| panic!("port {port} is no replica")));
        let _: () = self.query(port, "CLUSTER", vec!["FAILOVER"]).await;
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        loop {
            let nodes = self.nodes().await;
            let why = if nodes.iter().any(|n| n.port == port && n.role == Role::Primary) {
                match self.health().await {
                    Ok(()) => return old,
                    Err(why) => why,
                }
            } else {
                format!("{port} is not primary yet: {nodes:#?}")
            };
            assert!(Instant::now() < deadline, "no manual failover of {old} to {port} after {SETTLE_TIMEOUT:?}: {why}");
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    // -----------------------------------------------------------------------
    // Health

    /// Waits until [`health`](Self::health) is fine.
    ///
    /// # Panics
    /// After a timeout, naming `what` and what was still wrong.
    pub async fn wait_until_healthy(&self, what: &str) {
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        loop {
            match self.health().await {
                Ok(()) => return,
                Err(why) => assert!(Instant::now() < deadline, "timed out waiting for {what}: {why}"),
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Whether the cluster is settled: every running node reports
    /// `cluster_state:ok` with all 16384 slots ok and knows every node, all
    /// running nodes describe the cluster alike (nodes, roles, primaries,
    /// slots, and no migration under way), none suspects a running node, and
    /// every running replica's link to its primary is up. `Err` says what is not.
    pub async fn health(&self) -> Result<(), String> {
        let running: Vec<u16> = self.servers.iter().filter(|s| s.is_running()).map(RedisServer::port).collect();
        let mut first: Option<(u16, Vec<ClusterNode>)> = None;
        for &port in &running {
            let redis = self.client(port);
            let info: String =
                redis.execute_cmd("CLUSTER", ["INFO"]).returning().await.map_err(|e| format!("{port}: {e}"))?;
            let field = |name: &str| {
                info.lines()
                    .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                    .map(str::trim)
                    .unwrap_or("?")
                    .to_owned()
            };
            for (name, want) in [
                ("cluster_state", "ok".to_owned()),
                ("cluster_slots_ok", SLOTS.to_string()),
                ("cluster_known_nodes", self.servers.len().to_string()),
            ] {
                let got = field(name);
                if got != want {
                    return Err(format!("{port} reports {name}:{got}, not {want}"));
                }
            }
            let text: String =
                redis.execute_cmd("CLUSTER", ["NODES"]).returning().await.map_err(|e| format!("{port}: {e}"))?;
            if text.contains("->-") || text.contains("-<-") {
                return Err(format!("{port} has a slot migration under way:\n{text}"));
            }
            let mut view = parse_cluster_nodes(&text);
            view.sort_by(|a, b| a.id.cmp(&b.id));
            for node in &view {
                if !self.ids.values().any(|id| *id == node.id) {
                    return Err(format!("{port} knows a stranger:\n{text}"));
                }
                let node_running = running.contains(&self.port_of(&node.id));
                let bad = ["fail", "fail?", "handshake", "noaddr"].into_iter().find(|f| node.has_flag(f));
                if let (true, Some(flag)) = (node_running, bad) {
                    return Err(format!("{port} flags the running node {} {flag}:\n{text}", node.port));
                }
                if node.role == Role::Replica && !node_running {
                    continue;
                }
                if node.role == Role::Replica
                    && node.primary_id.as_deref().is_some_and(|p| !running.contains(&self.port_of(p)))
                {
                    return Err(format!("{port} sees {} replicate a node that is down:\n{text}", node.port));
                }
                if node.has_flag("myself") && node.role == Role::Replica {
                    let repl: String = redis
                        .execute_cmd("INFO", ["replication"])
                        .returning()
                        .await
                        .map_err(|e| format!("{port}: {e}"))?;
                    if !repl.lines().any(|l| l.trim() == "master_link_status:up") {
                        return Err(format!("replica {port}'s link to its primary is not up:\n{repl}"));
                    }
                }
            }
            // Compare views without what differs from node to node.
            let normalized: Vec<ClusterNode> = view
                .into_iter()
                .map(|mut n| {
                    n.port = self.port_of(&n.id);
                    n.flags.clear();
                    n
                })
                .collect();
            match &first {
                None => first = Some((port, normalized)),
                Some((p0, v0)) if *v0 != normalized => {
                    return Err(format!("{p0} and {port} see the cluster differently:\n{v0:#?}\n{normalized:#?}"))
                }
                Some(_) => {}
            }
        }
        Ok(())
    }
}
