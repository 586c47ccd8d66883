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
