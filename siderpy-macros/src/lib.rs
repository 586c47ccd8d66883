//! Generates siderpy's typed command API from a Redis command specification
//! (`commands.json`, the format of Redis's `utils/generate-commands-json.py`)
//! at compile time.
//!
//! Modules, in the order a build runs them (serde_derive's shape): `spec`
//! reads the JSON, `compat` restores the names of the first published API,
//! `replies`/`schema` read the reply types, `lower` builds the API `model`
//! (with `naming`, `syntax` and `docs`), `check` runs the checks that span
//! the whole API, and `expand` emits it; `ctxt` collects every error.
//!
//! ```ignore
//! siderpy_macros::commands!("../commands.json"); // relative to CARGO_MANIFEST_DIR
//! ```
//!
//! expands, in the module that invokes it (inside `siderpy-core`, whose
//! `__private` module it calls), to:
//!
//! - trait `Commands` (blanket impl over `Executor`) with `execute_cmd` and
//!   one method per command, and trait `ConnectionCommands` (over
//!   `StatefulExecutor`) with the commands that need connection state
//!   (those with an effect in `effects::EFFECTS`);
//! - for each command with optional arguments, an inherent
//!   `impl Cmd<S, kind::X, R>` of setters;
//! - module `types`: an enum per shape of required or repeated `oneof`
//!   argument, and an alias per command that takes it;
//! - module `kind`: a marker type per command with its `CommandInfo` (its
//!   name, flags, effect on its connection, group, `key_specs` and routing
//!   hints), and
//!   `command_info(name)`;
//! - `__GENERATED_METHODS`, `(command, method)` pairs for coverage tests.
//!
//! # Naming rules
//!
//! - Methods: snake_case of the full name (`CLIENT NO-EVICT` ->
//!   `client_no_evict`, `JSON.GET` -> `json_get`); `DEL` is `delete`, `EXEC`
//!   is `execute` (`naming::METHOD_RENAMES`).
//! - Any identifier that is a Rust keyword gets a trailing `_` (`type_`,
//!   `move_`, `.match_()`): one rule for methods, setters and parameters.
//! - Setters are named after the argument's token when it is a word (`EX`
//!   -> `ex`), else its name (`~` -> `approximately`). Members of an optional
//!   `oneof` with a token of its own are prefixed with it
//!   (`.aggregate_sum()`). A setter that would shadow a method of `Cmd`
//!   (`naming::CMD_METHODS`) or repeat an earlier setter of
//!   the same command gets `_arg` appended, then a number.
//! - Types: `kind::ClientKill`, `types::GeosearchFrom` (command + argument
//!   token or name, CamelCase; a clash gets a number). Enums of one shape
//!   (the same choices) are one enum, named after the argument they share
//!   (`Unit` for `M | KM | FT | MI`), else after short choices
//!   (`LeftOrRight`), else as the first; each command's own name is a
//!   `pub type` alias of it.
//!
//! - Stability: before lowering, a spec from a newer server is brought
//!   back to the argument names and shapes of the first published API
//!   (`names.json`, what this macro emitted for Redis 7.0.15), so renamed
//!   or restructured upstream arguments keep their methods, setters and
//!   types (module `compat`).
//!
//! # Replies
//!
//! Default reply types come from `replies.json` in this crate (embedded),
//! else from the spec entry's `reply_schema` (module `schema`), else `Value`.
//! A setter switches the type when its option changes the reply's shape
//! (`SET`'s `.get()` -> `Option<Bytes>`, `.count(n)` on pops): from the
//! table's `when`, keyed by the optional argument's spec name, else from
//! the schema's branches.
//!
//! # Errors
//!
//! A malformed spec or reply table is a compile error naming every bad
//! entry and its JSON pointer (`"CLIENT KILL".arguments[2]`), all at once.
//! What is well-formed but unknown (a newer argument type) is not an error:
//! it is taken as raw `impl Args` and documented as such.

#![forbid(unsafe_code)]

mod check;
mod compat;
mod ctxt;
mod derive;
mod docs;
mod effects;
mod expand;
mod lower;
mod model;
mod naming;
mod replies;
mod schema;
mod spec;
mod syntax;
mod user;

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput, LitStr};

/// The reply table, embedded so that editing it rebuilds this crate.
const REPLIES: &str = include_str!("../replies.json");

/// The naming table of the first published spec (see [`compat`]).
const NAMES: &str = include_str!("../names.json");

/// Generates the typed command API from the spec at the given path
/// (relative to the invoking crate's `CARGO_MANIFEST_DIR`). See the crate
/// docs.
///
/// A second literal names an environment variable that, when set, replaces
/// the path (absolute, or relative to the same directory): to build
/// against another spec (a newer server's) without editing code, as
/// `commands!("../commands.json", "SIDERPY_SPEC")`. The invoking crate's
/// build script must declare it (`cargo:rerun-if-env-changed`), since a
/// proc-macro cannot.
#[proc_macro]
pub fn commands(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as Input);
    commands_impl(&input).unwrap_or_else(syn::Error::into_compile_error).into()
}

/// The expansion of `siderpy::commands!`, which passes its `$crate` first:
/// a typed trait from a spec file in the invoking crate (see `user`).
#[doc(hidden)]
#[proc_macro]
pub fn user_commands(input: TokenStream) -> TokenStream {
    user::expand(input.into()).unwrap_or_else(syn::Error::into_compile_error).into()
}

/// `"path"` or `"path", "ENV_VAR"`.
struct Input {
    path: LitStr,
    env: Option<LitStr>,
}

impl syn::parse::Parse for Input {
    fn parse(input: syn::parse::ParseStream) -> syn::Result<Self> {
        let path = input.parse()?;
        let env = if input.parse::<Option<syn::Token![,]>>()?.is_some() && !input.is_empty() {
            Some(input.parse()?)
        } else {
            None
        };
        Ok(Input { path, env })
    }
}

fn commands_impl(input: &Input) -> syn::Result<proc_macro2::TokenStream> {
    let lit = &input.path;
    let dir = std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default();
    let from_env = input.env.as_ref().and_then(|e| Some((std::env::var(e.value()).ok()?, e.value())));
    let (path, from) = match from_env {
        Some((p, var)) if !p.is_empty() => (p, format!(" (from {var})")),
        _ => (lit.value(), String::new()),
    };
    let full = std::path::Path::new(&dir).join(&path);
    let json = std::fs::read_to_string(&full).map_err(|e| {
        syn::Error::new(
            lit.span(),
            format!("cannot read `{path}`{from} (relative to the crate's manifest directory): {e}"),
        )
    })?;
    let mut cx = ctxt::Ctxt::new();
    let mut spec = spec::parse(&json, &path, &mut cx);
    compat::apply(&mut spec, &compat::parse(NAMES, &mut cx));
    let replies = replies::parse(REPLIES, &mut cx);
    let api = lower::api(&spec, &replies, &mut cx);
    check::api(&spec, &api, &replies, &mut cx);
    cx.check().map_err(|errors| {
        let mut errors = errors.into_iter().map(|e| syn::Error::new(lit.span(), e));
        let mut first = errors.next().expect("at least one error");
        first.extend(errors);
        first
    })?;
    let full = full.canonicalize().unwrap_or(full);
    Ok(expand::api(&api, &full.to_string_lossy()))
}

/// Reads a struct from field/value pairs (`HGETALL`, a RESP3 map, a stream
/// entry's fields) or a unit enum from a reply's text; see
/// `siderpy::FromValue`. Attributes: `#[siderpy(rename = "..")]` and
/// `#[siderpy(default)]` on fields and variants, `#[siderpy(rename_all =
/// "lowercase" | "UPPERCASE" | "snake_case" | "kebab-case")]` on the type.
/// `Option` fields may be missing.
#[proc_macro_derive(FromValue, attributes(siderpy))]
pub fn derive_from_value(input: TokenStream) -> TokenStream {
    derive::from_value(parse_macro_input!(input as DeriveInput)).unwrap_or_else(syn::Error::into_compile_error).into()
}

/// Writes a struct as field/value pairs: `&value` is what `HSET` and `XADD`
/// take; `None` fields are left out. Attributes as for `FromValue`.
#[proc_macro_derive(ToArgs, attributes(siderpy))]
pub fn derive_to_args(input: TokenStream) -> TokenStream {
    derive::to_args(parse_macro_input!(input as DeriveInput)).unwrap_or_else(syn::Error::into_compile_error).into()
}

#[cfg(test)]
mod dump {
    /// The expansion of the bundled spec is valid Rust; it is also written
    /// to the temp directory, to read (`cargo test -p siderpy-macros dump -- --nocapture`).
    #[test]
    fn dump() {
        let mut cx = crate::ctxt::Ctxt::new();
        let spec = crate::spec::parse(include_str!("../../commands.json"), crate::spec::FILE, &mut cx);
        let replies = crate::replies::parse(crate::REPLIES, &mut cx);
        let api = crate::lower::api(&spec, &replies, &mut cx);
        let out = std::env::temp_dir().join("siderpy-expanded.rs");
        let code = crate::expand::api(&api, "commands.json").to_string();
        let file: syn::File = syn::parse_str(&code).expect("the expansion parses as Rust");
        assert!(file.items.len() > 10, "the expansion has the traits, kinds and setters");
        std::fs::write(&out, code).unwrap();
        println!("{}", out.display());
    }
}
