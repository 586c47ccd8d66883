//! Connections pinned to one handle: for a transaction or a WATCH (on a
//! shared connection, other tasks' commands would land inside it), or for
//! good ([`Redis::dedicated`]).

use std::sync::{Arc, Mutex};

use crate::args::CmdArgs;
use crate::command::CallOptions;
use crate::connection::{await_reply, Connection};
use crate::error::{Error, Result, Timeout};
use crate::info::Protocol;
use crate::value::Value;

use super::{Local, Redis};
use crate::trace as tracing;

pub(super) struct Pinned {
    pub(super) conn: Connection,
    /// Pinned for good, not just for one transaction.
    pub(super) dedicated: bool,
    pub(super) in_multi: bool,
    pub(super) watching: bool,
    /// Pinned for pub/sub: subscribed, or subscribing.
    pub(super) subscribed: bool,
}

impl Pinned {
    pub(super) fn new(conn: Connection, dedicated: bool) -> Self {
        Pinned { conn, dedicated, in_multi: false, watching: false, subscribed: false }
    }

    /// Whether nothing keeps this handle on the connection any more.
    pub(super) fn released(&self) -> bool {
        !self.dedicated && !self.in_multi && !self.watching && !self.subscribed
    }
}

impl Redis {
    /// Opens a connection that only this handle (and its clones) will use,
    /// for work that needs connection state across several commands:
    /// `WATCH` ... `MULTI`/`EXEC` spread over several awaits, `CLIENT`
    /// settings, `MONITOR`. The connection is closed when the last handle
    /// to it is dropped.
    ///
    /// # Errors
    /// Connecting failed.
    pub async fn dedicated(&self) -> Result<Redis> {
        let conn = self.connect("dedicated").await?;
        let pinned = Pinned::new(conn, true);
        Ok(Redis {
            inner: Arc::clone(&self.inner),
            local: Arc::new(Mutex::new(Local { pinned: Some(pinned), ..Local::default() })),
        })
    }

    /// Closes the connection this handle pinned for an open transaction,
    /// WATCH or subscription, if any: dropping the handle alone would leave
    /// that socket open, with the server still holding that state. For
    /// pools, which drop dirty clients.
    pub(crate) fn close_pinned(&self) {
        let pinned = self.local().pinned.take_if(|p| !p.dedicated);
        if let Some(p) = pinned {
            tracing::debug!(connection = p.conn.id, "closing the pinned connection of a dropped client");
            p.conn.close(Error::Closed("connection"));
        }
    }

    /// The connection this handle is pinned to, pinning one first when the
    /// command opens a transaction or a WATCH: on a shared connection, other
    /// tasks' commands would land inside it.
    pub(super) async fn pinned_for(&self, name: Option<&str>) -> Result<Option<Connection>> {
        let dead_dedicated = {
            let mut local = self.local();
            match &local.pinned {
                Some(p) if !p.conn.is_closed() => {
                    // RESP2 keeps a subscribed connection for pub/sub alone:
                    // other commands take the shared path.
                    let resp2_subscribed = p.subscribed && self.inner.config.info.protocol == Protocol::Resp2;
                    if resp2_subscribed && !matches!(name, Some("PING" | "QUIT" | "RESET")) {
                        return Ok(None);
                    }
                    return Ok(Some(p.conn.clone()));
                }
                // A transaction or WATCH died with it: what is meant for it
                // must not run elsewhere, outside it. Sent there, each
                // command fails with what closed it, until EXEC, DISCARD,
                // RESET (or UNWATCH) ends it.
                Some(p) if p.in_multi || p.watching => return Ok(Some(p.conn.clone())),
                // Whatever else was open on it died with it.
                Some(p) => {
                    let dedicated = p.dedicated;
                    local.pinned = None;
                    dedicated
                }
                None => false,
            }
        };
        if !dead_dedicated && !matches!(name, Some("MULTI" | "WATCH")) {
            return Ok(None);
        }
        let conn = if dead_dedicated { self.connect("dedicated").await? } else { self.side_connection().await? };
        let mut local = self.local();
        let pinned = local.pinned.get_or_insert(Pinned::new(conn, dead_dedicated));
        Ok(Some(pinned.conn.clone()))
    }

    pub(super) async fn request_pinned(
        &self,
        conn: Connection,
        args: &CmdArgs,
        opts: CallOptions,
        name: Option<&str>,
    ) -> Result<Value> {
        let limit = opts.timeout.or(self.inner.config.read_timeout);
        let reply = match conn.send(args) {
            Ok(rx) => await_reply(rx, limit).await,
            Err(e) => Err(e),
        };
        let mut local = self.local();
        let Some(pinned) = local.pinned.as_mut().filter(|p| p.conn.same(&conn)) else { return reply };
        if matches!(reply, Err(Error::Timeout(_))) && !pinned.dedicated {
            // Its reply would be out of step with what the next caller of the
            // side connection expects.
            conn.close(Error::Timeout(Timeout::Read));
        }
        if conn.is_closed() {
            // The transaction or WATCH died with the connection; it is over
            // once the caller ends it (see `pinned_for`).
            let ends =
                matches!(name, Some("EXEC" | "DISCARD" | "RESET")) || (name == Some("UNWATCH") && !pinned.in_multi);
            if ends {
                pinned.in_multi = false;
                pinned.watching = false;
            }
            if pinned.released() {
                local.pinned = None;
            }
            return reply;
        }
        if matches!(reply, Err(Error::Timeout(_))) {
            return reply;
        }
        if reply.is_ok() {
            match name {
                Some("MULTI") => pinned.in_multi = true,
                Some("WATCH") => pinned.watching = true,
                Some("UNWATCH") => pinned.watching = false,
                Some("EXEC" | "DISCARD" | "RESET") => {
                    pinned.in_multi = false;
                    pinned.watching = false;
                }
                _ => {}
            }
        } else if name == Some("EXEC") {
            // EXECABORT also ends the transaction.
            pinned.in_multi = false;
            pinned.watching = false;
        }
        if pinned.released() {
            let released = local.pinned.take().expect("checked above");
            drop(local);
            self.release_side_connection(released.conn);
        }
        reply
    }
}
