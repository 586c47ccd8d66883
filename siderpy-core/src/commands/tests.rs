//! The macro against a spec from a newer server (a module command with a
//! dot, unknown argument types, flags spelled as strings or numbers,
//! `reply_schema`, unknown fields, key-spec types and hints), expanded where the prelude's names and
//! the primitive types are shadowed and warnings are errors: an unqualified
//! path in the generated code fails this build.
//!
//! Its commands are not Redis's, so the reply table (shared by every
//! expansion) has no entries for them: their replies come from
//! `reply_schema`.

#![deny(warnings)]

use bytes::{Bytes, BytesMut};

use crate::{BeginSearch, Cmd, Executor, FindKeys, KeySpec, RequestPolicy, ResponsePolicy, StatefulExecutor};

#[allow(dead_code, non_camel_case_types)]
mod newer {
    struct Option;
    struct Some;
    struct None;
    struct Result;
    struct Ok;
    struct Err;
    struct Vec;
    struct String;
    struct Box;
    struct Iterator;
    struct IntoIterator;
    struct bool;
    struct str;
    struct u8;
    struct u32;
    struct i64;
    struct f64;
    struct Bytes;
    struct Value;
    struct Cmd;

    siderpy_macros::commands!("tests/specs/newer.json");
}

use newer::Commands as _;

struct Capture;

impl Executor for Capture {
    type Sink = ();
    fn __sink(self) {}
}

impl StatefulExecutor for Capture {}

fn sent<K: ?Sized, R>(mut cmd: Cmd<(), K, R>) -> std::string::String {
    let mut out = BytesMut::new();
    cmd.__args().write_frame(&mut out);
    std::string::String::from_utf8(out.to_vec()).unwrap().replace("\r\n", " ")
}

#[test]
fn module_command_with_unknown_argument_type() {
    let cmd: Cmd<(), newer::kind::JsonGet, Option<Bytes>> = Capture.json_get("doc");
    assert_eq!(sent(cmd), "*2 $8 JSON.GET $3 doc ");
    // `path` has a type the macro does not know: a raw setter.
    let cmd = Capture.json_get("doc").path(["$.a", "$.b"]).indent("  ");
    assert_eq!(sent(cmd), "*6 $8 JSON.GET $3 doc $6 INDENT $2    $3 $.a $3 $.b ");
}

#[test]
fn subcommand_with_collisions_keywords_and_raw_fallbacks() {
    // The container has no method; the subcommand has, blocking per its flags.
    assert!(newer::__GENERATED_METHODS.iter().all(|(c, _)| *c != "VALKEY"));
    assert!(newer::command_info("valkey sub").unwrap().blocking);
    assert_eq!(newer::command_info("VALKEY").unwrap().words, 1);
    // `mode` holds an unknown type deep inside: the whole argument is raw.
    let cmd: Cmd<(), newer::kind::ValkeySub, Vec<i64>> = Capture
        .valkey_sub(("CUSTOM", 3))
        .extra([("a", 1.5), ("b", 2.0)])
        .at(1_700_000_000)
        .returning_arg()
        .name_arg("n");
    assert_eq!(
        sent(cmd),
        "*13 $6 VALKEY $3 SUB $4 NAME $1 n $9 RETURNING $6 CUSTOM $1 3 $2 AT $10 1700000000 $1 a $3 1.5 $1 b $3 2.0 "
    );
}

/// A count inside a block, found by the spec's structure (Valkey 9's hash
/// field expiry): `numfields` is the number of fields, and of field-value
/// pairs, not of words.
#[test]
fn counted_blocks() {
    assert_eq!(sent(Capture.httl("h", ["a", "b"])), "*6 $4 HTTL $1 h $6 FIELDS $1 2 $1 a $1 b ");
    assert_eq!(
        sent(Capture.hsetex("h", [("f1", "v1"), ("f2", "v2")])),
        "*8 $6 HSETEX $1 h $6 FIELDS $1 2 $2 f1 $2 v1 $2 f2 $2 v2 "
    );
}

#[test]
#[allow(deprecated)]
fn keywords_deprecation_and_arity_without_arguments() {
    let cmd: Cmd<(), newer::kind::Match, ()> = Capture.match_("k").type_("string");
    assert_eq!(sent(cmd), "*4 $5 MATCH $1 k $4 TYPE $6 string ");
    assert_eq!(sent(Capture.self_()), "*1 $4 SELF ");
    assert_eq!(sent(Capture.noargs(("a", 1))), "*3 $6 NOARGS $1 a $1 1 ");
    assert_eq!(newer::command_info("self").unwrap().name, "SELF");
}

#[test]
fn key_specs_and_policies_of_a_newer_spec() {
    let get = newer::command_info("JSON.GET").unwrap();
    let range = FindKeys::Range { lastkey: 0, keystep: 1, limit: 0 };
    assert_eq!(get.keys, [KeySpec { begin: BeginSearch::Index(1), find: range, incomplete: false }]);
    // A request policy this version does not know is no policy.
    assert_eq!((get.request_policy, get.response_policy), (None, Some(ResponsePolicy::AggLogicalOr)));
    let sub = newer::command_info("VALKEY SUB").unwrap();
    let name = BeginSearch::Keyword { keyword: "NAME", startfrom: -1 };
    assert_eq!(
        sub.keys,
        [
            KeySpec { begin: name, find: range, incomplete: true },
            KeySpec { begin: BeginSearch::Unknown, find: FindKeys::Unknown, incomplete: false },
        ]
    );
    assert_eq!(
        (sub.request_policy, sub.response_policy),
        (Some(RequestPolicy::AllNodes), Some(ResponsePolicy::AggMax))
    );
    let valkey = newer::command_info("VALKEY").unwrap();
    assert_eq!((valkey.keys, valkey.request_policy, valkey.response_policy), (&[][..], None, None));
}

/// `numkeys` is never given: the typed API counts the keys.
mod numkeys {
    use super::{sent, Capture};
    use crate::types::LmpopWhere;
    use crate::Commands as _;

    #[test]
    fn required_keys_are_counted() {
        assert_eq!(sent(Capture.zunion(["a", "b"])), "*4 $6 ZUNION $1 2 $1 a $1 b ");
        assert_eq!(
            sent(Capture.zunion(vec!["a", "b", "c"]).aggregate_max()),
            "*7 $6 ZUNION $1 3 $1 a $1 b $1 c $9 AGGREGATE $3 MAX "
        );
        let keys: &[&str] = &["l1", "l2"];
        assert_eq!(
            sent(Capture.lmpop(keys, LmpopWhere::Left).count(2)),
            "*7 $5 LMPOP $1 2 $2 l1 $2 l2 $4 LEFT $5 COUNT $1 2 "
        );
        assert_eq!(sent(Capture.zunionstore("d", ["a"])), "*4 $11 ZUNIONSTORE $1 d $1 1 $1 a ");
    }

    #[test]
    fn optional_keys_are_counted_and_default_to_none() {
        assert_eq!(sent(Capture.eval("return 1")), "*3 $4 EVAL $8 return 1 $1 0 ");
        assert_eq!(sent(Capture.eval("s").key(["a", "b"]).arg(["x"])), "*6 $4 EVAL $1 s $1 2 $1 a $1 b $1 x ");
        // Given again, the keys replace the earlier ones, count and all.
        assert_eq!(sent(Capture.eval("s").arg(["x"]).key(["a", "b"]).key(["c"])), "*5 $4 EVAL $1 s $1 1 $1 c $1 x ");
        assert_eq!(sent(Capture.fcall("f")), "*3 $5 FCALL $1 f $1 0 ");
        let keys: Vec<String> = (0..10).map(|i| format!("k{i}")).collect();
        let mut want = String::from("*14 $5 FCALL $1 f $2 10 ");
        for k in &keys {
            want.push_str(&format!("$2 {k} "));
        }
        want.push_str("$1 v ");
        assert_eq!(sent(Capture.fcall("f").arg(["v"]).key(keys)), want);
    }
}
