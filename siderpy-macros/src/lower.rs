//! From the spec model to the API model ([`model`](crate::model)): which
//! trait each command goes to, the names of its method, parameters, setters
//! and argument enums, the Rust type of every argument, how each is
//! written and its reply type. Nothing here knows `proc_macro`.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::ctxt::{entry, Ctxt};
use crate::docs::{self, contains_unix_time, since_note};
use crate::effects;
use crate::model::{one, Alias, Api, EnumDef, Method, Param, Plan, Setter, Ty, Variant, Write};
use crate::naming::{self, CMD_METHODS};
use crate::replies::{self, Replies, ReplyTy};
use crate::schema;
use crate::spec::{Arg, ArgKind, Command, Spec, FLAG_BLOCKING, FLAG_READONLY};
use crate::syntax;

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

/// What the count is when optional keys are not given (`EVAL script 0`).
const NO_KEYS: &str = "0";

/// Whether `n` is a bare count: an `integer`, always given, once, with no
/// token of its own.
fn is_count(n: &Arg) -> bool {
    n.kind == ArgKind::Integer && !n.optional && !n.multiple && n.token.is_none()
}

/// Whether `list` can follow its count: repeated, with no token.
fn is_countable(list: &Arg) -> bool {
    list.multiple && !list.multiple_token && list.token.is_none()
}

/// Whether `args[i]` counts the keys right after it (`ZUNION numkeys key
/// [key ...]`): a bare count followed by repeated keys, whatever its name.
/// It is never a parameter: the count is written from the keys given.
fn counts_keys(args: &[Arg], i: usize) -> bool {
    let (Some(n), Some(keys)) = (args.get(i), args.get(i + 1)) else { return false };
    is_count(n) && keys.kind == ArgKind::Key && is_countable(keys)
}

/// Whether a block is a count and the list it counts, nothing else
/// (HEXPIRE's `FIELDS numfields field [field ...]`, HSETEX's `FIELDS
/// numfields field value [field value ...]`): the count is written from
/// the list given, like keys'. Each item must be plain words, so that the
/// number of items is the number of words over [`words_per_item`].
fn counted_block(members: &[Arg]) -> bool {
    matches!(members, [n, list] if is_count(n) && is_countable(list) && !list.optional && words_per_item(list) > 0)
}

/// How many words one item of `list` is when each is a fixed number of
/// plain words (a value, or a block of required values); else 0.
fn words_per_item(list: &Arg) -> u32 {
    let plain = |a: &Arg| {
        matches!(
            a.kind,
            ArgKind::Key | ArgKind::String | ArgKind::Pattern | ArgKind::Integer | ArgKind::Double | ArgKind::UnixTime
        ) && a.token.is_none()
            && !a.optional
            && !a.multiple
    };
    match &list.kind {
        ArgKind::Block(m) if m.iter().all(plain) => m.len() as u32,
        _ if plain(&Arg { multiple: false, ..list.clone() }) => 1,
        _ => 0,
    }
}

/// The counts of [`counted_block`]s in `args`, at any depth.
fn block_counts(args: &[Arg], out: &mut Vec<String>) {
    for a in args {
        match &a.kind {
            ArgKind::Block(m) if counted_block(m) => out.push(m[0].name.clone()),
            ArgKind::Block(m) | ArgKind::OneOf(m) => block_counts(m, out),
            _ => {}
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
        let reply = reply_for(cmd, replies.entries.get(&cmd.name));
        let mut b = Builder { cmd, kind: &kind, enums: &mut api.enums, fallbacks: &mut api.fallbacks, fresh: 0 };
        let mut plan = Plan {
            name: cmd.name.clone(),
            kind: kind.clone(),
            words: cmd.words().iter().map(|w| (*w).to_owned()).collect(),
            blocking: cmd.has_flag(FLAG_BLOCKING),
            readonly: cmd.has_flag(FLAG_READONLY),
            effect: effects::of(&cmd.name),
            connection: effects::of(&cmd.name) != effects::NONE,
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
            let (m, setters) = b.method(ident, reply.as_ref());
            plan.method = Some(m);
            plan.setters = setters;
        }
        api.commands.push(plan);
    }
    // Sharing an enum can make the enums that hold it the same shape too
    // (`GeosearchBy`, `GeosearchstoreBy` once both hold `Unit`).
    while share_shapes(&mut api) {}
    api
}

/// Makes the enums of one shape (the same choices, written the same way)
/// one enum, named after the argument they share (`Unit`), else after the
/// choices (`LeftOrRight`), else as the first; each old name stays as an
/// alias, so code written against either compiles. False when nothing was
/// shared.
fn share_shapes(api: &mut Api) -> bool {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, e) in api.enums.iter().enumerate() {
        let same = |g: &Vec<usize>| {
            let first = &api.enums[g[0]];
            first.variants.len() == e.variants.len()
                && first.variants.iter().zip(&e.variants).all(|(a, b)| a.same_shape(b))
        };
        match groups.iter_mut().find(|g| same(g)) {
            Some(g) => g.push(i),
            None => groups.push(vec![i]),
        }
    }
    if groups.iter().all(|g| g.len() == 1) {
        return false;
    }
    let mut renames: BTreeMap<String, String> = BTreeMap::new();
    let mut shared: BTreeSet<usize> = BTreeSet::new();
    let taken: BTreeSet<String> = api.enums.iter().map(|e| e.ident.clone()).collect();
    let mut names: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::new();
    for g in groups.iter().filter(|g| g.len() > 1) {
        let members: Vec<&EnumDef> = g.iter().map(|&i| &api.enums[i]).collect();
        let first = members[0];
        let common = members.iter().all(|e| e.label == first.label) && !first.label.is_empty();
        let short =
            first.variants.len() <= MAX_NAMED_CHOICES && first.variants.iter().all(|v| v.ident.len() <= MAX_CHOICE_LEN);
        let name = if common && !VAGUE_LABELS.contains(&first.label.as_str()) {
            first.label.clone()
        } else if short {
            first.variants.iter().map(|v| v.ident.as_str()).collect::<Vec<_>>().join(CHOICE_SEPARATOR)
        } else {
            first.ident.clone()
        };
        let name =
            numbered(name, |n| names.contains(n) || (taken.contains(n) && !g.iter().any(|&i| api.enums[i].ident == n)));
        names.insert(name.clone());
        let syntax: Vec<String> = first.variants.iter().flat_map(|v| v.docs.first().cloned()).collect();
        let users: Vec<String> = members.iter().map(|e| format!("`{}`", e.ident)).collect();
        let docs = vec![
            format!("One of {}.", syntax.join(", ")),
            String::new(),
            format!("Taken by several commands; also named {}.", users.join(", ")),
        ];
        let variants = first
            .variants
            .iter()
            .map(|v| Variant { docs: v.docs.iter().take(1).cloned().collect(), ..v.clone() })
            .collect();
        out.push(EnumDef { ident: name.clone(), label: first.label.clone(), docs, variants });
        for e in &members {
            shared.insert(g[members.iter().position(|m| std::ptr::eq(*m, *e)).expect("a member")]);
            if e.ident != name {
                renames.insert(e.ident.clone(), name.clone());
                let mut docs = e.docs.clone();
                docs.push(String::new());
                docs.push(format!("The same choices as [`{name}`], which other commands take too."));
                api.aliases.push(Alias { ident: e.ident.clone(), target: name.clone(), docs });
            }
        }
    }
    let mut enums: Vec<EnumDef> =
        api.enums.drain(..).enumerate().filter(|(i, _)| !shared.contains(i)).map(|(_, e)| e).collect();
    enums.extend(out);
    let rename = |n: &str| renames.get(n).cloned();
    for a in &mut api.aliases {
        if let Some(new) = rename(&a.target) {
            a.target = new;
        }
    }
    for e in &mut enums {
        e.variants.iter_mut().flat_map(|v| v.fields.iter_mut()).for_each(|t| t.rename_enums(&rename));
    }
    for p in &mut api.commands {
        let params = p.method.iter_mut().flat_map(|m| m.params.iter_mut());
        params.chain(p.setters.iter_mut().flat_map(|s| s.params.iter_mut())).for_each(|p| p.ty.rename_enums(&rename));
    }
    enums.sort_by(|a, b| a.ident.cmp(&b.ident));
    api.enums = enums;
    api.aliases.sort_by(|a, b| a.ident.cmp(&b.ident));
    true
}

/// A shared enum of at most this many choices, each a short word, and no
/// common argument name is named after its choices (`LeftOrRight`).
const MAX_NAMED_CHOICES: usize = 3;
const MAX_CHOICE_LEN: usize = 6;
/// Argument names too vague (or too close to std's names) to name a shared
/// enum: `types::From` would shadow the prelude's for a glob import.
const VAGUE_LABELS: &[&str] = &["Args", "From", "Id", "Into", "Option", "Result", "Where"];
const CHOICE_SEPARATOR: &str = "Or";

/// A command's reply types: what its `reply_schema` says
/// ([`schema::derive`]), overridden by its reply table entry: the table's
/// default wins, and its `when` keys win; a derived switch is kept when the
/// table says nothing of its argument and it changes the type (a derived
/// `Value` beside a table entry says nothing more and is dropped).
fn reply_for(cmd: &Command, table: Option<&replies::Reply>) -> Option<replies::Reply> {
    let derived = cmd.reply_schema.as_ref().map(|s| schema::derive(s, cmd.arguments.as_deref().unwrap_or(&[])));
    let Some(derived) = derived else { return table.cloned() };
    let reply = table.map_or(derived.reply, |t| t.reply.clone());
    let mut when = table.map(|t| t.when.clone()).unwrap_or_default();
    for (key, ty) in derived.when {
        let said = when.iter().any(|(k, _)| *k == key);
        let uninformative = table.is_some() && ty == ReplyTy::value();
        if !said && !uninformative && ty != reply {
            when.push((key, ty));
        }
    }
    Some(replies::Reply { reply, when })
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

/// The name the spec gives a cursor argument (`SCAN cursor`, `HSCAN key
/// cursor`...): an `integer` so named is typed `u64`, as cursors are
/// unsigned 64-bit numbers and come back as `u64` in the reply table.
/// A rule on the spec's name, not a list of commands: a new command with a
/// cursor gets it too.
const CURSOR: &str = "cursor";

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
            ArgKind::Integer if a.name == CURSOR => mine(Ty::Cursor),
            ArgKind::Integer | ArgKind::UnixTime => mine(Ty::Int),
            ArgKind::Double => mine(Ty::Double),
            ArgKind::Unknown(t) => return Err(format!("`{}` has type `{t}`, which this macro does not know", a.name)),
            ArgKind::OneOf(members) => mine(Ty::Enum(self.enum_for(a, members)?)),
            ArgKind::Block(members) if counted_block(members) => self.named_fields(&members[1])?,
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
            ArgKind::Block(members) if counted_block(members) => {
                Write::Counted(words_per_item(&members[1]), Box::new(self.write(&members[1], vals)))
            }
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
        let label = naming::camel(naming::label(&a.name, a.token.as_deref())).unwrap_or_default();
        let base = format!("{}{}", self.kind, label);
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
        self.enums.push(EnumDef { ident: ident.clone(), label, docs, variants });
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

    fn method(&mut self, ident: String, reply: Option<&replies::Reply>) -> (Method, Vec<Setter>) {
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
                                d.write = Write::Counted(1, Box::new(d.write));
                                d.docs.push(String::new());
                                d.docs.push(format!(
                                    "Preceded by their count (`{}`), computed from the keys given.",
                                    a.name
                                ));
                                d
                            }));
                            notes.push(format!(
                                "`{}` is not a parameter: it is computed from the keys given to their setter, and is `0` without them.",
                                a.name
                            ));
                        } else {
                            let (p, w) =
                                self.params(keys, &mut taken).expect("a multiple key argument is always typed");
                            params.extend(p);
                            writes.push((slot, Write::Counted(1, Box::new(w))));
                            notes.push(format!("`{}` is not a parameter: it is computed from the keys given.", a.name));
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
        let mut counts = Vec::new();
        block_counts(cmd.arguments.as_deref().unwrap_or(&[]), &mut counts);
        for c in counts {
            notes.push(format!("`{c}` is not a parameter: it is computed from the list it counts."));
        }
        if cmd.arguments.iter().flatten().any(contains_unix_time) {
            notes.push(docs::UNIX_TIME_NOTE.into());
        }

        // Setter names: free of `Cmd`'s own methods and of each other.
        let mut names: Vec<String> = Vec::new();
        let mut setters = Vec::new();
        let when: BTreeMap<&str, &ReplyTy> =
            reply.map(|r| r.when.iter().map(|(k, v)| (k.as_str(), v)).collect()).unwrap_or_default();
        for d in drafts {
            let ident = naming::unkeyword(naming::snake(&d.label).unwrap_or_else(|| UNNAMED_SETTER.into()));
            let ident = naming::free(ident, |n| CMD_METHODS.contains(&n) || names.iter().any(|t| t == n));
            names.push(ident.clone());
            let key = d.when_keys.iter().find_map(|k| when.get_key_value(k.as_str()));
            let when_key = key.map(|(k, _)| (*k).to_owned());
            let reply = key.map(|(_, r)| (*r).clone());
            let mut docs = d.docs;
            if let Some(r) = &reply {
                docs.push(format!("Once called, the reply is `{r}`."));
            }
            setters.push(Setter { ident, params: d.params, slot: d.slot, write: d.write, reply, when_key, docs });
        }

        let reply_ty = reply.map_or_else(ReplyTy::value, |r| r.reply.clone());
        let docs = docs::method(cmd, &reply_ty, &setters, notes);
        let deprecated = cmd.deprecated_since.as_ref().map(|since| {
            let note = match &cmd.replaced_by {
                Some(r) => format!("deprecated since Redis {since}: use {}", docs::plain(r)),
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
        crate::check::api(&spec, &api, &replies, &mut cx);
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
    fn cursors_go_in_as_they_come_out() {
        let api = bundled();
        for name in ["SCAN", "HSCAN", "SSCAN", "ZSCAN"] {
            let m = plan(&api, name).method.as_ref().unwrap();
            let cursor = m.params.iter().find(|p| p.ident == "cursor").unwrap_or_else(|| panic!("{name}"));
            assert_eq!(cursor.ty, Ty::Cursor, "{name}");
            assert!(m.reply.to_string().starts_with("(u64, Vec<"), "{name}: {}", m.reply);
        }
        // The rule follows the argument's name, whatever the command.
        let api = api_for(
            r#"{"X.WALK": {"arguments": [{"name": "cursor", "type": "integer"}, {"name": "count", "type": "integer"}]}}"#,
            "{}",
        )
        .unwrap();
        let m = plan(&api, "X.WALK").method.as_ref().unwrap();
        assert_eq!(
            m.params,
            [Param { ident: "cursor".into(), ty: Ty::Cursor }, Param { ident: "count".into(), ty: Ty::Int }]
        );
    }

    #[test]
    fn connection_commands() {
        let api = bundled();
        let conn: Vec<&str> =
            api.commands.iter().filter(|p| p.method.is_some() && p.connection).map(|p| p.name.as_str()).collect();
        assert_eq!(conn.len(), effects::EFFECTS.len());
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
        assert_eq!(params[2].ty, Ty::Enum("By".into()));
        assert_eq!(setter_names(geo), ["asc", "desc", "count", "count_any", "withcoord", "withdist", "withhash"]);
        let by = api.enums.iter().find(|e| e.ident == "By").unwrap();
        assert_eq!(by.variants[0].ident, "Circle");
        assert_eq!(by.variants[0].fields, [Ty::Double, Ty::Enum("Unit".into())]);
        assert_eq!(api.enums.iter().filter(|e| e.ident.starts_with("GeosearchUnit")).count(), 0);

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
    fn one_enum_per_shape_and_the_old_names_as_aliases() {
        let api = bundled();
        let target = |alias: &str| api.aliases.iter().find(|a| a.ident == alias).map(|a| a.target.as_str());
        for (aliases, shared) in [
            (
                &[
                    "GeoradiusUnit",
                    "GeoradiusRoUnit",
                    "GeoradiusbymemberUnit",
                    "GeoradiusbymemberRoUnit",
                    "GeosearchUnit",
                    "GeosearchstoreUnit",
                ][..],
                "Unit",
            ),
            (
                &["BlmoveWherefrom", "BlmoveWhereto", "LmoveWherefrom", "LmoveWhereto", "BlmpopWhere", "LmpopWhere"],
                "LeftOrRight",
            ),
            (&["ZmpopWhere", "BzmpopWhere"], "MinOrMax"),
            (&["GeosearchBy", "GeosearchstoreBy"], "By"),
            (&["GeosearchstoreFrom"], "GeosearchFrom"),
        ] {
            for a in aliases {
                assert_eq!(target(a), Some(shared), "{a}");
            }
        }
        let unit = api.enums.iter().find(|e| e.ident == "Unit").unwrap();
        assert_eq!(unit.variants.iter().map(|v| v.ident.as_str()).collect::<Vec<_>>(), ["M", "Km", "Ft", "Mi"]);
        // No two enums have one shape; every alias names an enum.
        for (i, a) in api.enums.iter().enumerate() {
            for b in &api.enums[i + 1..] {
                let same = a.variants.len() == b.variants.len()
                    && a.variants.iter().zip(&b.variants).all(|(x, y)| x.same_shape(y));
                assert!(!same, "{} and {}", a.ident, b.ident);
            }
        }
        assert!(api.aliases.iter().all(|a| api.enums.iter().any(|e| e.ident == a.target)));
        let lmove = plan(&api, "LMOVE").method.as_ref().unwrap();
        assert_eq!(lmove.params[2].ty, Ty::Enum("LeftOrRight".into()));
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
        let errors = api_for(
            include_str!("../../commands.json"),
            r#"{"XPENDING": {"reply": "Value", "when": {"consumer": "i64"}},
                "GET": {"reply": "Bytes", "when": {"key": "i64"}},
                "SET": {"reply": "bool", "when": {"ifeq": "Option<Bytes>"}}}"#,
        )
        .unwrap_err();
        // XPENDING's `consumer` is a member of its optional block, sent by
        // the block's setter; GET's `key` is required, and SET's `ifeq`
        // (Valkey 8.1) not in this spec: both are another version's.
        assert_eq!(
            errors,
            [
                r#"replies.json: "XPENDING".when.consumer: names an argument that no setter sends alone (name an optional argument, a oneof's member or a block's flag)"#
            ]
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

    /// The table's `when` keys that name no argument of the bundled spec
    /// name one of the newer fixture's: no typo hides behind the tolerance
    /// for other versions.
    #[test]
    fn every_when_key_names_an_argument_of_some_spec() {
        let mut cx = Ctxt::new();
        let old = spec::parse(include_str!("../../commands.json"), spec::FILE, &mut cx);
        let new = spec::parse(include_str!("../fixtures/valkey-8.1/commands.json"), spec::FILE, &mut cx);
        let table = replies::parse(include_str!("../replies.json"), &mut cx);
        cx.check().unwrap();
        fn names(args: &[Arg], out: &mut Vec<String>) {
            for a in args {
                out.push(a.name.clone());
                if let ArgKind::OneOf(m) | ArgKind::Block(m) = &a.kind {
                    names(m, out);
                }
            }
        }
        for (cmd, reply) in &table.entries {
            let mut known = Vec::new();
            for s in [&old, &new] {
                if let Some(c) = s.commands.iter().find(|c| c.name == *cmd) {
                    names(c.arguments.as_deref().unwrap_or(&[]), &mut known);
                }
            }
            for (key, _) in &reply.when {
                assert!(known.contains(key), "{cmd}: `{key}` names no argument in either spec");
            }
        }
        // And both specs build with the table, every error at once.
        let mut cx = Ctxt::new();
        let api = api(&new, &table, &mut cx);
        crate::check::api(&new, &api, &table, &mut cx);
        cx.check().unwrap();
    }

    /// Switches come from the spec's `reply_schema`, and the table
    /// overrides them.
    #[test]
    fn reply_schemas_give_switches_the_table_overrides() {
        let json = r#"{"XPOP": {"arguments": [{"name": "key", "type": "key"},
                                              {"name": "count", "type": "integer", "optional": true},
                                              {"name": "withscores", "type": "pure-token", "token": "WITHSCORES", "optional": true}],
                       "reply_schema": {"oneOf": [{"type": "null"},
                           {"description": "When `count` is not given", "type": "string"},
                           {"description": "With `count`", "type": "array", "items": {"type": "string"}},
                           {"description": "With 'WITHSCORES'", "type": "array", "items": {"type": "number"}}]}}}"#;
        let reply = |api: &Api, setter: &str| {
            let s = plan(api, "XPOP").setters.iter().find(|s| s.ident == setter).unwrap();
            s.reply.as_ref().map(ToString::to_string)
        };
        let api = api_for(json, "{}").unwrap();
        assert_eq!(plan(&api, "XPOP").method.as_ref().unwrap().reply.to_string(), "Option<Bytes>");
        assert_eq!(reply(&api, "count").as_deref(), Some("Option<Vec<Bytes>>"));
        assert_eq!(reply(&api, "withscores").as_deref(), Some("Option<Vec<f64>>"));
        let api = api_for(json, r#"{"XPOP": {"reply": "Option<String>", "when": {"count": "Vec<String>"}}}"#).unwrap();
        assert_eq!(plan(&api, "XPOP").method.as_ref().unwrap().reply.to_string(), "Option<String>");
        assert_eq!(reply(&api, "count").as_deref(), Some("Vec<String>"));
        assert_eq!(reply(&api, "withscores").as_deref(), Some("Option<Vec<f64>>"));
    }

    #[test]
    fn numkeys_is_counted_not_given() {
        let api = bundled();
        let counted = |w: &Write| matches!(w, Write::Counted(..));
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
            assert!(m.is_none_or(|m| m.params.iter().all(|p| p.ident != "numkeys")), "{}", p.name);
        }

        let zunion = plan(&api, "ZUNION").method.clone().unwrap();
        let params: Vec<&str> = zunion.params.iter().map(|p| &p.ident[..]).collect();
        assert_eq!(params, ["key"]);
        assert!(matches!(&zunion.writes[..], [(1, Write::Counted(..))]), "{:?}", zunion.writes);
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
        assert!(matches!(&merge.writes[..], [(1, Write::Counted(..))]));
        let other = plan(&api, "X.OTHER").method.as_ref().unwrap();
        assert_eq!(other.params[0], Param { ident: "numkeys".into(), ty: Ty::Int });

        // A block of a count and the list it counts, whatever their names:
        // Redis 7.4's HEXPIRE `FIELDS numfields field [field ...]`.
        let api = api_for(
            r#"{"HEXPIRE": {"arguments": [{"name": "key", "type": "key"},
                    {"name": "seconds", "type": "integer"},
                    {"name": "condition", "type": "oneof", "optional": true, "arguments": [
                        {"name": "nx", "type": "pure-token", "token": "NX"}, {"name": "xx", "type": "pure-token", "token": "XX"}]},
                    {"name": "fields", "type": "block", "token": "FIELDS", "arguments": [
                        {"name": "numfields", "type": "integer"},
                        {"name": "field", "type": "string", "multiple": true}]}]}}"#,
            "{}",
        )
        .unwrap();
        let hexpire = plan(&api, "HEXPIRE").method.as_ref().unwrap();
        let params: Vec<&str> = hexpire.params.iter().map(|p| &p.ident[..]).collect();
        assert_eq!(params, ["key", "seconds", "field"]);
        assert_eq!(hexpire.params[2].ty, Ty::Many(Box::new(Ty::Str)));
        let Write::Seq(items) = &hexpire.writes[2].1 else { panic!("{:?}", hexpire.writes) };
        assert!(matches!(&items[..], [Write::Token(t), Write::Counted(..)] if t == "FIELDS"), "{items:?}");
        assert!(hexpire.docs.iter().any(|d| d.contains("`numfields` is not a parameter")));

        // Valkey 9.1's hash field expiry, all of it.
        let mut cx = Ctxt::new();
        let v9 = spec::parse(include_str!("../fixtures/valkey-9.1/commands.json"), spec::FILE, &mut cx);
        let api = super::api(&v9, &replies::Replies::default(), &mut cx);
        cx.check().unwrap();
        let counted: Vec<&str> = api
            .commands
            .iter()
            .filter(|p| p.method.as_ref().is_some_and(|m| m.docs.iter().any(|d| d.contains("`numfields` is not"))))
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(
            counted,
            [
                "HEXPIRE",
                "HEXPIREAT",
                "HEXPIRETIME",
                "HGETDEL",
                "HGETEX",
                "HPERSIST",
                "HPEXPIRE",
                "HPEXPIREAT",
                "HPEXPIRETIME",
                "HPTTL",
                "HSETEX",
                "HTTL"
            ]
        );
    }
}
