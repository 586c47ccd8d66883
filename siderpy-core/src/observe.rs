//! What siderpy reports of each command: [`CommandObserver`], a hook called
//! once per command with its outcome and duration, for latency and error
//! metrics with any metrics library (no exporter here), and the command's
//! `tracing` span (see `Probe`).

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::time::{Duration, Instant};

use crate::args::CmdArgs;
use crate::command::CallOptions;
use crate::error::{Error, Result, Timeout};
use crate::info::{Addr, ConnectionInfo};

/// Told of every command a client runs, once it ends: for latency and error
/// metrics. Set with [`RedisBuilder::observer`](crate::RedisBuilder::observer).
///
/// Called on the task that awaited the command, right after its reply (or
/// failure): keep it short and never block (record into atomics or a
/// metrics library's handles). Unset, it costs nothing.
///
/// A pipeline or transaction is one event (operation `PIPELINE` or
/// `MULTI`, with its [`batch_size`](CommandEvent::batch_size)). A pool's
/// or cluster's command is an event of the client it ran on (a cluster
/// command redirected to another node: one event per node asked).
///
/// # Examples
/// ```no_run
/// # extern crate siderpy_core as siderpy;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use siderpy::{CommandEvent, CommandObserver, Outcome};
///
/// #[derive(Default)]
/// struct Counts { ok: AtomicU64, errors: AtomicU64, micros: AtomicU64 }
///
/// impl CommandObserver for Counts {
///     fn on_complete(&self, ev: &CommandEvent<'_>) {
///         match ev.outcome {
///             Outcome::Ok => self.ok.fetch_add(1, Ordering::Relaxed),
///             _ => self.errors.fetch_add(1, Ordering::Relaxed),
///         };
///         self.micros.fetch_add(ev.duration.as_micros() as u64, Ordering::Relaxed);
///         // Or, with the `metrics` crate:
///         // histogram!("db.client.operation.duration", "db.operation.name" => ev.operation.to_owned(),
///         //            "error.type" => ev.error_type().unwrap_or("")).record(ev.duration);
///     }
/// }
///
/// # fn f() -> siderpy::Result<()> {
/// let counts = std::sync::Arc::new(Counts::default());
/// let redis = siderpy::Redis::builder("redis://localhost:6379")?.observer(counts.clone()).build();
/// # Ok(()) }
/// ```
pub trait CommandObserver: Send + Sync {
    /// A command ended (or was given up): see [`CommandEvent`].
    fn on_complete(&self, ev: &CommandEvent<'_>);
}

impl<T: CommandObserver + ?Sized> CommandObserver for std::sync::Arc<T> {
    fn on_complete(&self, ev: &CommandEvent<'_>) {
        (**self).on_complete(ev)
    }
}

/// One command that ended, as told to a [`CommandObserver`].
#[derive(Debug)]
#[non_exhaustive]
pub struct CommandEvent<'a> {
    /// The command's name as the spec spells it (`"GET"`, `"CLIENT
    /// SETNAME"`), as sent for a command the spec does not know, or
    /// `"PIPELINE"` / `"MULTI"` for a batch.
    pub operation: &'a str,
    /// The server it was sent to.
    pub server: &'a Addr,
    /// The database index of the connection.
    pub db: i64,
    /// How many commands a pipeline or transaction held; 1 for a command.
    pub batch_size: usize,
    /// From the first poll (when the command is sent) to its reply.
    pub duration: Duration,
    /// How it ended.
    pub outcome: Outcome<'a>,
}

impl CommandEvent<'_> {
    /// A short, low-cardinality name for a failure, for a metric's label
    /// (OpenTelemetry's `error.type`): the server's error code (`WRONGTYPE`,
    /// `MOVED`...), else `timeout`, `io`, `closed`, `cancelled`...; `None`
    /// when it succeeded.
    pub fn error_type(&self) -> Option<&str> {
        match self.outcome {
            Outcome::Ok => None,
            Outcome::Error(e) => Some(error_type(e)),
            Outcome::Cancelled => Some("cancelled"),
        }
    }
}

/// How a command ended.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Outcome<'a> {
    /// The server replied, and not with an error (a pipeline: every reply
    /// came back, error replies among them or not); or the client-side
    /// cache did.
    Ok,
    /// The server replied with an error, or the command failed on the way
    /// (timeout, connection lost, refused before sending).
    Error(&'a Error),
    /// The caller gave it up (dropped its future) before the reply.
    Cancelled,
}

/// The name of a failure for `error.type`: the server's error code, else
/// the kind of error.
pub(crate) fn error_type(e: &Error) -> &str {
    match e {
        Error::Redis(s) | Error::Transaction { error: s, .. } => match s.code() {
            "" => "ERR",
            code => code,
        },
        Error::WatchConflict => "watch_conflict",
        Error::Queued { .. } => "queued",
        Error::QueueClosed { .. } | Error::Closed(_) => "closed",
        Error::Io(_) => "io",
        Error::Timeout(Timeout::Connect) => "connect_timeout",
        Error::Timeout(Timeout::Pool) => "pool_timeout",
        Error::Timeout(_) => "timeout",
        Error::Tls(_) => "tls",
        Error::Protocol(_) => "protocol",
        Error::Type(_) => "type",
        Error::Usage(_) | Error::Url(_) => "usage",
        Error::CrossSlot { .. } => "cross_slot",
        Error::Cluster(_) => "cluster",
        Error::Unavailable { .. } => "unavailable",
        Error::OutputFull { .. } => "output_full",
        Error::Handshake { .. } => "handshake",
        Error::Sentinel(_) => "sentinel",
    }
}

/// A client's settings for what it reports of its commands.
#[derive(Clone, Debug, Default)]
pub(crate) struct Observability {
    /// Told of every command's outcome (see `RedisBuilder::observer`).
    pub(crate) observer: Option<Observer>,
    /// Command spans carry the command's keys (`db.query.text`).
    pub(crate) trace_keys: bool,
}

/// The observer a builder holds, shown by name in its `Debug`.
#[derive(Clone)]
pub(crate) struct Observer(pub(crate) std::sync::Arc<dyn CommandObserver>);

impl fmt::Debug for Observer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CommandObserver")
    }
}

/// What siderpy reports of each command, from its first poll to its reply:
/// a `tracing` span after OpenTelemetry's database conventions, and an
/// event for the client's [`CommandObserver`](crate::CommandObserver).
///
/// The span (target `siderpy::command`, level `DEBUG`, name `redis`):
/// `db.system.name = "redis"`, `db.operation.name` (the spec's name,
/// `"CLIENT SETNAME"`, or `"PIPELINE"` / `"MULTI"` for a batch, with
/// `db.operation.batch.size`), `server.address`, `server.port` (TCP only),
/// `db.namespace` (the db index), and on failure `error.type`,
/// `db.response.status_code` (a server error's code) and
/// `otel.status_code = "ERROR"`. `otel.name` and `otel.kind` are for
/// `tracing-opentelemetry`. No argument values; with
/// [`RedisBuilder::trace_keys`](crate::RedisBuilder::trace_keys),
/// `db.query.text` holds the command with its keys and `?` for every other
/// argument.
///
/// Without the `tracing` feature there is no span; without an observer no
/// clock is read. Dropped before the reply, it reports the command
/// cancelled.
pub(crate) struct Probe<'a> {
    info: &'a ConnectionInfo,
    /// The db the command runs in: the client's, or what a dedicated
    /// handle `SELECT`ed.
    db: i64,
    settings: &'a Observability,
    #[cfg(feature = "tracing")]
    span: tracing::Span,
    /// Only with an observer: when the command started, and its name.
    /// Boxed: a probe is part of every running command, which is moved
    /// about whole, and most clients have no observer.
    observed: Option<Box<Observed>>,
    finished: bool,
}

struct Observed {
    start: Instant,
    operation: Cow<'static, str>,
    batch: usize,
}

/// What a probe's span is entered as while its command is polled.
#[cfg(feature = "tracing")]
pub(crate) type Entered<'s> = tracing::span::Entered<'s>;
#[cfg(not(feature = "tracing"))]
pub(crate) type Entered<'s> = std::marker::PhantomData<&'s ()>;

/// The name of what is measured, known statically or read from the
/// command's words (one the spec does not know), only when wanted.
#[derive(Clone, Copy)]
enum Op<'x> {
    Static(&'static str),
    Args(&'x CmdArgs),
}

impl fmt::Display for Op<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Static(name) => f.write_str(name),
            Op::Args(args) => f.write_str(&args.name()),
        }
    }
}

impl Op<'_> {
    fn owned(self) -> Cow<'static, str> {
        match self {
            Op::Static(name) => Cow::Borrowed(name),
            Op::Args(args) => Cow::Owned(args.name()),
        }
    }
}

impl<'a> Probe<'a> {
    /// The probe of one command.
    pub(crate) fn command(
        info: &'a ConnectionInfo,
        db: i64,
        settings: &'a Observability,
        args: &CmdArgs,
        opts: &CallOptions,
    ) -> Self {
        let op = opts.name().map_or(Op::Args(args), Op::Static);
        let probe = Probe::new(info, db, settings, op, 1);
        #[cfg(feature = "tracing")]
        if settings.trace_keys && !probe.span.is_disabled() {
            probe.span.record("db.query.text", tracing::field::display(QueryText(args, opts)));
        }
        probe
    }

    /// Whether a command's probe would report anything: an observer is
    /// set, or a `tracing` subscriber may want its `DEBUG` span. Without
    /// either, a command answered at once (a cache hit) skips its probe.
    #[inline]
    pub(crate) fn wanted(settings: &Observability) -> bool {
        #[cfg(feature = "tracing")]
        if tracing::level_enabled!(tracing::Level::DEBUG) {
            return true;
        }
        settings.observer.is_some()
    }

    /// The probe of a batch (`"PIPELINE"`, `"MULTI"`) of `n` commands.
    pub(crate) fn batch(info: &'a ConnectionInfo, settings: &'a Observability, op: &'static str, n: usize) -> Self {
        Probe::new(info, info.db, settings, Op::Static(op), n)
    }

    fn new(info: &'a ConnectionInfo, db: i64, settings: &'a Observability, op: Op<'_>, batch: usize) -> Self {
        Probe {
            #[cfg(feature = "tracing")]
            span: span(info, db, op, batch),
            observed: settings
                .observer
                .as_ref()
                .map(|_| Box::new(Observed { start: Instant::now(), operation: op.owned(), batch })),
            info,
            db,
            settings,
            finished: false,
        }
    }

    /// Enters the span, for one poll of the command.
    #[inline]
    pub(crate) fn enter(&self) -> Entered<'_> {
        #[cfg(feature = "tracing")]
        return self.span.enter();
        #[cfg(not(feature = "tracing"))]
        return std::marker::PhantomData;
    }

    /// Runs `fut` inside the span, then reports its outcome.
    pub(crate) async fn run<T>(self, fut: impl Future<Output = Result<T>>) -> Result<T> {
        let mut fut = std::pin::pin!(fut);
        let out = std::future::poll_fn(|cx| {
            let _entered = self.enter();
            fut.as_mut().poll(cx)
        })
        .await;
        self.finish(out.as_ref().map(drop));
        out
    }

    /// Reports how the command ended.
    pub(crate) fn finish(mut self, outcome: std::result::Result<(), &Error>) {
        self.finished = true;
        self.report(match outcome {
            // Queued in the handle's MULTI: the server took it.
            Ok(()) | Err(Error::Queued { .. }) => Outcome::Ok,
            Err(e) => Outcome::Error(e),
        });
    }

    fn report(&self, outcome: Outcome<'_>) {
        #[cfg(feature = "tracing")]
        if !self.span.is_disabled() {
            match outcome {
                Outcome::Ok => {}
                Outcome::Error(e) => {
                    self.span.record("error.type", error_type(e));
                    self.span.record("otel.status_code", "ERROR");
                    if let Some(code) = e.as_server_error().map(|s| s.code()).filter(|c| !c.is_empty()) {
                        self.span.record("db.response.status_code", code);
                    }
                }
                Outcome::Cancelled => {
                    self.span.record("error.type", "cancelled");
                }
            }
        }
        if let (Some(observer), Some(observed)) = (&self.settings.observer, &self.observed) {
            observer.0.on_complete(&CommandEvent {
                operation: &observed.operation,
                server: &self.info.addr,
                db: self.db,
                batch_size: observed.batch,
                duration: observed.start.elapsed(),
                outcome,
            });
        }
    }
}

impl Drop for Probe<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.report(Outcome::Cancelled);
        }
    }
}

#[cfg(feature = "tracing")]
fn span(info: &ConnectionInfo, db: i64, op: Op<'_>, batch: usize) -> tracing::Span {
    let addr = &info.addr;
    let port = match addr {
        Addr::Tcp { port, .. } => Some(*port),
        Addr::Unix(_) => None,
    };
    // Field values are only evaluated when a subscriber wants the span.
    tracing::span!(
        target: "siderpy::command",
        tracing::Level::DEBUG,
        "redis",
        db.system.name = "redis",
        db.operation.name = %op,
        db.operation.batch.size = (batch > 1).then_some(batch as u64),
        server.address = %ServerAddress(addr),
        server.port = port,
        db.namespace = %db,
        db.query.text = tracing::field::Empty,
        error.type = tracing::field::Empty,
        db.response.status_code = tracing::field::Empty,
        otel.name = %op,
        otel.kind = "client",
        otel.status_code = tracing::field::Empty,
    )
}

/// `server.address`: the host, or a unix socket's path.
struct ServerAddress<'x>(&'x Addr);

impl fmt::Display for ServerAddress<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Addr::Tcp { host, .. } => f.write_str(host),
            Addr::Unix(path) => write!(f, "{}", path.display()),
        }
    }
}

/// `db.query.text` with keys on: the command's name and keys, `?` for
/// every other argument (`SET user:1 ?`).
struct QueryText<'x>(&'x CmdArgs, &'x CallOptions);

impl fmt::Display for QueryText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words = self.0.words();
        let (name_words, keys) = match self.1.info {
            Some(info) => (info.words as usize, crate::keys::key_positions(info, &words).positions),
            None => (1, Vec::new()),
        };
        for (i, word) in words.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            if i < name_words {
                f.write_str(&String::from_utf8_lossy(word).to_ascii_uppercase())?;
            } else if keys.contains(&i) {
                f.write_str(&String::from_utf8_lossy(word))?;
            } else {
                f.write_str("?")?;
            }
        }
        Ok(())
    }
}
