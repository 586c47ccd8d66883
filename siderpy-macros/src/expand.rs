//! Emits the API model as Rust. Nothing is decided here: names, types and
//! writes come from [`lower`](crate::lower), through [`model`](crate::model).
//!
//! Generated code reaches the runtime only through `crate::__private`, and
//! the standard library through `::core`/`::std` paths; its locals start
//! with `__`.

use proc_macro2::{Literal, Span, TokenStream};
use quote::{format_ident, quote};

use crate::model::{Api, EnumDef, Method, Param, Plan, Setter, Ty, Write};
use crate::replies::ReplyTy;
use crate::spec::{BeginSearch, FindKeys, KeySpec};

/// The docs of the generated `Commands` trait: its naming rules.
const COMMANDS_DOC: &str = "\
Typed methods for every command that needs no connection state.

Implemented for every [`Executor`](crate::Executor): `&Redis`, `&mut Pipeline`, `&RedisPool`.

# Generated from the spec

Every entry of `commands.json` has a method, container subcommands included,
except containers with no arguments of their own (`CLIENT`):

- **Names**: the snake_case of the full command name (`CLIENT KILL` ->
  `client_kill`, `CLIENT NO-EVICT` -> `client_no_evict`, `JSON.GET` ->
  `json_get`), except `DEL` -> `delete` and `EXEC` -> `execute`. A name that
  is a Rust keyword gets a trailing underscore: `type_`, `move_`; so do
  setters and parameters (`.match_()`, `.type_()`).
- **Required arguments** are parameters, in spec order: `key`, `string` and
  `pattern` take any [`ToArg`](crate::ToArg); `integer` is `i64`, `double`
  `f64`, `unix-time` an `i64` Unix timestamp; a `multiple` of strings
  (keys, members, channels) takes one or several
  ([`Multiple`](crate::Multiple): `delete(\"k\")`, `delete([\"a\", \"b\"])`,
  any iterator); a repeated block takes one tuple or several
  ([`Tuples`](crate::Tuples): `ZADD`'s `(score, member)`,
  `zadd(\"z\", (1.5, \"m\"))`, `zadd(\"z\", [(1, \"a\"), (2, \"b\")])`);
  other `multiple`s any `IntoIterator`; a required `oneof` takes an enum
  from [`types`](crate::types); a block's members are parameters of their
  own.
- **Optional arguments** are setters on the returned [`Cmd`](crate::Cmd),
  named after their token (`.ex(10)`, `.limit(0, 10)`), else their name.
  Each member of an optional `oneof` is a setter writing the same argument,
  so the last one called is sent (`.nx()` / `.xx()`); members of a oneof
  with a token of its own are prefixed with it (`.aggregate_sum()`). An
  optional block with one optional flag has a setter without and one with
  it (`.count(5)`, `.count_any(5)`). Optional pieces inside blocks are
  `Option`s or `bool`s.
- **Counts** are never given: an `integer` followed by the `multiple` keys
  it counts (`numkeys`), or a block of an `integer` and the list it counts
  (`FIELDS numfields field [field ...]`), is computed from the list, by
  the spec's structure whatever the count's name. `zunion([\"a\", \"b\"])`
  sends `ZUNION 2 a b`; where the keys are optional, `0` is sent until
  their setter gives some (`eval(script)` sends `EVAL script 0`,
  `eval(script).key([\"k\"])` `EVAL script 1 k`).
- A setter whose name `Cmd` already has (`name`, `returning`...) or that
  another setter of the command took gets `_arg` appended (then a number).
- Arguments sent in any order are sent in the spec's order, tokens exactly
  as the spec spells them.
- What cannot be typed (an argument type this version does not know) is
  taken as raw [`Args`](crate::Args), and its docs say why.
- **Names stay** when the spec is regenerated from a newer server: an
  argument renamed or restructured upstream keeps the method, parameters,
  setters and types it had in the first published API (Redis 7.0.15),
  recorded in the macro crate's naming table.";

const CONNECTION_DOC: &str = "\
Typed methods for the commands that change the state of their connection
(`MULTI`, `EXEC`, `WATCH`, `SELECT`, the `SUBSCRIBE` family, `AUTH`,
`HELLO`, `RESET`, `CLIENT REPLY`...: every command whose
[`Effect`](crate::Effect) is not `None`); not available on a pool or a
cluster. Named as in [`Commands`]. What each executor does with them is
documented on [`Effect`](crate::Effect).";

const EXECUTE_CMD_DOC: &str = "\
Sends any command by name with any arguments; the reply is a [`Value`](crate::Value)
unless [`returning`](crate::Cmd::returning) asks for another type.

A name of several words (`\"CLIENT LIST\"`) is sent as several
arguments. Whether the command blocks (for the read timeout) is looked
up in the spec by name.";

/// Everything the macro emits for `api`; `spec_path` is the absolute path
/// of the spec, included so that editing it rebuilds the crate.
pub fn api(api: &Api, spec_path: &str) -> TokenStream {
    let (conn, plain): (Vec<&Plan>, Vec<&Plan>) =
        api.commands.iter().filter(|p| p.method.is_some()).partition(|p| p.connection);
    let methods = plain.iter().map(|p| method(p));
    let conn_methods = conn.iter().map(|p| method(p));
    let setters = api.commands.iter().filter(|p| !p.setters.is_empty()).map(setters);
    let enums = api.enums.iter().map(enum_def);
    let aliases = api.aliases.iter().map(|a| {
        let (ident, target, doc) = (format_ident!("{}", a.ident), format_ident!("{}", a.target), docs(&a.docs));
        quote!(#[doc = #doc] pub type #ident = #target;)
    });
    let kinds = api.commands.iter().map(|p| {
        let ty = format_ident!("{}", p.kind);
        let name = &p.name;
        let mut enc = Vec::new();
        for w in &p.words {
            enc.extend_from_slice(format!("${}\r\n{w}\r\n", w.len()).as_bytes());
        }
        let enc = Literal::byte_string(&enc);
        let words = Literal::u32_unsuffixed(p.words.len() as u32);
        let (blocking, readonly, cacheable, group) = (p.blocking, p.readonly, p.cacheable, &p.group);
        let effect = format_ident!("{}", p.effect);
        let keys = p.key_specs.iter().map(key_spec);
        let req = p.request_policy.map(|r| format_ident!("{}", format!("{r:?}")));
        let resp = p.response_policy.map(|r| format_ident!("{}", format!("{r:?}")));
        quote!(#ty #name #enc #words #blocking #readonly #cacheable #effect #group [#(#keys),*] (#req) (#resp);)
    });
    let all = api.commands.iter().map(|p| format_ident!("{}", p.kind));
    let generated = api.commands.iter().filter_map(|p| {
        let m = p.method.as_ref()?;
        let (name, ident) = (&p.name, &m.ident);
        Some(quote!((#name, #ident)))
    });
    let commands_doc = COMMANDS_DOC;
    quote! {
        const _: &[::core::primitive::u8] = ::core::include_bytes!(#spec_path);

        #[doc = #commands_doc]
        pub trait Commands: crate::__private::Executor {
            #[doc = #EXECUTE_CMD_DOC]
            fn execute_cmd<__A: crate::__private::Args>(
                self,
                name: &::core::primitive::str,
                args: __A,
            ) -> crate::__private::Cmd<Self::Sink, crate::__private::Raw, crate::__private::Value> {
                crate::__private::execute_cmd(self.__sink(), name, args)
            }
            #(#methods)*
        }

        #[automatically_derived]
        impl<__E: crate::__private::Executor> Commands for __E {}

        #[doc = #CONNECTION_DOC]
        pub trait ConnectionCommands: crate::__private::StatefulExecutor {
            #(#conn_methods)*
        }

        #[automatically_derived]
        impl<__E: crate::__private::StatefulExecutor> ConnectionCommands for __E {}

        #(#setters)*

        /// The argument types of typed methods: one enum per required (or
        /// repeated) `oneof` argument, named after the command and the
        /// argument (`GeosearchFrom`), one variant per choice. Where several
        /// commands take the same choices, one enum serves them all (`Unit`,
        /// `LeftOrRight`), and each command's own name is an alias of it.
        pub mod types {
            #(#enums)*
            #(#aliases)*
        }

        /// One marker type per command, carrying what the spec says about it.
        pub mod kind {
            #[allow(unused_imports)]
            use crate::__private::{BeginSearch as __Begin, FindKeys as __Find, KeySpec as __Key};

            macro_rules! __opt {
                () => { ::core::option::Option::None };
                ($v:path) => { ::core::option::Option::Some($v) };
            }

            macro_rules! __kinds {
                ($($ty:ident $name:literal $enc:literal $words:literal $blocking:literal $readonly:literal $cacheable:literal $effect:ident $group:literal
                    [$($key:expr),*] ($($req:ident)?) ($($resp:ident)?);)*) => {$(
                    #[doc = ::core::concat!("The `", $name, "` command.")]
                    #[derive(::core::fmt::Debug)]
                    pub enum $ty {}
                    #[automatically_derived]
                    impl crate::__private::Kind for $ty {
                        const INFO: &'static crate::__private::CommandInfo = &crate::__private::CommandInfo {
                            name: $name,
                            encoded_name: $enc,
                            words: $words,
                            blocking: $blocking,
                            readonly: $readonly,
                            cacheable: $cacheable,
                            effect: crate::__private::Effect::$effect,
                            group: $group,
                            keys: &[$($key),*],
                            request_policy: __opt!($(crate::__private::RequestPolicy::$req)?),
                            response_policy: __opt!($(crate::__private::ResponsePolicy::$resp)?),
                        };
                    }
                )*};
            }
            __kinds! { #(#kinds)* }

            /// Every command, sorted by name, for look-ups by name.
            pub(crate) static ALL: &[&crate::__private::CommandInfo] =
                &[#(<#all as crate::__private::Kind>::INFO),*];
        }

        /// What the spec says about the command called `name` (any case), if
        /// it is one the typed API knows.
        pub fn command_info(
            name: &::core::primitive::str,
        ) -> ::core::option::Option<&'static crate::__private::CommandInfo> {
            crate::__private::lookup_command(self::kind::ALL, name)
        }

        /// `(command, method)` for every generated method, for coverage tests.
        #[doc(hidden)]
        pub const __GENERATED_METHODS: &[(&::core::primitive::str, &::core::primitive::str)] = &[#(#generated),*];
    }
}

/// A key spec, with the names `kind` imports (`__Key`, `__Begin`, `__Find`).
fn key_spec(k: &KeySpec) -> TokenStream {
    let int = |n: &i32| Literal::i32_unsuffixed(*n);
    let begin = match &k.begin {
        BeginSearch::Index(i) => {
            let i = int(i);
            quote!(__Begin::Index(#i))
        }
        BeginSearch::Keyword { keyword, startfrom } => {
            let startfrom = int(startfrom);
            quote!(__Begin::Keyword { keyword: #keyword, startfrom: #startfrom })
        }
        BeginSearch::Unknown => quote!(__Begin::Unknown),
    };
    let find = match &k.find {
        FindKeys::Range { lastkey, keystep, limit } => {
            let (lastkey, keystep, limit) = (int(lastkey), int(keystep), int(limit));
            quote!(__Find::Range { lastkey: #lastkey, keystep: #keystep, limit: #limit })
        }
        FindKeys::Keynum { keynumidx, firstkey, keystep } => {
            let (keynumidx, firstkey, keystep) = (int(keynumidx), int(firstkey), int(keystep));
            quote!(__Find::Keynum { keynumidx: #keynumidx, firstkey: #firstkey, keystep: #keystep })
        }
        FindKeys::Unknown => quote!(__Find::Unknown),
    };
    let incomplete = k.incomplete;
    quote!(__Key { begin: #begin, find: #find, incomplete: #incomplete })
}

fn docs(lines: &[String]) -> String {
    lines.join("\n")
}

fn method(p: &Plan) -> TokenStream {
    let m: &Method = p.method.as_ref().expect("has a method");
    let ident = format_ident!("{}", m.ident);
    let kind = format_ident!("{}", p.kind);
    let doc = docs(&m.docs);
    let deprecated = m.deprecated.as_ref().map(|(since, note)| match since {
        Some(since) => quote!(#[deprecated(since = #since, note = #note)]),
        None => quote!(#[deprecated(note = #note)]),
    });
    let Signature { generics, params, prologue } = signature(&m.params);
    let reply = reply_ty(&m.reply);
    let body = if m.writes.is_empty() {
        quote!(crate::__private::Cmd::__new(self.__sink()))
    } else {
        let writes = m.writes.iter().map(|(slot, w)| slot_write(quote!(__cmd), *slot, w));
        quote! {
            #prologue
            let mut __cmd = crate::__private::Cmd::__new(self.__sink());
            #(#writes)*
            __cmd
        }
    };
    quote! {
        #[doc = #doc]
        #deprecated
        fn #ident #generics(self, #(#params),*) -> crate::__private::Cmd<Self::Sink, self::kind::#kind, #reply> {
            #body
        }
    }
}

/// A method's parameters as emitted.
struct Signature {
    /// `<__M0, ...>`: one marker per parameter that takes one argument or
    /// several (see `Multiple`); empty when there is none.
    generics: TokenStream,
    params: Vec<TokenStream>,
    /// Turns each such parameter into an iterator, so the writes that
    /// follow treat it as any `multiple` argument.
    prologue: TokenStream,
}

fn signature(params: &[Param]) -> Signature {
    let mut markers = Vec::new();
    let mut prologue = TokenStream::new();
    let params = params
        .iter()
        .map(|p| {
            let ident = format_ident!("{}", p.ident);
            let Some((bound, item)) = one_or_many(&p.ty) else {
                let ty = ty(&p.ty, true);
                return quote!(#ident: #ty);
            };
            let marker = format_ident!("__M{}", markers.len());
            prologue.extend(quote!(let #ident = #bound::into_args(#ident);));
            markers.push(marker.clone());
            quote!(#ident: impl #bound<#marker #item>)
        })
        .collect();
    let generics = if markers.is_empty() { TokenStream::new() } else { quote!(<#(#markers),*>) };
    Signature { generics, params, prologue }
}

/// How a parameter takes one item or several, if it does: the trait, and
/// what its items must be where the trait leaves that open. `Multiple` for
/// a `multiple` argument of plain strings (keys, members, channels,
/// values), its items `ToArg`; `Tuples` for one of blocks (HSET's
/// field/value pairs), as long as `Tuples` has tuples for (6), its items
/// typed here. Lists of numbers or enums stay `IntoIterator`s.
fn one_or_many(t: &Ty) -> Option<(TokenStream, TokenStream)> {
    let Ty::Many(item) = t else { return None };
    match &**item {
        Ty::Str => Some((quote!(crate::__private::Multiple), TokenStream::new())),
        Ty::Tuple(items) if items.len() <= 6 => {
            let item = ty(item, true);
            Some((quote!(crate::__private::Tuples), quote!(, Item = #item)))
        }
        _ => None,
    }
}

fn setters(p: &Plan) -> TokenStream {
    let kind = format_ident!("{}", p.kind);
    let setters = p.setters.iter().map(|s: &Setter| {
        let ident = format_ident!("{}", s.ident);
        let doc = docs(&s.docs);
        let Signature { generics, params, prologue } = signature(&s.params);
        let write = slot_write(quote!(self), s.slot, &s.write);
        match &s.reply {
            None => quote! {
                #[doc = #doc]
                pub fn #ident #generics(mut self, #(#params),*) -> Self {
                    #prologue
                    #write
                    self
                }
            },
            Some(r) => {
                let r = reply_ty(r);
                quote! {
                    #[doc = #doc]
                    pub fn #ident #generics(mut self, #(#params),*) -> crate::__private::Cmd<__S, self::kind::#kind, #r> {
                        #prologue
                        #write
                        self.returning()
                    }
                }
            }
        }
    });
    quote! {
        impl<__S: crate::__private::Sink, __R> crate::__private::Cmd<__S, self::kind::#kind, __R> {
            #(#setters)*
        }
    }
}

fn enum_def(e: &EnumDef) -> TokenStream {
    let ident = format_ident!("{}", e.ident);
    let doc = docs(&e.docs);
    let unit_only = e.variants.iter().all(|v| v.fields.is_empty());
    let derives = if unit_only {
        quote!(#[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::marker::Copy, ::core::cmp::PartialEq, ::core::cmp::Eq, ::core::hash::Hash)])
    } else {
        quote!(#[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::cmp::PartialEq)])
    };
    let variants = e.variants.iter().map(|v| {
        let vident = format_ident!("{}", v.ident);
        let doc = docs(&v.docs);
        if v.fields.is_empty() {
            quote!(#[doc = #doc] #vident)
        } else {
            let fields = v.fields.iter().map(|t| ty_in(t, false, true));
            quote!(#[doc = #doc] #vident(#(#fields),*))
        }
    });
    let arms = e.variants.iter().map(|v| {
        let vident = format_ident!("{}", v.ident);
        let body = stmts(&v.write);
        if v.fields.is_empty() {
            quote!(Self::#vident => { #body })
        } else {
            let binds = (0..v.fields.len()).map(|i| format_ident!("__f{}", i));
            quote!(Self::#vident(#(#binds),*) => { #body })
        }
    });
    quote! {
        #[doc = #doc]
        #derives
        pub enum #ident { #(#variants),* }

        #[automatically_derived]
        impl crate::__private::WriteArgs for #ident {
            fn write_args(self, __buf: &mut crate::__private::BytesMut) -> ::core::primitive::u32 {
                let mut __n = 0u32;
                match self { #(#arms)* }
                __n
            }
        }
    }
}

/// The Rust type of `t`; `generic` where `impl Trait` may stand (a
/// parameter, its iterator items), else owned types (`Arg`, `Vec`).
/// `in_types`: the type is written inside the `types` module.
fn ty(t: &Ty, generic: bool) -> TokenStream {
    ty_in(t, generic, false)
}

fn ty_in(t: &Ty, generic: bool, in_types: bool) -> TokenStream {
    match t {
        Ty::Str if generic => quote!(impl crate::__private::ToArg),
        Ty::Str => quote!(crate::__private::Arg),
        Ty::Int => quote!(::core::primitive::i64),
        Ty::Cursor => quote!(::core::primitive::u64),
        Ty::Double if generic => quote!(impl crate::__private::DoubleArg),
        Ty::Double => quote!(::core::primitive::f64),
        Ty::Bool => quote!(::core::primitive::bool),
        Ty::Enum(name) => {
            let ident = format_ident!("{}", name);
            if in_types {
                quote!(self::#ident)
            } else {
                quote!(self::types::#ident)
            }
        }
        Ty::Tuple(items) => {
            let items = items.iter().map(|t| ty_in(t, generic, in_types));
            quote!((#(#items),*))
        }
        Ty::Option(inner) => {
            let inner = ty_in(inner, false, in_types);
            quote!(::core::option::Option<#inner>)
        }
        Ty::Many(inner) if generic => {
            let inner = ty_in(inner, true, in_types);
            quote!(impl ::core::iter::IntoIterator<Item = #inner>)
        }
        Ty::Many(inner) => {
            let inner = ty_in(inner, false, in_types);
            quote!(::std::vec::Vec<#inner>)
        }
        Ty::Raw => quote!(impl crate::__private::Args),
    }
}

fn reply_ty(r: &ReplyTy) -> TokenStream {
    match r {
        ReplyTy::Named(name, args) => {
            let path: syn::Path = syn::parse_str(ReplyTy::path(name)).expect("a valid path");
            if args.is_empty() {
                quote!(#path)
            } else {
                let args = args.iter().map(reply_ty);
                quote!(#path<#(#args),*>)
            }
        }
        ReplyTy::Tuple(items) if items.len() == 1 => {
            let item = reply_ty(&items[0]);
            quote!((#item,))
        }
        ReplyTy::Tuple(items) => {
            let items = items.iter().map(reply_ty);
            quote!((#(#items),*))
        }
    }
}

fn ident(name: &str) -> proc_macro2::Ident {
    proc_macro2::Ident::new(name, Span::call_site())
}

/// The call that sets `slot` of `recv`'s arguments: the short `CmdArgs`
/// methods where they fit, else `custom`.
fn slot_write(recv: TokenStream, slot: u16, w: &Write) -> TokenStream {
    let slot = Literal::u16_unsuffixed(slot);
    let args = quote!(#recv.__args());
    match w {
        Write::Val(v) => {
            let v = ident(v);
            quote!(#args.arg(#slot, #v);)
        }
        Write::Token(t) => quote!(#args.token(#slot, #t);),
        Write::Seq(items) if matches!(&items[..], [Write::Token(_), Write::Val(_)]) => {
            let (Write::Token(t), Write::Val(v)) = (&items[0], &items[1]) else { unreachable!() };
            let v = ident(v);
            quote!(#args.token_arg(#slot, #t, #v);)
        }
        Write::Each { src, pat, body } if pat.len() == 1 => match &**body {
            Write::Val(x) if *x == pat[0] => {
                let src = ident(src);
                quote!(#args.multiple(#slot, ::core::option::Option::None, #src);)
            }
            Write::Seq(items) if matches!(&items[..], [Write::Token(_), Write::Val(x)] if *x == pat[0]) => {
                let Write::Token(t) = &items[0] else { unreachable!() };
                let src = ident(src);
                quote!(#args.multiple(#slot, ::core::option::Option::Some(#t), #src);)
            }
            _ => custom(args, slot, w),
        },
        _ => custom(args, slot, w),
    }
}

fn custom(args: TokenStream, slot: Literal, w: &Write) -> TokenStream {
    let body = stmts(w);
    if body.is_empty() {
        return quote!(#args.custom(#slot, |_| 0););
    }
    quote! {
        #args.custom(#slot, |__buf| {
            let mut __n = 0u32;
            #body
            __n
        });
    }
}

/// Statements adding `w`'s arguments to `__buf` and their count to `__n`.
fn stmts(w: &Write) -> TokenStream {
    match w {
        Write::Token(t) => quote!(__n += crate::__private::write_token(__buf, #t);),
        Write::Val(v) => {
            let v = ident(v);
            quote!(__n += crate::__private::write_arg(__buf, #v);)
        }
        Write::Enum(v) => {
            let v = ident(v);
            quote!(__n += crate::__private::WriteArgs::write_args(#v, __buf);)
        }
        Write::Raw(v) => {
            let v = ident(v);
            quote!(__n += crate::__private::write_args(__buf, #v);)
        }
        Write::Seq(items) => items.iter().map(stmts).collect(),
        Write::Each { src, pat, body } => {
            let src = ident(src);
            let pat = pattern(pat);
            let body = stmts(body);
            quote!(for #pat in #src { #body })
        }
        Write::IfSome { src, pat, body } => {
            let src = ident(src);
            let pat = pattern(pat);
            let body = stmts(body);
            quote!(if let ::core::option::Option::Some(#pat) = #src { #body })
        }
        Write::IfTrue { src, body } => {
            let src = ident(src);
            let body = stmts(body);
            quote!(if #src { #body })
        }
        Write::Counted(per_item, body) => {
            let per_item = Literal::u32_unsuffixed(*per_item);
            let body = stmts(body);
            quote! {
                __n += crate::__private::write_counted(__buf, #per_item, |__buf| {
                    let mut __n = 0u32;
                    #body
                    __n
                });
            }
        }
    }
}

fn pattern(names: &[String]) -> TokenStream {
    let names: Vec<_> = names.iter().map(|n| ident(n)).collect();
    if names.len() == 1 {
        let n = &names[0];
        quote!(#n)
    } else {
        quote!((#(#names),*))
    }
}
