//! How a [`Cmd`] bound to a [`Redis`] runs as a future.
//!
//! No boxing in the common case (an ordinary command on the open shared
//! connection): the first poll queues the command and the `Cmd` then only
//! waits for the reply. Everything else (reconnecting, transactions,
//! pub/sub, blocking commands, pipeline mode) takes the general path in
//! `Redis::request`, boxed.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Sleep;

use crate::args::CmdArgs;
use crate::client::Redis;
use crate::command::{Boxed, Cmd, Sink, Stage};
use crate::convert::{convert, FromValue};
use crate::error::{Error, Result, Timeout};
use crate::observe::Probe;
use crate::value::Value;

/// What a command awaited on a [`Redis`] keeps while it runs. Public only
/// as the type of [`Sink::Running`]; unnameable outside the crate.
#[allow(missing_debug_implementations, private_interfaces)]
pub enum Running<'a, R> {
    /// Queued on the shared connection; waiting for the reply.
    Waiting {
        rx: oneshot::Receiver<Result<Value>>,
        /// The read timeout, and its timer.
        deadline: Option<(Pin<Box<Sleep>>, Duration)>,
        /// Its span and observer, from the first poll to the reply.
        probe: Probe<'a>,
    },
    /// Anything but the common case.
    General(Boxed<'a, R>),
}

impl<'a> Sink for &'a Redis {
    type Running<R> = Running<'a, R>;
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

impl<'a, K: ?Sized, R: FromValue + Send + 'a> Future for Cmd<&'a Redis, K, R> {
    type Output = Result<R>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<R>> {
        let this = self.get_mut();
        let redis: &'a Redis = this.sink;
        loop {
            match &mut this.stage {
                Stage::Built => {
                    this.stage = match redis.try_send_shared(&this.args, &this.opts) {
                        Some((rx, limit)) => {
                            let probe = redis.probe(&this.args, &this.opts);
                            // Its bytes are queued: keep only its name, not a
                            // second copy of a large value until the reply.
                            if this.args.frame_len_hint() > NAME_ONLY_PAST {
                                this.args = CmdArgs::with_name(&this.args.name());
                            }
                            Stage::Running(Running::Waiting {
                                rx,
                                deadline: limit.map(|limit| (Box::pin(tokio::time::sleep(limit)), limit)),
                                probe,
                            })
                        }
                        None => {
                            if let Some(down) = redis.unavailable(&this.args, &this.opts) {
                                redis.probe(&this.args, &this.opts).finish(Err(&down));
                                this.stage = Stage::Done;
                                return Poll::Ready(Err(down));
                            }
                            // The arguments go into the request, which
                            // drops them once queued: only the name stays.
                            let (args, opts) = (std::mem::take(&mut this.args), this.opts);
                            let name = args.name();
                            Stage::Running(Running::General(Box::pin(async move {
                                let reply = redis.request(args, opts).await;
                                if let Err(Error::Redis(e)) | Ok(Value::Error(e)) = &reply {
                                    redis.check_demoted(e);
                                }
                                finish(redis, || name, reply)
                            })))
                        }
                    };
                }
                Stage::Running(Running::Waiting { rx, deadline, probe }) => {
                    let reply = {
                        let _entered = probe.enter();
                        match Pin::new(rx).poll(cx) {
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
                        }
                    };
                    let Stage::Running(Running::Waiting { probe, .. }) =
                        std::mem::replace(&mut this.stage, Stage::Done)
                    else {
                        unreachable!()
                    };
                    probe.finish(reply.as_ref().map(drop));
                    return Poll::Ready(finish(redis, || this.args.name(), reply));
                }
                Stage::Running(Running::General(fut)) => {
                    let out = std::task::ready!(fut.as_mut().poll(cx));
                    this.stage = Stage::Done;
                    return Poll::Ready(out);
                }
                Stage::Misused => return Poll::Ready(Err(this.misused())),
                Stage::Done => panic!("a command polled after it completed"),
            }
        }
    }
}
