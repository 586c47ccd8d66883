//! The reply table (`replies.json`, embedded in this crate): default reply
//! types, and the types setters switch to, overriding what
//! [`schema`](crate::schema) derives from a spec's `reply_schema`.
//!
//! Table format: `{"SET": {"reply": "bool", "when": {"get": "Option<Bytes>"}}}`;
//! `when` maps an optional argument's spec name to the reply type once its
//! setter is called: usually a pure token (`SET`'s `get`, `ZRANGE`'s
//! `withscores`), but any optional argument may (`LPOS`'s `num-matches`),
//! and a block's flag (`ZRANDMEMBER`'s `withscores`) selects the setter
//! that sends it. A name that matches no setter is an error. Type strings
//! use the names of [`TYPES`], generics and tuples.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value as Json;

use crate::ctxt::{entry, Ctxt};

/// The name of the table in error messages.
pub const FILE: &str = "replies.json";

const REPLY: &str = "reply";
const WHEN: &str = "when";

/// The type a command's reply defaults to when nothing says otherwise.
pub const DEFAULT: &str = "Value";

/// The type names a reply type may use: name, how many generic arguments,
/// the fully qualified path emitted for it.
pub const TYPES: &[(&str, usize, &str)] = &[
    ("Bytes", 0, "crate::__private::Bytes"),
    ("Value", 0, "crate::__private::Value"),
    ("String", 0, "::std::string::String"),
    ("bool", 0, "::core::primitive::bool"),
    ("i64", 0, "::core::primitive::i64"),
    ("u64", 0, "::core::primitive::u64"),
    ("f64", 0, "::core::primitive::f64"),
    ("usize", 0, "::core::primitive::usize"),
    ("Option", 1, "::core::option::Option"),
    ("Vec", 1, "::std::vec::Vec"),
    ("HashSet", 1, "::std::collections::HashSet"),
    ("HashMap", 2, "::std::collections::HashMap"),
    ("BTreeMap", 2, "::std::collections::BTreeMap"),
];

/// Tuples convert from replies up to this many elements.
pub const MAX_TUPLE: usize = 12;

/// A reply type: a named type with generic arguments, or a tuple (`()` is
/// the empty one).
#[derive(Debug, Clone, PartialEq)]
pub enum ReplyTy {
    Named(&'static str, Vec<ReplyTy>),
    Tuple(Vec<ReplyTy>),
}

impl ReplyTy {
    pub fn value() -> ReplyTy {
        ReplyTy::Named(DEFAULT, Vec::new())
    }

    pub fn named(name: &str, args: Vec<ReplyTy>) -> ReplyTy {
        let (name, ..) = TYPES.iter().find(|(n, ..)| *n == name).expect("a known name");
        ReplyTy::Named(name, args)
    }

    /// The path emitted for a named type.
    pub fn path(name: &str) -> &'static str {
        TYPES.iter().find(|(n, ..)| *n == name).map(|(.., p)| *p).expect("a known name")
    }
}

impl fmt::Display for ReplyTy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplyTy::Named(name, args) if args.is_empty() => f.write_str(name),
            ReplyTy::Named(name, args) => {
                write!(f, "{name}<")?;
                list(f, args)?;
                f.write_str(">")
            }
            ReplyTy::Tuple(items) => {
                f.write_str("(")?;
                list(f, items)?;
                f.write_str(if items.len() == 1 { ",)" } else { ")" })
            }
        }
    }
}

fn list(f: &mut fmt::Formatter<'_>, items: &[ReplyTy]) -> fmt::Result {
    for (i, t) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{t}")?;
    }
    Ok(())
}

/// One command's entry in the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub reply: ReplyTy,
    /// Optional argument spec name -> reply type once its setter is called.
    pub when: Vec<(String, ReplyTy)>,
}

/// The reply table, keyed by upper-case command name.
#[derive(Debug, Clone, Default)]
pub struct Replies {
    pub entries: BTreeMap<String, Reply>,
}

/// Reads the table; problems go to `cx`.
pub fn parse(json: &str, cx: &mut Ctxt) -> Replies {
    let mut replies = Replies::default();
    let root: Json = match serde_json::from_str(json) {
        Ok(v) => v,
        Err(e) => {
            cx.error(FILE, "", format_args!("not valid JSON: {e}"));
            return replies;
        }
    };
    let Json::Object(root) = root else {
        cx.error(FILE, "", "expected an object keyed by command name");
        return replies;
    };
    for (name, v) in &root {
        let at = entry(name);
        let Some(obj) = v.as_object() else {
            cx.error(FILE, &at, format_args!("expected an object like {{\"{REPLY}\": \"Value\"}}"));
            continue;
        };
        let reply = match obj.get(REPLY) {
            Some(Json::String(s)) => ty(s, &format!("{at}.{REPLY}"), cx),
            _ => {
                cx.error(FILE, &format!("{at}.{REPLY}"), "expected a type string");
                None
            }
        };
        let mut when = Vec::new();
        match obj.get(WHEN) {
            None => {}
            Some(Json::Object(w)) => {
                for (arg, t) in w {
                    let at = format!("{at}.{WHEN}.{arg}");
                    match t {
                        Json::String(s) => when.extend(ty(s, &at, cx).map(|t| (arg.clone(), t))),
                        _ => cx.error(FILE, &at, "expected a type string"),
                    }
                }
            }
            Some(_) => cx.error(FILE, &format!("{at}.{WHEN}"), "expected an object of argument name -> type"),
        }
        if let Some(reply) = reply {
            replies.entries.insert(name.to_ascii_uppercase(), Reply { reply, when });
        }
    }
    replies
}

fn ty(s: &str, at: &str, cx: &mut Ctxt) -> Option<ReplyTy> {
    parse_type(s).map_err(|e| cx.error(FILE, at, format_args!("bad type `{s}`: {e}"))).ok()
}

/// Parses a type string: `Option<(Bytes, Bytes)>`, `HashMap<Bytes, i64>`,
/// `()`.
pub fn parse_type(s: &str) -> Result<ReplyTy, String> {
    let mut p = TypeParser { s: s.as_bytes(), at: 0 };
    let t = p.ty()?;
    p.ws();
    if p.at != p.s.len() {
        return Err(format!("unexpected `{}`", &s[p.at..]));
    }
    Ok(t)
}

struct TypeParser<'a> {
    s: &'a [u8],
    at: usize,
}

impl TypeParser<'_> {
    fn ws(&mut self) {
        while self.s.get(self.at).is_some_and(u8::is_ascii_whitespace) {
            self.at += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.s.get(self.at) == Some(&c) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    /// Types separated by commas up to `close`; the flag says whether a
    /// trailing comma was seen.
    fn list(&mut self, close: u8) -> Result<(Vec<ReplyTy>, bool), String> {
        let mut items = Vec::new();
        let mut trailing = false;
        while !self.eat(close) {
            if !items.is_empty() && !trailing {
                return Err(format!("expected `,` or `{}`", close as char));
            }
            items.push(self.ty()?);
            trailing = self.eat(b',');
        }
        Ok((items, trailing))
    }

    fn ty(&mut self) -> Result<ReplyTy, String> {
        self.ws();
        if self.eat(b'(') {
            let (mut items, trailing) = self.list(b')')?;
            if items.len() > MAX_TUPLE {
                return Err(format!("tuples have at most {MAX_TUPLE} elements"));
            }
            return Ok(if items.len() == 1 && !trailing { items.pop().expect("one") } else { ReplyTy::Tuple(items) });
        }
        let start = self.at;
        while self.s.get(self.at).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_') {
            self.at += 1;
        }
        let name = std::str::from_utf8(&self.s[start..self.at]).expect("ASCII");
        if name.is_empty() {
            return Err(match self.s.get(self.at) {
                Some(&c) => format!("expected a type name, found `{}`", c as char),
                None => "expected a type name".to_owned(),
            });
        }
        let Some(&(_, arity, _)) = TYPES.iter().find(|(n, ..)| *n == name) else {
            let known: Vec<_> = TYPES.iter().map(|(n, ..)| *n).collect();
            return Err(format!("unknown type `{name}` (known: {}, tuples)", known.join(", ")));
        };
        let args = if self.eat(b'<') { self.list(b'>')?.0 } else { Vec::new() };
        if args.len() != arity {
            return Err(format!("`{name}` takes {arity} type argument(s), found {}", args.len()));
        }
        Ok(ReplyTy::named(name, args))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_strings() {
        for s in [
            "Option<Bytes>",
            "Vec<Option<Bytes>>",
            "HashMap<Bytes, Bytes>",
            "Option<(Bytes, Bytes)>",
            "()",
            "(i64,)",
            "Value",
        ] {
            assert_eq!(parse_type(s).unwrap().to_string(), s);
        }
        assert_eq!(parse_type(" Vec < ( Bytes , f64 ) > ").unwrap().to_string(), "Vec<(Bytes, f64)>");
        assert_eq!(parse_type("(Bytes)").unwrap().to_string(), "Bytes");
        assert!(parse_type("Opt<Bytes>").unwrap_err().contains("unknown type `Opt`"));
        assert!(parse_type("Option").unwrap_err().contains("takes 1 type argument(s), found 0"));
        assert!(parse_type("HashMap<Bytes>").unwrap_err().contains("found 1"));
        assert!(parse_type("Vec<Bytes").is_err());
        assert!(parse_type("Vec<Bytes>>").is_err());
        assert!(parse_type("(Bytes Bytes)").is_err());
        assert!(parse_type("").is_err());
    }

    #[test]
    fn the_bundled_table_parses() {
        let mut cx = Ctxt::new();
        let r = parse(include_str!("../replies.json"), &mut cx);
        cx.check().unwrap();
        assert_eq!(r.entries["SET"].when, [("get".to_owned(), parse_type("Option<Bytes>").unwrap())]);
        assert_eq!(r.entries["BLPOP"].reply.to_string(), "Option<(Bytes, Bytes)>");
    }

    #[test]
    fn table_errors_name_the_entry() {
        let mut cx = Ctxt::new();
        parse(r#"{"GET": {"reply": "Option<Byte>"}, "SET": {"reply": "bool", "when": {"get": 5}}, "X": {}}"#, &mut cx);
        let errors = cx.check().unwrap_err();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(
            errors[0].starts_with(r#"replies.json: "GET".reply: bad type `Option<Byte>`: unknown type `Byte`"#),
            "{errors:?}"
        );
        assert_eq!(errors[1], r#"replies.json: "SET".when.get: expected a type string"#);
        assert_eq!(errors[2], r#"replies.json: "X".reply: expected a type string"#);
    }
}
