//! From the `COMMAND` and `COMMAND DOCS` replies to the `commands.json`
//! document, following Redis's `utils/generate-commands-json.py`.
//!
//! Every entry is keyed by the command's full upper-case name (`"GET"`,
//! `"CLIENT KILL"`) and holds `summary`, `since`, `group`, `complexity`,
//! `module`, `deprecated_since`, `replaced_by`, `history`, `acl_categories`,
//! `arity`, `key_specs`, `arguments`, `command_flags`, `doc_flags` and
//! `hints`, leaving out missing values and empty lists. Key-spec and argument
//! `flags` lists become `"FLAG": true` members. Every other field the server
//! sends (`reply_schema`, module fields...) is kept as it came.
//!
//! Both reply shapes are understood: RESP3 maps and RESP2 flat
//! `[key, value, ...]` arrays wherever the format has a map. Under RESP2 a
//! map inside a field this module does not know (such as `reply_schema`)
//! cannot be told from an array and stays an array; RESP3, the default of
//! the command-line tool, has no such ambiguity.

use std::collections::BTreeMap;

use serde_json::{Map, Number, Value as Json};
use siderpy_core::Value;

use crate::Error;

/// Builds the `commands.json` document from the replies to `COMMAND` and
/// `COMMAND DOCS`, in either protocol's shape.
///
/// # Errors
/// [`Error::Shape`] when a reply is not shaped as Redis 7+ sends it (for
/// instance a server older than 7.0, whose `COMMAND` entries are shorter).
///
/// # Examples
/// ```
/// use bytes::Bytes;
/// use siderpy_core::Value;
///
/// let s = |t: &str| Value::Bulk(Bytes::from(t.to_owned()));
/// let list = |items: &[&str]| Value::Array(items.iter().map(|t| s(t)).collect());
/// let commands = Value::Array(vec![Value::Array(vec![
///     s("ping"), Value::Int(-1), list(&["fast"]), Value::Int(0), Value::Int(0), Value::Int(0),
///     list(&["@fast"]), list(&[]), list(&[]), list(&[]),
/// ])]);
/// // RESP2: COMMAND DOCS is a flat array of names and flat docs arrays.
/// let docs = Value::Array(vec![
///     s("ping"),
///     Value::Array(vec![s("summary"), s("Ping the server"), s("since"), s("1.0.0"), s("group"), s("connection")]),
/// ]);
/// let spec = siderpy_gen::spec::build(&commands, &docs).unwrap();
/// assert_eq!(spec["PING"]["arity"], -1);
/// assert_eq!(spec["PING"]["command_flags"][0], "fast");
/// assert!(spec["PING"].get("hints").is_none());
/// ```
pub fn build(commands: &Value, docs: &Value) -> Result<Json, Error> {
    let docs = pairs(docs).ok_or_else(|| shape("the COMMAND DOCS reply", "a map of command names to docs", docs))?;
    let entries = list(commands).ok_or_else(|| shape("the COMMAND reply", "an array of commands", commands))?;
    let mut out = BTreeMap::new();
    for entry in entries {
        command(entry, &docs, &mut out)?;
    }
    Ok(Json::Object(out.into_iter().collect()))
}

/// Converts one `COMMAND` entry (and its subcommands) into `out`.
///
/// `docs` are the `COMMAND DOCS` pairs of the level the entry belongs to:
/// all commands, or a container's `subcommands`.
fn command(entry: &Value, docs: &[(String, &Value)], out: &mut BTreeMap<String, Json>) -> Result<(), Error> {
    let fields = list(entry).ok_or_else(|| shape("a COMMAND entry", "an array", entry))?;
    let name = fields.first().and_then(text).ok_or_else(|| shape("a COMMAND entry", "a command name first", entry))?;
    if fields.len() < 9 {
        return Err(Error::Shape(format!(
            "the COMMAND entry of `{name}` has {} fields where Redis 7+ sends 10: is the server older than Redis 7.0?",
            fields.len()
        )));
    }
    let mut doc = match lookup(docs, &name) {
        Some(d) => Fields(pairs(d).ok_or_else(|| shape(&format!("the COMMAND DOCS of `{name}`"), "a map", d))?),
        // Redis's script would stop here; a server that documents some
        // commands only still yields a usable spec.
        None => Fields(Vec::new()),
    };

    let subcommand_docs = match doc.take("subcommands") {
        Some(v) => pairs(v).ok_or_else(|| shape(&format!("the subcommand docs of `{name}`"), "a map", v))?,
        None => Vec::new(),
    };
    if let Some(subcommands) = fields.get(9) {
        for sub in
            list(subcommands).ok_or_else(|| shape(&format!("the subcommands of `{name}`"), "an array", subcommands))?
        {
            command(sub, &subcommand_docs, out)?;
        }
    }

    let mut value = Map::new();
    let group = doc.take("group").map(json);
    if group.as_ref().and_then(Json::as_str) == Some("module") {
        // Module commands need not have a summary or a since.
        set_if_not_none_or_empty(&mut value, "summary", doc.take("summary").map(json));
        set_if_not_none_or_empty(&mut value, "since", doc.take("since").map(json));
    } else {
        for key in ["summary", "since"] {
            if let Some(v) = doc.take(key) {
                value.insert(key.into(), json(v));
            }
        }
    }
    if let Some(group) = group {
        value.insert("group".into(), group);
    }
    for key in ["complexity", "module", "deprecated_since", "replaced_by", "history"] {
        set_if_not_none_or_empty(&mut value, key, doc.take(key).map(json));
    }
    set_if_not_none_or_empty(&mut value, "acl_categories", Some(flag_list(&fields[6])));
    value.insert("arity".into(), json(&fields[1]));
    let key_specs = list(&fields[8]).unwrap_or_default().iter().map(key_spec).collect();
    set_if_not_none_or_empty(&mut value, "key_specs", Some(Json::Array(key_specs)));
    set_if_not_none_or_empty(&mut value, "arguments", doc.take("arguments").map(arguments));
    set_if_not_none_or_empty(&mut value, "command_flags", Some(flag_list(&fields[2])));
    set_if_not_none_or_empty(&mut value, "doc_flags", doc.take("doc_flags").map(flag_list));
    set_if_not_none_or_empty(&mut value, "hints", Some(flag_list(&fields[7])));
    // Whatever else the server documents is kept as it is, as Redis's
    // script does, so new fields reach the spec without a new generator.
    for (key, v) in doc.0 {
        value.insert(key, json(v));
    }

    out.insert(name.to_uppercase().replace('|', " "), Json::Object(value));
    Ok(())
}

/// One key specification: `flags` become `"FLAG": true` members and the
/// `begin_search` / `find_keys` maps (with their `spec` maps) become objects.
fn key_spec(v: &Value) -> Json {
    let Some(fields) = pairs(v) else {
        return json(v);
    };
    let mut out = Map::new();
    let mut flags = None;
    for (key, v) in fields {
        match key.as_str() {
            "flags" => flags = Some(v),
            "begin_search" | "find_keys" => {
                out.insert(key, search(v));
            }
            _ => {
                out.insert(key, json(v));
            }
        }
    }
    insert_flags(&mut out, flags);
    Json::Object(out)
}

/// A `begin_search` or `find_keys` map, whose `spec` is a map too.
fn search(v: &Value) -> Json {
    let Some(fields) = pairs(v) else {
        return json(v);
    };
    let fields = fields.into_iter().map(|(key, v)| {
        let v = if key == "spec" { pairs(v).map_or_else(|| json(v), object) } else { json(v) };
        (key, v)
    });
    Json::Object(fields.collect())
}

/// A list of arguments.
fn arguments(v: &Value) -> Json {
    Json::Array(list(v).unwrap_or_default().iter().map(argument).collect())
}

/// One argument: `flags` become `"optional": true` and the like; nested
/// `arguments` are converted in turn and left out when empty.
fn argument(v: &Value) -> Json {
    let Some(fields) = pairs(v) else {
        return json(v);
    };
    let mut out = Map::new();
    let (mut flags, mut nested) = (None, None);
    for (key, v) in fields {
        match key.as_str() {
            "flags" => flags = Some(v),
            "arguments" => nested = Some(v),
            _ => {
                out.insert(key, json(v));
            }
        }
    }
    insert_flags(&mut out, flags);
    out.remove("arguments");
    set_if_not_none_or_empty(&mut out, "arguments", nested.map(arguments));
    Json::Object(out)
}

/// Adds `"FLAG": true` for every flag.
fn insert_flags(out: &mut Map<String, Json>, flags: Option<&Value>) {
    let Some(flags) = flags else { return };
    for flag in flag_list(flags).as_array().into_iter().flatten() {
        let name = match flag {
            Json::String(s) => s.clone(),
            other => other.to_string(),
        };
        out.insert(name, Json::Bool(true));
    }
}

/// A list of flags, categories or hints. A single string (as some servers
/// send a lone flag) is a list of one; nil is an empty list.
fn flag_list(v: &Value) -> Json {
    match v {
        Value::Nil => Json::Array(Vec::new()),
        Value::Attribute { value, .. } => flag_list(value),
        v => match list(v) {
            Some(items) => Json::Array(items.iter().map(json).collect()),
            None => Json::Array(vec![json(v)]),
        },
    }
}

/// Python's `set_if_not_none_or_empty`: sets `key` unless the value is
/// missing, null or an empty list.
fn set_if_not_none_or_empty(dst: &mut Map<String, Json>, key: &str, value: Option<Json>) {
    match value {
        None | Some(Json::Null) => {}
        Some(Json::Array(items)) if items.is_empty() => {}
        Some(v) => {
            dst.insert(key.into(), v);
        }
    }
}

/// A map's fields in the order sent, where each `take` removes a field.
struct Fields<'a>(Vec<(String, &'a Value)>);

impl<'a> Fields<'a> {
    /// Removes `key`; when it was sent twice the last one counts, as when
    /// Python builds a dict.
    fn take(&mut self, key: &str) -> Option<&'a Value> {
        let found = self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| *v);
        self.0.retain(|(k, _)| k != key);
        found
    }
}

/// The docs of `name` among `docs`: by exact name, else ignoring case.
fn lookup<'a>(docs: &[(String, &'a Value)], name: &str) -> Option<&'a Value> {
    let exact = docs.iter().rev().find(|(k, _)| k == name);
    exact.or_else(|| docs.iter().rev().find(|(k, _)| k.eq_ignore_ascii_case(name))).map(|(_, v)| *v)
}

/// The fields of a map: a RESP3 map, or a RESP2 flat array of alternating
/// string keys and values.
pub fn pairs(v: &Value) -> Option<Vec<(String, &Value)>> {
    match v {
        Value::Map(pairs) => Some(pairs.iter().map(|(k, v)| (key_text(k), v)).collect()),
        Value::Array(items) if items.len() % 2 == 0 => {
            items.chunks(2).map(|kv| text(&kv[0]).map(|k| (k, &kv[1]))).collect()
        }
        Value::Attribute { value, .. } => pairs(value),
        _ => None,
    }
}

/// The items of an array or a set.
fn list(v: &Value) -> Option<&[Value]> {
    match v {
        Value::Array(items) | Value::Set(items) => Some(items),
        Value::Attribute { value, .. } => list(value),
        _ => None,
    }
}

/// The text of a string-like reply.
fn text(v: &Value) -> Option<String> {
    v.as_bytes().map(|b| String::from_utf8_lossy(b).into_owned())
}

/// A map key as a JSON object key: its text, or its JSON for other types.
fn key_text(k: &Value) -> String {
    text(k).unwrap_or_else(|| match json(k) {
        Json::String(s) => s,
        other => other.to_string(),
    })
}

/// A reply's fields as a JSON object, each value converted as it is.
fn object(fields: Vec<(String, &Value)>) -> Json {
    Json::Object(fields.into_iter().map(|(k, v)| (k, json(v))).collect())
}

/// Any reply as JSON, the way `redis-cli --json` renders it: maps become
/// objects, arrays, sets and pushes become arrays, every kind of string
/// becomes a string.
pub fn json(v: &Value) -> Json {
    match v {
        Value::Nil => Json::Null,
        Value::Int(i) => Json::from(*i),
        Value::Double(d) => Number::from_f64(*d).map_or_else(|| Json::String(d.to_string()), Json::Number),
        Value::Boolean(b) => Json::Bool(*b),
        Value::Array(items) | Value::Set(items) | Value::Push(items) => Json::Array(items.iter().map(json).collect()),
        Value::Map(pairs) => Json::Object(pairs.iter().map(|(k, v)| (key_text(k), json(v))).collect()),
        Value::Error(e) => Json::String(e.as_str().to_owned()),
        Value::Attribute { value, .. } => json(value),
        v => text(v).map_or(Json::Null, Json::String),
    }
}

fn shape(what: &str, expected: &str, got: &Value) -> Error {
    Error::Shape(format!("{what} is not {expected} (got {})", got.kind()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use serde_json::json;

    fn s(t: &str) -> Value {
        Value::Bulk(Bytes::from(t.to_owned()))
    }
    fn st(t: &str) -> Value {
        Value::Simple(Bytes::from(t.to_owned()))
    }
    fn arr(items: Vec<Value>) -> Value {
        Value::Array(items)
    }

    /// A map in RESP2 (flat array) or RESP3 (map) shape.
    fn map(resp3: bool, fields: Vec<(&str, Value)>) -> Value {
        if resp3 {
            Value::Map(fields.into_iter().map(|(k, v)| (s(k), v)).collect())
        } else {
            arr(fields.into_iter().flat_map(|(k, v)| [s(k), v]).collect())
        }
    }
    /// A list of status strings: a RESP3 set or a RESP2 array.
    fn set(resp3: bool, items: &[&str]) -> Value {
        let items = items.iter().map(|t| st(t)).collect();
        if resp3 {
            Value::Set(items)
        } else {
            Value::Array(items)
        }
    }

    /// `GET` plus the `OBJECT` container with its `ENCODING` subcommand,
    /// shaped as Redis 7.0 sends them under either protocol.
    fn replies(resp3: bool) -> (Value, Value) {
        let key_spec = map(
            resp3,
            vec![
                ("flags", set(resp3, &["RO", "access"])),
                (
                    "begin_search",
                    map(resp3, vec![("type", s("index")), ("spec", map(resp3, vec![("index", Value::Int(1))]))]),
                ),
                (
                    "find_keys",
                    map(
                        resp3,
                        vec![
                            ("type", s("range")),
                            (
                                "spec",
                                map(
                                    resp3,
                                    vec![
                                        ("lastkey", Value::Int(0)),
                                        ("keystep", Value::Int(1)),
                                        ("limit", Value::Int(0)),
                                    ],
                                ),
                            ),
                        ],
                    ),
                ),
            ],
        );
        let get = arr(vec![
            s("get"),
            Value::Int(2),
            set(resp3, &["readonly", "fast"]),
            Value::Int(1),
            Value::Int(1),
            Value::Int(1),
            set(resp3, &["@read", "@string", "@fast"]),
            set(resp3, &[]),
            arr(vec![key_spec.clone()]),
            arr(vec![]),
        ]);
        let encoding = arr(vec![
            s("object|encoding"),
            Value::Int(3),
            set(resp3, &["readonly"]),
            Value::Int(2),
            Value::Int(2),
            Value::Int(1),
            set(resp3, &["@keyspace", "@read", "@slow"]),
            set(resp3, &["nondeterministic_output"]),
            arr(vec![key_spec]),
        ]);
        let object = arr(vec![
            s("object"),
            Value::Int(-2),
            set(resp3, &[]),
            Value::Int(0),
            Value::Int(0),
            Value::Int(0),
            set(resp3, &["@slow"]),
            set(resp3, &[]),
            arr(vec![]),
            arr(vec![encoding]),
        ]);
        let commands = arr(vec![get, object]);

        let key_arg =
            |resp3| map(resp3, vec![("name", s("key")), ("type", s("key")), ("key_spec_index", Value::Int(0))]);
        let get_docs = map(
            resp3,
            vec![
                ("summary", s("Get the value of a key")),
                ("since", s("1.0.0")),
                ("group", s("string")),
                ("complexity", s("O(1)")),
                ("history", arr(vec![arr(vec![s("7.0.0"), s("Made up, with \"quotes\" and é")])])),
                ("arguments", arr(vec![key_arg(resp3)])),
                ("reply_schema", map(true, vec![("type", s("string"))])),
            ],
        );
        let encoding_docs = map(
            resp3,
            vec![
                ("summary", s("Inspect the internal encoding")),
                ("since", s("2.2.3")),
                ("group", s("generic")),
                ("doc_flags", set(resp3, &["syscmd"])),
                (
                    "arguments",
                    arr(vec![
                        key_arg(resp3),
                        map(
                            resp3,
                            vec![
                                ("name", s("mode")),
                                ("type", s("oneof")),
                                ("flags", set(resp3, &["optional"])),
                                (
                                    "arguments",
                                    arr(vec![
                                        map(
                                            resp3,
                                            vec![("name", s("a")), ("type", s("pure-token")), ("token", s("A"))],
                                        ),
                                        // A lone flag sent as a plain string.
                                        map(
                                            resp3,
                                            vec![
                                                ("name", s("b")),
                                                ("type", s("string")),
                                                ("flags", st("multiple")),
                                                ("arguments", arr(vec![])),
                                            ],
                                        ),
                                    ]),
                                ),
                            ],
                        ),
                    ]),
                ),
            ],
        );
        let object_docs = map(
            resp3,
            vec![
                ("summary", s("A container for object introspection commands")),
                ("since", s("2.2.3")),
                ("group", s("generic")),
                ("complexity", s("Depends on subcommand.")),
                ("subcommands", map(resp3, vec![("object|encoding", encoding_docs)])),
            ],
        );
        let docs = map(resp3, vec![("get", get_docs), ("object", object_docs)]);
        (commands, docs)
    }

    fn expected() -> Json {
        let key_spec = json!({
            "RO": true, "access": true,
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}}
        });
        json!({
            "GET": {
                "summary": "Get the value of a key", "since": "1.0.0", "group": "string", "complexity": "O(1)",
                "history": [["7.0.0", "Made up, with \"quotes\" and é"]],
                "acl_categories": ["@read", "@string", "@fast"],
                "arity": 2,
                "key_specs": [key_spec.clone()],
                "arguments": [{"name": "key", "type": "key", "key_spec_index": 0}],
                "command_flags": ["readonly", "fast"],
                "reply_schema": {"type": "string"}
            },
            "OBJECT": {
                "summary": "A container for object introspection commands", "since": "2.2.3", "group": "generic",
                "complexity": "Depends on subcommand.", "acl_categories": ["@slow"], "arity": -2
            },
            "OBJECT ENCODING": {
                "summary": "Inspect the internal encoding", "since": "2.2.3", "group": "generic",
                "acl_categories": ["@keyspace", "@read", "@slow"], "arity": 3,
                "key_specs": [key_spec],
                "arguments": [
                    {"name": "key", "type": "key", "key_spec_index": 0},
                    {"name": "mode", "type": "oneof", "optional": true, "arguments": [
                        {"name": "a", "type": "pure-token", "token": "A"},
                        {"name": "b", "type": "string", "multiple": true}
                    ]}
                ],
                "command_flags": ["readonly"],
                "doc_flags": ["syscmd"],
                "hints": ["nondeterministic_output"]
            }
        })
    }

    #[test]
    fn resp2_and_resp3_shapes_give_the_same_spec() {
        for resp3 in [false, true] {
            let (commands, docs) = replies(resp3);
            let spec = build(&commands, &docs).unwrap();
            assert_eq!(spec, expected(), "resp3={resp3}");
        }
    }

    #[test]
    fn renders_like_python() {
        let (commands, docs) = replies(true);
        let text = crate::pyjson::to_string(&build(&commands, &docs).unwrap());
        assert!(text.starts_with("{\n    \"GET\": {\n        \"acl_categories\": [\n            \"@read\","), "{text}");
        assert!(text.contains(r#""Made up, with \"quotes\" and \u00e9""#), "{text}");
        assert!(text.ends_with("}\n}\n"));
    }

    #[test]
    fn missing_docs_and_old_servers() {
        let entry = |n: usize| arr((0..n).map(|i| if i == 0 { s("ping") } else { arr(vec![]) }).collect());
        let spec = build(&arr(vec![entry(10)]), &Value::Map(vec![])).unwrap();
        assert_eq!(spec, json!({"PING": {"arity": []}}));
        let err = build(&arr(vec![entry(7)]), &Value::Map(vec![])).unwrap_err();
        assert!(err.to_string().contains("older than Redis 7.0"), "{err}");
        assert!(build(&Value::Int(1), &Value::Map(vec![])).is_err());
        assert!(build(&arr(vec![]), &arr(vec![s("odd")])).is_err());
    }

    #[test]
    fn module_commands_may_lack_summary() {
        let cmd = arr(vec![
            s("m.cmd"),
            Value::Int(1),
            arr(vec![]),
            Value::Int(0),
            Value::Int(0),
            Value::Int(0),
            arr(vec![]),
            arr(vec![]),
            arr(vec![]),
        ]);
        let docs = Value::Map(vec![(
            s("m.cmd"),
            Value::Map(vec![
                (s("summary"), Value::Nil),
                (s("group"), s("module")),
                (s("module"), s("mymod")),
                (s("extra"), arr(vec![])),
            ]),
        )]);
        let spec = build(&arr(vec![cmd]), &docs).unwrap();
        assert_eq!(spec, json!({"M.CMD": {"group": "module", "module": "mymod", "arity": 1, "extra": []}}));
    }
}
