//! Waiting for what a connection hands back, within a caller's bound.
//!
//! Every executor that queues on a [`Connection`](super::Connection) (the
//! client, a cluster's nodes) waits through these, so a reply slot's
//! outcome means the same everywhere.

use std::time::Duration;

use tokio::sync::oneshot;

use crate::error::{Error, Result, Timeout};
use crate::value::Value;

/// Waits for one reply; a top-level error reply becomes `Error::Redis`.
pub(crate) async fn await_reply(rx: oneshot::Receiver<Result<Value>>, limit: Option<Duration>) -> Result<Value> {
    match await_batch(rx, limit).await? {
        Value::Error(e) => Err(Error::Redis(e)),
        v => Ok(v),
    }
}

/// Waits for what a connection hands back (one reply, or a batch's),
/// within `limit` if there is one; error replies are left as they are.
pub(crate) async fn await_batch<T>(rx: oneshot::Receiver<Result<T>>, limit: Option<Duration>) -> Result<T> {
    let delivered = match limit {
        Some(limit) => tokio::time::timeout(limit, rx).await.map_err(|_| Error::Timeout(Timeout::Read))?,
        None => rx.await,
    };
    delivered.map_err(|_| Error::Closed("connection"))?
}
