//! The subscribed connection: (un)subscribing on a connection pinned to
//! the handle, the handle's message queue, and re-subscribing after the
//! connection fails. The queue itself lives below the connection
//! (`crate::pubsub`) and knows nothing of clients.

use std::sync::{Arc, Mutex, Weak};

use crate::args::CmdArgs;
use crate::command::CallOptions;
use crate::connection::await_batch;
use crate::error::{Error, Result};
use crate::pubsub::{Family, PubSubQueue, RESUBSCRIBE_ATTEMPTS};
use crate::value::Value;

use super::pinned::Pinned;
use super::{Inner, Local, Redis};
use crate::trace as tracing;

impl Redis {
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
            tokio::spawn(resubscriber(inner, handle, queue.clone(), interrupted));
        }
        local.pubsub = Some(queue.clone());
        queue
    }

    /// Connects a new pub/sub connection for `handle` and subscribes it to
    /// everything `queue` was subscribed to (see [`RedisBuilder::resubscribe`](super::RedisBuilder::resubscribe)).
    async fn resubscribe_with(inner: Arc<Inner>, handle: &Arc<Mutex<Local>>, queue: &PubSubQueue) -> Result<()> {
        let redis = Redis { inner, local: Arc::new(Mutex::new(Local::default())) };
        let conn = redis.connect("pubsub").await?;
        let commands = queue.lock().resubscribe_commands();
        conn.attach_pubsub(queue);
        // Pinned before the subscriptions are confirmed: messages flow as
        // soon as the first one is, and a caller who read one (and then
        // unsubscribes, say) must find the connection it came on.
        {
            let mut pinned = Pinned::new(conn.clone(), None);
            pinned.subscribed = true;
            let old = handle.lock().unwrap_or_else(|p| p.into_inner()).pinned.replace(pinned);
            if let Some(old) = old {
                old.conn.detach_pubsub();
                old.conn.close(Error::Closed("connection"));
            }
        }
        let subscribed = async {
            for (cmd, n) in &commands {
                let replies =
                    await_batch(conn.send_expecting(cmd, *n)?, Some(redis.inner.config.connect_timeout())).await?;
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
    fn has_live_pubsub_connection(handle: &Mutex<Local>) -> bool {
        let local = handle.lock().unwrap_or_else(|p| p.into_inner());
        local.pinned.as_ref().is_some_and(|p| p.subscribed && !p.conn.is_closed())
    }

    /// Sends a (un)subscribe command on this handle's pub/sub connection
    /// (pinning one first) and returns the server's confirmations.
    pub(super) async fn request_pubsub(
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
            .map(|p| (p.conn.clone(), p.in_multi.is_some() || p.watching, p.replies_on()));
        let conn = match existing {
            Some((_, true, _)) => {
                return Err(Error::Usage(
                    "a transaction or WATCH is open on this handle: finish it before subscribing".into(),
                ))
            }
            Some((_, _, false)) => {
                return Err(Error::Usage(
                    "replies are off on this handle (CLIENT REPLY OFF or SKIP): turn them on before subscribing".into(),
                ))
            }
            Some((conn, false, true)) => conn,
            None if !subscribe => {
                // Nothing to unsubscribe from: the server would just confirm.
                return Ok(Value::Array(Vec::new()));
            }
            None => {
                let conn = self.side_connection().await?;
                self.local().pinned = Some(Pinned::new(conn.clone(), None));
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
        // Counted from the words sent (`execute_cmd("SUBSCRIBE a", ["b"])`
        // subscribes to two channels), after the command's own name.
        let channels = args.len().saturating_sub(opts.info.map_or(1, |i| i.words as usize));
        let expect = match (channels, subscribe) {
            (0, false) => queue.lock().unsubscribe_all_replies(family),
            (0, true) => 1, // an arity error
            (n, _) => n,
        };
        let rx = conn.send_expecting(args, expect)?;
        let replies = await_batch(rx, opts.timeout.or(self.inner.config.read_timeout)).await;
        let tracking = self.local().pinned.as_ref().is_some_and(|p| p.conn.same(&conn) && p.tracking);
        if queue.lock().subscriptions() == 0 {
            // The last subscription ended: the connection is an ordinary one
            // again (still taking invalidations, if tracking).
            if !tracking {
                conn.detach_pubsub();
            }
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
}

/// A `Redis` handle is a stream of its pub/sub messages, as the instance
/// is an async iterator in siderpy; see [`PubSubQueue`].
/// The task behind [`RedisBuilder::resubscribe`](super::RedisBuilder::resubscribe):
/// waits for the subscribed connection to fail, then reconnects and
/// subscribes again. Ends with the handle, or when the queue closes.
async fn resubscriber(
    inner: Weak<Inner>,
    handle: Weak<Mutex<Local>>,
    queue: PubSubQueue,
    interrupted: Arc<tokio::sync::Notify>,
) {
    loop {
        interrupted.notified().await;
        if queue.is_closed() {
            return;
        }
        match handle.upgrade() {
            // A connection that is not (or no longer) the handle's failed:
            // an attempt that did not succeed, say. Nothing to do.
            Some(h) if Redis::has_live_pubsub_connection(&h) => continue,
            Some(_) => {}
            None => return,
        }
        let mut pause = std::time::Duration::from_millis(50);
        let mut attempt = 0;
        loop {
            let (Some(inner), Some(handle)) = (inner.upgrade(), handle.upgrade()) else { return };
            attempt += 1;
            match Redis::resubscribe_with(inner, &handle, &queue).await {
                Ok(()) => {
                    tracing::info!(attempt, "pub/sub connection re-established and re-subscribed");
                    break;
                }
                Err(e) if attempt >= RESUBSCRIBE_ATTEMPTS => {
                    tracing::warn!(attempt, error = %e, "giving up re-subscribing");
                    queue.lock().force_close(Some(e));
                    return;
                }
                Err(e) => {
                    tracing::warn!(attempt, error = %e, "re-subscribing failed; retrying");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(std::time::Duration::from_secs(1));
                }
            }
        }
    }
}
