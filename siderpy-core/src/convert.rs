//! [`FromValue`]: converting a reply [`Value`] to the Rust type asked for.
//!
//! Conversions accept the RESP2 and the RESP3 shape of the same reply, so a
//! typed method returns the same type whichever protocol the connection
//! speaks: a flat array or a map for `HGETALL`, a bulk string or a double for
//! `ZSCORE`, a flat array or an array of pairs for `WITHSCORES`.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{BuildHasher, Hash};

use bytes::Bytes;

use crate::error::{Error, TypeError};
use crate::value::Value;

/// How replies are decoded into `String`s when they are not valid UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TextPolicy {
    /// Invalid UTF-8 is an [`Error::Type`] (the default).
    #[default]
    Strict,
    /// Invalid sequences are replaced with U+FFFD.
    Replace,
}

thread_local! {
    static TEXT_POLICY: Cell<TextPolicy> = const { Cell::new(TextPolicy::Strict) };
}

/// Converts `value` to `T` with `policy` in force for every `String` inside.
///
/// The policy is a thread-local set only for the duration of this
/// synchronous call, so conversions (yours included) need not pass it along.
///
/// # Errors
/// [`Error::Type`] keeping `value` whole ([`Error::into_reply`]) when it does
/// not convert; a nested error reply as [`Error::Redis`].
pub fn convert<T: FromValue>(value: Value, policy: TextPolicy) -> Result<T, Error> {
    if T::converts(&value) {
        return T::from_value(value);
    }
    // A conversion consumes what it reads, and the command has already run:
    // a copy (reference counts for the bytes, one allocation per aggregate)
    // is what lets a failure hand the reply back. Not made when the
    // conversion cannot fail: a reference count taken and dropped at once,
    // on bytes other threads read too, is a good part of a cache hit.
    let kept = value.clone();
    let keep = |e| match e {
        Error::Type(t) => Error::Type(t.with_reply(kept)),
        e => e,
    };
    if policy == TextPolicy::Strict {
        return T::from_value(value).map_err(keep);
    }
    struct Restore(TextPolicy);
    impl Drop for Restore {
        fn drop(&mut self) {
            TEXT_POLICY.with(|p| p.set(self.0));
        }
    }
    let _restore = Restore(TEXT_POLICY.with(|p| p.replace(policy)));
    T::from_value(value).map_err(keep)
}

/// A Rust type a reply can be converted to.
///
/// Implemented for [`Value`] itself, `()`, `bool`, every integer type, `f32`,
/// `f64`, `String`, [`Bytes`], `Vec<u8>`, `Option<T>`, `Vec<T>`, maps, sets
/// and tuples of up to twelve elements. A top-level error reply never reaches
/// a conversion (it is [`Error::Redis`]); a nested one (inside `EXEC`'s
/// array, say) converts to that same error.
///
/// Structs read from field/value pairs can derive it
/// (`#[derive(FromValue)]`, see [`ToArgs`](crate::ToArgs)); for anything
/// else, implement it on top of the conversions that exist.
///
/// # Examples
/// A point stored as `"x,y"`:
/// ```
/// # extern crate siderpy_core as siderpy;
/// use siderpy::{type_error, FromValue, Value};
///
/// #[derive(Debug, PartialEq)]
/// struct Point(i64, i64);
///
/// impl FromValue for Point {
///     fn from_value(value: Value) -> siderpy::Result<Point> {
///         let text = String::from_value(value.clone())?;
///         let parsed = text.split_once(',').and_then(|(x, y)| Some(Point(x.parse().ok()?, y.parse().ok()?)));
///         parsed.ok_or_else(|| type_error("a point \"x,y\"", &value))
///     }
/// }
///
/// assert_eq!(Point::from_value(Value::Bulk("3,4".into())).unwrap(), Point(3, 4));
/// assert!(Point::from_value(Value::Bulk("3;4".into())).is_err());
/// // Every container of it converts too.
/// let many = Vec::<Option<Point>>::from_value(Value::Array(vec![Value::Bulk("1,2".into()), Value::Nil]));
/// assert_eq!(many.unwrap(), [Some(Point(1, 2)), None]);
/// ```
pub trait FromValue: Sized {
    /// Converts one reply.
    ///
    /// # Errors
    /// [`Error::Type`] when the reply does not have a shape this type accepts.
    fn from_value(value: Value) -> Result<Self, Error>;

    /// For tuples, how many elements they take, so that `Vec<(A, B)>` can be
    /// read from a flat RESP2 array `[a1, b1, a2, b2]` as well as from an
    /// array of pairs. Other types keep the default of 1.
    #[doc(hidden)]
    const FLAT_ARITY: usize = 1;

    /// Whether `from_value` cannot fail on `value` with a type error (the
    /// failure that hands the reply back): [`convert`] then keeps no copy
    /// of it. `false` is always right.
    #[doc(hidden)]
    fn converts(_value: &Value) -> bool {
        false
    }

    /// Whether an empty hash or map is `None` when this type is asked for
    /// as an `Option` (`HGETALL` of a missing key answers `{}`): true for
    /// structs that derive `FromValue`.
    #[doc(hidden)]
    const EMPTY_IS_NONE: bool = false;

    /// For `u8` only: a string reply read as `Vec<u8>` is its bytes, not a
    /// list of numbers. (Stable Rust has no specialization; this hook is how
    /// `Vec<u8>` and `Vec<T>` share one impl.)
    #[doc(hidden)]
    fn bytes_as_vec(_bytes: &Bytes) -> Option<Vec<Self>> {
        None
    }
}

/// The error for a value that does not fit `expected`.
pub fn type_error(expected: &str, value: &Value) -> Error {
    let received = match value {
        Value::Simple(b) | Value::Bulk(b) if b.len() <= 32 => {
            format!("{} {:?}", value.kind(), String::from_utf8_lossy(b))
        }
        Value::Int(i) => format!("integer {i}"),
        _ => value.kind().to_string(),
    };
    Error::Type(TypeError::new(expected, received))
}

/// Unwraps attributes and turns nested error replies into errors.
#[inline]
fn plain(value: Value) -> Result<Value, Error> {
    // A plain value, by far the most common, goes through with no call
    // (and no recursion, so that this inlines).
    match value {
        Value::Error(e) => Err(Error::Redis(e)),
        v @ Value::Attribute { .. } => match v.into_inner() {
            Value::Error(e) => Err(Error::Redis(e)),
            v => Ok(v),
        },
        v => Ok(v),
    }
}

impl FromValue for Value {
    fn converts(_value: &Value) -> bool {
        true
    }

    fn from_value(value: Value) -> Result<Self, Error> {
        Ok(value)
    }
}

/// Accepts any reply that is not an error (`+OK`, `QUEUED`, a count...).
impl FromValue for () {
    fn from_value(value: Value) -> Result<Self, Error> {
        plain(value).map(drop)
    }
}

/// Integers are true when non-zero; `+OK` is true and nil is false (so `SET
/// ... NX` reads as "was it set?").
impl FromValue for bool {
    fn from_value(value: Value) -> Result<Self, Error> {
        match plain(value)? {
            Value::Boolean(b) => Ok(b),
            Value::Int(i) => Ok(i != 0),
            Value::Nil => Ok(false),
            Value::Simple(_) => Ok(true),
            Value::Bulk(b) if &b[..] == b"1" => Ok(true),
            Value::Bulk(b) if &b[..] == b"0" => Ok(false),
            v => Err(type_error("bool", &v)),
        }
    }
}

fn parse_text<T: std::str::FromStr>(b: &[u8]) -> Option<T> {
    std::str::from_utf8(b).ok()?.parse().ok()
}

macro_rules! integer {
    ($($t:ty $({ $($extra:item)* })?),*) => {$(
        /// From an integer reply, or a string reply holding an integer.
        impl FromValue for $t {
            $($($extra)*)?
            fn from_value(value: Value) -> Result<Self, Error> {
                let v = plain(value)?;
                let n = match &v {
                    Value::Int(i) => <$t>::try_from(*i).ok(),
                    Value::Boolean(b) => Some(<$t>::from(*b)),
                    Value::Bulk(b) | Value::Simple(b) | Value::BigNumber(b) => parse_text(b),
                    Value::Double(d) if d.fract() == 0.0 => parse_text(d.to_string().as_bytes()),
                    _ => None,
                };
                n.ok_or_else(|| type_error(stringify!($t), &v))
            }
        }
    )*};
}
integer!(i8, i16, i32, i64, i128, isize, u16, u32, u64, u128, usize, u8 {
    fn bytes_as_vec(bytes: &Bytes) -> Option<Vec<u8>> {
        Some(bytes.to_vec())
    }
});

macro_rules! float {
    ($($t:ty),*) => {$(
        /// From a RESP3 double, an integer, or a string holding a number
        /// (`inf` and `-inf` included).
        impl FromValue for $t {
            fn from_value(value: Value) -> Result<Self, Error> {
                let v = plain(value)?;
                let n = match &v {
                    Value::Double(d) => Some(*d as $t),
                    Value::Int(i) => Some(*i as $t),
                    Value::Bulk(b) | Value::Simple(b) => match &b[..] {
                        b"inf" | b"+inf" => Some(<$t>::INFINITY),
                        b"-inf" => Some(<$t>::NEG_INFINITY),
                        other => parse_text(other),
                    },
                    _ => None,
                };
                n.ok_or_else(|| type_error(stringify!($t), &v))
            }
        }
    )*};
}
float!(f32, f64);

/// The bytes of a string-like reply; numbers as their text.
#[inline]
fn into_bytes(value: Value, expected: &str) -> Result<Bytes, Error> {
    match plain(value)? {
        Value::Bulk(b) | Value::Simple(b) | Value::BigNumber(b) => Ok(b),
        Value::Verbatim { text, .. } => Ok(text),
        Value::Int(i) => Ok(Bytes::copy_from_slice(itoa::Buffer::new().format(i).as_bytes())),
        Value::Double(d) => Ok(Bytes::from(d.to_string())),
        v => Err(type_error(expected, &v)),
    }
}

impl FromValue for Bytes {
    fn converts(value: &Value) -> bool {
        matches!(
            value,
            Value::Bulk(_)
                | Value::Simple(_)
                | Value::BigNumber(_)
                | Value::Verbatim { .. }
                | Value::Int(_)
                | Value::Double(_)
        )
    }

    fn from_value(value: Value) -> Result<Self, Error> {
        into_bytes(value, "Bytes")
    }
}

/// Strict or lossy UTF-8, as the client's [`TextPolicy`] says.
impl FromValue for String {
    fn from_value(value: Value) -> Result<Self, Error> {
        let b = into_bytes(value, "String")?;
        match String::from_utf8(b.into()) {
            Ok(s) => Ok(s),
            Err(e) if TEXT_POLICY.with(Cell::get) == TextPolicy::Replace => {
                Ok(String::from_utf8_lossy(e.as_bytes()).into_owned())
            }
            Err(e) => Err(Error::Type(TypeError::new("String", format!("invalid UTF-8: {e}")))),
        }
    }
}

/// Nil is `None`.
impl<T: FromValue> FromValue for Option<T> {
    fn converts(value: &Value) -> bool {
        matches!(value, Value::Nil) || T::converts(value)
    }

    fn from_value(value: Value) -> Result<Self, Error> {
        match plain(value)? {
            Value::Nil => Ok(None),
            Value::Map(m) if m.is_empty() && T::EMPTY_IS_NONE => Ok(None),
            Value::Array(a) if a.is_empty() && T::EMPTY_IS_NONE => Ok(None),
            v => T::from_value(v).map(Some),
        }
    }
}

/// A hash's (or a RESP3 map's, or a stream entry's) field/value pairs, the
/// field names as text; for `#[derive(FromValue)]`.
#[doc(hidden)]
pub fn field_values(value: Value, expected: &str) -> Result<Vec<(String, Value)>, Error> {
    collect(value, expected)
}

/// A required field missing from a reply read into a struct.
#[doc(hidden)]
pub fn missing_field(type_name: &str, field: &str) -> Error {
    Error::Type(TypeError::new(format!("{type_name} with a field {field:?}"), format!("no field {field:?}")))
}

/// The text of a string reply, if it is one; for enums deriving `FromValue`.
#[doc(hidden)]
pub fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::Simple(b) | Value::Bulk(b) | Value::Verbatim { text: b, .. } => {
            std::str::from_utf8(b).ok().map(str::to_owned)
        }
        _ => None,
    }
}

/// The elements of an aggregate as one flat list (a map's keys and values
/// alternate), or `None` for a value that is not an aggregate.
fn elements(value: Value) -> Result<Result<Vec<Value>, Value>, Error> {
    Ok(match plain(value)? {
        Value::Array(v) | Value::Set(v) | Value::Push(v) => Ok(v),
        Value::Map(pairs) => Ok(pairs.into_iter().flat_map(|(k, v)| [k, v]).collect()),
        Value::Nil => Ok(Vec::new()),
        v => Err(v),
    })
}

/// Builds a collection of `T` from an aggregate. When `T` is a tuple of
/// arity n and the elements are not themselves aggregates, they are read n
/// at a time (RESP2's flat `[member, score, member, score]`).
fn collect<T: FromValue, C: FromIterator<T>>(value: Value, expected: &str) -> Result<C, Error> {
    let items = match value.into_inner() {
        // A map read as pairs keeps its pairs.
        Value::Map(pairs) if T::FLAT_ARITY == 2 => {
            return pairs.into_iter().map(|(k, v)| T::from_value(Value::Array(vec![k, v]))).collect();
        }
        v => elements(v)?.map_err(|v| type_error(expected, &v))?,
    };
    let n = T::FLAT_ARITY;
    let flat = n > 1
        && items
            .first()
            .is_some_and(|v| !matches!(v, Value::Array(_) | Value::Map(_) | Value::Set(_) | Value::Push(_)));
    if !flat {
        return items.into_iter().map(T::from_value).collect();
    }
    if items.len() % n != 0 {
        return Err(Error::Type(TypeError::new(
            expected,
            format!("flat array of {} elements, not a multiple of {n}", items.len()),
        )));
    }
    let mut it = items.into_iter();
    std::iter::from_fn(|| {
        let chunk: Vec<Value> = it.by_ref().take(n).collect();
        (!chunk.is_empty()).then(|| T::from_value(Value::Array(chunk)))
    })
    .collect()
}

/// From any aggregate; `Vec<u8>` also from a string reply (its bytes).
impl<T: FromValue> FromValue for Vec<T> {
    fn from_value(value: Value) -> Result<Self, Error> {
        if let Some(b) = value.as_bytes() {
            if let Some(v) = T::bytes_as_vec(b) {
                return Ok(v);
            }
        }
        collect(value, "Vec")
    }
}

impl<T: FromValue + Eq + Hash, S: BuildHasher + Default> FromValue for HashSet<T, S> {
    fn from_value(value: Value) -> Result<Self, Error> {
        collect(value, "HashSet")
    }
}

impl<T: FromValue + Ord> FromValue for BTreeSet<T> {
    fn from_value(value: Value) -> Result<Self, Error> {
        collect(value, "BTreeSet")
    }
}

/// From a RESP3 map, a flat RESP2 array of keys and values, or an array of pairs.
impl<K: FromValue + Eq + Hash, V: FromValue, S: BuildHasher + Default> FromValue for HashMap<K, V, S> {
    fn from_value(value: Value) -> Result<Self, Error> {
        collect::<(K, V), _>(value, "HashMap")
    }
}

/// From a RESP3 map, a flat RESP2 array of keys and values, or an array of pairs.
impl<K: FromValue + Ord, V: FromValue> FromValue for BTreeMap<K, V> {
    fn from_value(value: Value) -> Result<Self, Error> {
        collect::<(K, V), _>(value, "BTreeMap")
    }
}

macro_rules! tuple {
    ($n:literal: $($t:ident),+) => {
        /// From an aggregate of exactly this many elements.
        impl<$($t: FromValue),+> FromValue for ($($t,)+) {
            const FLAT_ARITY: usize = $n;
            fn from_value(value: Value) -> Result<Self, Error> {
                let expected = concat!("a ", stringify!($n), "-tuple");
                let items = elements(value)?.map_err(|v| type_error(expected, &v))?;
                if items.len() != $n {
                    return Err(Error::Type(TypeError::new(expected, format!("{} elements", items.len()))));
                }
                let mut it = items.into_iter();
                Ok(($($t::from_value(it.next().expect("length checked"))?,)+))
            }
        }
    };
}
tuple!(1: A);
tuple!(2: A, B);
tuple!(3: A, B, C);
tuple!(4: A, B, C, D);
tuple!(5: A, B, C, D, E);
tuple!(6: A, B, C, D, E, F);
tuple!(7: A, B, C, D, E, F, G);
tuple!(8: A, B, C, D, E, F, G, H);
tuple!(9: A, B, C, D, E, F, G, H, I);
tuple!(10: A, B, C, D, E, F, G, H, I, J);
tuple!(11: A, B, C, D, E, F, G, H, I, J, K);
tuple!(12: A, B, C, D, E, F, G, H, I, J, K, L);

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::Bulk(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn resp2_and_resp3_shapes_agree() {
        let flat = Value::Array(vec![bulk("a"), bulk("1"), bulk("b"), bulk("2")]);
        let map = Value::Map(vec![(bulk("a"), bulk("1")), (bulk("b"), bulk("2"))]);
        let a: HashMap<String, i64> = FromValue::from_value(flat.clone()).unwrap();
        let b: HashMap<String, i64> = FromValue::from_value(map).unwrap();
        assert_eq!(a, b);
        assert_eq!(a["b"], 2);

        let scores2 = Value::Array(vec![bulk("m"), bulk("1.5")]);
        let scores3 = Value::Array(vec![Value::Array(vec![bulk("m"), Value::Double(1.5)])]);
        let x: Vec<(String, f64)> = FromValue::from_value(scores2).unwrap();
        let y: Vec<(String, f64)> = FromValue::from_value(scores3).unwrap();
        assert_eq!(x, y);
        assert_eq!(f64::from_value(bulk("-inf")).unwrap(), f64::NEG_INFINITY);
    }

    #[test]
    fn byte_vectors() {
        assert_eq!(Vec::<u8>::from_value(bulk("ab")).unwrap(), b"ab".to_vec());
        assert_eq!(Vec::<i64>::from_value(Value::Array(vec![Value::Int(1)])).unwrap(), vec![1]);
    }

    #[test]
    fn nil_and_options() {
        assert_eq!(Option::<Bytes>::from_value(Value::Nil).unwrap(), None);
        assert_eq!(Option::<i64>::from_value(Value::Int(3)).unwrap(), Some(3));
        assert!(!bool::from_value(Value::Nil).unwrap());
        assert!(bool::from_value(Value::Simple(Bytes::from_static(b"OK"))).unwrap());
        assert_eq!(Vec::<Bytes>::from_value(Value::Nil).unwrap(), Vec::<Bytes>::new());
    }

    #[test]
    fn mismatches_name_both_types() {
        let err = i64::from_value(bulk("abc")).unwrap_err();
        let Error::Type(t) = err else { panic!("{err:?}") };
        assert_eq!(t.expected, "i64");
        assert!(t.received.contains("abc"), "{}", t.received);
        assert!(matches!(<(i64, i64)>::from_value(Value::Array(vec![Value::Int(1)])), Err(Error::Type(_))));
    }

    #[test]
    fn text_policy() {
        let bad = Value::Bulk(Bytes::from_static(b"a\xffb"));
        assert!(matches!(convert::<String>(bad.clone(), TextPolicy::Strict), Err(Error::Type(_))));
        assert_eq!(convert::<Vec<String>>(Value::Array(vec![bad]), TextPolicy::Replace).unwrap(), vec!["a\u{fffd}b"]);
    }

    #[test]
    fn a_failed_conversion_keeps_the_reply() {
        let popped = Value::Array(vec![bulk("a"), bulk("b")]);
        let err = convert::<Option<Bytes>>(popped.clone(), TextPolicy::Strict).unwrap_err();
        assert_eq!(err.reply(), Some(&popped));
        let err = convert::<Vec<i64>>(popped.clone(), TextPolicy::Replace).unwrap_err();
        assert_eq!(err.into_reply(), Some(popped));
        // Nested: the whole reply, not the element that failed.
        let pairs = Value::Array(vec![Value::Array(vec![bulk("m"), bulk("x")])]);
        let err = convert::<Vec<(Bytes, f64)>>(pairs.clone(), TextPolicy::Strict).unwrap_err();
        assert_eq!(err.into_reply(), Some(pairs));
    }

    #[test]
    fn nested_error_is_an_error() {
        let e = Value::Error(crate::error::ServerError::new(Bytes::from_static(b"WRONGTYPE bad")));
        let got = Vec::<Option<i64>>::from_value(Value::Array(vec![Value::Int(1), e]));
        assert_eq!(got.unwrap_err().code(), Some("WRONGTYPE"));
    }
}
