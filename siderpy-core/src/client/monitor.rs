//! `MONITOR` on a connection of its own ([`Redis::monitor`]).

use crate::args::CmdArgs;
use crate::connection::await_reply;
use crate::error::{Error, Result};
use crate::monitor::Monitor;
use crate::pubsub::PubSubQueue;

use super::Redis;

impl Redis {
    /// Opens a connection of its own and sends `MONITOR` on it: the
    /// returned [`Monitor`] is a `Stream` of every command the server runs,
    /// parsed. Its connection closes when it is dropped (or
    /// [closed](Monitor::close)); nothing else ever sends on it.
    ///
    /// Lines wait in a queue bounded like the pub/sub queue
    /// ([`pubsub_queue_maxsize`](super::RedisBuilder::pubsub_queue_maxsize)):
    /// when it is full the socket is left unread until the reader catches up.
    ///
    /// # Errors
    /// Connecting failed, or the server refused `MONITOR` (an ACL user
    /// without the permission, say).
    pub async fn monitor(&self) -> Result<Monitor> {
        let config = &self.inner.config;
        let conn = self.connect("monitor").await?;
        let queue = PubSubQueue::for_monitor(config.pubsub_queue_maxsize);
        conn.attach_pubsub(&queue);
        // The Monitor owns the connection from here: dropped on an error, it closes it.
        let monitor = Monitor::new(conn.clone(), queue);
        let limit = config.connect_timeout.or(config.read_timeout);
        let reply = await_reply(conn.send(&CmdArgs::with_name("MONITOR"))?, limit).await;
        match reply {
            Ok(_) => Ok(monitor),
            Err(e) => {
                monitor.close();
                Err(match e {
                    Error::QueueClosed { cause: Some(cause) } => *cause,
                    e => e,
                })
            }
        }
    }
}
