//! Connections pinned to one handle: for a transaction or a WATCH (on a
//! shared connection, other tasks' commands would land inside it), or for
//! good ([`Redis::dedicated`]).

use std::sync::{Arc, Mutex};

use crate::args::Outgoing;
use crate::command::{CallOptions, Effect};
use crate::connection::{await_reply, Connection};
use crate::error::{Error, Result, Timeout};
use crate::info::Protocol;
use crate::value::Value;

use super::session::{Replies, Session};
use super::{Local, Redis};
use crate::trace as tracing;

pub(super) struct Pinned {
    pub(super) conn: Connection,
    /// Pinned for good ([`Redis::dedicated`]), not just for one
    /// transaction: what the handle's commands set on the connection,
    /// shared with its clones.
    pub(super) session: Option<Arc<Mutex<Session>>>,
    /// `MULTI` is open: how many commands were queued since.
    pub(super) in_multi: Option<usize>,
    pub(super) watching: bool,
    /// Pinned for pub/sub: subscribed, or subscribing.
    pub(super) subscribed: bool,
    /// `CLIENT TRACKING` was turned on: the handle's queue stays attached
    /// for its invalidations, subscribed or not.
    pub(super) tracking: bool,
}

impl Pinned {
    pub(super) fn new(conn: Connection, session: Option<Arc<Mutex<Session>>>) -> Self {
        Pinned { conn, session, in_multi: None, watching: false, subscribed: false, tracking: false }
    }

    pub(super) fn dedicated(&self) -> bool {
        self.session.is_some()
    }

    /// Whether nothing keeps this handle on the connection any more.
    pub(super) fn released(&self) -> bool {
        !self.dedicated() && self.in_multi.is_none() && !self.watching && !self.subscribed
    }

    /// Whether the server answers commands on it now (`CLIENT REPLY`).
    pub(super) fn replies_on(&self) -> bool {
        self.session.as_ref().is_none_or(|s| lock(s).replies == Replies::On)
    }
}

impl Redis {
    /// The db a dedicated handle's commands run in (what it `SELECT`ed);
    /// `None` on any other handle.
    pub(super) fn dedicated_db(&self) -> Option<i64> {
        let local = self.local();
        local.pinned.as_ref()?.session.as_ref().map(|s| lock(s).info.db)
    }
}

fn lock(session: &Mutex<Session>) -> std::sync::MutexGuard<'_, Session> {
    session.lock().unwrap_or_else(|p| p.into_inner())
}

/// Why a command that changes its connection is refused on a handle that
/// is not [`dedicated`](Redis::dedicated), and what to use instead: its
/// connection is shared by every clone of the client (or, pinned for a
/// transaction, goes back to the client's spare connections), and a
/// reconnect would silently undo the change.
pub(super) fn refusal(effect: Effect, name: &str) -> Error {
    let tool = match effect {
        Effect::Select => "set the db with the builder's db() (or the URL), or use a dedicated() handle",
        Effect::Auth | Effect::Hello => {
            "set auth() / protocol() on the builder (or in the URL), or use a dedicated() handle"
        }
        Effect::SetName => "set client_name() on the builder (or in the URL), or use a dedicated() handle",
        Effect::Monitor => "use Redis::monitor()",
        Effect::Quit => "use close()",
        _ => "use a dedicated() handle",
    };
    Error::Usage(format!(
        "{name} would change the state of a connection this handle shares with others \
         (and a reconnect would silently undo it): {tool}"
    ))
}

impl Redis {
    /// Opens a connection that only this handle (and its clones) will use,
    /// for work that needs connection state across several commands:
    /// `WATCH` ... `MULTI`/`EXEC` spread over several awaits, `CLIENT`
    /// settings. The connection is closed when the last handle to it is
    /// dropped.
    ///
    /// The commands that change a connection's state, refused on a shared
    /// handle, run here (see [`Effect`](crate::Effect)). `SELECT`, `AUTH`,
    /// `HELLO`, `CLIENT SETNAME` and `RESET` change what this handle
    /// reconnects with, so a reconnect restores the state they set.
    /// While `CLIENT REPLY OFF` (or `SKIP`, for one command) has the server
    /// stay silent, commands return [`Value::Nil`] once written, without
    /// waiting (pipelines and subscribing are refused then). While a
    /// `MULTI` is open, a command awaited here returns
    /// [`Error::Queued`] with its place in the transaction: `EXEC` returns
    /// the results.
    ///
    /// # Errors
    /// Connecting failed.
    pub async fn dedicated(&self) -> Result<Redis> {
        let conn = self.connect("dedicated").await?;
        let session = Session::new(self.inner.config.info.clone());
        let pinned = Pinned::new(conn, Some(Arc::new(Mutex::new(session))));
        Ok(Redis {
            inner: Arc::clone(&self.inner),
            local: Arc::new(Mutex::new(Local { pinned: Some(pinned), ..Local::default() })),
        })
    }

    /// Whether this handle is [`dedicated`](Redis::dedicated).
    pub(super) fn is_dedicated(&self) -> bool {
        self.local().pinned.as_ref().is_some_and(Pinned::dedicated)
    }

    /// Closes the connection this handle pinned for an open transaction,
    /// WATCH or subscription, if any: dropping the handle alone would leave
    /// that socket open, with the server still holding that state. For
    /// pools, which drop dirty clients.
    pub(crate) fn close_pinned(&self) {
        let pinned = self.local().pinned.take_if(|p| !p.dedicated());
        if let Some(p) = pinned {
            tracing::debug!(connection = p.conn.id, "closing the pinned connection of a dropped client");
            p.conn.close(Error::Closed("connection"));
        }
    }

    /// The connection this handle is pinned to, pinning one first when the
    /// command opens a transaction or a WATCH: on a shared connection, other
    /// tasks' commands would land inside it.
    pub(super) async fn pinned_for(&self, effect: Effect, name: Option<&str>) -> Result<Option<Connection>> {
        let dead_dedicated = {
            let mut local = self.local();
            match &local.pinned {
                Some(p) if !p.conn.is_closed() => {
                    // RESP2 keeps a subscribed connection for pub/sub alone:
                    // other commands take the shared path.
                    // (A dedicated handle speaks what its own HELLO or RESET chose.)
                    let protocol =
                        p.session.as_ref().map_or(self.inner.config.info.protocol, |s| lock(s).info.protocol);
                    let resp2_subscribed = p.subscribed && protocol == Protocol::Resp2;
                    let allowed = name == Some("PING") || matches!(effect, Effect::Quit | Effect::Reset);
                    if resp2_subscribed && !allowed {
                        return Ok(None);
                    }
                    return Ok(Some(p.conn.clone()));
                }
                // A transaction or WATCH died with it: what is meant for it
                // must not run elsewhere, outside it. Sent there, each
                // command fails with what closed it, until EXEC, DISCARD,
                // RESET (or UNWATCH) ends it.
                Some(p) if p.in_multi.is_some() || p.watching => return Ok(Some(p.conn.clone())),
                // Whatever else was open on it died with it.
                Some(_) => local.pinned.take().and_then(|p| p.session),
                None => None,
            }
        };
        if dead_dedicated.is_none() && !matches!(effect, Effect::Multi | Effect::Watch) {
            return Ok(None);
        }
        let conn = match &dead_dedicated {
            Some(session) => {
                // A new connection: it answers every command, and runs with
                // the settings the handle's commands gave the old one.
                let info = {
                    let mut session = lock(session);
                    session.replies = Replies::On;
                    session.info.clone()
                };
                self.connect_as("dedicated", &info).await?
            }
            None => self.side_connection().await?,
        };
        let mut local = self.local();
        let pinned = local.pinned.get_or_insert(Pinned::new(conn, dead_dedicated));
        Ok(Some(pinned.conn.clone()))
    }

    pub(super) async fn request_pinned(
        &self,
        conn: Connection,
        args: Outgoing<'_>,
        opts: CallOptions,
        effect: Effect,
    ) -> Result<Value> {
        let limit = opts.timeout.or(self.inner.config.read_timeout);
        let (session, queued_at) = {
            let local = self.local();
            let pinned = local.pinned.as_ref().filter(|p| p.conn.same(&conn));
            (pinned.and_then(|p| p.session.clone()), pinned.and_then(|p| p.in_multi))
        };
        let name = || opts.name().unwrap_or("the command");
        let change = match &session {
            Some(_) if queued_at.is_some() && !effect.is_none() && !effect.is_transaction() => {
                return Err(Error::Usage(format!(
                    "{} inside MULTI would change the connection at EXEC, out of step with this handle: \
                     send it before MULTI or after EXEC",
                    name()
                )))
            }
            Some(session) => lock(session).change(effect, &args)?,
            None => None,
        };
        // Sent with the session locked, so that clones agree on which
        // command the server leaves unanswered.
        let sent = match &session {
            Some(session) => {
                let mut session = lock(session);
                if session.answered(change.as_ref()) {
                    conn.send(&args).map(Some)
                } else {
                    conn.send_unanswered(&args).map(|()| None)
                }
            }
            None => conn.send(&args).map(Some),
        };
        drop(args);
        let reply = match sent {
            Ok(Some(rx)) => await_reply(rx, limit).await,
            // The server stays silent (`CLIENT REPLY`): nothing to wait for.
            Ok(None) => Ok(Value::Nil),
            Err(e) => Err(e),
        };
        if let (Ok(_), Some(session), Some(change)) = (&reply, &session, change) {
            lock(session).apply(change);
        }
        let mut local = self.local();
        let Some(pinned) = local.pinned.as_mut().filter(|p| p.conn.same(&conn)) else { return reply };
        if matches!(reply, Err(Error::Timeout(_))) && !pinned.dedicated() {
            // Its reply would be out of step with what the next caller of the
            // side connection expects.
            conn.close(Error::Timeout(Timeout::Read));
        }
        if conn.is_closed() {
            // The transaction or WATCH died with the connection; it is over
            // once the caller ends it (see `pinned_for`).
            let ends = matches!(effect, Effect::EndTransaction | Effect::Reset)
                || (effect == Effect::Unwatch && pinned.in_multi.is_none());
            if ends {
                pinned.in_multi = None;
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
        let reply = match reply {
            Ok(_) => {
                match effect {
                    Effect::Multi => pinned.in_multi = Some(0),
                    Effect::Watch => pinned.watching = true,
                    Effect::Unwatch => pinned.watching = false,
                    Effect::EndTransaction | Effect::Reset => {
                        pinned.in_multi = None;
                        pinned.watching = false;
                    }
                    _ => {}
                }
                match (queued_at, &mut pinned.in_multi) {
                    // Queued, not run: a typed result cannot be made of
                    // `QUEUED`, and a caller reading it as a failure would
                    // queue the command again.
                    (Some(index), Some(count)) if !effect.is_transaction() => {
                        *count = index + 1;
                        Err(Error::Queued { index })
                    }
                    _ => reply,
                }
            }
            Err(e) => {
                if effect == Effect::EndTransaction {
                    // EXECABORT also ends the transaction.
                    pinned.in_multi = None;
                    pinned.watching = false;
                }
                Err(e)
            }
        };
        if effect == Effect::Tracking && reply.is_ok() {
            // Invalidations (RESP3 pushes) go to this handle's queue.
            pinned.tracking = true;
            drop(local);
            let queue = self.pubsub_queue();
            queue.lock().keep_open();
            conn.attach_pubsub(&queue);
            return reply;
        }
        if pinned.released() {
            let released = local.pinned.take().expect("checked above");
            drop(local);
            self.release_side_connection(released.conn);
        }
        reply
    }
}
