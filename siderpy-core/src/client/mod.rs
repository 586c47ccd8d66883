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
//! - `pubsub.rs`: the subscribed connection, its queue and re-subscribing.

mod builder;
mod connect;
mod handshake;
mod pinned;
mod pubsub;
mod shared;
mod side;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::args::CmdArgs;
use crate::command::{CallOptions, CommandInfo, Executor, StatefulExecutor};
use crate::connection::{await_batch, await_reply, Connection, Frames};
use crate::convert::TextPolicy;
use crate::error::{Error, Result};
use crate::info::{parse_url, ConnectionInfo, DEFAULT_URL};
use crate::pubsub::{Family, PubSubQueue};
use crate::trace as tracing;
use crate::value::Value;

pub(crate) use builder::Config;
pub use builder::RedisBuilder;
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
/// # Examples
/// ```no_run
/// # extern crate siderpy_core as siderpy;
/// # async fn f() -> siderpy::Result<()> {
/// use siderpy::prelude::*;
/// let redis = siderpy::Redis::new("redis://localhost:6379/0")?;
/// redis.execute_cmd("SET", ("greeting", "hello")).await?;
/// let v: Option<String> = redis.execute_cmd("GET", ["greeting"]).returning().await?;
/// assert_eq!(v.as_deref(), Some("hello"));
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
        let pinned = local.pinned.as_ref().filter(|p| p.dedicated).map(|p| Pinned::new(p.conn.clone(), true));
        Redis { inner: Arc::clone(&self.inner), local: Arc::new(Mutex::new(Local { pinned, ..Local::default() })) }
    }
}

pub(crate) struct Inner {
    config: Config,
    conn: Mutex<Option<Connection>>,
    /// Side connections (blocking commands, transactions), kept between uses.
    blocking_idle: Mutex<Vec<Connection>>,
    /// Held while connecting, so concurrent first commands open one socket.
    connecting: tokio::sync::Mutex<()>,
    generation: AtomicU64,
    /// A `SELECT` went through the shared connection: it no longer uses the
    /// configured db (until it reconnects).
    selected_other_db: std::sync::atomic::AtomicBool,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.get_mut().unwrap_or_else(|p| p.into_inner()).take() {
            conn.close(Error::Closed("client"));
        }
        for conn in self.blocking_idle.get_mut().unwrap_or_else(|p| p.into_inner()).drain(..) {
            conn.close(Error::Closed("client"));
        }
    }
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

    /// Closes the connection. Commands in flight fail with
    /// [`Error::Closed`]; the client stays usable and the next command
    /// reconnects, as in siderpy.
    pub async fn close(&self) {
        let conn = self.inner.conn.lock().unwrap_or_else(|p| p.into_inner()).take();
        let idle = std::mem::take(&mut *side::lock_idle(&self.inner.blocking_idle));
        let pinned = self.local().pinned.take().map(|p| p.conn);
        for conn in conn.into_iter().chain(idle).chain(pinned) {
            tracing::debug!(connection = conn.id, "closing connection");
            conn.close(Error::Closed("connection"));
        }
    }

    /// Sends one command and waits for its reply, as a [`Value`].
    ///
    /// Blocking commands (as the spec flags them) go to a connection of their
    /// own, so that `BLPOP key 0` never stalls the other tasks sharing this
    /// client; see [`Redis`].
    pub(crate) async fn request(&self, args: &CmdArgs, opts: CallOptions) -> Result<Value> {
        if self.local().pipeline_mode {
            return Err(Error::Usage(
                "pipeline mode is on: queue commands with .queue() and send them with pipeline_execute(), \
                 or call pipeline_off() first"
                    .into(),
            ));
        }
        let name = opts.name();
        if let Some((family, subscribe)) = name.and_then(|n| Family::of(n.as_bytes())) {
            return self.request_pubsub(args, opts, family, subscribe).await;
        }
        if let Some(conn) = self.pinned_for(name).await? {
            return self.request_pinned(conn, args, opts, name).await;
        }
        if opts.blocking() {
            return self.request_blocking(args, opts).await;
        }
        let (_conn, rx) = self.send(args).await?;
        let reply = await_reply(rx, opts.timeout.or(self.inner.config.read_timeout)).await;
        if name == Some("SELECT") && reply.is_ok() {
            self.inner.selected_other_db.store(true, Ordering::Relaxed);
        }
        reply
    }

    /// The common case of [`request`](Self::request), without awaiting: an
    /// ordinary command (no transaction, pub/sub, blocking command, `SELECT`
    /// or pipeline mode on this handle) when the shared connection is open.
    /// Queues it and returns its reply slot and read timeout; `None` when the
    /// command needs the general path (nothing was sent then).
    pub(crate) fn try_send_shared(
        &self,
        args: &CmdArgs,
        opts: &CallOptions,
    ) -> Option<(oneshot::Receiver<Result<Value>>, Option<Duration>)> {
        if let Some(name) = opts.name() {
            if matches!(name, "MULTI" | "WATCH" | "SELECT") || Family::of(name.as_bytes()).is_some() {
                return None;
            }
        }
        if opts.blocking() {
            return None;
        }
        {
            let local = self.local();
            if local.pipeline_mode || local.pinned.is_some() {
                return None;
            }
        }
        let guard = self.inner.conn.lock().unwrap_or_else(|p| p.into_inner());
        // A closed connection refuses the command: the general path reconnects.
        let rx = guard.as_ref()?.send(args).ok()?;
        Some((rx, opts.timeout.or(self.inner.config.read_timeout)))
    }

    /// Sends commands as one batch and returns their replies, error replies
    /// included, in order. Used by pipelines and transactions.
    pub(crate) async fn request_batch(&self, cmds: Frames<'_>, blocking: bool) -> Result<Vec<Value>> {
        let pinned = self.local().pinned.as_ref().map(|p| p.conn.clone());
        let side = match (pinned, blocking) {
            (Some(conn), _) => Err(conn),
            (None, true) => Ok(self.side_connection().await?),
            (None, false) => {
                let conn = self.connection().await?;
                match conn.send_frames(cmds) {
                    Ok(rx) => return await_batch(rx, None).await,
                    Err(_) => Err(self.connection().await?),
                }
            }
        };
        match side {
            Err(conn) => await_batch(conn.send_frames(cmds)?, None).await,
            Ok(conn) => {
                let guard = CloseOnDrop(Some(conn));
                let rx = guard.0.as_ref().expect("armed").send_frames(cmds)?;
                let replies = await_batch(rx, None).await;
                self.release_side_connection(guard.disarm());
                replies
            }
        }
    }

    /// Whether the connection is as the settings made it: no transaction,
    /// WATCH or pipeline open on this handle, no pub/sub, no `SELECT` since it
    /// connected. A pool hands out only clean clients.
    pub(crate) fn is_clean(&self) -> bool {
        let local = self.local();
        local.pinned.is_none()
            // A pub/sub queue outlives its subscriptions (and may be held
            // elsewhere): the next user's messages would land in it.
            && local.pubsub.is_none()
            && local.pipeline.is_empty()
            && !local.pipeline_mode
            && !self.inner.selected_other_db.load(Ordering::Relaxed)
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

impl<'a> Executor for &'a Redis {
    type Sink = &'a Redis;
    fn __sink(self) -> &'a Redis {
        self
    }
}

impl StatefulExecutor for &Redis {}
