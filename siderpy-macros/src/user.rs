//! `siderpy::commands!`: a typed trait from a spec file in the user's own
//! crate (a newer Redis or Valkey, a module such as RedisJSON).
//!
//! ```ignore
//! siderpy::commands! {
//!     /// RedisJSON's commands.
//!     pub trait JsonCommands = "specs/json.json";
//! }
//! ```
//!
//! The spec goes through the same model and emitter as siderpy's own API;
//! this module then reshapes the output for a crate that is not
//! `siderpy-core`: everything goes into a module named after the trait
//! (`json_commands`), the trait is re-exported beside it, paths reach the
//! runtime through the `$crate` of siderpy's `commands!` wrapper, and the
//! setters of each command become a trait (`JsonSetArgs`), since only
//! `siderpy-core` may add inherent methods to its `Cmd`.
//!
//! A spec without `key_specs` (module specs have none) gets key specs from
//! its `key`-typed arguments where their positions are fixed, so a cluster
//! client routes its commands by key.

use proc_macro2::{Group, Ident, TokenStream, TokenTree};
use quote::{format_ident, quote};
use syn::parse::{Parse, ParseStream};
use syn::{Attribute, LitStr, Token, Visibility};

use crate::spec::{Arg, ArgKind, BeginSearch, Command, FindKeys, KeySpec};

/// What a `commands!` invocation says, after the wrapper's `$crate;`.
struct Input {
    /// The path of the runtime crate (`$crate` of the wrapper).
    krate: TokenTree,
    attrs: Vec<Attribute>,
    vis: Visibility,
    ident: Ident,
    spec: LitStr,
    replies: Option<LitStr>,
}

impl Parse for Input {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let krate: TokenTree = input.parse()?;
        input.parse::<Token![;]>()?;
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        input
            .parse::<Token![trait]>()
            .map_err(|e| syn::Error::new(e.span(), "expected `pub trait Name = \"path/to/commands.json\";`"))?;
        let ident: Ident = input.parse()?;
        input.parse::<Token![=]>()?;
        let spec: LitStr = input.parse()?;
        let mut replies = None;
        if input.parse::<Option<Token![,]>>()?.is_some() && !input.is_empty() {
            let key: Ident = input.parse()?;
            if key != "replies" {
                return Err(syn::Error::new(key.span(), "expected `replies = \"path/to/replies.json\"`"));
            }
            input.parse::<Token![=]>()?;
            replies = Some(input.parse()?);
            input.parse::<Option<Token![,]>>()?;
        }
        input.parse::<Option<Token![;]>>()?;
        Ok(Input { krate, attrs, vis, ident, spec, replies })
    }
}

/// The expansion of one `commands!` invocation.
pub fn expand(input: TokenStream) -> syn::Result<TokenStream> {
    let input: Input = syn::parse2(input)?;
    let (spec_json, spec_path) = read(&input.spec)?;
    let mut cx = crate::ctxt::Ctxt::new();
    let mut spec = crate::spec::parse(&spec_json, &input.spec.value(), &mut cx);
    // Redis's own commands in a newer spec keep siderpy's method names.
    crate::compat::apply(&mut spec, &crate::compat::parse(crate::NAMES, &mut cx));
    for cmd in &mut spec.commands {
        if cmd.key_specs.is_empty() {
            cmd.key_specs = key_specs_from_arguments(cmd);
        }
    }
    // siderpy's table types the replies of Redis's own commands in a newer
    // spec; the user's table, when given, adds or overrides entries.
    let mut replies = crate::replies::parse(crate::REPLIES, &mut cx);
    let mut replies_path = None;
    if let Some(path) = &input.replies {
        let (json, full) = read(path)?;
        replies.entries.extend(crate::replies::parse(&json, &mut cx).entries);
        replies_path = Some(full);
    }
    let api = crate::lower::api(&spec, &replies, &mut cx);
    crate::check::api(&spec, &api, &replies, &mut cx);
    cx.check().map_err(|errors| {
        let mut errors = errors.into_iter().map(|e| syn::Error::new(input.spec.span(), e));
        let mut first = errors.next().expect("at least one error");
        first.extend(errors);
        first
    })?;
    let generated = crate::expand::api(&api, &spec_path);
    let file: syn::File = syn::parse2(generated).expect("the expansion parses as Rust");
    let module = format_ident!("{}", snake(&input.ident.to_string()));
    let items = reshape(file, &input, &module, api.commands.len());
    let replies_dep = replies_path.map(|p| {
        quote!(
            const _: &[::core::primitive::u8] = ::core::include_bytes!(#p);
        )
    });
    let (vis, ident) = (&input.vis, &input.ident);
    let doc = format!(
        "What `siderpy::commands!` generated from `{}`: the [`{ident}`] trait, the setter traits of \
         each command's optional arguments (all in [`prelude`](self::prelude)), the argument enums \
         in `types` and the command markers in `kind`.",
        input.spec.value()
    );
    let out = quote! {
        #[doc = #doc]
        #[allow(clippy::all, missing_docs, unused_imports, deprecated)]
        #vis mod #module {
            #(#items)*
            #replies_dep
        }
        #[doc(inline)]
        #vis use self::#module::#ident;
    };
    Ok(with_runtime(out, &input.krate))
}

/// The contents of a file named relative to the invoking crate's manifest
/// directory, and its absolute path (so that editing it rebuilds the crate).
fn read(path: &LitStr) -> syn::Result<(String, String)> {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default();
    let full = std::path::Path::new(&dir).join(path.value());
    let json = std::fs::read_to_string(&full).map_err(|e| {
        syn::Error::new(
            path.span(),
            format!("cannot read `{}` (relative to the crate's manifest directory): {e}", path.value()),
        )
    })?;
    let full = full.canonicalize().unwrap_or(full);
    Ok((json, full.to_string_lossy().into_owned()))
}

/// `JsonCommands` -> `json_commands`.
fn snake(camel: &str) -> String {
    let mut s = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            s.push('_');
        }
        s.push(c.to_ascii_lowercase());
    }
    s
}

/// The emitted items, made fit for the user's module: the trait renamed and
/// documented as the user asked, `execute_cmd` left to siderpy's own trait
/// (both in scope would make every call ambiguous), setters as traits.
fn reshape(file: syn::File, input: &Input, module: &Ident, count: usize) -> Vec<TokenStream> {
    let ident = &input.ident;
    let connection = format_ident!("{}Connection", ident);
    let mut items = Vec::new();
    let mut setter_traits = Vec::new();
    let mut has_connection = false;
    for item in file.items {
        match item {
            syn::Item::Trait(mut t) if t.ident == "Commands" => {
                t.ident = ident.clone();
                t.items.retain(|i| !matches!(i, syn::TraitItem::Fn(f) if f.sig.ident == crate::lower::EXECUTE_CMD));
                t.attrs = input.attrs.clone();
                let doc = format!(
                    "\n\nGenerated by `siderpy::commands!` from `{}` ({count} commands), with siderpy's \
                     naming rules (see siderpy's `Commands`); optional arguments are methods of the \
                     returned `Cmd` once `{module}::prelude::*` is in scope. Implemented for every \
                     executor: `&Redis`, `&mut Pipeline`, `&RedisPool`, `&RedisCluster`.",
                    input.spec.value()
                );
                t.attrs.push(syn::parse_quote!(#[doc = #doc]));
                items.push(quote!(#t));
            }
            syn::Item::Trait(mut t) if t.ident == "ConnectionCommands" => {
                if t.items.is_empty() {
                    continue;
                }
                t.ident = connection.clone();
                has_connection = true;
                let doc = format!(
                    "The commands of `{}` that change connection state; named as in [`{ident}`].",
                    input.spec.value()
                );
                t.attrs = vec![syn::parse_quote!(#[doc = #doc])];
                items.push(quote!(#t));
            }
            syn::Item::Impl(mut i) if i.trait_.is_some() => {
                let (path, _) = i.trait_.as_mut().expect("a trait impl");
                let last = path.segments.last_mut().expect("a path");
                if last.ident == "Commands" {
                    last.ident = ident.clone();
                } else if last.ident == "ConnectionCommands" {
                    if !has_connection {
                        continue;
                    }
                    last.ident = connection.clone();
                }
                items.push(quote!(#i));
            }
            syn::Item::Impl(i) => {
                let (decl, imp) = setter_trait(i);
                setter_traits.push(decl.0.clone());
                items.push(decl.1);
                items.push(imp);
            }
            other => items.push(quote!(#other)),
        }
    }
    let connection_use = has_connection.then(|| quote!(pub use super::#connection;));
    items.push(quote! {
        /// `use` this for the trait and every command's setters.
        pub mod prelude {
            pub use super::#ident;
            #connection_use
            pub use super::{#(#setter_traits),*};
        }
    });
    items
}

/// `impl<__S: Sink, __R> Cmd<__S, kind::K, __R> { pub fn a(..) }` as
/// `pub trait KArgs<__S: Sink, __R> { fn a(..); }` and its impl for that `Cmd`.
fn setter_trait(i: syn::ItemImpl) -> ((Ident, TokenStream), TokenStream) {
    let kind = kind_of(&i.self_ty).expect("setters are on Cmd<_, kind::K, _>");
    let name = format_ident!("{}Args", kind);
    let self_ty = &i.self_ty;
    // `<__S: Sink, __R>`: `Cmd` asks that of its executor.
    let generics = &i.generics;
    let mut decls = Vec::new();
    let mut fns = Vec::new();
    for item in i.items {
        let syn::ImplItem::Fn(mut f) = item else { continue };
        let mut sig = f.sig.clone();
        for input in &mut sig.inputs {
            if let syn::FnArg::Receiver(r) = input {
                // A declaration has no body to bind `mut self` in.
                r.mutability = None;
            }
        }
        let attrs = &f.attrs;
        decls.push(quote!(#(#attrs)* #sig;));
        f.vis = Visibility::Inherited;
        f.attrs.clear();
        fns.push(quote!(#f));
    }
    let doc = format!("The optional arguments of `{kind}`'s command, as methods of its `Cmd`.");
    let decl = quote! {
        #[doc = #doc]
        pub trait #name #generics: ::core::marker::Sized {
            #(#decls)*
        }
    };
    let imp = quote! {
        #[automatically_derived]
        impl #generics #name<__S, __R> for #self_ty {
            #(#fns)*
        }
    };
    ((name, decl), imp)
}

/// `K` of `Cmd<__S, self::kind::K, __R>`.
fn kind_of(ty: &syn::Type) -> Option<Ident> {
    let syn::Type::Path(p) = ty else { return None };
    let syn::PathArguments::AngleBracketed(args) = &p.path.segments.last()?.arguments else { return None };
    let syn::GenericArgument::Type(syn::Type::Path(kind)) = args.args.iter().nth(1)? else { return None };
    Some(kind.path.segments.last()?.ident.clone())
}

/// `tokens` with every `crate :: __private` (how siderpy-core's own API
/// reaches the runtime) as `$crate :: __private`.
fn with_runtime(tokens: TokenStream, krate: &TokenTree) -> TokenStream {
    let mut out = Vec::new();
    for tt in tokens {
        match tt {
            TokenTree::Ident(i) if i == "crate" => {
                // `a::crate` is no root path (and never emitted); `T: crate::X` is.
                let colon = |t: Option<&TokenTree>| matches!(t, Some(TokenTree::Punct(p)) if p.as_char() == ':');
                let after_path_sep = out.len() >= 2 && colon(out.last()) && colon(out.get(out.len() - 2));
                out.push(if after_path_sep { TokenTree::Ident(i) } else { krate.clone() });
            }
            TokenTree::Group(g) => {
                let is_vis = matches!(out.last(), Some(TokenTree::Ident(i)) if i == "pub");
                let stream = if is_vis { g.stream() } else { with_runtime(g.stream(), krate) };
                let mut group = Group::new(g.delimiter(), stream);
                group.set_span(g.span());
                out.push(TokenTree::Group(group));
            }
            other => out.push(other),
        }
    }
    out.into_iter().collect()
}

/// Where the keys of a command without `key_specs` are, from its arguments:
/// `key` arguments at fixed positions (`JSON.GET key ...`), a run of keys
/// followed by a fixed number of arguments (`JSON.MGET key [key ...] path`),
/// a repeated block with a key (`JSON.MSET key path value [...]`), or keys
/// counted by a `numkeys` before them. Past an optional or variable-width
/// argument, positions are unknown and no more keys are found.
pub fn key_specs_from_arguments(cmd: &Command) -> Vec<KeySpec> {
    let range = |lastkey, keystep| FindKeys::Range { lastkey, keystep, limit: 0 };
    let mut specs = Vec::new();
    let mut pos = cmd.words().len() as i32;
    let args = cmd.arguments.as_deref().unwrap_or_default();
    for (i, a) in args.iter().enumerate() {
        if a.optional {
            break;
        }
        let token = i32::from(a.token.is_some());
        let rest = &args[i + 1..];
        match (&a.kind, a.multiple) {
            (ArgKind::Key, false) => {
                specs.push(KeySpec { begin: BeginSearch::Index(pos + token), find: range(0, 1), incomplete: false })
            }
            (ArgKind::Key, true) => {
                let step = 1 + i32::from(a.multiple_token);
                if let Some(after) = fixed_width(rest) {
                    let begin = BeginSearch::Index(pos + token);
                    specs.push(KeySpec { begin, find: range(-1 - after, step), incomplete: false });
                }
                break;
            }
            (ArgKind::Integer, false) if a.name == "numkeys" && token == 0 => {
                if let Some(Arg { kind: ArgKind::Key, multiple: true, optional: false, token: None, .. }) = rest.first()
                {
                    let find = FindKeys::Keynum { keynumidx: 0, firstkey: 1, keystep: 1 };
                    specs.push(KeySpec { begin: BeginSearch::Index(pos), find, incomplete: false });
                }
                break;
            }
            (ArgKind::Block(members), true) if token == 0 => {
                let key = members.iter().position(|m| m.kind == ArgKind::Key);
                let widths = (fixed_width(members), fixed_width(rest));
                if let (Some(k), (Some(width), Some(after))) = (key, widths) {
                    let before = fixed_width(&members[..k]).unwrap_or(0) + i32::from(members[k].token.is_some());
                    let begin = BeginSearch::Index(pos + before);
                    specs.push(KeySpec { begin, find: range(-1 - after, width), incomplete: false });
                }
                break;
            }
            _ => {}
        }
        match fixed_width(std::slice::from_ref(a)) {
            Some(w) => pos += w,
            None => break,
        }
    }
    specs
}

/// How many words `args` always take, if that is fixed.
fn fixed_width(args: &[Arg]) -> Option<i32> {
    args.iter().try_fold(0, |n, a| {
        if a.optional || a.multiple {
            return None;
        }
        let own = match &a.kind {
            ArgKind::PureToken => return Some(n + 1),
            ArgKind::Block(members) => fixed_width(members)?,
            ArgKind::OneOf(members) => {
                let widths: Option<Vec<i32>> = members.iter().map(|m| fixed_width(std::slice::from_ref(m))).collect();
                let widths = widths?;
                let first = *widths.first()?;
                if widths.iter().any(|&w| w != first) {
                    return None;
                }
                first
            }
            ArgKind::Unknown(_) => return None,
            _ => 1,
        };
        Some(n + own + i32::from(a.token.is_some()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctxt::Ctxt;

    fn specs_of(json: &str) -> Vec<(String, Vec<KeySpec>)> {
        let spec = crate::spec::parse(json, "test.json", &mut Ctxt::new());
        spec.commands.iter().map(|c| (c.name.clone(), key_specs_from_arguments(c))).collect()
    }

    fn index(pos: i32, lastkey: i32, keystep: i32) -> KeySpec {
        KeySpec {
            begin: BeginSearch::Index(pos),
            find: FindKeys::Range { lastkey, keystep, limit: 0 },
            incomplete: false,
        }
    }

    #[test]
    fn keys_from_argument_positions() {
        let specs = specs_of(
            r#"{
            "JSON.GET": {"arguments": [{"name": "key", "type": "key"},
                {"name": "indent", "token": "INDENT", "type": "string", "optional": true}]},
            "JSON.MGET": {"arguments": [{"name": "key", "type": "key", "multiple": true},
                {"name": "path", "type": "string"}]},
            "JSON.MSET": {"arguments": [{"name": "triplet", "type": "block", "multiple": true, "arguments": [
                {"name": "key", "type": "key"}, {"name": "path", "type": "string"}, {"name": "value", "type": "string"}]}]},
            "JSON.DEBUG MEMORY": {"arguments": [{"name": "key", "type": "key"}]},
            "X.COPY": {"arguments": [{"name": "src", "type": "key"}, {"name": "n", "type": "integer"},
                {"name": "dst", "type": "key"}]},
            "X.EVAL": {"arguments": [{"name": "script", "type": "string"}, {"name": "numkeys", "type": "integer"},
                {"name": "key", "type": "key", "multiple": true}]},
            "X.LATE": {"arguments": [{"name": "opt", "type": "string", "optional": true}, {"name": "key", "type": "key"}]},
            "X.NONE": {"arguments": [{"name": "item", "type": "string"}]}
        }"#,
        );
        let find = |n: &str| specs.iter().find(|(c, _)| c == n).unwrap().1.clone();
        assert_eq!(find("JSON.GET"), [index(1, 0, 1)]);
        assert_eq!(find("JSON.MGET"), [index(1, -2, 1)]);
        assert_eq!(find("JSON.MSET"), [index(1, -1, 3)]);
        assert_eq!(find("JSON.DEBUG MEMORY"), [index(2, 0, 1)]);
        assert_eq!(find("X.COPY"), [index(1, 0, 1), index(3, 0, 1)]);
        let keynum = FindKeys::Keynum { keynumidx: 0, firstkey: 1, keystep: 1 };
        assert_eq!(find("X.EVAL"), [KeySpec { begin: BeginSearch::Index(2), find: keynum, incomplete: false }]);
        assert_eq!(find("X.LATE"), []);
        assert_eq!(find("X.NONE"), []);
    }

    #[test]
    fn trait_names_make_module_names() {
        assert_eq!(snake("JsonCommands"), "json_commands");
        assert_eq!(snake("Bloom"), "bloom");
    }
}
