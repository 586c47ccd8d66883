//! Opening a connection: socket, TLS, then the handshake, within the
//! connect timeout.

use std::sync::atomic::Ordering;

use crate::connection::{transport, Connection};
use crate::error::{Error, Result, Timeout};
use crate::info::ConnectionInfo;

use super::handshake::handshake;
use super::Redis;
use crate::trace as tracing;

impl Redis {
    /// Opens a new connection and runs the handshake; `purpose` is for logs.
    pub(super) async fn connect(&self, purpose: &'static str) -> Result<Connection> {
        self.connect_as(purpose, &self.inner.config.info).await
    }

    /// Opens a new connection whose handshake sets up `info` (a dedicated
    /// handle's settings, as its own commands changed them).
    pub(super) async fn connect_as(&self, purpose: &'static str, info: &ConnectionInfo) -> Result<Connection> {
        let config = &self.inner.config;
        let id = self.inner.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let open = async {
            let transport = transport::connect(info, config.tls.as_ref()).await?;
            let conn = Connection::start(transport, config.limits, config.write_timeout, id);
            handshake(&conn, info, config.readonly).await.inspect_err(|_| conn.close(Error::Closed("connection")))?;
            Ok(conn)
        };
        let result = match config.connect_timeout {
            Some(limit) => tokio::time::timeout(limit, open).await.unwrap_or(Err(Error::Timeout(Timeout::Connect))),
            None => open.await,
        };
        match &result {
            Ok(_) => tracing::debug!(connection = id, purpose, server = %config.info, "connected"),
            Err(e) => tracing::warn!(connection = id, purpose, server = %config.info, error = %e, "connect failed"),
        }
        result
    }
}
