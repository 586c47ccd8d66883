//! The client's side of client-side caching: `CLIENT TRACKING` on every
//! shared connection, and reads through the cache.

use std::sync::Arc;

use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::args::CmdArgs;
use crate::cache::{Cache, CacheMode, CacheStats, Fetch, Lookup};
use crate::command::CallOptions;
use crate::connection::{await_batch, await_reply, Connection, Feed};
use crate::error::{Error, Result};
use crate::info::{ConnectionInfo, Protocol};
use crate::pubsub::INVALIDATE_CHANNEL;
use crate::value::Value;

use super::{within, Redis};

impl Redis {
    /// What the client's cache did so far; `None` without one (see
    /// [`RedisBuilder::cache`](super::RedisBuilder::cache)).
    pub fn cache_stats(&self) -> Option<CacheStats> {
        self.inner.cache.as_ref().map(|c| c.stats())
    }

    #[inline]
    pub(crate) fn cache(&self) -> Option<&Arc<Cache>> {
        self.inner.cache.as_ref()
    }

    /// Turns tracking on for a new shared connection, part of its
    /// handshake: the cache starts afresh, fed by this connection's
    /// invalidations. With RESP2 they come to a subscriber connection
    /// opened here (`REDIRECT`), which `conn` keeps open; should it close,
    /// `conn` is closed too, so that the next command reconnects both.
    pub(super) async fn track(&self, conn: &Connection, info: &ConnectionInfo) -> Result<()> {
        let Some(cache) = self.cache() else { return Ok(()) };
        let mut cmd = CmdArgs::with_name("CLIENT TRACKING");
        cmd.push("ON");
        if info.protocol == Protocol::Resp2 {
            let feed = Box::pin(self.connect_as("invalidations", info)).await?;
            let id = match await_reply(feed.send(&CmdArgs::with_name("CLIENT ID"))?, None).await? {
                Value::Int(id) => id,
                other => {
                    return Err(Error::Handshake {
                        command: "CLIENT ID".into(),
                        reply: crate::connection::quote(&other),
                    })
                }
            };
            feed.attach_feed(Feed {
                cache: Arc::clone(cache),
                tracked: conn.id,
                subscriber: true,
                tracked_conn: Some(conn.downgrade()),
            });
            let mut subscribe = CmdArgs::with_name("SUBSCRIBE");
            subscribe.push(INVALIDATE_CHANNEL);
            let confirmed = await_batch(feed.send_expecting(&subscribe, 1)?, None).await?;
            if let Some(Value::Error(e)) = confirmed.first() {
                return Err(Error::Redis(e.clone()));
            }
            conn.keep(feed);
            cmd.push("REDIRECT");
            cmd.push(id);
        }
        match &cache.config().mode {
            CacheMode::Default => {}
            CacheMode::OptIn => cmd.push("OPTIN"),
            CacheMode::Broadcast { prefixes } => {
                cmd.push("BCAST");
                for prefix in prefixes {
                    cmd.push("PREFIX");
                    cmd.push(prefix.clone());
                }
            }
        }
        conn.attach_feed(Feed { cache: Arc::clone(cache), tracked: conn.id, subscriber: false, tracked_conn: None });
        match await_reply(conn.send(&cmd)?, None).await? {
            Value::Simple(ok) if ok.as_ref() == b"OK" => {}
            other => {
                return Err(Error::Handshake {
                    command: "CLIENT TRACKING".into(),
                    reply: crate::connection::quote(&other),
                })
            }
        }
        cache.go_live(conn.id);
        Ok(())
    }

    /// Looks a command up in `cache`, if it goes to the shared connection
    /// (nothing pinned, no pipeline mode): a transaction's reads, say, must
    /// reach the server.
    pub(crate) fn cache_lookup(&self, cache: &Arc<Cache>, args: &CmdArgs, opts: &CallOptions) -> Lookup {
        if !self.takes_shared_path(args, opts) {
            return Lookup::Pass;
        }
        cache.lookup(args, opts.info, opts.cached)
    }

    /// [`try_send_shared`](Self::try_send_shared) for a read whose reply
    /// `fetch` will keep: after `CLIENT CACHING yes` in `OPTIN` mode.
    pub(crate) fn try_send_fetching(
        &self,
        args: &CmdArgs,
        opts: &CallOptions,
        fetch: &Fetch,
    ) -> Option<(oneshot::Receiver<Result<Value>>, Option<std::time::Duration>)> {
        if !fetch.opt_in() {
            return self.try_send_shared(args, opts);
        }
        let guard = self.inner.conn.lock().unwrap_or_else(|p| p.into_inner());
        let rx = guard.as_ref()?.send_opted_in(args).ok()?;
        Some((rx, opts.timeout.or(self.inner.config.read_timeout)))
    }

    /// Sends a read the cache missed (the general path: connecting
    /// first, say) and keeps its reply if no invalidation came in between.
    pub(crate) async fn request_fetching(&self, args: &CmdArgs, opts: CallOptions, fetch: Fetch) -> Result<Value> {
        let reply = if fetch.opt_in() {
            let limit = opts.timeout.or(self.inner.config.read_timeout);
            let deadline = limit.map(|limit| Instant::now() + limit);
            let left = || deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let conn = within(deadline, self.connection()).await?;
            let rx = match conn.send_opted_in(args) {
                Ok(rx) => rx,
                Err(_) => within(deadline, self.connection()).await?.send_opted_in(args)?,
            };
            self.await_shared(rx, left()).await
        } else {
            self.request_uncached(args, opts).await
        };
        if let Ok(v) = &reply {
            fetch.fill(v);
        }
        reply
    }
}
