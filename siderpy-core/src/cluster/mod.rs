//! [`RedisCluster`]: one client for a whole Redis Cluster, with the same
//! typed API as [`Redis`], routing each command to the node that serves its
//! keys.
//!
//! Each node is reached through a [`Redis`] of its own (one shared,
//! pipelined connection, blocking commands on side connections), so
//! everything a single-server client does well, a cluster client does per
//! node. This module adds the map from slots to nodes and what keeps it
//! right: redirections (`MOVED`, `ASK`), retries while the cluster heals
//! (`TRYAGAIN`, `CLUSTERDOWN`, unreachable nodes) and topology refreshes.

mod pipeline;
mod pubsub;
mod route;
mod scan;
mod slot;
mod topology;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::BytesMut;

use crate::args::CmdArgs;
use crate::client::{Redis, RedisBuilder};
use crate::command::{CallOptions, Cmd, Executor};
use crate::connection::Frames;
use crate::convert::{convert, FromValue, TextPolicy};
use crate::error::{Error, Result, Timeout};
use crate::info::{parse_url, Addr};
use crate::trace as tracing;
use crate::value::Value;

pub use pubsub::ClusterPubSub;
pub(crate) use route::{redirect, route, Redirect, Route};
pub use scan::{ClusterScanIter, MAX_ROUNDS};
pub use slot::{key_slot, SLOTS};
pub use topology::NodeAddr;
use topology::Topology;

/// The connect timeout of every node's client unless the settings give one
/// (it also bounds each node's answer to `CLUSTER SHARDS`): a node that
/// went away without refusing connections (a host gone, not a process)
/// must not hold up discovery and retries for the system's TCP timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How many times one command may be redirected or retried before its
/// last error is returned.
pub const DEFAULT_MAX_ATTEMPTS: usize = 16;

/// The first pause before retrying while the cluster heals; it doubles on
/// each retry, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(25);
const MAX_BACKOFF: Duration = Duration::from_millis(400);

/// A client for a Redis Cluster.
///
/// Built from one or more seed URLs (any of them is enough to discover the
/// rest); every node is reached with the seed's settings (auth, TLS,
/// timeouts, RESP version). It is cheap to clone and every clone shares the
/// connections: one per node, shared by all tasks, which is what a pool
/// would give (a cluster has no pool; clone the client instead).
///
/// Every typed method of [`Commands`](crate::Commands) and `execute_cmd`
/// work on it. Each command goes to the node serving the slot of its keys,
/// found from the spec's key specs (so commands from a regenerated
/// `commands.json` route right too); keyless commands follow the spec's
/// request policy (`DBSIZE` is summed over all primaries, `FLUSHALL` goes to
/// all) or go to any primary.
///
/// Commands whose keys hash to different slots fail before sending with
/// [`Error::CrossSlot`]; see [`RedisClusterBuilder::split_multi_key_commands`].
/// Redirections and retries are handled here: callers see only what they
/// could not have avoided. A command whose connection failed while it was
/// in flight is not retried (it may have run); the topology is refreshed so
/// the next one finds the right node.
///
/// ```no_run
/// # extern crate siderpy_core as siderpy;
/// # async fn f() -> siderpy::Result<()> {
/// use siderpy::prelude::*;
/// let cluster = siderpy::cluster::RedisCluster::new(&["redis://10.0.0.1:7000", "redis://10.0.0.2:7000"])?;
/// cluster.set("user:1", "ada").await?;
/// let n: i64 = cluster.dbsize().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisCluster {
    inner: Arc<Inner>,
}

struct Inner {
    /// The settings every node's client is built with.
    client: RedisBuilder,
    seeds: Vec<NodeAddr>,
    topology: RwLock<Arc<Topology>>,
    /// Bumped by every refresh, so that callers who saw the same stale map
    /// refresh it once between them.
    epoch: std::sync::atomic::AtomicU64,
    refreshing: tokio::sync::Mutex<()>,
    /// One handle per node, shared by every caller (a clone of a `Redis`
    /// would make a handle of its own, with its own state, per command).
    nodes: Mutex<HashMap<NodeAddr, Arc<Redis>>>,
    settings: Settings,
}

#[derive(Debug, Clone, Copy)]
struct Settings {
    read_from_replicas: bool,
    split_multi_key: bool,
    max_attempts: usize,
}

impl std::fmt::Debug for RedisCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCluster")
            .field("seeds", &self.inner.seeds)
            .field("topology", &self.topology())
            .field("settings", &self.inner.settings)
            .finish()
    }
}

/// Builds a [`RedisCluster`]: the seeds, every node's client settings, and
/// how commands are routed.
#[derive(Debug, Clone)]
#[must_use = "call .build() to get the client"]
pub struct RedisClusterBuilder {
    client: RedisBuilder,
    seeds: Vec<NodeAddr>,
    settings: Settings,
}

impl RedisClusterBuilder {
    /// The settings of every node's client (timeouts, TLS, RESP version...),
    /// as for a [`Redis`]; they start from the first seed URL's. Without a
    /// connect timeout of their own they get [`DEFAULT_CONNECT_TIMEOUT`].
    pub fn client(mut self, settings: impl FnOnce(RedisBuilder) -> RedisBuilder) -> Self {
        self.client = settings(self.client);
        self
    }

    /// Sends read-only commands (as the spec flags them) to replicas, chosen
    /// in turn with the primary, on connections that sent `READONLY`. Off by
    /// default: a replica may lag behind its primary.
    pub fn read_from_replicas(mut self, yes: bool) -> Self {
        self.settings.read_from_replicas = yes;
        self
    }

    /// Splits `MGET`, `MSET`, `DEL`, `EXISTS`, `UNLINK` and `TOUCH` whose
    /// keys span slots into one command per slot, sent concurrently, and
    /// puts the replies back together (`MGET` values in the order asked,
    /// counts added up). Off by default, since the split command is no longer
    /// atomic: another client may see some of an `MSET`'s keys set and not
    /// the others.
    pub fn split_multi_key_commands(mut self, yes: bool) -> Self {
        self.settings.split_multi_key = yes;
        self
    }

    /// How many times one command may be redirected or retried
    /// ([`DEFAULT_MAX_ATTEMPTS`] by default).
    pub fn max_attempts(mut self, attempts: usize) -> Self {
        self.settings.max_attempts = attempts.max(1);
        self
    }

    /// The client. No I/O happens until the first command.
    pub fn build(self) -> RedisCluster {
        RedisCluster {
            inner: Arc::new(Inner {
                client: self.client.default_connect_timeout(DEFAULT_CONNECT_TIMEOUT),
                seeds: self.seeds,
                topology: RwLock::new(Arc::new(Topology::default())),
                epoch: Default::default(),
                refreshing: tokio::sync::Mutex::new(()),
                nodes: Mutex::new(HashMap::new()),
                settings: self.settings,
            }),
        }
    }
}

impl RedisCluster {
    /// A client for the cluster that `seeds` belong to, with default
    /// settings. No I/O happens here.
    ///
    /// # Errors
    /// [`Error::Url`] for an invalid URL; [`Error::Usage`] for no seeds or a
    /// unix-socket URL (cluster nodes listen on TCP).
    pub fn new<S: AsRef<str>>(seeds: &[S]) -> Result<Self> {
        Ok(Self::builder(seeds)?.build())
    }

    /// A builder for a client of the cluster that `seeds` belong to. Every
    /// node gets the first URL's settings (user, password, TLS, db 0 only,
    /// RESP version); the others only add addresses to start from.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn builder<S: AsRef<str>>(seeds: &[S]) -> Result<RedisClusterBuilder> {
        let mut infos = seeds.iter().map(|s| parse_url(s.as_ref())).collect::<Result<Vec<_>, _>>()?;
        if infos.is_empty() {
            return Err(Error::Usage("a cluster client needs at least one seed URL".into()));
        }
        let mut addrs = Vec::new();
        for info in &infos {
            match &info.addr {
                &Addr::Tcp { ref host, port } => addrs.push(NodeAddr { host: host.clone(), port }),
                Addr::Unix(path) => {
                    return Err(Error::Usage(format!(
                        "cluster nodes are reached over TCP, not a unix socket ({})",
                        path.display()
                    )))
                }
            }
        }
        if infos[0].db != 0 {
            return Err(Error::Usage("a cluster has only database 0".into()));
        }
        Ok(RedisClusterBuilder {
            client: RedisBuilder::from_info(infos.swap_remove(0)),
            seeds: addrs,
            settings: Settings {
                read_from_replicas: false,
                split_multi_key: false,
                max_attempts: DEFAULT_MAX_ATTEMPTS,
            },
        })
    }

    /// The primaries the client knows, each as a [`Redis`] for work that
    /// belongs to one node (`SCAN` per node, `INFO` of each...). Discovers
    /// the cluster first if needed.
    ///
    /// # Errors
    /// No seed or known node answered `CLUSTER SHARDS`/`CLUSTER SLOTS`.
    pub async fn primaries(&self) -> Result<Vec<Redis>> {
        let topology = self.current_topology().await?;
        let mut addrs: Vec<&NodeAddr> = topology.shards().iter().map(|s| &s.primary).collect();
        addrs.sort();
        addrs.dedup();
        Ok(addrs.into_iter().map(|a| Redis::clone(&self.node(a))).collect())
    }

    /// The client of the node serving `slot`'s primary (see [`key_slot`]).
    ///
    /// # Errors
    /// As [`primaries`](Self::primaries), or [`Error::Cluster`] when no
    /// node serves the slot.
    pub async fn node_for_slot(&self, slot: u16) -> Result<Redis> {
        let topology = self.current_topology().await?;
        let shard = topology.shard(slot).ok_or_else(|| unserved(slot))?;
        Ok(Redis::clone(&self.node(&shard.primary)))
    }

    /// What the nodes' client-side caches did so far, summed; `None`
    /// without one (set it with `builder().client(|c| c.cache(..))`: each
    /// node's client keeps its own, fed by that node's invalidations).
    pub fn cache_stats(&self) -> Option<crate::CacheStats> {
        let nodes: Vec<Arc<Redis>> = self.nodes().values().cloned().collect();
        nodes.iter().filter_map(|n| n.cache_stats()).reduce(|a, b| a + b)
    }

    /// Re-reads the cluster's layout now. The client does this by itself
    /// after redirections and connection failures; this is for callers who
    /// know the layout changed.
    ///
    /// # Errors
    /// No seed or known node answered.
    pub async fn refresh_topology(&self) -> Result<()> {
        self.refresh(self.epoch()).await.map(drop)
    }

    /// Closes every node's connections; the next command reconnects.
    pub async fn close(&self) {
        let nodes: Vec<Arc<Redis>> = self.nodes().values().cloned().collect();
        for node in nodes {
            node.close().await;
        }
    }

    /// A subscriber for shard channels (`SSUBSCRIBE`), and ordinary
    /// channels and patterns, across the cluster; see [`ClusterPubSub`].
    ///
    /// # Panics
    /// Outside a Tokio runtime: the subscriber starts a task that keeps its
    /// subscriptions where the cluster serves them.
    pub fn pubsub(&self) -> ClusterPubSub {
        ClusterPubSub::new(self.clone())
    }

    pub(crate) fn text_policy(&self) -> TextPolicy {
        self.inner.client.text()
    }

    fn topology(&self) -> Arc<Topology> {
        Arc::clone(&self.inner.topology.read().unwrap_or_else(|p| p.into_inner()))
    }

    fn epoch(&self) -> u64 {
        self.inner.epoch.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The layout, discovering it first if it is not known yet.
    async fn current_topology(&self) -> Result<Arc<Topology>> {
        let topology = self.topology();
        if !topology.shards().is_empty() {
            return Ok(topology);
        }
        self.refresh(self.epoch()).await
    }

    fn nodes(&self) -> std::sync::MutexGuard<'_, HashMap<NodeAddr, Arc<Redis>>> {
        self.inner.nodes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The client of the node at `addr` (made on first use; no I/O).
    pub(crate) fn node(&self, addr: &NodeAddr) -> Arc<Redis> {
        let mut nodes = self.nodes();
        if let Some(node) = nodes.get(addr) {
            return Arc::clone(node);
        }
        let tcp = Addr::Tcp { host: addr.host.clone(), port: addr.port };
        let node = Arc::new(self.inner.client.clone().for_node(tcp, self.inner.settings.read_from_replicas).build());
        nodes.insert(addr.clone(), Arc::clone(&node));
        node
    }

    /// Reads the layout from the first node that answers (known nodes
    /// first, then the seeds), unless another caller already refreshed it
    /// since `seen` (the epoch the caller's stale view came from).
    async fn refresh(&self, seen: u64) -> Result<Arc<Topology>> {
        let _one_at_a_time = self.inner.refreshing.lock().await;
        if self.epoch() != seen && !self.topology().shards().is_empty() {
            return Ok(self.topology());
        }
        let known = self.topology();
        let mut candidates: Vec<NodeAddr> = known.nodes().cloned().collect();
        candidates.extend(self.inner.seeds.iter().cloned());
        let mut last_error = Error::Cluster("no seed node to ask for the cluster's layout".into());
        for addr in dedup(candidates) {
            match self.fetch_topology(&addr).await {
                Ok(topology) if !topology.shards().is_empty() => {
                    tracing::debug!(from = %addr, ?topology, "cluster topology refreshed");
                    let topology = Arc::new(topology);
                    *self.inner.topology.write().unwrap_or_else(|p| p.into_inner()) = Arc::clone(&topology);
                    self.inner.epoch.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
                    self.forget_departed_nodes(&topology);
                    return Ok(topology);
                }
                Ok(_) => last_error = Error::Cluster(format!("{addr} serves no slots")),
                Err(e) => {
                    tracing::debug!(node = %addr, error = %e, "cannot read the cluster's layout from this node");
                    last_error = e;
                }
            }
        }
        Err(last_error)
    }

    async fn fetch_topology(&self, addr: &NodeAddr) -> Result<Topology> {
        let node = self.node(addr);
        let tls = node.connection_info().tls;
        // Bounded like connecting: a node that accepts and never answers
        // must not stall discovery.
        let opts =
            CallOptions { info: None, timeout: Some(self.inner.client.connect_timeout_setting()), cached: false };
        match node.request(&CmdArgs::with_name("CLUSTER SHARDS"), opts).await {
            Ok(reply) => Topology::from_shards(reply, tls, &addr.host),
            // Servers before 7.0 have only CLUSTER SLOTS.
            Err(Error::Redis(e)) if e.message().to_ascii_lowercase().contains("unknown subcommand") => {
                let reply = node.request(&CmdArgs::with_name("CLUSTER SLOTS"), opts).await?;
                Topology::from_slots(reply, &addr.host)
            }
            Err(e) => Err(e),
        }
    }

    /// Closes the clients of nodes that left the cluster.
    fn forget_departed_nodes(&self, topology: &Topology) {
        let departed: Vec<Arc<Redis>> = {
            let mut nodes = self.nodes();
            let gone: Vec<NodeAddr> = nodes
                .keys()
                .filter(|a| !topology.nodes().any(|n| n == *a) && !self.inner.seeds.contains(a))
                .cloned()
                .collect();
            gone.iter().filter_map(|a| nodes.remove(a)).collect()
        };
        if !departed.is_empty() {
            tokio::spawn(async move {
                for node in departed {
                    node.close().await;
                }
            });
        }
    }

    /// Refreshes the layout in the background (after a `MOVED`: the caller
    /// already knows where to go and need not wait).
    fn refresh_soon(&self) {
        let (cluster, seen) = (self.clone(), self.epoch());
        tokio::spawn(async move {
            if let Err(e) = cluster.refresh(seen).await {
                tracing::debug!(error = %e, "background topology refresh failed");
            }
        });
    }

    /// Sends one command where it belongs and returns its reply.
    ///
    /// Every route treats a node it cannot reach alike (nothing was sent):
    /// the layout is read again and the command retried where it now
    /// belongs, within `max_attempts`, so a failover heals keyless and
    /// fan-out commands as it heals keyed ones.
    pub(crate) async fn request(&self, args: &CmdArgs, opts: CallOptions) -> Result<Value> {
        match route(args, opts.info, self.inner.settings.split_multi_key)? {
            Route::Slot { slot, read_only } => self.request_slot(slot, read_only, args, opts).await,
            Route::AnyPrimary => self.request_to(Target::AnyPrimary, args, opts).await,
            Route::FanOut { every_node: false, policy } => {
                // Each primary through one of its slots: after a failover,
                // the slot leads to the replica that took over.
                let topology = self.current_topology().await?;
                let replies = concurrently(topology.slot_per_shard().into_iter().map(|slot| {
                    let (cluster, args) = (self.clone(), args.clone());
                    async move { cluster.request_slot(slot, false, &args, opts).await }
                }));
                route::merge(policy, replies.await)
            }
            Route::FanOut { every_node: true, policy } => {
                route::merge(policy, self.request_every_node(args, opts).await?)
            }
            Route::Split(split) => {
                let replies = concurrently(split.parts.iter().map(|(slot, keys)| {
                    let (cluster, slot, part) = (self.clone(), *slot, split.command(args, keys));
                    async move { cluster.request_slot(slot, false, &part, opts).await }
                }));
                split.merge(replies.await)
            }
        }
    }

    /// Sends a command to every node (replicas too). Nodes that cannot be
    /// reached are dropped from the round once a fresh layout no longer
    /// lists them (a failed primary, replaced), and asked again while it
    /// does, within `max_attempts`.
    async fn request_every_node(&self, args: &CmdArgs, opts: CallOptions) -> Result<Vec<Result<Value>>> {
        let mut answered: Vec<(NodeAddr, Result<Value>)> = Vec::new();
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let seen = self.epoch();
            let topology = self.current_topology().await?;
            let targets: Vec<NodeAddr> = dedup(topology.nodes().cloned().collect())
                .into_iter()
                .filter(|a| !answered.iter().any(|(b, _)| a == b))
                .collect();
            let outcomes = concurrently(targets.iter().map(|addr| {
                let (cluster, addr, args) = (self.clone(), addr.clone(), args.clone());
                async move { Ok(cluster.attempt_on(&addr, false, &args, opts).await) }
            }))
            .await;
            let mut unreachable = None;
            for (addr, outcome) in targets.into_iter().zip(outcomes) {
                match outcome {
                    Ok(Attempt::Unreachable(e)) => unreachable = Some(e),
                    Ok(Attempt::Done(reply)) => answered.push((addr, reply)),
                    Ok(Attempt::Redirect(_, e)) | Err(e) => answered.push((addr, Err(e))),
                }
            }
            let Some(last_error) = unreachable else {
                return Ok(answered.into_iter().map(|(_, r)| r).collect());
            };
            if attempt >= self.inner.settings.max_attempts {
                return Err(last_error);
            }
            let _ = self.refresh(seen).await;
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// A primary, for commands that any node serves alike.
    async fn any_primary(&self) -> Result<Arc<Redis>> {
        Ok(self.node(&self.any_primary_addr().await?))
    }

    async fn any_primary_addr(&self) -> Result<NodeAddr> {
        let topology = self.current_topology().await?;
        let shard = topology.shards().first().ok_or_else(|| Error::Cluster("no primary is known".into()))?;
        Ok(shard.primary.clone())
    }

    /// The node that serves `slot` for this command: its primary, or with
    /// replica reads on and a read-only command, one of its nodes in turn.
    async fn node_addr_for(&self, slot: u16, read_only: bool) -> Result<NodeAddr> {
        let topology = self.current_topology().await?;
        self.pick(&topology, slot, read_only).cloned()
    }

    /// [`node_addr_for`](Self::node_addr_for) in a layout already at hand.
    fn pick<'t>(&self, topology: &'t Topology, slot: u16, read_only: bool) -> Result<&'t NodeAddr> {
        let shard = topology.shard(slot).ok_or_else(|| unserved(slot))?;
        if read_only && self.inner.settings.read_from_replicas && !shard.replicas.is_empty() {
            let turn = next_turn() % (shard.replicas.len() + 1);
            if let Some(replica) = shard.replicas.get(turn) {
                return Ok(replica);
            }
        }
        Ok(&shard.primary)
    }

    /// Sends a command to the node serving `slot`, following redirections
    /// and retrying while the cluster heals, at most `max_attempts` times.
    pub(crate) async fn request_slot(
        &self,
        slot: u16,
        read_only: bool,
        args: &CmdArgs,
        opts: CallOptions,
    ) -> Result<Value> {
        self.request_to(Target::Slot { slot, read_only }, args, opts).await
    }

    /// Sends a command where `target` says, following redirections and
    /// retrying while the cluster heals, at most `max_attempts` times.
    async fn request_to(&self, target: Target, args: &CmdArgs, opts: CallOptions) -> Result<Value> {
        let mut next: Option<(NodeAddr, bool)> = None;
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let seen = self.epoch();
            let (addr, asking) = match next.take() {
                Some(target) => target,
                None => match target {
                    Target::Slot { slot, read_only } => (self.node_addr_for(slot, read_only).await?, false),
                    Target::AnyPrimary => (self.any_primary_addr().await?, false),
                },
            };
            let last_error = match self.attempt_on(&addr, asking, args, opts).await {
                Attempt::Done(Err(e)) if e.is_connection_error() => {
                    // Maybe the node is gone (a failover under way): the
                    // command is not sent again, but the next one should
                    // find the new layout.
                    self.refresh_soon();
                    return Err(e);
                }
                Attempt::Done(reply) => return reply,
                Attempt::Redirect(Redirect::Moved { slot: moved, to }, e) => {
                    tracing::debug!(slot = moved, %to, "MOVED");
                    self.note_moved(moved, &to);
                    self.refresh_soon();
                    next = Some((to, false));
                    e
                }
                Attempt::Redirect(Redirect::Ask { to }, e) => {
                    tracing::debug!(?target, %to, "ASK");
                    next = Some((to, true));
                    e
                }
                Attempt::Redirect(Redirect::Retry, e) => {
                    tracing::debug!(?target, error = %e, "cluster busy; retrying");
                    e
                }
                Attempt::Unreachable(e) => {
                    tracing::debug!(node = %addr, error = %e, "node unreachable; refreshing the topology");
                    let _ = self.refresh(seen).await;
                    e
                }
            };
            if attempt >= self.inner.settings.max_attempts {
                return Err(last_error);
            }
            if next.is_none() {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }

    /// One attempt of a command on the node at `addr` (after `ASKING` when
    /// `asking`).
    async fn attempt_on(&self, addr: &NodeAddr, asking: bool, args: &CmdArgs, opts: CallOptions) -> Attempt {
        let node = self.node(addr);
        // Queued on the node's open shared connection, as awaiting a
        // command on a `Redis` does; otherwise connecting first tells an
        // unreachable node (nothing sent) from a failure in flight.
        if !asking && node.cache().is_some() {
            // Through the node's client-side cache: each node's shared
            // connection tracks the keys read on it.
            return match node.connection().await {
                Err(e) => Attempt::Unreachable(e),
                Ok(_) => Attempt::of(node.request(args, opts).await, &addr.host),
            };
        }
        let queued = if asking { None } else { node.try_send_shared(args, &opts) };
        // Every attempt is the node's command, in its span and to its observer.
        match queued {
            Some((rx, limit)) => {
                let reply = node.probe(args, &opts).run(node.await_shared(rx, limit)).await;
                Attempt::of(reply, &addr.host)
            }
            None => match node.connection().await {
                Err(e) => {
                    node.probe(args, &opts).finish(Err(&e));
                    Attempt::Unreachable(e)
                }
                Ok(_) if asking => Attempt::of(ask(&node, args, opts).await, &addr.host),
                Ok(_) => Attempt::of(node.request(args, opts).await, &addr.host),
            },
        }
    }

    fn note_moved(&self, slot: u16, to: &NodeAddr) {
        let mut guard = self.inner.topology.write().unwrap_or_else(|p| p.into_inner());
        let mut topology = (**guard).clone();
        topology.moved(slot, to);
        *guard = Arc::new(topology);
    }
}

/// Where a command goes, attempt after attempt.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// The node serving the slot (a replica may, when `read_only`).
    Slot { slot: u16, read_only: bool },
    /// Any primary: a command without keys.
    AnyPrimary,
}

/// What became of one attempt to send a command.
enum Attempt {
    /// A reply, or an error a retry cannot help.
    Done(Result<Value>),
    /// The node redirected the command (the error, if retries run out).
    Redirect(Redirect, Error),
    /// The node could not be reached; nothing was sent.
    Unreachable(Error),
}

impl Attempt {
    /// Sorts a node's reply; `host` is the node's, for redirections that
    /// name no host.
    fn of(reply: Result<Value>, host: &str) -> Attempt {
        match reply {
            // The node's client knows it down: nothing was sent.
            Err(e @ Error::Unavailable { .. }) => Attempt::Unreachable(e),
            Err(Error::Redis(e)) => match redirect(&e, host) {
                Some(r) => Attempt::Redirect(r, Error::Redis(e)),
                None => Attempt::Done(Err(Error::Redis(e))),
            },
            reply => Attempt::Done(reply),
        }
    }
}

/// Sends `ASKING` and the command back to back on the node's shared
/// connection (nothing lands between them), for a slot being migrated.
async fn ask(node: &Redis, args: &CmdArgs, opts: CallOptions) -> Result<Value> {
    const ASKING: &[u8] = b"*1\r\n$6\r\nASKING\r\n";
    let mut frame = BytesMut::with_capacity(args.frame_len_hint());
    args.write_frame(&mut frame);
    let parts: [&[u8]; 2] = [ASKING, &frame];
    // The command's own span, as if sent alone.
    node.probe(args, &opts)
        .run(async {
            let batch = node.request_batch(Frames { parts: &parts, n: 2 }, opts.blocking());
            let replies = match opts.timeout {
                Some(limit) => tokio::time::timeout(limit, batch).await.map_err(|_| Error::Timeout(Timeout::Read))?,
                None => batch.await,
            }?;
            match replies.into_iter().nth(1) {
                Some(Value::Error(e)) => Err(Error::Redis(e)),
                Some(v) => Ok(v),
                None => Err(Error::protocol("ASKING batch lost a reply")),
            }
        })
        .await
}

/// Runs `futures` on tasks of their own, so nodes are asked in parallel;
/// returns their outputs in order.
async fn concurrently<F, T>(futures: impl Iterator<Item = F>) -> Vec<Result<T>>
where
    F: Future<Output = Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.unwrap_or_else(|e| Err(Error::Cluster(format!("a node's task failed: {e}")))));
    }
    out
}

fn unserved(slot: u16) -> Error {
    Error::Cluster(format!("no node serves slot {slot} (is the cluster down?)"))
}

fn dedup(mut addrs: Vec<NodeAddr>) -> Vec<NodeAddr> {
    let mut seen = std::collections::HashSet::new();
    addrs.retain(|a| seen.insert(a.clone()));
    addrs
}

/// A counter to spread reads over a shard's nodes.
fn next_turn() -> usize {
    static TURN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    TURN.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Commands awaited on a cluster go to the node serving their keys. Only
/// [`Commands`](crate::Commands): connection-state commands (`MULTI`,
/// `WATCH`, `SUBSCRIBE`...) belong to one node's [`Redis`]; transactions
/// are [`RedisCluster::transaction`], shard channels [`RedisCluster::pubsub`].
impl<'a> Executor for &'a RedisCluster {
    type Sink = &'a RedisCluster;
    fn __sink(self) -> &'a RedisCluster {
        self
    }
}

impl<'a> crate::command::Sink for &'a RedisCluster {
    type Running<R> = crate::command::Boxed<'a, R>;
}

impl<'a, K: ?Sized, R: FromValue + Send + 'a> Future for Cmd<&'a RedisCluster, K, R> {
    type Output = Result<R>;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<R>> {
        self.get_mut().poll_boxed(cx, |cluster, args, opts| {
            Box::pin(async move {
                let value = cluster.request(&args, opts).await?;
                convert::<R>(value, cluster.text_policy()).map_err(|e| match e {
                    Error::Type(t) => Error::Type(t.with_command(&args.name())),
                    e => e,
                })
            })
        })
    }
}
