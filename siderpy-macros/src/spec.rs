//! `commands.json` (the format of Redis's `utils/generate-commands-json.py`)
//! read into a model that knows nothing of `proc_macro`.
//!
//! Reading is lenient where newer Redis or Valkey builds differ (unknown
//! fields are ignored, flags may be spelled `"true"`, unknown argument types
//! are kept as [`ArgKind::Unknown`] and typed later as raw arguments) and
//! strict where the structure is broken (not JSON, an argument without a
//! name or type, a `oneof`/`block` without its `arguments`): those are
//! errors naming the entry and the JSON pointer.
//!
//! The same goes for `key_specs`: a `begin_search` or `find_keys` type this
//! version does not know is kept as `Unknown` (the runtime then flags such
//! commands' keys as uncertain), while a known type with a field missing,
//! not an integer or out of range is an error. Of `hints`, only
//! `request_policy:` and `response_policy:` ones with a value this version
//! knows are kept; others (`nondeterministic_output`, policies from a newer
//! server) are ignored.

use serde_json::{Map, Value as Json};

use crate::ctxt::{entry, Ctxt};

/// The spec's name in the messages of tests.
#[cfg(test)]
pub const FILE: &str = "commands.json";

// Fields of a command entry.
const SUMMARY: &str = "summary";
const SINCE: &str = "since";
const GROUP: &str = "group";
const COMPLEXITY: &str = "complexity";
const ARITY: &str = "arity";
const COMMAND_FLAGS: &str = "command_flags";
const DEPRECATED_SINCE: &str = "deprecated_since";
const REPLACED_BY: &str = "replaced_by";
const ARGUMENTS: &str = "arguments";
const REPLY_SCHEMA: &str = "reply_schema";
const KEY_SPECS: &str = "key_specs";
const HINTS: &str = "hints";

// Fields of a key spec.
const BEGIN_SEARCH: &str = "begin_search";
const FIND_KEYS: &str = "find_keys";
const SPEC: &str = "spec";
const INCOMPLETE: &str = "incomplete";

// Hint prefixes.
const REQUEST_POLICY: &str = "request_policy:";
/// The hint of a command whose reply may differ on the same data.
const NONDETERMINISTIC_OUTPUT: &str = "nondeterministic_output";
const RESPONSE_POLICY: &str = "response_policy:";

// Fields of an argument.
const NAME: &str = "name";
const TYPE: &str = "type";
const TOKEN: &str = "token";
const DISPLAY_TEXT: &str = "display_text";
const OPTIONAL: &str = "optional";
const MULTIPLE: &str = "multiple";
const MULTIPLE_TOKEN: &str = "multiple_token";

// Argument types.
const TYPE_KEY: &str = "key";
const TYPE_STRING: &str = "string";
const TYPE_PATTERN: &str = "pattern";
const TYPE_INTEGER: &str = "integer";
const TYPE_DOUBLE: &str = "double";
const TYPE_UNIX_TIME: &str = "unix-time";
const TYPE_PURE_TOKEN: &str = "pure-token";
const TYPE_ONEOF: &str = "oneof";
const TYPE_BLOCK: &str = "block";

/// The command flag that marks a blocking command.
pub const FLAG_BLOCKING: &str = "blocking";

/// The command flag that marks a command that only reads (a cluster may
/// send it to a replica).
pub const FLAG_READONLY: &str = "readonly";

/// Every command of the spec, sorted by name.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The file's name, for error messages.
    pub file: String,
    pub commands: Vec<Command>,
}

/// One entry: `"GET"` or a container's subcommand `"CLIENT KILL"`.
#[derive(Debug, Clone, Default)]
pub struct Command {
    pub name: String,
    pub summary: String,
    pub since: Option<String>,
    pub group: String,
    pub complexity: Option<String>,
    pub arity: Option<i64>,
    pub flags: Vec<String>,
    pub deprecated_since: Option<String>,
    pub replaced_by: Option<String>,
    /// `None` when the entry has no `arguments` field at all.
    pub arguments: Option<Vec<Arg>>,
    pub reply_schema: Option<Json>,
    pub key_specs: Vec<KeySpec>,
    pub request_policy: Option<RequestPolicy>,
    pub response_policy: Option<ResponsePolicy>,
    /// The `nondeterministic_output` hint: two calls on the same data may
    /// answer differently (`TTL`, `SRANDMEMBER`), so the reply is never cached.
    pub nondeterministic: bool,
}

/// One of `key_specs`: where a group of the command's keys is. Mirrors the
/// runtime's `KeySpec`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpec {
    pub begin: BeginSearch,
    pub find: FindKeys,
    /// The spec's `incomplete` flag.
    pub incomplete: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BeginSearch {
    Index(i32),
    Keyword {
        keyword: String,
        startfrom: i32,
    },
    /// `unknown`, or a type this version does not know.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FindKeys {
    Range {
        lastkey: i32,
        keystep: i32,
        limit: i32,
    },
    Keynum {
        keynumidx: i32,
        firstkey: i32,
        keystep: i32,
    },
    /// `unknown`, or a type this version does not know.
    Unknown,
}

/// A `request_policy:` hint; the variant names are the runtime's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestPolicy {
    AllNodes,
    AllShards,
    MultiShard,
    Special,
}

/// A `response_policy:` hint; the variant names are the runtime's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponsePolicy {
    OneSucceeded,
    AllSucceeded,
    AggLogicalAnd,
    AggLogicalOr,
    AggMin,
    AggMax,
    AggSum,
    Special,
}

impl RequestPolicy {
    fn from_hint(value: &str) -> Option<Self> {
        Some(match value {
            "all_nodes" => Self::AllNodes,
            "all_shards" => Self::AllShards,
            "multi_shard" => Self::MultiShard,
            "special" => Self::Special,
            _ => return None,
        })
    }
}

impl ResponsePolicy {
    fn from_hint(value: &str) -> Option<Self> {
        Some(match value {
            "one_succeeded" => Self::OneSucceeded,
            "all_succeeded" => Self::AllSucceeded,
            "agg_logical_and" => Self::AggLogicalAnd,
            "agg_logical_or" => Self::AggLogicalOr,
            "agg_min" => Self::AggMin,
            "agg_max" => Self::AggMax,
            "agg_sum" => Self::AggSum,
            "special" => Self::Special,
            _ => return None,
        })
    }
}

/// One argument, possibly with nested ones.
#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    pub name: String,
    pub kind: ArgKind,
    pub token: Option<String>,
    pub display_text: Option<String>,
    pub optional: bool,
    pub multiple: bool,
    pub multiple_token: bool,
    pub since: Option<String>,
    pub deprecated_since: Option<String>,
    /// Where it is, for messages: `"SET".arguments[2]`.
    pub pointer: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ArgKind {
    Key,
    String,
    Pattern,
    Integer,
    Double,
    UnixTime,
    PureToken,
    OneOf(Vec<Arg>),
    Block(Vec<Arg>),
    /// A type this macro does not know (from a newer spec).
    Unknown(String),
}

impl Command {
    /// The words of the name (`["CLIENT", "KILL"]`).
    pub fn words(&self) -> Vec<&str> {
        self.name.split_ascii_whitespace().collect()
    }

    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f.eq_ignore_ascii_case(flag))
    }
}

/// Reads `json`, from the file called `file` (in messages); problems go to
/// `cx`.
pub fn parse(json: &str, file: &str, cx: &mut Ctxt) -> Spec {
    let mut r = Reader { file, cx };
    let commands = r.spec(json);
    Spec { file: file.to_owned(), commands }
}

/// [`parse`] of JSON already read (an object keyed by command name).
pub fn from_json(root: &Json, file: &str, cx: &mut Ctxt) -> Spec {
    let mut r = Reader { file, cx };
    let commands = r.commands(root);
    Spec { file: file.to_owned(), commands }
}

struct Reader<'a> {
    file: &'a str,
    cx: &'a mut Ctxt,
}

impl Reader<'_> {
    fn error(&mut self, at: &str, msg: impl std::fmt::Display) {
        self.cx.error(self.file, at, msg)
    }

    fn spec(&mut self, json: &str) -> Vec<Command> {
        let root: Json = match serde_json::from_str(json) {
            Ok(v) => v,
            Err(e) => {
                self.error("", format_args!("not valid JSON: {e}"));
                return Vec::new();
            }
        };
        self.commands(&root)
    }

    fn commands(&mut self, root: &Json) -> Vec<Command> {
        let Json::Object(root) = root else {
            self.error("", "expected an object keyed by command name");
            return Vec::new();
        };
        let mut commands: Vec<Command> = root.iter().filter_map(|(name, v)| self.command(name, v)).collect();
        commands.sort_by(|a, b| a.name.cmp(&b.name));
        commands
    }

    fn command(&mut self, name: &str, v: &Json) -> Option<Command> {
        let at = entry(name);
        let Json::Object(obj) = v else {
            self.error(&at, "expected an object");
            return None;
        };
        let name = name.split_ascii_whitespace().collect::<Vec<_>>().join(" ").to_ascii_uppercase();
        if name.is_empty() {
            self.error(&at, "a command needs a name");
            return None;
        }
        let arguments = match obj.get(ARGUMENTS) {
            None | Some(Json::Null) => None,
            Some(args) => Some(self.arguments(args, &format!("{at}.{ARGUMENTS}"))),
        };
        let key_specs = match obj.get(KEY_SPECS) {
            None | Some(Json::Null) => Vec::new(),
            Some(specs) => self.key_specs(specs, &format!("{at}.{KEY_SPECS}")),
        };
        let (request_policy, response_policy) = self.hints(obj.get(HINTS), &format!("{at}.{HINTS}"));
        let nondeterministic = obj
            .get(HINTS)
            .and_then(Json::as_array)
            .is_some_and(|hints| hints.iter().any(|h| h.as_str() == Some(NONDETERMINISTIC_OUTPUT)));
        Some(Command {
            summary: text(obj, SUMMARY).unwrap_or_default(),
            since: text(obj, SINCE),
            group: text(obj, GROUP).unwrap_or_default(),
            complexity: text(obj, COMPLEXITY),
            arity: obj.get(ARITY).and_then(Json::as_i64),
            flags: strings(obj.get(COMMAND_FLAGS)),
            deprecated_since: text(obj, DEPRECATED_SINCE),
            replaced_by: text(obj, REPLACED_BY),
            arguments,
            reply_schema: obj.get(REPLY_SCHEMA).cloned(),
            key_specs,
            request_policy,
            response_policy,
            nondeterministic,
            name,
        })
    }

    fn key_specs(&mut self, v: &Json, at: &str) -> Vec<KeySpec> {
        let Json::Array(items) = v else {
            self.error(at, "expected an array of key specs");
            return Vec::new();
        };
        items.iter().enumerate().filter_map(|(i, k)| self.key_spec(k, &format!("{at}[{i}]"))).collect()
    }

    fn key_spec(&mut self, v: &Json, at: &str) -> Option<KeySpec> {
        let Json::Object(obj) = v else {
            self.error(at, "expected a key spec object");
            return None;
        };
        // Flags are members of the spec (`"RW": true`), named as the server
        // sends them.
        let incomplete = match obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(INCOMPLETE)) {
            Some((k, _)) => self.flag(obj, k, at),
            None => false,
        };
        let begin = self.search(obj, BEGIN_SEARCH, at).map(|s| match s.ty {
            "index" => Some(BeginSearch::Index(self.int(&s, "index", 1)?)),
            "keyword" => {
                let keyword = match s.spec.and_then(|spec| spec.get("keyword")) {
                    Some(Json::String(k)) if !k.is_empty() => k.clone(),
                    _ => {
                        self.error(&format!("{}.keyword", s.at), "expected a word");
                        return None;
                    }
                };
                let startfrom = self.int(&s, "startfrom", i32::MIN)?;
                if startfrom == 0 {
                    self.error(&format!("{}.startfrom", s.at), "expected a positive or negative index, found 0");
                    return None;
                }
                Some(BeginSearch::Keyword { keyword, startfrom })
            }
            _ => Some(BeginSearch::Unknown),
        });
        let find = self.search(obj, FIND_KEYS, at).map(|s| match s.ty {
            "range" => {
                let lastkey = self.int(&s, "lastkey", i32::MIN);
                let keystep = self.int(&s, "keystep", 1);
                let limit = self.int(&s, "limit", 0);
                let (lastkey, keystep, limit) = (lastkey?, keystep?, limit?);
                if lastkey < -1 && limit > 0 {
                    self.error(&format!("{}.limit", s.at), "a limit goes with a `lastkey` of -1 only");
                    return None;
                }
                Some(FindKeys::Range { lastkey, keystep, limit })
            }
            "keynum" => {
                let keynumidx = self.int(&s, "keynumidx", 0);
                let firstkey = self.int(&s, "firstkey", 0);
                let keystep = self.int(&s, "keystep", 1);
                Some(FindKeys::Keynum { keynumidx: keynumidx?, firstkey: firstkey?, keystep: keystep? })
            }
            _ => Some(FindKeys::Unknown),
        });
        Some(KeySpec { begin: begin??, find: find??, incomplete })
    }

    /// The `begin_search` or `find_keys` (`field`) of a key spec.
    fn search<'j>(&mut self, obj: &'j Map<String, Json>, field: &str, at: &str) -> Option<Search<'j>> {
        let at = format!("{at}.{field}");
        let Some(Json::Object(search)) = obj.get(field) else {
            self.error(&at, "expected an object with a `type` and a `spec`");
            return None;
        };
        let Some(Json::String(ty)) = search.get(TYPE) else {
            self.error(&format!("{at}.{TYPE}"), "expected a string");
            return None;
        };
        let spec = match search.get(SPEC) {
            Some(Json::Object(spec)) => Some(spec),
            // `unknown` searches have an empty spec; a newer type may have none.
            None | Some(Json::Null) => None,
            Some(_) => {
                self.error(&format!("{at}.{SPEC}"), "expected an object");
                return None;
            }
        };
        Some(Search { ty, spec, at: format!("{at}.{SPEC}") })
    }

    /// The integer `field` of a search's `spec`, at least `min`.
    fn int(&mut self, search: &Search, field: &str, min: i32) -> Option<i32> {
        let found = search.spec.and_then(|o| o.get(field));
        let n = found.and_then(Json::as_i64).and_then(|n| i32::try_from(n).ok()).filter(|&n| n >= min);
        if n.is_none() {
            let at = format!("{}.{field}", search.at);
            match found {
                None => self.error(&at, "missing"),
                Some(v) if min == i32::MIN => self.error(&at, format_args!("expected an integer, found {v}")),
                Some(v) => self.error(&at, format_args!("expected an integer of at least {min}, found {v}")),
            }
        }
        n
    }

    /// The routing policies among `hints`; any other hint is ignored.
    fn hints(&mut self, v: Option<&Json>, at: &str) -> (Option<RequestPolicy>, Option<ResponsePolicy>) {
        let (mut request, mut response) = (None, None);
        let hints = match v {
            None | Some(Json::Null) => return (None, None),
            Some(Json::Array(hints)) => hints,
            Some(_) => {
                self.error(at, "expected an array of strings");
                return (None, None);
            }
        };
        for hint in hints.iter().filter_map(Json::as_str) {
            if let Some(p) = hint.strip_prefix(REQUEST_POLICY) {
                request = request.or(RequestPolicy::from_hint(p));
            } else if let Some(p) = hint.strip_prefix(RESPONSE_POLICY) {
                response = response.or(ResponsePolicy::from_hint(p));
            }
        }
        (request, response)
    }

    fn arguments(&mut self, v: &Json, at: &str) -> Vec<Arg> {
        let Json::Array(items) = v else {
            self.error(at, "expected an array of arguments");
            return Vec::new();
        };
        items.iter().enumerate().filter_map(|(i, a)| self.argument(a, &format!("{at}[{i}]"))).collect()
    }

    fn argument(&mut self, v: &Json, at: &str) -> Option<Arg> {
        let Json::Object(obj) = v else {
            self.error(at, "expected an argument object");
            return None;
        };
        let name = text(obj, NAME);
        let ty = text(obj, TYPE);
        if name.as_deref().is_none_or(str::is_empty) {
            self.error(at, "argument has no `name`");
        }
        if ty.is_none() {
            self.error(at, "argument has no `type`");
        }
        let optional = self.flag(obj, OPTIONAL, at);
        let multiple = self.flag(obj, MULTIPLE, at);
        let multiple_token = self.flag(obj, MULTIPLE_TOKEN, at);
        let token = match obj.get(TOKEN) {
            None | Some(Json::Null) => None,
            Some(Json::String(s)) => Some(s.clone()),
            Some(_) => {
                self.error(&format!("{at}.{TOKEN}"), "expected a string");
                None
            }
        };
        let (name, ty) = (name?, ty?);
        let kind = match ty.as_str() {
            TYPE_KEY => ArgKind::Key,
            TYPE_STRING => ArgKind::String,
            TYPE_PATTERN => ArgKind::Pattern,
            TYPE_INTEGER => ArgKind::Integer,
            TYPE_DOUBLE => ArgKind::Double,
            TYPE_UNIX_TIME => ArgKind::UnixTime,
            TYPE_PURE_TOKEN => ArgKind::PureToken,
            TYPE_ONEOF | TYPE_BLOCK => {
                let sub_at = format!("{at}.{ARGUMENTS}");
                let before = self.cx.count();
                let subs = match obj.get(ARGUMENTS) {
                    Some(v) => self.arguments(v, &sub_at),
                    None => {
                        self.error(at, format_args!("a `{ty}` argument needs `arguments`"));
                        return None;
                    }
                };
                if subs.is_empty() {
                    if self.cx.count() == before {
                        self.error(&sub_at, format_args!("a `{ty}` argument needs at least one member"));
                    }
                    return None;
                }
                if ty == TYPE_ONEOF {
                    ArgKind::OneOf(subs)
                } else {
                    ArgKind::Block(subs)
                }
            }
            _ => ArgKind::Unknown(ty),
        };
        Some(Arg {
            name,
            kind,
            token,
            display_text: text(obj, DISPLAY_TEXT),
            optional,
            multiple,
            multiple_token,
            since: text(obj, SINCE),
            deprecated_since: text(obj, DEPRECATED_SINCE),
            pointer: at.to_owned(),
        })
    }

    /// A boolean flag: `true`/`false`, also spelled as a string or `1`/`0`.
    fn flag(&mut self, obj: &Map<String, Json>, field: &str, at: &str) -> bool {
        match obj.get(field) {
            None | Some(Json::Null) => false,
            Some(Json::Bool(b)) => *b,
            Some(Json::String(s)) if s.eq_ignore_ascii_case("true") => true,
            Some(Json::String(s)) if s.eq_ignore_ascii_case("false") || s.is_empty() => false,
            Some(Json::Number(n)) if n.as_u64() == Some(1) => true,
            Some(Json::Number(n)) if n.as_u64() == Some(0) => false,
            Some(other) => {
                self.error(&format!("{at}.{field}"), format_args!("expected true or false, found {other}"));
                false
            }
        }
    }
}

/// A `begin_search` or `find_keys`: its `type`, its `spec` (`None` when
/// absent, as a newer type may have it) and where the `spec` is.
struct Search<'j> {
    ty: &'j str,
    spec: Option<&'j Map<String, Json>>,
    at: String,
}

/// A text field; numbers are taken as their text (a `since` of `7` from a
/// hand-edited spec), anything else as absent.
fn text(obj: &Map<String, Json>, field: &str) -> Option<String> {
    match obj.get(field)? {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn strings(v: Option<&Json>) -> Vec<String> {
    v.and_then(Json::as_array)
        .map_or_else(Vec::new, |a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(json: &str) -> Spec {
        let mut cx = Ctxt::new();
        let spec = parse(json, FILE, &mut cx);
        cx.check().unwrap();
        spec
    }

    fn parse_err(json: &str) -> Vec<String> {
        let mut cx = Ctxt::new();
        parse(json, FILE, &mut cx);
        cx.check().unwrap_err()
    }

    #[test]
    fn reads_the_bundled_spec() {
        let spec = parse_ok(include_str!("../../commands.json"));
        assert_eq!(spec.commands.len(), 366);
        let set = spec.commands.iter().find(|c| c.name == "SET").unwrap();
        let args = set.arguments.as_ref().unwrap();
        assert_eq!(args.len(), 5);
        assert_eq!(args[3].token.as_deref(), Some("GET"));
        assert!(args[3].optional);
        let ArgKind::OneOf(members) = &args[4].kind else { panic!("{:?}", args[4]) };
        assert_eq!(members[2].kind, ArgKind::UnixTime);
        assert_eq!(members[2].pointer, r#""SET".arguments[4].arguments[2]"#);
        let blpop = spec.commands.iter().find(|c| c.name == "BLPOP").unwrap();
        assert!(blpop.has_flag(FLAG_BLOCKING));
        let client = spec.commands.iter().find(|c| c.name == "CLIENT").unwrap();
        assert!(client.arguments.is_none());
        // Sorted by name, bytewise, as `command_info` searches it.
        assert!(spec.commands.windows(2).all(|w| w[0].name < w[1].name));
    }

    #[test]
    fn tolerates_newer_specs() {
        let spec = parse_ok(
            r#"{"JSON.GET": {"summary": "s", "since": 1, "group": "module", "new_field": {"x": 1},
                "reply_schema": {"type": "string"},
                "arguments": [{"name": "key", "type": "key"},
                              {"name": "path", "type": "json-path", "optional": "true", "multiple": "false"}]}}"#,
        );
        let c = &spec.commands[0];
        assert_eq!(c.since.as_deref(), Some("1"));
        let args = c.arguments.as_ref().unwrap();
        assert_eq!(args[1].kind, ArgKind::Unknown("json-path".into()));
        assert!(args[1].optional);
        assert!(!args[1].multiple);
        assert!(c.reply_schema.is_some());
    }

    #[test]
    fn reports_every_malformed_entry_at_once() {
        let errors = parse_err(
            r#"{"A": {"arguments": [{"type": "string"}, {"name": "x"}]},
                "B": {"arguments": [{"name": "o", "type": "oneof"}]},
                "C": {"arguments": {"name": "x"}},
                "D": {"arguments": [{"name": "x", "type": "string", "optional": [1]}]},
                "E": 5}"#,
        );
        assert_eq!(
            errors,
            [
                r#"commands.json: "A".arguments[0]: argument has no `name`"#,
                r#"commands.json: "A".arguments[1]: argument has no `type`"#,
                r#"commands.json: "B".arguments[0]: a `oneof` argument needs `arguments`"#,
                r#"commands.json: "C".arguments: expected an array of arguments"#,
                r#"commands.json: "D".arguments[0].optional: expected true or false, found [1]"#,
                r#"commands.json: "E": expected an object"#,
            ]
        );
    }

    #[test]
    fn key_specs_and_policies() {
        let spec = parse_ok(include_str!("../../commands.json"));
        let cmd = |name: &str| spec.commands.iter().find(|c| c.name == name).unwrap();
        assert_eq!(
            cmd("XREAD").key_specs,
            [KeySpec {
                begin: BeginSearch::Keyword { keyword: "STREAMS".into(), startfrom: 1 },
                find: FindKeys::Range { lastkey: -1, keystep: 1, limit: 2 },
                incomplete: false,
            }]
        );
        assert_eq!(cmd("EVAL").key_specs[0].find, FindKeys::Keynum { keynumidx: 0, firstkey: 1, keystep: 1 });
        assert!(cmd("MIGRATE").key_specs[1].incomplete);
        assert_eq!(cmd("SORT").key_specs[2].begin, BeginSearch::Unknown);
        assert_eq!(cmd("SORT").key_specs[2].find, FindKeys::Unknown);
        assert!(cmd("PING").key_specs.is_empty());
        assert_eq!(cmd("DBSIZE").request_policy, Some(RequestPolicy::AllShards));
        assert_eq!(cmd("DBSIZE").response_policy, Some(ResponsePolicy::AggSum));
        assert_eq!((cmd("KEYS").request_policy, cmd("KEYS").response_policy), (Some(RequestPolicy::AllShards), None));
        assert_eq!((cmd("GET").request_policy, cmd("GET").response_policy), (None, None));
        let with_keys = spec.commands.iter().filter(|c| !c.key_specs.is_empty()).count();
        assert_eq!(with_keys, 193);
    }

    #[test]
    fn newer_key_specs_and_hints_are_tolerated() {
        let spec = parse_ok(
            r#"{"X": {"key_specs": [
                    {"begin_search": {"type": "lookahead", "spec": {"depth": 3}},
                     "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
                     "INCOMPLETE": "true", "new_flag": true},
                    {"begin_search": {"type": "index", "spec": {"index": 2, "extra": 1}},
                     "find_keys": {"type": "pattern"}}],
                "hints": ["request_policy:some_shards", "response_policy:agg_mean", "response_policy:agg_max",
                          "request_policy:special", "nondeterministic_output", 5]}}"#,
        );
        let c = &spec.commands[0];
        assert_eq!(
            c.key_specs,
            [
                KeySpec {
                    begin: BeginSearch::Unknown,
                    find: FindKeys::Range { lastkey: 0, keystep: 1, limit: 0 },
                    incomplete: true,
                },
                KeySpec { begin: BeginSearch::Index(2), find: FindKeys::Unknown, incomplete: false },
            ]
        );
        assert_eq!(c.request_policy, Some(RequestPolicy::Special));
        assert_eq!(c.response_policy, Some(ResponsePolicy::AggMax));
    }

    #[test]
    fn malformed_key_specs_are_errors() {
        let errors = parse_err(
            r#"{"A": {"key_specs": {"begin_search": {}}},
                "B": {"key_specs": [5,
                    {"find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 0, "limit": 0}}},
                    {"begin_search": {"type": "index", "spec": {"index": "1"}},
                     "find_keys": {"type": "keynum", "spec": {"keynumidx": 0, "firstkey": 1}}},
                    {"begin_search": {"type": "keyword", "spec": {"keyword": "", "startfrom": 0}},
                     "find_keys": {"type": "range", "spec": {"lastkey": -2, "keystep": 1, "limit": 2}}},
                    {"begin_search": {"type": 1, "spec": {}}, "find_keys": {"type": "unknown", "spec": []}},
                    {"begin_search": {"type": "keyword", "spec": {"keyword": "K", "startfrom": 0}},
                     "find_keys": {"type": "range", "spec": {"lastkey": 4294967296, "keystep": 1, "limit": -1}}}],
                "hints": "request_policy:all_shards"}}"#,
        );
        assert_eq!(
            errors,
            [
                r#"commands.json: "A".key_specs: expected an array of key specs"#,
                r#"commands.json: "B".key_specs[0]: expected a key spec object"#,
                r#"commands.json: "B".key_specs[1].begin_search: expected an object with a `type` and a `spec`"#,
                r#"commands.json: "B".key_specs[1].find_keys.spec.keystep: expected an integer of at least 1, found 0"#,
                r#"commands.json: "B".key_specs[2].begin_search.spec.index: expected an integer of at least 1, found "1""#,
                r#"commands.json: "B".key_specs[2].find_keys.spec.keystep: missing"#,
                r#"commands.json: "B".key_specs[3].begin_search.spec.keyword: expected a word"#,
                r#"commands.json: "B".key_specs[3].find_keys.spec.limit: a limit goes with a `lastkey` of -1 only"#,
                r#"commands.json: "B".key_specs[4].begin_search.type: expected a string"#,
                r#"commands.json: "B".key_specs[4].find_keys.spec: expected an object"#,
                r#"commands.json: "B".key_specs[5].begin_search.spec.startfrom: expected a positive or negative index, found 0"#,
                r#"commands.json: "B".key_specs[5].find_keys.spec.lastkey: expected an integer, found 4294967296"#,
                r#"commands.json: "B".key_specs[5].find_keys.spec.limit: expected an integer of at least 0, found -1"#,
                r#"commands.json: "B".hints: expected an array of strings"#,
            ]
        );
    }

    #[test]
    fn not_json() {
        let errors = parse_err("{ nope");
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("commands.json: not valid JSON"), "{errors:?}");
    }
}
