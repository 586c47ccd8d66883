//! [`Value`]: a reply as the server sent it, before conversion to a Rust type.

use std::fmt;

use bytes::Bytes;

use crate::error::ServerError;

/// One RESP2 or RESP3 reply.
///
/// Strings are [`Bytes`] slices of the connection's read buffer: decoding a
/// reply copies no payload. Convert a `Value` to a Rust type with
/// [`FromValue`](crate::FromValue); typed command methods do that for you.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// RESP2 nil bulk string or nil array, RESP3 `_`.
    Nil,
    /// A simple string (`+OK`).
    Simple(Bytes),
    /// An error reply (`-ERR ...` or a RESP3 blob error). Top-level error
    /// replies become [`Error::Redis`](crate::Error::Redis); this variant is
    /// what they look like nested inside arrays (EXEC results, pipelines).
    Error(ServerError),
    /// An integer (`:42`). RESP integers are signed 64-bit.
    Int(i64),
    /// A bulk string (`$3\r\nfoo`).
    Bulk(Bytes),
    /// An array (`*`).
    Array(Vec<Value>),
    /// A RESP3 map (`%`), as key/value pairs in the order sent.
    Map(Vec<(Value, Value)>),
    /// A RESP3 set (`~`), in the order sent.
    Set(Vec<Value>),
    /// A RESP3 double (`,`), including `inf`, `-inf` and `nan`.
    Double(f64),
    /// A RESP3 boolean (`#t` / `#f`).
    Boolean(bool),
    /// A RESP3 big number (`(`), as its decimal digits.
    BigNumber(Bytes),
    /// A RESP3 verbatim string (`=`): a three-letter format (`txt`, `mkd`) and the text.
    Verbatim {
        /// The format, such as `txt` or `mkd`.
        format: [u8; 3],
        /// The text itself.
        text: Bytes,
    },
    /// A RESP3 push (`>`): out-of-band data such as pub/sub messages.
    Push(Vec<Value>),
    /// A RESP3 attribute (`|`) followed by the value it describes.
    Attribute {
        /// The attribute map.
        attributes: Vec<(Value, Value)>,
        /// The reply the attributes belong to.
        value: Box<Value>,
    },
}

impl Value {
    /// A short name of the variant, for error messages ("bulk string", "array"...).
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Simple(_) => "simple string",
            Value::Error(_) => "error",
            Value::Int(_) => "integer",
            Value::Bulk(_) => "bulk string",
            Value::Array(_) => "array",
            Value::Map(_) => "map",
            Value::Set(_) => "set",
            Value::Double(_) => "double",
            Value::Boolean(_) => "boolean",
            Value::BigNumber(_) => "big number",
            Value::Verbatim { .. } => "verbatim string",
            Value::Push(_) => "push",
            Value::Attribute { .. } => "attribute",
        }
    }

    /// True for [`Value::Nil`].
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// The bytes of any string-like reply (simple, bulk, verbatim, big number).
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match self {
            Value::Simple(b) | Value::Bulk(b) | Value::BigNumber(b) => Some(b),
            Value::Verbatim { text, .. } => Some(text),
            Value::Attribute { value, .. } => value.as_bytes(),
            _ => None,
        }
    }

    /// The value with any RESP3 attribute wrapper removed.
    pub fn into_inner(self) -> Value {
        match self {
            Value::Attribute { value, .. } => value.into_inner(),
            v => v,
        }
    }
}

/// Shows strings as text where they are valid UTF-8, so logs stay readable.
impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn text(f: &mut fmt::Formatter<'_>, b: &Bytes) -> fmt::Result {
            match std::str::from_utf8(b) {
                Ok(s) => write!(f, "{s:?}"),
                Err(_) => write!(f, "{b:?}"),
            }
        }
        match self {
            Value::Nil => f.write_str("Nil"),
            Value::Simple(b) => {
                f.write_str("Simple(")?;
                text(f, b)?;
                f.write_str(")")
            }
            Value::Error(e) => write!(f, "Error({:?})", e.as_str()),
            Value::Int(i) => write!(f, "Int({i})"),
            Value::Bulk(b) => {
                f.write_str("Bulk(")?;
                text(f, b)?;
                f.write_str(")")
            }
            Value::Array(items) => f.debug_tuple("Array").field(items).finish(),
            Value::Map(pairs) => f.debug_tuple("Map").field(pairs).finish(),
            Value::Set(items) => f.debug_tuple("Set").field(items).finish(),
            Value::Double(d) => write!(f, "Double({d})"),
            Value::Boolean(b) => write!(f, "Boolean({b})"),
            Value::BigNumber(b) => {
                f.write_str("BigNumber(")?;
                text(f, b)?;
                f.write_str(")")
            }
            Value::Verbatim { format, text: t } => {
                write!(f, "Verbatim({}, ", String::from_utf8_lossy(format))?;
                text(f, t)?;
                f.write_str(")")
            }
            Value::Push(items) => f.debug_tuple("Push").field(items).finish(),
            Value::Attribute { attributes, value } => {
                f.debug_struct("Attribute").field("attributes", attributes).field("value", value).finish()
            }
        }
    }
}
