//! The reply probe: every group of commands called through its generated
//! method with its default reply type, under RESP2 and RESP3, against a real
//! server, each reply checked for the value the server should send.
//!
//! A default type that cannot read what the server sends is a bug in
//! `siderpy-macros/replies.json` (or in the conversions). The probe counts the
//! distinct commands it ran and the spec groups they belong to, so that it
//! keeps covering every group. Commands queued inside MULTI (their reply is
//! `QUEUED`) go through `execute_cmd` and are not counted.

// Deprecated commands (GETSET, RPOPLPUSH, GEORADIUS, SLAVEOF...) are probed too.
#![allow(deprecated)]

#[macro_use]
mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;
use std::time::Duration;

use bytes::Bytes;
use siderpy::prelude::*;
use siderpy::types::{
    BitcountIndexUnit, BitfieldOperation, BitfieldOverflow, BitfieldWriteOperation, BitposIndexUnit, BlmoveWherefrom,
    BlmoveWhereto, BlmpopWhere, BzmpopWhere, ClientCachingMode, ClientKillFilter, ClientKillNewFormat,
    ClientNoEvictEnabled, ClientReplyOnOffSkip, ClientTrackingStatus, GeoradiusRoUnit, GeoradiusUnit,
    GeoradiusbymemberRoUnit, GeoradiusbymemberUnit, GeosearchBy, GeosearchFrom, GeosearchUnit, GeosearchstoreBy,
    GeosearchstoreFrom, GeosearchstoreUnit, LinsertWhere, LmoveWherefrom, LmoveWhereto, LmpopWhere,
    MigrateKeyOrEmptyString, ReplicaofArgs, ScriptDebugMode, SlaveofArgs, XaddIdOrAuto, XgroupCreateId, XgroupSetidId,
    XtrimStrategy, ZmpopWhere,
};
use siderpy::{FromValue, Protocol, Redis, Value};
use support::RedisServer;

protocol_tests!(reply_probe);

/// The spec groups the probe must reach (all but `cluster`).
const GROUPS: [&str; 15] = [
    "bitmap",
    "connection",
    "generic",
    "geo",
    "hash",
    "hyperloglog",
    "list",
    "pubsub",
    "scripting",
    "server",
    "set",
    "sorted-set",
    "stream",
    "string",
    "transactions",
];

/// At least this many distinct commands are probed.
const MIN_COMMANDS: usize = 150;

/// What the probe ran and what went wrong. A wrong reply does not stop the
/// probe, so one run lists every failure.
struct Probe {
    proto: Protocol,
    /// Spec group -> distinct command names.
    seen: BTreeMap<&'static str, BTreeSet<&'static str>>,
    failures: Vec<String>,
}

impl Probe {
    fn new(proto: Protocol) -> Probe {
        Probe { proto, seen: BTreeMap::new(), failures: Vec::new() }
    }

    /// Counts `name` (as `Cmd::name` spells it) under its spec group.
    fn record(&mut self, name: &str) {
        let info = siderpy::command_info(name).unwrap_or_else(|| panic!("{name} is not a command of the spec"));
        assert_eq!(info.name, name, "{name} was looked up as another command");
        self.seen.entry(info.group).or_default().insert(info.name);
    }

    fn fail(&mut self, name: &str, line: u32, what: String) {
        self.failures.push(format!("{name} (line {line}, {:?}): {what}", self.proto));
    }

    fn failures(&self) -> String {
        self.failures.join("\n")
    }

    fn count(&self) -> usize {
        self.seen.values().map(BTreeSet::len).sum()
    }
}

/// Runs a generated command with its default reply type and returns the
/// reply; an error reply or a failed conversion panics, naming the command.
/// For replies later steps need.
macro_rules! call {
    ($pr:ident, $cmd:expr $(,)?) => {{
        let cmd = $cmd;
        let name = cmd.name();
        match cmd.await {
            Ok(got) => {
                $pr.record(&name);
                got
            }
            Err(e) => panic!("{name} (line {}, {:?}): {e}\nearlier failures:\n{}", line!(), $pr.proto, $pr.failures()),
        }
    }};
}

/// Runs a generated command with its default reply type; the reply must
/// equal `expected`.
macro_rules! check {
    ($pr:ident, $cmd:expr, $expected:expr $(,)?) => {{
        let cmd = $cmd;
        let name = cmd.name();
        match cmd.await {
            Ok(got) => {
                $pr.record(&name);
                let expected = $expected;
                if got != expected {
                    $pr.fail(&name, line!(), format!("replied {got:?}, expected {expected:?}"));
                }
            }
            Err(e) => $pr.fail(&name, line!(), format!("{e}")),
        }
    }};
}

/// Runs a generated command with its default reply type; the reply, bound
/// to the pattern (by reference), must make the condition true. For replies
/// whose content varies. Returns the reply, if there was one.
macro_rules! check_that {
    ($pr:ident, $cmd:expr, |$v:pat_param| $cond:expr $(,)?) => {{
        let cmd = $cmd;
        let name = cmd.name();
        match cmd.await {
            Ok(got) => {
                $pr.record(&name);
                let $v = &got;
                if !$cond {
                    $pr.fail(&name, line!(), format!("unexpected reply {got:?}"));
                }
                Some(got)
            }
            Err(e) => {
                $pr.fail(&name, line!(), format!("{e}"));
                None
            }
        }
    }};
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn bs(items: &[&str]) -> Vec<Bytes> {
    items.iter().map(|s| b(s)).collect()
}

fn set(items: &[&str]) -> HashSet<Bytes> {
    items.iter().map(|s| b(s)).collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(Bytes, Bytes)> {
    items.iter().map(|(k, v)| (b(k), b(v))).collect()
}

fn scored(items: &[(&str, f64)]) -> Vec<(Bytes, f64)> {
    items.iter().map(|(m, s)| (b(m), *s)).collect()
}

fn bulk(s: &str) -> Value {
    Value::Bulk(b(s))
}

/// A record (`Value` map in RESP3, flat array in RESP2) by field name.
fn record(v: &Value) -> HashMap<String, Value> {
    FromValue::from_value(v.clone()).unwrap_or_else(|e| panic!("not a record: {v:?}: {e}"))
}

/// The text of a string-like `Value` (bulk, status or verbatim).
fn text(v: &Value) -> String {
    v.as_bytes().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default()
}

/// The elements of an array or set `Value`.
fn items(v: &Value) -> &[Value] {
    match v {
        Value::Array(items) | Value::Set(items) => items,
        _ => &[],
    }
}

/// The text items of an array or set `Value`.
fn texts(v: &Value) -> BTreeSet<String> {
    items(v).iter().map(text).collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-3
}

async fn reply_probe(p: Protocol) {
    let started = std::time::Instant::now();
    // ACL SAVE and LOAD need an aclfile, which must exist when the server starts.
    let acl_dir = tempfile::tempdir().unwrap();
    let aclfile = acl_dir.path().join("users.acl");
    std::fs::write(&aclfile, "").unwrap();
    let server = RedisServer::builder()
        .config(&format!("aclfile {:?}", aclfile.display().to_string()))
        // A 30 ms DEBUG SLEEP is a latency event.
        .config("latency-monitor-threshold 1")
        // A script busy for 20 ms can be killed (SCRIPT KILL, FUNCTION KILL).
        .config("busy-reply-threshold 20")
        .start();
    let url = support::url(&server, p);
    let redis = Redis::new(&url).unwrap();
    let mut pr = Probe::new(p);

    strings(&mut pr, &redis).await;
    lists(&mut pr, &redis).await;
    sets(&mut pr, &redis).await;
    sorted_sets(&mut pr, &redis).await;
    hashes(&mut pr, &redis).await;
    streams(&mut pr, &redis).await;
    geo(&mut pr, &redis).await;
    hyperloglog(&mut pr, &redis).await;
    bitmaps(&mut pr, &redis).await;
    generic(&mut pr, &redis).await;
    scripting(&mut pr, &redis, &url).await;
    server_commands(&mut pr, &redis, &url).await;
    connection(&mut pr, &redis, &url).await;
    pubsub(&mut pr, &redis, &url).await;
    transactions(&mut pr, &redis).await;

    let mut summary = format!("{p:?}: {} distinct commands probed in {:?}:", pr.count(), started.elapsed());
    for (group, names) in &pr.seen {
        write!(summary, " {group} {}", names.len()).unwrap();
    }
    println!("{summary}");
    let probed: BTreeSet<&str> = pr.seen.values().flatten().copied().collect();
    let missing: Vec<&str> = siderpy::__GENERATED_METHODS
        .iter()
        .map(|(command, _)| *command)
        .filter(|c| !probed.contains(c) && siderpy::command_info(c).is_some_and(|i| i.group != "cluster"))
        .collect();
    println!("{p:?}: not probed (cluster aside): {}", missing.join(", "));
    assert!(pr.failures.is_empty(), "{} failures:\n{}", pr.failures.len(), pr.failures());
    assert!(pr.count() >= MIN_COMMANDS, "only {} commands probed: {summary}", pr.count());
    let groups: Vec<&str> = pr.seen.keys().copied().collect();
    assert_eq!(groups, GROUPS, "the groups probed");
}

/// FLUSHALL between groups, so each starts from an empty server.
async fn flushall(pr: &mut Probe, redis: &Redis) {
    check!(pr, redis.flushall(), ());
}

async fn strings(pr: &mut Probe, redis: &Redis) {
    flushall(pr, redis).await;
    check!(pr, redis.set("s", "hello"), true);
    check!(pr, redis.set("s", "other").nx(), false);
    check!(pr, redis.get("s"), Some(b("hello")));
    check!(pr, redis.get("nokey"), None);
    check!(pr, redis.set("s", "world").get(), Some(b("hello")));
    check!(pr, redis.set("nokey2", "x").xx().get(), None);
    check!(pr, redis.append("s", "!"), 6);
    check!(pr, redis.strlen("s"), 6);
    check!(pr, redis.getrange("s", 0, 2), b("wor"));
    check!(pr, redis.substr("s", -2, -1), b("d!"));
    check!(pr, redis.setrange("s", 0, "W"), 6);
    check!(pr, redis.getset("s", "new"), Some(b("World!")));
    check!(pr, redis.getset("fresh", "v"), None);
    check!(pr, redis.incr("n"), 1);
    check!(pr, redis.incrby("n", 10), 11);
    check!(pr, redis.decr("n"), 10);
    check!(pr, redis.decrby("n", 3), 7);
    check!(pr, redis.incrbyfloat("f", 2.5), 2.5);
    check!(pr, redis.incrbyfloat("f", -0.25), 2.25);
    check!(pr, redis.getdel("n"), Some(b("7")));
    check!(pr, redis.getdel("n"), None);
    check!(pr, redis.getex("s").ex(100), Some(b("new")));
    check_that!(pr, redis.ttl("s"), |t| (99..=100).contains(t));
    check!(pr, redis.getex("nokey"), None);
    check!(pr, redis.setnx("s", "x"), false);
    check!(pr, redis.setnx("s2", "x"), true);
    check!(pr, redis.setex("ex", 100, "v"), ());
    check!(pr, redis.psetex("px", 100_000, "v"), ());
    check_that!(pr, redis.pttl("px"), |ms| (99_000..=100_000).contains(ms));
    check!(pr, redis.mset([("a", "ohmytext"), ("b", "mynewtext")]), ());
    check!(pr, redis.msetnx([("a", "x"), ("c", "y")]), false);
    check!(pr, redis.msetnx([("c", "x"), ("d", "y")]), true);
    check!(pr, redis.mget(["a", "nokey", "b"]), vec![Some(b("ohmytext")), None, Some(b("mynewtext"))]);
    check!(pr, redis.lcs("a", "b"), b("mytext"));
    check!(pr, redis.lcs("a", "b").len(), 6);
    check_that!(pr, redis.lcs("a", "b").idx(), |m| {
        m["len"] == Value::Int(6)
            && items(&m["matches"]).len() == 2
            && items(&m["matches"]).iter().all(|pair| items(pair).len() == 2)
    });
    // The spec names both LEN and MINMATCHLEN `len`; only the LEN flag
    // changes the reply type, so the options go in any order.
    check_that!(pr, redis.lcs("a", "b").idx().minmatchlen(4), |m| {
        m["len"] == Value::Int(6) && items(&m["matches"]).len() == 1
    });
    check_that!(pr, redis.lcs("a", "b").idx().withmatchlen(), |v| {
        let m = record(v);
        // Each match is [[start, end], [start, end], length].
        m["len"] == Value::Int(6) && items(&m["matches"]).iter().all(|e| items(e).len() == 3)
    });
}

async fn lists(pr: &mut Probe, redis: &Redis) {
    flushall(pr, redis).await;
    check!(pr, redis.rpush("l", ["a", "b", "c", "a"]), 4);
    check!(pr, redis.lpush("l2", ["x", "y"]), 2);
    check!(pr, redis.lpushx("nokey", ["x"]), 0);
    check!(pr, redis.rpushx("l2", ["z"]), 3);
    check!(pr, redis.llen("l"), 4);
    check!(pr, redis.lrange("l", 0, -1), bs(&["a", "b", "c", "a"]));
    check!(pr, redis.lindex("l", 1), Some(b("b")));
    check!(pr, redis.lindex("l", 99), None);
    check!(pr, redis.linsert("l", LinsertWhere::Before, "c", "x"), 5);
    check!(pr, redis.linsert("l", LinsertWhere::After, "nopivot", "x"), -1);
    check!(pr, redis.lpos("l", "a").rank(2), Some(4));
    check!(pr, redis.lpos("l", "nothere"), None);
    check!(pr, redis.lrem("l", 1, "x"), 1);
    check!(pr, redis.lset("l", 0, "A"), ());
    check!(pr, redis.ltrim("l", 0, 2), ());
    check!(pr, redis.lrange("l", 0, -1), bs(&["A", "b", "c"]));
    check!(pr, redis.lpop("l"), Some(b("A")));
    check!(pr, redis.rpop("l"), Some(b("c")));
    check!(pr, redis.lpop("nokey"), None);
    check!(pr, redis.rpop("nokey"), None);
    // l = [b], l2 = [y, x, z]
    check!(pr, redis.lmove("l", "l2", LmoveWherefrom::Left, LmoveWhereto::Right), Some(b("b")));
    check!(pr, redis.lmove("l", "l2", LmoveWherefrom::Left, LmoveWhereto::Right), None);
    check!(pr, redis.rpoplpush("l2", "l"), Some(b("b")));
    check!(pr, redis.rpoplpush("nokey", "l"), None);
    check!(pr, redis.lmpop(["nokey", "l2"], LmpopWhere::Left).count(2), Some((b("l2"), bs(&["y", "x"]))));
    check!(pr, redis.lmpop(["nokey"], LmpopWhere::Left), None);
    check!(pr, redis.blpop(["nokey", "l"], 1.0), Some((b("l"), b("b"))));
    check!(pr, redis.brpop(["l"], 0.01), None);
    check!(pr, redis.rpush("l", ["a", "b", "c"]), 3);
    // l = [a, b, c], l2 = [z]
    check!(pr, redis.blmove("l", "l2", BlmoveWherefrom::Right, BlmoveWhereto::Left, 1.0), Some(b("c")));
    check!(pr, redis.blmove("nokey", "l2", BlmoveWherefrom::Right, BlmoveWhereto::Left, 0.01), None);
    check!(pr, redis.brpoplpush("l2", "l", 1.0), Some(b("z")));
    check!(pr, redis.brpoplpush("nokey", "l", 0.01), None);
    check!(pr, redis.blmpop(1.0, ["l"], BlmpopWhere::Right).count(3), Some((b("l"), bs(&["b", "a", "z"]))));
    check!(pr, redis.blmpop(0.01, ["l"], BlmpopWhere::Right), None);
}

async fn sets(pr: &mut Probe, redis: &Redis) {
    flushall(pr, redis).await;
    check!(pr, redis.sadd("s", ["a", "b", "c", "d"]), 4);
    check!(pr, redis.sadd("t", ["c", "d", "e"]), 3);
    check!(pr, redis.scard("s"), 4);
    check!(pr, redis.smembers("s"), set(&["a", "b", "c", "d"]));
    check!(pr, redis.smembers("nokey"), set(&[]));
    check!(pr, redis.sismember("s", "a"), true);
    check!(pr, redis.sismember("s", "z"), false);
    check!(pr, redis.smismember("s", ["a", "z"]), vec![true, false]);
    check!(pr, redis.sdiff(["s", "t"]), set(&["a", "b"]));
    check!(pr, redis.sinter(["s", "t"]), set(&["c", "d"]));
    check!(pr, redis.sunion(["s", "t"]), set(&["a", "b", "c", "d", "e"]));
    check!(pr, redis.sdiffstore("d", ["s", "t"]), 2);
    check!(pr, redis.sinterstore("i", ["s", "t"]), 2);
    check!(pr, redis.sunionstore("u", ["s", "t"]), 5);
    check!(pr, redis.sintercard(["s", "t"]), 2);
    check!(pr, redis.sintercard(["s", "t"]).limit(1), 1);
    check!(pr, redis.smove("s", "t", "a"), true);
    check!(pr, redis.smove("s", "t", "a"), false);
    check!(pr, redis.srem("s", ["b", "zz"]), 1);
    // s = {c, d}
    check_that!(pr, redis.spop("s"), |m| m.as_ref().is_some_and(|m| m == "c" || m == "d"));
    check!(pr, redis.spop("nokey"), None);
    check_that!(pr, redis.srandmember("t"), |m| m.as_ref().is_some_and(|m| set(&["a", "c", "d", "e"]).contains(m)));
    check!(pr, redis.srandmember("nokey"), None);
    check_that!(pr, redis.sscan("s", 0).count(100), |(cursor, members)| {
        *cursor == 0 && members.len() == 1 && (members[0] == "c" || members[0] == "d")
    });
    check_that!(pr, redis.sscan("t", 0).match_("*").count(100), |(cursor, members)| {
        *cursor == 0 && members.iter().cloned().collect::<HashSet<_>>() == set(&["a", "c", "d", "e"])
    });
}

async fn sorted_sets(pr: &mut Probe, redis: &Redis) {
    flushall(pr, redis).await;
    check!(pr, redis.zadd("z", [(1.0, "a"), (2.5, "b"), (3.0, "c")]), 3);
    check!(pr, redis.zadd("z2", [(2.0, "b"), (5.0, "x")]), 2);
    check!(pr, redis.zadd("z", [(1.0, "a")]).incr(), Some(2.0));
    check!(pr, redis.zadd("z", [(1.0, "a")]).nx().incr(), None);
    check!(pr, redis.zadd("z", [(0.5, "a"), (9.0, "new")]).xx().ch(), 1);
    check!(pr, redis.zadd("z", [(2.0, "a")]).gt().ch(), 1);
    // z = a 2, b 2.5, c 3
    check!(pr, redis.zcard("z"), 3);
    check!(pr, redis.zcount("z", 2.5, f64::INFINITY), 2);
    check!(pr, redis.zscore("z", "b"), Some(2.5));
    check!(pr, redis.zscore("z", "nomember"), None);
    check!(pr, redis.zmscore("z", ["a", "nomember"]), vec![Some(2.0), None]);
    check!(pr, redis.zincrby("z", 1, "c"), 4.0);
    // z = a 2, b 2.5, c 4
    check!(pr, redis.zrank("z", "b"), Some(1));
    check!(pr, redis.zrank("z", "nomember"), None);
    check!(pr, redis.zrevrank("z", "a"), Some(2));
    check!(pr, redis.zrevrank("z", "nomember"), None);
    check!(pr, redis.zrange("z", 0, -1), bs(&["a", "b", "c"]));
    check!(pr, redis.zrange("z", 0, -1).withscores(), scored(&[("a", 2.0), ("b", 2.5), ("c", 4.0)]));
    check!(pr, redis.zadd("zi", [(f64::NEG_INFINITY, "lo"), (f64::INFINITY, "hi")]), 2);
    check!(pr, redis.zrange("zi", 0, -1).withscores(), scored(&[("lo", f64::NEG_INFINITY), ("hi", f64::INFINITY)]));
    check!(pr, redis.zscore("zi", "hi"), Some(f64::INFINITY));
    check!(
        pr,
        redis.zrange("z", "+inf", "-inf").byscore().rev().limit(0, 2).withscores(),
        scored(&[("c", 4.0), ("b", 2.5)])
    );
    check!(pr, redis.zrangebyscore("z", 2.5, f64::INFINITY).withscores(), scored(&[("b", 2.5), ("c", 4.0)]));
    check!(pr, redis.zrangebyscore("z", f64::NEG_INFINITY, 2.0), bs(&["a"]));
    check!(pr, redis.zrevrange("z", 0, 0).withscores(), scored(&[("c", 4.0)]));
    check!(pr, redis.zrevrangebyscore("z", f64::INFINITY, 2.5), bs(&["c", "b"]));
    check!(pr, redis.zadd("zl", [(0.0, "a"), (0.0, "b"), (0.0, "c")]), 3);
    check!(pr, redis.zrangebylex("zl", "-", "(c"), bs(&["a", "b"]));
    check!(pr, redis.zrevrangebylex("zl", "+", "[b"), bs(&["c", "b"]));
    check!(pr, redis.zlexcount("zl", "[b", "+"), 2);
    check!(pr, redis.zremrangebylex("zl", "[c", "+"), 1);
    check!(pr, redis.zrangestore("dst", "z", 0, 1), 2);
    check!(pr, redis.zpopmin("z"), scored(&[("a", 2.0)]));
    check!(pr, redis.zpopmax("z").count(2), scored(&[("c", 4.0), ("b", 2.5)]));
    check!(pr, redis.zpopmin("z"), scored(&[]));
    check!(pr, redis.zadd("z", [(1.0, "a"), (2.0, "b"), (3.0, "c")]), 3);
    check!(pr, redis.bzpopmin(["nokey", "z"], 1.0), Some((b("z"), b("a"), 1.0)));
    check!(pr, redis.bzpopmax(["nokey"], 0.01), None);
    check!(pr, redis.zmpop(["z"], ZmpopWhere::Min).count(2), Some((b("z"), scored(&[("b", 2.0), ("c", 3.0)]))));
    check!(pr, redis.zmpop(["z"], ZmpopWhere::Min), None);
    check!(pr, redis.zadd("z", [(1.0, "a"), (2.0, "b"), (3.0, "c")]), 3);
    check!(pr, redis.bzmpop(1.0, ["z"], BzmpopWhere::Max), Some((b("z"), scored(&[("c", 3.0)]))));
    check!(pr, redis.bzmpop(0.01, ["nokey"], BzmpopWhere::Max), None);
    check_that!(pr, redis.zrandmember("z"), |m| m.as_ref().is_some_and(|m| m == "a" || m == "b"));
    check!(pr, redis.zrandmember("nokey"), None);
    check!(pr, redis.zrem("z", ["a", "nomember"]), 1);
    check!(pr, redis.zadd("z", [(1.0, "a"), (3.0, "c"), (4.0, "d")]), 3);
    check!(pr, redis.zremrangebyrank("z", 0, 0), 1);
    check!(pr, redis.zremrangebyscore("z", 4.0, 4.0), 1);
    // z = b 2, c 3; z2 = b 2, x 5
    check!(pr, redis.zscan("z", 0), (0, scored(&[("b", 2.0), ("c", 3.0)])));
    check!(pr, redis.zunion(["z", "z2"]).withscores(), scored(&[("c", 3.0), ("b", 4.0), ("x", 5.0)]));
    check!(pr, redis.zunion(["z", "z2"]).aggregate_max(), bs(&["b", "c", "x"]));
    check!(pr, redis.zinter(["z", "z2"]), bs(&["b"]));
    check!(pr, redis.zinter(["z", "z2"]).weights([1, 3]).withscores(), scored(&[("b", 8.0)]));
    check!(pr, redis.zdiff(["z", "z2"]).withscores(), scored(&[("c", 3.0)]));
    check!(pr, redis.zdiff(["z", "z2"]), bs(&["c"]));
    check!(pr, redis.zunionstore("out", ["z", "z2"]), 3);
    check!(pr, redis.zinterstore("out", ["z", "z2"]).weights([1, 2]), 1);
    check!(pr, redis.zscore("out", "b"), Some(6.0));
    check!(pr, redis.zdiffstore("out", ["z", "z2"]), 1);
    check!(pr, redis.zintercard(["z", "z2"]), 1);
    check!(pr, redis.zintercard(["z", "nokey"]).limit(5), 0);

    // Fractional increments and weights (the spec types them `integer`;
    // the macro knows better) and exclusive score bounds.
    check!(pr, redis.zincrby("z", 0.5, "b"), 2.5);
    check!(pr, redis.zcount("z", siderpy::Exclusive(2.5), f64::INFINITY), 1);
    check!(pr, redis.zinterstore("out", ["z", "z2"]).weights([0.5, 1.0]), 1);
    check!(pr, redis.zscore("out", "b"), Some(3.25));
}

async fn hashes(pr: &mut Probe, redis: &Redis) {
    flushall(pr, redis).await;
    check!(pr, redis.hset("h", [("f1", "v1"), ("f2", "2")]), 2);
    check!(pr, redis.hsetnx("h", "f1", "x"), false);
    check!(pr, redis.hsetnx("h", "f3", "v3"), true);
    check!(pr, redis.hget("h", "f1"), Some(b("v1")));
    check!(pr, redis.hget("h", "nofield"), None);
    check!(pr, redis.hmget("h", ["f1", "nofield"]), vec![Some(b("v1")), None]);
    check!(pr, redis.hmset("h", [("f4", "v4")]), ());
    let all: HashMap<Bytes, Bytes> =
        pairs(&[("f1", "v1"), ("f2", "2"), ("f3", "v3"), ("f4", "v4")]).into_iter().collect();
    check!(pr, redis.hgetall("h"), all);
    check!(pr, redis.hgetall("nokey"), HashMap::new());
    check!(pr, redis.hdel("h", ["f4", "nofield"]), 1);
    check!(pr, redis.hexists("h", "f1"), true);
    check!(pr, redis.hexists("h", "f4"), false);
    check!(pr, redis.hincrby("h", "f2", 3), 5);
    check!(pr, redis.hincrbyfloat("h", "f2", 0.5), 5.5);
    check!(pr, redis.hkeys("h"), bs(&["f1", "f2", "f3"]));
    check!(pr, redis.hvals("h"), bs(&["v1", "5.5", "v3"]));
    check!(pr, redis.hlen("h"), 3);
    check!(pr, redis.hstrlen("h", "f1"), 2);
    check!(pr, redis.hstrlen("h", "nofield"), 0);
    check_that!(pr, redis.hrandfield("h"), |f| f.as_ref().is_some_and(|f| set(&["f1", "f2", "f3"]).contains(f)));
    check!(pr, redis.hrandfield("nokey"), None);
    check!(pr, redis.hscan("h", 0).match_("f[12]"), (0, pairs(&[("f1", "v1"), ("f2", "5.5")])));
    check!(pr, redis.hscan("nokey", 0).count(10), (0, vec![]));
}

async fn streams(pr: &mut Probe, redis: &Redis) {
    flushall(pr, redis).await;
    let id = |s: &str| XaddIdOrAuto::Id(s.into());
    let entry = |id: &str, fields: &[(&str, &str)]| (b(id), pairs(fields));
    check!(pr, redis.xadd("st", id("1-1"), [("a", "1"), ("b", "2")]), b("1-1"));
    check!(pr, redis.xadd("st", id("2-1"), [("a", "3")]), b("2-1"));
    check_that!(pr, redis.xadd("auto", XaddIdOrAuto::AutoId, [("c", "4")]), |id| {
        std::str::from_utf8(id).is_ok_and(|id| id.split_once('-').is_some_and(|(ms, _)| ms.parse::<u64>().is_ok()))
    });
    check!(pr, redis.xadd("nostream", XaddIdOrAuto::AutoId, [("a", "1")]).nomkstream(), None);
    check!(pr, redis.xlen("st"), 2);
    check!(pr, redis.xlen("nostream"), 0);
    let both = vec![entry("1-1", &[("a", "1"), ("b", "2")]), entry("2-1", &[("a", "3")])];
    check!(pr, redis.xrange("st", "-", "+"), both.clone());
    check!(pr, redis.xrange("st", "-", "+").count(1), both[..1].to_vec());
    check!(pr, redis.xrevrange("st", "+", "-").count(1), vec![entry("2-1", &[("a", "3")])]);
    check!(pr, redis.xread(["st"], ["0"]).count(10), Some(vec![(b("st"), both.clone())]));
    check!(pr, redis.xread(["nostream"], ["0"]), None);
    check!(pr, redis.xread(["st"], ["$"]).block(10), None);
    check!(pr, redis.xgroup_create("st", "g", XgroupCreateId::Id("0".into())), ());
    check!(pr, redis.xgroup_create("empty", "g2", XgroupCreateId::NewId).mkstream(), ());
    check!(pr, redis.xgroup_createconsumer("st", "g", "c2"), true);
    check!(pr, redis.xgroup_createconsumer("st", "g", "c2"), false);
    check!(pr, redis.xreadgroup("g", "c1", ["st"], [">"]), Some(vec![(b("st"), both.clone())]));
    check!(pr, redis.xreadgroup("g", "c1", ["st"], [">"]), None);
    check!(pr, redis.xadd("st", id("3-1"), [("d", "5")]), b("3-1"));
    check!(
        pr,
        redis.xreadgroup("g", "c2", ["st"], [">"]).noack().count(5),
        Some(vec![(b("st"), vec![entry("3-1", &[("d", "5")])])])
    );
    // Pending: 1-1 and 2-1, both c1's (NOACK left 3-1 out).
    check!(pr, redis.xpending("st", "g"), (2, Some(b("1-1")), Some(b("2-1")), vec![(b("c1"), 2)]));
    check!(pr, redis.xpending("empty", "g2"), (0, None, None, vec![]));
    check!(pr, redis.xack("st", "g", ["1-1", "9-9"]), 1);
    check!(pr, redis.xclaim("st", "g", "c2", 0, ["2-1"]), vec![entry("2-1", &[("a", "3")])]);
    check!(pr, redis.xclaim("st", "g", "c1", 0, ["2-1"]).justid(), bs(&["2-1"]));
    check!(pr, redis.xautoclaim("st", "g", "c2", 0, "0-0"), (b("0-0"), vec![entry("2-1", &[("a", "3")])], vec![]));
    check!(pr, redis.xautoclaim("st", "g", "c1", 0, "0-0").justid(), (b("0-0"), bs(&["2-1"]), vec![]));
    check!(pr, redis.xdel("st", ["2-1"]), 1);
    // 2-1 is still pending for c1 but deleted: its fields read as nil.
    check!(pr, redis.xreadgroup("g", "c1", ["st"], ["0"]), Some(vec![(b("st"), vec![entry("2-1", &[])])]));
    // XAUTOCLAIM drops it from the pending list and reports it as deleted.
    check!(pr, redis.xautoclaim("st", "g", "c2", 0, "0-0"), (b("0-0"), vec![], bs(&["2-1"])));
    check_that!(pr, redis.xinfo_stream("st"), |m| {
        m["length"] == Value::Int(2)
            && m["groups"] == Value::Int(1)
            && text(&m["last-generated-id"]) == "3-1"
            && items(&m["first-entry"]).first() == Some(&bulk("1-1"))
    });
    check_that!(pr, redis.xinfo_stream("st").full(None), |m| {
        m["length"] == Value::Int(2) && items(&m["entries"]).len() == 2 && items(&m["groups"]).len() == 1
    });
    check_that!(pr, redis.xinfo_stream("empty"), |m| {
        m["length"] == Value::Int(0) && m["first-entry"] == Value::Nil && m["last-entry"] == Value::Nil
    });
    check_that!(pr, redis.xinfo_groups("st"), |groups| {
        groups.len() == 1
            && text(&groups[0]["name"]) == "g"
            && groups[0]["consumers"] == Value::Int(2)
            && groups[0]["pending"] == Value::Int(0)
    });
    check_that!(pr, redis.xinfo_consumers("st", "g"), |consumers| {
        let names: BTreeSet<String> = consumers.iter().map(|c| text(&c["name"])).collect();
        names == BTreeSet::from(["c1".to_owned(), "c2".to_owned()])
            && consumers.iter().all(|c| c["pending"] == Value::Int(0))
    });
    check!(pr, redis.xgroup_delconsumer("st", "g", "c2"), 0);
    check!(pr, redis.xtrim("st", XtrimStrategy::Maxlen, None, 1, None), 1);
    check!(pr, redis.xsetid("st", "99-0"), ());
    check!(pr, redis.xgroup_setid("st", "g", XgroupSetidId::NewId), ());
    check!(pr, redis.xgroup_setid("st", "g", XgroupSetidId::Id("0".into())).entriesread(0), ());
    check!(pr, redis.xgroup_destroy("st", "g"), true);
    check!(pr, redis.xgroup_destroy("st", "g"), false);
    check_that!(pr, redis.xinfo_help(), |lines| lines[0].starts_with("XINFO "));
    check_that!(pr, redis.xgroup_help(), |lines| lines[0].starts_with("XGROUP "));
}

async fn geo(pr: &mut Probe, redis: &Redis) {
    flushall(pr, redis).await;
    let sicily = [(13.361389, 38.115556, "Palermo"), (15.087269, 37.502669, "Catania")];
    check!(pr, redis.geoadd("g", sicily), 2);
    check!(pr, redis.geoadd("g", sicily).nx(), 0);
    check!(pr, redis.geoadd("g", [(13.361389, 38.115556, "Palermo"), (13.583333, 37.316667, "Agrigento")]).ch(), 1);
    check!(pr, redis.zrem("g", ["Agrigento"]), 1);
    check_that!(pr, redis.geodist("g", "Palermo", "Catania").km(), |d| d.is_some_and(|d| close(d, 166.2742)));
    check_that!(pr, redis.geodist("g", "Palermo", "Catania"), |d| d.is_some_and(|d| close(d, 166274.1516)));
    check!(pr, redis.geodist("g", "Palermo", "nomember"), None);
    check!(
        pr,
        redis.geohash("g", ["Palermo", "Catania", "nomember"]),
        vec![Some("sqc8b49rny0".to_owned()), Some("sqdtr74hyu0".to_owned()), None]
    );
    check_that!(pr, redis.geopos("g", ["Palermo", "nomember"]), |pos| {
        pos.len() == 2
            && pos[0].is_some_and(|(lon, lat)| close(lon, 13.361389) && close(lat, 38.115556))
            && pos[1].is_none()
    });
    let from = || GeosearchFrom::Fromlonlat(15.0, 37.0);
    check!(
        pr,
        redis.geosearch("g", from(), GeosearchBy::Circle(200.0, GeosearchUnit::Km)).asc(),
        bs(&["Catania", "Palermo"])
    );
    check!(pr, redis.geosearch("g", from(), GeosearchBy::Circle(1.0, GeosearchUnit::M)), bs(&[]));
    check_that!(
        pr,
        redis
            .geosearch(
                "g",
                GeosearchFrom::Frommember("Palermo".into()),
                GeosearchBy::Box(400.0, 400.0, GeosearchUnit::Km)
            )
            .asc()
            .withdist(),
        |v| {
            let entries = items(v);
            entries.len() == 2
                && items(&entries[0]).first() == Some(&bulk("Palermo"))
                && text(&items(&entries[1])[1]) == "166.2742"
        }
    );
    check_that!(
        pr,
        redis
            .geosearch("g", from(), GeosearchBy::Circle(200.0, GeosearchUnit::Km))
            .asc()
            .count(1)
            .withcoord()
            .withdist()
            .withhash(),
        |v| {
            // [[name, dist, hash, [lon, lat]]]
            let entries = items(v);
            let e = entries.first().map(items).unwrap_or_default();
            entries.len() == 1
                && e.len() == 4
                && e[0] == bulk("Catania")
                && text(&e[1]) == "56.4413"
                && e[2] == Value::Int(3479447370796909)
                && items(&e[3]).len() == 2
        }
    );
    check!(
        pr,
        redis
            .geosearchstore(
                "dst",
                "g",
                GeosearchstoreFrom::Fromlonlat(15.0, 37.0),
                GeosearchstoreBy::Circle(200.0, GeosearchstoreUnit::Km)
            )
            .storedist(),
        2
    );
    check_that!(pr, redis.zscore("dst", "Catania"), |d| d.is_some_and(|d| close(d, 56.4413)));
    check!(pr, redis.georadius("g", 15.0, 37.0, 200.0, GeoradiusUnit::Km).asc(), bs(&["Catania", "Palermo"]));
    check_that!(pr, redis.georadius_ro("g", 15.0, 37.0, 200.0, GeoradiusRoUnit::Km).asc().withhash(), |v| {
        items(v).iter().map(|e| items(e).to_vec()).collect::<Vec<_>>()
            == vec![
                vec![bulk("Catania"), Value::Int(3479447370796909)],
                vec![bulk("Palermo"), Value::Int(3479099956230698)],
            ]
    });
    check!(
        pr,
        redis.georadiusbymember("g", "Palermo", 200.0, GeoradiusbymemberUnit::Km).asc(),
        bs(&["Palermo", "Catania"])
    );
    check!(
        pr,
        redis.georadiusbymember_ro("g", "Palermo", 200.0, GeoradiusbymemberRoUnit::Km).count(1).asc(),
        bs(&["Palermo"])
    );
}

async fn hyperloglog(pr: &mut Probe, redis: &Redis) {
    flushall(pr, redis).await;
    check!(pr, redis.pfadd("hll").element(["a", "b", "c"]), true);
    check!(pr, redis.pfadd("hll").element(["a"]), false);
    check!(pr, redis.pfadd("empty"), true);
    check!(pr, redis.pfcount(["hll"]), 3);
    check!(pr, redis.pfadd("hll2").element(["d"]), true);
    check!(pr, redis.pfmerge("out", ["hll", "hll2"]), ());
    check!(pr, redis.pfcount(["out"]), 4);
    check!(pr, redis.pfcount(["hll", "hll2"]), 4);
    check_that!(pr, redis.pfdebug("ENCODING", "hll"), |v| text(v) == "sparse");
    check!(pr, redis.pfselftest(), ());
}

async fn bitmaps(pr: &mut Probe, redis: &Redis) {
    flushall(pr, redis).await;
    check!(pr, redis.setbit("b", 7, 1), 0);
    check!(pr, redis.setbit("b", 7, 1), 1);
    check!(pr, redis.getbit("b", 7), 1);
    check!(pr, redis.getbit("b", 100), 0);
    check!(pr, redis.set("foo", "foobar"), true);
    check!(pr, redis.bitcount("foo"), 26);
    check!(pr, redis.bitcount("foo").index(1, 1, Some(BitcountIndexUnit::Byte)), 6);
    check!(pr, redis.bitcount("foo").index(5, 30, Some(BitcountIndexUnit::Bit)), 17);
    check!(pr, redis.bitpos("b", 1), 7);
    check!(pr, redis.bitpos("foo", 1).index(2, Some((-1, Some(BitposIndexUnit::Byte)))), 17);
    check!(pr, redis.bitpos("nokey", 1), -1);
    check!(pr, redis.bitop("XOR", "dest", ["b", "foo"]), 6);
    check!(pr, redis.bitop("NOT", "dest", ["b"]), 1);
    check!(pr, redis.getbit("dest", 7), 0);
    let incrby =
        |enc: &str, offset, by| BitfieldOperation::Write(None, BitfieldWriteOperation::Incrby(enc.into(), offset, by));
    check!(
        pr,
        redis.bitfield("bf").operation([
            BitfieldOperation::Get("u8".into(), 0),
            incrby("u2", 100, 1),
            BitfieldOperation::Write(Some(BitfieldOverflow::Fail), BitfieldWriteOperation::Incrby("u2".into(), 102, 5)),
            BitfieldOperation::Write(None, BitfieldWriteOperation::Set("i8".into(), 8, -3)),
        ]),
        vec![Some(0), Some(1), None, Some(0)]
    );
    check!(pr, redis.bitfield_ro("bf").get([("u2", 100), ("i8", 8)]), vec![1, -3]);
    check!(pr, redis.bitfield_ro("nokey"), Vec::<i64>::new());
    // `#N` offsets (N times the type's width) cannot be expressed: the offset
    // is an i64. Sent raw, not counted.
    let by_index: Vec<i64> = redis.execute_cmd("BITFIELD_RO", ("bf", "GET", "i8", "#1")).returning().await.unwrap();
    assert_eq!(by_index, vec![-3], "BITFIELD_RO with a #1 offset");
}

async fn generic(pr: &mut Probe, redis: &Redis) {
    flushall(pr, redis).await;
    check!(pr, redis.randomkey(), None);
    check!(pr, redis.mset([("a", "ohmytext"), ("b", "other"), ("k1", "v1"), ("k2", "v2"), ("num", "12")]), ());
    check!(pr, redis.rpush("nums", ["3", "1", "2"]), 3);
    check!(pr, redis.rpush("words", ["b", "a", "c"]), 3);
    check!(pr, redis.delete(["k1", "nokey"]), 1);
    check!(pr, redis.unlink(["k2"]), 1);
    check!(pr, redis.exists(["a", "a", "nokey"]), 2);
    check!(pr, redis.touch(["a", "b", "nokey"]), 2);
    check!(pr, redis.type_("nums"), "list");
    check!(pr, redis.type_("a"), "string");
    check!(pr, redis.type_("nokey"), "none");
    check_that!(pr, redis.keys("*"), |keys| keys.iter().cloned().collect::<HashSet<_>>()
        == set(&["a", "b", "num", "nums", "words"]));
    check_that!(pr, redis.scan(0).match_("*").count(100).type_("list"), |(cursor, keys)| {
        *cursor == 0 && keys.iter().cloned().collect::<HashSet<_>>() == set(&["nums", "words"])
    });
    check_that!(pr, redis.randomkey(), |k| k.is_some());
    check!(pr, redis.rename("a", "a2"), ());
    check!(pr, redis.renamenx("a2", "b"), false);
    check!(pr, redis.renamenx("a2", "a3"), true);
    check!(pr, redis.copy("a3", "b").replace(), true);
    check!(pr, redis.copy("a3", "b"), false);
    check!(pr, redis.copy("a3", "c").db(1), true);
    check!(pr, redis.move_("b", 1), true);
    check!(pr, redis.move_("nokey", 1), false);
    check!(pr, redis.expire("a3", 100).nx(), true);
    check!(pr, redis.expire("a3", 100).nx(), false);
    check!(pr, redis.expire("nokey", 100), false);
    check_that!(pr, redis.ttl("a3"), |t| (99..=100).contains(t));
    check!(pr, redis.ttl("nokey"), -2);
    check!(pr, redis.expireat("a3", 4_102_444_800), true);
    check!(pr, redis.expiretime("a3"), 4_102_444_800);
    check!(pr, redis.pexpireat("a3", 4_102_444_800_123), true);
    check!(pr, redis.pexpiretime("a3"), 4_102_444_800_123);
    check!(pr, redis.pexpire("a3", 50_000).lt(), true);
    check_that!(pr, redis.pttl("a3"), |t| (49_000..=50_000).contains(t));
    check!(pr, redis.persist("a3"), true);
    check!(pr, redis.persist("a3"), false);
    check!(pr, redis.ttl("a3"), -1);
    check!(pr, redis.expiretime("a3"), -1);
    check!(pr, redis.pexpiretime("nokey"), -2);
    let dump = check_that!(pr, redis.dump("a3"), |d| d.as_ref().is_some_and(|d| d.len() > 8)).flatten();
    check!(pr, redis.dump("nokey"), None);
    if let Some(dump) = dump {
        check!(pr, redis.restore("restored", 0, dump.clone()), ());
        check!(pr, redis.restore("restored", 5000, dump).replace(), ());
        check!(pr, redis.get("restored"), Some(b("ohmytext")));
    }
    check!(pr, redis.sort("nums"), vec![Some(b("1")), Some(b("2")), Some(b("3"))]);
    check!(pr, redis.sort("nums").desc().limit(0, 2), vec![Some(b("3")), Some(b("2"))]);
    check!(
        pr,
        redis.sort("nums").by("nosort").get(["#", "nokey_*"]),
        vec![Some(b("3")), None, Some(b("1")), None, Some(b("2")), None]
    );
    check!(pr, redis.sort_ro("words").alpha(), vec![Some(b("a")), Some(b("b")), Some(b("c"))]);
    check!(pr, redis.object_encoding("a3"), Some("embstr".to_owned()));
    check!(pr, redis.object_encoding("num"), Some("int".to_owned()));
    check!(pr, redis.object_encoding("nokey"), None);
    check_that!(pr, redis.object_idletime("a3"), |t| t.is_some_and(|t| (0..5).contains(&t)));
    check!(pr, redis.object_idletime("nokey"), None);
    check_that!(pr, redis.object_refcount("a3"), |r| r.is_some_and(|r| r >= 1));
    check!(pr, redis.object_refcount("nokey"), None);
    check!(pr, redis.config_set([("maxmemory-policy", "allkeys-lfu")]), ());
    check_that!(pr, redis.object_freq("a3"), |f| f.is_some_and(|f| f >= 0));
    check!(pr, redis.object_freq("nokey"), None);
    check!(pr, redis.config_set([("maxmemory-policy", "noeviction")]), ());
    check_that!(pr, redis.object_help(), |lines| lines[0].starts_with("OBJECT "));
    check!(pr, redis.wait(0, 10), 0);
    // No key, so no connection to the target: the server replies NOKEY at once.
    check!(pr, redis.migrate("127.0.0.1", 1, MigrateKeyOrEmptyString::Key("nokey".into()), 0, 100), "NOKEY");
    check!(
        pr,
        redis.migrate("127.0.0.1", 1, MigrateKeyOrEmptyString::EmptyString, 0, 100).keys(["nokey1", "nokey2"]),
        "NOKEY"
    );
}

/// Sends `$kill` (SCRIPT KILL or FUNCTION KILL) until it kills the script
/// the task `$busy` runs (before the script starts the server replies
/// NOTBUSY); the script's caller then gets an error.
macro_rules! kill_busy_script {
    ($pr:ident, $busy:expr, $kill:expr) => {{
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let cmd = $kill;
            let name = cmd.name();
            match cmd.await {
                Ok(()) => {
                    $pr.record(&name);
                    break;
                }
                Err(e) if e.code() == Some("NOTBUSY") && tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(5)).await
                }
                Err(e) => {
                    $pr.fail(&name, line!(), format!("{e}"));
                    break;
                }
            }
        }
        let killed = tokio::time::timeout(Duration::from_secs(5), $busy).await.unwrap().unwrap();
        assert!(killed.is_err(), "the busy script was not killed: {killed:?}");
    }};
}

async fn scripting(pr: &mut Probe, redis: &Redis, url: &str) {
    flushall(pr, redis).await;
    check!(pr, redis.set("k", "v"), true);
    check!(
        pr,
        redis.eval("return {1, 'two', KEYS[1], ARGV[1]}").key(["key"]).arg(["arg"]),
        Value::Array(vec![Value::Int(1), bulk("two"), bulk("key"), bulk("arg")])
    );
    check!(pr, redis.eval("return redis.call('GET', KEYS[1])").key(["nokey"]), Value::Nil);
    check!(pr, redis.eval_ro("return redis.call('GET', KEYS[1])").key(["k"]), bulk("v"));
    let sha = call!(pr, redis.script_load("return 42"));
    assert_eq!(sha.len(), 40, "SCRIPT LOAD: {sha}");
    check!(pr, redis.evalsha(&sha), Value::Int(42));
    check!(pr, redis.evalsha_ro(&sha), Value::Int(42));
    check!(pr, redis.script_exists([sha.as_str(), "0000000000000000000000000000000000000000"]), vec![true, false]);
    check!(pr, redis.script_debug(ScriptDebugMode::No), ());
    let busy = Redis::new(url).unwrap();
    let spinning = tokio::spawn(async move { busy.eval("while true do end").await });
    kill_busy_script!(pr, spinning, redis.script_kill());
    check!(pr, redis.script_flush(), ());
    check!(pr, redis.script_flush().sync(), ());
    check!(pr, redis.script_exists([sha.as_str()]), vec![false]);
    check_that!(pr, redis.script_help(), |lines| lines[0].starts_with("SCRIPT "));

    let library = "#!lua name=probelib\n\
        redis.register_function('echo_arg', function(keys, args) return args[1] end)\n\
        redis.register_function{function_name='get_key', callback=function(keys, args) \
        return redis.call('GET', keys[1]) end, flags={'no-writes'}}";
    check!(pr, redis.function_load(library), "probelib");
    check!(pr, redis.function_load(library).replace(), "probelib");
    check!(pr, redis.fcall("echo_arg").arg(["hi"]), bulk("hi"));
    check!(pr, redis.fcall_ro("get_key").key(["k"]), bulk("v"));
    check_that!(pr, redis.function_list(), |libs| {
        libs.len() == 1
            && text(&libs[0]["library_name"]) == "probelib"
            && text(&libs[0]["engine"]) == "LUA"
            && items(&libs[0]["functions"]).len() == 2
    });
    check_that!(pr, redis.function_list().libraryname("probe*").withcode(), |libs| {
        libs.len() == 1 && text(&libs[0]["library_code"]).starts_with("#!lua name=probelib")
    });
    check_that!(pr, redis.function_list().libraryname("nope*"), |libs| libs.is_empty());
    check_that!(pr, redis.function_stats(), |m| {
        m["running_script"] == Value::Nil
            && record(&m["engines"]).get("LUA").is_some_and(|lua| record(lua)["libraries_count"] == Value::Int(1))
    });
    let dump = check_that!(pr, redis.function_dump(), |d| !d.is_empty());
    check!(pr, redis.function_delete("probelib"), ());
    if let Some(dump) = dump {
        check!(pr, redis.function_restore(dump).replace(), ());
        check!(pr, redis.fcall("echo_arg").arg(["restored"]), bulk("restored"));
    }
    let spinlib = "#!lua name=spinlib\nredis.register_function('spin', function(keys, args) while true do end end)";
    check!(pr, redis.function_load(spinlib), "spinlib");
    let busy = Redis::new(url).unwrap();
    let spinning = tokio::spawn(async move { busy.fcall("spin").await });
    kill_busy_script!(pr, spinning, redis.function_kill());
    check!(pr, redis.function_flush(), ());
    check!(pr, redis.function_flush().async_(), ());
    check!(pr, redis.function_list(), vec![]);
    check_that!(pr, redis.function_help(), |lines| lines[0].starts_with("FUNCTION "));
}

async fn server_commands(pr: &mut Probe, redis: &Redis, url: &str) {
    flushall(pr, redis).await;
    check!(pr, redis.mset([("k", "v"), ("counter", "1")]), ());
    check!(pr, redis.dbsize(), 2);
    check_that!(pr, redis.info().section(["server", "clients"]), |info| {
        info.contains("redis_version:7.") && info.contains("connected_clients:") && !info.contains("used_memory:")
    });
    check_that!(pr, redis.info(), |info| info.contains("# Keyspace") && info.contains("db0:keys=2"));
    check_that!(pr, redis.time(), |(secs, micros)| *secs > 1_600_000_000 && (0..1_000_000).contains(micros));
    check_that!(pr, redis.lastsave(), |t| *t > 1_600_000_000);
    check!(pr, redis.role(), vec![bulk("master"), Value::Int(0), Value::Array(vec![])]);
    // Valkey's art is signed "Redis ver. 8.1.8" too.
    check_that!(pr, redis.lolwut(), |art| art.contains("Redis ver. "));
    check_that!(pr, redis.lolwut().version(6), |art| art.contains("Redis ver. "));

    check!(
        pr,
        redis.config_get(["maxmemory-policy", "slowlog-max-len"]),
        HashMap::from([
            ("maxmemory-policy".to_owned(), "noeviction".to_owned()),
            ("slowlog-max-len".to_owned(), "128".to_owned())
        ])
    );
    check!(pr, redis.config_set([("slowlog-log-slower-than", "0")]), ());
    check_that!(pr, redis.config_get(["*"]), |all| all.len() > 100 && all["port"].parse::<u16>().is_ok());
    check!(pr, redis.config_get(["nosuchparameter"]), HashMap::new());
    check!(pr, redis.config_resetstat(), ());
    check!(pr, redis.config_rewrite(), ());
    check_that!(pr, redis.config_help(), |lines| lines[0].starts_with("CONFIG "));

    let count = call!(pr, redis.command_count());
    assert!(count > 200, "COMMAND COUNT: {count}");
    check_that!(pr, redis.command_docs(), |docs| docs.len() as i64 == count && docs.contains_key("client"));
    check_that!(pr, redis.command_info(), |info| info.len() as i64 == count && info.iter().all(Option::is_some));
    // Bare COMMAND has no generated method (the spec gives the container no
    // arguments of its own): its default type, `Vec<Vec<Value>>`, read here.
    let all: Vec<Vec<Value>> = redis.execute_cmd("COMMAND", ()).returning().await.unwrap();
    assert_eq!(all.len() as i64, count, "COMMAND");
    check_that!(pr, redis.command_docs().command_name(["get"]), |docs| {
        docs.len() == 1 && text(&docs["get"]["group"]) == "string" && text(&docs["get"]["since"]) == "1.0.0"
    });
    check_that!(pr, redis.command_info().command_name(["get", "nosuchcommand"]), |info| {
        info.len() == 2
            && info[0].as_ref().is_some_and(|i| i[0] == bulk("get") && i[1] == Value::Int(2))
            && info[1].is_none()
    });
    check_that!(pr, redis.command_list().filterby_aclcat("hyperloglog"), |names| {
        names.iter().cloned().collect::<BTreeSet<_>>()
            == ["pfadd", "pfcount", "pfdebug", "pfmerge", "pfselftest"].map(str::to_owned).into()
    });
    check_that!(pr, redis.command_list(), |names| names.iter().filter(|n| !n.contains('|')).count() as i64 == count);
    check!(pr, redis.command_getkeys(["SET", "k", "v"]), bs(&["k"]));
    check!(pr, redis.command_getkeys(("MSET", "k1", "v1", "k2", "v2")), bs(&["k1", "k2"]));
    check_that!(pr, redis.command_getkeysandflags(("LMOVE", "src", "dst", "LEFT", "RIGHT")), |keys| {
        let flags = |k: &(Bytes, HashSet<String>)| k.1.iter().cloned().collect::<BTreeSet<_>>();
        keys.len() == 2
            && keys[0].0 == "src"
            && flags(&keys[0]) == ["RW", "access", "delete"].map(str::to_owned).into()
            && keys[1].0 == "dst"
            && flags(&keys[1]) == ["RW", "insert"].map(str::to_owned).into()
    });
    check_that!(pr, redis.command_help(), |lines| lines[0].starts_with("COMMAND "));

    check_that!(pr, redis.memory_usage("k"), |n| n.is_some_and(|n| n > 0));
    check_that!(pr, redis.memory_usage("k").samples(0), |n| n.is_some_and(|n| n > 0));
    check!(pr, redis.memory_usage("nokey"), None);
    check_that!(pr, redis.memory_stats(), |m| {
        matches!(m["peak.allocated"], Value::Int(n) if n > 0)
            && matches!(m["keys.count"], Value::Int(2))
            && record(&m["db.0"])["overhead.hashtable.main"] != Value::Nil
    });
    check_that!(pr, redis.memory_doctor(), |s| !s.is_empty());
    check_that!(pr, redis.memory_malloc_stats(), |s| !s.is_empty());
    check!(pr, redis.memory_purge(), ());
    check_that!(pr, redis.memory_help(), |lines| lines[0].starts_with("MEMORY "));

    // The server runs with latency-monitor-threshold 1 (ms): a 30 ms sleep is an event.
    check!(pr, redis.debug(("SLEEP", 0.03)), Value::Simple(b("OK")));
    check!(pr, redis.debug(("SLEEP", 0)), Value::Simple(b("OK")));
    check_that!(pr, redis.latency_latest(), |events| {
        events.iter().any(|e| match &e[..] {
            [event, Value::Int(time), Value::Int(latest), Value::Int(max), ..] => {
                text(event) == "command" && *time > 0 && *latest >= 30 && max >= latest
            }
            _ => false,
        })
    });
    check_that!(pr, redis.latency_history("command"), |samples| {
        samples.iter().any(|(time, latency)| *time > 1_600_000_000 && *latency >= 30)
    });
    check!(pr, redis.latency_history("no-such-event"), vec![]);
    // An event without samples is an error, not text.
    let no_samples = redis.latency_graph("no-such-event").await.unwrap_err();
    assert_eq!(no_samples.code(), Some("ERR"), "LATENCY GRAPH without samples: {no_samples:?}");
    check_that!(pr, redis.latency_graph("command"), |graph| graph.contains("command - high"));
    check_that!(pr, redis.latency_doctor(), |s| !s.is_empty());
    // CONFIG RESETSTAT above emptied the histograms: MSET ran before it, DEBUG after.
    check_that!(pr, redis.latency_histogram().command(["debug", "mset"]), |h| {
        h.len() == 1
            && h.get("debug").is_some_and(|d| matches!(d["calls"], Value::Int(2)) && d.contains_key("histogram_usec"))
    });
    check!(pr, redis.latency_histogram().command(["nosuchcommand"]), HashMap::new());
    check_that!(pr, redis.latency_histogram(), |h| h.len() > 5 && h.contains_key("debug"));
    // The DEBUG SLEEP's "command" event at least; on a busy machine another
    // command may have crossed the threshold too.
    check_that!(pr, redis.latency_reset(), |n| *n >= 1);
    check!(pr, redis.latency_reset().event(["command"]), 0);
    check_that!(pr, redis.latency_latest(), |events| {
        !events.iter().any(|e| matches!(e.first(), Some(event) if text(event) == "command"))
    });
    check_that!(pr, redis.latency_help(), |lines| lines[0].starts_with("LATENCY "));

    // slowlog-log-slower-than is 0: every command is logged.
    check!(pr, redis.echo("slow"), b("slow"));
    check_that!(pr, redis.slowlog_get().count(5), |entries| {
        entries.len() == 5
            && entries
                .iter()
                .all(|(id, time, micros, _, addr, _)| *id >= 0 && *time > 0 && *micros >= 0 && addr.contains(':'))
            && entries.iter().any(|e| e.3 == bs(&["ECHO", "slow"]))
    });
    check_that!(pr, redis.slowlog_len(), |n| *n > 5);
    check!(pr, redis.slowlog_reset(), ());
    check!(pr, redis.config_set([("slowlog-log-slower-than", "10000")]), ());
    check_that!(pr, redis.slowlog_len(), |n| (1..=2).contains(n));
    check_that!(pr, redis.slowlog_help(), |lines| lines[0].starts_with("SLOWLOG "));

    check!(pr, redis.acl_setuser("probe").rule(["on", ">pw", "+get", "+acl|whoami", "~k*"]), ());
    check_that!(pr, redis.acl_getuser("probe"), |u| {
        u.as_ref().is_some_and(|u| texts(&u["flags"]).contains("on") && items(&u["passwords"]).len() == 1)
    });
    check!(pr, redis.acl_getuser("nouser"), None);
    check_that!(pr, redis.acl_cat(), |cats| cats.iter().any(|c| c == "keyspace"));
    check_that!(pr, redis.acl_cat().categoryname("hyperloglog"), |cmds| cmds.iter().any(|c| c == "pfadd"));
    check!(pr, redis.acl_users(), vec!["default".to_owned(), "probe".to_owned()]);
    check_that!(pr, redis.acl_list(), |rules| rules.len() == 2 && rules.iter().all(|r| r.starts_with("user ")));
    check!(pr, redis.acl_whoami(), "default");
    check_that!(pr, redis.acl_genpass(), |pw| pw.len() == 64 && pw.chars().all(|c| c.is_ascii_hexdigit()));
    check_that!(pr, redis.acl_genpass().bits(32), |pw| pw.len() == 8);
    check!(pr, redis.acl_dryrun("probe", "get").arg(["k"]), "OK");
    check_that!(pr, redis.acl_dryrun("probe", "set").arg(["k", "v"]), |why| why.contains("no permissions"));
    // AUTH as the limited user on a connection of its own, then a refused command for ACL LOG.
    let conn = Redis::new(url).unwrap().dedicated().await.unwrap();
    check!(pr, conn.auth("pw").username("probe"), ());
    check!(pr, conn.acl_whoami(), "probe");
    let refused = conn.set("k", "x").await.unwrap_err();
    assert_eq!(refused.code(), Some("NOPERM"), "SET as the limited user: {refused:?}");
    conn.close().await;
    check_that!(pr, redis.acl_log(), |entries| {
        entries.first().is_some_and(|e| {
            text(&e["reason"]) == "command" && text(&e["object"]) == "set" && text(&e["username"]) == "probe"
        })
    });
    check_that!(pr, redis.acl_log().count(1), |entries| entries.len() == 1);
    check!(pr, redis.acl_deluser(["probe", "nouser"]), 1);
    // The server's aclfile starts empty: SAVE writes the default user, LOAD reads it back.
    check!(pr, redis.acl_save(), ());
    check!(pr, redis.acl_load(), ());
    check!(pr, redis.acl_users(), vec!["default".to_owned()]);
    check_that!(pr, redis.acl_help(), |lines| lines[0].starts_with("ACL "));

    check!(pr, redis.replconf(), ());
    check!(pr, redis.set("k", "v"), true);
    let dump = call!(pr, redis.dump("k")).expect("DUMP of an existing key");
    check!(pr, redis.restore_asking("k2", 0, dump), ());
    check!(pr, redis.get("k2"), Some(b("v")));
    check!(pr, redis.module_list(), vec![]);
    check_that!(pr, redis.module_help(), |lines| lines[0].starts_with("MODULE "));
    check!(pr, redis.replicaof(ReplicaofArgs::NoOne), ());
    check!(pr, redis.slaveof(SlaveofArgs::NoOne), ());
    check!(pr, redis.swapdb(0, 1), ());
    check!(pr, redis.dbsize(), 0);
    check!(pr, redis.swapdb(0, 1), ());
    check!(pr, redis.dbsize(), 3);
    check!(pr, redis.save(), ());
    check!(pr, redis.flushdb(), ());
    check!(pr, redis.flushdb().sync(), ());
    check!(pr, redis.flushall().async_(), ());
    check_that!(pr, redis.bgrewriteaof(), |s| s.starts_with("Background append only file rewriting"));
    check_that!(pr, redis.bgsave().schedule(), |s| s.starts_with("Background saving"));
}

async fn connection(pr: &mut Probe, redis: &Redis, url: &str) {
    flushall(pr, redis).await;
    let proto = if pr.proto == Protocol::Resp3 { 3 } else { 2 };
    check!(pr, redis.ping(), b("PONG"));
    check!(pr, redis.ping().message("hi"), b("hi"));
    check!(pr, redis.echo("echo"), b("echo"));
    check!(pr, redis.set("k", "v"), true);
    // Commands that change the connection's state, on a connection of their own.
    let conn = redis.dedicated().await.unwrap();
    check!(pr, conn.select(1), ());
    check!(pr, conn.get("k"), None);
    check!(pr, conn.select(0), ());
    check!(pr, conn.get("k"), Some(b("v")));
    check_that!(pr, conn.hello(), |h| {
        // The probe also runs on Valkey 8.1 (scripts/test.sh).
        h["proto"] == Value::Int(proto)
            && ["redis", "valkey"].contains(&text(&h["server"]).as_str())
            && !text(&h["version"]).is_empty()
    });
    let id = call!(pr, conn.client_id());
    assert!(id > 0, "CLIENT ID: {id}");
    check_that!(pr, conn.client_info(), |info| info.starts_with(&format!("id={id} ")));
    check_that!(pr, conn.client_list().type_normal(), |list| list.lines().any(|l| l.starts_with(&format!("id={id} "))));
    check_that!(pr, conn.client_list().id([id]), |list| list.lines().count() == 1);
    check!(pr, conn.client_getname(), None);
    check!(pr, conn.client_setname("probe"), ());
    check!(pr, conn.client_getname(), Some("probe".to_owned()));
    // HELLO in the connection's own protocol, renaming it.
    check_that!(pr, conn.hello().arguments(proto, None, Some("renamed".into())), |h| h["proto"] == Value::Int(proto));
    check!(pr, conn.client_getname(), Some("renamed".to_owned()));
    check!(pr, conn.client_getredir(), -1);
    check!(pr, conn.client_tracking(ClientTrackingStatus::On).optin(), ());
    check!(pr, conn.client_caching(ClientCachingMode::Yes), ());
    check_that!(pr, conn.client_trackinginfo(), |info| {
        let flags = texts(&info["flags"]);
        flags.contains("on") && flags.contains("optin") && matches!(info["redirect"], Value::Int(_))
    });
    check_that!(pr, conn.client_getredir(), |r| *r >= 0);
    check!(pr, conn.client_tracking(ClientTrackingStatus::Off), ());
    check_that!(pr, conn.client_trackinginfo(), |info| texts(&info["flags"]) == BTreeSet::from(["off".to_owned()]));
    check!(pr, conn.client_getredir(), -1);
    check!(pr, conn.client_no_evict(ClientNoEvictEnabled::On), ());
    check!(pr, conn.client_no_evict(ClientNoEvictEnabled::Off), ());
    check!(pr, conn.client_reply(ClientReplyOnOffSkip::On), ());
    check!(pr, conn.client_pause(10).write(), ());
    check!(pr, conn.client_unpause(), ());
    check!(pr, redis.client_kill(ClientKillFilter::NewFormat(vec![ClientKillNewFormat::Id(999_999)])), 0);
    check!(pr, redis.client_unblock(999_999), false);
    check!(pr, redis.client_unblock(id).error(), false);
    // A client blocked in BLPOP: CLIENT UNBLOCK ends its wait as a timeout would.
    let blocked = Redis::new(url).unwrap().dedicated().await.unwrap();
    let blocked_id = call!(pr, blocked.client_id());
    let waiting = tokio::spawn({
        let blocked = blocked.clone();
        async move { blocked.blpop(["never"], 0.0).await }
    });
    support::wait_until("the BLPOP to block", Duration::from_secs(5), || async {
        redis.client_list().type_normal().await.unwrap().contains("cmd=blpop")
    })
    .await;
    check!(pr, redis.client_unblock(blocked_id).timeout(), true);
    let unblocked = tokio::time::timeout(Duration::from_secs(5), waiting).await.unwrap().unwrap();
    assert_eq!(unblocked.unwrap(), None, "BLPOP after CLIENT UNBLOCK");
    check!(pr, redis.client_kill(ClientKillFilter::NewFormat(vec![ClientKillNewFormat::Id(blocked_id)])), 1);
    blocked.close().await;
    // MONITOR (through Redis::monitor, which owns its connection) and QUIT,
    // each on a connection of its own that is then dropped.
    let monitor = Redis::new(url).unwrap().monitor().await.expect("MONITOR");
    monitor.close();
    let quitting = Redis::new(url).unwrap().dedicated().await.unwrap();
    check!(pr, quitting.quit(), ());
    quitting.close().await;
    check_that!(pr, redis.client_help(), |lines| lines[0].starts_with("CLIENT "));
    check!(pr, conn.reset(), ());
    check!(pr, conn.client_getname(), None);
    conn.close().await;
}

async fn pubsub(pr: &mut Probe, redis: &Redis, url: &str) {
    flushall(pr, redis).await;
    let sub = Redis::new(url).unwrap();
    let conf = |kind: &str, channel: &str, n: i64| (kind.to_owned(), Some(b(channel)), n);
    check!(pr, sub.subscribe(["chan1", "chan2"]), vec![conf("subscribe", "chan1", 1), conf("subscribe", "chan2", 2)]);
    check!(pr, sub.psubscribe(["pat*"]), vec![conf("psubscribe", "pat*", 3)]);
    check!(pr, sub.ssubscribe(["schan"]), vec![conf("ssubscribe", "schan", 1)]);
    check!(pr, redis.publish("chan1", "hello"), 1);
    check!(pr, redis.publish("pattern", "hello"), 1);
    check!(pr, redis.publish("nobody", "hello"), 0);
    check!(pr, redis.spublish("schan", "hello"), 1);
    // PING on a subscribed connection (RESP2 replies ["pong", message] there).
    check!(pr, sub.ping(), b("PONG"));
    check!(pr, sub.ping().message("hi"), b("hi"));
    let queue = sub.pubsub_queue();
    for _ in 0..3 {
        let m = tokio::time::timeout(Duration::from_secs(5), queue.recv()).await.unwrap().unwrap();
        assert_eq!(m.payload, b("hello"));
    }
    check_that!(pr, redis.pubsub_channels(), |chans| chans.iter().cloned().collect::<HashSet<_>>()
        == set(&["chan1", "chan2"]));
    check!(pr, redis.pubsub_channels().pattern("chan1*"), bs(&["chan1"]));
    check!(pr, redis.pubsub_numsub().channel(["chan1", "nobody"]), vec![(b("chan1"), 1), (b("nobody"), 0)]);
    check!(pr, redis.pubsub_numsub(), vec![]);
    check!(pr, redis.pubsub_numpat(), 1);
    check!(pr, redis.pubsub_shardchannels(), bs(&["schan"]));
    check!(pr, redis.pubsub_shardchannels().pattern("x*"), bs(&[]));
    check!(pr, redis.pubsub_shardnumsub().shardchannel(["schan", "other"]), vec![(b("schan"), 1), (b("other"), 0)]);
    check_that!(pr, redis.pubsub_help(), |lines| lines[0].starts_with("PUBSUB "));
    check!(pr, sub.unsubscribe().channel(["chan2"]), vec![conf("unsubscribe", "chan2", 2)]);
    check!(pr, sub.sunsubscribe(), vec![conf("sunsubscribe", "schan", 0)]);
    check!(pr, sub.punsubscribe().pattern(["pat*"]), vec![conf("punsubscribe", "pat*", 1)]);
    check!(pr, sub.unsubscribe(), vec![conf("unsubscribe", "chan1", 0)]);
    check!(pr, redis.pubsub_numpat(), 0);
    sub.close().await;
}

/// A command awaited inside MULTI: queued, not run.
fn queued(r: siderpy::Result<Value>) {
    assert!(matches!(r, Err(siderpy::Error::Queued { .. })), "{r:?}");
}

async fn transactions(pr: &mut Probe, redis: &Redis) {
    flushall(pr, redis).await;
    let conn = redis.dedicated().await.unwrap();
    // Inside MULTI every command is queued: awaited, it is `Error::Queued`.
    check!(pr, conn.multi(), ());
    queued(conn.execute_cmd("INCR", ["tx"]).await);
    queued(conn.execute_cmd("GET", ["tx"]).await);
    check!(pr, conn.execute(), Some(vec![Value::Int(1), bulk("1")]));
    check!(pr, conn.multi(), ());
    queued(conn.execute_cmd("INCR", ["tx"]).await);
    check!(pr, conn.discard(), ());
    check!(pr, conn.get("tx"), Some(b("1")));
    check!(pr, conn.watch(["tx"]), ());
    check!(pr, redis.incr("tx"), 2);
    check!(pr, conn.multi(), ());
    queued(conn.execute_cmd("INCR", ["tx"]).await);
    check!(pr, conn.execute(), None);
    check!(pr, conn.watch(["tx"]), ());
    check!(pr, conn.unwatch(), ());
    check!(pr, redis.incr("tx"), 3);
    check!(pr, conn.multi(), ());
    queued(conn.execute_cmd("INCR", ["tx"]).await);
    check!(pr, conn.execute(), Some(vec![Value::Int(4)]));
    // A command failing inside EXEC is an error entry of the array.
    check!(pr, conn.multi(), ());
    queued(conn.execute_cmd("INCR", ["tx"]).await);
    queued(conn.execute_cmd("HGET", ["tx", "field"]).await);
    check_that!(pr, conn.execute(), |replies| {
        replies.as_ref().is_some_and(|r| {
            r.len() == 2 && r[0] == Value::Int(5) && matches!(&r[1], Value::Error(e) if e.code() == "WRONGTYPE")
        })
    });
    conn.close().await;
}
