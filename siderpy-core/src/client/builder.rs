//! [`RedisBuilder`]: every setting of a client, from the URL and beyond it.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::cache::{Cache, CacheConfig};
use crate::connection::reconnect::Backoff;
use crate::connection::transport::{Resolve, Resolver, TcpSettings};
use crate::connection::Liveness;
use crate::convert::TextPolicy;
use crate::info::{ConnectionInfo, Password, Protocol};
use crate::resp::Limits;

/// The connect timeout unless the builder sets one: it bounds opening the
/// socket (every address of the host), TLS and the handshake commands.
/// Long enough for a TLS handshake across continents on a loaded server,
/// short enough that a host that vanished is reported in seconds, not
/// after the system's TCP timeout (minutes).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long commands may wait on the shared connection with nothing at
/// all read before it is declared dead, unless the builder sets it. Far
/// above what a healthy server takes (Redis answers `BUSY` to everyone once
/// a script runs 5 s), so it never cuts a real reply short, yet a server
/// that accepts and never answers fails its callers in seconds, not never,
/// even with no read timeout, and at no cost per command.
pub const DEFAULT_UNRESPONSIVE_AFTER: Duration = Duration::from_secs(10);

/// The TCP keepalive idle time unless the builder sets one: probes start
/// after this long without traffic, a third of it apart, three of them.
/// A peer gone without a word (a host powered off, a NAT entry dropped)
/// is noticed about a minute later on an idle connection, instead of never.
pub const DEFAULT_TCP_KEEPALIVE: Duration = Duration::from_secs(30);

/// `TCP_USER_TIMEOUT` (Linux) unless the builder sets one: written data
/// unacknowledged this long makes the kernel drop the connection, so a
/// connection with commands in flight and no read timeout still ends.
pub const DEFAULT_TCP_USER_TIMEOUT: Duration = Duration::from_secs(60);

use super::locate::Locator;
use super::{Inner, Local, Redis};
// Only the TLS opt-out logs here.
#[cfg(feature = "tls")]
use crate::trace as tracing;

/// Every setting of a client, from the URL and the builder.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) info: ConnectionInfo,
    /// As set on the builder (`None`: [`DEFAULT_CONNECT_TIMEOUT`], or the
    /// cluster's own default); see [`Config::connect_timeout`].
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) read_timeout: Option<Duration>,
    pub(crate) write_timeout: Option<Duration>,
    pub(crate) timeout_blocking: bool,
    pub(crate) tls: Option<crate::tls::TlsConfig>,
    pub(crate) text: TextPolicy,
    pub(crate) pubsub_queue_maxsize: Option<usize>,
    pub(crate) resubscribe: bool,
    pub(crate) limits: Limits,
    /// Sends `READONLY` on every connection (cluster replicas serving reads).
    pub(crate) readonly: bool,
    pub(crate) tcp: TcpSettings,
    /// What the shared connection's driver checks by itself.
    pub(crate) liveness: Liveness,
    pub(crate) backoff: Backoff,
    /// A client-side cache, when asked for.
    pub(crate) cache: Option<CacheConfig>,
    /// The observer, and whether spans carry keys.
    pub(crate) observe: crate::observe::Observability,
    /// Where to connect when the URL cannot say (a Sentinel-managed server).
    pub(crate) locator: Option<Locator>,
}

impl Config {
    /// The bound on connecting: TCP, TLS and the handshake together.
    pub(crate) fn connect_timeout(&self) -> Duration {
        self.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT)
    }
}

/// Builds a [`Redis`] with settings beyond the URL.
///
/// Every parameter of siderpy's `Redis(...)` has a method here.
///
/// ```no_run
/// # extern crate siderpy_core as siderpy;
/// # fn f() -> siderpy::Result<()> {
/// use std::time::Duration;
/// let redis = siderpy::Redis::builder("redis://localhost:6379/0")?
///     .connect_timeout(Duration::from_secs(2))
///     .read_timeout(Some(Duration::from_secs(1)))
///     .write_timeout(Some(Duration::from_secs(1)))
///     .build();
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "call .build() to get the client"]
pub struct RedisBuilder {
    config: Config,
}

impl RedisBuilder {
    /// Settings from a parsed [`ConnectionInfo`].
    pub fn from_info(info: ConnectionInfo) -> Self {
        RedisBuilder {
            config: Config {
                info,
                connect_timeout: None,
                read_timeout: None,
                write_timeout: None,
                timeout_blocking: false,
                tls: None,
                text: TextPolicy::Strict,
                pubsub_queue_maxsize: None,
                resubscribe: false,
                limits: Limits::default(),
                readonly: false,
                tcp: TcpSettings {
                    keepalive: Some(DEFAULT_TCP_KEEPALIVE),
                    user_timeout: Some(DEFAULT_TCP_USER_TIMEOUT),
                    resolver: Resolver::default(),
                },
                liveness: Liveness { heartbeat: None, unresponsive: Some(DEFAULT_UNRESPONSIVE_AFTER) },
                backoff: Backoff::default(),
                cache: None,
                observe: Default::default(),
                locator: None,
            },
        }
    }

    /// Bounds opening the socket, the TLS handshake and the handshake
    /// commands (HELLO/AUTH/SELECT/CLIENT SETNAME) together
    /// ([`DEFAULT_CONNECT_TIMEOUT`] unless set). A host name with several
    /// addresses gives each a share of it in turn (RFC 8305).
    ///
    /// A command's own bound (its read timeout, or `with_timeout`) covers
    /// connecting too when it is shorter: a call never waits past it, even
    /// behind another caller's attempt to connect.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = Some(timeout);
        self
    }

    /// TCP keepalive: probes after `idle` without traffic, a third of it
    /// apart, three of them, so a peer gone without a word is noticed
    /// ([`DEFAULT_TCP_KEEPALIVE`] unless set; `None` turns it off).
    pub fn tcp_keepalive(mut self, idle: Option<Duration>) -> Self {
        self.config.tcp.keepalive = idle;
        self
    }

    /// `TCP_USER_TIMEOUT` where the OS has it (Linux, Android): how long
    /// written data may go unacknowledged before the kernel drops the
    /// connection ([`DEFAULT_TCP_USER_TIMEOUT`] unless set; `None` leaves the
    /// system's, about 15 minutes). Elsewhere it does nothing.
    pub fn tcp_user_timeout(mut self, limit: Option<Duration>) -> Self {
        self.config.tcp.user_timeout = limit;
        self
    }

    /// An idle heartbeat (off by default): when nothing was read on the
    /// shared connection for `every`, the client sends `PING`; if no byte
    /// comes back within `every` again, the connection is declared dead,
    /// every command in flight fails with
    /// [`Timeout::Unresponsive`](crate::Timeout::Unresponsive), and the next
    /// command reconnects. It finds a stopped or unreachable server before a
    /// command has to wait on it. Connections that may hold a `MULTI`
    /// (dedicated, side and pub/sub connections) get none.
    pub fn heartbeat(mut self, every: Option<Duration>) -> Self {
        self.config.liveness.heartbeat = every;
        self
    }

    /// When commands have waited on the shared connection this long with
    /// nothing at all read on it, the server answers nobody: the connection
    /// is declared dead, every command in flight fails with
    /// [`Timeout::Unresponsive`](crate::Timeout::Unresponsive), and the next
    /// command reconnects ([`DEFAULT_UNRESPONSIVE_AFTER`] unless set; `None`
    /// turns it off). Checked on the connection's own timer, between this
    /// long and twice it, at no cost per command; unlike the read timeout it
    /// bounds callers who set none. Blocking commands run elsewhere and are
    /// not affected.
    pub fn unresponsive_after(mut self, limit: Option<Duration>) -> Self {
        self.config.liveness.unresponsive = limit;
        self
    }

    /// How the client paces its attempts to connect once one failed
    /// ([`Backoff::default`] unless set): in between, calls fail at once
    /// with [`Error::Unavailable`](crate::Error::Unavailable) instead of each
    /// trying on its own.
    pub fn reconnect(mut self, backoff: Backoff) -> Self {
        self.config.backoff = backoff;
        self
    }

    /// Finds the addresses of the URL's host with `resolver` instead of the
    /// system's (service discovery, a fixed list of addresses, tests).
    pub fn resolver(mut self, resolver: impl Resolve) -> Self {
        self.config.tcp.resolver = Resolver(Some(Arc::new(resolver)));
        self
    }

    /// Sets the read and the write timeout to the same value (siderpy's
    /// `timeout=` with one number).
    pub fn timeout(self, timeout: Option<Duration>) -> Self {
        self.read_timeout(timeout).write_timeout(timeout)
    }

    /// Bounds each command: connecting if it must, then the wait for its
    /// reply; `None` (the default) waits forever, but see
    /// [`unresponsive_after`](Self::unresponsive_after).
    /// Pipelines and transactions get it as a whole.
    ///
    /// When it passes with nothing at all read on the shared connection in
    /// that time, the server answers nobody (it is stopped, or the path to
    /// it is gone): the connection is retired, so the next command opens a
    /// new one and a half-open connection costs one timeout, not one per
    /// call. Commands already in flight on it keep their own bounds and
    /// still get their replies if the server comes back. A timeout while
    /// other replies kept coming (one slow command) leaves it as it is.
    ///
    /// Blocking commands (`BLPOP`, `XREAD BLOCK`... as the spec flags them)
    /// are exempt, so `BLPOP key 0` can block as asked; see
    /// [`timeout_blocking_commands`](Self::timeout_blocking_commands).
    pub fn read_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.read_timeout = timeout;
        self
    }

    /// Bounds how long the socket may refuse a command's bytes; expiry closes
    /// the connection. `None` (the default) waits forever.
    pub fn write_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.write_timeout = timeout;
        self
    }

    /// Applies the read timeout to blocking commands too, as siderpy does:
    /// `BLPOP key 0` then fails with a read timeout. A blocking command that
    /// times out (or whose future is dropped) closes its connection, since the
    /// server would keep it blocked; the next command reconnects.
    pub fn timeout_blocking_commands(mut self, yes: bool) -> Self {
        self.config.timeout_blocking = yes;
        self
    }

    /// Uses TLS with this rustls configuration (for a private CA, client
    /// certificates...). Without it, `rediss://` verifies against the webpki
    /// root store.
    ///
    /// Build it with [`crypto_provider`](crate::crypto_provider)
    /// (`ClientConfig::builder_with_provider`): rustls's own
    /// `ClientConfig::builder()` panics when both of its providers are
    /// compiled in.
    ///
    /// # Examples
    /// A server whose certificate a private CA signed, the CA read from its
    /// PEM file; the URL's host is the name the certificate must hold:
    /// ```no_run
    /// # extern crate siderpy_core as siderpy;
    /// use std::sync::Arc;
    /// use siderpy::rustls::{self, pki_types::{pem::PemObject, CertificateDer}};
    ///
    /// fn private_ca_config(ca_pem: &str) -> Result<Arc<rustls::ClientConfig>, Box<dyn std::error::Error>> {
    ///     let mut roots = rustls::RootCertStore::empty();
    ///     for cert in CertificateDer::pem_file_iter(ca_pem)? {
    ///         roots.add(cert?)?;
    ///     }
    ///     let config = rustls::ClientConfig::builder_with_provider(siderpy::crypto_provider()?)
    ///         .with_safe_default_protocol_versions()?
    ///         .with_root_certificates(roots)
    ///         .with_no_client_auth();
    ///     Ok(Arc::new(config))
    /// }
    ///
    /// # async fn connect() -> Result<(), Box<dyn std::error::Error>> {
    /// let redis = siderpy::Redis::builder("rediss://redis.internal:6380/0")?
    ///     .tls(private_ca_config("ca.pem")?)
    ///     .build();
    /// # use siderpy::prelude::*;
    /// redis.ping().await?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls(mut self, config: Arc<rustls::ClientConfig>) -> Self {
        self.config.tls = Some(crate::tls::TlsConfig::Given(config));
        self.config.info.tls = true;
        self
    }

    /// **Dangerous: turns off TLS certificate verification.** The client
    /// then accepts any certificate the server presents, whoever issued it
    /// and whatever name it is for, so anyone between the client and the
    /// server can pose as the server and read everything sent, the password
    /// included. Encryption without authentication: for a test server with a
    /// throwaway certificate, never for production. Trust a private CA with
    /// [`tls`](Self::tls) and a configuration holding it instead.
    ///
    /// Applies to TLS connections (`rediss://`); replaces any configuration
    /// given to [`tls`](Self::tls), client certificate included.
    #[cfg(feature = "tls")]
    pub fn danger_accept_invalid_certs(mut self) -> Self {
        tracing::warn!(server = %self.config.info, "TLS certificate verification is turned off");
        self.config.tls = Some(crate::tls::TlsConfig::AcceptInvalidCerts);
        self
    }

    /// How `String` replies treat invalid UTF-8 (siderpy's `errors=`).
    pub fn text_policy(mut self, policy: TextPolicy) -> Self {
        self.config.text = policy;
        self
    }

    /// Bounds the pub/sub message queue (siderpy's `pubsub_queue_maxsize`).
    pub fn pubsub_queue_maxsize(mut self, size: usize) -> Self {
        self.config.pubsub_queue_maxsize = Some(size);
        self
    }

    /// Re-subscribes after the pub/sub connection fails (off by default).
    ///
    /// When on, a failure of the subscribed connection does not close the
    /// queue: a background task reconnects, with a growing pause between
    /// attempts, and subscribes again to every channel, pattern and shard
    /// channel the handle had; readers just wait. Messages published while
    /// disconnected are lost (Redis pub/sub keeps none). After
    /// [`RESUBSCRIBE_ATTEMPTS`](crate::RESUBSCRIBE_ATTEMPTS) failed
    /// attempts the queue closes with the last error as its cause.
    pub fn resubscribe(mut self, yes: bool) -> Self {
        self.config.resubscribe = yes;
        self
    }

    /// The RESP protocol version (also `?protocol=3` in the URL).
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.config.info.protocol = protocol;
        self
    }

    /// ACL user name and password (also in the URL).
    pub fn auth(mut self, username: Option<&str>, password: &str) -> Self {
        self.config.info.username = username.map(str::to_owned);
        self.config.info.password = Some(Password::new(password));
        self
    }

    /// The database to `SELECT` on every (re)connect.
    pub fn db(mut self, db: i64) -> Self {
        self.config.info.db = db;
        self
    }

    /// A connection name set with `CLIENT SETNAME` on every (re)connect.
    pub fn client_name(mut self, name: impl Into<String>) -> Self {
        self.config.info.client_name = Some(name.into());
        self
    }

    /// Keeps replies of cacheable reads in the client, kept true by the
    /// server's invalidations (`CLIENT TRACKING`, turned on by every connect
    /// of the shared connection; with RESP2 through `REDIRECT` to a
    /// subscriber connection of the client's own). Off unless set. See
    /// [`CacheConfig`] and the README's "Client-side caching".
    ///
    /// Only commands awaited on the client (its clones included, not a
    /// pipeline, transaction or `dedicated()` handle) use it, and only the
    /// ones [`CommandInfo::cacheable`](crate::CommandInfo::cacheable) marks.
    ///
    /// ```no_run
    /// # extern crate siderpy_core as siderpy;
    /// # async fn f() -> siderpy::Result<()> {
    /// use siderpy::prelude::*;
    /// let redis = siderpy::Redis::builder("redis://localhost/?protocol=3")?
    ///     .cache(siderpy::CacheConfig::new().max_entries(50_000))
    ///     .build();
    /// let a: Option<String> = redis.get("config:flags").returning().await?; // from the server
    /// let b: Option<String> = redis.get("config:flags").returning().await?; // from the cache
    /// assert_eq!(a, b);
    /// println!("{:?}", redis.cache_stats());
    /// # Ok(()) }
    /// ```
    pub fn cache(mut self, config: CacheConfig) -> Self {
        self.config.cache = Some(config);
        self
    }

    /// Caps on reply sizes and nesting (see [`Limits`]).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.config.limits = limits;
        self
    }

    /// The same settings for another server (a cluster's node).
    pub(crate) fn for_node(mut self, addr: crate::info::Addr, readonly: bool) -> Self {
        self.config.info.addr = addr;
        self.config.readonly = readonly;
        self
    }

    /// The same settings for a server found by `locator` at each connect.
    pub(crate) fn located_by(mut self, locator: Locator) -> Self {
        self.config.locator = Some(locator);
        self
    }

    /// Sets a connect timeout unless one was set.
    pub(crate) fn default_connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout.get_or_insert(timeout);
        self
    }

    /// The connect timeout in force.
    pub(crate) fn connect_timeout_setting(&self) -> Duration {
        self.config.connect_timeout()
    }

    /// The text policy set, for executors that convert replies themselves.
    pub(crate) fn text(&self) -> TextPolicy {
        self.config.text
    }

    /// The pub/sub queue bound set, for subscribers made elsewhere.
    pub(crate) fn queue_bound(&self) -> Option<usize> {
        self.config.pubsub_queue_maxsize
    }

    /// Calls `observer` once for every command this client runs, with its
    /// name, server, duration and outcome: the hook for latency and error
    /// metrics (see [`CommandObserver`](crate::CommandObserver)). One
    /// dynamic call per command; unset, nothing at all. A pool's and a
    /// cluster's clients take it from the builder they are made from.
    ///
    /// ```no_run
    /// # extern crate siderpy_core as siderpy;
    /// # fn f() -> siderpy::Result<()> {
    /// use siderpy::{CommandEvent, CommandObserver};
    /// struct Log;
    /// impl CommandObserver for Log {
    ///     fn on_complete(&self, ev: &CommandEvent<'_>) {
    ///         eprintln!("{} took {:?}: {:?}", ev.operation, ev.duration, ev.error_type());
    ///     }
    /// }
    /// let redis = siderpy::Redis::builder("redis://localhost:6379")?.observer(Log).build();
    /// # Ok(()) }
    /// ```
    pub fn observer(mut self, observer: impl crate::CommandObserver + 'static) -> Self {
        self.config.observe.observer = Some(crate::observe::Observer(Arc::new(observer)));
        self
    }

    /// Whether each command's `tracing` span records its keys, in
    /// `db.query.text` (`SET user:1 ?`: the name, the keys, `?` for every
    /// other argument). Off by default: keys can be personal data. Values
    /// are never recorded. Spans need the `tracing` feature; see
    /// [`Redis`'s docs](Redis#tracing-and-metrics) for their fields.
    ///
    /// ```no_run
    /// # extern crate siderpy_core as siderpy;
    /// # fn f() -> siderpy::Result<()> {
    /// let redis = siderpy::Redis::builder("redis://localhost:6379")?.trace_keys(true).build();
    /// # Ok(()) }
    /// ```
    pub fn trace_keys(mut self, yes: bool) -> Self {
        self.config.observe.trace_keys = yes;
        self
    }

    /// Where and how the clients built here connect (for the pool's `Debug`).
    pub(crate) fn connection_info(&self) -> &ConnectionInfo {
        &self.config.info
    }

    /// The client. No I/O happens until the first command.
    pub fn build(self) -> Redis {
        let cache = self.config.cache.clone();
        Redis {
            local: Arc::new(Mutex::new(Local::default())),
            inner: Arc::new(Inner {
                reconnect: crate::connection::reconnect::Reconnect::new(self.config.backoff),
                config: self.config,
                conn: Mutex::new(None),
                blocking_idle: Mutex::new(Vec::new()),
                side_busy: Mutex::new(Vec::new()),
                connecting: Mutex::new(std::sync::Weak::new()),
                retired: Mutex::new(Vec::new()),
                generation: AtomicU64::new(0),
                cache: cache.map(Cache::new),
                located_epoch: AtomicU64::new(0),
            }),
        }
    }
}
