//! [`Cmd`]: one command being built, bound to the executor that will run it.
//!
//! Every typed method (generated from `commands.json`) and `execute_cmd`
//! return a `Cmd`. Optional arguments are chained on it; then it is awaited
//! (on a [`Redis`](crate::Redis) or a pool) or queued (in a pipeline).
//!
//! A `Cmd` bound to an executor that runs commands is itself the `Future`
//! of its reply, so it goes wherever a future does (`join_all`, `select!`).
//! What it becomes once polled is the executor's business: see [`Sink`].

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::args::CmdArgs;
use crate::convert::FromValue;
use crate::keys::{KeySpec, RequestPolicy, ResponsePolicy};

/// What the spec says about one command, compiled into the typed API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandInfo {
    /// The full name as in `commands.json` (`"GET"`, `"CLIENT KILL"`).
    pub name: &'static str,
    /// The name's words, each encoded as a RESP bulk string.
    pub encoded_name: &'static [u8],
    /// How many words the name has (2 for container subcommands).
    pub words: u32,
    /// The spec flags it `blocking` (`BLPOP`, `XREAD`...). Blocking commands
    /// are exempt from the client's read timeout unless asked otherwise.
    pub blocking: bool,
    /// The spec flags it `readonly`: a cluster client may send it to a
    /// replica when reading from replicas is on.
    pub readonly: bool,
    /// A client-side cache may keep its reply until the server invalidates
    /// its key: a read-only, non-blocking command on exactly one key whose
    /// reply depends on that key alone (the spec has no
    /// `nondeterministic_output` hint for it, and it is not on the macro's
    /// short deny-list: `MEMORY USAGE`, `XINFO ...`). See
    /// [`CacheConfig`](crate::CacheConfig).
    pub cacheable: bool,
    /// What the command does to the connection it is sent on (`MULTI`,
    /// `SELECT`, `AUTH`, `CLIENT REPLY`...); [`Effect::None`] for most. Every
    /// executor decides from it alone: see [`Effect`]. A command with an
    /// effect is a method of [`ConnectionCommands`](crate::ConnectionCommands)
    /// only.
    pub effect: Effect,
    /// The command's group in the spec (`string`, `list`, `server`...).
    pub group: &'static str,
    /// Where its keys are (the spec's `key_specs`), for routing in a
    /// cluster; empty for commands without keys (and containers such as
    /// `XINFO`, whose subcommands have them).
    pub keys: &'static [KeySpec],
    /// Where a cluster sends it (the spec's `request_policy` hint), when
    /// not simply by its keys.
    pub request_policy: Option<RequestPolicy>,
    /// How a cluster combines its replies from several nodes (the spec's
    /// `response_policy` hint).
    pub response_policy: Option<ResponsePolicy>,
}

/// What a command does to the connection it is sent on, beyond its reply.
///
/// Emitted for every command into its [`CommandInfo`] from one table in the
/// macro crate (the spec has no flag for it), and read by every executor;
/// none keeps a list of command names of its own. What each does:
///
/// | effect (commands) | shared `Redis` | `dedicated()` handle | pool (awaited on it) | `Pipeline` | cluster |
/// |---|---|---|---|---|---|
/// | `Multi`, `Watch` (`MULTI`, `WATCH`) | pins the handle to a connection of its own until the transaction or watch ends | runs | refused | plain pipeline: sent when ended in the same pipeline; `transaction()`: refused | refused (`transaction()`) |
/// | `EndTransaction`, `Unwatch` (`EXEC`, `DISCARD`, `UNWATCH`) | ends it, back on the shared connection | runs | refused | as `MULTI` | refused |
/// | `Select`, `Auth`, `Hello`, `SetName`, `Reset` | refused (the builder's `db`, `auth`, `protocol`, `client_name`, or `dedicated()`) | runs; the handle's settings follow, so a reconnect restores them; refused inside `MULTI` | refused | refused | refused (`builder().client(..)`) |
/// | `ClientReply` (`CLIENT REPLY`) | refused (`dedicated()`) | runs; while `OFF` (or for the command after `SKIP`) commands return `Nil` unawaited; pipelines and subscribing refused meanwhile | refused | refused | refused |
/// | `Tracking` (`CLIENT TRACKING`) | refused (`dedicated()`) | runs; invalidations go to its [`pubsub_queue`](crate::Redis::pubsub_queue) | refused | refused | refused |
/// | `ReadOnly`, `Asking`, `Quit` (`READONLY`, `READWRITE`, `ASKING`, `QUIT`) | refused (`dedicated()`; `close()` for `QUIT`) | runs (after `QUIT`, the next command reconnects) | refused | refused, but for `ASKING` right before the command it is for in a plain pipeline | refused (sent by the cluster itself) |
/// | `Monitor` (`MONITOR`) | refused ([`Redis::monitor`](crate::Redis::monitor)) | refused (`monitor()`) | refused | refused | refused |
/// | `Subscribe`, `Unsubscribe` (the `(P\|S)(UN)SUBSCRIBE` family) | moves the handle to a pub/sub connection of its own | the same, on its connection | refused | refused (await it on the handle) | refused ([`RedisCluster::pubsub`](crate::cluster::RedisCluster::pubsub)) |
///
/// While a `MULTI` is open on a handle, an ordinary command awaited on it
/// returns [`Error::Queued`](crate::Error::Queued) (its result comes with
/// `EXEC`). A command the spec does not know counts as `None`.
///
/// Refusals are [`Error::Usage`](crate::Error::Usage), before anything is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Effect {
    /// Leaves the connection as it found it.
    None,
    /// `MULTI`: opens a transaction; what follows is queued until `EXEC`.
    Multi,
    /// `EXEC`, `DISCARD`: ends a transaction (and every `WATCH`).
    EndTransaction,
    /// `WATCH`: the next `EXEC` fails if a watched key changes.
    Watch,
    /// `UNWATCH`: forgets every `WATCH`.
    Unwatch,
    /// `SELECT`: changes the database.
    Select,
    /// `AUTH`: changes the user.
    Auth,
    /// `HELLO`: may change the protocol, the user and the name.
    Hello,
    /// `CLIENT SETNAME`: changes the connection's name.
    SetName,
    /// `RESET`: back to db 0, RESP2, the default user, no name, no
    /// transaction, tracking or subscription.
    Reset,
    /// `CLIENT REPLY ON|OFF|SKIP`: the server stops answering.
    ClientReply,
    /// `CLIENT TRACKING`: the server sends invalidation messages.
    Tracking,
    /// `MONITOR`: every later frame is a monitor line, no reply.
    Monitor,
    /// `SUBSCRIBE`, `PSUBSCRIBE`, `SSUBSCRIBE`: pub/sub mode.
    Subscribe,
    /// `UNSUBSCRIBE`, `PUNSUBSCRIBE`, `SUNSUBSCRIBE`.
    Unsubscribe,
    /// `READONLY`, `READWRITE`: whether a cluster replica serves reads.
    ReadOnly,
    /// `ASKING`: the next command may use a slot being imported.
    Asking,
    /// `QUIT`: the server closes the connection.
    Quit,
}

impl Effect {
    /// Whether the command leaves its connection as it found it.
    pub fn is_none(self) -> bool {
        self == Effect::None
    }

    /// Whether the command belongs to a transaction's bookkeeping (`MULTI`,
    /// `EXEC`, `DISCARD`, `WATCH`, `UNWATCH`).
    pub fn is_transaction(self) -> bool {
        matches!(self, Effect::Multi | Effect::EndTransaction | Effect::Watch | Effect::Unwatch)
    }

    /// Whether the command (un)subscribes.
    pub fn is_pubsub(self) -> bool {
        matches!(self, Effect::Subscribe | Effect::Unsubscribe)
    }
}

/// The command of `all` (sorted by name) called `name`, in any case and
/// spacing; a name with arguments after it (`"client kill ..."`) falls
/// back to its first word.
#[doc(hidden)]
pub fn lookup_command(all: &[&'static CommandInfo], name: &str) -> Option<&'static CommandInfo> {
    let upper = name.split_ascii_whitespace().collect::<Vec<_>>().join(" ").to_ascii_uppercase();
    let find = |n: &str| all.binary_search_by(|c| c.name.cmp(n)).ok().map(|i| all[i]);
    find(&upper).or_else(|| find(upper.split(' ').next()?))
}

/// The kind of a command: a zero-sized marker generated for every spec entry,
/// so that each command's optional arguments are methods of its own `Cmd`.
pub trait Kind {
    /// The spec's facts about the command.
    const INFO: &'static CommandInfo;
}

/// The kind of a command sent through `execute_cmd`: its name is known only
/// at run time.
#[derive(Debug)]
pub enum Raw {}

/// A command ready to run, with its optional arguments still open.
///
/// `S` is the executor it is bound to, `K` the command's [`Kind`] and `R` the
/// Rust type its reply is converted to (the command's default, or what
/// [`returning`](Cmd::returning) chose).
///
/// Bound to a [`Redis`](crate::Redis), a dedicated handle, a pool, a
/// cluster or a mock, a `Cmd` is the [`Future`] of its reply: awaiting it,
/// or handing it to anything that takes a future (`join_all`, `select!`,
/// `tokio::join!`), runs it. It is lazy: nothing is sent until it is first
/// polled, so options set before that count. It is [`Unpin`]. Dropping it
/// before its first poll sends nothing; dropping it after sends nothing
/// more, and its reply, when it comes, is read and discarded (no other
/// caller's reply shifts).
///
/// Setting an option (or calling `returning` or `with_timeout`) on a
/// command already polled is a mistake: its next poll fails with
/// [`Error::Usage`](crate::Error::Usage) rather than run a command other
/// than the one sent.
///
/// # Examples
/// ```no_run
/// # extern crate siderpy_core as siderpy;
/// # async fn f(redis: siderpy::Redis) -> siderpy::Result<()> {
/// use siderpy::prelude::*;
/// let n: i64 = redis.execute_cmd("INCRBY", ("counter", 5)).returning().await?;
/// # Ok(()) }
/// ```
/// Several commands as futures, on any executor:
/// ```no_run
/// # extern crate siderpy_core as siderpy;
/// # async fn f(redis: siderpy::Redis) -> siderpy::Result<()> {
/// use siderpy::prelude::*;
/// let (a, b) = tokio::join!(redis.get("a"), redis.incr("n"));
/// let (a, n) = (a?, b?);
/// # Ok(()) }
/// ```
#[must_use = "a command does nothing until it is awaited (or queued in a pipeline)"]
pub struct Cmd<S: Sink, K: ?Sized, R> {
    pub(crate) sink: S,
    pub(crate) args: CmdArgs,
    pub(crate) opts: CallOptions,
    pub(crate) stage: Stage<S::Running<R>>,
    kind: PhantomData<KindAndReply<K, R>>,
}

/// Where a [`Cmd`] is in its life as a future.
pub(crate) enum Stage<T> {
    /// Not polled yet: options may still be set.
    Built,
    /// Sent (or on its way): what the executor keeps until the reply.
    Running(T),
    /// An option was set after the first poll.
    Misused,
    /// The reply was returned.
    Done,
}

impl<T> Stage<T> {
    /// An option changed the command. In place: the stage is most of a
    /// `Cmd`, and every generated setter comes here.
    fn change(&mut self) {
        if !matches!(self, Stage::Built) {
            *self = Stage::Misused;
        }
    }

    /// The failure of a command polled after an option was set on it; the
    /// command is done.
    pub(crate) fn misused(&mut self, opts: &CallOptions) -> crate::error::Error {
        *self = Stage::Done;
        misused(opts.name().unwrap_or("a command"))
    }

    /// The same stage for another reply type (from `returning`).
    fn retyped<U>(self) -> Stage<U> {
        match self {
            Stage::Built => Stage::Built,
            _ => Stage::Misused,
        }
    }
}

/// What [`Cmd`] is bound to: an executor's handle, with what a command keeps
/// while it runs on it. Implemented by siderpy's executors; not public API.
#[doc(hidden)]
pub trait Sink: Sized {
    /// What a command bound here keeps between its first poll and its
    /// reply (`Infallible` where commands are not awaited, as in a
    /// pipeline). `Unpin`, so that every `Cmd` is.
    type Running<R>: Unpin + Send;
}

/// `()`: a command built for its arguments only (a script call's words),
/// never run.
impl Sink for () {
    type Running<R> = std::convert::Infallible;
}

/// A future boxed: what the executors other than `Redis` run a command as.
pub(crate) type Boxed<'a, R> = Pin<Box<dyn Future<Output = crate::error::Result<R>> + Send + 'a>>;

/// The failure of a command polled after an option was set on it.
fn misused(name: &str) -> crate::error::Error {
    crate::error::Error::Usage(format!(
        "an option of {name} was set after the command was first polled: set options before awaiting it"
    ))
}

/// `Cmd` holds no `K` or `R`; this marker keeps it `Send + Sync` whatever they are.
type KindAndReply<K, R> = fn() -> (Box<K>, R);

/// Per-call settings carried from a [`Cmd`] to its executor.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CallOptions {
    /// What the spec says of the command, when it is one the spec knows.
    pub(crate) info: Option<&'static CommandInfo>,
    pub(crate) timeout: Option<Duration>,
    /// Marked for the client-side cache ([`Cmd::cached`]).
    pub(crate) cached: bool,
}

impl CallOptions {
    pub(crate) fn blocking(&self) -> bool {
        self.info.is_some_and(|i| i.blocking)
    }

    /// What the command does to its connection (`None` for a command the
    /// spec does not know: it cannot be told apart from an ordinary one).
    pub(crate) fn effect(&self) -> Effect {
        self.info.map_or(Effect::None, |i| i.effect)
    }

    /// The command's name as the spec spells it (`"CLIENT KILL"`), if known.
    pub(crate) fn name(&self) -> Option<&'static str> {
        self.info.map(|i| i.name)
    }
}

impl<S: Sink, K: Kind, R> Cmd<S, K, R> {
    /// A command of a generated kind, bound to `sink`; used by generated code.
    #[doc(hidden)]
    pub fn __new(sink: S) -> Self {
        let info = K::INFO;
        Cmd::from_parts(sink, CmdArgs::with_encoded_name(info.encoded_name, info.words), Some(info))
    }
}

impl<S: Sink, K: ?Sized, R> Cmd<S, K, R> {
    pub(crate) fn from_parts(sink: S, args: CmdArgs, info: Option<&'static CommandInfo>) -> Self {
        Cmd {
            sink,
            args,
            opts: CallOptions { info, timeout: None, cached: false },
            stage: Stage::Built,
            kind: PhantomData,
        }
    }

    /// The arguments, for generated setters.
    #[doc(hidden)]
    pub fn __args(&mut self) -> &mut CmdArgs {
        self.stage.change();
        &mut self.args
    }

    /// Polls a command that an executor runs as a boxed future, made by
    /// `start` on the first poll.
    pub(crate) fn poll_boxed<'a>(
        &mut self,
        cx: &mut Context<'_>,
        start: impl FnOnce(S, CmdArgs, CallOptions) -> Boxed<'a, R>,
    ) -> Poll<crate::error::Result<R>>
    where
        S: Sink<Running<R> = Boxed<'a, R>> + Copy,
    {
        if let Stage::Built = self.stage {
            let args = std::mem::take(&mut self.args);
            self.stage = Stage::Running(start(self.sink, args, self.opts));
        }
        match &mut self.stage {
            Stage::Running(fut) => {
                let out = std::task::ready!(fut.as_mut().poll(cx));
                self.stage = Stage::Done;
                Poll::Ready(out)
            }
            Stage::Misused => Poll::Ready(Err(self.misused())),
            Stage::Built | Stage::Done => panic!("a command polled after it completed"),
        }
    }

    /// Ends a command polled after an option was set on it: the error.
    pub(crate) fn misused(&mut self) -> crate::error::Error {
        self.stage.misused(&self.opts)
    }

    /// Converts the reply to `T` instead of the command's default type.
    ///
    /// ```no_run
    /// # extern crate siderpy_core as siderpy;
    /// # async fn f(redis: siderpy::Redis) -> siderpy::Result<()> {
    /// use siderpy::prelude::*;
    /// let raw = redis.execute_cmd("GET", ["k"]).returning::<Option<String>>().await?;
    /// # Ok(()) }
    /// ```
    pub fn returning<T: FromValue>(self) -> Cmd<S, K, T> {
        Cmd { sink: self.sink, args: self.args, opts: self.opts, stage: self.stage.retyped(), kind: PhantomData }
    }

    /// Bounds the wait for this command's reply, overriding the client's read
    /// timeout (blocking commands included). Expiry is
    /// [`Error::Timeout`](crate::Error::Timeout).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.opts.timeout = Some(timeout);
        self.stage.change();
        self
    }

    /// Marks a read for the client-side cache in
    /// [`CacheMode::OptIn`](crate::CacheMode::OptIn): it is answered from
    /// the cache when there, else sent right after `CLIENT CACHING yes` and
    /// its reply kept. In the other modes every cacheable read is cached and
    /// this changes nothing; without a cache, or for a command that is not
    /// [`cacheable`](crate::CommandInfo::cacheable), neither.
    ///
    /// ```no_run
    /// # extern crate siderpy_core as siderpy;
    /// # async fn f(redis: siderpy::Redis) -> siderpy::Result<()> {
    /// use siderpy::prelude::*;
    /// let flags: Option<String> = redis.get("config:flags").cached().returning().await?;
    /// # Ok(()) }
    /// ```
    pub fn cached(mut self) -> Self {
        self.opts.cached = true;
        self.stage.change();
        self
    }

    /// The full command name as it will be sent (`"CLIENT KILL"`).
    pub fn name(&self) -> String {
        match self.opts.name() {
            // Once running on a pool or cluster, its arguments moved on.
            Some(name) if self.args.is_empty() => name.to_owned(),
            _ => self.args.name(),
        }
    }
}

impl<S: Sink + std::fmt::Debug, K: ?Sized, R> std::fmt::Debug for Cmd<S, K, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cmd")
            .field("name", &self.args.name())
            .field("args", &self.args.len())
            .field("reply", &std::any::type_name::<R>())
            .finish()
    }
}

/// Something commands can be bound to: `&Redis`, `&mut Pipeline`, `&RedisPool`.
///
/// The generated [`Commands`](crate::Commands) trait is implemented for every
/// `Executor`, so each executor gets the same typed methods from one place.
pub trait Executor: Sized {
    /// What a [`Cmd`] holds to reach the executor.
    #[doc(hidden)]
    type Sink: Sink;
    #[doc(hidden)]
    fn __sink(self) -> Self::Sink;
}

/// An executor whose connection keeps state between commands, so it may run
/// the commands that change that state (MULTI/EXEC, WATCH, SELECT, the
/// SUBSCRIBE family). A pool is not one: those commands are not its methods.
pub trait StatefulExecutor: Executor {}
