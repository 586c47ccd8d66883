//! Opening a connection: socket, TLS, then the handshake, within the
//! connect timeout.

use std::sync::atomic::Ordering;

use crate::connection::{transport, Connection, Liveness};
use crate::error::{Error, Result, Timeout};
use crate::info::ConnectionInfo;

use super::handshake::handshake;
use super::Redis;
use crate::trace as tracing;

impl Redis {
    /// Opens a new connection and runs the handshake; `purpose` is for logs
    /// (and the shared connection alone gets the liveness checks). Fails at once
    /// while the server is known to be down and the next attempt is not due.
    pub(super) async fn connect(&self, purpose: &'static str) -> Result<Connection> {
        self.connect_as(purpose, &self.inner.config.info).await
    }

    /// Opens a new connection whose handshake sets up `info` (a dedicated
    /// handle's settings, as its own commands changed them).
    pub(super) async fn connect_as(&self, purpose: &'static str, info: &ConnectionInfo) -> Result<Connection> {
        let config = &self.inner.config;
        self.inner.reconnect.check()?;
        let id = self.inner.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let deadline = tokio::time::Instant::now() + config.connect_timeout();
        let result = async {
            let transport = transport::connect(info, config.tls.as_ref(), &config.tcp, deadline).await?;
            let liveness = if purpose == "shared" { config.liveness } else { Liveness::default() };
            let conn = Connection::start(transport, config.limits, config.write_timeout, liveness, id);
            let setup = async {
                handshake(&conn, info, config.readonly).await?;
                if purpose == "shared" {
                    self.track(&conn, info).await?;
                }
                Ok(())
            };
            tokio::time::timeout_at(deadline, setup)
                .await
                .unwrap_or(Err(Error::Timeout(Timeout::Connect)))
                .inspect_err(|_| conn.close(Error::Closed("connection")))?;
            Ok(conn)
        }
        .await;
        self.inner.reconnect.record(&result);
        match &result {
            Ok(_) => tracing::debug!(connection = id, purpose, server = %config.info, "connected"),
            Err(e) => tracing::warn!(connection = id, purpose, server = %config.info, error = %e, "connect failed"),
        }
        result
    }
}
