//! The API model: what [`expand`](crate::expand) reads to emit the typed
//! API. Every name, type and write is decided by [`lower`](crate::lower);
//! nothing here knows the spec or `proc_macro`.

use crate::replies::ReplyTy;
use crate::spec::{KeySpec, RequestPolicy, ResponsePolicy};

/// The typed API for a whole spec.
#[derive(Debug, Clone, Default)]
pub struct Api {
    /// Every entry, sorted by name: each has a `kind` marker; most a method.
    pub commands: Vec<Plan>,
    /// The enums of required (or repeated) `oneof` arguments: one per
    /// shape (`M | KM | FT | MI` is one enum whichever command takes it).
    pub enums: Vec<EnumDef>,
    /// Other names of those enums: what each command's argument was called
    /// before the enums of one shape were shared (`GeosearchUnit` for `Unit`).
    pub aliases: Vec<Alias>,
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
    /// What it does to its connection: a variant of the runtime's `Effect`
    /// ([`effects`](crate::effects)).
    pub effect: &'static str,
    /// It has an effect: its method is in `ConnectionCommands` rather than
    /// `Commands` (a pool or a cluster has no such method).
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
    /// The table's `when` key that gave `reply`.
    pub when_key: Option<String>,
    pub docs: Vec<String>,
}

/// A generated enum for a `oneof` argument.
#[derive(Debug, Clone, PartialEq)]
pub struct EnumDef {
    pub ident: String,
    /// The argument's label in CamelCase (`Unit`), a name for a shared enum.
    pub label: String,
    pub docs: Vec<String>,
    pub variants: Vec<Variant>,
}

/// `pub type <ident> = <target>;` in `types`.
#[derive(Debug, Clone, PartialEq)]
pub struct Alias {
    pub ident: String,
    pub target: String,
    pub docs: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    pub ident: String,
    pub docs: Vec<String>,
    /// Unnamed fields, bound as `__f0`, `__f1`... when written.
    pub fields: Vec<Ty>,
    pub write: Write,
}

impl Variant {
    /// Whether `self` and `other` are the same choice, docs aside.
    pub fn same_shape(&self, other: &Variant) -> bool {
        self.ident == other.ident && self.fields == other.fields && self.write == other.write
    }
}

/// The Rust type of a value given for an argument.
#[derive(Debug, Clone, PartialEq)]
pub enum Ty {
    /// `key`, `string`, `pattern`: `impl ToArg` where generic, else `Arg`.
    Str,
    /// `integer`, `unix-time`: `i64`.
    Int,
    /// An `integer` named `cursor` (the SCAN family's): `u64`, the type a
    /// cursor comes back as, so a returned cursor goes back in as it is.
    Cursor,
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
    /// The number is of items of so many arguments each (`field value`
    /// pairs count 1 each).
    Counted(u32, Box<Write>),
}

impl Ty {
    /// Every enum this type names, renamed by `f`.
    pub fn rename_enums(&mut self, f: &impl Fn(&str) -> Option<String>) {
        match self {
            Ty::Enum(name) => {
                if let Some(new) = f(name) {
                    *name = new;
                }
            }
            Ty::Tuple(items) => items.iter_mut().for_each(|t| t.rename_enums(f)),
            Ty::Option(t) | Ty::Many(t) => t.rename_enums(f),
            Ty::Str | Ty::Int | Ty::Cursor | Ty::Double | Ty::Bool | Ty::Raw => {}
        }
    }
}

impl Write {
    pub fn seq(mut items: Vec<Write>) -> Write {
        items.retain(|w| *w != Write::Seq(Vec::new()));
        if items.len() == 1 {
            items.pop().expect("one")
        } else {
            Write::Seq(items)
        }
    }
}

/// One field as itself, several as a tuple.
pub fn one(mut fields: Vec<Ty>) -> Ty {
    if fields.len() == 1 {
        fields.pop().expect("one")
    } else {
        Ty::Tuple(fields)
    }
}
