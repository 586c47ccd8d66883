//! From the spec model to the API model: which trait each command goes to,
//! the names of its method, parameters, setters and argument enums, the
//! Rust type of every argument, how each is written, its reply type and its
//! docs. Cross-cutting checks live here too (name collisions, reply table
//! entries that name no setter). Nothing here knows `proc_macro`.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::ctxt::{entry, Ctxt};
use crate::naming::{self, CMD_METHODS};
use crate::replies::{self, Replies, ReplyTy};
use crate::spec::{Arg, ArgKind, Command, KeySpec, RequestPolicy, ResponsePolicy, Spec, FLAG_BLOCKING, FLAG_READONLY};
use crate::syntax;

/// Commands that need connection state, so they are methods of
/// `ConnectionCommands` (not available on a pool) instead of `Commands`.
pub const CONNECTION_COMMANDS: &[&str] = &[
    "MULTI",
    "EXEC",
    "DISCARD",
    "WATCH",
    "UNWATCH",
    "SELECT",
    "SUBSCRIBE",
    "PSUBSCRIBE",
    "SSUBSCRIBE",
    "UNSUBSCRIBE",
    "PUNSUBSCRIBE",
    "SUNSUBSCRIBE",
    "RESET",
    "MONITOR",
    "CLIENT REPLY",
    "AUTH",
    "HELLO",
];

/// The method every executor has besides the generated ones.
pub const EXECUTE_CMD: &str = "execute_cmd";

/// The parameter of a method whose command the spec gives no arguments
/// although its arity says it takes some (`DEBUG`).
const RAW_PARAM: &str = "args";

/// The value bound to an optional flag's field when a setter fixes it
/// (`.count(n)` / `.count_any(n)`) rather than taking a `bool`.
const FLAG_ON: &str = "true";
const FLAG_OFF: &str = "false";

/// Names for what has no letters or digits to be named after.
const UNNAMED_VARIANT: &str = "Empty";
const UNNAMED_PARAM: &str = "value";
const UNNAMED_SETTER: &str = "arg";

/// The spec name of an argument that says how many keys follow
/// (`ZUNION numkeys key [key ...]`). It is never a parameter: the count is
/// written from the keys given.
const NUMKEYS: &str = "numkeys";

/// What the count is when optional keys are not given (`EVAL script 0`).
const NO_KEYS: &str = "0";

/// Whether `args[i]` is a count of the keys right after it: an `integer`
/// named `numkeys`, always given, followed by a `multiple` key argument.
fn counts_keys(args: &[Arg], i: usize) -> bool {
    let (Some(n), Some(keys)) = (args.get(i), args.get(i + 1)) else { return false };
    n.name == NUMKEYS
        && n.kind == ArgKind::Integer
        && !n.optional
        && !n.multiple
        && n.token.is_none()
        && keys.kind == ArgKind::Key
        && keys.multiple
        && !keys.multiple_token
        && keys.token.is_none()
}

/// The typed API for a whole spec.
#[derive(Debug, Clone, Default)]
pub struct Api {
    /// Every entry, sorted by name: each has a `kind` marker; most a method.
    pub commands: Vec<Plan>,
    /// The enums of required (or repeated) `oneof` arguments.
    pub enums: Vec<EnumDef>,
    /// What could not be typed and fell back to raw arguments, and why.
    pub fallbacks: Vec<String>,
}

/// One entry of the spec.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub name: String,
    /// Its marker type in `kind` (`ClientKill`).
    pub kind: String,
    pub words: Vec<String>,
    pub blocking: bool,
    pub readonly: bool,
    /// One of [`CONNECTION_COMMANDS`]: its method is in `ConnectionCommands`
    /// rather than `Commands`, and a shared cluster client refuses it.
    pub connection: bool,
    pub group: String,
    pub key_specs: Vec<KeySpec>,
    pub request_policy: Option<RequestPolicy>,
    pub response_policy: Option<ResponsePolicy>,
    /// `None` for a container with no arguments of its own (`CLIENT`).
    pub method: Option<Method>,
    pub setters: Vec<Setter>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Method {
    pub ident: String,
    pub params: Vec<Param>,
    /// What the method writes, by slot.
    pub writes: Vec<(u16, Write)>,
    pub reply: ReplyTy,
    pub docs: Vec<String>,
    /// `(since, note)` for `#[deprecated]`.
    pub deprecated: Option<(Option<String>, String)>,
}

/// A parameter of a method or setter.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub ident: String,
    pub ty: Ty,
}

/// A method of the command's `Cmd` that sets one optional argument.
#[derive(Debug, Clone, PartialEq)]
pub struct Setter {
    pub ident: String,
    pub params: Vec<Param>,
    pub slot: u16,
    pub write: Write,
    /// The reply type once called, from the table's `when`.
    pub reply: Option<ReplyTy>,
    pub docs: Vec<String>,
}

/// A generated enum for a `oneof` argument.
#[derive(Debug, Clone, PartialEq)]
pub struct EnumDef {
    pub ident: String,
    pub docs: Vec<String>,
    pub variants: Vec<Variant>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    pub ident: String,
    pub docs: Vec<String>,
    /// Unnamed fields, bound as `__f0`, `__f1`... when written.
    pub fields: Vec<Ty>,
    pub write: Write,
}

/// The Rust type of a value given for an argument.
#[derive(Debug, Clone, PartialEq)]
pub enum Ty {
    /// `key`, `string`, `pattern`: `impl ToArg` where generic, else `Arg`.
    Str,
    /// `integer`, `unix-time`: `i64`.
    Int,
    /// `double`: `impl DoubleArg` where generic (a number, or an
    /// `Exclusive` bound), else `f64`.
    Double,
    /// An optional pure token inside a block.
    Bool,
    /// A generated enum in `types`.
    Enum(String),
    Tuple(Vec<Ty>),
    Option(Box<Ty>),
    /// `multiple`: `impl IntoIterator<Item = T>` where generic, else `Vec<T>`.
    Many(Box<Ty>),
    /// What could not be typed: `impl Args`.
    Raw,
}

/// How a slot's arguments are written from bound values.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    Token(String),
    /// A binding that is `ToArg`.
    Val(String),
    /// A binding of a generated enum.
    Enum(String),
    /// A binding that is `Args`.
    Raw(String),
    Seq(Vec<Write>),
    /// `for <pat> in <src> { body }`.
    Each {
        src: String,
        pat: Vec<String>,
        body: Box<Write>,
    },
    /// `if let Some(<pat>) = <src> { body }`.
    IfSome {
        src: String,
        pat: Vec<String>,
        body: Box<Write>,
    },
    /// `if <src> { body }`.
    IfTrue {
        src: String,
        body: Box<Write>,
    },
    /// How many arguments `body` writes, then those arguments (`numkeys`
    /// and the keys it counts).
    Counted(Box<Write>),
}

impl Write {
    fn seq(mut items: Vec<Write>) -> Write {
        items.retain(|w| *w != Write::Seq(Vec::new()));
        if items.len() == 1 {
            items.pop().expect("one")
        } else {
            Write::Seq(items)
        }
    }
}

/// Builds the API for `spec`; problems go to `cx`.
pub fn api(spec: &Spec, replies: &Replies, cx: &mut Ctxt) -> Api {
    let mut api = Api::default();
    let containers: HashSet<&str> =
        spec.commands.iter().filter_map(|c| c.name.split_once(' ').map(|(first, _)| first)).collect();
    let mut methods: BTreeSet<String> = BTreeSet::from([EXECUTE_CMD.to_owned()]);
    let mut kinds: BTreeSet<String> = BTreeSet::new();
    for cmd in &spec.commands {
        let at = entry(&cmd.name);
        let (Some(method), Some(kind)) = (naming::method(&cmd.name), naming::kind(&cmd.name)) else {
            cx.error(&spec.file, &at, "the name has no letters or digits to make a method of");
            continue;
        };
        let kind = numbered(kind, |k| kinds.contains(k));
        kinds.insert(kind.clone());
        let container = cmd.arguments.is_none() && containers.contains(cmd.name.as_str());
        let reply = replies.entries.get(&cmd.name);
        let mut b = Builder { cmd, kind: &kind, enums: &mut api.enums, fallbacks: &mut api.fallbacks, fresh: 0 };
        let mut plan = Plan {
            name: cmd.name.clone(),
            kind: kind.clone(),
            words: cmd.words().iter().map(|w| (*w).to_owned()).collect(),
            blocking: cmd.has_flag(FLAG_BLOCKING),
            readonly: cmd.has_flag(FLAG_READONLY),
            connection: CONNECTION_COMMANDS.contains(&cmd.name.as_str()),
            group: cmd.group.clone(),
            key_specs: cmd.key_specs.clone(),
            request_policy: cmd.request_policy,
            response_policy: cmd.response_policy,
            method: None,
            setters: Vec::new(),
        };
        if !container {
            let ident = naming::free(method, |m| methods.contains(m));
            methods.insert(ident.clone());
            let (m, setters) = b.method(ident, reply, cx);
            plan.method = Some(m);
            plan.setters = setters;
        }
        api.commands.push(plan);
    }
    api
}

/// `name`, or `name2`, `name3`... until `taken` says it is free (type names).
fn numbered(name: String, taken: impl Fn(&str) -> bool) -> String {
    if !taken(&name) {
        return name;
    }
    (2..).map(|i| format!("{name}{i}")).find(|n| !taken(n)).expect("some number is free")
}

/// How many words (name included) the arity says the command takes at least.
fn takes_more_than_its_name(cmd: &Command) -> bool {
    let words = cmd.words().len() as i64;
    cmd.arity.is_some_and(|a| a.abs() > words)
}

/// Arguments the spec types `integer` that Redis takes as any number
/// (`ZINCRBY z 0.5 m`, `WEIGHTS 1.5 2`): typed as `double` instead.
const INTEGERS_THAT_ARE_DOUBLES: &[(&str, &str)] = &[
    ("ZINCRBY", "increment"),
    ("ZINTER", "weight"),
    ("ZINTERSTORE", "weight"),
    ("ZUNION", "weight"),
    ("ZUNIONSTORE", "weight"),
];

fn is_really_double(command: &str, arg: &str) -> bool {
    INTEGERS_THAT_ARE_DOUBLES.iter().any(|&(c, a)| c == command && a == arg)
}

struct Builder<'a> {
    cmd: &'a Command,
    kind: &'a str,
    enums: &'a mut Vec<EnumDef>,
    fallbacks: &'a mut Vec<String>,
    fresh: usize,
}

/// A setter being planned, before names are made unique.
struct SetterDraft {
    label: String,
    params: Vec<Param>,
    slot: u16,
    write: Write,
    /// The spec names it answers to in the reply table's `when`, first
    /// match wins: the argument it sets (a oneof's member), or for a
    /// block's flagged setter the flag, then the block.
    when_keys: Vec<String>,
    docs: Vec<String>,
}

impl Builder<'_> {
    fn fresh(&mut self) -> String {
        self.fresh += 1;
        format!("__v{}", self.fresh)
    }

    /// The value types of `a`, ignoring whether `a` itself is optional;
    /// `Err` says why it cannot be typed.
    fn fields(&mut self, a: &Arg) -> Result<Vec<Ty>, String> {
        Ok(self.named_fields(a)?.into_iter().map(|(_, t)| t).collect())
    }

    /// [`Self::fields`] with a name for each: the argument's, or for a
    /// block, its members'.
    fn named_fields(&mut self, a: &Arg) -> Result<Vec<(String, Ty)>, String> {
        let base = self.base_fields(a)?;
        if !a.multiple {
            return Ok(base);
        }
        if base.is_empty() {
            return Err(format!("`{}` repeats a bare token", a.name));
        }
        Ok(vec![(a.name.clone(), Ty::Many(Box::new(one(base.into_iter().map(|(_, t)| t).collect()))))])
    }

    fn base_fields(&mut self, a: &Arg) -> Result<Vec<(String, Ty)>, String> {
        let mine = |t| vec![(a.name.clone(), t)];
        Ok(match &a.kind {
            ArgKind::PureToken => Vec::new(),
            ArgKind::Key | ArgKind::String | ArgKind::Pattern => mine(Ty::Str),
            ArgKind::Integer if is_really_double(&self.cmd.name, &a.name) => mine(Ty::Double),
            ArgKind::Integer | ArgKind::UnixTime => mine(Ty::Int),
            ArgKind::Double => mine(Ty::Double),
            ArgKind::Unknown(t) => return Err(format!("`{}` has type `{t}`, which this macro does not know", a.name)),
            ArgKind::OneOf(members) => mine(Ty::Enum(self.enum_for(a, members)?)),
            ArgKind::Block(members) => {
                let mut out = Vec::new();
                for m in members {
                    let f = self.named_fields(m)?;
                    if !m.optional {
                        out.extend(f);
                    } else if f.is_empty() {
                        out.push((naming::label(&m.name, m.token.as_deref()).to_owned(), Ty::Bool));
                    } else {
                        out.push((m.name.clone(), Ty::Option(Box::new(one(f.into_iter().map(|(_, t)| t).collect())))));
                    }
                }
                out
            }
        })
    }

    /// How `a` is written from `vals`, one binding per field.
    fn write(&mut self, a: &Arg, vals: &[String]) -> Write {
        let token = a.token.clone().or_else(|| (a.kind == ArgKind::PureToken).then(|| a.name.to_ascii_uppercase()));
        if !a.multiple {
            let mut items = Vec::new();
            items.extend(token.map(Write::Token));
            items.push(self.write_base(a, vals));
            return Write::seq(items);
        }
        let n = self.base_fields(a).map_or(1, |f| f.len());
        let pat: Vec<String> = (0..n).map(|_| self.fresh()).collect();
        let mut body = Vec::new();
        if a.multiple_token {
            body.extend(token.clone().map(Write::Token));
        }
        body.push(self.write_base(a, &pat));
        let each = Write::Each { src: vals[0].clone(), pat, body: Box::new(Write::seq(body)) };
        match token {
            Some(t) if !a.multiple_token => Write::Seq(vec![Write::Token(t), each]),
            _ => each,
        }
    }

    fn write_base(&mut self, a: &Arg, vals: &[String]) -> Write {
        match &a.kind {
            ArgKind::PureToken => Write::Seq(Vec::new()),
            ArgKind::OneOf(_) => Write::Enum(vals[0].clone()),
            ArgKind::Block(members) => {
                let mut vals = vals.iter();
                let mut items = Vec::new();
                for m in members {
                    let n = self.fields(m).map_or(1, |f| f.len());
                    if !m.optional {
                        let mine: Vec<String> = vals.by_ref().take(n).cloned().collect();
                        items.push(self.write(m, &mine));
                        continue;
                    }
                    let v = vals.next().expect("a value per field").clone();
                    if n == 0 {
                        match v.as_str() {
                            FLAG_ON => items.push(self.write(m, &[])),
                            FLAG_OFF => {}
                            _ => items.push(Write::IfTrue { src: v, body: Box::new(self.write(m, &[])) }),
                        }
                    } else {
                        let pat: Vec<String> = (0..n).map(|_| self.fresh()).collect();
                        let body = self.write(m, &pat);
                        items.push(Write::IfSome { src: v, pat, body: Box::new(body) });
                    }
                }
                Write::seq(items)
            }
            _ => Write::Val(vals[0].clone()),
        }
    }

    /// The enum of a `oneof`, made (or found, if an identical one exists).
    fn enum_for(&mut self, a: &Arg, members: &[Arg]) -> Result<String, String> {
        let base =
            format!("{}{}", self.kind, naming::camel(naming::label(&a.name, a.token.as_deref())).unwrap_or_default());
        let mut variants: Vec<Variant> = Vec::new();
        for m in members {
            let ident = naming::unkeyword(
                naming::camel(naming::label(&m.name, m.token.as_deref())).unwrap_or_else(|| UNNAMED_VARIANT.into()),
            );
            let ident = numbered(ident, |i| variants.iter().any(|v| v.ident == i));
            let fields = self.fields(m)?;
            // A variant's bindings live in its own match arm: numbering them
            // from zero makes the enum the same however often it is built.
            let saved = std::mem::replace(&mut self.fresh, 0);
            let vals: Vec<String> = (0..fields.len()).map(|i| format!("__f{i}")).collect();
            let write = self.write(m, &vals);
            self.fresh = saved;
            let mut docs = vec![format!("`{}`", syntax::arg(&Arg { optional: false, ..m.clone() }))];
            docs.extend(since_note(m));
            variants.push(Variant { ident, docs, fields, write });
        }
        let mut docs = vec![format!(
            "The `{}` argument of `{}`: `{}`.",
            a.name,
            self.cmd.name,
            syntax::arg(&Arg { optional: false, multiple: false, ..a.clone() })
        )];
        docs.extend(since_note(a));
        let mut ident = base.clone();
        for i in 2.. {
            match self.enums.iter().find(|e| e.ident == ident) {
                None => break,
                Some(e) if e.variants == variants => return Ok(ident),
                Some(_) => ident = format!("{base}{i}"),
            }
        }
        self.enums.push(EnumDef { ident: ident.clone(), docs, variants });
        Ok(ident)
    }

    /// Parameters for giving `a` (a block's members flattened) and how to
    /// write it from them; parameter names avoid `taken`.
    fn params(&mut self, a: &Arg, taken: &mut Vec<String>) -> Result<(Vec<Param>, Write), String> {
        let fields = self.named_fields(a)?;
        let flatten = !a.multiple && matches!(a.kind, ArgKind::Block(_));
        let (names, tys): (Vec<String>, Vec<Ty>) = if flatten || fields.len() <= 1 {
            fields.into_iter().unzip()
        } else {
            (vec![a.name.clone()], vec![one(fields.into_iter().map(|(_, t)| t).collect())])
        };
        let mut params = Vec::new();
        for (name, ty) in names.into_iter().zip(tys) {
            let ident =
                naming::free(naming::unkeyword(naming::snake(&name).unwrap_or_else(|| UNNAMED_PARAM.into())), |n| {
                    taken.iter().any(|t| t == n)
                });
            taken.push(ident.clone());
            params.push(Param { ident, ty });
        }
        let vals: Vec<String> = params.iter().map(|p| p.ident.clone()).collect();
        let write = self.write(a, &vals);
        Ok((params, write))
    }

    fn fallback(&mut self, a: &Arg, why: &str) -> String {
        let note = format!("`{}` is sent as raw arguments (`impl Args`): {why}.", a.name);
        self.fallbacks.push(format!("{}: {}", a.pointer, why));
        note
    }

    fn method(&mut self, ident: String, reply: Option<&replies::Reply>, cx: &mut Ctxt) -> (Method, Vec<Setter>) {
        let cmd = self.cmd;
        let mut params = Vec::new();
        let mut writes = Vec::new();
        let mut drafts = Vec::new();
        let mut notes = Vec::new();
        let mut taken = Vec::new();
        match &cmd.arguments {
            None if takes_more_than_its_name(cmd) => {
                params.push(Param { ident: RAW_PARAM.into(), ty: Ty::Raw });
                writes.push((1, Write::Raw(RAW_PARAM.into())));
                notes.push(format!(
                    "The spec lists no arguments, though the command takes some: `{RAW_PARAM}` is sent as given (`()` for none)."
                ));
                self.fallbacks.push(format!(
                    "{}: no arguments in the spec, arity {}",
                    entry(&cmd.name),
                    cmd.arity.unwrap_or(0)
                ));
            }
            None => {}
            Some(args) => {
                for (i, a) in args.iter().enumerate() {
                    let slot = u16::try_from(i + 1).unwrap_or(u16::MAX);
                    // Keys after their count are written with it, in its slot.
                    if i > 0 && counts_keys(args, i - 1) {
                        continue;
                    }
                    if counts_keys(args, i) {
                        let keys = &args[i + 1];
                        if keys.optional {
                            // No keys is a count of 0; the keys' setter
                            // replaces it with the count and the keys.
                            writes.push((slot, Write::Token(NO_KEYS.into())));
                            let setters = self.setters(keys, slot, &mut notes);
                            drafts.extend(setters.into_iter().map(|mut d| {
                                d.write = Write::Counted(Box::new(d.write));
                                d.docs.push(String::new());
                                d.docs.push(format!(
                                    "Preceded by their count (`{NUMKEYS}`), computed from the keys given."
                                ));
                                d
                            }));
                            notes.push(format!(
                                "`{NUMKEYS}` is not a parameter: it is computed from the keys given to their setter, and is `0` without them."
                            ));
                        } else {
                            let (p, w) =
                                self.params(keys, &mut taken).expect("a multiple key argument is always typed");
                            params.extend(p);
                            writes.push((slot, Write::Counted(Box::new(w))));
                            notes.push(format!("`{NUMKEYS}` is not a parameter: it is computed from the keys given."));
                        }
                        continue;
                    }
                    if a.optional {
                        drafts.extend(self.setters(a, slot, &mut notes));
                        continue;
                    }
                    match self.params(a, &mut taken) {
                        Ok((p, w)) => {
                            params.extend(p);
                            writes.push((slot, w));
                        }
                        Err(why) => {
                            notes.push(self.fallback(a, &why));
                            let ident = naming::free(
                                naming::unkeyword(naming::snake(&a.name).unwrap_or_else(|| RAW_PARAM.into())),
                                |n| taken.iter().any(|t| t == n),
                            );
                            taken.push(ident.clone());
                            let mut w = Vec::new();
                            w.extend(a.token.clone().map(Write::Token));
                            w.push(Write::Raw(ident.clone()));
                            writes.push((slot, Write::seq(w)));
                            params.push(Param { ident, ty: Ty::Raw });
                        }
                    }
                }
            }
        }
        if cmd.arguments.iter().flatten().any(contains_unix_time) {
            notes.push(
                "Arguments of type `unix-time` are Unix timestamps (`i64`), in seconds or milliseconds as named."
                    .into(),
            );
        }

        // Setter names: free of `Cmd`'s own methods and of each other.
        let mut names: Vec<String> = Vec::new();
        let mut setters = Vec::new();
        let when: BTreeMap<&str, &ReplyTy> =
            reply.map(|r| r.when.iter().map(|(k, v)| (k.as_str(), v)).collect()).unwrap_or_default();
        let mut used: BTreeSet<&str> = BTreeSet::new();
        for d in drafts {
            let ident = naming::unkeyword(naming::snake(&d.label).unwrap_or_else(|| UNNAMED_SETTER.into()));
            let ident = naming::free(ident, |n| CMD_METHODS.contains(&n) || names.iter().any(|t| t == n));
            names.push(ident.clone());
            let key = d.when_keys.iter().find_map(|k| when.get_key_value(k.as_str()));
            let reply = key.map(|(k, r)| {
                used.insert(k);
                (*r).clone()
            });
            let mut docs = d.docs;
            if let Some(r) = &reply {
                docs.push(format!("Once called, the reply is `{r}`."));
            }
            setters.push(Setter { ident, params: d.params, slot: d.slot, write: d.write, reply, docs });
        }
        for name in when.keys().filter(|k| !used.contains(*k)) {
            cx.error(
                replies::FILE,
                &format!("{}.when.{name}", entry(&cmd.name)),
                "names no optional argument of the command (use its spec `name`)",
            );
        }

        let reply_ty = match (reply, &cmd.reply_schema) {
            (Some(r), _) => r.reply.clone(),
            (None, Some(schema)) => replies::from_schema(schema),
            (None, None) => ReplyTy::value(),
        };
        let docs = self.method_docs(&reply_ty, &setters, notes);
        let deprecated = cmd.deprecated_since.as_ref().map(|since| {
            let note = match &cmd.replaced_by {
                Some(r) => format!("deprecated since Redis {since}: use {}", plain(r)),
                None => format!("deprecated since Redis {since}"),
            };
            (Some(since.clone()), note)
        });
        (Method { ident, params, writes, reply: reply_ty, docs, deprecated }, setters)
    }

    /// The setters of optional argument `a`.
    fn setters(&mut self, a: &Arg, slot: u16, notes: &mut Vec<String>) -> Vec<SetterDraft> {
        let label = naming::label(&a.name, a.token.as_deref()).to_owned();
        let syntax = syntax::arg(a);
        let mut docs = vec![format!("Sends `{}`.", syntax::arg(&Arg { optional: false, ..a.clone() }))];
        docs.extend(since_note(a));
        let typed: Result<Vec<SetterDraft>, String> = (|| {
            // Each member of an optional oneof is a setter of the same slot.
            if let (ArgKind::OneOf(members), false) = (&a.kind, a.multiple) {
                let mut out = Vec::new();
                for m in members {
                    let (params, w) = self.params(m, &mut Vec::new())?;
                    let mut items = Vec::new();
                    items.extend(a.token.clone().map(Write::Token));
                    items.push(w);
                    let m_label = naming::label(&m.name, m.token.as_deref());
                    let label = match &a.token {
                        Some(_) => format!("{label}_{m_label}"),
                        None => m_label.to_owned(),
                    };
                    let member = syntax::arg(&Arg { optional: false, ..m.clone() });
                    let sent = match &a.token {
                        Some(t) => format!("{t} {member}"),
                        None => member,
                    };
                    let mut docs = vec![
                        format!("Sends `{sent}`."),
                        String::new(),
                        format!("One choice of `{syntax}`: the last one called is sent."),
                    ];
                    docs.extend(since_note(m).or_else(|| since_note(a)));
                    let when_keys = vec![m.name.clone()];
                    out.push(SetterDraft { label, params, slot, write: Write::seq(items), when_keys, docs });
                }
                return Ok(out);
            }
            // A block with one optional pure token: a setter without it and
            // one with it (`.count(n)`, `.count_any(n)`).
            if let (ArgKind::Block(members), false) = (&a.kind, a.multiple) {
                let flags: Vec<&Arg> =
                    members.iter().filter(|m| m.optional && m.kind == ArgKind::PureToken && !m.multiple).collect();
                if let [flag] = flags[..] {
                    let flag_label = naming::label(&flag.name, flag.token.as_deref()).to_owned();
                    let flag_ident = naming::unkeyword(naming::snake(&flag_label).unwrap_or_default());
                    // Its field comes after those of the members before it.
                    let mut pos = 0;
                    for m in members.iter().take_while(|m| !std::ptr::eq(*m, flag)) {
                        pos += if m.optional { 1 } else { self.fields(m)?.len() };
                    }
                    let mut out = Vec::new();
                    for with in [false, true] {
                        let mut taken = Vec::new();
                        let (mut params, _) = self.params(a, &mut taken)?;
                        params.remove(pos);
                        let mut vals: Vec<String> = params.iter().map(|p| p.ident.clone()).collect();
                        vals.insert(pos, if with { FLAG_ON } else { FLAG_OFF }.to_owned());
                        let write = self.write(a, &vals);
                        let mut docs = docs.clone();
                        let flag_token = flag.token.as_deref().unwrap_or(&flag.name);
                        docs.push(String::new());
                        docs.push(if with {
                            format!("With `{flag_token}`.")
                        } else {
                            format!(
                                "Without `{flag_token}` (see `{}_{}`).",
                                naming::snake(&label).unwrap_or_default(),
                                flag_ident
                            )
                        });
                        out.push(SetterDraft {
                            label: if with { format!("{label}_{flag_label}") } else { label.clone() },
                            params,
                            slot,
                            write,
                            when_keys: if with {
                                vec![flag.name.clone(), a.name.clone()]
                            } else {
                                vec![a.name.clone()]
                            },
                            docs,
                        });
                    }
                    return Ok(out);
                }
            }
            let (params, write) = self.params(a, &mut Vec::new())?;
            // Where the spec gives two arguments one name (LCS's `LEN` flag
            // and `MINMATCHLEN len`), the reply table's key means the flag.
            let shadowed = !matches!(a.kind, ArgKind::PureToken)
                && self
                    .cmd
                    .arguments
                    .iter()
                    .flatten()
                    .any(|o| o.name == a.name && matches!(o.kind, ArgKind::PureToken));
            let when_keys = if shadowed { Vec::new() } else { vec![a.name.clone()] };
            Ok(vec![SetterDraft { label: label.clone(), params, slot, write, when_keys, docs: docs.clone() }])
        })();
        match typed {
            Ok(drafts) => drafts,
            Err(why) => {
                let note = self.fallback(a, &why);
                notes.push(note.clone());
                let mut items = Vec::new();
                items.extend(a.token.clone().map(Write::Token));
                items.push(Write::Raw(RAW_PARAM.into()));
                let mut docs = docs;
                docs.push(String::new());
                docs.push(note);
                vec![SetterDraft {
                    label,
                    params: vec![Param { ident: RAW_PARAM.into(), ty: Ty::Raw }],
                    slot,
                    write: Write::seq(items),
                    when_keys: vec![a.name.clone()],
                    docs,
                }]
            }
        }
    }

    fn method_docs(&self, reply: &ReplyTy, setters: &[Setter], notes: Vec<String>) -> Vec<String> {
        let cmd = self.cmd;
        let mut docs = Vec::new();
        docs.push(if cmd.summary.is_empty() { format!("The `{}` command.", cmd.name) } else { plain(&cmd.summary) });
        docs.push(String::new());
        let mut facts = Vec::new();
        if let Some(s) = &cmd.since {
            facts.push(format!("Since {s}"));
        }
        if !cmd.group.is_empty() {
            facts.push(format!("group `{}`", cmd.group));
        }
        if let Some(c) = &cmd.complexity {
            facts.push(format!("complexity {}", plain(c)));
        }
        if !facts.is_empty() {
            docs.push(facts.join(" · "));
            docs.push(String::new());
        }
        docs.push("```text".into());
        docs.extend(syntax::wrap(&syntax::command(cmd)));
        docs.push("```".into());
        docs.push(String::new());
        let mut reply_line = format!("Replies `{reply}` by default");
        for s in setters.iter().filter(|s| s.reply.is_some()) {
            reply_line.push_str(&format!("; `{}` after `.{}()`", s.reply.as_ref().expect("filtered"), s.ident));
        }
        docs.push(reply_line + ".");
        if !setters.is_empty() {
            let list: Vec<String> = setters.iter().map(|s| format!("`.{}()`", s.ident)).collect();
            docs.push(String::new());
            docs.push(format!("Optional arguments are set on the returned `Cmd`: {}.", list.join(", ")));
        }
        for n in notes {
            docs.push(String::new());
            docs.push(n);
        }
        docs
    }
}

fn one(mut fields: Vec<Ty>) -> Ty {
    if fields.len() == 1 {
        fields.pop().expect("one")
    } else {
        Ty::Tuple(fields)
    }
}

fn contains_unix_time(a: &Arg) -> bool {
    match &a.kind {
        ArgKind::UnixTime => true,
        ArgKind::OneOf(m) | ArgKind::Block(m) => m.iter().any(contains_unix_time),
        _ => false,
    }
}

fn since_note(a: &Arg) -> Option<String> {
    let since = a.since.as_ref().map(|s| format!("Since {s}."));
    let deprecated = a.deprecated_since.as_ref().map(|d| format!("Deprecated since {d}."));
    let mut notes: Vec<String> = since.into_iter().chain(deprecated).collect();
    if contains_unix_time(a) {
        notes.push(UNIX_TIME_NOTE.to_owned());
    }
    (!notes.is_empty()).then(|| notes.join(" "))
}

/// Said of every argument of type `unix-time`.
const UNIX_TIME_NOTE: &str = "Times of type `unix-time` are Unix timestamps (`i64`), in the unit the name says.";

/// Spec text made safe for rustdoc markdown: whitespace collapsed, and
/// brackets and angle brackets escaped outside code spans (so they are not
/// read as links or HTML).
pub fn plain(s: &str) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = String::with_capacity(s.len());
    let mut in_code = false;
    for c in s.chars() {
        if c == '`' {
            in_code = !in_code;
        } else if !in_code && matches!(c, '[' | ']' | '<' | '>' | '\\' | '*' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    if in_code {
        out.push('`');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec;

    fn api_for(json: &str, replies_json: &str) -> Result<Api, Vec<String>> {
        let mut cx = Ctxt::new();
        let spec = spec::parse(json, spec::FILE, &mut cx);
        let replies = replies::parse(replies_json, &mut cx);
        let api = api(&spec, &replies, &mut cx);
        cx.check().map(|()| api)
    }

    fn bundled() -> Api {
        api_for(include_str!("../../commands.json"), include_str!("../replies.json")).unwrap()
    }

    fn plan<'a>(api: &'a Api, name: &str) -> &'a Plan {
        api.commands.iter().find(|p| p.name == name).unwrap_or_else(|| panic!("{name}"))
    }

    fn setter_names(p: &Plan) -> Vec<&str> {
        p.setters.iter().map(|s| s.ident.as_str()).collect()
    }

    #[test]
    fn every_entry_but_bare_containers_has_a_method() {
        let api = bundled();
        assert_eq!(api.commands.len(), 366);
        let without: Vec<&str> = api.commands.iter().filter(|p| p.method.is_none()).map(|p| p.name.as_str()).collect();
        assert_eq!(
            without,
            [
                "ACL", "CLIENT", "CLUSTER", "COMMAND", "CONFIG", "FUNCTION", "LATENCY", "MEMORY", "MODULE", "OBJECT",
                "PUBSUB", "SCRIPT", "SLOWLOG", "XGROUP", "XINFO"
            ]
        );
        let m = |n: &str| plan(&api, n).method.as_ref().unwrap().ident.clone();
        assert_eq!(m("CLIENT KILL"), "client_kill");
        assert_eq!(m("CLIENT NO-EVICT"), "client_no_evict");
        assert_eq!(m("DEL"), "delete");
        assert_eq!(m("EXEC"), "execute");
        assert_eq!(m("TYPE"), "type_");
        assert_eq!(m("MOVE"), "move_");
        // Method names are unique.
        let mut all: Vec<String> =
            api.commands.iter().filter_map(|p| p.method.as_ref().map(|m| m.ident.clone())).collect();
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), n);
    }

    #[test]
    fn connection_commands() {
        let api = bundled();
        let conn: Vec<&str> =
            api.commands.iter().filter(|p| p.method.is_some() && p.connection).map(|p| p.name.as_str()).collect();
        assert_eq!(conn.len(), CONNECTION_COMMANDS.len());
        assert!(conn.contains(&"CLIENT REPLY"));
        assert!(!plan(&api, "GET").connection);
    }

    #[test]
    fn set() {
        let api = bundled();
        let set = plan(&api, "SET");
        assert_eq!(setter_names(set), ["nx", "xx", "get", "ex", "px", "exat", "pxat", "keepttl"]);
        let m = set.method.as_ref().unwrap();
        assert_eq!(
            m.params,
            [Param { ident: "key".into(), ty: Ty::Str }, Param { ident: "value".into(), ty: Ty::Str }]
        );
        assert_eq!(m.writes, [(1, Write::Val("key".into())), (2, Write::Val("value".into()))]);
        assert_eq!(m.reply.to_string(), "bool");
        let get = &set.setters[2];
        assert_eq!((get.slot, &get.write), (4, &Write::Token("GET".into())));
        assert_eq!(get.reply.as_ref().unwrap().to_string(), "Option<Bytes>");
        let ex = &set.setters[3];
        assert_eq!(ex.slot, 5);
        assert_eq!(ex.params, [Param { ident: "seconds".into(), ty: Ty::Int }]);
        assert_eq!(ex.write, Write::Seq(vec![Write::Token("EX".into()), Write::Val("seconds".into())]));
        assert!(set.setters.iter().all(|s| !s.docs.is_empty()));
        assert!(m.docs.contains(&"```text".to_owned()));
    }

    #[test]
    fn blocks_oneofs_and_multiples() {
        let api = bundled();
        let zadd = plan(&api, "ZADD");
        assert_eq!(setter_names(zadd), ["nx", "xx", "gt", "lt", "ch", "incr"]);
        let params = &zadd.method.as_ref().unwrap().params;
        assert_eq!(
            params[1],
            Param { ident: "score_member".into(), ty: Ty::Many(Box::new(Ty::Tuple(vec![Ty::Double, Ty::Str]))) }
        );

        let sort = plan(&api, "SORT");
        assert_eq!(setter_names(sort), ["by", "limit", "get", "asc", "desc", "alpha", "store"]);
        assert_eq!(sort.setters[1].params.iter().map(|p| &p.ident[..]).collect::<Vec<_>>(), ["offset", "count"]);

        let geo = plan(&api, "GEOSEARCH");
        let params = &geo.method.as_ref().unwrap().params;
        assert_eq!(params[1].ty, Ty::Enum("GeosearchFrom".into()));
        assert_eq!(params[2].ty, Ty::Enum("GeosearchBy".into()));
        assert_eq!(setter_names(geo), ["asc", "desc", "count", "count_any", "withcoord", "withdist", "withhash"]);
        let by = api.enums.iter().find(|e| e.ident == "GeosearchBy").unwrap();
        assert_eq!(by.variants[0].ident, "Circle");
        assert_eq!(by.variants[0].fields, [Ty::Double, Ty::Enum("GeosearchUnit".into())]);
        assert_eq!(api.enums.iter().filter(|e| e.ident.starts_with("GeosearchUnit")).count(), 1);

        let xrg = plan(&api, "XREADGROUP");
        let params: Vec<&str> = xrg.method.as_ref().unwrap().params.iter().map(|p| &p.ident[..]).collect();
        assert_eq!(params, ["group", "consumer", "key", "id"]);

        let kill = plan(&api, "CLIENT KILL");
        assert_eq!(kill.method.as_ref().unwrap().params[0].ty, Ty::Enum("ClientKillFilter".into()));
        let filter = api.enums.iter().find(|e| e.ident == "ClientKillFilter").unwrap();
        assert_eq!(filter.variants[1].fields, [Ty::Many(Box::new(Ty::Enum("ClientKillNewFormat".into())))]);
        let nf = api.enums.iter().find(|e| e.ident == "ClientKillNewFormat").unwrap();
        let variants: Vec<&str> = nf.variants.iter().map(|v| &v.ident[..]).collect();
        assert_eq!(variants, ["Id", "Type", "User", "Addr", "Laddr", "Skipme"]);

        let list = plan(&api, "CLIENT LIST");
        assert_eq!(setter_names(list), ["type_normal", "type_master", "type_replica", "type_pubsub", "id"]);
        let scan = plan(&api, "SCAN");
        assert_eq!(setter_names(scan), ["match_", "count", "type_"]);
        let xadd = plan(&api, "XADD");
        assert_eq!(setter_names(xadd), ["nomkstream", "trim"]);
        let bitfield = plan(&api, "BITFIELD");
        assert_eq!(bitfield.setters[0].params[0].ty, Ty::Many(Box::new(Ty::Enum("BitfieldOperation".into()))));
    }

    #[test]
    fn nothing_in_the_bundled_spec_needs_raw_arguments_but_debug() {
        let api = bundled();
        assert!(api.fallbacks.iter().all(|f| f.contains("no arguments in the spec")), "{:?}", api.fallbacks);
        assert!(plan(&api, "DEBUG").method.as_ref().unwrap().params[0].ty == Ty::Raw);
    }

    #[test]
    fn unknown_types_fall_back_to_raw_arguments() {
        let api = api_for(
            r#"{"JSON.GET": {"summary": "s", "group": "module", "reply_schema": {"type": "string"},
                 "arguments": [{"name": "key", "type": "key"},
                               {"name": "path", "type": "json-path", "optional": true},
                               {"name": "fmt", "type": "block", "arguments": [{"name": "f", "type": "format"}]}]}}"#,
            "{}",
        )
        .unwrap();
        let p = plan(&api, "JSON.GET");
        let m = p.method.as_ref().unwrap();
        assert_eq!(m.ident, "json_get");
        assert_eq!(m.params[1], Param { ident: "fmt".into(), ty: Ty::Raw });
        assert_eq!(p.setters[0].params[0].ty, Ty::Raw);
        assert_eq!(m.reply.to_string(), "Bytes");
        assert_eq!(api.fallbacks.len(), 2);
        assert!(api.fallbacks[0].contains("json-path"), "{:?}", api.fallbacks);
    }

    #[test]
    fn an_enum_is_made_once_however_often_its_argument_is_typed() {
        let api = api_for(
            r#"{"X": {"arguments": [{"name": "b", "type": "block", "optional": true, "arguments": [
                {"name": "o", "type": "integer", "optional": true, "token": "O"},
                {"name": "c", "type": "oneof", "arguments": [
                    {"name": "p", "type": "block", "arguments": [{"name": "q", "type": "integer", "optional": true, "token": "Q"}]},
                    {"name": "r", "type": "pure-token", "token": "R"}]}]}]}}"#,
            "{}",
        )
        .unwrap();
        let names: Vec<&str> = api.enums.iter().map(|e| e.ident.as_str()).collect();
        assert_eq!(names, ["XC"]);
    }

    #[test]
    fn setter_collisions_get_a_suffix() {
        let api = api_for(
            r#"{"X": {"arguments": [{"name": "name", "type": "string", "optional": true, "token": "NAME"},
                                    {"name": "returning", "type": "pure-token", "optional": true, "token": "RETURNING"},
                                    {"name": "n2", "type": "string", "optional": true, "token": "NAME"}]}}"#,
            "{}",
        )
        .unwrap();
        assert_eq!(setter_names(plan(&api, "X")), ["name_arg", "returning_arg", "name_arg2"]);
    }

    #[test]
    fn reply_when_must_name_a_setter() {
        let errors =
            api_for(include_str!("../../commands.json"), r#"{"GET": {"reply": "Bytes", "when": {"nope": "i64"}}}"#)
                .unwrap_err();
        assert_eq!(
            errors,
            [r#"replies.json: "GET".when.nope: names no optional argument of the command (use its spec `name`)"#]
        );
        // Any optional argument may change the reply; a block's flag is
        // looked up before the block.
        let api = api_for(
            include_str!("../../commands.json"),
            r#"{"LPOS": {"reply": "Option<i64>", "when": {"num-matches": "Vec<i64>"}},
                "ZRANDMEMBER": {"reply": "Option<Bytes>", "when": {"options": "Vec<Bytes>", "withscores": "Vec<(Bytes, f64)>"}}}"#,
        )
        .unwrap();
        let reply = |cmd: &str, setter: &str| {
            let s = plan(&api, cmd).setters.iter().find(|s| s.ident == setter).unwrap();
            s.reply.as_ref().map(ToString::to_string)
        };
        assert_eq!(reply("LPOS", "count").as_deref(), Some("Vec<i64>"));
        assert_eq!(reply("LPOS", "rank"), None);
        assert_eq!(reply("ZRANDMEMBER", "options").as_deref(), Some("Vec<Bytes>"));
        assert_eq!(reply("ZRANDMEMBER", "options_withscores").as_deref(), Some("Vec<(Bytes, f64)>"));
    }

    #[test]
    fn numkeys_is_counted_not_given() {
        let api = bundled();
        let counted = |w: &Write| matches!(w, Write::Counted(_));
        let mut found: Vec<&str> = api
            .commands
            .iter()
            .filter(|p| {
                p.method.as_ref().is_some_and(|m| m.writes.iter().any(|(_, w)| counted(w)))
                    || p.setters.iter().any(|s| counted(&s.write))
            })
            .map(|p| p.name.as_str())
            .collect();
        found.sort_unstable();
        assert_eq!(
            found,
            [
                "BLMPOP",
                "BZMPOP",
                "EVAL",
                "EVALSHA",
                "EVALSHA_RO",
                "EVAL_RO",
                "FCALL",
                "FCALL_RO",
                "LMPOP",
                "SINTERCARD",
                "ZDIFF",
                "ZDIFFSTORE",
                "ZINTER",
                "ZINTERCARD",
                "ZINTERSTORE",
                "ZMPOP",
                "ZUNION",
                "ZUNIONSTORE"
            ]
        );
        for p in &api.commands {
            let m = p.method.as_ref();
            assert!(m.is_none_or(|m| m.params.iter().all(|p| p.ident != NUMKEYS)), "{}", p.name);
        }

        let zunion = plan(&api, "ZUNION").method.clone().unwrap();
        let params: Vec<&str> = zunion.params.iter().map(|p| &p.ident[..]).collect();
        assert_eq!(params, ["key"]);
        assert!(matches!(&zunion.writes[..], [(1, Write::Counted(_))]), "{:?}", zunion.writes);
        assert!(zunion.docs.iter().any(|d| d.contains("computed")));

        let eval = plan(&api, "EVAL");
        let m = eval.method.as_ref().unwrap();
        let params: Vec<&str> = m.params.iter().map(|p| &p.ident[..]).collect();
        assert_eq!(params, ["script"]);
        assert_eq!(m.writes[1], (2, Write::Token(NO_KEYS.into())));
        assert_eq!(setter_names(eval), ["key", "arg"]);
        assert_eq!(eval.setters[0].slot, 2);
        assert!(counted(&eval.setters[0].write));

        // Found by shape, not by name: a command of a newer spec is counted
        // too, and a `numkeys` before something else is left alone.
        let api = api_for(
            r#"{"X.MERGE": {"arguments": [{"name": "numkeys", "type": "integer"},
                                          {"name": "key", "type": "key", "multiple": true}]},
                "X.OTHER": {"arguments": [{"name": "numkeys", "type": "integer"},
                                          {"name": "member", "type": "string", "multiple": true}]}}"#,
            "{}",
        )
        .unwrap();
        let merge = plan(&api, "X.MERGE").method.as_ref().unwrap();
        assert_eq!(merge.params.len(), 1);
        assert!(matches!(&merge.writes[..], [(1, Write::Counted(_))]));
        let other = plan(&api, "X.OTHER").method.as_ref().unwrap();
        assert_eq!(other.params[0], Param { ident: "numkeys".into(), ty: Ty::Int });
    }

    #[test]
    fn docs_are_markdown_safe() {
        assert_eq!(plain("O(N) [see <x>]  `a [b]`\n y"), r"O(N) \[see \<x\>\] `a [b]` y");
    }
}
