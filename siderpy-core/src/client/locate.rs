//! Where a client finds its server when the URL alone cannot say: a
//! Sentinel-managed master (or replica) moves on failover.
//!
//! The client asks its [`Locate`] for the address each time it opens a
//! connection, checks with `ROLE` that the server there is in the role
//! asked for, and reports each connection it opened, so that the locator
//! can close them when the server changes. Nothing else changes: commands
//! on an open connection take the same path as without a locator.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::args::CmdArgs;
use crate::connection::{quote, Connection, WeakConnection};
use crate::error::{Error, Result};
use crate::info::Addr;
use crate::value::Value;

/// A boxed future, as the trait is used as an object.
pub(crate) type Located<'a> = Pin<Box<dyn Future<Output = Result<Addr>> + Send + 'a>>;

/// A source of the address to connect to (implemented by the sentinel
/// module).
pub(crate) trait Locate: Send + Sync + 'static {
    /// The address to connect to now (asking the sentinels if it is not known).
    fn locate(&self) -> Located<'_>;
    /// What `ROLE` must report there: `"master"` or `"slave"`.
    fn role(&self) -> &'static str;
    /// A connection was opened to `addr`: the locator closes it when the
    /// server it stands for moves elsewhere.
    fn opened(&self, addr: &Addr, conn: WeakConnection);
    /// `addr` could not be reached, was in the wrong role, or said it is
    /// no longer a master (`READONLY`): the next `locate` asks again.
    fn stale(&self, addr: Option<&Addr>);
    /// Counts the changes of address: a client backing off after failures
    /// tries a new address at once.
    fn epoch(&self) -> u64;
}

/// The locator a client's settings name, if any.
#[derive(Clone)]
pub(crate) struct Locator(pub(crate) Arc<dyn Locate>);

impl std::fmt::Debug for Locator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Locator({})", self.0.role())
    }
}

/// Checks with `ROLE` that the server on `conn` is a `role`.
pub(crate) async fn check_role(conn: &Connection, addr: &Addr, role: &str) -> Result<()> {
    let reply = conn.send(&CmdArgs::with_name("ROLE"))?.await.map_err(|_| Error::Closed("connection"))??;
    let actual = match &reply {
        Value::Array(items) => match items.first() {
            Some(Value::Bulk(b) | Value::Simple(b)) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        },
        Value::Error(e) => return Err(Error::Redis(e.clone())),
        _ => None,
    };
    match actual {
        Some(actual) if actual == role => Ok(()),
        Some(actual) => Err(Error::Sentinel(format!(
            "the server at {addr} is a {actual}, not the {role} the sentinels named (a failover under way?); \
             asking the sentinels again"
        ))),
        None => Err(Error::Handshake { command: "ROLE".into(), reply: quote(&reply) }),
    }
}
