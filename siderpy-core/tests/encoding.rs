//! The bytes the generated API sends, compared with what redis-cli sends
//! for the same command line. No server: commands are built against an
//! executor that only captures them.

use bytes::BytesMut;
use siderpy_core::types::*;
use siderpy_core::{Cmd, Commands, ConnectionCommands, Executor, StatefulExecutor};

/// An executor that runs nothing: its commands are only encoded.
struct Capture;

impl Executor for Capture {
    type Sink = ();
    fn __sink(self) {}
}

impl StatefulExecutor for Capture {}

/// The RESP frame `cmd` would send, with `\r\n` shown as spaces.
fn sent<K: ?Sized, R>(mut cmd: Cmd<(), K, R>) -> String {
    let mut out = BytesMut::new();
    cmd.__args().write_frame(&mut out);
    String::from_utf8(out.to_vec()).unwrap().replace("\r\n", " ")
}

/// What redis-cli sends for `line`: words split at spaces, `""` an empty
/// argument.
fn cli(line: &str) -> String {
    let words: Vec<&str> = line.split(' ').map(|w| if w == "\"\"" { "" } else { w }).collect();
    let mut s = format!("*{} ", words.len());
    for w in words {
        s.push_str(&format!("${} {w} ", w.len()));
    }
    s
}

#[test]
fn set_with_every_option() {
    assert_eq!(sent(Capture.set("k", "v")), cli("SET k v"));
    assert_eq!(sent(Capture.set("k", "v").nx().get().ex(10)), cli("SET k v NX GET EX 10"));
    // Given in any order, sent in the spec's order.
    assert_eq!(sent(Capture.set("k", "v").px(1500).get().xx()), cli("SET k v XX GET PX 1500"));
    assert_eq!(sent(Capture.set("k", "v").exat(1_700_000_000)), cli("SET k v EXAT 1700000000"));
    assert_eq!(sent(Capture.set("k", "v").pxat(1_700_000_000_000)), cli("SET k v PXAT 1700000000000"));
    assert_eq!(sent(Capture.set("k", 42).keepttl()), cli("SET k 42 KEEPTTL"));
}

#[test]
fn optional_oneof_last_choice_wins() {
    assert_eq!(sent(Capture.set("k", "v").nx().xx()), cli("SET k v XX"));
    assert_eq!(sent(Capture.set("k", "v").ex(10).keepttl()), cli("SET k v KEEPTTL"));
    assert_eq!(sent(Capture.set("k", "v").keepttl().nx().px(5)), cli("SET k v NX PX 5"));
}

#[test]
fn xadd_with_trimming() {
    let cmd = Capture.xadd("s", XaddIdOrAuto::AutoId, [("f", "v")]).trim(
        XaddStrategy::Maxlen,
        Some(XaddOperator::Approximately),
        1000,
        None,
    );
    assert_eq!(sent(cmd), cli("XADD s MAXLEN ~ 1000 * f v"));
    let cmd = Capture
        .xadd("s", XaddIdOrAuto::Id("1-1".into()), [("a", "1"), ("b", "2")])
        .trim(XaddStrategy::Minid, Some(XaddOperator::Equal), "0-1", Some(10))
        .nomkstream();
    assert_eq!(sent(cmd), cli("XADD s NOMKSTREAM MINID = 0-1 LIMIT 10 1-1 a 1 b 2"));
    let cmd = Capture.xtrim("s", XtrimStrategy::Maxlen, None, 5, None);
    assert_eq!(sent(cmd), cli("XTRIM s MAXLEN 5"));
}

#[test]
fn zadd_with_flags() {
    assert_eq!(sent(Capture.zadd("z", [(1.0, "a"), (2.5, "b")])), cli("ZADD z 1.0 a 2.5 b"));
    let cmd = Capture.zadd("z", vec![(f64::INFINITY, "top")]).incr().ch().gt().xx();
    assert_eq!(sent(cmd), cli("ZADD z XX GT CH INCR inf top"));
    assert_eq!(sent(Capture.zadd("z", [(-3.0, "m")]).lt().nx()), cli("ZADD z NX LT -3.0 m"));
}

#[test]
fn client_kill_filters() {
    let cmd = Capture.client_kill(ClientKillFilter::NewFormat(vec![
        ClientKillNewFormat::Id(7),
        ClientKillNewFormat::Type(ClientKillType::Pubsub),
        ClientKillNewFormat::User("bob".into()),
        ClientKillNewFormat::Addr("10.0.0.1:6379".into()),
        ClientKillNewFormat::Laddr("127.0.0.1:6379".into()),
        ClientKillNewFormat::Skipme("no".into()),
    ]));
    assert_eq!(
        sent(cmd),
        cli("CLIENT KILL ID 7 TYPE PUBSUB USER bob ADDR 10.0.0.1:6379 LADDR 127.0.0.1:6379 SKIPME no")
    );
    let cmd = Capture.client_kill(ClientKillFilter::IpPort("1.2.3.4:5678".into()));
    assert_eq!(sent(cmd), cli("CLIENT KILL 1.2.3.4:5678"));
}

#[test]
fn geosearch() {
    let cmd = Capture
        .geosearch("g", GeosearchFrom::Frommember("Palermo".into()), GeosearchBy::Circle(200.0, GeosearchUnit::Km))
        .withdist()
        .asc()
        .count_any(3)
        .withcoord();
    assert_eq!(sent(cmd), cli("GEOSEARCH g FROMMEMBER Palermo BYRADIUS 200.0 KM ASC COUNT 3 ANY WITHCOORD WITHDIST"));
    let cmd = Capture
        .geosearch("g", GeosearchFrom::Fromlonlat(15.0, 37.5), GeosearchBy::Box(400.0, 300.5, GeosearchUnit::Mi))
        .count(5)
        .desc()
        .withhash();
    assert_eq!(sent(cmd), cli("GEOSEARCH g FROMLONLAT 15.0 37.5 BYBOX 400.0 300.5 MI DESC COUNT 5 WITHHASH"));
}

#[test]
fn sort() {
    let cmd = Capture.sort("list").store("dst").alpha().desc().get(["#", "obj_*->f"]).limit(0, 10).by("w_*");
    assert_eq!(sent(cmd), cli("SORT list BY w_* LIMIT 0 10 GET # GET obj_*->f DESC ALPHA STORE dst"));
    assert_eq!(sent(Capture.sort_ro("l").asc().limit(5, 5)), cli("SORT_RO l LIMIT 5 5 ASC"));
}

#[test]
fn xreadgroup() {
    let cmd = Capture.xreadgroup("grp", "alice", ["s1", "s2"], [">", "0-0"]).noack().block(100).count(10);
    assert_eq!(sent(cmd), cli("XREADGROUP GROUP grp alice COUNT 10 BLOCK 100 NOACK STREAMS s1 s2 > 0-0"));
    let cmd = Capture.xread(vec!["a".to_owned()], ["$"]).block(0);
    assert_eq!(sent(cmd), cli("XREAD BLOCK 0 STREAMS a $"));
}

#[test]
fn bitfield() {
    let cmd = Capture.bitfield("k").operation([
        BitfieldOperation::Get("u4".into(), 0),
        BitfieldOperation::Write(Some(BitfieldOverflow::Sat), BitfieldWriteOperation::Incrby("i5".into(), 100, 1)),
        BitfieldOperation::Write(None, BitfieldWriteOperation::Set("u8".into(), 8, 255)),
    ]);
    assert_eq!(sent(cmd), cli("BITFIELD k GET u4 0 OVERFLOW SAT INCRBY i5 100 1 SET u8 8 255"));
    let cmd = Capture.bitfield_ro("k").get([("u8", 0), ("i4", 8)]);
    assert_eq!(sent(cmd), cli("BITFIELD_RO k GET u8 0 GET i4 8"));
}

#[test]
fn lpos() {
    assert_eq!(sent(Capture.lpos("l", "x").maxlen(100).count(2).rank(-1)), cli("LPOS l x RANK -1 COUNT 2 MAXLEN 100"));
}

#[test]
fn zrange_bylex_rev_limit() {
    let cmd = Capture.zrange("z", "[c", "[a").limit(0, 5).rev().bylex();
    assert_eq!(sent(cmd), cli("ZRANGE z [c [a BYLEX REV LIMIT 0 5"));
    // `.withscores()` changes the reply type, per the reply table.
    let cmd: Cmd<(), siderpy_core::kind::Zrange, Vec<(bytes::Bytes, f64)>> = Capture.zrange("z", 0, -1).withscores();
    assert_eq!(sent(cmd.byscore()), cli("ZRANGE z 0 -1 BYSCORE WITHSCORES"));
}

#[test]
fn more_shapes() {
    // Keyword-named method; container subcommands; empty-string token.
    assert_eq!(sent(Capture.type_("k")), cli("TYPE k"));
    assert_eq!(sent(Capture.client_no_evict(ClientNoEvictEnabled::On)), cli("CLIENT NO-EVICT ON"));
    assert_eq!(sent(Capture.config_get(["maxmemory", "port"])), cli("CONFIG GET maxmemory port"));
    let cmd =
        Capture.migrate("h", 6379, MigrateKeyOrEmptyString::EmptyString, 0, 5000).keys(["a", "b"]).auth2("u", "p");
    assert_eq!(sent(cmd), cli("MIGRATE h 6379 \"\" 0 5000 AUTH2 u p KEYS a b"));
    // Tokened optional oneof members carry the oneof's token.
    assert_eq!(sent(Capture.zunion(["a", "b"]).aggregate_max()), cli("ZUNION 2 a b AGGREGATE MAX"));
    assert_eq!(sent(Capture.client_list().type_pubsub().id([1, 2])), cli("CLIENT LIST TYPE PUBSUB ID 1 2"));
    // Optional pieces inside an optional block.
    let cmd = Capture.xpending("s", "g").filters(Some(10), "-", "+", 5, Some("bob".into()));
    assert_eq!(sent(cmd), cli("XPENDING s g IDLE 10 - + 5 bob"));
    assert_eq!(sent(Capture.hello().arguments(3, Some(("u".into(), "p".into())), None)), cli("HELLO 3 AUTH u p"));
    assert_eq!(sent(Capture.zrandmember("z").options_withscores(3)), cli("ZRANDMEMBER z 3 WITHSCORES"));
    assert_eq!(sent(Capture.bitcount("k").index(0, -1, Some(BitcountIndexUnit::Bit))), cli("BITCOUNT k 0 -1 BIT"));
    // The `DEL` rename, a raw-argument method, connection commands.
    assert_eq!(sent(Capture.delete(["a", "b"])), cli("DEL a b"));
    assert_eq!(sent(Capture.debug(("SLEEP", 0))), cli("DEBUG SLEEP 0"));
    assert_eq!(sent(Capture.multi()), cli("MULTI"));
    assert_eq!(sent(Capture.auth("pw").username("me")), cli("AUTH me pw"));
    assert_eq!(sent(Capture.execute_cmd("CLIENT LIST", ())), cli("CLIENT LIST"));
}

#[test]
fn command_info() {
    let info = siderpy_core::command_info("client  kill").unwrap();
    assert_eq!((info.name, info.words, info.group), ("CLIENT KILL", 2, "connection"));
    assert_eq!(info.encoded_name, b"$6\r\nCLIENT\r\n$4\r\nKILL\r\n");
    assert!(siderpy_core::command_info("blpop").unwrap().blocking);
    assert!(!siderpy_core::command_info("GET").unwrap().blocking);
    assert_eq!(siderpy_core::command_info("xreadgroup GROUP g c").unwrap().name, "XREADGROUP");
    assert!(siderpy_core::command_info("NOPE").is_none());
}
