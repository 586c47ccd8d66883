//! The shared connection: the one every clone of a client sends its
//! ordinary commands on, opened on first use and again after it fails.

use tokio::sync::oneshot;

use crate::args::CmdArgs;
use crate::connection::Connection;
use crate::error::Result;
use crate::value::Value;

use super::Redis;
use crate::trace as tracing;

impl Redis {
    /// The open connection, connecting first if there is none.
    pub(crate) async fn connection(&self) -> Result<Connection> {
        if let Some(conn) = self.current() {
            return Ok(conn);
        }
        let _guard = self.inner.connecting.lock().await;
        if let Some(conn) = self.current() {
            return Ok(conn);
        }
        let previous = self.inner.conn.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(previous) = previous {
            tracing::info!(previous = previous.id, server = %self.inner.config.info, "reconnecting");
        }
        let conn = self.connect("shared").await?;
        *self.inner.conn.lock().unwrap_or_else(|p| p.into_inner()) = Some(conn.clone());
        Ok(conn)
    }

    fn current(&self) -> Option<Connection> {
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
}
