//! Name stability: a typed API generated from one spec keeps compiling when
//! the spec is regenerated from a newer server.
//!
//! `names.json` (embedded) records, for the spec the API was first
//! published from (Redis 7.0.15), every command's arguments and what the
//! macro emitted for it: the method, its parameters in order, its setters,
//! and every type name. Before lowering, [`apply`] brings a newer spec's
//! arguments back to those names and shapes where the server only renamed
//! or loosened them:
//!
//! - an argument renamed upstream (XADD's `id_or_auto` -> `id-selector`,
//!   GEOSEARCH's `count` block -> `count-block`, BITCOUNT's `index` ->
//!   `range`) takes its old name back, so its setter and enum keep theirs
//!   (`.count_any()`, `XaddIdOrAuto`); it is found by name, else by its
//!   token, else at the same place with the same shape (types and tokens,
//!   names aside);
//! - an argument made optional stays a parameter: GEOHASH's members and
//!   PFMERGE's sources (an empty list sends nothing, as before),
//!   GEOSEARCH's `FROM...` (optional since Valkey 9's `BYPOLYGON`);
//! - an argument made repeatable inside an enum (CLIENT KILL's `ID`) stays
//!   single, and a word argument made a `oneof` of tokens (BITOP's
//!   `operation`, CLIENT KILL's `SKIPME yes/no`) stays a word;
//! - a command whose arguments the old spec did not list (COMMAND GETKEYS)
//!   keeps its raw arguments;
//! - a command whose arguments were restructured rather than renamed
//!   (BITCOUNT's `end` made optional, SHUTDOWN's flags moved into a
//!   `oneof`, XINFO STREAM's `FULL` made a flag) keeps its old arguments
//!   whole, when every token of theirs is still one of the command's: the
//!   server still takes the old syntax. Its new options wait for the next
//!   naming table.
//!
//! What is new keeps the new names; what was removed upstream is gone.

use serde_json::Value as Json;

use crate::ctxt::Ctxt;
use crate::spec::{self, Arg, ArgKind, Command, Spec};

/// The naming table's name in messages.
pub const FILE: &str = "names.json";

// Fields of the naming table. Besides its `arguments`, each command has
// `emitted` (its method, parameters and setters) and the table `source`
// and `types`: what the tests check a newer spec keeps.
const COMMANDS: &str = "commands";

/// The naming table, as [`apply`] reads it: the old spec's commands.
#[derive(Debug, Clone, Default)]
pub struct Names {
    pub commands: Vec<Command>,
}

/// Reads the naming table; problems go to `cx`.
pub fn parse(json: &str, cx: &mut Ctxt) -> Names {
    let root: Json = match serde_json::from_str(json) {
        Ok(v) => v,
        Err(e) => {
            cx.error(FILE, "", format_args!("not valid JSON: {e}"));
            return Names::default();
        }
    };
    let commands = root.get(COMMANDS).cloned().unwrap_or(Json::Null);
    Names { commands: spec::from_json(&commands, FILE, cx).commands }
}

/// Brings `spec`'s arguments back to the names and shapes of `names`
/// where a newer server only renamed or loosened them (see the module docs).
pub fn apply(spec: &mut Spec, names: &Names) {
    for cmd in &mut spec.commands {
        let Some(old) = names.commands.iter().find(|c| c.name == cmd.name) else { continue };
        match (&old.arguments, &mut cmd.arguments) {
            (None, Some(_)) => cmd.arguments = None,
            (Some(old), Some(new)) => {
                restore(old, new);
                // Restructured rather than renamed (BITCOUNT's `end` made
                // optional in a nested block, SHUTDOWN's flags moved into a
                // oneof): the old arguments, which the server still takes
                // when every word of theirs is still a word of the command.
                let kept = old.iter().all(|o| new.iter().any(|n| n.name == o.name));
                if !kept && tokens(old).iter().all(|t| tokens(new).contains(t)) {
                    *new = old.clone();
                }
            }
            _ => {}
        }
    }
}

/// Every token of `args`, nested ones included.
fn tokens(args: &[Arg]) -> Vec<&str> {
    let mut out = Vec::new();
    for a in args {
        out.extend(a.token.as_deref());
        if let ArgKind::OneOf(m) | ArgKind::Block(m) = &a.kind {
            out.extend(tokens(m));
        }
    }
    out
}

/// Matches each of `new` with one of `old` and restores its name and shape.
fn restore(old: &[Arg], new: &mut [Arg]) {
    let mut used = vec![false; old.len()];
    // Names first, so a renamed argument cannot take a kept one's place;
    // one name may be given twice (SORT's `BY pattern`, `GET pattern`), so
    // each old argument is matched once, the same shape first.
    let mut matched: Vec<Option<usize>> = vec![None; new.len()];
    for (i, n) in new.iter().enumerate() {
        let named = |j: &usize| !used[*j] && old[*j].name == n.name;
        let j = (0..old.len()).filter(named).find(|&j| same_shape(&old[j], n)).or_else(|| (0..old.len()).find(named));
        if let Some(j) = j {
            used[j] = true;
            matched[i] = Some(j);
        }
    }
    // Then by token: a token is kept when a name changes (CLIENT KILL's
    // `yes/no` is `skipme` now, and a oneof of YES | NO).
    for (i, n) in new.iter().enumerate() {
        if matched[i].is_some() || n.token.is_none() {
            continue;
        }
        let j = (0..old.len()).find(|&j| {
            !used[j]
                && old[j].token == n.token
                && old[j].optional == n.optional
                && !new.iter().any(|m| m.name == old[j].name)
        });
        if let Some(j) = j {
            used[j] = true;
            matched[i] = Some(j);
        }
    }
    for i in 0..new.len() {
        if matched[i].is_some() {
            continue;
        }
        let free = |j: usize, used: &[bool]| {
            !used[j] && same_shape(&old[j], &new[i]) && !new.iter().any(|n| n.name == old[j].name)
        };
        let j = (i < old.len() && free(i, &used)).then_some(i).or_else(|| (0..old.len()).find(|&j| free(j, &used)));
        if let Some(j) = j {
            used[j] = true;
            matched[i] = Some(j);
        }
    }
    for (n, j) in new.iter_mut().zip(matched) {
        if let Some(j) = j {
            restore_one(&old[j], n);
        }
    }
}

fn restore_one(old: &Arg, new: &mut Arg) {
    new.name.clone_from(&old.name);
    // Given is still valid where optional: a parameter stays one.
    if !old.optional && new.optional {
        new.optional = false;
    }
    if !old.multiple && new.multiple && new.optional == old.optional && kind_name(&old.kind) == kind_name(&new.kind) {
        new.multiple = false;
        new.multiple_token = false;
    }
    let all_tokens = |m: &[Arg]| m.iter().all(|a| a.kind == ArgKind::PureToken);
    match (&old.kind, &mut new.kind) {
        (ArgKind::String, ArgKind::OneOf(m)) if all_tokens(m) && new.token == old.token => new.kind = ArgKind::String,
        (ArgKind::OneOf(o) | ArgKind::Block(o), ArgKind::OneOf(n) | ArgKind::Block(n)) => restore(o, n),
        _ => {}
    }
}

/// Whether two arguments are the same but for their names.
fn same_shape(a: &Arg, b: &Arg) -> bool {
    let members = |k: &ArgKind| match k {
        ArgKind::OneOf(m) | ArgKind::Block(m) => Some(m.clone()),
        _ => None,
    };
    kind_name(&a.kind) == kind_name(&b.kind)
        && a.token == b.token
        && a.optional == b.optional
        && a.multiple == b.multiple
        && match (members(&a.kind), members(&b.kind)) {
            (Some(x), Some(y)) => x.len() == y.len() && x.iter().zip(&y).all(|(p, q)| same_shape(p, q)),
            _ => true,
        }
}

fn kind_name(k: &ArgKind) -> &str {
    match k {
        ArgKind::Key => "key",
        ArgKind::String => "string",
        ArgKind::Pattern => "pattern",
        ArgKind::Integer => "integer",
        ArgKind::Double => "double",
        ArgKind::UnixTime => "unix-time",
        ArgKind::PureToken => "pure-token",
        ArgKind::OneOf(_) => "oneof",
        ArgKind::Block(_) => "block",
        ArgKind::Unknown(t) => t,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Map};

    use super::*;
    use crate::model::{Api, Ty};
    use crate::replies;

    /// Set to rewrite `names.json` from the bundled spec (only when the
    /// first published API itself changes on purpose).
    const BLESS: &str = "SIDERPY_BLESS_NAMES";
    const SOURCE: &str = "source";
    const TYPES: &str = "types";
    const EMITTED: &str = "emitted";

    fn arg_json(a: &Arg) -> Json {
        let mut o = Map::new();
        o.insert("name".into(), json!(a.name));
        o.insert("type".into(), json!(kind_name(&a.kind)));
        if let Some(t) = &a.token {
            o.insert("token".into(), json!(t));
        }
        for (flag, on) in [("optional", a.optional), ("multiple", a.multiple), ("multiple_token", a.multiple_token)] {
            if on {
                o.insert(flag.into(), json!(true));
            }
        }
        if let ArgKind::OneOf(m) | ArgKind::Block(m) = &a.kind {
            o.insert("arguments".into(), m.iter().map(arg_json).collect());
        }
        Json::Object(o)
    }

    /// A parameter's type with enum names left out (an enum may be shared
    /// under another name; its old name is checked as a type).
    fn ty_shape(t: &Ty) -> String {
        match t {
            Ty::Enum(_) => "Enum".into(),
            Ty::Tuple(items) => format!("({})", items.iter().map(ty_shape).collect::<Vec<_>>().join(", ")),
            Ty::Option(t) => format!("Option<{}>", ty_shape(t)),
            Ty::Many(t) => format!("Many<{}>", ty_shape(t)),
            other => format!("{other:?}"),
        }
    }

    fn table(source: &str, spec: &Spec, api: &Api) -> Json {
        let mut commands = Map::new();
        for (cmd, plan) in spec.commands.iter().zip(&api.commands) {
            assert_eq!(cmd.name, plan.name);
            let mut entry = Map::new();
            if let Some(args) = &cmd.arguments {
                entry.insert("arguments".into(), args.iter().map(arg_json).collect());
            }
            if let Some(m) = &plan.method {
                let params: Vec<String> =
                    m.params.iter().map(|p| format!("{}: {}", p.ident, ty_shape(&p.ty))).collect();
                let setters: Vec<&str> = plan.setters.iter().map(|s| s.ident.as_str()).collect();
                entry.insert(EMITTED.into(), json!({"method": m.ident, "params": params, "setters": setters}));
            }
            commands.insert(cmd.name.clone(), Json::Object(entry));
        }
        let mut types: Vec<&str> = api.enums.iter().map(|e| e.ident.as_str()).collect();
        types.extend(api.aliases.iter().map(|a| a.ident.as_str()));
        types.sort_unstable();
        json!({SOURCE: source, TYPES: types, COMMANDS: commands})
    }

    fn lowered(json: &str, names: Option<&Names>) -> (Spec, Api) {
        let mut cx = Ctxt::new();
        let mut spec = spec::parse(json, spec::FILE, &mut cx);
        if let Some(names) = names {
            apply(&mut spec, names);
        }
        let replies = replies::parse(crate::REPLIES, &mut cx);
        let api = crate::lower::api(&spec, &replies, &mut cx);
        crate::check::api(&spec, &api, &replies, &mut cx);
        cx.check().unwrap();
        (spec, api)
    }

    /// `names.json` is what the macro emits for the bundled Redis 7.0.15
    /// spec, and applying it to that spec changes nothing.
    #[test]
    fn the_naming_table_is_what_the_bundled_spec_emits() {
        let (spec, api) = lowered(include_str!("../../commands.json"), None);
        let mut text = serde_json::to_string_pretty(&table("redis 7.0.15", &spec, &api)).unwrap();
        text.push('\n');
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(FILE);
        if std::env::var_os(BLESS).is_some() {
            std::fs::write(&path, &text).unwrap();
        }
        assert!(text == crate::NAMES, "{FILE} is stale: regenerate it with {BLESS}=1 (only for a deliberate change)");
        let mut cx = Ctxt::new();
        let names = parse(crate::NAMES, &mut cx);
        cx.check().unwrap();
        let (again, _) = lowered(include_str!("../../commands.json"), Some(&names));
        for (a, b) in again.commands.iter().zip(&spec.commands) {
            assert_eq!(format!("{:?}", a.arguments), format!("{:?}", b.arguments), "{}", a.name);
        }
    }

    /// Built from the newer fixture specs (Valkey 8.1, the one CI builds
    /// the suite against, and 9.1), the API keeps every method, parameter
    /// list, setter and type name of the table.
    #[test]
    fn newer_specs_keep_every_name() {
        keeps_every_name(include_str!("../fixtures/valkey-8.1/commands.json"));
        keeps_every_name(include_str!("../fixtures/valkey-9.1/commands.json"));
    }

    fn keeps_every_name(newer: &str) {
        let mut cx = Ctxt::new();
        let names = parse(crate::NAMES, &mut cx);
        cx.check().unwrap();
        let table: Json = serde_json::from_str(crate::NAMES).unwrap();
        let old_types: Vec<&str> = table[TYPES].as_array().unwrap().iter().filter_map(Json::as_str).collect();
        let emitted: Vec<(&String, &Json)> =
            table[COMMANDS].as_object().unwrap().iter().filter_map(|(k, v)| Some((k, v.get(EMITTED)?))).collect();
        let (_, api) = lowered(newer, Some(&names));
        let mut lost = Vec::new();
        let mut types: Vec<&str> = api.enums.iter().map(|e| e.ident.as_str()).collect();
        types.extend(api.aliases.iter().map(|a| a.ident.as_str()));
        lost.extend(old_types.iter().filter(|t| !types.contains(t)).map(|t| format!("type {t}")));
        for (name, emitted) in emitted {
            let Some(plan) = api.commands.iter().find(|p| p.name == *name) else {
                lost.push(format!("{name}: removed upstream"));
                continue;
            };
            let Some(m) = &plan.method else {
                lost.push(format!("{name}: no method"));
                continue;
            };
            let params: Vec<String> = m.params.iter().map(|p| format!("{}: {}", p.ident, ty_shape(&p.ty))).collect();
            let old: Vec<String> =
                emitted["params"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_owned()).collect();
            // Parameter names are not part of a call; their types and order are.
            let shape = |ps: &[String]| ps.iter().map(|p| p.split_once(": ").unwrap().1.to_owned()).collect::<Vec<_>>();
            if emitted["method"] != json!(m.ident) || shape(&params) != shape(&old) {
                lost.push(format!("{name}: {} {old:?} is now {} {params:?}", emitted["method"], m.ident));
            }
            for s in emitted["setters"].as_array().unwrap().iter().filter_map(Json::as_str) {
                if !plan.setters.iter().any(|x| x.ident == s) {
                    lost.push(format!("{name}: setter .{s}()"));
                }
            }
        }
        assert!(lost.is_empty(), "{} names lost:\n{}", lost.len(), lost.join("\n"));
    }
}
