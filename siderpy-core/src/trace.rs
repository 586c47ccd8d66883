//! The `tracing` events siderpy emits (connects, reconnects, redirections),
//! or nothing without the `tracing` feature. Modules that log import this
//! as `tracing` and call `tracing::debug!(...)` either way.
//!
//! And [`Probe`]: each command's span and observer event.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::time::Instant;

use crate::args::CmdArgs;
use crate::client::Config;
use crate::command::CallOptions;
use crate::error::{Error, Result};
use crate::info::Addr;
use crate::observe::{CommandEvent, Outcome};

#[cfg(feature = "tracing")]
pub(crate) use tracing::{debug, info, warn};

#[cfg(not(feature = "tracing"))]
mod off {
    /// Expands to nothing: the `tracing` feature is off.
    macro_rules! off {
        ($($event:tt)*) => {
            ()
        };
    }
    pub(crate) use off as debug;
    pub(crate) use off as info;
    pub(crate) use off as warn;
}
#[cfg(not(feature = "tracing"))]
pub(crate) use off::{debug, info, warn};

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
    config: &'a Config,
    #[cfg(feature = "tracing")]
    span: tracing::Span,
    /// Only with an observer: when the command started, and its name.
    observed: Option<Observed>,
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
    pub(crate) fn command(config: &'a Config, args: &CmdArgs, opts: &CallOptions) -> Self {
        let op = opts.name().map_or(Op::Args(args), Op::Static);
        let probe = Probe::new(config, op, 1);
        #[cfg(feature = "tracing")]
        if config.trace_keys && !probe.span.is_disabled() {
            probe.span.record("db.query.text", tracing::field::display(QueryText(args, opts)));
        }
        probe
    }

    /// The probe of a batch (`"PIPELINE"`, `"MULTI"`) of `n` commands.
    pub(crate) fn batch(config: &'a Config, op: &'static str, n: usize) -> Self {
        Probe::new(config, Op::Static(op), n)
    }

    fn new(config: &'a Config, op: Op<'_>, batch: usize) -> Self {
        Probe {
            #[cfg(feature = "tracing")]
            span: span(config, op, batch),
            observed: config.observer.as_ref().map(|_| Observed {
                start: Instant::now(),
                operation: op.owned(),
                batch,
            }),
            config,
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
                    self.span.record("error.type", crate::observe::error_type(e));
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
        if let (Some(observer), Some(observed)) = (&self.config.observer, &self.observed) {
            observer.0.on_complete(&CommandEvent {
                operation: &observed.operation,
                server: &self.config.info.addr,
                db: self.config.info.db,
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
fn span(config: &Config, op: Op<'_>, batch: usize) -> tracing::Span {
    let addr = &config.info.addr;
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
        db.namespace = %config.info.db,
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
