//! `commands.json` (the format of Redis's `utils/generate-commands-json.py`)
//! read into a model that knows nothing of `proc_macro`.
//!
//! Reading is lenient where newer Redis or Valkey builds differ (unknown
//! fields are ignored, flags may be spelled `"true"`, unknown argument types
//! are kept as [`ArgKind::Unknown`] and typed later as raw arguments) and
//! strict where the structure is broken (not JSON, an argument without a
//! name or type, a `oneof`/`block` without its `arguments`): those are
//! errors naming the entry and the JSON pointer.

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
            name,
        })
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
        if name.as_deref().map_or(true, str::is_empty) {
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
    fn not_json() {
        let errors = parse_err("{ nope");
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("commands.json: not valid JSON"), "{errors:?}");
    }
}
