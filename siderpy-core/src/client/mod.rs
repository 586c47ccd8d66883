//! [`Redis`]: one logical connection, shared by any number of tasks.
//!
//! One file per job, each owning its kind of connection:
//! - `mod.rs`: the handle, its settings and `close()`, and the choice of
//!   route for each command;
//! - `connect.rs`: opening a connection (socket, TLS, handshake);
//! - `handshake.rs`: the commands a new connection sends first;
//! - `shared.rs`: the shared connection every clone sends on;
//! - `side.rs`: side connections, one per blocking call, kept idle between uses;
//! - `pinned.rs`: connections pinned to one handle (MULTI/WATCH, `dedicated()`);
//! - `pubsub.rs`: the subscribed connection, its queue and re-subscribing;
//! - `session.rs`: what a dedicated handle's own commands set on its
//!   connection (db, user, protocol, name, reply mode), replayed on reconnect;
//! - `monitor.rs`: `MONITOR` on a connection of its own.

mod builder;
mod connect;
mod handshake;
pub(crate) mod locate;
mod monitor;
mod pinned;
mod pubsub;
mod session;
mod shared;
mod side;
mod tracking;

use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::args::{CmdArgs, Outgoing};
use crate::command::{CallOptions, CommandInfo, Effect, Executor, StatefulExecutor};
use crate::connection::{await_batch, Connection, Frames, WeakConnection};
use crate::convert::TextPolicy;
use crate::error::{Error, Result, Timeout};
use crate::info::{parse_url, ConnectionInfo, DEFAULT_URL};
use crate::observe::Probe;
use crate::pubsub::{Family, PubSubQueue};
use crate::trace as tracing;
use crate::value::Value;

pub(crate) use builder::Config;
pub use builder::{
    RedisBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TCP_KEEPALIVE, DEFAULT_TCP_USER_TIMEOUT, DEFAULT_UNRESPONSIVE_AFTER,
};
use pinned::Pinned;
use side::CloseOnDrop;

/// One logical connection to a Redis server.
///
/// `Redis` is cheap to clone and every clone shares the connection: any
/// number of tasks may send commands at once. Their commands are written
/// back to back (pipelined) and each reply reaches the task that sent the
/// matching command.
///
/// Blocking commands (`BLPOP`, `BRPOP`, `XREAD BLOCK`..., as the spec flags
/// them) each run on a connection of their own, opened when needed and kept
/// for reuse, so a task waiting on `BLPOP key 0` never stalls the others.
///
/// Construction does no I/O: the first command connects. After the
/// connection fails or is [closed](Redis::close), the next command opens a
/// new one and repeats the handshake (HELLO, AUTH, SELECT, CLIENT SETNAME).
///
/// # Who owns which connection
/// Every connection has one owner and closes, with its socket and the
/// state the server keeps for it, when that owner goes:
/// - the shared connection and the idle side connections belong to the
///   client, and close when its last clone is dropped;
/// - a side connection belongs to the blocking call using it while it
///   waits (an abandoned call closes it, since the server keeps it blocked);
/// - a pinned connection (an open `MULTI` or `WATCH`, a subscription, a
///   [`dedicated`](Redis::dedicated) handle) belongs to its handle and
///   closes when that handle (and, for a dedicated one, its clones) is
///   dropped: a dropped transaction is never left queued on the server;
/// - a connection still connecting belongs to the call that opened it, and
///   closes if that call's future is dropped.
///
/// [`close`](Redis::close) closes what the handle owns and nothing else.
///
/// # Tracing and metrics
/// With the `tracing` feature, every command is a span, target
/// `siderpy::command`, level `DEBUG`, name `redis`, from its first poll to
/// its reply, entered while it is polled. Its fields follow OpenTelemetry's
/// database conventions: `db.system.name = "redis"`, `db.operation.name`
/// (the spec's name: `"GET"`, `"CLIENT SETNAME"`), `server.address`,
/// `server.port` (TCP), `db.namespace` (the db index), and on failure
/// `error.type` (a server error's code such as `WRONGTYPE`, else `timeout`,
/// `io`, `closed`, `cancelled`...), `db.response.status_code` (a server
/// error's code) and `otel.status_code = "ERROR"`; `otel.name` and
/// `otel.kind` are for `tracing-opentelemetry`. A pipeline or transaction
/// is one span, `PIPELINE` or `MULTI`, with `db.operation.batch.size`: its
/// commands travel and are answered together. No argument value is
/// recorded; [`RedisBuilder::trace_keys`] adds the keys. A command that
/// fails to convert to its Rust type after a good reply is not a failure of
/// the span: the server did what was asked.
///
/// [`RedisBuilder::observer`] is the hook for metrics: one call per
/// command, with the same facts and its duration.
///
/// ```no_run
/// # extern crate siderpy_core as siderpy;
/// # async fn f() -> siderpy::Result<()> {
/// use siderpy::prelude::*;
/// // With a subscriber that enables `siderpy::command=debug` (an
/// // `EnvFilter`, say), each of these is a span named after its command.
/// let redis = siderpy::Redis::builder("redis://localhost:6379/2")?.trace_keys(true).build();
/// redis.set("user:1", "value").await?; // db.operation.name="SET", db.namespace="2", db.query.text="SET user:1 ?"
/// # Ok(()) }
/// ```
///
/// # Examples
/// ```no_run
/// # extern crate siderpy_core as siderpy;
/// # async fn f() -> siderpy::Result<()> {
/// use siderpy::prelude::*;
/// let redis = siderpy::Redis::new("redis://localhost:6379/0")?;
/// // Every command is a method, its options setters, its reply typed.
/// let set: bool = redis.set("greeting", "hello").ex(60).await?;
/// let greeting = redis.get("greeting").await?; // Option<Bytes>
/// // Another reply type, when the default is not the one wanted:
/// let v: Option<String> = redis.get("greeting").returning().await?;
/// assert_eq!(v.as_deref(), Some("hello"));
/// let removed = redis.delete(["greeting", "other"]).await?; // DEL: i64
/// # Ok(()) }
/// ```
///
/// A command the spec does not know (a module's, a newer server's) is sent
/// with `execute_cmd`, its reply a [`Value`](crate::Value):
/// ```no_run
/// # extern crate siderpy_core as siderpy;
/// # async fn f(redis: siderpy::Redis) -> siderpy::Result<()> {
/// use siderpy::prelude::*;
/// let reply = redis.execute_cmd("MODULE.CMD", ("key", 1)).await?;
/// # Ok(()) }
/// ```
pub struct Redis {
    inner: Arc<Inner>,
    /// This handle's own state: not shared with its clones.
    local: Arc<Mutex<Local>>,
}

/// What belongs to one `Redis` handle rather than to the connection.
#[derive(Default)]
pub(crate) struct Local {
    /// A connection this handle uses exclusively, while a transaction or a
    /// WATCH is open on it, or for good (see [`Redis::dedicated`]).
    pinned: Option<Pinned>,
    /// siderpy's pipeline mode: while on, awaiting a command is refused.
    pub(crate) pipeline_mode: bool,
    /// Commands queued with `.queue()` for [`Redis::pipeline_execute`].
    pub(crate) pipeline: Vec<(CmdArgs, Option<&'static CommandInfo>)>,
    /// Where this handle's pub/sub messages go; made on first use.
    pubsub: Option<PubSubQueue>,
}

/// A clone shares the connection but not the handle's pipeline buffer or
/// an open transaction. The clone of a [`dedicated`](Redis::dedicated)
/// handle uses the same dedicated connection.
impl Clone for Redis {
    fn clone(&self) -> Self {
        let local = self.local();
        let pinned =
            local.pinned.as_ref().filter(|p| p.dedicated()).map(|p| Pinned::new(p.conn.clone(), p.session.clone()));
        Redis { inner: Arc::clone(&self.inner), local: Arc::new(Mutex::new(Local { pinned, ..Local::default() })) }
    }
}

/// What every clone of a client shares. It owns the shared connection and
/// the idle side connections: when the last clone goes, they close (a
/// [`Connection`] closes with its last handle).
pub(crate) struct Inner {
    config: Config,
    conn: Mutex<Option<Connection>>,
    /// Side connections (blocking commands, transactions), kept between uses.
    blocking_idle: Mutex<Vec<Connection>>,
    /// Side connections lent to a blocking call (which owns it while it
    /// waits), so that `close()` can fail that call.
    side_busy: Mutex<Vec<WeakConnection>>,
    /// The attempt to open the shared connection under way, if any: one at
    /// a time, whoever waits on it.
    connecting: Mutex<shared::Attempt>,
    /// Shared connections retired after a silent read timeout, kept (and
    /// owned) until the calls still in flight on them are answered.
    retired: Mutex<Vec<Connection>>,
    generation: AtomicU64,
    /// The locator's epoch when this client last checked it (see
    /// [`Redis::check_reconnect`]).
    located_epoch: AtomicU64,
    /// When connecting may be tried again after a failure.
    reconnect: crate::connection::reconnect::Reconnect,
    /// The client-side cache, when the builder asked for one.
    pub(crate) cache: Option<Arc<crate::cache::Cache>>,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis").field("server", &format_args!("{}", self.inner.config.info)).finish()
    }
}

impl Default for Redis {
    /// A client for `redis://localhost:6379/0`.
    fn default() -> Self {
        Redis::new(DEFAULT_URL).expect("the default URL is valid")
    }
}

impl Redis {
    /// A client for `url` with default settings. No I/O happens here.
    ///
    /// # Errors
    /// [`Error::Url`] when the URL is invalid.
    pub fn new(url: &str) -> Result<Self> {
        Ok(Self::builder(url)?.build())
    }

    /// A builder for a client of `url`, for timeouts, TLS and the rest.
    ///
    /// # Errors
    /// [`Error::Url`] when the URL is invalid.
    pub fn builder(url: &str) -> Result<RedisBuilder> {
        Ok(RedisBuilder::from_info(parse_url(url)?))
    }

    /// The settings this client connects with.
    pub fn connection_info(&self) -> &ConnectionInfo {
        &self.inner.config.info
    }

    /// Closes the connections this handle owns, and returns once their
    /// sockets are closed.
    ///
    /// - On a [`dedicated`](Redis::dedicated) handle (or a clone of one):
    ///   its own connection, and nothing else; the client it came from and
    ///   its other handles go on.
    /// - On any other handle: the client's shared connection, its side
    ///   connections (idle, or lent to a blocking call such as `BLPOP`), and
    ///   the connection this handle pinned for a transaction, a `WATCH` or a
    ///   subscription. Other handles' pinned connections are theirs.
    ///
    /// Every command in flight on those connections fails at once with
    /// [`Error::Closed`], blocking calls included: a `BLPOP` waiting on a
    /// side connection returns, and the server no longer counts it as
    /// waiting, so an element pushed afterwards stays in the list. An open
    /// transaction or `WATCH` ends with its connection (the handle's next
    /// commands fail until it sends `EXEC`, `DISCARD` or `RESET`), and
    /// subscriptions end (the pub/sub queue closes).
    ///
    /// The client stays usable: the next command reconnects at once (even
    /// while backing off, or after giving up), as in siderpy (a dedicated
    /// handle opens a new dedicated connection, with the settings its own
    /// commands gave it).
    pub async fn close(&self) {
        let err = Error::Closed("connection");
        let pinned = self.local().pinned.as_ref().map(|p| (p.conn.clone(), p.dedicated()));
        let mut owned = Vec::new();
        match pinned {
            // What it pinned stays recorded: a dedicated handle stays
            // dedicated, and a transaction's commands do not go elsewhere.
            Some((conn, true)) => owned.push(conn),
            pinned => {
                owned.extend(pinned.map(|(conn, _)| conn));
                owned.extend(self.inner.conn.lock().unwrap_or_else(|p| p.into_inner()).take());
                owned.extend(std::mem::take(&mut *self.inner.retired.lock().unwrap_or_else(|p| p.into_inner())));
                owned.extend(std::mem::take(&mut *side::lock_idle(&self.inner.blocking_idle)));
                let busy = std::mem::take(&mut *self.inner.side_busy.lock().unwrap_or_else(|p| p.into_inner()));
                owned.extend(busy.iter().filter_map(WeakConnection::upgrade));
            }
        }
        // A fresh start: the next command tries at once, even after giving up.
        self.inner.reconnect.reset();
        // Every call in flight fails now, not one connection after another.
        for conn in &owned {
            tracing::debug!(connection = conn.id, "closing connection");
            conn.close(err.clone());
        }
        for conn in owned {
            conn.close_and_wait(err.clone()).await;
        }
    }

    /// Sends one command and waits for its reply, as a [`Value`].
    ///
    /// Blocking commands (as the spec flags them) go to a connection of their
    /// own, so that `BLPOP key 0` never stalls the other tasks sharing this
    /// client; see [`Redis`].
    ///
    /// Arguments given owned are dropped once queued (see [`Outgoing`]).
    pub(crate) async fn request<'a>(&self, args: impl Into<Outgoing<'a>>, opts: CallOptions) -> Result<Value> {
        let args = args.into();
        self.request_probe(&args, &opts).run(self.request_unprobed(args, opts)).await
    }

    /// The span and observer event of one command [`request`](Self::request)
    /// sends: in the db a dedicated handle selected, if it did.
    pub(crate) fn request_probe(&self, args: &CmdArgs, opts: &CallOptions) -> Probe<'_> {
        let config = &self.inner.config;
        let db = self.dedicated_db().unwrap_or(config.info.db);
        Probe::command(&config.info, db, &config.observe, args, opts)
    }

    /// The span and observer event of one command sent on this client's
    /// shared connection.
    #[inline]
    pub(crate) fn probe(&self, args: &CmdArgs, opts: &CallOptions) -> Probe<'_> {
        let config = &self.inner.config;
        Probe::command(&config.info, config.info.db, &config.observe, args, opts)
    }

    /// What this client reports of its commands.
    #[inline]
    pub(crate) fn observability(&self) -> &crate::observe::Observability {
        &self.inner.config.observe
    }

    /// The span and observer event of a batch of `n` commands (`op` is
    /// `"PIPELINE"` or `"MULTI"`).
    pub(crate) fn probe_batch(&self, op: &'static str, n: usize) -> Probe<'_> {
        let config = &self.inner.config;
        Probe::batch(&config.info, &config.observe, op, n)
    }

    /// [`request`](Self::request) without its span and observer event: the
    /// client-side cache first, if any, then the server.
    async fn request_unprobed(&self, args: Outgoing<'_>, opts: CallOptions) -> Result<Value> {
        if let Some(cache) = self.cache() {
            let mut lookup = self.cache_lookup(cache, &args, &opts);
            if matches!(lookup, crate::cache::Lookup::Offline) {
                // Connecting turns tracking on; should it fail, the
                // command fails the usual way below.
                let limit = opts.timeout.or(self.inner.config.read_timeout);
                let deadline = limit.map(|limit| Instant::now() + limit);
                if within(deadline, self.connection()).await.is_ok() {
                    lookup = self.cache_lookup(cache, &args, &opts);
                }
            }
            match lookup {
                crate::cache::Lookup::Hit(v) => {
                    // As a socket read would: a loop of hits yields in time.
                    tokio::task::coop::consume_budget().await;
                    return Ok(v);
                }
                crate::cache::Lookup::Fetch(fetch) => return self.request_fetching(&args, opts, fetch).await,
                crate::cache::Lookup::Pass | crate::cache::Lookup::Offline => {}
            }
        }
        self.request_uncached(args, opts).await
    }

    /// [`request_unprobed`](Self::request_unprobed) without the client-side
    /// cache.
    pub(crate) async fn request_uncached<'a>(&self, args: impl Into<Outgoing<'a>>, opts: CallOptions) -> Result<Value> {
        let args = args.into();
        if self.local().pipeline_mode {
            return Err(Error::Usage(
                "pipeline mode is on: queue commands with .queue() and send them with pipeline_execute(), \
                 or call pipeline_off() first"
                    .into(),
            ));
        }
        args.check_name()?;
        let (name, effect) = (opts.name(), opts.effect());
        if effect.is_pubsub() {
            if let Some((family, subscribe)) = name.and_then(|n| Family::of(n.as_bytes())) {
                return self.request_pubsub(&args, opts, family, subscribe).await;
            }
        }
        // What would change the connection for others, or behind the
        // client's back, runs only on a dedicated connection (see `Effect`).
        let dedicated_only = !effect.is_none() && !effect.is_transaction() && !effect.is_pubsub();
        if effect == Effect::Monitor || (dedicated_only && !self.is_dedicated()) {
            return Err(pinned::refusal(effect, name.unwrap_or("the command")));
        }
        // The caller's bound covers connecting (even behind another
        // caller's attempt) and then the reply, in one budget. Blocking
        // commands are exempt from the read timeout unless asked.
        let config = &self.inner.config;
        let exempt = opts.blocking() && !config.timeout_blocking;
        let limit = opts.timeout.or(if exempt { None } else { config.read_timeout });
        let deadline = limit.map(|limit| Instant::now() + limit);
        let left = || deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if let Some(conn) = within(deadline, self.pinned_for(effect, name)).await? {
            let opts = CallOptions { timeout: left().or(opts.timeout), ..opts };
            return self.request_pinned(conn, args, opts, effect).await;
        }
        if opts.blocking() {
            // Abandoned at the deadline, its side connection is closed.
            return match left() {
                Some(left) => tokio::time::timeout(left, self.request_blocking(args, opts))
                    .await
                    .unwrap_or(Err(Error::Timeout(Timeout::Read))),
                None => self.request_blocking(args, opts).await,
            };
        }
        let (_conn, rx) = within(deadline, self.send(&args)).await?;
        drop(args);
        self.await_shared(rx, left()).await
    }

    /// The common case of [`request`](Self::request), without awaiting: an
    /// ordinary command (no effect on its connection, not blocking; no
    /// pinned connection or pipeline mode on this handle) when the shared
    /// connection is open.
    /// Queues it and returns its reply slot and read timeout; `None` when the
    /// command needs the general path (nothing was sent then).
    pub(crate) fn try_send_shared(
        &self,
        args: &CmdArgs,
        opts: &CallOptions,
    ) -> Option<(oneshot::Receiver<Result<Value>>, Option<Duration>)> {
        if !self.takes_shared_path(args, opts) {
            return None;
        }
        let guard = self.inner.conn.lock().unwrap_or_else(|p| p.into_inner());
        // A closed connection refuses the command: the general path reconnects.
        let rx = guard.as_ref()?.send(args).ok()?;
        Some((rx, opts.timeout.or(self.inner.config.read_timeout)))
    }

    /// Whether the command goes to the shared connection as it is: one
    /// with no effect on its connection, not blocking, not in pipeline mode
    /// nor on a pinned handle.
    #[inline]
    fn takes_shared_path(&self, args: &CmdArgs, opts: &CallOptions) -> bool {
        if !opts.effect().is_none() || opts.blocking() || args.check_name().is_err() {
            return false;
        }
        let local = self.local();
        !local.pipeline_mode && local.pinned.is_none()
    }

    /// For a command [`try_send_shared`](Self::try_send_shared) could not
    /// queue: the error to fail it with at once when it would go to the
    /// shared connection, there is none, and the server is known to be down
    /// (see [`Backoff`](crate::Backoff)). Spares the general path, its
    /// allocation and its timers, to each of the many calls that fail while
    /// the server is down.
    pub(crate) fn unavailable(&self, args: &CmdArgs, opts: &CallOptions) -> Option<Error> {
        if self.current().is_some() || !self.takes_shared_path(args, opts) {
            return None;
        }
        self.check_reconnect().err()
    }

    /// Sends commands as one batch and returns their replies, error replies
    /// included, in order. Used by pipelines and transactions.
    ///
    /// The read timeout bounds a batch as a whole, connecting included
    /// (a batch holding a blocking command only with
    /// [`timeout_blocking_commands`](RedisBuilder::timeout_blocking_commands)).
    pub(crate) async fn request_batch(&self, cmds: Frames<'_>, blocking: bool) -> Result<Vec<Value>> {
        let config = &self.inner.config;
        let limit = if blocking && !config.timeout_blocking { None } else { config.read_timeout };
        let deadline = limit.map(|limit| Instant::now() + limit);
        let left = || deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let pinned = match self.local().pinned.as_ref() {
            Some(p) if !p.replies_on() => {
                return Err(Error::Usage(
                    "replies are off on this handle (CLIENT REPLY OFF or SKIP): a pipeline would wait for replies \
                     that never come; turn them on first"
                        .into(),
                ))
            }
            p => p.map(|p| p.conn.clone()),
        };
        let side = match (pinned, blocking) {
            (Some(conn), _) => Err(conn),
            (None, true) => {
                let conn = within(deadline, self.side_connection()).await?;
                self.lend(&conn);
                Ok(conn)
            }
            (None, false) => {
                let conn = within(deadline, self.connection()).await?;
                let rx = match conn.send_frames(cmds) {
                    Ok(rx) => rx,
                    Err(_) => within(deadline, self.connection()).await?.send_frames(cmds)?,
                };
                let waited = left();
                let replies = await_batch(rx, waited).await;
                if let (Err(Error::Timeout(Timeout::Read)), Some(waited)) = (&replies, waited) {
                    self.read_timed_out(waited);
                }
                self.check_batch_demoted(&replies);
                return replies;
            }
        };
        match side {
            Err(conn) => await_batch(conn.send_frames(cmds)?, left()).await,
            Ok(conn) => {
                let guard = CloseOnDrop(Some(conn));
                let rx = guard.0.as_ref().expect("armed").send_frames(cmds)?;
                let replies = await_batch(rx, left()).await;
                if !matches!(replies, Err(Error::Timeout(_))) {
                    // Timed out, a blocking command would keep the server
                    // blocking it: the guard closes it instead.
                    self.release_side_connection(guard.disarm());
                }
                replies
            }
        }
    }

    /// `Ok` when an attempt to connect may start now (see
    /// [`Backoff`](crate::Backoff)). A client whose locator (Sentinel) has
    /// named a new address since it last looked forgets its failures
    /// first: a promoted replica is tried at once, not after the pause the
    /// dead master earned.
    pub(crate) fn check_reconnect(&self) -> Result<()> {
        if let Some(locator) = &self.inner.config.locator {
            let epoch = locator.0.epoch();
            if self.inner.located_epoch.swap(epoch, std::sync::atomic::Ordering::Relaxed) != epoch {
                self.inner.reconnect.reset();
            }
        }
        self.inner.reconnect.check()
    }

    /// After an error reply: a `-READONLY` to a client that follows a
    /// Sentinel-managed master means that master was demoted. The shared
    /// connection closes (what is in flight on it fails, never re-sent) and
    /// the next command asks the sentinels where the master is now.
    pub(crate) fn check_demoted(&self, error: &crate::error::ServerError) {
        let Some(locator) = &self.inner.config.locator else { return };
        // A replica client expects READONLY to writes.
        if error.code() != "READONLY" || locator.0.role() != "master" {
            return;
        }
        locator.0.stale(None);
        let shared = self.inner.conn.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(conn) = shared {
            tracing::info!(connection = conn.id, "READONLY from the master: asking the sentinels again");
            conn.close(Error::Sentinel(
                "the server answered READONLY: it is no longer the master (a failover); this command was not \
                 re-sent, it may have run"
                    .into(),
            ));
        }
    }

    /// [`check_demoted`](Self::check_demoted) for each error reply of a batch.
    fn check_batch_demoted(&self, replies: &Result<Vec<Value>>) {
        if let (Some(_), Ok(replies)) = (&self.inner.config.locator, replies) {
            for reply in replies {
                if let Value::Error(e) = reply {
                    self.check_demoted(e);
                }
            }
        }
    }

    /// Whether the connection is as the settings made it: no transaction,
    /// WATCH or pipeline open on this handle, no pub/sub. (What else would
    /// change it is refused on a shared connection: see `Effect`.) A pool
    /// hands out only clean clients.
    pub(crate) fn is_clean(&self) -> bool {
        let local = self.local();
        local.pinned.is_none()
            // A pub/sub queue outlives its subscriptions (and may be held
            // elsewhere): the next user's messages would land in it.
            && local.pubsub.is_none()
            && local.pipeline.is_empty()
            && !local.pipeline_mode
    }

    /// Whether another handle (a clone, a pipeline, a dedicated handle)
    /// shares this client's connections. A pool takes back only a client no
    /// one else can still send on.
    pub(crate) fn is_shared(&self) -> bool {
        Arc::strong_count(&self.inner) > 1
    }

    pub(crate) fn local(&self) -> std::sync::MutexGuard<'_, Local> {
        self.local.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn text_policy(&self) -> TextPolicy {
        self.inner.config.text
    }
}

/// Runs `connect` (finding or opening a connection) by `deadline`, if any:
/// the caller's budget covers connecting.
async fn within<T>(deadline: Option<Instant>, connect: impl Future<Output = Result<T>>) -> Result<T> {
    match deadline {
        Some(deadline) => {
            tokio::time::timeout_at(deadline, connect).await.unwrap_or(Err(Error::Timeout(Timeout::Connect)))
        }
        None => connect.await,
    }
}

impl<'a> Executor for &'a Redis {
    type Sink = &'a Redis;
    fn __sink(self) -> &'a Redis {
        self
    }
}

impl StatefulExecutor for &Redis {}
