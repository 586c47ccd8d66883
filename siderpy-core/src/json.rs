//! [`Json`]: values stored and read as JSON text (the `serde` feature).

use bytes::BytesMut;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::args::ToArg;
use crate::convert::{type_error, FromValue};
use crate::error::Result;
use crate::resp::write_bulk;
use crate::value::Value;

/// A value stored as JSON text and read back from it, with serde: an
/// argument (`SET`, `HSET`, `JSON.SET`...) written as its JSON, and a reply
/// type (`GET`, `HGET`, `JSON.GET`...) parsed from it.
///
/// A reply that is not JSON for `T` is an [`Error::Type`](crate::Error::Type)
/// naming serde's complaint, and the error keeps the reply. A missing key is
/// `None` with `Option<Json<T>>`.
///
/// # Panics
/// Writing panics if `T`'s `Serialize` fails, which serde_json does only
/// for a map whose keys are not strings or numbers, or a `Serialize` impl
/// that returns an error of its own: a bug in the program, not bad input.
///
/// # Examples
/// ```no_run
/// # extern crate siderpy_core as siderpy;
/// # async fn f(redis: siderpy::Redis) -> siderpy::Result<()> {
/// use siderpy::prelude::*;
/// use siderpy::Json;
///
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Session { user: String, roles: Vec<String> }
///
/// let session = Session { user: "ada".into(), roles: vec!["admin".into()] };
/// redis.set("session:1", Json(&session)).ex(3600).await?;
/// let back: Option<Json<Session>> = redis.get("session:1").returning().await?;
/// if let Some(Json(session)) = back {
///     assert_eq!(session.user, "ada");
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Json<T>(pub T);

impl<T: Serialize> ToArg for Json<T> {
    fn write_arg(&self, out: &mut BytesMut) {
        let text = serde_json::to_vec(&self.0)
            .unwrap_or_else(|e| panic!("Json<{}>: its Serialize failed: {e}", std::any::type_name::<T>()));
        write_bulk(out, &text);
    }
}

impl<T: DeserializeOwned> FromValue for Json<T> {
    fn from_value(value: Value) -> Result<Self> {
        let parsed = match &value {
            Value::Bulk(b) | Value::Simple(b) => serde_json::from_slice(b),
            Value::Verbatim { text, .. } => serde_json::from_slice(text),
            _ => return Err(type_error(&format!("JSON text for {}", std::any::type_name::<T>()), &value)),
        };
        parsed.map(Json).map_err(|e| type_error(&format!("JSON for {} ({e})", std::any::type_name::<T>()), &value))
    }
}
