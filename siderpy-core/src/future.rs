//! [`ReplyFuture`]: what awaiting a command on a [`Redis`] runs.
//!
//! A named future rather than a boxed `async` block: the common case (an
//! ordinary command on the open shared connection) queues the command on its
//! first poll and then only waits for the reply, with no allocation for the
//! future itself. Everything else (reconnecting, transactions, pub/sub,
//! blocking commands, pipeline mode) takes the general path in
//! `Redis::request`, boxed.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Sleep;

use std::sync::Arc;

use crate::args::CmdArgs;
use crate::cache::{Cache, Fetch, Lookup};
use crate::client::Redis;
use crate::command::{CallOptions, Cmd};
use crate::convert::{convert, FromValue};
use crate::error::{Error, Result, Timeout};
use crate::value::Value;

/// The future of a command awaited on a [`Redis`]: its reply converted to `R`.
///
/// Made by `.await` (through [`IntoFuture`]) on a [`Cmd`]; nothing is sent
/// until it is first polled. Dropping it before the reply arrives is safe:
/// the reply is read and discarded, and no other caller's reply shifts.
#[must_use = "futures do nothing unless polled"]
pub struct ReplyFuture<'a, R> {
    redis: &'a Redis,
    state: State<'a, R>,
    reply: PhantomData<fn() -> R>,
}

enum State<'a, R> {
    /// Not polled yet.
    Start {
        args: CmdArgs,
        opts: CallOptions,
    },
    /// Queued on the shared connection; waiting for the reply.
    Waiting {
        rx: oneshot::Receiver<Result<Value>>,
        /// The read timeout, and its timer.
        deadline: Option<(Pin<Box<Sleep>>, Duration)>,
        /// Kept to name the command in a conversion error.
        args: CmdArgs,
    },
    /// Queued on the shared connection, the client-side cache missed it:
    /// the reply goes to the cache too.
    Fetching {
        rx: oneshot::Receiver<Result<Value>>,
        deadline: Option<(Pin<Box<Sleep>>, Duration)>,
        args: CmdArgs,
        fetch: Option<Fetch>,
    },
    /// Anything but the common case.
    General(Pin<Box<dyn Future<Output = Result<R>> + Send + 'a>>),
    Done,
}

impl<R> fmt::Debug for ReplyFuture<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Start { .. } => "start",
            State::Waiting { .. } | State::Fetching { .. } => "waiting",
            State::General(_) => "general",
            State::Done => "done",
        };
        f.debug_struct("ReplyFuture").field("state", &state).finish()
    }
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

impl<'a, R: FromValue + Send + 'a> Future for ReplyFuture<'a, R> {
    type Output = Result<R>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<R>> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                State::Start { .. } => {
                    if let Some(cache) = this.redis.cache() {
                        // A hit is ready at once: it spends the task's
                        // budget as a socket read would, or a loop of hits
                        // would never let its worker thread run anything else.
                        let coop = std::task::ready!(tokio::task::coop::poll_proceed(cx));
                        let State::Start { args, opts } = std::mem::replace(&mut this.state, State::Done) else {
                            unreachable!()
                        };
                        match start_cached(this.redis, cache, args, opts) {
                            Ok(state) => this.state = state,
                            Err(hit) => {
                                coop.made_progress();
                                return Poll::Ready(hit);
                            }
                        }
                        continue;
                    }
                    let State::Start { args, opts } = std::mem::replace(&mut this.state, State::Done) else {
                        unreachable!()
                    };
                    this.state = match this.redis.try_send_shared(&args, &opts) {
                        Some((rx, limit)) => State::Waiting { rx, deadline: timer(limit), args: keep_name(args) },
                        None => {
                            let redis = this.redis;
                            if let Some(down) = redis.unavailable(&args, &opts) {
                                this.state = State::Done;
                                return Poll::Ready(Err(down));
                            }
                            // The arguments go into the request, which
                            // drops them once queued: only the name stays.
                            let name = args.name();
                            State::General(Box::pin(async move {
                                let reply = redis.request(args, opts).await;
                                if let Err(Error::Redis(e)) | Ok(Value::Error(e)) = &reply {
                                    redis.check_demoted(e);
                                }
                                finish(redis, || name, reply)
                            }))
                        }
                    };
                }
                State::Waiting { rx, deadline, args } => {
                    let reply = std::task::ready!(poll_reply(this.redis, rx, deadline, cx));
                    let out = finish(this.redis, || args.name(), reply);
                    this.state = State::Done;
                    return Poll::Ready(out);
                }
                State::Fetching { rx, deadline, args, fetch } => {
                    let reply = std::task::ready!(poll_reply(this.redis, rx, deadline, cx));
                    if let (Ok(v), Some(fetch)) = (&reply, fetch.take()) {
                        fetch.fill(v);
                    }
                    let out = finish(this.redis, || args.name(), reply);
                    this.state = State::Done;
                    return Poll::Ready(out);
                }
                State::General(fut) => {
                    let out = std::task::ready!(fut.as_mut().poll(cx));
                    this.state = State::Done;
                    return Poll::Ready(out);
                }
                State::Done => panic!("ReplyFuture polled after completion"),
            }
        }
    }
}

/// The read timeout's timer, if there is one.
fn timer(limit: Option<Duration>) -> Option<(Pin<Box<Sleep>>, Duration)> {
    limit.map(|limit| (Box::pin(tokio::time::sleep(limit)), limit))
}

/// A sent command's arguments, kept to name it in a conversion error: its
/// bytes are queued, so not a second copy of a large value until the reply.
fn keep_name(args: CmdArgs) -> CmdArgs {
    if args.frame_len_hint() > NAME_ONLY_PAST {
        CmdArgs::with_name(&args.name())
    } else {
        args
    }
}

/// Polls for a reply queued on the shared connection, within its timer.
fn poll_reply(
    redis: &Redis,
    rx: &mut oneshot::Receiver<Result<Value>>,
    deadline: &mut Option<(Pin<Box<Sleep>>, Duration)>,
    cx: &mut Context<'_>,
) -> Poll<Result<Value>> {
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

/// The first poll with a client-side cache: the reply from the cache
/// (`Err`), or the state that waits for the server's.
fn start_cached<'a, R: FromValue + Send + 'a>(
    redis: &'a Redis,
    cache: &Arc<Cache>,
    args: CmdArgs,
    opts: CallOptions,
) -> std::result::Result<State<'a, R>, Result<R>> {
    let fetch = match redis.cache_lookup(cache, &args, &opts) {
        Lookup::Hit(v) => return Err(finish(redis, || args.name(), Ok(v))),
        Lookup::Fetch(fetch) => Some(fetch),
        Lookup::Pass => None,
        // Connects, then looks again.
        Lookup::Offline => {
            return Ok(State::General(Box::pin(async move {
                let name = args.name();
                let reply = redis.request(args, opts).await;
                if let Err(Error::Redis(e)) | Ok(Value::Error(e)) = &reply {
                    redis.check_demoted(e);
                }
                finish(redis, || name, reply)
            })))
        }
    };
    let sent = match &fetch {
        Some(fetch) => redis.try_send_fetching(&args, &opts, fetch),
        None => redis.try_send_shared(&args, &opts),
    };
    if let Some((rx, limit)) = sent {
        return Ok(State::Fetching { rx, deadline: timer(limit), args: keep_name(args), fetch });
    }
    if let Some(down) = redis.unavailable(&args, &opts) {
        return Err(Err(down));
    }
    Ok(State::General(Box::pin(async move {
        let reply = match fetch {
            Some(fetch) => redis.request_fetching(&args, opts, fetch).await,
            None => redis.request_uncached(&args, opts).await,
        };
        if let Err(Error::Redis(e)) | Ok(Value::Error(e)) = &reply {
            redis.check_demoted(e);
        }
        finish(redis, || args.name(), reply)
    })))
}

impl<'a, K: ?Sized, R: FromValue + Send + 'a> IntoFuture for Cmd<&'a Redis, K, R> {
    type Output = Result<R>;
    type IntoFuture = ReplyFuture<'a, R>;

    fn into_future(self) -> Self::IntoFuture {
        let Cmd { sink: redis, args, opts, .. } = self;
        ReplyFuture { redis, state: State::Start { args, opts }, reply: PhantomData }
    }
}
