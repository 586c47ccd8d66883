//! `#[derive(FromValue)]` and `#[derive(ToArgs)]`: structs read from and
//! written as field/value pairs (hashes, stream entries, RESP3 maps), and
//! unit enums read from a reply's text.
//!
//! Parse (the item and its `#[siderpy(...)]` attributes) -> model
//! ([`Item`]) -> emit. Every attribute error is reported at once, each at
//! its own span. Generated code reaches the runtime through
//! `::siderpy::__private`, so the user depends on `siderpy` alone.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, LitStr};

const ATTR: &str = "siderpy";

/// How names are spelled on the wire when not renamed one by one.
#[derive(Clone, Copy)]
enum RenameAll {
    AsIs,
    Lower,
    Upper,
    Snake,
    Kebab,
}

impl RenameAll {
    fn parse(lit: &LitStr) -> syn::Result<RenameAll> {
        Ok(match lit.value().as_str() {
            "lowercase" => RenameAll::Lower,
            "UPPERCASE" => RenameAll::Upper,
            "snake_case" => RenameAll::Snake,
            "kebab-case" => RenameAll::Kebab,
            other => {
                return Err(syn::Error::new(
                    lit.span(),
                    format!("unknown rename_all rule `{other}`: use lowercase, UPPERCASE, snake_case or kebab-case"),
                ))
            }
        })
    }

    fn apply(self, name: &str) -> String {
        let snake = || {
            let mut out = String::new();
            for (i, c) in name.chars().enumerate() {
                if c.is_uppercase() && i > 0 {
                    out.push('_');
                }
                out.extend(c.to_lowercase());
            }
            out
        };
        match self {
            RenameAll::AsIs => name.to_owned(),
            RenameAll::Lower => name.to_lowercase(),
            RenameAll::Upper => name.to_uppercase(),
            RenameAll::Snake => snake(),
            RenameAll::Kebab => snake().replace('_', "-"),
        }
    }
}

/// What the derive input says, checked.
struct Item {
    ident: syn::Ident,
    generics: syn::Generics,
    shape: Shape,
}

enum Shape {
    Struct(Vec<Field>),
    /// Unit variants, each with its name on the wire.
    Enum(Vec<(syn::Ident, String)>),
}

struct Field {
    ident: syn::Ident,
    ty: syn::Type,
    /// The field's name on the wire.
    wire: String,
    /// Missing means `None` (an `Option` field).
    optional: bool,
    /// Missing means `Default::default()` (`#[siderpy(default)]`).
    default: bool,
}

/// The attributes of one item, field or variant.
#[derive(Default)]
struct Attrs {
    rename: Option<String>,
    rename_all: Option<RenameAll>,
    default: bool,
}

fn attrs(list: &[syn::Attribute], errors: &mut Vec<syn::Error>) -> Attrs {
    let mut out = Attrs::default();
    for attr in list.iter().filter(|a| a.path().is_ident(ATTR)) {
        let parsed = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                out.rename = Some(meta.value()?.parse::<LitStr>()?.value());
            } else if meta.path.is_ident("rename_all") {
                out.rename_all = Some(RenameAll::parse(&meta.value()?.parse::<LitStr>()?)?);
            } else if meta.path.is_ident("default") {
                out.default = true;
            } else {
                return Err(meta.error("unknown siderpy attribute: expected `rename`, `rename_all` or `default`"));
            }
            Ok(())
        });
        if let Err(e) = parsed {
            errors.push(e);
        }
    }
    out
}

fn is_option(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Path(p) if p.qself.is_none() && p.path.segments.last().is_some_and(|s| s.ident == "Option"))
}

fn model(input: DeriveInput, derive: &str) -> syn::Result<Item> {
    let mut errors = Vec::new();
    let top = attrs(&input.attrs, &mut errors);
    let rule = top.rename_all.unwrap_or(RenameAll::AsIs);
    let shape = match input.data {
        Data::Struct(s) => match s.fields {
            Fields::Named(named) => Shape::Struct(
                named
                    .named
                    .into_iter()
                    .map(|f| {
                        let a = attrs(&f.attrs, &mut errors);
                        let ident = f.ident.expect("named field");
                        let name = ident.to_string();
                        let name = name.strip_prefix("r#").unwrap_or(&name);
                        Field {
                            wire: a.rename.unwrap_or_else(|| rule.apply(name)),
                            optional: is_option(&f.ty),
                            default: a.default,
                            ident,
                            ty: f.ty,
                        }
                    })
                    .collect(),
            ),
            other => {
                return Err(syn::Error::new(
                    other.span(),
                    format!("#[derive({derive})] needs a struct with named fields (they are the hash's field names)"),
                ))
            }
        },
        Data::Enum(e) if derive == "FromValue" => Shape::Enum(
            e.variants
                .into_iter()
                .map(|v| {
                    let a = attrs(&v.attrs, &mut errors);
                    if !matches!(v.fields, Fields::Unit) {
                        errors.push(syn::Error::new(
                            v.fields.span(),
                            "#[derive(FromValue)] on an enum takes unit variants only (read from the reply's text)",
                        ));
                    }
                    let wire = a.rename.unwrap_or_else(|| rule.apply(&v.ident.to_string()));
                    (v.ident, wire)
                })
                .collect(),
        ),
        _ => {
            return Err(syn::Error::new(
                Span::call_site(),
                format!(
                    "#[derive({derive})] takes a struct with named fields{}",
                    if derive == "FromValue" { " or an enum of unit variants" } else { "" }
                ),
            ))
        }
    };
    let mut errors = errors.into_iter();
    if let Some(mut first) = errors.next() {
        for e in errors {
            first.combine(e);
        }
        return Err(first);
    }
    Ok(Item { ident: input.ident, generics: input.generics, shape })
}

/// `#[derive(FromValue)]`.
pub fn from_value(input: DeriveInput) -> syn::Result<TokenStream> {
    let item = model(input, "FromValue")?;
    let ident = &item.ident;
    let name = ident.to_string();
    let (impl_generics, ty_generics, where_clause) = item.generics.split_for_impl();
    let p = quote!(::siderpy::__private);
    let body = match &item.shape {
        Shape::Struct(fields) => {
            let slots: Vec<_> = fields.iter().map(|f| format_ident!("__f_{}", f.ident)).collect();
            let decls = fields.iter().zip(&slots).map(|(f, slot)| {
                let ty = &f.ty;
                quote!(let mut #slot: ::core::option::Option<#ty> = ::core::option::Option::None;)
            });
            let arms = fields.iter().zip(&slots).map(|(f, slot)| {
                let wire = &f.wire;
                quote!(#wire => #slot = ::core::option::Option::Some(#p::FromValue::from_value(__v)?),)
            });
            let inits = fields.iter().zip(&slots).map(|(f, slot)| {
                let field = &f.ident;
                let wire = &f.wire;
                if f.optional || f.default {
                    quote!(#field: #slot.unwrap_or_default(),)
                } else {
                    quote!(#field: match #slot {
                        ::core::option::Option::Some(__x) => __x,
                        ::core::option::Option::None => return ::core::result::Result::Err(#p::missing_field(#name, #wire)),
                    },)
                }
            });
            quote! {
                #(#decls)*
                for (__k, __v) in #p::field_values(__value, #name)? {
                    match &*__k {
                        #(#arms)*
                        _ => {}
                    }
                }
                ::core::result::Result::Ok(#ident { #(#inits)* })
            }
        }
        Shape::Enum(variants) => {
            let arms = variants.iter().map(
                |(v, wire)| quote!(::core::option::Option::Some(#wire) => ::core::result::Result::Ok(#ident::#v),),
            );
            let expected = format!(
                "{name} (one of {})",
                variants.iter().map(|(_, w)| format!("{w:?}")).collect::<Vec<_>>().join(", ")
            );
            quote! {
                let __text = #p::text_of(&__value);
                match __text.as_deref() {
                    #(#arms)*
                    _ => ::core::result::Result::Err(#p::type_error(#expected, &__value)),
                }
            }
        }
    };
    let empty_is_none = matches!(item.shape, Shape::Struct(_));
    Ok(quote! {
        #[automatically_derived]
        impl #impl_generics #p::FromValue for #ident #ty_generics #where_clause {
            fn from_value(__value: #p::Value) -> ::core::result::Result<Self, #p::Error> {
                #body
            }
            const EMPTY_IS_NONE: bool = #empty_is_none;
        }
    })
}

/// `#[derive(ToArgs)]`.
pub fn to_args(input: DeriveInput) -> syn::Result<TokenStream> {
    let item = model(input, "ToArgs")?;
    let ident = &item.ident;
    let (impl_generics, ty_generics, where_clause) = item.generics.split_for_impl();
    let p = quote!(::siderpy::__private);
    let Shape::Struct(fields) = &item.shape else { unreachable!("model refuses enums for ToArgs") };
    let pushes = fields.iter().map(|f| {
        let field = &f.ident;
        let wire = &f.wire;
        if f.optional {
            quote! {
                if let ::core::option::Option::Some(__x) = &self.#field {
                    __out.push((#wire, #p::Arg::new(__x)));
                }
            }
        } else {
            quote!(__out.push((#wire, #p::Arg::new(&self.#field)));)
        }
    });
    let n = fields.len();
    // `&T` is the list of pairs HSET and XADD take.
    let mut borrowed = item.generics.clone();
    borrowed.params.insert(0, syn::parse_quote!('__a));
    let (borrowed_generics, _, _) = borrowed.split_for_impl();
    Ok(quote! {
        #[automatically_derived]
        impl #impl_generics #p::ToArgs for #ident #ty_generics #where_clause {
            fn field_values(&self) -> ::std::vec::Vec<(&'static str, #p::Arg)> {
                let mut __out = ::std::vec::Vec::with_capacity(#n);
                #(#pushes)*
                __out
            }
        }

        #[automatically_derived]
        impl #borrowed_generics ::core::iter::IntoIterator for &'__a #ident #ty_generics #where_clause {
            type Item = (&'static str, #p::Arg);
            type IntoIter = ::std::vec::IntoIter<(&'static str, #p::Arg)>;
            fn into_iter(self) -> Self::IntoIter {
                #p::ToArgs::field_values(self).into_iter()
            }
        }
    })
}
