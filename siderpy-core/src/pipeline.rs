//! Many commands in one round trip: [`Pipeline`], which also builds
//! transactions (`MULTI` ... `EXEC`, sent as one batch).

use std::future::Future;
use std::pin::Pin;

use bytes::BytesMut;

use crate::args::CmdArgs;
use crate::client::Redis;
use crate::command::{Cmd, CommandInfo, Effect, Executor, StatefulExecutor};
use crate::connection::Frames;
use crate::convert::{convert, FromValue, TextPolicy};
use crate::error::{Error, Result};
use crate::script::{load_missing, Loadable};
use crate::trace as tracing;
use crate::value::Value;

/// Commands queued to be sent together, in one write, with their replies
/// read back together.
///
/// Made by [`Redis::pipe`] (a plain pipeline) or [`Redis::transaction`]
/// (the same, wrapped in `MULTI` ... `EXEC`). Every typed method is
/// available; chain `.queue()` to add the command:
///
/// ```no_run
/// # extern crate siderpy_core as siderpy;
/// # async fn f(redis: siderpy::Redis) -> siderpy::Result<()> {
/// use siderpy::prelude::*;
/// let mut p = redis.pipe();
/// p.set("a", 1).queue().incr("a").queue();
/// p.get("a").queue();
/// let (set, incremented, a): (bool, i64, Option<String>) = p.query().await?;
/// assert_eq!(incremented, 2);
///
/// // A transaction: MULTI, the commands, EXEC, in one batch.
/// let mut tx = redis.transaction();
/// tx.lpush("queue", "job").queue().expire("queue", 60).queue();
/// // One result per command, an error reply being that entry's `Err`.
/// for reply in tx.execute().await? {
///     println!("{:?}", reply?);
/// }
/// # Ok(()) }
/// ```
///
/// A pipeline's commands are written back to back on the client's shared
/// connection, so no other task's command lands between them; a transaction
/// is therefore atomic even on a connection shared by many tasks. A
/// pipeline holding a blocking command runs on a connection of its own.
///
/// A command that changes the state of its connection (its
/// [`Effect`](crate::Effect) is not `None`: `SELECT`, `AUTH`, `RESET`...)
/// or has no name makes the whole pipeline fail with [`Error::Usage`],
/// nothing sent. `MULTI` ... `EXEC` (or `DISCARD`) in a plain pipeline is
/// sent as it is, whole: a `MULTI` or `WATCH` the pipeline would leave open
/// is refused the same way.
///
/// On a [`RedisCluster`](crate::cluster::RedisCluster) (made by its
/// [`pipe`](crate::cluster::RedisCluster::pipe)), the
/// commands are split per node, each node's share is sent as one batch, all
/// nodes at once, and the replies are put back in the order queued;
/// commands that were redirected are retried. A command whose keys span
/// slots fails the whole pipeline before anything is sent.
///
/// A script or function call queued with [`ScriptCall::queue`] or
/// [`FunctionCall::queue`] has its code loaded first where the batch goes,
/// if missing.
///
/// Sending empties the pipeline, whatever the outcome, so it can be reused.
///
/// [`ScriptCall::queue`]: crate::ScriptCall::queue
/// [`FunctionCall::queue`]: crate::FunctionCall::queue
#[derive(Debug)]
#[must_use = "a pipeline does nothing until it is executed"]
pub struct Pipeline {
    target: Box<dyn BatchTarget>,
    batch: Batch,
    atomic: bool,
    /// Why a queued command cannot be sent: the whole pipeline fails with
    /// it, before anything is sent.
    refused: Option<Error>,
    /// A queued `MULTI` or `WATCH` not yet ended by a queued `EXEC`,
    /// `DISCARD` (or `UNWATCH`): sent, it would be left open on the
    /// connection.
    open: Open,
}

/// What queued transaction commands leave open.
#[derive(Debug, Default, Clone, Copy)]
struct Open {
    multi: bool,
    watch: bool,
    /// The last command queued is `ASKING`, whose flag the next one uses up.
    asking: bool,
}

/// The commands a pipeline has queued.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    /// The queued commands, encoded back to back as they are queued: each
    /// command's own buffer is freed at once, and sending is one copy.
    pub(crate) frames: BytesMut,
    /// For a target that routes commands one by one (a cluster), the
    /// queued commands as they are.
    pub(crate) commands: Vec<(CmdArgs, Option<&'static CommandInfo>)>,
    /// How many commands are queued.
    pub(crate) n: usize,
    /// Whether one of them is a blocking command.
    pub(crate) blocking: bool,
    /// The scripts and function libraries the queued `EVALSHA` and `FCALL`
    /// calls run, each with its call's index: the target loads them where
    /// they are missing before sending.
    pub(crate) scripts: Vec<(usize, Loadable)>,
}

/// What a boxed batch send returns.
pub(crate) type BatchFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<Value>>> + Send + 'a>>;

/// Where a pipeline's batch goes: a single server's client, or a cluster
/// (which implements it next to its routing, so that this module knows
/// nothing of clusters).
pub(crate) trait BatchTarget: std::fmt::Debug + Send + Sync {
    /// Whether queued commands are kept as they are, to be routed one by
    /// one when sent, rather than encoded back to back.
    fn routes_each_command(&self) -> bool;

    /// How `String` replies treat invalid UTF-8.
    fn text_policy(&self) -> TextPolicy;

    /// Sends the batch (wrapped in `MULTI` ... `EXEC` when `atomic`) and
    /// returns the replies in the order queued, error replies included;
    /// for a transaction, the results of `EXEC`.
    fn send_batch<'a>(&'a self, batch: &'a Batch, atomic: bool) -> BatchFuture<'a>;
}

impl BatchTarget for Redis {
    fn routes_each_command(&self) -> bool {
        false
    }

    fn text_policy(&self) -> TextPolicy {
        Redis::text_policy(self)
    }

    fn send_batch<'a>(&'a self, batch: &'a Batch, atomic: bool) -> BatchFuture<'a> {
        Box::pin(async move {
            load_missing(self, batch.scripts.iter().map(|(_, code)| code)).await?;
            send_batch(self, &batch.frames, batch.n, batch.blocking, atomic).await
        })
    }
}

const MULTI: &[u8] = b"*1\r\n$5\r\nMULTI\r\n";
const EXEC: &[u8] = b"*1\r\n$4\r\nEXEC\r\n";

impl Pipeline {
    pub(crate) fn new(redis: Redis, atomic: bool) -> Self {
        Self::with_target(Box::new(redis), atomic)
    }

    /// A pipeline (or, `atomic`, a transaction) sent to `target`.
    pub(crate) fn with_target(target: Box<dyn BatchTarget>, atomic: bool) -> Self {
        Pipeline { target, batch: Batch::default(), atomic, refused: None, open: Open::default() }
    }

    /// Adds an already built command; `.queue()` on a command calls this.
    pub(crate) fn push(&mut self, args: CmdArgs, info: Option<&'static CommandInfo>) {
        if self.refused.is_none() {
            self.refused = args.check_name().err().or_else(|| match info {
                Some(i) => self.refusal(i),
                None => {
                    self.open.asking = false;
                    None
                }
            });
        }
        let batch = &mut self.batch;
        batch.blocking |= info.is_some_and(|i| i.blocking);
        if self.target.routes_each_command() {
            batch.commands.push((args, info));
        } else {
            args.write_frame(&mut batch.frames);
        }
        batch.n += 1;
    }

    /// Adds a call (`EVALSHA`, `FCALL`) of `code`, recording it so that
    /// sending loads it first where it is missing.
    pub(crate) fn push_code(&mut self, code: Loadable, args: CmdArgs, info: Option<&'static CommandInfo>) {
        self.batch.scripts.push((self.batch.n, code));
        self.push(args, info);
    }

    /// How many commands are queued.
    pub fn len(&self) -> usize {
        self.batch.n
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.batch.n == 0
    }

    /// Drops every queued command.
    pub fn clear(&mut self) {
        self.batch.frames.clear();
        self.batch.commands.clear();
        self.batch.n = 0;
        self.batch.blocking = false;
        self.batch.scripts.clear();
        self.refused = None;
        self.open = Open::default();
    }

    /// Why the command `info` cannot be queued, if it cannot; keeps track of
    /// what transaction commands leave open. The batch runs on a connection
    /// other callers share, and nothing would keep the client's idea of that
    /// connection in step, so only `MULTI`...`EXEC` (and `WATCH` ended by
    /// them) whole within a plain pipeline may be sent.
    fn refusal(&mut self, info: &CommandInfo) -> Option<Error> {
        let open = &mut self.open;
        // ASKING lasts for one command: the one queued right after it.
        open.asking = false;
        let tool = match info.effect {
            Effect::None => return None,
            // Harmless where the next command goes with it, as in one batch
            // to one node (what a client following `-ASK` by hand sends); a
            // cluster follows `-ASK` itself.
            Effect::Asking if !self.atomic && !self.target.routes_each_command() => {
                open.asking = true;
                return None;
            }
            Effect::Multi | Effect::EndTransaction | Effect::Watch | Effect::Unwatch if self.atomic => {
                "a transaction() sends MULTI and EXEC itself"
            }
            Effect::Multi => {
                open.multi = true;
                return None;
            }
            Effect::Watch if !open.multi => {
                open.watch = true;
                return None;
            }
            Effect::EndTransaction => {
                *open = Open::default();
                return None;
            }
            Effect::Unwatch if !open.multi => {
                open.watch = false;
                return None;
            }
            Effect::Watch | Effect::Unwatch => return None,
            Effect::Subscribe | Effect::Unsubscribe => "await it on the handle (it moves to a pub/sub connection)",
            Effect::Monitor => "use Redis::monitor()",
            _ => "await it on a dedicated() handle",
        };
        Some(Error::Usage(format!("{} changes the state of its connection and cannot be pipelined: {tool}", info.name)))
    }

    /// Sends the queued commands and returns one result per command, in
    /// order: an error reply is that entry's `Err`, and does not stop the
    /// others (or, in a transaction, the rest of `EXEC`).
    ///
    /// # Errors
    /// - A connection failure fails the whole call: which commands ran is
    ///   then unknown.
    /// - In a transaction: [`Error::Transaction`] when the server refused a
    ///   command while queueing it (`EXECABORT`: nothing ran), and
    ///   [`Error::WatchConflict`] when a watched key changed (nothing ran).
    pub async fn execute(&mut self) -> Result<Vec<Result<Value>>> {
        let replies = self.send().await?;
        Ok(replies.into_iter().map(|v| if let Value::Error(e) = v { Err(Error::Redis(e)) } else { Ok(v) }).collect())
    }

    /// Sends the queued commands and converts all replies at once to `T`: a
    /// tuple with one element per command, or a `Vec`.
    ///
    /// # Errors
    /// As [`execute`](Self::execute), and any command's error reply.
    pub async fn query<T: FromValue>(&mut self) -> Result<T> {
        let replies = self.send().await?;
        convert(Value::Array(replies), self.target.text_policy())
    }

    async fn send(&mut self) -> Result<Vec<Value>> {
        // Emptied first, so that it is empty whatever the outcome, even if
        // this future is dropped.
        let mut batch = std::mem::take(&mut self.batch);
        let open = std::mem::take(&mut self.open);
        if let Some(e) = self.refused.take() {
            return Err(e);
        }
        if open.asking {
            return Err(Error::Usage("ASKING must be followed in the same pipeline by the command it is for".into()));
        }
        if open.multi || open.watch {
            return Err(Error::Usage(
                "the pipeline would leave a MULTI or WATCH open on its connection: end it with EXEC or DISCARD \
                 in the same pipeline, or use transaction() / transaction_with()"
                    .into(),
            ));
        }
        if batch.n == 0 {
            return Ok(Vec::new());
        }
        let result = self.target.send_batch(&batch, self.atomic).await;
        // Keep the buffer's allocation for the next batch.
        batch.frames.clear();
        if self.batch.frames.capacity() == 0 {
            self.batch.frames = batch.frames;
        }
        result
    }
}

/// Sends `n` encoded commands to `redis` as one batch (wrapped in `MULTI`
/// ... `EXEC` when `atomic`) and returns their replies, error replies
/// included; for a transaction, the results of `EXEC`.
pub(crate) async fn send_batch(
    redis: &Redis,
    frames: &[u8],
    n: usize,
    blocking: bool,
    atomic: bool,
) -> Result<Vec<Value>> {
    if !atomic {
        let parts = [frames];
        let batch = redis.request_batch(Frames { parts: &parts, n }, blocking);
        return redis.probe_batch("PIPELINE", n).run(batch).await;
    }
    redis.probe_batch("MULTI", n).run(send_transaction(redis, frames, n)).await
}

/// [`send_batch`] of a transaction.
async fn send_transaction(redis: &Redis, frames: &[u8], n: usize) -> Result<Vec<Value>> {
    let parts: [&[u8]; 3] = [MULTI, frames, EXEC];
    let mut replies = redis.request_batch(Frames { parts: &parts, n: n + 2 }, false).await?;
    let exec_reply = replies.pop().expect("one reply per command");
    if let Value::Error(e) = &replies[0] {
        return Err(Error::Redis(e.clone()));
    }
    // Replies 1..=n are each command's QUEUED, or its queue-time error.
    for (index, reply) in replies.into_iter().skip(1).enumerate() {
        if let Value::Error(error) = reply {
            return Err(Error::Transaction { index, error });
        }
    }
    match exec_reply.into_inner() {
        Value::Array(results) if results.len() == n => Ok(results),
        Value::Nil => Err(Error::WatchConflict),
        Value::Error(e) => Err(Error::Redis(e)),
        other => Err(Error::protocol(format!("EXEC of {n} commands replied with {other:?}"))),
    }
}

impl<'a> Executor for &'a mut Pipeline {
    type Sink = &'a mut Pipeline;
    fn __sink(self) -> &'a mut Pipeline {
        self
    }
}

impl StatefulExecutor for &mut Pipeline {}

/// A pipeline's commands are queued, never awaited one by one.
impl crate::command::Sink for &mut Pipeline {
    type Running<R> = std::convert::Infallible;
}

impl<'a, K: ?Sized, R> Cmd<&'a mut Pipeline, K, R> {
    /// Adds the command to the pipeline and returns the pipeline, so
    /// commands can be chained.
    pub fn queue(self) -> &'a mut Pipeline {
        let Cmd { sink, args, opts, .. } = self;
        sink.push(args, opts.info);
        sink
    }
}

/// Pipelines, transactions and siderpy's pipeline mode.
impl Redis {
    /// A new, empty pipeline whose commands are sent together.
    pub fn pipe(&self) -> Pipeline {
        Pipeline::new(self.clone(), false)
    }

    /// A new, empty transaction: its commands are sent as `MULTI`, the
    /// commands, `EXEC`, in one batch, and
    /// [`execute`](Pipeline::execute)/[`query`](Pipeline::query) return the
    /// results of `EXEC`.
    ///
    /// On a [`dedicated`](Redis::dedicated) handle that `WATCH`ed keys, a
    /// change to one of them makes it fail with [`Error::WatchConflict`];
    /// see [`transaction_with`](Redis::transaction_with) for the retry loop.
    pub fn transaction(&self) -> Pipeline {
        Pipeline::new(self.clone(), true)
    }

    /// Optimistic locking: `WATCH`es `keys`, lets `build` read what it needs
    /// and return the transaction to run, and runs it; when a watched key
    /// changed in between (`EXEC` replied nil), starts over, at most
    /// `attempts` times in all.
    ///
    /// `build` gets a handle on a connection of its own, on which the keys
    /// are watched: read through it, and make the transaction with its
    /// [`transaction`](Redis::transaction). That connection closes when
    /// this returns (once `build`'s handles are dropped).
    ///
    /// ```no_run
    /// # extern crate siderpy_core as siderpy;
    /// # async fn f(redis: siderpy::Redis) -> siderpy::Result<()> {
    /// use siderpy::prelude::*;
    /// // EXEC's results: SET's, then GET's.
    /// let (_, new_balance): (bool, i64) = redis
    ///     .transaction_with(["balance"], 10, |conn| async move {
    ///         let balance: i64 = conn.get("balance").returning::<Option<i64>>().await?.unwrap_or(0);
    ///         let mut tx = conn.transaction();
    ///         tx.set("balance", balance + 10).queue().get("balance").queue();
    ///         Ok(tx)
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::WatchConflict`] when every attempt met a change; any error
    /// of `build` or of the transaction.
    pub async fn transaction_with<T, A, F, Fut>(&self, keys: A, attempts: usize, mut build: F) -> Result<T>
    where
        T: FromValue,
        A: crate::args::Args + Clone,
        F: FnMut(Redis) -> Fut,
        Fut: std::future::Future<Output = Result<Pipeline>>,
    {
        let conn = self.dedicated().await?;
        for attempt in 1..=attempts.max(1) {
            // WATCH as a command of the handle `build` gets, so that the handle
            // knows it watches: if the connection dies, its reads fail instead
            // of going on, unwatched, on a new connection (a lost update).
            let watched = conn.clone();
            crate::commands::Commands::execute_cmd(&watched, "WATCH", keys.clone()).await?;
            let mut tx = build(watched).await?;
            match tx.query::<T>().await {
                Err(Error::WatchConflict) => {
                    tracing::debug!(attempt, "watched key changed; retrying the transaction");
                }
                other => return other,
            }
        }
        Err(Error::WatchConflict)
    }

    /// Turns siderpy's pipeline mode on for this handle: from now on,
    /// commands are queued with `.queue()` and awaiting one is refused (with
    /// [`Error::Usage`], nothing sent) until [`pipeline_off`](Self::pipeline_off).
    pub fn pipeline_on(&self) {
        self.local().pipeline_mode = true;
    }

    /// Turns pipeline mode off. Queued commands stay queued: the pipeline
    /// can be resumed later, and sent with [`pipeline_execute`](Self::pipeline_execute).
    pub fn pipeline_off(&self) {
        self.local().pipeline_mode = false;
    }

    /// Drops every command queued in this handle's pipeline.
    pub fn pipeline_clear(&self) {
        self.local().pipeline.clear();
    }

    /// Pipeline mode for as long as the guard lives: siderpy's
    /// `with redis.pipeline():`.
    ///
    /// ```no_run
    /// # extern crate siderpy_core as siderpy;
    /// # async fn f(redis: siderpy::Redis) -> siderpy::Result<()> {
    /// use siderpy::prelude::*;
    /// {
    ///     let _mode = redis.pipeline();
    ///     redis.set("key1", "value1").queue();
    /// }
    /// // Pipeline paused: other work here, then resume it.
    /// {
    ///     let _mode = redis.pipeline();
    ///     redis.set("key2", "value2").queue();
    /// }
    /// let results = redis.pipeline_execute().await?;
    /// assert_eq!(results.len(), 2);
    /// # Ok(()) }
    /// ```
    pub fn pipeline(&self) -> PipelineMode<'_> {
        self.pipeline_on();
        PipelineMode { redis: self }
    }

    /// Sends the commands queued in this handle's pipeline and returns one
    /// result per command, always a list (empty when nothing was queued).
    /// The queue is emptied whatever the outcome. The mode is left as it is.
    ///
    /// # Errors
    /// As [`Pipeline::execute`].
    pub async fn pipeline_execute(&self) -> Result<Vec<Result<Value>>> {
        let queued = std::mem::take(&mut self.local().pipeline);
        let mut p = Pipeline::new(self.clone(), false);
        for (args, info) in queued {
            p.push(args, info);
        }
        p.execute().await
    }
}

/// siderpy's pipeline mode, on until this guard is dropped; see
/// [`Redis::pipeline`].
#[derive(Debug)]
#[must_use = "pipeline mode ends when this guard is dropped"]
pub struct PipelineMode<'a> {
    redis: &'a Redis,
}

impl Drop for PipelineMode<'_> {
    fn drop(&mut self) {
        self.redis.pipeline_off();
    }
}

impl<K: ?Sized, R> Cmd<&Redis, K, R> {
    /// Queues the command in the client's pipeline (siderpy's pipeline
    /// mode) instead of sending it; [`Redis::pipeline_execute`] sends it.
    pub fn queue(self) {
        let Cmd { sink: redis, args, opts, .. } = self;
        redis.local().pipeline.push((args, opts.info));
    }
}
