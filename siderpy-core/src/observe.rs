//! [`CommandObserver`]: a hook called once per command with its outcome and
//! duration, for latency and error metrics with any metrics library (no
//! exporter here).

use std::fmt;
use std::time::Duration;

use crate::error::{Error, Timeout};
use crate::info::Addr;

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
    /// came back, error replies among them or not).
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
    }
}

/// The observer a builder holds, shown by name in its `Debug`.
#[derive(Clone)]
pub(crate) struct Observer(pub(crate) std::sync::Arc<dyn CommandObserver>);

impl fmt::Debug for Observer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CommandObserver")
    }
}
