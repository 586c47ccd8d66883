//! The shared connection: the one every clone of a client sends its
//! ordinary commands on, opened on first use and again after it fails.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::{oneshot, watch};

use crate::args::CmdArgs;
use crate::connection::{await_reply, Connection};
use crate::error::{Error, Result, Timeout};
use crate::value::Value;

use super::Redis;
use crate::trace as tracing;

/// An attempt to open the shared connection, while it runs: whoever needs
/// the connection subscribes to its outcome.
pub(super) type Attempt = Weak<watch::Sender<Option<Result<Connection>>>>;

impl Redis {
    /// The open connection, connecting first if there is none.
    ///
    /// One attempt at a time, on a task of its own: callers arriving while
    /// it runs wait for its outcome rather than start their own, and a
    /// caller giving up (its budget spent, its future dropped) does not cut
    /// it short for the others; once every one of them has, it stops. While
    /// the server is known to be down and the next attempt is not due,
    /// fails at once with [`Error::Unavailable`].
    pub(crate) async fn connection(&self) -> Result<Connection> {
        if let Some(conn) = self.current() {
            return Ok(conn);
        }
        let mut attempt = {
            let mut slot = self.inner.connecting.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(conn) = self.current() {
                return Ok(conn);
            }
            match slot.upgrade().filter(|running| running.borrow().is_none()) {
                Some(running) => running.subscribe(),
                None => {
                    self.check_reconnect()?;
                    let (tx, rx) = watch::channel(None);
                    let tx = Arc::new(tx);
                    *slot = Arc::downgrade(&tx);
                    let redis = Redis { inner: Arc::clone(&self.inner), local: Arc::default() };
                    tokio::spawn(async move {
                        let outcome = tokio::select! {
                            outcome = redis.open_shared() => Some(outcome),
                            // Nobody waits any more: the half-open
                            // connection closes as the attempt is dropped.
                            () = tx.closed() => None,
                        };
                        // Gone before anyone learns the outcome: a pool
                        // taking the client back must not find it shared.
                        drop(redis);
                        if let Some(outcome) = outcome {
                            let _ = tx.send(Some(outcome));
                        }
                    });
                    rx
                }
            }
        };
        let outcome = attempt.wait_for(Option::is_some).await.map_err(|_| Error::Closed("connection"))?;
        outcome.clone().expect("waited until it was set")
    }

    /// Opens the shared connection in place of the previous one.
    async fn open_shared(&self) -> Result<Connection> {
        let previous = self.inner.conn.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(previous) = previous {
            tracing::info!(previous = previous.id, server = %self.inner.config.info, "reconnecting");
        }
        let conn = self.connect("shared").await?;
        *self.inner.conn.lock().unwrap_or_else(|p| p.into_inner()) = Some(conn.clone());
        Ok(conn)
    }

    pub(super) fn current(&self) -> Option<Connection> {
        let guard = self.inner.conn.lock().unwrap_or_else(|p| p.into_inner());
        guard.as_ref().filter(|c| !c.is_closed()).cloned()
    }

    /// Queues a command on the open connection, reconnecting once if it was
    /// found closed (the command was not sent then, so this is safe).
    pub(super) async fn send(&self, args: &CmdArgs) -> Result<(Connection, oneshot::Receiver<Result<Value>>)> {
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

    /// Waits for a reply queued on the shared connection (by
    /// [`try_send_shared`](Self::try_send_shared)) within `limit`.
    pub(crate) async fn await_shared(
        &self,
        rx: oneshot::Receiver<Result<Value>>,
        limit: Option<Duration>,
    ) -> Result<Value> {
        let reply = await_reply(rx, limit).await;
        if let (Err(Error::Timeout(Timeout::Read)), Some(waited)) = (&reply, limit) {
            self.read_timed_out(waited);
        }
        reply
    }

    /// After a wait of `waited` on the shared connection timed out: if
    /// nothing was read on it all that time, retires it, so that the next
    /// command opens a new one (see
    /// [`RedisBuilder::read_timeout`](super::RedisBuilder::read_timeout)).
    /// Only a wait as long as the client's read timeout counts: a call's
    /// own shorter bound says nothing of the connection.
    pub(crate) fn read_timed_out(&self, waited: Duration) {
        if self.inner.config.read_timeout.is_some_and(|limit| waited >= limit) {
            let mut shared = self.inner.conn.lock().unwrap_or_else(|p| p.into_inner());
            if shared.as_ref().is_some_and(|conn| conn.retire_if_silent(waited)) {
                // Still the client's, until its driver ends it.
                let mut retired = self.inner.retired.lock().unwrap_or_else(|p| p.into_inner());
                retired.retain(|conn| !conn.is_closed());
                retired.extend(shared.take());
            }
        }
    }

    /// The client's read timeout, for batches sent on its connection.
    pub(crate) fn read_timeout(&self) -> Option<Duration> {
        self.inner.config.read_timeout
    }
}
