//! [`ClusterPubSub`]: shard channels (`SSUBSCRIBE`) across a cluster, each
//! subscribed on the node serving its slot, and followed when it moves.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, Weak};

use bytes::Bytes;

use crate::args::{Args, CmdArgs};
use crate::client::Redis;
use crate::command::CallOptions;
use crate::error::{Error, Result};
use crate::pubsub::{Message, PubSubQueue};

use super::{key_slot, redirect, NodeAddr, Redirect, RedisCluster};
use crate::trace as tracing;

/// A subscriber to shard channels across a cluster: made by
/// [`RedisCluster::pubsub`].
///
/// Each shard channel is subscribed (`SSUBSCRIBE`) on the primary serving
/// its slot; ordinary channels and patterns (`SUBSCRIBE`, `PSUBSCRIBE`),
/// which the cluster passes to every node, on one node. Messages from every
/// node arrive in one [`PubSubQueue`]. When a
/// slot moves to another node, the server drops its channels' subscriptions
/// and this subscriber subscribes them again where the slot went, by
/// itself. When a node's connection fails (a primary lost, and its replica
/// promoted), its channels are subscribed again on whichever node serves
/// them once the cluster has healed, retrying for a while
/// ([`RESUBSCRIBE_ATTEMPTS`](crate::RESUBSCRIBE_ATTEMPTS) times); messages
/// published in between are lost (Redis keeps none). Only when that fails
/// does the queue close, with the cause.
///
/// ```no_run
/// # extern crate siderpy_core as siderpy;
/// # async fn f(cluster: siderpy::cluster::RedisCluster) -> siderpy::Result<()> {
/// let subscriber = cluster.pubsub();
/// subscriber.ssubscribe(["orders:{eu}", "orders:{us}"]).await?;
/// let message = subscriber.recv().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ClusterPubSub {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    cluster: RedisCluster,
    queue: PubSubQueue,
    /// Per node, the handle whose connection holds this subscriber's
    /// channels there (shared, not cloned: a clone of a handle has its own
    /// pub/sub state).
    handles: Mutex<HashMap<NodeAddr, Arc<Redis>>>,
    /// The node holding the ordinary channels and patterns, once chosen.
    classic: Mutex<Option<NodeAddr>>,
    /// Which shard channels are subscribed on which node, to subscribe them
    /// again elsewhere when that node's connection fails.
    placed: Mutex<HashMap<NodeAddr, HashSet<Bytes>>>,
}

impl ClusterPubSub {
    pub(super) fn new(cluster: RedisCluster) -> Self {
        let queue = PubSubQueue::new(cluster.inner.client.queue_bound());
        let moves = queue.follow_moved_shards();
        let failures = queue.watch_interruptions();
        let shared = Arc::new(Shared {
            cluster,
            queue,
            handles: Mutex::new(HashMap::new()),
            classic: Mutex::new(None),
            placed: Mutex::new(HashMap::new()),
        });
        tokio::spawn(follow(Arc::downgrade(&shared), moves, failures));
        ClusterPubSub { shared }
    }

    /// Subscribes to shard `channels`, each on the node serving its slot.
    ///
    /// # Errors
    /// A node refused (the error of the first that did), or could not be
    /// reached.
    pub async fn ssubscribe<A: Args>(&self, channels: A) -> Result<()> {
        self.shared.send("SSUBSCRIBE", channel_list(channels)).await
    }

    /// Unsubscribes from shard `channels`.
    ///
    /// # Errors
    /// As [`ssubscribe`](Self::ssubscribe).
    pub async fn sunsubscribe<A: Args>(&self, channels: A) -> Result<()> {
        self.shared.send("SUNSUBSCRIBE", channel_list(channels)).await
    }

    /// Subscribes to ordinary `channels`. A cluster passes what is
    /// published to them to every node, so one node serves them all.
    ///
    /// # Errors
    /// The node refused, or could not be reached.
    pub async fn subscribe<A: Args>(&self, channels: A) -> Result<()> {
        self.shared.send_to_one("SUBSCRIBE", channel_list(channels)).await
    }

    /// Subscribes to channels matching `patterns`, as
    /// [`subscribe`](Self::subscribe) does.
    ///
    /// # Errors
    /// As [`subscribe`](Self::subscribe).
    pub async fn psubscribe<A: Args>(&self, patterns: A) -> Result<()> {
        self.shared.send_to_one("PSUBSCRIBE", channel_list(patterns)).await
    }

    /// Unsubscribes from ordinary `channels` (all of them when empty).
    ///
    /// # Errors
    /// As [`subscribe`](Self::subscribe).
    pub async fn unsubscribe<A: Args>(&self, channels: A) -> Result<()> {
        self.shared.send_to_one("UNSUBSCRIBE", channel_list(channels)).await
    }

    /// Unsubscribes from `patterns` (all of them when empty).
    ///
    /// # Errors
    /// As [`subscribe`](Self::subscribe).
    pub async fn punsubscribe<A: Args>(&self, patterns: A) -> Result<()> {
        self.shared.send_to_one("PUNSUBSCRIBE", channel_list(patterns)).await
    }

    /// Waits for the next message from any node.
    ///
    /// # Errors
    /// [`Error::QueueClosed`] as for [`PubSubQueue::recv`].
    pub async fn recv(&self) -> Result<Message> {
        self.shared.queue.recv().await
    }

    /// The queue messages arrive in (also a `Stream`).
    pub fn queue(&self) -> PubSubQueue {
        self.shared.queue.clone()
    }
}

impl Shared {
    /// Sends an ordinary (un)subscribe to the node that holds this
    /// subscriber's ordinary channels: the first one it used, or a primary.
    /// A node that cannot be reached is handled as for any command: the
    /// layout is read again and another primary tried, within
    /// `max_attempts`.
    async fn send_to_one(&self, command: &str, channels: Vec<Bytes>) -> Result<()> {
        let mut args = CmdArgs::with_name(command);
        args.multiple(1, None, &channels);
        let opts = CallOptions { info: crate::commands::command_info(command), timeout: None, cached: false };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let seen = self.cluster.epoch();
            let existing = self.classic.lock().unwrap_or_else(|p| p.into_inner()).clone();
            let addr = match existing {
                Some(addr) => addr,
                None => {
                    let addr = self.cluster.any_primary_addr().await?;
                    self.classic.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(addr).clone()
                }
            };
            let error = match self.handle(&addr).request(&args, opts).await {
                Ok(_) => return Ok(()),
                Err(Error::Redis(e)) => return Err(Error::Redis(e)),
                Err(e) => e,
            };
            if attempt >= self.cluster.inner.settings.max_attempts {
                return Err(error);
            }
            let holds_nothing = {
                let q = self.queue.lock();
                q.channels.is_empty() && q.patterns.is_empty()
            };
            if holds_nothing {
                // Nothing of this subscriber's lives there: pick a primary
                // of the fresh layout next time. (Channels that did are
                // moved by `recover`, which needs to know where they were.)
                self.classic.lock().unwrap_or_else(|p| p.into_inner()).take_if(|a| *a == addr);
            }
            tracing::debug!(node = %addr, error = %error, "pub/sub node unreachable; refreshing the topology");
            let _ = self.cluster.refresh(seen).await;
            tokio::time::sleep(super::FIRST_BACKOFF).await;
        }
    }

    /// Sends `command` for `channels`, one command per slot, each to the
    /// primary serving it, following redirections.
    async fn send(&self, command: &str, channels: Vec<Bytes>) -> Result<()> {
        let mut by_slot: Vec<(u16, Vec<Bytes>)> = Vec::new();
        for ch in channels {
            let slot = key_slot(&ch);
            match by_slot.iter_mut().find(|(s, _)| *s == slot) {
                Some((_, list)) => list.push(ch),
                None => by_slot.push((slot, vec![ch])),
            }
        }
        let opts = CallOptions { info: crate::commands::command_info(command), timeout: None, cached: false };
        for (slot, list) in by_slot {
            let mut args = CmdArgs::with_name(command);
            args.multiple(1, None, &list);
            let mut attempt = 0;
            loop {
                attempt += 1;
                let seen = self.cluster.epoch();
                let addr = self.cluster.node_addr_for(slot, false).await?;
                let handle = self.handle(&addr);
                let error = match handle.request(&args, opts).await {
                    Ok(_) => {
                        self.place(&addr, &list, command == "SSUBSCRIBE");
                        break;
                    }
                    Err(Error::Redis(e)) => match redirect(&e, &addr.host) {
                        Some(Redirect::Moved { slot, to }) => {
                            self.cluster.note_moved(slot, &to);
                            Error::Redis(e)
                        }
                        Some(_) => Error::Redis(e),
                        None => return Err(Error::Redis(e)),
                    },
                    Err(e) => {
                        let _ = self.cluster.refresh(seen).await;
                        e
                    }
                };
                if attempt >= self.cluster.inner.settings.max_attempts {
                    return Err(error);
                }
                tokio::time::sleep(super::FIRST_BACKOFF).await;
            }
        }
        Ok(())
    }

    /// Records that `channels` are now subscribed on `addr` (or on no node).
    fn place(&self, addr: &NodeAddr, channels: &[Bytes], subscribed: bool) {
        let mut placed = self.placed.lock().unwrap_or_else(|p| p.into_inner());
        for set in placed.values_mut() {
            for ch in channels {
                set.remove(ch);
            }
        }
        if subscribed {
            placed.entry(addr.clone()).or_default().extend(channels.iter().cloned());
        }
    }

    /// After a node's pub/sub connection failed: forgets its handle, waits
    /// for the cluster to serve its channels elsewhere and subscribes them
    /// there.
    async fn recover(&self) -> Result<()> {
        let dead: Vec<NodeAddr> = {
            let mut handles = self.handles.lock().unwrap_or_else(|p| p.into_inner());
            let dead = handles.iter().filter(|(_, h)| !h.has_live_pubsub()).map(|(a, _)| a.clone()).collect();
            handles.retain(|_, h| h.has_live_pubsub());
            dead
        };
        let mut shards = Vec::new();
        let mut classic = false;
        for addr in &dead {
            shards.extend(self.placed.lock().unwrap_or_else(|p| p.into_inner()).remove(addr).into_iter().flatten());
            let mut chosen = self.classic.lock().unwrap_or_else(|p| p.into_inner());
            if chosen.as_ref() == Some(addr) {
                *chosen = None;
                classic = true;
            }
        }
        let (channels, patterns) = {
            let q = self.queue.lock();
            (q.channels.iter().cloned().collect::<Vec<_>>(), q.patterns.iter().cloned().collect::<Vec<_>>())
        };
        let mut pause = super::FIRST_BACKOFF * 4;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let _ = self.cluster.refresh_topology().await;
            let mut result = self.send("SSUBSCRIBE", shards.clone()).await;
            if classic && result.is_ok() && !channels.is_empty() {
                result = self.send_to_one("SUBSCRIBE", channels.clone()).await;
            }
            if classic && result.is_ok() && !patterns.is_empty() {
                result = self.send_to_one("PSUBSCRIBE", patterns.clone()).await;
            }
            match result {
                Ok(()) => return Ok(()),
                Err(e) if attempt >= crate::pubsub::RESUBSCRIBE_ATTEMPTS => return Err(e),
                Err(e) => {
                    tracing::debug!(attempt, error = %e, "re-subscribing after a node failed; retrying");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(std::time::Duration::from_secs(1));
                }
            }
        }
    }

    /// The handle subscribed on the node at `addr`, made on first use: a
    /// connection of its own there, delivering to this subscriber's queue.
    fn handle(&self, addr: &NodeAddr) -> Arc<Redis> {
        let mut handles = self.handles.lock().unwrap_or_else(|p| p.into_inner());
        let handle = handles
            .entry(addr.clone())
            .or_insert_with(|| Arc::new(self.cluster.node(addr).with_pubsub_queue(self.queue.clone())));
        Arc::clone(handle)
    }
}

/// Keeps the subscriptions where the cluster serves them: subscribes
/// again, where their slot went, to the shard channels the servers dropped,
/// and to the channels of a node whose connection failed. Ends with the
/// subscriber.
async fn follow(shared: Weak<Shared>, moves: Arc<tokio::sync::Notify>, failures: Arc<tokio::sync::Notify>) {
    loop {
        let failed = tokio::select! {
            () = moves.notified() => false,
            () = failures.notified() => true,
        };
        let Some(shared) = shared.upgrade() else { return };
        let result = if failed {
            tracing::debug!("a node's pub/sub connection failed; subscribing its channels again");
            shared.recover().await
        } else {
            let moved = shared.queue.lock().take_moved_shards();
            if moved.is_empty() {
                continue;
            }
            tracing::debug!(channels = moved.len(), "shard channels moved; subscribing where their slots went");
            let _ = shared.cluster.refresh_topology().await;
            shared.send("SSUBSCRIBE", moved).await
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not keep the cluster subscriptions");
            shared.queue.lock().force_close(Some(e));
            return;
        }
    }
}

/// The encoded channel names of `channels`.
fn channel_list<A: Args>(channels: A) -> Vec<Bytes> {
    let mut args = CmdArgs::default();
    channels.push_to(&mut args);
    args.words().into_iter().map(Bytes::copy_from_slice).collect()
}
