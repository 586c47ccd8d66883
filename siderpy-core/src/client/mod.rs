//! [`Redis`]: one logical connection, shared by any number of tasks.

mod builder;
mod handshake;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::args::CmdArgs;
use crate::command::{CallOptions, CommandInfo, Executor, StatefulExecutor};
use crate::connection::{transport, Connection, Frames};
use crate::convert::TextPolicy;
use crate::error::{Error, Result, Timeout};
use crate::info::{parse_url, ConnectionInfo, Protocol, DEFAULT_URL};
use crate::pubsub::{Family, PubSubQueue};
use crate::trace as tracing;
use crate::value::Value;

pub(crate) use builder::Config;
pub use builder::RedisBuilder;
use handshake::handshake;

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

struct Pinned {
    conn: Connection,
    /// Pinned for good, not just for one transaction.
    dedicated: bool,
    in_multi: bool,
    watching: bool,
    /// Pinned for pub/sub: subscribed, or subscribing.
    subscribed: bool,
}

impl Pinned {
    fn new(conn: Connection, dedicated: bool) -> Self {
        Pinned { conn, dedicated, in_multi: false, watching: false, subscribed: false }
    }

    /// Whether nothing keeps this handle on the connection any more.
    fn released(&self) -> bool {
        !self.dedicated && !self.in_multi && !self.watching && !self.subscribed
    }
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

impl Redis {
    /// Opens a connection that only this handle (and its clones) will use,
    /// for work that needs connection state across several commands:
    /// `WATCH` ... `MULTI`/`EXEC` spread over several awaits, `CLIENT`
    /// settings, `MONITOR`. The connection is closed when the last handle
    /// to it is dropped.
    ///
    /// # Errors
    /// Connecting failed.
    pub async fn dedicated(&self) -> Result<Redis> {
        let conn = self.connect("dedicated").await?;
        let pinned = Pinned::new(conn, true);
        Ok(Redis {
            inner: Arc::clone(&self.inner),
            local: Arc::new(Mutex::new(Local { pinned: Some(pinned), ..Local::default() })),
        })
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
        let idle = std::mem::take(&mut *lock_idle(&self.inner.blocking_idle));
        let pinned = self.local().pinned.take().map(|p| p.conn);
        for conn in conn.into_iter().chain(idle).chain(pinned) {
            tracing::debug!(connection = conn.id, "closing connection");
            conn.close(Error::Closed("connection"));
        }
    }

    /// The open connection, connecting first if there is none.
    pub(crate) async fn connection(&self) -> Result<Connection> {
        if let Some(conn) = self.current() {
            return Ok(conn);
        }
        let _guard = self.inner.connecting.lock().await;
        if let Some(conn) = self.current() {
            return Ok(conn);
        }
        let previous = self.inner.conn.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(previous) = previous {
            tracing::info!(previous = previous.id, server = %self.inner.config.info, "reconnecting");
        }
        let conn = self.connect("shared").await?;
        self.inner.selected_other_db.store(false, Ordering::Relaxed);
        *self.inner.conn.lock().unwrap_or_else(|p| p.into_inner()) = Some(conn.clone());
        Ok(conn)
    }

    fn current(&self) -> Option<Connection> {
        let guard = self.inner.conn.lock().unwrap_or_else(|p| p.into_inner());
        guard.as_ref().filter(|c| !c.is_closed()).cloned()
    }

    /// Opens a new connection and runs the handshake; `purpose` is for logs.
    async fn connect(&self, purpose: &'static str) -> Result<Connection> {
        let config = &self.inner.config;
        let id = self.inner.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let open = async {
            let transport = transport::connect(&config.info, config.tls.as_ref()).await?;
            let conn = Connection::start(transport, config.limits, config.write_timeout, id);
            handshake(&conn, &config.info, config.readonly)
                .await
                .inspect_err(|_| conn.close(Error::Closed("connection")))?;
            Ok(conn)
        };
        let result = match config.connect_timeout {
            Some(limit) => tokio::time::timeout(limit, open).await.unwrap_or(Err(Error::Timeout(Timeout::Connect))),
            None => open.await,
        };
        match &result {
            Ok(_) => tracing::debug!(connection = id, purpose, server = %config.info, "connected"),
            Err(e) => tracing::warn!(connection = id, purpose, server = %config.info, error = %e, "connect failed"),
        }
        result
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

    /// Closes the connection this handle pinned for an open transaction,
    /// WATCH or subscription, if any: dropping the handle alone would leave
    /// that socket open, with the server still holding that state. For
    /// pools, which drop dirty clients.
    pub(crate) fn close_pinned(&self) {
        let pinned = self.local().pinned.take_if(|p| !p.dedicated);
        if let Some(p) = pinned {
            tracing::debug!(connection = p.conn.id, "closing the pinned connection of a dropped client");
            p.conn.close(Error::Closed("connection"));
        }
    }

    /// The connection this handle is pinned to, pinning one first when the
    /// command opens a transaction or a WATCH: on a shared connection, other
    /// tasks' commands would land inside it.
    async fn pinned_for(&self, name: Option<&str>) -> Result<Option<Connection>> {
        let dead_dedicated = {
            let mut local = self.local();
            match &local.pinned {
                Some(p) if !p.conn.is_closed() => {
                    // RESP2 keeps a subscribed connection for pub/sub alone:
                    // other commands take the shared path.
                    let resp2_subscribed = p.subscribed && self.inner.config.info.protocol == Protocol::Resp2;
                    if resp2_subscribed && !matches!(name, Some("PING" | "QUIT" | "RESET")) {
                        return Ok(None);
                    }
                    return Ok(Some(p.conn.clone()));
                }
                // A transaction or WATCH died with it: what is meant for it
                // must not run elsewhere, outside it. Sent there, each
                // command fails with what closed it, until EXEC, DISCARD,
                // RESET (or UNWATCH) ends it.
                Some(p) if p.in_multi || p.watching => return Ok(Some(p.conn.clone())),
                // Whatever else was open on it died with it.
                Some(p) => {
                    let dedicated = p.dedicated;
                    local.pinned = None;
                    dedicated
                }
                None => false,
            }
        };
        if !dead_dedicated && !matches!(name, Some("MULTI" | "WATCH")) {
            return Ok(None);
        }
        let conn = if dead_dedicated { self.connect("dedicated").await? } else { self.side_connection().await? };
        let mut local = self.local();
        let pinned = local.pinned.get_or_insert(Pinned::new(conn, dead_dedicated));
        Ok(Some(pinned.conn.clone()))
    }

    /// A new handle on this client whose pub/sub messages go to `queue`
    /// (a cluster subscriber's, shared by its nodes).
    pub(crate) fn with_pubsub_queue(&self, queue: PubSubQueue) -> Redis {
        let local = Local { pubsub: Some(queue), ..Local::default() };
        Redis { inner: Arc::clone(&self.inner), local: Arc::new(Mutex::new(local)) }
    }

    /// The queue this handle's pub/sub messages go to (made on first use).
    ///
    /// Read it with [`PubSubQueue::recv`], or as a `Stream`. It stays the
    /// same across subscriptions: after the last unsubscribe it is closed
    /// (readers drain it, then get [`Error::QueueClosed`]), and subscribing
    /// again reopens it.
    pub fn pubsub_queue(&self) -> PubSubQueue {
        let config = &self.inner.config;
        let mut local = self.local();
        if let Some(q) = &local.pubsub {
            return q.clone();
        }
        let queue = PubSubQueue::new(config.pubsub_queue_maxsize);
        if config.resubscribe {
            let interrupted = queue.watch_interruptions();
            let (inner, handle) = (Arc::downgrade(&self.inner), Arc::downgrade(&self.local));
            tokio::spawn(crate::pubsub::resubscriber(inner, handle, queue.clone(), interrupted));
        }
        local.pubsub = Some(queue.clone());
        queue
    }

    /// Connects a new pub/sub connection for `handle` and subscribes it to
    /// everything `queue` was subscribed to (see [`RedisBuilder::resubscribe`]).
    pub(crate) async fn resubscribe_with(
        inner: Arc<Inner>,
        handle: &Arc<Mutex<Local>>,
        queue: &PubSubQueue,
    ) -> Result<()> {
        let redis = Redis { inner, local: Arc::new(Mutex::new(Local::default())) };
        let conn = redis.connect("pubsub").await?;
        let commands = queue.lock().resubscribe_commands();
        conn.attach_pubsub(queue);
        // Pinned before the subscriptions are confirmed: messages flow as
        // soon as the first one is, and a caller who read one (and then
        // unsubscribes, say) must find the connection it came on.
        {
            let mut pinned = Pinned::new(conn.clone(), false);
            pinned.subscribed = true;
            let old = handle.lock().unwrap_or_else(|p| p.into_inner()).pinned.replace(pinned);
            if let Some(old) = old {
                old.conn.detach_pubsub();
                old.conn.close(Error::Closed("connection"));
            }
        }
        let subscribed = async {
            for (cmd, n) in &commands {
                let replies = await_batch(conn.send_expecting(cmd, *n)?, redis.inner.config.connect_timeout).await?;
                if let Some(Value::Error(e)) = replies.into_iter().find(|v| matches!(v, Value::Error(_))) {
                    return Err(Error::Redis(e));
                }
            }
            Ok(())
        };
        if let Err(e) = subscribed.await {
            handle.lock().unwrap_or_else(|p| p.into_inner()).pinned.take_if(|p| p.conn.same(&conn));
            // The attempt failed, not the subscriptions: the queue stays as it is.
            conn.detach_pubsub();
            conn.close(Error::Closed("connection"));
            return Err(e);
        }
        Ok(())
    }

    /// Whether this handle is subscribed on a connection that is still open.
    pub(crate) fn has_live_pubsub(&self) -> bool {
        Self::has_live_pubsub_connection(&self.local)
    }

    /// Whether the handle is subscribed on a connection that is still open.
    pub(crate) fn has_live_pubsub_connection(handle: &Mutex<Local>) -> bool {
        let local = handle.lock().unwrap_or_else(|p| p.into_inner());
        local.pinned.as_ref().is_some_and(|p| p.subscribed && !p.conn.is_closed())
    }

    /// Sends a (un)subscribe command on this handle's pub/sub connection
    /// (pinning one first) and returns the server's confirmations.
    async fn request_pubsub(
        &self,
        args: &CmdArgs,
        opts: CallOptions,
        family: Family,
        subscribe: bool,
    ) -> Result<Value> {
        let queue = self.pubsub_queue();
        let existing = self
            .local()
            .pinned
            .as_ref()
            .filter(|p| !p.conn.is_closed())
            .map(|p| (p.conn.clone(), p.in_multi || p.watching));
        let conn = match existing {
            Some((_, true)) => {
                return Err(Error::Usage(
                    "a transaction or WATCH is open on this handle: finish it before subscribing".into(),
                ))
            }
            Some((conn, false)) => conn,
            None if !subscribe => {
                // Nothing to unsubscribe from: the server would just confirm.
                return Ok(Value::Array(Vec::new()));
            }
            None => {
                let conn = self.side_connection().await?;
                self.local().pinned = Some(Pinned::new(conn.clone(), false));
                conn
            }
        };
        if let Some(p) = self.local().pinned.as_mut() {
            p.subscribed = true;
        }
        conn.attach_pubsub(&queue);
        if subscribe {
            queue.lock().reopen();
        }
        let channels = args.len().saturating_sub(args.name().split(' ').count());
        let expect = match (channels, subscribe) {
            (0, false) => queue.lock().unsubscribe_all_replies(family),
            (0, true) => 1, // an arity error
            (n, _) => n,
        };
        let rx = conn.send_expecting(args, expect)?;
        let replies = await_batch(rx, opts.timeout.or(self.inner.config.read_timeout)).await;
        if queue.lock().subscriptions() == 0 {
            // The last subscription ended: the connection is an ordinary one again.
            conn.detach_pubsub();
            let released = {
                let mut local = self.local();
                match local.pinned.as_mut() {
                    Some(p) if p.conn.same(&conn) => {
                        p.subscribed = false;
                        if p.released() {
                            local.pinned.take()
                        } else {
                            None
                        }
                    }
                    _ => None,
                }
            };
            if let Some(p) = released {
                self.release_side_connection(p.conn);
            }
        }
        let mut replies = replies?;
        if let Some(Value::Error(_)) = replies.first() {
            let Some(Value::Error(e)) = replies.pop() else { unreachable!() };
            return Err(Error::Redis(e));
        }
        Ok(Value::Array(replies))
    }

    async fn request_pinned(
        &self,
        conn: Connection,
        args: &CmdArgs,
        opts: CallOptions,
        name: Option<&str>,
    ) -> Result<Value> {
        let limit = opts.timeout.or(self.inner.config.read_timeout);
        let reply = match conn.send(args) {
            Ok(rx) => await_reply(rx, limit).await,
            Err(e) => Err(e),
        };
        let mut local = self.local();
        let Some(pinned) = local.pinned.as_mut().filter(|p| p.conn.same(&conn)) else { return reply };
        if matches!(reply, Err(Error::Timeout(_))) && !pinned.dedicated {
            // Its reply would be out of step with what the next caller of the
            // side connection expects.
            conn.close(Error::Timeout(Timeout::Read));
        }
        if conn.is_closed() {
            // The transaction or WATCH died with the connection; it is over
            // once the caller ends it (see `pinned_for`).
            let ends =
                matches!(name, Some("EXEC" | "DISCARD" | "RESET")) || (name == Some("UNWATCH") && !pinned.in_multi);
            if ends {
                pinned.in_multi = false;
                pinned.watching = false;
            }
            if pinned.released() {
                local.pinned = None;
            }
            return reply;
        }
        if matches!(reply, Err(Error::Timeout(_))) {
            return reply;
        }
        if reply.is_ok() {
            match name {
                Some("MULTI") => pinned.in_multi = true,
                Some("WATCH") => pinned.watching = true,
                Some("UNWATCH") => pinned.watching = false,
                Some("EXEC" | "DISCARD" | "RESET") => {
                    pinned.in_multi = false;
                    pinned.watching = false;
                }
                _ => {}
            }
        } else if name == Some("EXEC") {
            // EXECABORT also ends the transaction.
            pinned.in_multi = false;
            pinned.watching = false;
        }
        if pinned.released() {
            let released = local.pinned.take().expect("checked above");
            drop(local);
            self.release_side_connection(released.conn);
        }
        reply
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

    async fn request_blocking(&self, args: &CmdArgs, opts: CallOptions) -> Result<Value> {
        let config = &self.inner.config;
        let conn = self.side_connection().await?;
        let rx = conn.send(args)?;
        // Abandoned before its reply (timed out, or the future dropped), the
        // command keeps the server blocking this connection: close it.
        let guard = CloseOnDrop(Some(conn));
        let limit = opts.timeout.or(if config.timeout_blocking { config.read_timeout } else { None });
        let reply = await_reply(rx, limit).await;
        if matches!(reply, Err(Error::Timeout(_))) {
            return reply; // the guard closes the connection
        }
        self.release_side_connection(guard.disarm());
        reply
    }

    /// A connection for this caller alone: an idle one kept from earlier
    /// use, or a new one.
    async fn side_connection(&self) -> Result<Connection> {
        loop {
            let idle = lock_idle(&self.inner.blocking_idle).pop();
            match idle {
                Some(conn) if !conn.is_closed() => return Ok(conn),
                Some(_) => continue,
                None => return self.connect("dedicated").await,
            }
        }
    }

    /// Keeps a side connection for reuse (or closes it when enough are kept).
    fn release_side_connection(&self, conn: Connection) {
        if conn.is_closed() {
            return;
        }
        let mut idle = lock_idle(&self.inner.blocking_idle);
        if idle.len() < MAX_IDLE_BLOCKING {
            idle.push(conn);
        } else {
            conn.close(Error::Closed("connection"));
        }
    }

    pub(crate) fn local(&self) -> std::sync::MutexGuard<'_, Local> {
        self.local.lock().unwrap_or_else(|p| p.into_inner())
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

    /// Queues a command on the open connection, reconnecting once if it was
    /// found closed (the command was not sent then, so this is safe).
    async fn send(&self, args: &CmdArgs) -> Result<(Connection, oneshot::Receiver<Result<Value>>)> {
        let conn = self.connection().await?;
        match conn.send(args) {
            Ok(rx) => Ok((conn, rx)),
            Err(_) => {
                let conn = self.connection().await?;
                let rx = conn.send(args)?;
                Ok((conn, rx))
            }
        }
    }

    pub(crate) fn text_policy(&self) -> TextPolicy {
        self.inner.config.text
    }
}

/// Idle side connections kept for blocking commands and transactions; more
/// are opened when needed.
const MAX_IDLE_BLOCKING: usize = 4;

fn lock_idle(m: &Mutex<Vec<Connection>>) -> std::sync::MutexGuard<'_, Vec<Connection>> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Waits for one reply; a top-level error reply becomes `Error::Redis`.
pub(crate) async fn await_reply(rx: oneshot::Receiver<Result<Value>>, limit: Option<Duration>) -> Result<Value> {
    match await_batch(rx, limit).await? {
        Value::Error(e) => Err(Error::Redis(e)),
        v => Ok(v),
    }
}

/// Waits for what a connection hands back (one reply, or a batch's),
/// within `limit` if there is one; error replies are left as they are.
pub(crate) async fn await_batch<T>(rx: oneshot::Receiver<Result<T>>, limit: Option<Duration>) -> Result<T> {
    let delivered = match limit {
        Some(limit) => tokio::time::timeout(limit, rx).await.map_err(|_| Error::Timeout(Timeout::Read))?,
        None => rx.await,
    };
    delivered.map_err(|_| Error::Closed("connection"))?
}

/// Closes a connection whose command was abandoned.
struct CloseOnDrop(Option<Connection>);

impl CloseOnDrop {
    fn disarm(mut self) -> Connection {
        self.0.take().expect("armed until disarmed")
    }
}

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            tracing::debug!(connection = conn.id, "blocking command abandoned; closing its connection");
            conn.close(Error::Timeout(Timeout::Read));
        }
    }
}

impl<'a> Executor for &'a Redis {
    type Sink = &'a Redis;
    fn __sink(self) -> &'a Redis {
        self
    }
}

impl StatefulExecutor for &Redis {}
