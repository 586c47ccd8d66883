//! Side connections: one per blocking call (and per batch holding one),
//! so that `BLPOP key 0` never stalls the shared connection; kept idle
//! between uses, a few at most.

use std::sync::Mutex;

use crate::args::Outgoing;
use crate::command::CallOptions;
use crate::connection::{await_reply, Connection};
use crate::error::{Error, Result, Timeout};
use crate::value::Value;

use super::Redis;
use crate::trace as tracing;

/// Idle side connections kept for blocking commands and transactions; more
/// are opened when needed.
const MAX_IDLE_BLOCKING: usize = 4;

pub(super) fn lock_idle(m: &Mutex<Vec<Connection>>) -> std::sync::MutexGuard<'_, Vec<Connection>> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Redis {
    pub(super) async fn request_blocking(&self, args: Outgoing<'_>, opts: CallOptions) -> Result<Value> {
        let config = &self.inner.config;
        let conn = self.side_connection().await?;
        self.lend(&conn);
        let rx = conn.send(&args)?;
        drop(args);
        // Abandoned before its reply (timed out, or the future dropped), the
        // command keeps the server blocking this connection: close it.
        let guard = CloseOnDrop(Some(conn));
        let limit = opts.timeout.or(if config.timeout_blocking { config.read_timeout } else { None });
        let reply = await_reply(rx, limit).await;
        if matches!(reply, Err(Error::Timeout(_))) {
            return reply; // the guard closes the connection
        }
        self.release_side_connection(guard.disarm());
        reply
    }

    /// A connection for this caller alone: an idle one kept from earlier
    /// use, or a new one.
    pub(super) async fn side_connection(&self) -> Result<Connection> {
        loop {
            let idle = lock_idle(&self.inner.blocking_idle).pop();
            match idle {
                Some(conn) if !conn.is_closed() => return Ok(conn),
                Some(_) => continue,
                None => return self.connect("dedicated").await,
            }
        }
    }

    /// Notes a side connection as lent to a blocking call, for `close()`.
    pub(super) fn lend(&self, conn: &Connection) {
        let mut busy = self.inner.side_busy.lock().unwrap_or_else(|p| p.into_inner());
        // Those whose call ended (and the connection with it) go.
        busy.retain(|w| w.id != conn.id && w.upgrade().is_some_and(|c| !c.is_closed()));
        busy.push(conn.downgrade());
    }

    /// Keeps a side connection for reuse (or closes it when enough are kept).
    pub(super) fn release_side_connection(&self, conn: Connection) {
        if conn.is_closed() {
            return;
        }
        let mut idle = lock_idle(&self.inner.blocking_idle);
        if idle.len() < MAX_IDLE_BLOCKING {
            idle.push(conn);
        } else {
            conn.close(Error::Closed("connection"));
        }
    }
}

/// Closes a connection whose command was abandoned.
pub(super) struct CloseOnDrop(pub(super) Option<Connection>);

impl CloseOnDrop {
    pub(super) fn disarm(mut self) -> Connection {
        self.0.take().expect("armed until disarmed")
    }
}

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            tracing::debug!(connection = conn.id, "blocking command abandoned; closing its connection");
            conn.close(Error::Timeout(Timeout::Read));
        }
    }
}
