//! How a [`Cmd`] bound to a [`Redis`] runs as a future.
//!
//! No boxing in the common case (an ordinary command on the open shared
//! connection): the first poll queues the command and the `Cmd` then only
//! waits for the reply. Everything else (reconnecting, transactions,
//! pub/sub, blocking commands, pipeline mode) takes the general path in
//! `Redis::request`, boxed.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Sleep;

use crate::args::CmdArgs;
use crate::cache::{Cache, Fetch, Lookup};
use crate::client::Redis;
use crate::command::{Boxed, CallOptions, Cmd, Sink, Stage};
use crate::convert::{convert, FromValue};
use crate::error::{Error, Result, Timeout};
use crate::observe::Probe;
use crate::value::Value;

/// What a command awaited on a [`Redis`] keeps while it runs. Public only
/// as the type of [`Sink::Running`]; unnameable outside the crate.
///
/// It does not depend on the reply type: every command runs the same
/// compiled state machine, and only the conversion of the reply at the end
/// is compiled per reply type. A program awaiting a hundred kinds of
/// command builds the machine once.
#[allow(missing_debug_implementations, private_interfaces)]
pub enum Running<'a> {
    /// Queued on the shared connection; waiting for the reply.
    Waiting {
        rx: oneshot::Receiver<Result<Value>>,
        /// The read timeout, and its timer.
        deadline: Option<(Pin<Box<Sleep>>, Duration)>,
        /// Its span and observer, from the first poll to the reply.
        probe: Probe<'a>,
    },
    /// As `Waiting`, for a read the client-side cache missed: the reply
    /// goes to the cache too, through the fetch token left before sending.
    Fetching {
        rx: oneshot::Receiver<Result<Value>>,
        deadline: Option<(Pin<Box<Sleep>>, Duration)>,
        probe: Probe<'a>,
        /// Boxed, as a miss is slow anyway: `Running` is part of every
        /// command, and every byte of it is moved with the command.
        fetch: Box<Fetch>,
    },
    /// Anything but the common case.
    General(Boxed<'a, Value>),
}

impl<'a> Sink for &'a Redis {
    type Running<R> = Running<'a>;
}

/// Past this size, a sent command's arguments are dropped while its reply
/// is awaited.
const NAME_ONLY_PAST: usize = 64 * 1024;

/// Converts a reply, naming the command in a type error.
fn finish<R: FromValue>(redis: &Redis, name: impl FnOnce() -> String, reply: Result<Value>) -> Result<R> {
    convert::<R>(reply?, redis.text_policy()).map_err(|e| match e {
        Error::Type(t) => Error::Type(t.with_command(&name())),
        e => e,
    })
}

impl<K: ?Sized, R: FromValue> Future for Cmd<&Redis, K, R> {
    type Output = Result<R>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<R>> {
        let this = self.get_mut();
        let reply = std::task::ready!(poll_command(this.sink, &mut this.stage, &mut this.args, &this.opts, cx));
        Poll::Ready(finish(this.sink, || this.args.name(), reply))
    }
}

/// A command's life up to its reply, unconverted: queued on the shared
/// connection on the first poll if it can be (else the general path,
/// boxed), then awaited.
fn poll_command<'a>(
    redis: &'a Redis,
    stage: &mut Stage<Running<'a>>,
    args: &mut CmdArgs,
    opts: &CallOptions,
    cx: &mut Context<'_>,
) -> Poll<Result<Value>> {
    loop {
        match stage {
            Stage::Built => {
                // Without a cache, this one branch is all it costs.
                if let Some(cache) = redis.cache() {
                    match std::task::ready!(start_cached(redis, cache, args, *opts, cx)) {
                        Ok(running) => *stage = Stage::Running(running),
                        Err(out) => {
                            *stage = Stage::Done;
                            return Poll::Ready(out);
                        }
                    }
                    continue;
                }
                *stage = match redis.try_send_shared(args, opts) {
                    Some((rx, limit)) => {
                        let probe = redis.probe(args, opts);
                        keep_name(args);
                        Stage::Running(Running::Waiting { rx, deadline: timer(limit), probe })
                    }
                    None => {
                        if let Some(down) = redis.unavailable(args, opts) {
                            redis.probe(args, opts).finish(Err(&down));
                            *stage = Stage::Done;
                            return Poll::Ready(Err(down));
                        }
                        Stage::Running(general(redis, args, *opts, Via::Request))
                    }
                };
            }
            Stage::Running(Running::Waiting { rx, deadline, probe }) => {
                let reply = std::task::ready!(poll_reply(redis, rx, deadline, probe, cx));
                let Stage::Running(Running::Waiting { probe, .. }) = std::mem::replace(stage, Stage::Done) else {
                    unreachable!()
                };
                probe.finish(reply.as_ref().map(drop));
                return Poll::Ready(reply);
            }
            Stage::Running(Running::Fetching { rx, deadline, probe, .. }) => {
                let reply = std::task::ready!(poll_reply(redis, rx, deadline, probe, cx));
                let Stage::Running(Running::Fetching { probe, fetch, .. }) = std::mem::replace(stage, Stage::Done)
                else {
                    unreachable!()
                };
                // Kept only if no invalidation came first; on an error
                // the dropped token clears its entry.
                if let Ok(v) = &reply {
                    fetch.fill(v);
                }
                probe.finish(reply.as_ref().map(drop));
                return Poll::Ready(reply);
            }
            Stage::Running(Running::General(fut)) => {
                let reply = std::task::ready!(fut.as_mut().poll(cx));
                *stage = Stage::Done;
                return Poll::Ready(reply);
            }
            Stage::Misused => return Poll::Ready(Err(stage.misused(opts))),
            Stage::Done => panic!("a command polled after it completed"),
        }
    }
}

/// The read timeout's timer, if there is one.
fn timer(limit: Option<Duration>) -> Option<(Pin<Box<Sleep>>, Duration)> {
    limit.map(|limit| (Box::pin(tokio::time::sleep(limit)), limit))
}

/// A sent command's bytes are queued: keeps only its name, not a second
/// copy of a large value until the reply.
fn keep_name(args: &mut CmdArgs) {
    if args.frame_len_hint() > NAME_ONLY_PAST {
        *args = CmdArgs::with_name(&args.name());
    }
}

/// Polls, inside the command's span, for a reply queued on the shared
/// connection, within its timer.
#[inline]
fn poll_reply(
    redis: &Redis,
    rx: &mut oneshot::Receiver<Result<Value>>,
    deadline: &mut Option<(Pin<Box<Sleep>>, Duration)>,
    probe: &Probe<'_>,
    cx: &mut Context<'_>,
) -> Poll<Result<Value>> {
    let _entered = probe.enter();
    Poll::Ready(match Pin::new(rx).poll(cx) {
        Poll::Ready(Ok(Ok(Value::Error(e)))) => {
            redis.check_demoted(&e);
            Err(Error::Redis(e))
        }
        Poll::Ready(Ok(reply)) => reply,
        Poll::Ready(Err(_)) => Err(Error::Closed("connection")),
        Poll::Pending => {
            let expired = match deadline {
                Some((timer, limit)) => timer.as_mut().poll(cx).is_ready().then_some(*limit),
                None => None,
            };
            let Some(limit) = expired else { return Poll::Pending };
            redis.read_timed_out(limit);
            Err(Error::Timeout(Timeout::Read))
        }
    })
}

/// How a command the first poll could not queue is sent, boxed.
enum Via {
    /// [`Redis::request`]: the whole general path, the cache included.
    Request,
    /// The cache passed on it (not cacheable, or another caller's fetch
    /// of it under way): past the cache, not looked up again.
    Uncached,
    /// The cache missed it: the reply goes to this token.
    Fetch(Fetch),
}

/// The general path, boxed. The arguments go into the request, which drops
/// them once queued: only the name stays, for a type error's message.
fn general<'a>(redis: &'a Redis, args: &mut CmdArgs, opts: CallOptions, via: Via) -> Running<'a> {
    let name_only = CmdArgs::with_name(&args.name());
    let args = std::mem::replace(args, name_only);
    Running::General(Box::pin(async move {
        let reply = match via {
            Via::Request => redis.request(args, opts).await,
            Via::Uncached => redis.request_probe(&args, &opts).run(redis.request_uncached(args, opts)).await,
            Via::Fetch(fetch) => {
                redis.request_probe(&args, &opts).run(redis.request_fetching(&args, opts, fetch)).await
            }
        };
        if let Err(Error::Redis(e)) | Ok(Value::Error(e)) = &reply {
            redis.check_demoted(e);
        }
        reply
    }))
}

/// The first poll with a client-side cache: the reply from the cache
/// (`Err`), or what waits for the server's.
fn start_cached<'a>(
    redis: &'a Redis,
    cache: &Arc<Cache>,
    args: &mut CmdArgs,
    opts: CallOptions,
    cx: &mut Context<'_>,
) -> Poll<std::result::Result<Running<'a>, Result<Value>>> {
    // A hit is ready at once: it spends the task's budget as a socket read
    // would, or a loop of hits would never let its worker thread run
    // anything else.
    let coop = std::task::ready!(tokio::task::coop::poll_proceed(cx));
    let fetch = match redis.cache_lookup(cache, args, &opts) {
        Lookup::Hit(v) => {
            coop.made_progress();
            if Probe::wanted(redis.observability()) {
                redis.probe(args, &opts).finish(Ok(()));
            }
            return Poll::Ready(Err(Ok(v)));
        }
        Lookup::Fetch(fetch) => Some(fetch),
        Lookup::Pass => None,
        // Connects, then looks again.
        Lookup::Offline => return Poll::Ready(Ok(general(redis, args, opts, Via::Request))),
    };
    let sent = match &fetch {
        Some(fetch) => redis.try_send_fetching(args, &opts, fetch),
        None => redis.try_send_shared(args, &opts),
    };
    if let Some((rx, limit)) = sent {
        let probe = redis.probe(args, &opts);
        keep_name(args);
        let deadline = timer(limit);
        return Poll::Ready(Ok(match fetch {
            Some(fetch) => Running::Fetching { rx, deadline, probe, fetch: Box::new(fetch) },
            None => Running::Waiting { rx, deadline, probe },
        }));
    }
    if let Some(down) = redis.unavailable(args, &opts) {
        redis.probe(args, &opts).finish(Err(&down));
        return Poll::Ready(Err(Err(down)));
    }
    let via = match fetch {
        Some(fetch) => Via::Fetch(fetch),
        None => Via::Uncached,
    };
    Poll::Ready(Ok(general(redis, args, opts, via)))
}
