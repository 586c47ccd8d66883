//! Pipelines and transactions on a cluster: split per node, sent
//! concurrently, put back in order.

use bytes::BytesMut;

use crate::args::CmdArgs;
use crate::command::{CallOptions, CommandInfo};
use crate::connection::{await_batch, Frames};
use crate::convert::TextPolicy;
use crate::error::{Error, Result, Timeout};
use crate::pipeline::{send_batch, Batch, BatchFuture, BatchTarget, Pipeline};
use crate::script::{load_missing, Loadable};
use crate::value::Value;

use super::{concurrently, redirect, route, NodeAddr, RedisCluster, Route};
use crate::trace as tracing;

/// One node's share of a pipeline, once handed over.
enum Share {
    /// Queued on the node's shared connection; the replies will come here.
    Queued(tokio::sync::oneshot::Receiver<Result<Vec<Value>>>),
    /// Already sent and answered (a share with a blocking command).
    Done(Result<Vec<Value>>),
    /// The node could not be reached; nothing was sent.
    Unreachable,
}

/// A queued command and what the spec says of it.
type Queued = (CmdArgs, Option<&'static CommandInfo>);

/// How many times a transaction is sent again after the cluster moved its
/// slot before it could run.
const TRANSACTION_ATTEMPTS: usize = 5;

impl RedisCluster {
    /// A new, empty pipeline: its commands are split per node and each
    /// node's share is sent in one batch, all nodes at once; see
    /// [`Pipeline`].
    pub fn pipe(&self) -> Pipeline {
        Pipeline::with_target(Box::new(self.clone()), false)
    }

    /// A new, empty transaction (`MULTI` ... `EXEC` in one batch). Its keys
    /// must all hash to one slot (use a `{hash tag}`): otherwise it fails
    /// with [`Error::CrossSlot`] before anything is sent. Sent again, whole,
    /// if the slot moved before it ran.
    pub fn transaction(&self) -> Pipeline {
        Pipeline::with_target(Box::new(self.clone()), true)
    }

    /// Sends a pipeline's commands, each node's share as one batch, and
    /// returns the replies in the order queued (error replies included).
    /// Each node first loads the `scripts` its share calls.
    async fn pipeline_batch(&self, commands: &[Queued], scripts: &[(usize, Loadable)]) -> Result<Vec<Value>> {
        let topology = self.current_topology().await?;
        // A cluster has few nodes: a list beats hashing addresses.
        let mut by_node: Vec<(&NodeAddr, Vec<usize>)> = Vec::new();
        // Commands that are not for one slot (fan-out, any node) run alone.
        let mut alone = Vec::new();
        for (i, (args, info)) in commands.iter().enumerate() {
            let Route::Slot { slot, read_only } = route(args, *info, false)? else {
                alone.push(i);
                continue;
            };
            let addr = self.pick(&topology, slot, read_only)?;
            match by_node.iter_mut().find(|(a, _)| *a == addr) {
                Some((_, indices)) => indices.push(i),
                None => by_node.push((addr, vec![i])),
            }
        }
        // Every node's share is queued on its connection before any reply
        // is awaited: the nodes work at once, with no task per node.
        let nodes: Vec<_> = by_node.into_iter().map(|(addr, indices)| (self.node(addr), addr, indices)).collect();
        // Each node has its own script cache: the nodes that get a script
        // call load what they lack first, all at once, each in a round trip
        // of its own so that the share's replies stay one per command.
        let mut loaded: Vec<Result<()>> = Vec::new();
        if !scripts.is_empty() {
            loaded = concurrently(nodes.iter().map(|(node, _, indices)| {
                let node = std::sync::Arc::clone(node);
                let needed: Vec<Loadable> =
                    scripts.iter().filter(|(i, _)| indices.contains(i)).map(|(_, s)| s.clone()).collect();
                async move { load_missing(&node, &needed).await }
            }))
            .await;
        }
        // A server refusing a script fails the whole pipeline, before any
        // share is sent.
        if let Some(Err(e)) =
            loaded.iter().position(|l| matches!(l, Err(Error::Redis(_)))).map(|i| loaded.swap_remove(i))
        {
            return Err(e);
        }
        let mut loaded = loaded.into_iter();
        let mut queued = Vec::with_capacity(nodes.len());
        let mut again = alone;
        let mut frames = BytesMut::new();
        for (node, addr, indices) in &nodes {
            if let Some(Err(_)) = loaded.next() {
                // Nothing of the share was sent: retried alone, as for an
                // unreachable node.
                queued.push((addr, node, indices, Share::Unreachable, None));
                continue;
            }
            frames.clear();
            let mut blocking = false;
            for &i in indices {
                let (args, info) = &commands[i];
                args.write_frame(&mut frames);
                blocking |= info.is_some_and(|i| i.blocking);
            }
            // Each node's share is a pipeline of that node's, in its span
            // and to its observer, from when it is queued.
            let mut probe = None;
            let reply = if blocking {
                // On a side connection of its own, as on a single server.
                Share::Done(send_batch(node, &frames, indices.len(), true, false).await)
            } else {
                match node.connection().await {
                    Ok(conn) => match conn.send_frames(Frames { parts: &[&frames], n: indices.len() }) {
                        Ok(rx) => {
                            probe = Some(node.probe_batch("PIPELINE", indices.len()));
                            Share::Queued(rx)
                        }
                        Err(_) => Share::Unreachable,
                    },
                    Err(_) => Share::Unreachable,
                }
            };
            queued.push((addr, node, indices, reply, probe));
        }
        let mut replies: Vec<Option<Value>> = vec![None; commands.len()];
        for (addr, node, indices, batch, probe) in queued {
            let batch = match batch {
                Share::Queued(rx) => {
                    let limit = node.read_timeout();
                    let batch = await_batch(rx, limit).await;
                    if let (Err(Error::Timeout(Timeout::Read)), Some(waited)) = (&batch, limit) {
                        node.read_timed_out(waited);
                    }
                    if let Some(probe) = probe {
                        probe.finish(batch.as_ref().map(drop));
                    }
                    batch
                }
                Share::Done(replies) => replies,
                // Nothing was sent: each command is retried alone.
                Share::Unreachable => {
                    again.extend(indices.iter().copied());
                    continue;
                }
            };
            for (i, reply) in indices.iter().copied().zip(batch?) {
                match &reply {
                    Value::Error(e) if redirect(e, &addr.host).is_some() => again.push(i),
                    _ => replies[i] = Some(reply),
                }
            }
        }
        // Redirected (or unreachable) commands, one by one in the order
        // queued, so that two commands on one key keep their order.
        again.sort_unstable();
        for i in again {
            let (args, info) = &commands[i];
            let opts = CallOptions { info: *info, timeout: None, cached: false };
            let mut reply = self.request(args, opts).await;
            // A script or function call that went elsewhere than planned
            // may find its node without the code: load it (on every node)
            // and call again.
            if let (Err(e), Some((_, code))) = (&reply, scripts.iter().find(|(s, _)| *s == i)) {
                if code.is_missing(e) {
                    code.load(self).await?;
                    reply = self.request(args, opts).await;
                }
            }
            replies[i] = Some(match reply {
                Ok(v) => v,
                Err(Error::Redis(e)) => Value::Error(e),
                Err(e) => return Err(e),
            });
        }
        Ok(replies.into_iter().map(|r| r.expect("every command has its reply")).collect())
    }

    /// Sends a transaction to the node serving its one slot, once that
    /// node has the `scripts` it calls.
    async fn transaction_batch(&self, commands: &[Queued], scripts: &[(usize, Loadable)]) -> Result<Vec<Value>> {
        let mut slot: Option<u16> = None;
        for (args, info) in commands {
            let slots = match route(args, *info, false) {
                Ok(Route::Slot { slot, .. }) => [slot, slot],
                Ok(_) => continue,
                Err(Error::CrossSlot { slots: (a, b), .. }) => [a, b],
                Err(e) => return Err(e),
            };
            for s in slots {
                match slot {
                    Some(first) if first != s => {
                        return Err(Error::CrossSlot { command: "MULTI".into(), slots: (first, s) })
                    }
                    _ => slot = Some(s),
                }
            }
        }
        let mut frames = BytesMut::new();
        for (args, _) in commands {
            args.write_frame(&mut frames);
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            let seen = self.epoch();
            let node = match slot {
                Some(slot) => self.node(&self.node_addr_for(slot, false).await?),
                None => self.any_primary().await?,
            };
            // The node must have the scripts the transaction calls, loaded
            // outside it.
            let ready = match node.connection().await {
                Ok(_) => load_missing(&node, scripts.iter().map(|(_, s)| s)).await,
                Err(e) => Err(e),
            };
            if let Err(e) = ready {
                // Nothing of the transaction was sent: as for any command,
                // learn the new layout (a failover) and try where the slot
                // went. The server refusing a script is final.
                if matches!(e, Error::Redis(_)) || attempt >= self.inner.settings.max_attempts {
                    return Err(e);
                }
                tracing::debug!(?slot, error = %e, "transaction's node unreachable; refreshing the topology");
                let _ = self.refresh(seen).await;
                tokio::time::sleep((super::FIRST_BACKOFF * attempt as u32).min(super::MAX_BACKOFF)).await;
                continue;
            }
            let result = send_batch(&node, &frames, commands.len(), false, true).await;
            let moved = match &result {
                Err(Error::Redis(e) | Error::Transaction { error: e, .. }) => redirect(e, "").is_some(),
                _ => false,
            };
            if !moved || attempt >= TRANSACTION_ATTEMPTS {
                return result;
            }
            // Nothing ran (a redirection at queue time discards the
            // transaction): learn where the slot went and send it again.
            tracing::debug!(?slot, "transaction redirected; refreshing the topology");
            self.refresh(seen).await?;
            tokio::time::sleep(super::FIRST_BACKOFF * attempt as u32).await;
        }
    }
}

/// A pipeline on a cluster keeps its commands as they are: each is routed
/// to its slot's node when the pipeline is sent.
impl BatchTarget for RedisCluster {
    fn routes_each_command(&self) -> bool {
        true
    }

    fn text_policy(&self) -> TextPolicy {
        RedisCluster::text_policy(self)
    }

    fn send_batch<'a>(&'a self, batch: &'a Batch, atomic: bool) -> BatchFuture<'a> {
        if atomic {
            Box::pin(self.transaction_batch(&batch.commands, &batch.scripts))
        } else {
            Box::pin(self.pipeline_batch(&batch.commands, &batch.scripts))
        }
    }
}
