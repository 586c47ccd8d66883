//! Redis Sentinel: find the master (or a replica) through the sentinels,
//! and follow failovers.
//!
//! A [`Sentinel`] holds the sentinels' addresses and the master's name; its
//! [`master`](Sentinel::master) is an ordinary [`Redis`] (the same typed
//! API, pipelines, transactions, pub/sub) whose connections are opened
//! where the sentinels say the master is, after `ROLE` confirms it. One
//! way to do each thing: the client's own connect and reconnect paths ask
//! the sentinels (through a small locator in `client/locate.rs`), so
//! commands on an open connection take exactly the path they take without
//! Sentinel.
//!
//! - `url.rs`: the `redis+sentinel://` URL;
//! - `watch.rs`: the background task that follows `+switch-master` on the
//!   sentinels and polls them as a fallback.

mod url;
mod watch;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::client::locate::{Locate, Located, Locator};
use crate::client::{Redis, RedisBuilder};
use crate::commands::Commands;
use crate::connection::WeakConnection;
use crate::error::{Error, Result, UrlError};
use crate::info::{parse_url, Addr, ConnectionInfo};
use crate::pool::RedisPoolBuilder;
use crate::trace as tracing;

pub use url::DEFAULT_SENTINEL_PORT;

/// How often the sentinels are asked for the master's address, besides
/// listening for `+switch-master` (which a lost subscription can miss).
/// While clients cannot reach the master they were given (a failover under
/// way), they are asked every 100 ms instead.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// The bound on each question to a sentinel, connecting included, unless
/// [`SentinelBuilder::timeout`] sets another: a sentinel that does not
/// answer in time is skipped for the next one.
pub const DEFAULT_SENTINEL_TIMEOUT: Duration = Duration::from_secs(2);

/// Clients of a Sentinel-managed master and its replicas.
///
/// Cheap to clone; clones share the sentinels' connections and the task
/// that follows failovers, which ends when the last `Sentinel` and the last
/// client made from it are dropped.
///
/// - **Discovery**: each new connection asks the sentinels
///   (`SENTINEL GET-MASTER-ADDR-BY-NAME`, in turn, skipping one that is
///   down or does not know the name) and checks the server's `ROLE` before
///   using it. A server in the wrong role (a demoted master) makes the
///   client ask again. When every sentinel fails, the call fails with
///   [`Error::Sentinel`] naming each and why.
/// - **Failover**: a task listens for `+switch-master` on a sentinel and
///   polls every [`poll_interval`](SentinelBuilder::poll_interval). When
///   the master moves, every connection to the old one closes: the calls in
///   flight there fail with [`Error::Sentinel`] and are never re-sent (they
///   may have run); the next calls connect to the new master. A `-READONLY`
///   reply (the master was demoted) closes the connection and asks again.
/// - **Settings**: [`client`](SentinelBuilder::client) sets the master's
///   and replicas' connections (auth, TLS, db, RESP3, timeouts),
///   [`sentinel_client`](SentinelBuilder::sentinel_client) the sentinels'.
///
/// # Examples
/// ```no_run
/// # extern crate siderpy_core as siderpy;
/// # async fn f() -> siderpy::Result<()> {
/// use siderpy::prelude::*;
/// use siderpy::sentinel::Sentinel;
///
/// let sentinel = Sentinel::new("redis+sentinel://:pw@10.0.0.1:26379,10.0.0.2:26379/mymaster/0")?;
/// let redis = sentinel.master();
/// redis.set("k", "v").await?;
/// let reads = sentinel.replica();
/// let v = reads.get("k").await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Sentinel {
    shared: Arc<Shared>,
    /// The master's and replicas' settings, without a locator.
    client: RedisBuilder,
}

impl std::fmt::Debug for Sentinel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sentinels: Vec<String> = self.shared.sentinels.iter().map(|(a, _)| a.to_string()).collect();
        f.debug_struct("Sentinel").field("master_name", &self.shared.name).field("sentinels", &sentinels).finish()
    }
}

/// Builds a [`Sentinel`]: the master's settings, the sentinels' settings,
/// and how they are watched.
///
/// # Examples
/// ```no_run
/// # extern crate siderpy_core as siderpy;
/// # async fn f() -> siderpy::Result<()> {
/// use std::time::Duration;
/// use siderpy::prelude::*;
/// use siderpy::sentinel::Sentinel;
///
/// let sentinel = Sentinel::with_sentinels(&["redis://:sentinel-pw@10.0.0.1:26379", "redis://10.0.0.2"], "mymaster")?
///     .client(|c| c.auth(Some("app"), "pw").db(2).protocol(siderpy::Protocol::Resp3).resubscribe(true))
///     .sentinel_client(|c| c.connect_timeout(Duration::from_secs(1)))
///     .poll_interval(Duration::from_secs(5))
///     .build();
/// let pool = sentinel.pool().size(8).build();
/// pool.incr("hits").await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "call .build() to get the Sentinel"]
pub struct SentinelBuilder {
    sentinels: Vec<Addr>,
    master_name: String,
    client: RedisBuilder,
    sentinel_client: RedisBuilder,
    poll_interval: Duration,
    timeout: Duration,
}

impl Sentinel {
    /// Clients for the master and replicas a `redis+sentinel://` URL names,
    /// with default settings. No I/O happens here.
    ///
    /// The URL is
    /// `redis+sentinel://[user:password@]host1[:port1][,host2[:port2]...]/master-name[/db][?params]`:
    /// the sentinels (port [`DEFAULT_SENTINEL_PORT`] when not given), the
    /// name the sentinels monitor the master under, and the master's
    /// database. The user and password are the master's (and its
    /// replicas'); `sentinel_username` and `sentinel_password` in the
    /// query are the sentinels'. `rediss+sentinel://` uses TLS to the
    /// sentinels and the master; `valkey+sentinel://` and
    /// `valkeys+sentinel://` are the same. Other query parameters are the
    /// master's, as in [`parse_url`]: `protocol`,
    /// `client_name`, `password`, `db`.
    ///
    /// # Errors
    /// [`Error::Url`] when the URL is invalid (no master name, no sentinel,
    /// a bad port...).
    pub fn new(url: &str) -> Result<Sentinel> {
        Ok(Self::builder(url)?.build())
    }

    /// A builder from a `redis+sentinel://` URL (see [`new`](Self::new)).
    ///
    /// # Errors
    /// [`Error::Url`] when the URL is invalid.
    pub fn builder(url: &str) -> Result<SentinelBuilder> {
        let url = url::parse_sentinel_url(url)?;
        Ok(SentinelBuilder::new(url.sentinels, url.master_name, url.master, url.sentinel))
    }

    /// A builder from the sentinels' own URLs (`redis://[user:password@]host[:port]`,
    /// or `rediss://` for TLS; port [`DEFAULT_SENTINEL_PORT`] when not
    /// given) and the name they monitor the master under. The first URL's
    /// credentials and TLS are the sentinels' settings; the master's come
    /// from [`client`](SentinelBuilder::client).
    ///
    /// # Errors
    /// [`Error::Url`] when a URL is invalid, [`Error::Usage`] for no
    /// sentinel or an empty name.
    pub fn with_sentinels<S: AsRef<str>>(sentinels: &[S], master_name: &str) -> Result<SentinelBuilder> {
        if master_name.is_empty() {
            return Err(Error::Url(UrlError::Sentinel("the master's name is empty".into())));
        }
        let mut addrs = Vec::new();
        let mut first = None;
        for url in sentinels {
            let url = url.as_ref();
            let mut info = parse_url(url)?;
            if let (Addr::Tcp { port, .. }, false) = (&mut info.addr, url::names_port(url)) {
                *port = DEFAULT_SENTINEL_PORT;
            }
            addrs.push(info.addr.clone());
            first.get_or_insert(info);
        }
        let Some(sentinel) = first else {
            return Err(Error::Usage("a Sentinel client needs at least one sentinel URL".into()));
        };
        let mut master = ConnectionInfo::tcp(master_name, 0);
        master.protocol = sentinel.protocol;
        Ok(SentinelBuilder::new(addrs, master_name.to_owned(), master, sentinel))
    }

    /// A client of the master: the same typed API, pipelines, transactions
    /// and pub/sub as any [`Redis`], connecting wherever the sentinels say
    /// the master is. No I/O happens here.
    pub fn master(&self) -> Redis {
        self.master_builder().build()
    }

    /// A client of a replica, for reads: each connection it opens goes to a
    /// healthy replica (`SENTINEL REPLICAS`: not down, link to the master
    /// up), taken in turn, after `ROLE` confirms it is one. Writes fail
    /// there with `READONLY`.
    pub fn replica(&self) -> Redis {
        let locator = ReplicaLocator { shared: Arc::clone(&self.shared) };
        self.client.clone().located_by(Locator(Arc::new(locator))).build()
    }

    /// A pool of master clients ([`RedisPoolBuilder::size`] and the rest
    /// still open), all following the master as [`master`](Self::master) does.
    pub fn pool(&self) -> RedisPoolBuilder {
        RedisPoolBuilder::from(self.master_builder())
    }

    fn master_builder(&self) -> RedisBuilder {
        let locator = MasterLocator { shared: Arc::clone(&self.shared) };
        self.client.clone().located_by(Locator(Arc::new(locator)))
    }

    /// The name the sentinels monitor the master under.
    pub fn master_name(&self) -> &str {
        &self.shared.name
    }

    /// Asks the sentinels where the master is now.
    ///
    /// # Errors
    /// [`Error::Sentinel`] when no sentinel answers with an address.
    pub async fn master_addr(&self) -> Result<Addr> {
        let addr = self.shared.discover_master().await?;
        self.shared.set_master(addr.clone());
        Ok(addr)
    }

    /// Asks the sentinels for the master's healthy replicas.
    ///
    /// # Errors
    /// [`Error::Sentinel`] when no sentinel answers.
    pub async fn replica_addrs(&self) -> Result<Vec<Addr>> {
        self.shared.discover_replicas().await
    }
}

impl SentinelBuilder {
    fn new(sentinels: Vec<Addr>, master_name: String, master: ConnectionInfo, sentinel: ConnectionInfo) -> Self {
        SentinelBuilder {
            sentinels,
            master_name,
            client: RedisBuilder::from_info(master),
            sentinel_client: RedisBuilder::from_info(sentinel),
            poll_interval: DEFAULT_POLL_INTERVAL,
            timeout: DEFAULT_SENTINEL_TIMEOUT,
        }
    }

    /// The settings of the master's and replicas' connections: every
    /// [`RedisBuilder`] setting (auth, TLS, db, protocol, timeouts...).
    pub fn client(mut self, settings: impl FnOnce(RedisBuilder) -> RedisBuilder) -> Self {
        self.client = settings(self.client);
        self
    }

    /// The settings of the sentinels' connections (their own auth and TLS).
    pub fn sentinel_client(mut self, settings: impl FnOnce(RedisBuilder) -> RedisBuilder) -> Self {
        self.sentinel_client = settings(self.sentinel_client);
        self
    }

    /// How often the sentinels are asked where the master is, besides
    /// listening for `+switch-master` ([`DEFAULT_POLL_INTERVAL`]).
    pub fn poll_interval(mut self, every: Duration) -> Self {
        self.poll_interval = every.max(Duration::from_millis(10));
        self
    }

    /// Bounds each question to a sentinel, connecting included
    /// ([`DEFAULT_SENTINEL_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The clients' source. No I/O happens here; the first command of a
    /// client made from it asks the sentinels, and starts the task that
    /// follows failovers.
    pub fn build(self) -> Sentinel {
        let sentinels = self
            .sentinels
            .into_iter()
            .map(|addr| {
                let client = self.sentinel_client.clone().for_node(addr.clone(), false);
                (addr, client.default_connect_timeout(self.timeout).build())
            })
            .collect();
        let (stop, stopped) = oneshot::channel();
        let shared = Shared {
            name: self.master_name,
            sentinels,
            preferred: AtomicUsize::new(0),
            next_replica: AtomicUsize::new(0),
            timeout: self.timeout,
            poll_interval: self.poll_interval,
            state: Mutex::new(Known::default()),
            doubt: Arc::default(),
            _stop: stop,
            stopped: Mutex::new(Some(stopped)),
        };
        Sentinel { shared: Arc::new(shared), client: self.client }
    }
}

/// What the clients of one [`Sentinel`] share.
struct Shared {
    name: String,
    /// Each sentinel and a client of it, asked in turn from `preferred`.
    sentinels: Vec<(Addr, Redis)>,
    /// The sentinel that answered last.
    preferred: AtomicUsize,
    /// The replica to hand out next.
    next_replica: AtomicUsize,
    timeout: Duration,
    poll_interval: Duration,
    state: Mutex<Known>,
    /// Wakes the watcher when a client doubts the master's address.
    doubt: Arc<tokio::sync::Notify>,
    /// Dropped with the last handle: the watcher ends.
    _stop: oneshot::Sender<()>,
    /// The watcher's end of `_stop`, until it starts.
    stopped: Mutex<Option<oneshot::Receiver<()>>>,
}

/// What is known of the master, and the connections that depend on it.
#[derive(Default)]
struct Known {
    /// The last address the sentinels gave.
    master: Option<Addr>,
    /// Whether `master` may be used without asking again: it is new, or a
    /// connection to it succeeded since a client doubted it. While in
    /// doubt, each connect asks the sentinels, and the watcher asks them
    /// every [`watch::FAST_POLL`].
    fresh: bool,
    /// Counts the changes of `master`.
    epoch: u64,
    /// The live connections opened through this source: to the master
    /// (`true`) or to a replica. Pruned as they close; no more than the
    /// clients have open.
    conns: Vec<(bool, Addr, WeakConnection)>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Known> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts the task following failovers, once, on the first connect.
    fn start_watching(self: &Arc<Self>) {
        let stopped = self.stopped.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(stopped) = stopped {
            tokio::spawn(watch::watch(Arc::downgrade(self), stopped));
        }
    }

    /// Asks the sentinels, in turn, for the master's address.
    async fn discover_master(&self) -> Result<Addr> {
        self.ask("SENTINEL GET-MASTER-ADDR-BY-NAME", |redis, name, timeout| async move {
            let reply = redis
                .execute_cmd("SENTINEL", ("GET-MASTER-ADDR-BY-NAME", name))
                .returning::<Option<(String, u16)>>()
                .with_timeout(timeout)
                .await?;
            reply
                .map(|(host, port)| Addr::Tcp { host, port })
                .ok_or_else(|| Error::Sentinel(format!("no master named {name:?} is monitored there")))
        })
        .await
    }

    /// Asks the sentinels, in turn, for the master's healthy replicas.
    async fn discover_replicas(&self) -> Result<Vec<Addr>> {
        self.ask("SENTINEL REPLICAS", |redis, name, timeout| async move {
            let replicas = redis
                .execute_cmd("SENTINEL", ("REPLICAS", name))
                .returning::<Vec<HashMap<String, String>>>()
                .with_timeout(timeout)
                .await?;
            Ok(replicas.iter().filter_map(healthy_replica).collect())
        })
        .await
    }

    /// Runs `question` on each sentinel in turn, from the one that
    /// answered last, until one answers; names each failure otherwise.
    async fn ask<'a, T, F, Fut>(&'a self, what: &str, question: F) -> Result<T>
    where
        F: Fn(&'a Redis, &'a str, Duration) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let n = self.sentinels.len();
        let start = self.preferred.load(Ordering::Relaxed);
        let mut failures = Vec::new();
        for i in 0..n {
            let at = (start + i) % n;
            let (addr, redis) = &self.sentinels[at];
            match question(redis, &self.name, self.timeout).await {
                Ok(answer) => {
                    self.preferred.store(at, Ordering::Relaxed);
                    return Ok(answer);
                }
                Err(e) => {
                    tracing::debug!(sentinel = %addr, error = %e, "sentinel skipped");
                    failures.push(format!("{addr}: {e}"));
                }
            }
        }
        Err(Error::Sentinel(format!("no sentinel answered {what} for {:?}: {}", self.name, failures.join("; "))))
    }

    /// Records where the master is. When it moved, closes every connection
    /// to the old master (and to the promoted replica as a replica): their
    /// calls in flight fail, and are never re-sent.
    fn set_master(&self, addr: Addr) {
        let (closing, err) = {
            let mut st = self.lock();
            let old = match &st.master {
                // Named again: still in doubt, if it was, until a
                // connection to it succeeds.
                Some(old) if *old == addr => return,
                old => old.clone(),
            };
            st.fresh = true;
            st.master = Some(addr.clone());
            st.epoch += 1;
            let Some(old) = old else { return };
            tracing::info!(master = %self.name, from = %old, to = %addr, "the master moved");
            let err = Error::Sentinel(format!(
                "the master {:?} moved from {old} to {addr} (failover) while this command was in flight; \
                 it was not re-sent (it may have run)",
                self.name
            ));
            let (closing, kept) =
                std::mem::take(&mut st.conns)
                    .into_iter()
                    .partition(|(master, at, _)| if *master { *at != addr } else { *at == addr });
            st.conns = kept;
            (closing, err)
        };
        for (_, _, conn) in closing {
            if let Some(conn) = conn.upgrade() {
                conn.close(err.clone());
            }
        }
    }

    /// Takes note of a connection, or closes it if the master moved while
    /// it was being opened.
    fn opened(&self, master: bool, addr: &Addr, conn: WeakConnection) {
        let mut st = self.lock();
        let moved = master && st.master.as_ref().is_some_and(|m| m != addr);
        if moved {
            drop(st);
            if let Some(conn) = conn.upgrade() {
                conn.close(Error::Sentinel(format!("the master moved away from {addr} while connecting to it")));
            }
            return;
        }
        if master {
            st.fresh = true;
        }
        st.conns.retain(|(_, _, c)| c.upgrade().is_some_and(|c| !c.is_closed()));
        st.conns.push((master, addr.clone(), conn));
    }
}

/// A replica's address, if `SENTINEL REPLICAS` reports it usable.
fn healthy_replica(fields: &HashMap<String, String>) -> Option<Addr> {
    let flags = fields.get("flags")?;
    let down = flags.split(',').any(|f| matches!(f, "s_down" | "o_down" | "disconnected"));
    let linked = fields.get("master-link-status").is_none_or(|s| s == "ok");
    if down || !linked {
        return None;
    }
    Some(Addr::Tcp { host: fields.get("ip")?.clone(), port: fields.get("port")?.parse().ok()? })
}

/// Where a master client connects.
struct MasterLocator {
    shared: Arc<Shared>,
}

impl Locate for MasterLocator {
    fn locate(&self) -> Located<'_> {
        Box::pin(async move {
            self.shared.start_watching();
            let known = {
                let st = self.shared.lock();
                st.master.clone().filter(|_| st.fresh)
            };
            if let Some(addr) = known {
                return Ok(addr);
            }
            let addr = self.shared.discover_master().await?;
            self.shared.set_master(addr.clone());
            Ok(addr)
        })
    }

    fn role(&self) -> &'static str {
        "master"
    }

    fn opened(&self, addr: &Addr, conn: WeakConnection) {
        self.shared.opened(true, addr, conn);
    }

    fn stale(&self, addr: Option<&Addr>) {
        let mut st = self.shared.lock();
        if addr.is_none() || addr == st.master.as_ref() {
            st.fresh = false;
            self.shared.doubt.notify_one();
        }
    }

    fn epoch(&self) -> u64 {
        self.shared.lock().epoch
    }
}

/// Where a replica client connects: a healthy replica, in turn.
struct ReplicaLocator {
    shared: Arc<Shared>,
}

impl Locate for ReplicaLocator {
    fn locate(&self) -> Located<'_> {
        Box::pin(async move {
            self.shared.start_watching();
            let replicas = self.shared.discover_replicas().await?;
            if replicas.is_empty() {
                return Err(Error::Sentinel(format!(
                    "the sentinels know no healthy replica of {:?} (all down, or still syncing)",
                    self.shared.name
                )));
            }
            let turn = self.shared.next_replica.fetch_add(1, Ordering::Relaxed);
            Ok(replicas[turn % replicas.len()].clone())
        })
    }

    fn role(&self) -> &'static str {
        "slave"
    }

    fn opened(&self, addr: &Addr, conn: WeakConnection) {
        self.shared.opened(false, addr, conn);
    }

    /// Replicas are asked for afresh at every connect.
    fn stale(&self, _: Option<&Addr>) {}

    fn epoch(&self) -> u64 {
        self.shared.lock().epoch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn only_healthy_replicas_are_used() {
        let ok = fields(&[("ip", "10.0.0.5"), ("port", "6380"), ("flags", "slave"), ("master-link-status", "ok")]);
        assert_eq!(healthy_replica(&ok), Some(Addr::Tcp { host: "10.0.0.5".into(), port: 6380 }));
        for (k, v) in [("flags", "s_down,slave"), ("flags", "slave,disconnected"), ("master-link-status", "err")] {
            let mut bad = ok.clone();
            bad.insert(k.into(), v.into());
            assert_eq!(healthy_replica(&bad), None, "{k}={v}");
        }
        assert_eq!(healthy_replica(&fields(&[("flags", "slave")])), None, "no address");
    }

    #[test]
    fn the_sentinel_and_its_clients_are_send_and_sync() {
        fn check<T: Send + Sync + Clone>() {}
        check::<Sentinel>();
    }
}
