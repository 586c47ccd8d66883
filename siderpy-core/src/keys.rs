//! Which arguments of a command are keys, and how a cluster should route
//! it: the spec's `key_specs` and `hints`, compiled into every
//! [`CommandInfo`](crate::CommandInfo).
//!
//! Everything here comes from `commands.json`, so a spec regenerated from
//! a newer server routes its new commands without code changes here.

/// Where one group of a command's keys is, as the spec's `key_specs` says:
/// where to start looking ([`BeginSearch`]) and which arguments from there
/// are keys ([`FindKeys`]).
///
/// A command has one spec per group of keys (`ZUNIONSTORE` has one for the
/// destination and one for the sources). Indices count words from the
/// command's first one at 0, the name's words included: the key of
/// `XINFO STREAM key` is at 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpec {
    /// Where the search for the keys starts.
    pub begin: BeginSearch,
    /// Which arguments, from where the search began, are keys.
    pub find: FindKeys,
    /// The spec's `incomplete` flag: the keys this spec finds may not be
    /// all of its keys, or not all keys (`MIGRATE ... KEYS`, where a key
    /// could itself be called `KEYS`). Finding keys with it flags them as
    /// uncertain.
    pub incomplete: bool,
}

/// Where the search for a [`KeySpec`]'s keys starts (`begin_search`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BeginSearch {
    /// At this index (`GET key`: 1).
    Index(i32),
    /// Just after `keyword` (matched in any case), searched for from
    /// `startfrom`: forwards when positive, backwards from the end when
    /// negative (`-2`: from the last but one word). `XREAD ... STREAMS`.
    Keyword {
        /// The word that precedes the keys, as the spec spells it.
        keyword: &'static str,
        /// Where the search starts; negative counts from the end.
        startfrom: i32,
    },
    /// The spec cannot say (the keys of `SORT ... STORE`), or a type this
    /// version does not know, from a newer spec.
    Unknown,
}

/// Which arguments are keys once the search has begun (`find_keys`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindKeys {
    /// A range of arguments from the first key.
    Range {
        /// The last key, relative to the first when `>= 0` (0: a single
        /// key); negative counts from the end of the command (-1: the last
        /// word).
        lastkey: i32,
        /// The distance between keys (2 for `MSET key value ...`).
        keystep: i32,
        /// With `lastkey` -1: only the first `1/limit` of the remaining
        /// words are keys (`XREAD STREAMS k1 k2 id1 id2` has limit 2).
        /// 0 or 1: no such division.
        limit: i32,
    },
    /// The number of keys is itself an argument (`EVAL script numkeys key...`).
    Keynum {
        /// Where the number of keys is, relative to where the search began.
        keynumidx: i32,
        /// Where the first key is, relative to where the search began.
        firstkey: i32,
        /// The distance between keys.
        keystep: i32,
    },
    /// The spec cannot say, or a type this version does not know.
    Unknown,
}

/// Where a cluster sends a command that has no keys, from the spec's
/// `request_policy` hint. Commands without the hint and without keys may
/// go to any node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestPolicy {
    /// To every node, primaries and replicas (`CONFIG SET`, `SCRIPT LOAD`).
    AllNodes,
    /// To every primary (`DBSIZE`, `FLUSHALL`, `KEYS`).
    AllShards,
    /// Split by the slots of its keys, one command per shard (`MGET`, `DEL`).
    MultiShard,
    /// The command needs handling of its own (`SCAN`).
    Special,
}

/// How a cluster combines the replies of a command sent to several nodes,
/// from the spec's `response_policy` hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResponsePolicy {
    /// The first reply that is not an error.
    OneSucceeded,
    /// Success when every node succeeded (`FLUSHALL`); the first error otherwise.
    AllSucceeded,
    /// The logical AND of the replies (0/1 integers, or arrays of them element-wise).
    AggLogicalAnd,
    /// The logical OR of the replies.
    AggLogicalOr,
    /// The smallest reply (`WAIT`).
    AggMin,
    /// The largest reply.
    AggMax,
    /// The sum of the replies (`DBSIZE`, `DEL`).
    AggSum,
    /// The command needs handling of its own (`INFO`).
    Special,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::CommandInfo;
    use crate::commands::command_info;

    fn info(name: &str) -> &'static CommandInfo {
        command_info(name).unwrap_or_else(|| panic!("{name} is in the spec"))
    }

    #[test]
    fn routing_hints() {
        let policies = |name: &str| (info(name).request_policy, info(name).response_policy);
        use RequestPolicy as Req;
        use ResponsePolicy as Resp;
        assert_eq!(policies("DBSIZE"), (Some(Req::AllShards), Some(Resp::AggSum)));
        assert_eq!(policies("MGET"), (Some(Req::MultiShard), None));
        assert_eq!(policies("DEL"), (Some(Req::MultiShard), Some(Resp::AggSum)));
        assert_eq!(policies("MSETNX"), (Some(Req::MultiShard), Some(Resp::AggMin)));
        assert_eq!(policies("FLUSHALL"), (Some(Req::AllShards), Some(Resp::AllSucceeded)));
        assert_eq!(policies("KEYS"), (Some(Req::AllShards), None));
        assert_eq!(policies("SCRIPT FLUSH"), (Some(Req::AllNodes), Some(Resp::AllSucceeded)));
        assert_eq!(policies("SCRIPT EXISTS"), (Some(Req::AllShards), Some(Resp::AggLogicalAnd)));
        assert_eq!(policies("SCRIPT KILL"), (Some(Req::AllShards), Some(Resp::OneSucceeded)));
        assert_eq!(policies("INFO"), (Some(Req::AllShards), Some(Resp::Special)));
        assert_eq!(policies("SCAN"), (Some(Req::Special), None));
        assert_eq!(policies("PING"), (Some(Req::AllShards), Some(Resp::AllSucceeded)));
        // The 7.0 spec gives CLUSTER INFO no hints: any node answers.
        assert_eq!(policies("CLUSTER INFO"), (None, None));
        assert_eq!(policies("GET"), (None, None));
    }

    #[test]
    fn key_specs_as_the_spec_says() {
        assert_eq!(
            info("XREAD").keys,
            [KeySpec {
                begin: BeginSearch::Keyword { keyword: "STREAMS", startfrom: 1 },
                find: FindKeys::Range { lastkey: -1, keystep: 1, limit: 2 },
                incomplete: false,
            }]
        );
        assert_eq!(info("EVAL").keys[0].find, FindKeys::Keynum { keynumidx: 0, firstkey: 1, keystep: 1 });
        assert!(info("MIGRATE").keys[1].incomplete);
        assert_eq!(
            info("SORT").keys[2],
            KeySpec { begin: BeginSearch::Unknown, find: FindKeys::Unknown, incomplete: false }
        );
        assert!(info("XINFO").keys.is_empty());
    }
}
