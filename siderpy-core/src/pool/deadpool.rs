//! A [`deadpool`](::deadpool) manager, so [`Redis`] clients can live in a
//! deadpool pool (cargo feature `deadpool`).

use ::deadpool::managed::{Metrics, RecycleError, RecycleResult};

use crate::client::{Redis, RedisBuilder};
use crate::error::{Error, Result};

/// Makes [`Redis`] clients for a [`deadpool` pool](::deadpool::managed::Pool)
/// and recycles them with `PING`.
///
/// A client is connected (and `PING`ed) when made, so connection failures
/// show when the pool grows. A client given back is treated as by
/// [`RedisPool`](crate::RedisPool#what-comes-back-to-the-pool): an open
/// transaction or `WATCH` and pipeline mode are undone; a client that is
/// still dirty (a `SELECT`, pub/sub, or shared with a clone) is not
/// recycled: deadpool drops it. A client whose connection merely failed
/// reconnects on the recycling `PING`.
///
/// ```no_run
/// # extern crate siderpy_core as siderpy;
/// # async fn f() -> siderpy::Result<()> {
/// use siderpy::prelude::*;
/// let manager = siderpy::deadpool::Manager::new("redis://localhost:6379/0")?;
/// let pool = siderpy::deadpool::Pool::builder(manager).max_size(8).build().expect("no runtime needed");
/// let redis = pool.get().await.expect("a client");
/// redis.set("key", "value").await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Manager {
    client: RedisBuilder,
}

/// A deadpool pool of [`Redis`] clients.
pub type Pool = ::deadpool::managed::Pool<Manager>;

/// A client lent by a deadpool [`Pool`]; derefs to [`Redis`].
pub type Connection = ::deadpool::managed::Object<Manager>;

/// What [`Pool::get`](::deadpool::managed::Pool::get) fails with.
pub type PoolError = ::deadpool::managed::PoolError<Error>;

impl Manager {
    /// A manager for clients of `url` with default settings.
    ///
    /// ```
    /// # extern crate siderpy_core as siderpy;
    /// let manager = siderpy::deadpool::Manager::new("redis://localhost:6379/0").unwrap();
    /// ```
    ///
    /// # Errors
    /// [`Error::Url`] when the URL is invalid.
    pub fn new(url: &str) -> Result<Self> {
        Ok(Self::from(Redis::builder(url)?))
    }
}

/// A manager for clients with these settings.
///
/// ```
/// # extern crate siderpy_core as siderpy;
/// let settings = siderpy::Redis::builder("redis://localhost").unwrap().db(1);
/// let manager = siderpy::deadpool::Manager::from(settings);
/// ```
impl From<RedisBuilder> for Manager {
    fn from(client: RedisBuilder) -> Self {
        Manager { client }
    }
}

impl ::deadpool::managed::Manager for Manager {
    type Type = Redis;
    type Error = Error;

    async fn create(&self) -> Result<Redis> {
        let redis = self.client.clone().build();
        super::ping(&redis).await?;
        Ok(redis)
    }

    async fn recycle(&self, redis: &mut Redis, _: &Metrics) -> RecycleResult<Error> {
        if !super::reusable(redis) {
            return Err(RecycleError::message("the client was given back dirty"));
        }
        super::ping(redis).await.map_err(RecycleError::Backend)
    }
}
