//! Reply types derived from a spec entry's `reply_schema` (the JSON Schema
//! Redis 7.2+ and Valkey keep beside each command): the default type, and
//! the type each optional argument switches the reply to.
//!
//! A schema's `oneOf`/`anyOf` branches each describe one shape, and say in
//! their `description` which arguments produce it: "In case `count`
//! argument was given, a list of popped elements", "The rank and score of
//! the member when 'WITHSCORE' is used". A branch that names an optional
//! argument (in backticks, quotes, or as an upper-case token) is the shape
//! that argument's setter switches to; a branch naming none, or naming one
//! as "not given"/"not used", is the default; a `null` branch makes every
//! shape an `Option`. What this cannot tell apart is left to the reply
//! table, which overrides it.

use serde_json::Value as Json;

use crate::replies::{ReplyTy, DEFAULT, MAX_TUPLE};
use crate::spec::{Arg, ArgKind};

// JSON Schema words read here.
const CONST: &str = "const";
const ONE_OF: &str = "oneOf";
const ANY_OF: &str = "anyOf";
const TYPE: &str = "type";
const ITEMS: &str = "items";
const MIN_ITEMS: &str = "minItems";
const MAX_ITEMS: &str = "maxItems";
const ADDITIONAL: &str = "additionalProperties";
const PROPERTIES: &str = "properties";
const DESCRIPTION: &str = "description";
const NULL: &str = "null";
const STRING: &str = "string";
const INTEGER: &str = "integer";
const NUMBER: &str = "number";
const BOOLEAN: &str = "boolean";
const ARRAY: &str = "array";
const OBJECT: &str = "object";

/// Phrases that make a branch's mention of an argument mean its absence
/// ("In case `count` argument was not given").
const NEGATIONS: &[&str] = &[
    "not given",
    "not used",
    "not specified",
    "isn't",
    "not passing",
    "as not",
    "was not",
    "were not",
    "not provided",
];

/// What a schema says of a command's reply.
#[derive(Debug, Clone, PartialEq)]
pub struct Derived {
    /// The type without any shape-changing option.
    pub reply: ReplyTy,
    /// Optional argument spec name (as the reply table keys it) -> the type
    /// once its setter is called.
    pub when: Vec<(String, ReplyTy)>,
}

/// Derives the reply types of a command with `args` from its `schema`.
pub fn derive(schema: &Json, args: &[Arg]) -> Derived {
    let Some(branches) = alternatives(schema) else { return Derived { reply: ty(schema), when: Vec::new() } };
    let nullable = branches.iter().any(is_null);
    let mut defaults: Vec<&Json> = Vec::new();
    let mut switches: Vec<(String, ReplyTy)> = Vec::new();
    let mut ambiguous: Vec<String> = Vec::new();
    for b in branches.iter().filter(|b| !is_null(b)) {
        let text = b.get(DESCRIPTION).and_then(Json::as_str).unwrap_or("");
        let lower = text.to_ascii_lowercase();
        let negated = NEGATIONS.iter().any(|n| lower.contains(n));
        let keys: Vec<(String, bool)> = if negated { Vec::new() } else { mentions(text, args) };
        let key = match &keys[..] {
            [] => {
                defaults.push(b);
                continue;
            }
            [(k, _)] => k.clone(),
            _ => match keys.iter().filter(|(_, flag)| *flag).collect::<Vec<_>>()[..] {
                [(k, _)] => k.clone(),
                _ => continue,
            },
        };
        let t = optional(ty(b), nullable);
        match switches.iter().find(|(k, _)| *k == key) {
            Some((_, other)) if *other != t => ambiguous.push(key),
            Some(_) => {}
            None => switches.push((key, t)),
        }
    }
    switches.retain(|(k, _)| !ambiguous.contains(k));
    let reply = optional(unify(&defaults), nullable);
    switches.retain(|(_, t)| *t != reply);
    Derived { reply, when: switches }
}

/// A reply type for one schema: strings are `Bytes`, integers `i64`,
/// numbers `f64`, arrays `Vec` (or a tuple when their items are listed one
/// by one), maps `HashMap<Bytes, _>`, records `HashMap<String, Value>`, a
/// constant string (`+OK`) `()`, a constant integer `i64`; alternatives as
/// [`derive`] reads them without arguments; anything else `Value`.
pub fn ty(schema: &Json) -> ReplyTy {
    let scalar = |name| ReplyTy::named(name, Vec::new());
    let Some(obj) = schema.as_object() else { return ReplyTy::value() };
    match obj.get(CONST) {
        Some(Json::Number(_)) => return scalar("i64"),
        Some(_) => return ReplyTy::Tuple(Vec::new()),
        None => {}
    }
    if alternatives(schema).is_some() {
        return derive(schema, &[]).reply;
    }
    match obj.get(TYPE).and_then(Json::as_str) {
        Some(STRING) => scalar("Bytes"),
        Some(INTEGER) => scalar("i64"),
        Some(NUMBER) => scalar("f64"),
        Some(BOOLEAN) => scalar("bool"),
        Some(NULL) => ReplyTy::named("Option", vec![ReplyTy::value()]),
        Some(ARRAY) => match obj.get(ITEMS) {
            Some(items) if items.is_object() => ReplyTy::named("Vec", vec![ty(items)]),
            Some(Json::Array(items)) if fixed_length(obj) == Some(items.len()) && items.len() <= MAX_TUPLE => {
                ReplyTy::Tuple(items.iter().map(ty).collect())
            }
            _ => ReplyTy::value(),
        },
        Some(OBJECT) => match obj.get(ADDITIONAL) {
            Some(v) if v.is_object() => ReplyTy::named("HashMap", vec![scalar("Bytes"), ty(v)]),
            _ if obj.contains_key(PROPERTIES) => ReplyTy::named("HashMap", vec![scalar("String"), ReplyTy::value()]),
            _ => ReplyTy::value(),
        },
        _ => ReplyTy::value(),
    }
}

fn alternatives(schema: &Json) -> Option<&Vec<Json>> {
    schema.get(ONE_OF).or_else(|| schema.get(ANY_OF)).and_then(Json::as_array)
}

fn is_null(schema: &Json) -> bool {
    schema.get(TYPE).and_then(Json::as_str) == Some(NULL)
}

/// `minItems` when it equals `maxItems`.
fn fixed_length(obj: &serde_json::Map<String, Json>) -> Option<usize> {
    let min = obj.get(MIN_ITEMS).and_then(Json::as_u64)?;
    (obj.get(MAX_ITEMS).and_then(Json::as_u64) == Some(min)).then_some(min as usize)
}

/// `Option<t>` when the reply may be nil, unless `t` reads nil already.
fn optional(t: ReplyTy, nullable: bool) -> ReplyTy {
    match &t {
        _ if !nullable => t,
        ReplyTy::Named("Option", _) | ReplyTy::Named(DEFAULT, _) => t,
        _ => ReplyTy::named("Option", vec![t]),
    }
}

/// One type for the default branches: the same type, or integers (`0`/`1`
/// constants alone are a `bool`), or a status and a string (`+PONG` or the
/// message: `Bytes`); else `Value`.
fn unify(branches: &[&Json]) -> ReplyTy {
    let consts: Vec<&Json> = branches.iter().filter_map(|b| b.get(CONST)).collect();
    if !branches.is_empty()
        && consts.len() == branches.len()
        && consts.iter().all(|c| c.as_i64().is_some_and(|n| n == 0 || n == 1))
    {
        return ReplyTy::named("bool", Vec::new());
    }
    let mut types: Vec<ReplyTy> = Vec::new();
    for t in branches.iter().map(|b| ty(b)) {
        if !types.contains(&t) {
            types.push(t);
        }
    }
    let bytes = ReplyTy::named("Bytes", Vec::new());
    match &types[..] {
        [] => ReplyTy::value(),
        [one] => one.clone(),
        [a, b] if [a, b].contains(&&bytes) && [a, b].contains(&&ReplyTy::Tuple(Vec::new())) => bytes,
        _ => ReplyTy::value(),
    }
}

/// The optional arguments `text` names, as reply-table keys, each with
/// whether it is a flag inside a block (more specific than the block).
fn mentions(text: &str, args: &[Arg]) -> Vec<(String, bool)> {
    let mut out: Vec<(String, bool)> = Vec::new();
    for word in words(text) {
        if let Some(k) = key_for(&word, args) {
            if !out.contains(&k) {
                out.push(k);
            }
        }
    }
    out
}

/// Candidate argument names in a description: what is quoted (backticks,
/// single or double quotes) split at `/` and spaces, and upper-case words.
fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for q in ['`', '\'', '"'] {
        let parts: Vec<&str> = text.split(q).collect();
        // Odd pieces are inside a pair of quotes (an apostrophe in
        // "doesn't" unbalances single quotes: then they are not used).
        if q == '\'' && parts.len() % 2 == 0 {
            continue;
        }
        for inner in parts.iter().skip(1).step_by(2) {
            out.extend(inner.split(['/', ' ']).filter(|w| !w.is_empty()).map(str::to_owned));
        }
    }
    for w in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_')) {
        if w.len() >= 2 && w.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-' || c == '_') {
            out.push(w.to_owned());
        }
    }
    out
}

/// The reply-table key of the optional argument `word` names, if any: a
/// top-level optional argument's name, a member of an optional `oneof`
/// (each is a setter), an optional flag inside an optional block (`true`:
/// the setter that sends it), or else the block holding what it names.
fn key_for(word: &str, args: &[Arg]) -> Option<(String, bool)> {
    let named =
        |a: &Arg| a.name.eq_ignore_ascii_case(word) || a.token.as_deref().is_some_and(|t| t.eq_ignore_ascii_case(word));
    for a in args.iter().filter(|a| a.optional) {
        match &a.kind {
            ArgKind::OneOf(members) => {
                if let Some(m) = members.iter().find(|m| named(m)) {
                    return Some((m.name.clone(), false));
                }
            }
            ArgKind::Block(members) => {
                if let Some(m) = members.iter().find(|m| named(m)) {
                    let flag = m.optional && m.kind == ArgKind::PureToken;
                    return Some((if flag { m.name.clone() } else { a.name.clone() }, flag));
                }
                if named(a) {
                    return Some((a.name.clone(), false));
                }
            }
            _ if named(a) => return Some((a.name.clone(), false)),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctxt::Ctxt;
    use crate::spec;

    fn t(s: &str) -> String {
        ty(&serde_json::from_str(s).unwrap()).to_string()
    }

    #[test]
    fn types() {
        assert_eq!(t(r#"{"type": "string"}"#), "Bytes");
        assert_eq!(t(r#"{"const": "OK"}"#), "()");
        assert_eq!(t(r#"{"oneOf": [{"type": "string"}, {"type": "null"}]}"#), "Option<Bytes>");
        assert_eq!(t(r#"{"type": "array", "items": {"type": "integer"}}"#), "Vec<i64>");
        assert_eq!(t(r#"{"type": "object", "additionalProperties": {"type": "number"}}"#), "HashMap<Bytes, f64>");
        assert_eq!(t(r#"{"oneOf": [{"type": "string"}, {"type": "integer"}]}"#), "Value");
        assert_eq!(t(r#"{"type": "array", "items": [{"type": "string"}]}"#), "Value");
        assert_eq!(
            t(r#"{"type": "array", "minItems": 2, "maxItems": 2, "items": [{"type": "integer"}, {"type": "number"}]}"#),
            "(i64, f64)"
        );
        assert_eq!(t(r#"{"oneOf": [{"const": 1}, {"const": 0}]}"#), "bool");
        assert_eq!(t(r#"{"oneOf": [{"const": "PONG"}, {"type": "string"}]}"#), "Bytes");
        assert_eq!(t(r#"{"oneOf": [{"const": -1}, {"type": "integer"}]}"#), "i64");
        assert_eq!(t(r#"{"description": "anything"}"#), "Value");
    }

    /// What the schemas of the Valkey fixture give for the commands whose
    /// replies change shape with an option: every one read and checked.
    #[test]
    fn valkey_fixture_switches() {
        let mut cx = Ctxt::new();
        let spec = spec::parse(include_str!("../fixtures/valkey-8.1/commands.json"), spec::FILE, &mut cx);
        cx.check().unwrap();
        let mut found = Vec::new();
        for cmd in &spec.commands {
            let (Some(schema), Some(args)) = (&cmd.reply_schema, &cmd.arguments) else { continue };
            let d = derive(schema, args);
            for (k, t) in &d.when {
                found.push(format!("{} {} -> {t} (default {})", cmd.name, k, d.reply));
            }
        }
        assert_eq!(
            found,
            [
                "ACL LOG reset -> () (default Vec<HashMap<String, Value>>)",
                "HRANDFIELD options -> Option<Vec<Bytes>> (default Option<Bytes>)",
                "HRANDFIELD withvalues -> Option<Vec<(Bytes, Bytes)>> (default Option<Bytes>)",
                "LCS len -> i64 (default Bytes)",
                "LCS idx -> HashMap<String, Value> (default Bytes)",
                "LPOP count -> Option<Vec<Bytes>> (default Option<Bytes>)",
                "LPOS num-matches -> Option<Vec<i64>> (default Option<i64>)",
                "PING message -> Bytes (default ())",
                "RPOP count -> Option<Vec<Bytes>> (default Option<Bytes>)",
                "SET get -> Option<Bytes> (default Option<()>)",
                "SPOP count -> Option<Vec<Bytes>> (default Option<Bytes>)",
                "XAUTOCLAIM justid -> (Bytes, Vec<Bytes>, Vec<Bytes>) (default (Bytes, Vec<(Bytes, Vec<Bytes>)>, Vec<Bytes>))",
                "XCLAIM justid -> Vec<Bytes> (default Vec<(Bytes, Vec<Bytes>)>)",
                "XPENDING filters -> Vec<(Bytes, Bytes, i64, i64)> (default (i64, Bytes, Bytes, Vec<(Bytes, Bytes)>))",
                "ZADD increment -> Option<f64> (default Option<i64>)",
                "ZDIFF withscores -> Vec<(Bytes, f64)> (default Vec<Bytes>)",
                "ZINTER withscores -> Vec<(Bytes, f64)> (default Vec<Bytes>)",
                "ZPOPMAX count -> Vec<(Bytes, f64)> (default (Bytes, f64))",
                "ZPOPMIN count -> Vec<(Bytes, f64)> (default (Bytes, f64))",
                "ZRANDMEMBER options -> Option<Vec<Bytes>> (default Option<Bytes>)",
                "ZRANDMEMBER withscores -> Option<Vec<(Bytes, f64)>> (default Option<Bytes>)",
                "ZRANGE withscores -> Vec<(Bytes, f64)> (default Vec<Bytes>)",
                "ZRANGEBYSCORE withscores -> Vec<(Bytes, f64)> (default Vec<Bytes>)",
                "ZRANK withscore -> Option<(i64, f64)> (default Option<i64>)",
                "ZREVRANGE withscores -> Vec<(Bytes, f64)> (default Vec<Bytes>)",
                "ZREVRANGEBYSCORE withscores -> Vec<(Bytes, f64)> (default Vec<Bytes>)",
                "ZREVRANK withscore -> Option<(i64, f64)> (default Option<i64>)",
                "ZUNION withscores -> Vec<(Bytes, f64)> (default Vec<Bytes>)",
            ]
        );
    }
}
