//! Where a command goes in a cluster, what a redirection means, and how the
//! replies of a command sent to many nodes become one.

use crate::args::CmdArgs;
use crate::command::{CommandInfo, Effect};
use crate::error::{Error, Result, ServerError};
use crate::keys::{self, BeginSearch, FindKeys, KeySpec, RequestPolicy, ResponsePolicy};
use crate::value::Value;

use super::slot::key_slot;
use super::topology::NodeAddr;

/// Where one command goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// To the node serving `slot` (a replica may serve it when `read_only`
    /// and reading from replicas is on).
    Slot { slot: u16, read_only: bool },
    /// To any primary: a command without keys or routing hints.
    AnyPrimary,
    /// To every primary (or every node), the replies merged as `policy` says.
    FanOut { every_node: bool, policy: Option<ResponsePolicy> },
    /// A multi-key command split into one command per slot (opt-in).
    Split(Split),
}

/// A multi-key command cut per slot: each part is the name plus the
/// arguments of its keys (`step` words per key: 2 for `MSET`'s key-value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Split {
    /// How many words make the command's name.
    pub(crate) name_words: usize,
    pub(crate) step: usize,
    /// Per slot, the positions (in the whole command) of its keys.
    pub(crate) parts: Vec<(u16, Vec<usize>)>,
    pub(crate) merge: SplitMerge,
}

/// How the replies of a split command are put back together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SplitMerge {
    /// `MGET`: one value per key, in the caller's key order.
    PerKey,
    /// `DEL`, `EXISTS`, `UNLINK`, `TOUCH`: counts added up.
    Sum,
    /// `MSET`: `OK` when every part succeeded.
    AllOk,
}

/// The commands that may be split per slot, and how their replies merge.
/// `MSETNX` is not one: split, it would no longer be all-or-nothing.
fn splittable(name: &str) -> Option<SplitMerge> {
    match name {
        "MGET" => Some(SplitMerge::PerKey),
        "DEL" | "EXISTS" | "UNLINK" | "TOUCH" => Some(SplitMerge::Sum),
        "MSET" => Some(SplitMerge::AllOk),
        _ => None,
    }
}

/// The route of the command `args`, from what the spec says of it (`info`,
/// looked up by name for `execute_cmd`): its keys' slot, else its request
/// policy. Keys in different slots are [`Error::CrossSlot`], unless `split`
/// allows cutting the command per slot.
pub(crate) fn route(args: &CmdArgs, info: Option<&'static CommandInfo>, split: bool) -> Result<Route> {
    args.check_name()?;
    if let Some(route) = info.and_then(|info| one_key_route(info, args)) {
        return Ok(route);
    }
    let words = args.words();
    let Some(info) = keys::resolve(info, &words) else { return Ok(Route::AnyPrimary) };
    if !info.effect.is_none() {
        return Err(refusal(info));
    }
    let positions = keys::key_positions(info, &words).positions;
    let mut slots = positions.iter().map(|&p| (p, key_slot(words[p])));
    if let Some((_, first)) = slots.next() {
        let Some((_, other)) = slots.find(|&(_, s)| s != first) else {
            return Ok(Route::Slot { slot: first, read_only: info.readonly });
        };
        return match splittable(info.name).filter(|_| split) {
            Some(merge) => Ok(Route::Split(split_by_slot(info, &words, &positions, merge))),
            None => Err(Error::CrossSlot { command: info.name.to_owned(), slots: (first, other) }),
        };
    }
    Ok(match info.request_policy {
        Some(RequestPolicy::AllShards) => Route::FanOut { every_node: false, policy: info.response_policy },
        Some(RequestPolicy::AllNodes) => Route::FanOut { every_node: true, policy: info.response_policy },
        Some(RequestPolicy::Special) => {
            return Err(Error::Usage(format!(
                "{} needs per-node handling in a cluster (a SCAN cursor belongs to one node): \
                 run it on each node from RedisCluster::primaries()",
                info.name
            )))
        }
        // Multi-shard commands without keys are arity errors: any node says so.
        Some(RequestPolicy::MultiShard) | None => Route::AnyPrimary,
    })
}

/// Why a cluster client refuses a command that changes its connection:
/// every node connection is shared by all callers (and the client sends
/// `READONLY`, `ASKING` by itself, as replicas and redirections call for).
fn refusal(info: &CommandInfo) -> Error {
    let tool = match info.effect {
        Effect::Multi | Effect::EndTransaction | Effect::Watch | Effect::Unwatch => {
            "use RedisCluster::transaction() for MULTI/EXEC"
        }
        Effect::Subscribe | Effect::Unsubscribe => "use RedisCluster::pubsub() to subscribe",
        Effect::ReadOnly | Effect::Asking => {
            "the cluster client sends it itself (read_from_replicas(true) for reads from replicas, ASKING on redirection)"
        }
        Effect::Auth | Effect::Hello | Effect::Select | Effect::SetName => {
            "set it for every node with RedisCluster::builder(..).client(|c| ...)"
        }
        _ => "run it on a dedicated() handle of a node's own Redis (RedisCluster::node_for_slot)",
    };
    Error::Usage(format!(
        "{} changes the state of its connection, which a cluster client shares among callers: {tool}",
        info.name
    ))
}

/// The route of a command with one key at a fixed place (`GET`, `SET`,
/// `INCR`...: most commands), found from that one argument.
fn one_key_route(info: &CommandInfo, args: &CmdArgs) -> Option<Route> {
    let [KeySpec { begin: BeginSearch::Index(index), find: FindKeys::Range { lastkey: 0, .. }, .. }] = info.keys else {
        return None;
    };
    let key = args.word(usize::try_from(*index).ok()?)?;
    Some(Route::Slot { slot: key_slot(key), read_only: info.readonly })
}

fn split_by_slot(info: &CommandInfo, words: &[&[u8]], positions: &[usize], merge: SplitMerge) -> Split {
    let step = match positions {
        [a, b, ..] => b - a,
        _ => 1,
    };
    let mut parts: Vec<(u16, Vec<usize>)> = Vec::new();
    for &p in positions {
        let slot = key_slot(words[p]);
        match parts.iter_mut().find(|(s, _)| *s == slot) {
            Some((_, keys)) => keys.push(p),
            None => parts.push((slot, vec![p])),
        }
    }
    Split { name_words: info.words as usize, step, parts, merge }
}

impl Split {
    /// The command of one part: the name, then each key's words.
    pub(crate) fn command(&self, args: &CmdArgs, keys: &[usize]) -> CmdArgs {
        let words = args.words();
        let mut part = CmdArgs::default();
        for w in &words[..self.name_words] {
            part.push(*w);
        }
        for &p in keys {
            for w in &words[p..(p + self.step).min(words.len())] {
                part.push(*w);
            }
        }
        part
    }

    /// Puts the parts' replies (in `parts` order) back together.
    pub(crate) fn merge(&self, replies: Vec<Result<Value>>) -> Result<Value> {
        let replies = replies.into_iter().collect::<Result<Vec<_>>>()?;
        match self.merge {
            SplitMerge::Sum => sum(replies),
            SplitMerge::AllOk => Ok(replies.into_iter().next().unwrap_or(Value::Simple("OK".into()))),
            SplitMerge::PerKey => {
                let total = self.parts.iter().map(|(_, k)| k.len()).sum();
                let mut order: Vec<(usize, Value)> = Vec::with_capacity(total);
                for ((_, keys), reply) in self.parts.iter().zip(replies) {
                    let Value::Array(values) = reply.into_inner() else {
                        return Err(Error::protocol("a part of a split MGET did not reply with an array"));
                    };
                    if values.len() != keys.len() {
                        return Err(Error::protocol("a part of a split MGET replied with the wrong count"));
                    }
                    order.extend(keys.iter().copied().zip(values));
                }
                order.sort_by_key(|(p, _)| *p);
                Ok(Value::Array(order.into_iter().map(|(_, v)| v).collect()))
            }
        }
    }
}

/// What a server error reply asks of a cluster client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Redirect {
    /// The slot lives on another node now: update the map and go there.
    Moved { slot: u16, to: NodeAddr },
    /// The slot is migrating and the key is on `to`: ask there, once.
    Ask { to: NodeAddr },
    /// The cluster is busy (`TRYAGAIN`), down for now (`CLUSTERDOWN`), or
    /// the node is still loading its data (`LOADING`): wait and retry.
    Retry,
}

/// The redirection `e` asks for, if it is one; `from_host` is the host of
/// the node that replied (for `MOVED 1 :7000`, a node without an address).
pub(crate) fn redirect(e: &ServerError, from_host: &str) -> Option<Redirect> {
    let mut words = e.message().split_ascii_whitespace();
    match e.code() {
        "MOVED" | "ASK" => {
            let slot = words.next()?.parse().ok()?;
            let to = NodeAddr::parse(words.next()?, from_host)?;
            Some(if e.code() == "MOVED" { Redirect::Moved { slot, to } } else { Redirect::Ask { to } })
        }
        "TRYAGAIN" | "CLUSTERDOWN" | "LOADING" => Some(Redirect::Retry),
        _ => None,
    }
}

/// Merges the replies of a command sent to several nodes, as its
/// `response_policy` says. Without one, arrays are concatenated (`KEYS`)
/// and otherwise the first non-nil reply wins (`RANDOMKEY`); `special`
/// commands (`INFO`...) go to one node only and never get here.
pub(crate) fn merge(policy: Option<ResponsePolicy>, replies: Vec<Result<Value>>) -> Result<Value> {
    match policy {
        Some(ResponsePolicy::OneSucceeded) => {
            let mut last = Err(Error::Cluster("no node replied".into()));
            for r in replies {
                match r {
                    Ok(v) => return Ok(v),
                    e => last = e,
                }
            }
            last
        }
        Some(ResponsePolicy::AllSucceeded | ResponsePolicy::Special) => {
            let replies = replies.into_iter().collect::<Result<Vec<_>>>()?;
            replies.into_iter().next().ok_or_else(|| Error::Cluster("no node replied".into()))
        }
        Some(ResponsePolicy::AggSum) => sum(replies.into_iter().collect::<Result<_>>()?),
        Some(ResponsePolicy::AggMin) => fold_ints(replies, i64::min),
        Some(ResponsePolicy::AggMax) => fold_ints(replies, i64::max),
        Some(ResponsePolicy::AggLogicalAnd) => fold_ints(replies, |a, b| i64::from(a != 0 && b != 0)),
        Some(ResponsePolicy::AggLogicalOr) => fold_ints(replies, |a, b| i64::from(a != 0 || b != 0)),
        None => {
            let replies = replies.into_iter().collect::<Result<Vec<_>>>()?;
            if replies.iter().all(|v| matches!(v, Value::Array(_))) {
                let all =
                    replies.into_iter().flat_map(|v| if let Value::Array(items) = v { items } else { Vec::new() });
                return Ok(Value::Array(all.collect()));
            }
            Ok(replies.into_iter().find(|v| !v.is_nil()).unwrap_or(Value::Nil))
        }
    }
}

fn sum(replies: Vec<Value>) -> Result<Value> {
    fold_ints(replies.into_iter().map(Ok).collect(), |a, b| a + b)
}

/// Folds integer replies (or arrays of them, element-wise, as for
/// `SCRIPT EXISTS`) with `f`.
fn fold_ints(replies: Vec<Result<Value>>, f: fn(i64, i64) -> i64) -> Result<Value> {
    let mut acc: Option<Value> = None;
    for reply in replies {
        let reply = reply?.into_inner();
        acc = Some(match (acc, reply) {
            (None, v) => v,
            (Some(Value::Int(a)), Value::Int(b)) => Value::Int(f(a, b)),
            (Some(Value::Array(a)), Value::Array(b)) if a.len() == b.len() => {
                let pairs = a.into_iter().zip(b).map(|pair| match pair {
                    (Value::Int(x), Value::Int(y)) => Ok(Value::Int(f(x, y))),
                    other => Err(Error::protocol(format!("cannot aggregate {other:?}"))),
                });
                Value::Array(pairs.collect::<Result<_>>()?)
            }
            (Some(a), b) => return Err(Error::protocol(format!("cannot aggregate {a:?} with {b:?}"))),
        });
    }
    acc.ok_or_else(|| Error::Cluster("no node replied".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn server_error(text: &str) -> ServerError {
        ServerError::new(Bytes::copy_from_slice(text.as_bytes()))
    }

    fn args(words: &[&str]) -> (CmdArgs, Option<&'static CommandInfo>) {
        let mut a = CmdArgs::with_name(words[0]);
        for w in &words[1..] {
            a.push(*w);
        }
        (a, crate::commands::command_info(words[0]))
    }

    fn route_of(words: &[&str], split: bool) -> Result<Route> {
        let (a, info) = args(words);
        route(&a, info, split)
    }

    #[test]
    fn keys_pick_the_slot() {
        assert_eq!(route_of(&["GET", "foo"], false).unwrap(), Route::Slot { slot: 12182, read_only: true });
        assert_eq!(route_of(&["SET", "foo", "1"], false).unwrap(), Route::Slot { slot: 12182, read_only: false });
        let tagged = route_of(&["MGET", "{u}a", "{u}b"], false).unwrap();
        assert_eq!(tagged, Route::Slot { slot: key_slot(b"u"), read_only: true });
        // Unknown commands and keyless ones go anywhere.
        assert_eq!(route_of(&["NOSUCHCOMMAND", "x"], false).unwrap(), Route::AnyPrimary);
        assert_eq!(route_of(&["ECHO", "x"], false).unwrap(), Route::AnyPrimary);
    }

    #[test]
    fn cross_slot_is_refused_unless_split() {
        let err = route_of(&["MGET", "foo", "bar"], false).unwrap_err();
        assert!(matches!(err, Error::CrossSlot { ref command, slots: (12182, 5061) } if command == "MGET"), "{err}");
        assert!(err.to_string().contains("CROSSSLOT"), "{err}");
        // Not splittable: refused even when splitting is on.
        assert!(matches!(route_of(&["RENAME", "foo", "bar"], true), Err(Error::CrossSlot { .. })));
        assert!(matches!(route_of(&["MSETNX", "foo", "1", "bar", "2"], true), Err(Error::CrossSlot { .. })));
        let Route::Split(split) = route_of(&["MSET", "foo", "1", "bar", "2", "{foo}x", "3"], true).unwrap() else {
            panic!("not split")
        };
        assert_eq!(split.step, 2);
        assert_eq!(split.parts, vec![(12182, vec![1, 5]), (5061, vec![3])]);
        let (a, _) = args(&["MSET", "foo", "1", "bar", "2", "{foo}x", "3"]);
        let part = split.command(&a, &split.parts[0].1);
        let words: Vec<&[u8]> = part.words();
        assert_eq!(words, [&b"MSET"[..], b"foo", b"1", b"{foo}x", b"3"]);
    }

    #[test]
    fn policies_fan_out() {
        assert_eq!(
            route_of(&["DBSIZE"], false).unwrap(),
            Route::FanOut { every_node: false, policy: Some(ResponsePolicy::AggSum) }
        );
        assert_eq!(route_of(&["KEYS", "*"], false).unwrap(), Route::FanOut { every_node: false, policy: None });
        assert!(matches!(route_of(&["SCRIPT", "FLUSH"], false).unwrap(), Route::FanOut { every_node: true, .. }));
        assert!(matches!(route_of(&["SCAN", "0"], false), Err(Error::Usage(_))));
        assert!(matches!(route(&CmdArgs::with_name(" "), None, false), Err(Error::Usage(_))));
        for shared_state in [
            &["MULTI"][..],
            &["WATCH", "k"],
            &["SUBSCRIBE", "ch"],
            &["select", "1"],
            &["CLIENT", "REPLY", "OFF"],
            &["READONLY"],
            &["ASKING"],
            &["RESET"],
            &["AUTH", "pw"],
            &["HELLO", "3"],
            &["CLIENT", "SETNAME", "x"],
            &["client", "tracking", "on"],
            &["MONITOR"],
            &["QUIT"],
        ] {
            assert!(matches!(route_of(shared_state, false), Err(Error::Usage(_))), "{shared_state:?}");
        }
    }

    #[test]
    fn split_replies_come_back_in_key_order() {
        let split =
            Split { name_words: 1, step: 1, parts: vec![(1, vec![1, 3]), (2, vec![2])], merge: SplitMerge::PerKey };
        let a = Value::Array(vec![Value::Int(1), Value::Int(3)]);
        let b = Value::Array(vec![Value::Int(2)]);
        let merged = split.merge(vec![Ok(a), Ok(b)]).unwrap();
        assert_eq!(merged, Value::Array(vec![Value::Int(1), Value::Int(2), Value::Int(3)]));
    }

    #[test]
    fn redirections() {
        let moved = redirect(&server_error("MOVED 3999 127.0.0.1:6381"), "h").unwrap();
        assert_eq!(moved, Redirect::Moved { slot: 3999, to: NodeAddr { host: "127.0.0.1".into(), port: 6381 } });
        let ask = redirect(&server_error("ASK 3999 :6381"), "10.0.0.1").unwrap();
        assert_eq!(ask, Redirect::Ask { to: NodeAddr { host: "10.0.0.1".into(), port: 6381 } });
        assert_eq!(
            redirect(&server_error("TRYAGAIN Multiple keys request during rehashing"), "h"),
            Some(Redirect::Retry)
        );
        assert_eq!(redirect(&server_error("CLUSTERDOWN The cluster is down"), "h"), Some(Redirect::Retry));
        assert_eq!(redirect(&server_error("ERR wrong number of arguments"), "h"), None);
        assert_eq!(redirect(&server_error("MOVED garbage"), "h"), None);
    }

    #[test]
    fn merging_fan_out_replies() {
        let ints = |v: &[i64]| v.iter().map(|&i| Ok(Value::Int(i))).collect::<Vec<_>>();
        assert_eq!(merge(Some(ResponsePolicy::AggSum), ints(&[1, 2, 3])).unwrap(), Value::Int(6));
        assert_eq!(merge(Some(ResponsePolicy::AggMin), ints(&[4, 2, 3])).unwrap(), Value::Int(2));
        let arrays = vec![
            Ok(Value::Array(vec![Value::Int(1), Value::Int(0)])),
            Ok(Value::Array(vec![Value::Int(1), Value::Int(1)])),
        ];
        let and = merge(Some(ResponsePolicy::AggLogicalAnd), arrays).unwrap();
        assert_eq!(and, Value::Array(vec![Value::Int(1), Value::Int(0)]));
        let keys = vec![Ok(Value::Array(vec![Value::Int(1)])), Ok(Value::Array(vec![Value::Int(2)]))];
        assert_eq!(merge(None, keys).unwrap(), Value::Array(vec![Value::Int(1), Value::Int(2)]));
        let failed = vec![Ok(Value::Simple("OK".into())), Err(Error::Redis(server_error("ERR no")))];
        assert!(matches!(merge(Some(ResponsePolicy::AllSucceeded), failed), Err(Error::Redis(_))));
        let one = vec![Err(Error::Redis(server_error("NOTBUSY"))), Ok(Value::Simple("OK".into()))];
        assert!(merge(Some(ResponsePolicy::OneSucceeded), one).is_ok());
    }
}
