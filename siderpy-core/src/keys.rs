//! Which arguments of a command are keys, and how a cluster should route
//! it: the spec's `key_specs` and `hints`, compiled into every
//! [`CommandInfo`], and the server's own algorithm for finding the keys of
//! an actual command with them.
//!
//! Everything here comes from `commands.json`, so a spec regenerated from
//! a newer server routes its new commands without code changes here.

use crate::command::CommandInfo;

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

/// The keys found in a command by [`key_positions`].
///
/// Not a `Result`: a router wants every key that could be found even when
/// some could not, and the two ways of not finding them call for different
/// things. Specs that do not fit are skipped (the server's "return partial"
/// mode) and flagged, never a panic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[allow(dead_code)] // read by the cluster client
pub(crate) struct KeyPositions {
    /// Indices of the key words, in spec order (each spec's keys in order).
    /// Sharded Pub/Sub channels (`SPUBLISH`), which the spec marks
    /// `not_key`, are included: they hash to slots as keys do, and the
    /// server routes them by those slots.
    pub positions: Vec<usize>,
    /// Some spec is `unknown` (`SORT ... STORE dst`) or `incomplete`
    /// (`MIGRATE ... KEYS`): the command may have keys not in `positions`,
    /// so a router cannot be sure of its slot; the server will say (MOVED,
    /// CROSSSLOT).
    pub unknown: bool,
    /// The words do not fit some spec: a missing key, a number of keys that
    /// is not a number, negative, or more than there are words. The server
    /// will reject the command as it stands, so any node will do to hear it.
    pub malformed: bool,
}

/// Finds the keys of `words` (a whole command, name included, as sent) with
/// `info`'s key specs, as the server does (`getKeysUsingKeySpecs`), so a
/// cluster can route the command by their slots. `info` must be the entry
/// of the command actually sent: see [`resolve`] for raw commands.
#[allow(dead_code)] // for the cluster client
pub(crate) fn key_positions(info: &CommandInfo, words: &[&[u8]]) -> KeyPositions {
    let mut out = KeyPositions::default();
    let argc = words.len() as i64;
    for spec in info.keys {
        let first = match spec.begin {
            BeginSearch::Index(i) => i64::from(i),
            BeginSearch::Keyword { keyword, startfrom } => match find_keyword(words, keyword, startfrom) {
                Some(at) => at as i64 + 1,
                // An optional keyword (`GEORADIUS ... STORE`) that is not there.
                None => continue,
            },
            BeginSearch::Unknown => {
                out.unknown = true;
                continue;
            }
        };
        let (first, last, step) = match spec.find {
            FindKeys::Range { lastkey, keystep, limit } => {
                let (lastkey, limit) = (i64::from(lastkey), i64::from(limit));
                let last = if lastkey >= 0 {
                    first + lastkey
                } else if limit <= 1 {
                    argc + lastkey
                } else {
                    // The server asserts `lastkey == -1` here.
                    first + (argc - first) / limit + lastkey
                };
                (first, last, keystep)
            }
            FindKeys::Keynum { keynumidx, firstkey, keystep } => {
                let at = first + i64::from(keynumidx);
                let numkeys = usize::try_from(at).ok().and_then(|at| words.get(at)).and_then(|w| parse_count(w));
                let Some(numkeys) = numkeys else {
                    out.malformed = true;
                    continue;
                };
                if numkeys == 0 {
                    // `EVAL script 0`: no keys, and nothing wrong with that.
                    continue;
                }
                let first = first + i64::from(firstkey);
                (first, first + numkeys - 1, keystep)
            }
            FindKeys::Unknown => {
                out.unknown = true;
                continue;
            }
        };
        if first < 1 || last >= argc || last < first {
            out.malformed = true;
            continue;
        }
        // A spec never has a step below 1; one built by hand must not loop forever.
        let step = usize::try_from(step).unwrap_or(1).max(1);
        // `1 <= first <= last < argc`, so both fit.
        out.positions.extend((first as usize..=last as usize).step_by(step));
        out.unknown |= spec.incomplete;
    }
    out
}

/// The index of `keyword` (any case) in `words`, searched for from
/// `startfrom` as the server does: forwards up to the last but one word when
/// positive, else backwards from `len + startfrom` down to index 2 (a
/// `startfrom` of 0 finds nothing). The name (index 0) is never searched.
fn find_keyword(words: &[&[u8]], keyword: &str, startfrom: i32) -> Option<usize> {
    let argc = words.len() as i64;
    let startfrom = i64::from(startfrom);
    let is = |i: i64| words[i as usize].eq_ignore_ascii_case(keyword.as_bytes());
    if startfrom > 0 {
        // The server stops before the last word: a keyword there has no key after it.
        (startfrom..argc - 1).find(|&i| is(i)).map(|i| i as usize)
    } else {
        let start = argc + startfrom;
        if start >= argc {
            return None;
        }
        (2..=start).rev().find(|&i| is(i)).map(|i| i as usize)
    }
}

/// A number of keys as the server reads it (`string2ll`, not negative):
/// decimal digits without sign, spaces or leading zeros.
fn parse_count(word: &[u8]) -> Option<i64> {
    if word.is_empty() || word.len() > 18 || (word[0] == b'0' && word.len() > 1) {
        return None;
    }
    word.iter().try_fold(0i64, |n, &b| b.is_ascii_digit().then(|| n * 10 + i64::from(b - b'0')))
}

/// The spec entry for the command `words` (a whole command, as sent), given
/// what the name look-up found (`info`).
///
/// A raw `execute_cmd("XINFO", ["STREAM", "k"])` is looked up by its first
/// word: the container `XINFO`, which has no key specs. When the second word
/// names a subcommand of it, this is that subcommand's entry
/// (`XINFO STREAM`). Without `info` (a name the look-up did not know),
/// `words[0]` is looked up, then the same. Otherwise `info` as it is.
#[allow(dead_code)] // for the cluster client
pub(crate) fn resolve(info: Option<&'static CommandInfo>, words: &[&[u8]]) -> Option<&'static CommandInfo> {
    let info = match info {
        Some(info) => info,
        None => crate::commands::command_info(std::str::from_utf8(words.first()?).ok()?)?,
    };
    // A container has no key specs of its own (its subcommands have them):
    // commands with keys need no second look-up.
    if info.words != 1 || !info.keys.is_empty() {
        return Some(info);
    }
    let sub = words.get(1).and_then(|w| std::str::from_utf8(w).ok());
    let sub = sub.filter(|s| !s.is_empty() && !s.bytes().any(|b| b.is_ascii_whitespace()));
    let Some(sub) = sub else { return Some(info) };
    // The look-up falls back to the first word: only a two-word entry is the subcommand.
    match crate::commands::command_info(&format!("{} {sub}", info.name)) {
        Some(found) if found.words == 2 => Some(found),
        _ => Some(info),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::command_info;

    fn info(name: &str) -> &'static CommandInfo {
        command_info(name).unwrap_or_else(|| panic!("{name} is in the spec"))
    }

    fn split(cmd: &str) -> Vec<&[u8]> {
        cmd.split(' ').map(|w| if w == "\"\"" { &b""[..] } else { w.as_bytes() }).collect()
    }

    /// The key words of `cmd` (words split at spaces, `""` an empty one),
    /// its info resolved from its first word, and the flags.
    fn keys(cmd: &str) -> (Vec<&str>, bool, bool) {
        let words = split(cmd);
        let info = resolve(command_info(std::str::from_utf8(words[0]).unwrap()), &words).unwrap();
        let found = key_positions(info, &words);
        let keys = found.positions.iter().map(|&i| std::str::from_utf8(words[i]).unwrap()).collect();
        (keys, found.unknown, found.malformed)
    }

    fn ok(cmd: &str) -> Vec<&str> {
        let (keys, unknown, malformed) = keys(cmd);
        assert!(!unknown && !malformed, "{cmd}: unknown {unknown}, malformed {malformed}");
        keys
    }

    #[test]
    fn single_and_ranges() {
        assert_eq!(ok("GET k"), ["k"]);
        assert_eq!(ok("SET k v NX GET EX 10"), ["k"]);
        assert_eq!(ok("MSET k1 v1 k2 v2"), ["k1", "k2"]);
        assert_eq!(ok("MGET a b c"), ["a", "b", "c"]);
        assert_eq!(ok("DEL a b c d e"), ["a", "b", "c", "d", "e"]);
        assert_eq!(ok("BITOP AND dst a b"), ["dst", "a", "b"]);
        assert_eq!(ok("OBJECT ENCODING k"), ["k"]);
        assert_eq!(ok("SPUBLISH chan msg"), ["chan"]);
        assert_eq!(ok("PING"), [] as [&str; 0]);
        assert_eq!(ok("DBSIZE"), [] as [&str; 0]);
    }

    #[test]
    fn positions_count_from_the_name() {
        let words = split("MSET k1 v1 k2 v2");
        assert_eq!(key_positions(info("MSET"), &words).positions, [1, 3]);
        let words = split("XINFO STREAM k");
        assert_eq!(key_positions(info("XINFO STREAM"), &words).positions, [2]);
    }

    #[test]
    fn keywords() {
        assert_eq!(ok("XREAD COUNT 2 STREAMS a b 0 0"), ["a", "b"]);
        assert_eq!(ok("XREAD count 2 streams a b c 0 0 0"), ["a", "b", "c"]);
        assert_eq!(ok("XREADGROUP GROUP g c STREAMS a 0"), ["a"]);
        // Optional keywords, there or not.
        assert_eq!(ok("GEORADIUS k 0 0 1 km STORE dst"), ["k", "dst"]);
        assert_eq!(ok("GEORADIUS k 0 0 1 km storedist dst"), ["k", "dst"]);
        assert_eq!(ok("GEORADIUS k 0 0 1 km"), ["k"]);
        // From the end, backwards; the spec flags it incomplete.
        let (k, unknown, malformed) = keys(r#"MIGRATE host port "" 0 5000 KEYS k1 k2"#);
        // Index 3 is declared a key even when empty: that is the spec's word.
        assert_eq!(k, ["", "k1", "k2"]);
        assert!(unknown && !malformed);
        assert_eq!(ok("MIGRATE host port key 0 5000"), ["key"]);
        assert_eq!(ok("MIGRATE host port key 0 5000 COPY REPLACE"), ["key"]);
    }

    #[test]
    fn numbers_of_keys() {
        assert_eq!(ok("EVAL script 2 k1 k2 a1"), ["k1", "k2"]);
        assert_eq!(ok("EVAL script 0 a1 a2"), [] as [&str; 0]);
        assert_eq!(ok("ZUNIONSTORE dst 2 a b WEIGHTS 1 2"), ["dst", "a", "b"]);
        assert_eq!(ok("LMPOP 2 a b LEFT"), ["a", "b"]);
    }

    #[test]
    fn subcommands_resolve_from_their_container() {
        let words = split("XINFO STREAM k");
        assert_eq!(resolve(command_info("XINFO"), &words), command_info("XINFO STREAM"));
        assert_eq!(resolve(None, &words), command_info("XINFO STREAM"));
        assert_eq!(resolve(None, &split("get k")), command_info("GET"));
        assert_eq!(resolve(None, &split("NOSUCH k")), None);
        // Not a subcommand: the container stays, with no keys.
        assert_eq!(resolve(command_info("XINFO"), &split("XINFO NOPE k")), command_info("XINFO"));
        assert_eq!(resolve(command_info("XINFO"), &["XINFO".as_bytes(), b"STREAM k"]), command_info("XINFO"));
        assert_eq!(resolve(command_info("XINFO"), &split("XINFO")), command_info("XINFO"));
        // Already a subcommand, or not a container.
        assert_eq!(
            resolve(command_info("OBJECT ENCODING"), &split("OBJECT ENCODING k")),
            command_info("OBJECT ENCODING")
        );
        assert_eq!(resolve(command_info("GET"), &split("GET STREAM")), command_info("GET"));
        assert_eq!(ok("xinfo stream k"), ["k"]);
    }

    #[test]
    fn unknown_specs_are_flagged() {
        let (k, unknown, malformed) = keys("SORT k STORE d");
        assert_eq!(k, ["k"]);
        assert!(unknown && !malformed);
        let (k, unknown, _) = keys("SORT k");
        assert_eq!(k, ["k"]);
        assert!(unknown, "BY/GET patterns may name keys");
    }

    #[test]
    fn malformed_commands_do_not_panic() {
        for cmd in [
            "EVAL script x k1",
            "EVAL script 99 k1",
            "EVAL script -1 k1",
            "EVAL script +1 k1",
            "EVAL script 01 k1",
            "EVAL script 99999999999999999999 k1",
            "EVAL script",
            "GET",
            "MGET",
            "LMPOP 3 a b",
        ] {
            let (k, unknown, malformed) = keys(cmd);
            assert!(k.is_empty() && malformed && !unknown, "{cmd}: {k:?}");
        }
        // The specs that fit still give their keys.
        let (k, _, malformed) = keys("ZUNIONSTORE dst x a b");
        assert_eq!((k, malformed), (vec!["dst"], true));
        // Nothing but a name, or nothing at all.
        assert_eq!(key_positions(info("GET"), &[]), KeyPositions { malformed: true, ..Default::default() });
        assert_eq!(resolve(None, &[]), None);
        // A keyword that is not there (or is last, with no key after it)
        // finds nothing; the server's arity check rejects these.
        assert_eq!(ok("XREAD STREAMS"), [] as [&str; 0]);
        assert_eq!(ok("XREAD COUNT STREAMS"), [] as [&str; 0]);
        assert_eq!(ok("XREAD STREAMS STREAMS 0"), ["STREAMS"]);
        let (k, _, _) = keys("MIGRATE KEYS");
        assert!(k.is_empty());
    }

    #[test]
    fn hand_made_specs_do_not_loop_or_overflow() {
        const fn spec(begin: BeginSearch, find: FindKeys) -> KeySpec {
            KeySpec { begin, find, incomplete: false }
        }
        static KEYS: &[KeySpec] = &[
            spec(BeginSearch::Index(1), FindKeys::Range { lastkey: -1, keystep: 0, limit: 0 }),
            spec(BeginSearch::Index(i32::MAX), FindKeys::Range { lastkey: i32::MAX, keystep: -3, limit: i32::MIN }),
            spec(BeginSearch::Index(2), FindKeys::Keynum { keynumidx: i32::MIN, firstkey: 1, keystep: 1 }),
            spec(BeginSearch::Index(2), FindKeys::Keynum { keynumidx: 1, firstkey: i32::MAX, keystep: i32::MAX }),
            spec(BeginSearch::Index(2), FindKeys::Keynum { keynumidx: 1, firstkey: i32::MIN, keystep: 1 }),
            spec(
                BeginSearch::Keyword { keyword: "K", startfrom: i32::MIN },
                FindKeys::Range { lastkey: -1, keystep: 1, limit: i32::MAX },
            ),
            spec(BeginSearch::Keyword { keyword: "k", startfrom: i32::MAX }, FindKeys::Unknown),
            spec(BeginSearch::Keyword { keyword: "k", startfrom: 0 }, FindKeys::Unknown),
            spec(BeginSearch::Index(-5), FindKeys::Range { lastkey: 0, keystep: 1, limit: 0 }),
            spec(BeginSearch::Index(1), FindKeys::Range { lastkey: i32::MIN, keystep: 1, limit: 0 }),
        ];
        let custom = CommandInfo { keys: KEYS, ..*info("GET") };
        let found = key_positions(&custom, &split("X a K 1 b"));
        assert_eq!(found.positions, [1, 2, 3, 4]);
        assert!(found.malformed && !found.unknown);
        static UNKNOWN: &[KeySpec] = &[spec(BeginSearch::Keyword { keyword: "k", startfrom: 1 }, FindKeys::Unknown)];
        let found = key_positions(&CommandInfo { keys: UNKNOWN, ..custom }, &split("X a K 1 b"));
        assert_eq!(found, KeyPositions { unknown: true, ..Default::default() });
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
