//! Opening a connection: socket, TLS, then the handshake, within the
//! connect timeout.

use std::sync::atomic::Ordering;

use crate::connection::{transport, Connection, Liveness};
use crate::error::{Error, Result, Timeout};
use crate::info::ConnectionInfo;

use super::handshake::handshake;
use super::locate::check_role;
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
    /// handle's settings, as its own commands changed them). A client with
    /// a locator (Sentinel) connects where it says, and checks the role.
    pub(super) async fn connect_as(&self, purpose: &'static str, info: &ConnectionInfo) -> Result<Connection> {
        let config = &self.inner.config;
        self.check_reconnect()?;
        let id = self.inner.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let deadline = tokio::time::Instant::now() + config.connect_timeout();
        let locator = config.locator.as_ref().map(|l| &*l.0);
        let mut located = None;
        let result: Result<Connection> = async {
            let located_info;
            let info = match locator {
                Some(locator) => {
                    let addr = tokio::time::timeout_at(deadline, locator.locate())
                        .await
                        .unwrap_or(Err(Error::Timeout(Timeout::Connect)))?;
                    located = Some(addr.clone());
                    located_info = ConnectionInfo { addr, ..info.clone() };
                    &located_info
                }
                None => info,
            };
            let transport = transport::connect(info, config.tls.as_ref(), &config.tcp, deadline).await?;
            let liveness = if purpose == "shared" { config.liveness } else { Liveness::default() };
            let conn = Connection::start(transport, config.limits, config.write_timeout, liveness, id);
            let setup = async {
                handshake(&conn, info, config.readonly).await?;
                match locator {
                    Some(locator) => check_role(&conn, &info.addr, locator.role()).await,
                    None => Ok(()),
                }
            };
            tokio::time::timeout_at(deadline, setup)
                .await
                .unwrap_or(Err(Error::Timeout(Timeout::Connect)))
                .inspect_err(|_| conn.close(Error::Closed("connection")))?;
            if let Some(locator) = locator {
                locator.opened(&info.addr, conn.downgrade());
            }
            Ok(conn)
        }
        .await;
        if let (Some(locator), Err(e)) = (locator, &result) {
            // Unreachable, or not in its role: the sentinels are asked again.
            if e.is_connection_error() || e.is_timeout() {
                locator.stale(located.as_ref());
            }
        }
        self.inner.reconnect.record(&result);
        let server = located.map_or_else(|| config.info.to_string(), |addr| addr.to_string());
        match &result {
            Ok(_) => tracing::debug!(connection = id, purpose, server = %server, "connected"),
            Err(e) => tracing::warn!(connection = id, purpose, server = %server, error = %e, "connect failed"),
        }
        result
    }
}
