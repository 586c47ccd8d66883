//! [`RedisPool`]: up to `size` clients, each lent to one caller at a time.
//!
//! A [`Redis`] is already shared by any number of tasks; a pool is for work
//! that wants a connection to itself for a while (or to spread load over
//! several sockets): each command awaited on the pool borrows one client for
//! that command, and [`RedisPool::get_redis`] lends one for a scope.
//!
//! See [`RedisPool`] for what happens to a client given back dirty or broken.

#[cfg(feature = "bb8")]
pub mod bb8;
#[cfg(feature = "deadpool")]
pub mod deadpool;

use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::client::{Redis, RedisBuilder};
use crate::command::{Cmd, Executor};
use crate::convert::{convert, FromValue};
use crate::error::{Error, Result, Timeout};
use crate::info::ConnectionInfo;
use crate::trace as tracing;

/// How many clients a pool keeps when no size is given (siderpy's `POOL_SIZE`).
pub const DEFAULT_POOL_SIZE: usize = 4;

/// Up to `size` [`Redis`] clients to the same server, each lent to one
/// caller at a time.
///
/// Commands can be awaited on the pool itself: each borrows a client for
/// that one command. Commands that change the state of their connection
/// (every command whose [`Effect`](crate::Effect) is not `None`: `MULTI`,
/// `WATCH`, `SELECT`, `AUTH`, `HELLO`, `RESET`, `CLIENT REPLY`, the
/// `SUBSCRIBE` family...) are not methods of the pool, and sent by name
/// (`execute_cmd`) they are refused with [`Error::Usage`], nothing sent:
/// the next command may run on another connection, and the next borrower
/// would inherit the change. Borrow a client with
/// [`get_redis`](Self::get_redis) for them.
///
/// Cloning the pool is cheap: clones share the clients. Clients are made
/// lazily (no I/O happens until a command needs a connection) and reused
/// last in, first out.
///
/// # What comes back to the pool
/// A client is given back when its [`PooledRedis`] guard is dropped (or when
/// a command awaited on the pool finishes or is dropped). The pool never
/// lends a client that is not as its settings made it:
/// - What lives on the handle alone is **undone** on the spot, and the client
///   is lent again. A transaction (`MULTI`) or `WATCH` left open runs on a
///   connection of its own, pinned to the handle: that connection is closed,
///   so the server discards the transaction and the watches (the client's
///   own connection never saw them). Siderpy's pipeline mode is turned off
///   and commands still queued in it are dropped, unsent.
/// - The client's own connection never changes state: a lent client is a
///   [`Redis`], which refuses on its shared connection every command whose
///   [`Effect`](crate::Effect) would change it (`SELECT`, `AUTH`, `HELLO`,
///   `CLIENT SETNAME`, `RESET`, `CLIENT REPLY`, `CLIENT TRACKING`,
///   `MONITOR`, `QUIT`...), pointing to its [`dedicated`](Redis::dedicated)
///   handle, whose connection closes with that handle.
/// - What may still outlive the borrow makes it **dirty**: the handle used
///   pub/sub (subscribed, even if since unsubscribed, or asked for its
///   [`pubsub_queue`](Redis::pubsub_queue), which the borrower may still
///   hold), or another handle still shares the client (a clone of the
///   guard's `Redis`, a [`Pipeline`](crate::Pipeline) or a `dedicated()`
///   handle made from it, that outlives the guard). A dirty client is
///   **dropped**: its connection is closed, unless clones still use it (it
///   is then theirs, outside the pool). Its slot is freed at once and the
///   next borrower gets a new client.
///
/// A client whose connection **failed** (server restart, `CLIENT KILL`, a
/// write timeout) is not dirty and is kept: a `Redis` reconnects by itself on its
/// next command, repeating the handshake (AUTH, SELECT of the configured db,
/// CLIENT SETNAME), so the next borrower transparently gets a fresh
/// connection. Commands that were in flight when it failed got the error.
///
/// # Choosing how clients are kept
/// What holds idle clients and makes callers wait is a [`ConnectionPool`]
/// (siderpy's `pool_cls`). [`DefaultPool`] reuses the most recently returned
/// client first (last in, first out), makes new ones lazily up to `size`, and
/// serves waiters first come, first served. Another strategy plugs in with
/// [`RedisPoolBuilder::build_with`]; the policy above is enforced by
/// [`RedisPool`] whatever the strategy.
///
/// # Examples
/// ```no_run
/// # extern crate siderpy_core as siderpy;
/// # async fn f() -> siderpy::Result<()> {
/// use std::time::Duration;
/// use siderpy::prelude::*;
///
/// let pool = siderpy::RedisPool::builder("redis://localhost:6379/0")?
///     .size(8)
///     .client(|c| c.read_timeout(Some(Duration::from_secs(1))))
///     .build();
/// pool.set("greeting", "hello").await?;
/// let n: i64 = pool.incr("visits").await?;
///
/// // A client of one's own, for commands that need connection state.
/// let redis = pool.get_redis(Some(Duration::from_millis(100))).await?;
/// redis.multi().await?;
/// # Ok(()) }
/// ```
pub struct RedisPool<P: ConnectionPool = DefaultPool> {
    shared: Arc<Shared<P>>,
}

struct Shared<P> {
    pool: P,
    /// Where the clients connect, for `Debug` (never shows the password).
    info: ConnectionInfo,
    /// How long commands awaited on the pool wait for a free client.
    wait_timeout: Option<Duration>,
}

impl<P: ConnectionPool> Clone for RedisPool<P> {
    fn clone(&self) -> Self {
        RedisPool { shared: Arc::clone(&self.shared) }
    }
}

impl RedisPool {
    /// A pool of [`DEFAULT_POOL_SIZE`] clients of `url`, with default
    /// settings. No I/O happens here.
    ///
    /// ```no_run
    /// # extern crate siderpy_core as siderpy;
    /// # async fn f() -> siderpy::Result<()> {
    /// use siderpy::prelude::*;
    /// let pool = siderpy::RedisPool::new("redis://localhost:6379/0")?;
    /// let value = pool.get("key").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Url`] when the URL is invalid.
    pub fn new(url: &str) -> Result<Self> {
        Ok(Self::builder(url)?.build())
    }

    /// A builder for a pool of `url`: its size and every setting a
    /// [`Redis`] takes.
    ///
    /// ```no_run
    /// # extern crate siderpy_core as siderpy;
    /// # fn f() -> siderpy::Result<()> {
    /// let pool = siderpy::RedisPool::builder("redis://localhost:6379/0")?.size(16).build();
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Url`] when the URL is invalid.
    pub fn builder(url: &str) -> Result<RedisPoolBuilder> {
        Ok(RedisPoolBuilder::from(Redis::builder(url)?))
    }
}

impl<P: ConnectionPool> RedisPool<P> {
    /// Borrows a client until the returned guard is dropped, waiting at most
    /// `timeout` for one to be free (`None` waits as long as it takes).
    ///
    /// The guard derefs to [`Redis`], with every command, stateful ones
    /// included (`MULTI`, `WATCH`; `SELECT`, `AUTH`... on its
    /// [`dedicated`](Redis::dedicated) handle). What is left open on it is
    /// undone when it comes back, or the client is dropped rather than lent
    /// again dirty (see
    /// [what comes back to the pool](RedisPool#what-comes-back-to-the-pool)).
    ///
    /// A task holding every client and then awaiting a command on the pool
    /// waits for itself: forever, or until the pool's
    /// [`wait_timeout`](RedisPoolBuilder::wait_timeout).
    ///
    /// ```no_run
    /// # extern crate siderpy_core as siderpy;
    /// # async fn f(pool: siderpy::RedisPool) -> siderpy::Result<()> {
    /// use std::time::Duration;
    /// use siderpy::prelude::*;
    /// let redis = pool.get_redis(Some(Duration::from_secs(1))).await?;
    /// let mut tx = redis.transaction();
    /// tx.incr("a").queue().incr("b").queue();
    /// let (a, b): (i64, i64) = tx.query().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// - [`Error::Timeout`]`(`[`Timeout::Pool`]`)` when no client became
    ///   free within `timeout`.
    /// - [`Error::Closed`]`("pool")` when the pool is (or gets) closed.
    pub async fn get_redis(&self, timeout: Option<Duration>) -> Result<PooledRedis<P>> {
        let redis = self.shared.pool.acquire(timeout).await?;
        Ok(PooledRedis { redis: Some(redis), pool: self.clone() })
    }

    /// Closes the pool: idle clients are closed now, callers waiting for a
    /// client and every later call get [`Error::Closed`]`("pool")`. Clients
    /// lent out at that moment finish what they are doing and are closed
    /// when given back. Unlike a [`Redis`], a closed pool stays closed.
    ///
    /// ```no_run
    /// # extern crate siderpy_core as siderpy;
    /// # async fn f(pool: siderpy::RedisPool) {
    /// use siderpy::prelude::*;
    /// pool.close().await;
    /// assert!(matches!(pool.get("key").await, Err(siderpy::Error::Closed("pool"))));
    /// # }
    /// ```
    pub async fn close(&self) {
        self.shared.pool.close();
    }

    /// Whether [`close`](Self::close) was called.
    ///
    /// ```
    /// # extern crate siderpy_core as siderpy;
    /// let pool = siderpy::RedisPool::new("redis://localhost:6379/0").unwrap();
    /// assert!(!pool.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.status().closed
    }

    /// How many clients the pool holds, idle and lent out, right now.
    ///
    /// ```
    /// # extern crate siderpy_core as siderpy;
    /// let pool = siderpy::RedisPool::new("redis://localhost:6379/0").unwrap();
    /// let status = pool.status();
    /// assert_eq!((status.size, status.idle, status.in_use), (4, 0, 0));
    /// ```
    pub fn status(&self) -> PoolStatus {
        self.shared.pool.status()
    }

    /// The settings every client of the pool connects with.
    ///
    /// ```
    /// # extern crate siderpy_core as siderpy;
    /// let pool = siderpy::RedisPool::new("redis://localhost:6379/2").unwrap();
    /// assert_eq!(pool.connection_info().db, 2);
    /// ```
    pub fn connection_info(&self) -> &ConnectionInfo {
        &self.shared.info
    }

    /// The strategy holding the clients.
    ///
    /// ```
    /// # extern crate siderpy_core as siderpy;
    /// use siderpy::ConnectionPool;
    /// let pool = siderpy::RedisPool::new("redis://localhost:6379/0").unwrap();
    /// assert_eq!(pool.strategy().settings().size(), 4);
    /// ```
    pub fn strategy(&self) -> &P {
        &self.shared.pool
    }

    /// Takes a client back from a guard: to the strategy when it can be
    /// lent again, else dropped (see the type's docs).
    fn give_back(&self, redis: Redis) {
        if reusable(&redis) {
            self.shared.pool.release(redis);
        } else {
            tracing::debug!(server = %self.shared.info, "client given back dirty or still shared; dropping it");
            drop(redis);
            self.shared.pool.discard();
        }
    }
}

/// Undoes what lives on the handle alone (an open transaction, WATCH or
/// subscription, by closing the connection pinned for it; pipeline mode and
/// its queue), then says whether the client is as its settings made it and
/// no one else holds it. See [`RedisPool`]'s docs.
pub(crate) fn reusable(redis: &Redis) -> bool {
    redis.close_pinned();
    redis.pipeline_off();
    redis.pipeline_clear();
    !redis.is_shared() && redis.is_clean()
}

/// Shows where the clients connect (never the password) and how many there are.
impl<P: ConnectionPool> fmt::Debug for RedisPool<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.status();
        f.debug_struct("RedisPool")
            .field("server", &format_args!("{}", self.shared.info))
            .field("size", &status.size)
            .field("idle", &status.idle)
            .field("in_use", &status.in_use)
            .field("closed", &status.closed)
            .finish()
    }
}

/// Builds a [`RedisPool`]: its size, how long commands wait for a client,
/// and every setting of its clients (a [`RedisBuilder`]).
///
/// ```no_run
/// # extern crate siderpy_core as siderpy;
/// # fn f() -> siderpy::Result<()> {
/// use std::time::Duration;
/// let pool = siderpy::RedisPool::builder("redis+unix:///run/redis.sock?db=1")?
///     .size(8)
///     .wait_timeout(Some(Duration::from_secs(2)))
///     .client(|c| c.connect_timeout(Duration::from_secs(1)).client_name("worker"))
///     .build();
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "call .build() to get the pool"]
pub struct RedisPoolBuilder {
    client: RedisBuilder,
    size: usize,
    wait_timeout: Option<Duration>,
}

/// A pool whose clients have these settings, of [`DEFAULT_POOL_SIZE`].
///
/// ```
/// # extern crate siderpy_core as siderpy;
/// let client = siderpy::Redis::builder("redis://localhost:6379/0").unwrap().db(3);
/// let pool = siderpy::RedisPoolBuilder::from(client).build();
/// assert_eq!(pool.connection_info().db, 3);
/// ```
impl From<RedisBuilder> for RedisPoolBuilder {
    fn from(client: RedisBuilder) -> Self {
        RedisPoolBuilder { client, size: DEFAULT_POOL_SIZE, wait_timeout: None }
    }
}

impl RedisPoolBuilder {
    /// How many clients the pool holds at most (default [`DEFAULT_POOL_SIZE`]).
    ///
    /// ```
    /// # extern crate siderpy_core as siderpy;
    /// let pool = siderpy::RedisPool::builder("redis://localhost").unwrap().size(10).build();
    /// assert_eq!(pool.status().size, 10);
    /// ```
    ///
    /// # Panics
    /// When `size` is 0: such a pool could never lend a client.
    pub fn size(mut self, size: usize) -> Self {
        assert!(size > 0, "a pool needs a size of at least 1");
        self.size = size;
        self
    }

    /// How long a command awaited on the pool waits for a free client;
    /// expiry is [`Error::Timeout`]`(`[`Timeout::Pool`]`)`. `None` (the
    /// default) waits as long as it takes. [`RedisPool::get_redis`] takes
    /// its own timeout.
    ///
    /// ```
    /// # extern crate siderpy_core as siderpy;
    /// use std::time::Duration;
    /// let pool = siderpy::RedisPool::builder("redis://localhost")
    ///     .unwrap()
    ///     .wait_timeout(Some(Duration::from_millis(500)))
    ///     .build();
    /// ```
    pub fn wait_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.wait_timeout = timeout;
        self
    }

    /// Changes the settings of the pool's clients: every method of
    /// [`RedisBuilder`] is available (timeouts, TLS, credentials, db,
    /// protocol, client name, limits...).
    ///
    /// ```
    /// # extern crate siderpy_core as siderpy;
    /// use std::time::Duration;
    /// let pool = siderpy::RedisPool::builder("redis://localhost")
    ///     .unwrap()
    ///     .client(|c| c.auth(Some("app"), "secret").db(2).timeout(Some(Duration::from_secs(1))))
    ///     .build();
    /// assert_eq!(pool.connection_info().username.as_deref(), Some("app"));
    /// ```
    pub fn client(mut self, settings: impl FnOnce(RedisBuilder) -> RedisBuilder) -> Self {
        self.client = settings(self.client);
        self
    }

    /// The pool, with the [`DefaultPool`] strategy. No I/O happens here.
    ///
    /// ```
    /// # extern crate siderpy_core as siderpy;
    /// let pool: siderpy::RedisPool = siderpy::RedisPool::builder("redis://localhost").unwrap().build();
    /// ```
    pub fn build(self) -> RedisPool {
        self.build_with()
    }

    /// The pool, with clients held by the strategy `P` (see
    /// [`ConnectionPool`]).
    ///
    /// ```
    /// # extern crate siderpy_core as siderpy;
    /// use siderpy::{DefaultPool, RedisPool};
    /// let pool: RedisPool<DefaultPool> = RedisPool::builder("redis://localhost").unwrap().build_with();
    /// ```
    pub fn build_with<P: ConnectionPool>(self) -> RedisPool<P> {
        let info = self.client.connection_info().clone();
        let settings = PoolSettings { client: self.client, size: self.size };
        RedisPool { shared: Arc::new(Shared { pool: P::new(settings), info, wait_timeout: self.wait_timeout }) }
    }
}

/// What a [`ConnectionPool`] strategy is made from: the clients' settings
/// and the pool's size.
///
/// ```
/// # extern crate siderpy_core as siderpy;
/// use siderpy::ConnectionPool;
/// let pool = siderpy::RedisPool::builder("redis://localhost").unwrap().size(2).build();
/// let settings = pool.strategy().settings();
/// assert_eq!(settings.size(), 2);
/// let client: siderpy::Redis = settings.new_client(); // no I/O yet
/// ```
#[derive(Debug, Clone)]
pub struct PoolSettings {
    client: RedisBuilder,
    size: usize,
}

impl PoolSettings {
    /// How many clients the pool may hold at most, idle and lent out.
    ///
    /// ```
    /// # extern crate siderpy_core as siderpy;
    /// # use siderpy::ConnectionPool;
    /// # let settings = siderpy::RedisPool::new("redis://localhost").unwrap().strategy().settings().clone();
    /// assert!(settings.size() >= 1);
    /// ```
    pub fn size(&self) -> usize {
        self.size
    }

    /// A new client with the pool's settings. No I/O happens until its
    /// first command.
    ///
    /// ```
    /// # extern crate siderpy_core as siderpy;
    /// # use siderpy::ConnectionPool;
    /// # let settings = siderpy::RedisPool::new("redis://localhost/1").unwrap().strategy().settings().clone();
    /// assert_eq!(settings.new_client().connection_info().db, 1);
    /// ```
    pub fn new_client(&self) -> Redis {
        self.client.clone().build()
    }

    /// The clients' settings.
    ///
    /// ```
    /// # extern crate siderpy_core as siderpy;
    /// # use siderpy::ConnectionPool;
    /// # let settings = siderpy::RedisPool::new("redis://localhost").unwrap().strategy().settings().clone();
    /// let client = settings.client_builder().clone().client_name("one-off").build();
    /// ```
    pub fn client_builder(&self) -> &RedisBuilder {
        &self.client
    }
}

/// A snapshot of a pool's clients.
///
/// ```
/// # extern crate siderpy_core as siderpy;
/// let pool = siderpy::RedisPool::new("redis://localhost").unwrap();
/// let siderpy::PoolStatus { size, idle, in_use, closed, .. } = pool.status();
/// assert!(idle + in_use <= size && !closed);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStatus {
    /// How many clients the pool may hold at most.
    pub size: usize,
    /// Clients waiting in the pool to be lent.
    pub idle: usize,
    /// Clients lent out right now.
    pub in_use: usize,
    /// Whether the pool was closed.
    pub closed: bool,
}

impl PoolStatus {
    /// A status; for [`ConnectionPool`] implementations.
    ///
    /// ```
    /// # extern crate siderpy_core as siderpy;
    /// let status = siderpy::PoolStatus::new(4, 1, 2, false);
    /// assert_eq!(status.in_use, 2);
    /// ```
    pub fn new(size: usize, idle: usize, in_use: usize, closed: bool) -> Self {
        PoolStatus { size, idle, in_use, closed }
    }
}

/// How a [`RedisPool`] keeps its clients and makes callers wait for one: the
/// pluggable part of a pool (siderpy's `pool_cls`). [`DefaultPool`] is the
/// one used unless [`RedisPoolBuilder::build_with`] names another.
///
/// The [`RedisPool`] around the strategy lends what
/// [`acquire`](Self::acquire) returns and, when the borrower is done, hands
/// a clean client to [`release`](Self::release), or drops a dirty one and
/// calls [`discard`](Self::discard) (see
/// [what comes back to the pool](RedisPool#what-comes-back-to-the-pool)): a
/// strategy only ever takes back clean clients. Every client lent out is followed by exactly one of the two.
///
/// A strategy must never hold more than [`PoolSettings::size`] clients,
/// idle and lent out together.
///
/// # Examples
/// A pool that reuses clients first in, first out (round robin):
/// ```
/// # extern crate siderpy_core as siderpy;
/// use std::collections::VecDeque;
/// use std::sync::Mutex;
/// use std::time::Duration;
/// use siderpy::{ConnectionPool, Error, PoolSettings, PoolStatus, Redis, Timeout};
/// use tokio::sync::Semaphore;
///
/// struct Fifo {
///     settings: PoolSettings,
///     idle: Mutex<VecDeque<Redis>>,
///     free: Semaphore,
/// }
///
/// impl ConnectionPool for Fifo {
///     fn new(settings: PoolSettings) -> Self {
///         let free = Semaphore::new(settings.size());
///         Fifo { settings, idle: Mutex::new(VecDeque::new()), free }
///     }
///     async fn acquire(&self, timeout: Option<Duration>) -> siderpy::Result<Redis> {
///         let permit = match timeout {
///             Some(t) => tokio::time::timeout(t, self.free.acquire()).await.map_err(|_| Error::Timeout(Timeout::Pool))?,
///             None => self.free.acquire().await,
///         };
///         permit.map_err(|_| Error::Closed("pool"))?.forget();
///         let idle = self.idle.lock().unwrap().pop_front();
///         Ok(idle.unwrap_or_else(|| self.settings.new_client()))
///     }
///     fn release(&self, redis: Redis) {
///         let mut idle = self.idle.lock().unwrap();
///         if !self.free.is_closed() {
///             idle.push_back(redis); // else dropped: closed
///         }
///         self.free.add_permits(1);
///     }
///     fn discard(&self) {
///         self.free.add_permits(1);
///     }
///     fn close(&self) {
///         self.free.close();
///         self.idle.lock().unwrap().clear();
///     }
///     fn status(&self) -> PoolStatus {
///         let size = self.settings.size();
///         let idle = self.idle.lock().unwrap().len();
///         PoolStatus::new(size, idle, size - self.free.available_permits(), self.free.is_closed())
///     }
///     fn settings(&self) -> &PoolSettings {
///         &self.settings
///     }
/// }
///
/// let pool = siderpy::RedisPool::builder("redis://localhost").unwrap().build_with::<Fifo>();
/// ```
pub trait ConnectionPool: Send + Sync + 'static {
    /// An empty pool for clients with these settings. No I/O should happen
    /// here: clients are made when first needed.
    fn new(settings: PoolSettings) -> Self
    where
        Self: Sized;

    /// Lends a client: an idle one, or a new one
    /// ([`PoolSettings::new_client`]) while fewer than `size` exist, or
    /// else the first one given back, waiting at most `timeout` (`None`:
    /// as long as it takes).
    ///
    /// # Errors
    /// [`Error::Timeout`]`(`[`Timeout::Pool`]`)` when `timeout` expired, and
    /// [`Error::Closed`]`("pool")` once the pool is closed (callers already
    /// waiting included).
    fn acquire(&self, timeout: Option<Duration>) -> impl Future<Output = Result<Redis>> + Send;

    /// Takes back a clean client lent by [`acquire`](Self::acquire). After
    /// [`close`](Self::close), drop it instead (dropping a client closes it).
    fn release(&self, redis: Redis);

    /// A client lent by [`acquire`](Self::acquire) will not come back (it
    /// was dropped, dirty): its slot is free for a new one.
    fn discard(&self);

    /// Drops every idle client and fails current and later
    /// [`acquire`](Self::acquire)s with [`Error::Closed`]`("pool")`.
    fn close(&self);

    /// How many clients there are.
    fn status(&self) -> PoolStatus;

    /// The settings the pool was made with.
    fn settings(&self) -> &PoolSettings;
}

/// The default [`ConnectionPool`]: makes clients lazily up to `size`,
/// reuses the most recently returned one first (last in, first out), and
/// serves callers waiting for a client first come, first served.
///
/// ```
/// # extern crate siderpy_core as siderpy;
/// let pool: siderpy::RedisPool<siderpy::DefaultPool> = siderpy::RedisPool::new("redis://localhost").unwrap();
/// ```
pub struct DefaultPool {
    settings: PoolSettings,
    idle: Mutex<Idle>,
    /// One permit per client that may still be lent: `size` minus those
    /// lent out. Closed with the pool, which fails every waiter.
    free: Semaphore,
    lent: AtomicUsize,
}

struct Idle {
    /// Last returned at the end.
    clients: Vec<Redis>,
    closed: bool,
}

impl DefaultPool {
    fn idle(&self) -> MutexGuard<'_, Idle> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl ConnectionPool for DefaultPool {
    fn new(settings: PoolSettings) -> Self {
        DefaultPool {
            free: Semaphore::new(settings.size),
            settings,
            idle: Mutex::new(Idle { clients: Vec::new(), closed: false }),
            lent: AtomicUsize::new(0),
        }
    }

    async fn acquire(&self, timeout: Option<Duration>) -> Result<Redis> {
        let permit = match timeout {
            Some(limit) => {
                tokio::time::timeout(limit, self.free.acquire()).await.map_err(|_| Error::Timeout(Timeout::Pool))?
            }
            None => self.free.acquire().await,
        };
        // The permit stands for the lent client until release or discard.
        permit.map_err(|_| Error::Closed("pool"))?.forget();
        self.lent.fetch_add(1, Ordering::Relaxed);
        let idle = self.idle().clients.pop();
        Ok(idle.unwrap_or_else(|| self.settings.new_client()))
    }

    fn release(&self, redis: Redis) {
        let mut idle = self.idle();
        let dropped = if idle.closed {
            Some(redis)
        } else {
            idle.clients.push(redis);
            None
        };
        drop(idle);
        drop(dropped); // closes its connections, outside the lock
        self.discard();
    }

    fn discard(&self) {
        self.lent.fetch_sub(1, Ordering::Relaxed);
        self.free.add_permits(1);
    }

    fn close(&self) {
        let clients = {
            let mut idle = self.idle();
            idle.closed = true;
            std::mem::take(&mut idle.clients)
        };
        self.free.close();
        tracing::debug!(idle = clients.len(), "pool closed");
        drop(clients);
    }

    fn status(&self) -> PoolStatus {
        let idle = self.idle();
        PoolStatus::new(self.settings.size, idle.clients.len(), self.lent.load(Ordering::Relaxed), idle.closed)
    }

    fn settings(&self) -> &PoolSettings {
        &self.settings
    }
}

impl fmt::Debug for DefaultPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.status();
        f.debug_struct("DefaultPool")
            .field("server", &format_args!("{}", self.settings.client.connection_info()))
            .field("size", &status.size)
            .field("idle", &status.idle)
            .field("in_use", &status.in_use)
            .field("closed", &status.closed)
            .finish()
    }
}

/// A client borrowed from a [`RedisPool`] with
/// [`get_redis`](RedisPool::get_redis); it goes back to the pool when this
/// guard is dropped. Derefs to [`Redis`], stateful commands included.
///
/// ```no_run
/// # extern crate siderpy_core as siderpy;
/// # async fn f(pool: siderpy::RedisPool) -> siderpy::Result<()> {
/// use siderpy::prelude::*;
/// {
///     let redis = pool.get_redis(None).await?;
///     redis.execute_cmd("CLIENT", ("SETINFO", "LIB-NAME", "mine")).await?;
///     let v = redis.get("key").await?;
/// } // back to the pool
/// # Ok(()) }
/// ```
pub struct PooledRedis<P: ConnectionPool = DefaultPool> {
    /// `None` only while dropping.
    redis: Option<Redis>,
    pool: RedisPool<P>,
}

impl<P: ConnectionPool> Deref for PooledRedis<P> {
    type Target = Redis;

    fn deref(&self) -> &Redis {
        self.redis.as_ref().expect("present until dropped")
    }
}

impl<P: ConnectionPool> Drop for PooledRedis<P> {
    fn drop(&mut self) {
        if let Some(redis) = self.redis.take() {
            self.pool.give_back(redis);
        }
    }
}

impl<P: ConnectionPool> fmt::Debug for PooledRedis<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PooledRedis").field(&**self).finish()
    }
}

/// Commands awaited on the pool each borrow a client for that command.
/// Only [`Commands`](crate::Commands): the pool is no
/// [`StatefulExecutor`](crate::StatefulExecutor).
impl<'a, P: ConnectionPool> Executor for &'a RedisPool<P> {
    type Sink = &'a RedisPool<P>;
    fn __sink(self) -> &'a RedisPool<P> {
        self
    }
}

/// Borrows a client (waiting at most the pool's
/// [`wait_timeout`](RedisPoolBuilder::wait_timeout)), runs the command on it
/// and gives it back. A blocking command (`BLPOP`...) holds its client while
/// it blocks, and no other.
impl<'a, P: ConnectionPool> crate::command::Sink for &'a RedisPool<P> {
    type Running<R> = crate::command::Boxed<'a, R>;
}

impl<'a, P: ConnectionPool, K: ?Sized, R: FromValue + Send + 'a> Future for Cmd<&'a RedisPool<P>, K, R> {
    type Output = Result<R>;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<R>> {
        self.get_mut().poll_boxed(cx, |pool, args, opts| {
            Box::pin(async move {
                if let Some(info) = opts.info.filter(|i| !i.effect.is_none()) {
                    return Err(Error::Usage(format!(
                        "{} changes the state of its connection, and a command awaited on the pool borrows a \
                     client for that one command: borrow one with get_redis() (and use its dedicated() \
                     handle for AUTH, HELLO, SELECT, CLIENT SETNAME, RESET, CLIENT REPLY)",
                        info.name
                    )));
                }
                let redis = pool.get_redis(pool.shared.wait_timeout).await?;
                // The request drops the arguments once queued: a large value is
                // held once while the reply is awaited. So the name, for a type
                // error, is taken first; a typed command's is static.
                let name: std::borrow::Cow<'static, str> = opts.name().map_or_else(|| args.name().into(), Into::into);
                let value = redis.request(args, opts).await?;
                convert::<R>(value, redis.text_policy()).map_err(|e| match e {
                    Error::Type(t) => Error::Type(t.with_command(&name)),
                    e => e,
                })
            })
        })
    }
}

/// `PING`s a client, connecting it first if needed (for the bb8 and
/// deadpool managers).
#[cfg(any(feature = "bb8", feature = "deadpool"))]
async fn ping(redis: &Redis) -> Result<()> {
    redis.request(&crate::args::CmdArgs::with_name("PING"), Default::default()).await.map(drop)
}
