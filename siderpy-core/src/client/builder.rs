//! [`RedisBuilder`]: every setting of a client, from the URL and beyond it.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::convert::TextPolicy;
use crate::info::{ConnectionInfo, Password, Protocol};
use crate::resp::Limits;

use super::{Inner, Local, Redis};
// Only the TLS opt-out logs here.
#[cfg(feature = "tls")]
use crate::trace as tracing;

/// Every setting of a client, from the URL and the builder.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) info: ConnectionInfo,
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
            },
        }
    }

    /// Bounds opening the socket, the TLS handshake and the handshake
    /// commands (HELLO/AUTH/SELECT/CLIENT SETNAME) together.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = Some(timeout);
        self
    }

    /// Sets the read and the write timeout to the same value (siderpy's
    /// `timeout=` with one number).
    pub fn timeout(self, timeout: Option<Duration>) -> Self {
        self.read_timeout(timeout).write_timeout(timeout)
    }

    /// Bounds the wait for each reply; `None` (the default) waits forever.
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

    /// Sets a connect timeout unless one was set.
    pub(crate) fn default_connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout.get_or_insert(timeout);
        self
    }

    /// The connect timeout set, if any.
    pub(crate) fn connect_timeout_setting(&self) -> Option<Duration> {
        self.config.connect_timeout
    }

    /// The text policy set, for executors that convert replies themselves.
    pub(crate) fn text(&self) -> TextPolicy {
        self.config.text
    }

    /// The pub/sub queue bound set, for subscribers made elsewhere.
    pub(crate) fn queue_bound(&self) -> Option<usize> {
        self.config.pubsub_queue_maxsize
    }

    /// Where and how the clients built here connect (for the pool's `Debug`).
    pub(crate) fn connection_info(&self) -> &ConnectionInfo {
        &self.config.info
    }

    /// The client. No I/O happens until the first command.
    pub fn build(self) -> Redis {
        Redis {
            local: Arc::new(Mutex::new(Local::default())),
            inner: Arc::new(Inner {
                config: self.config,
                conn: Mutex::new(None),
                blocking_idle: Mutex::new(Vec::new()),
                side_busy: Mutex::new(Vec::new()),
                connecting: tokio::sync::Mutex::new(()),
                generation: AtomicU64::new(0),
            }),
        }
    }
}
