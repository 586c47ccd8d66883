//! [`RedisCluster::scan_iter`]: every key of a cluster, walked node by node,
//! that survives slots moving in the middle.
//!
//! `SCAN` on one node promises each key present for the whole walk at least
//! once, but only for the keys that node holds throughout. A slot that moves
//! while the walk is under way (resharding, a failover) breaks that promise
//! for its keys: they may leave a node not yet walked for one already walked.
//! So a node's walk counts only for the slots it owned, and was not migrating
//! or importing, both when its walk began and when it ended (as the node
//! itself reports in `CLUSTER NODES`). Slots no walk counted are walked
//! again, on whichever node serves them then, until every slot is counted
//! or [`MAX_ROUNDS`] rounds have passed. A key may come back more than once.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;

use super::{RedisCluster, SLOTS};
use crate::args::Arg;
use crate::client::Redis;
use crate::commands::Commands;
use crate::convert::FromValue;
use crate::error::{Error, Result};

/// Rounds over the primaries before a scan gives up on slots that keep
/// moving (each round walks only the nodes serving uncounted slots).
pub const MAX_ROUNDS: usize = 8;

/// A stream of every key of a cluster (`SCAN` on every primary); see
/// [`RedisCluster::scan_iter`].
#[must_use = "streams do nothing unless polled"]
pub struct ClusterScanIter<'a, T> {
    walk: Option<Walk<'a>>,
    page: VecDeque<T>,
    fetching: Option<PageFuture<'a, T>>,
}

type PageFuture<'a, T> = Pin<Box<dyn Future<Output = (Walk<'a>, Result<Option<Vec<T>>>)> + Send + 'a>>;

impl<T> std::fmt::Debug for ClusterScanIter<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterScanIter").field("buffered", &self.page.len()).finish_non_exhaustive()
    }
}

/// Where a cluster scan is: what is counted, which node it is on.
struct Walk<'a> {
    cluster: &'a RedisCluster,
    options: Vec<Arg>,
    /// Slots no finished node walk has counted yet.
    uncounted: Vec<bool>,
    /// Nodes still to walk this round.
    round: Vec<Redis>,
    rounds_left: usize,
    node: Option<NodeWalk>,
}

struct NodeWalk {
    redis: Redis,
    /// The slots the node served steadily when its walk began.
    steady_at_start: Vec<bool>,
    cursor: u64,
}

impl RedisCluster {
    /// Every key of the cluster, from `SCAN` on each primary; a key present
    /// for the whole walk comes back at least once even if slots move
    /// meanwhile (see [`ClusterScanIter`]'s module docs), possibly more
    /// than once.
    ///
    /// # Examples
    /// ```no_run
    /// # extern crate siderpy_core as siderpy;
    /// # async fn f(cluster: siderpy::cluster::RedisCluster) -> siderpy::Result<()> {
    /// let mut keys = cluster.scan_iter().match_("session:*").count(500);
    /// while let Some(key) = keys.next().await {
    ///     let key = key?;
    /// }
    /// # Ok(()) }
    /// ```
    pub fn scan_iter(&self) -> ClusterScanIter<'_, Bytes> {
        let walk = Walk {
            cluster: self,
            options: Vec::new(),
            uncounted: vec![true; usize::from(SLOTS)],
            round: Vec::new(),
            rounds_left: MAX_ROUNDS,
            node: None,
        };
        ClusterScanIter { walk: Some(walk), page: VecDeque::new(), fetching: None }
    }
}

impl<'a, T> ClusterScanIter<'a, T> {
    fn option(mut self, token: &str, value: Arg) -> Self {
        if let Some(walk) = &mut self.walk {
            walk.options.extend([Arg::new(token), value]);
        }
        self
    }

    /// Only keys matching the glob-style `pattern` (`MATCH`).
    pub fn match_(self, pattern: impl crate::ToArg) -> Self {
        self.option("MATCH", Arg::new(pattern))
    }

    /// How much work each node does per page (`COUNT`, a hint).
    pub fn count(self, count: u64) -> Self {
        self.option("COUNT", Arg::new(count))
    }

    /// Only keys of this type (`TYPE`).
    pub fn type_(self, type_: impl crate::ToArg) -> Self {
        self.option("TYPE", Arg::new(type_))
    }

    /// Converts each key to `U` instead (`String`...).
    pub fn returning<U>(self) -> ClusterScanIter<'a, U> {
        ClusterScanIter { walk: self.walk, page: VecDeque::new(), fetching: None }
    }

    /// The next key; `None` once every slot has been walked. The same as
    /// `StreamExt::next`, without needing `futures`.
    pub async fn next(&mut self) -> Option<Result<T>>
    where
        T: FromValue + Send + 'a,
    {
        std::future::poll_fn(|cx| futures_core::Stream::poll_next(Pin::new(&mut *self), cx)).await
    }
}

// Keys are only moved in and out of the page, never pinned in place.
impl<T> Unpin for ClusterScanIter<'_, T> {}

impl<'a, T: FromValue + Send + 'a> futures_core::Stream for ClusterScanIter<'a, T> {
    type Item = Result<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<T>>> {
        let this = self.get_mut();
        loop {
            if let Some(key) = this.page.pop_front() {
                return Poll::Ready(Some(Ok(key)));
            }
            let fetching = match &mut this.fetching {
                Some(f) => f,
                None => {
                    // Ended (walked everything, or failed).
                    let Some(walk) = this.walk.take() else { return Poll::Ready(None) };
                    this.fetching.insert(Box::pin(walk.next_page::<T>()))
                }
            };
            let (walk, page) = std::task::ready!(fetching.as_mut().poll(cx));
            this.fetching = None;
            match page {
                Ok(Some(keys)) => {
                    this.walk = Some(walk);
                    this.page.extend(keys);
                }
                Ok(None) => return Poll::Ready(None),
                Err(e) => return Poll::Ready(Some(Err(e))),
            }
        }
    }
}

impl<'a> Walk<'a> {
    /// The next page of keys (possibly empty), or `None` when every slot has
    /// been counted. The walk comes back with the outcome so the stream can
    /// go on from where it is.
    async fn next_page<T: FromValue + Send>(mut self) -> (Walk<'a>, Result<Option<Vec<T>>>) {
        let page = self.step().await;
        (self, page)
    }

    async fn step<T: FromValue + Send>(&mut self) -> Result<Option<Vec<T>>> {
        loop {
            if let Some(node) = &mut self.node {
                let mut words = vec![Arg::new(node.cursor)];
                words.extend(self.options.iter().cloned());
                let (cursor, keys): (u64, Vec<T>) = node.redis.execute_cmd("SCAN", words).returning().await?;
                node.cursor = cursor;
                if cursor == 0 {
                    let node = self.node.take().expect("walking a node");
                    let steady_at_end = steady_slots(&node.redis).await?;
                    for (slot, uncounted) in self.uncounted.iter_mut().enumerate() {
                        if node.steady_at_start[slot] && steady_at_end[slot] {
                            *uncounted = false;
                        }
                    }
                }
                return Ok(Some(keys));
            }
            if let Some(redis) = self.round.pop() {
                let steady_at_start = steady_slots(&redis).await?;
                let useful = steady_at_start.iter().zip(&self.uncounted).any(|(s, u)| *s && *u);
                if useful {
                    self.node = Some(NodeWalk { redis, steady_at_start, cursor: 0 });
                }
                continue;
            }
            if !self.uncounted.contains(&true) {
                return Ok(None);
            }
            if self.rounds_left == 0 {
                let left = self.uncounted.iter().filter(|u| **u).count();
                return Err(Error::Cluster(format!(
                    "scan: {left} slots moved during every one of {MAX_ROUNDS} rounds over the primaries; \
                     their keys may be missing"
                )));
            }
            if self.rounds_left < MAX_ROUNDS {
                // Slots moved: read the layout again before the next round.
                self.cluster.refresh_topology().await?;
            }
            self.rounds_left -= 1;
            let mut primaries = self.cluster.primaries().await?;
            primaries.reverse(); // walked by popping: in the order given
            self.round = primaries;
        }
    }
}

/// The slots `redis`'s node serves and is neither migrating nor importing,
/// as the node itself says (`CLUSTER NODES`, its `myself` line).
async fn steady_slots(redis: &Redis) -> Result<Vec<bool>> {
    let text: String = redis.execute_cmd("CLUSTER", ["NODES"]).returning().await?;
    let line = text.lines().find(|l| l.split(' ').nth(2).is_some_and(|f| f.split(',').any(|f| f == "myself")));
    let line = line.ok_or_else(|| Error::Cluster("scan: CLUSTER NODES has no `myself` line".into()))?;
    parse_steady_slots(line).ok_or_else(|| Error::Cluster(format!("scan: cannot read the slots of `{line}`")))
}

/// The steady slots of one `CLUSTER NODES` line: its ranges, less the slots
/// shown migrating (`[slot->-id]`) or importing (`[slot-<-id]`).
fn parse_steady_slots(line: &str) -> Option<Vec<bool>> {
    let mut steady = vec![false; usize::from(SLOTS)];
    let mut moving = Vec::new();
    for field in line.split(' ').skip(8).filter(|f| !f.is_empty()) {
        if let Some(inner) = field.strip_prefix('[') {
            let slot = inner.split(['-', ']']).next()?;
            moving.push(slot.parse::<u16>().ok()?);
            continue;
        }
        let (lo, hi) = field.split_once('-').unwrap_or((field, field));
        let (lo, hi) = (lo.parse::<u16>().ok()?, hi.parse::<u16>().ok()?);
        if hi >= SLOTS || lo > hi {
            return None;
        }
        steady[usize::from(lo)..=usize::from(hi)].iter_mut().for_each(|s| *s = true);
    }
    for slot in moving {
        *steady.get_mut(usize::from(slot))? = false;
    }
    Some(steady)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_slots_leave_out_moving_ones() {
        let line = "07c3 127.0.0.1:30001@40001 myself,master - 0 0 1 connected 0-5 9 [3->-e7d1] [7-<-a1b2]";
        let steady = parse_steady_slots(line).unwrap();
        let got: Vec<usize> = (0..16).filter(|s| steady[*s]).collect();
        assert_eq!(got, [0, 1, 2, 4, 5, 9]);
        assert!(parse_steady_slots("a b myself,master - 0 0 1 connected 0-16384").is_none());
        assert!(parse_steady_slots("a b myself,master - 0 0 1 connected x").is_none());
        let none = parse_steady_slots("a b myself,slave c 0 0 1 connected").unwrap();
        assert!(!none.contains(&true));
    }
}
