//! A [`bb8`](::bb8) manager, so [`Redis`] clients can live in a bb8 pool
//! (cargo feature `bb8`).

use crate::client::{Redis, RedisBuilder};
use crate::error::{Error, Result};

/// Makes [`Redis`] clients for a [`bb8::Pool`](::bb8::Pool) and checks them
/// with `PING`.
///
/// A client is connected (and `PING`ed) when made, so connection failures
/// show when the pool fills. A client given back is treated as by
/// [`RedisPool`](crate::RedisPool#what-comes-back-to-the-pool): an open
/// transaction or `WATCH` and pipeline mode are undone; a client that is
/// still dirty (a `SELECT`, pub/sub, or shared with a clone) is reported
/// broken, so bb8 drops it instead of lending it again. A client whose
/// connection merely failed is not broken: it reconnects on its next command
/// (bb8's check on checkout, a `PING`, does that).
///
/// ```no_run
/// # extern crate siderpy_core as siderpy;
/// # async fn f() -> siderpy::Result<()> {
/// use siderpy::prelude::*;
/// let manager = siderpy::bb8::RedisConnectionManager::new("redis://localhost:6379/0")?;
/// let pool = siderpy::bb8::Pool::builder().max_size(8).build(manager).await?;
/// let redis = pool.get().await.expect("a client");
/// redis.set("key", "value").await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct RedisConnectionManager {
    client: RedisBuilder,
}

/// A bb8 pool of [`Redis`] clients.
pub type Pool = ::bb8::Pool<RedisConnectionManager>;

/// A client lent by a bb8 [`Pool`]; derefs to [`Redis`].
pub type Connection<'a> = ::bb8::PooledConnection<'a, RedisConnectionManager>;

/// What [`Pool::get`](::bb8::Pool::get) fails with (re-exported from the bb8 this crate uses).
pub use ::bb8::RunError;

impl RedisConnectionManager {
    /// A manager for clients of `url` with default settings.
    ///
    /// ```
    /// # extern crate siderpy_core as siderpy;
    /// let manager = siderpy::bb8::RedisConnectionManager::new("redis://localhost:6379/0").unwrap();
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
/// use std::time::Duration;
/// let settings = siderpy::Redis::builder("redis://localhost").unwrap().read_timeout(Some(Duration::from_secs(1)));
/// let manager = siderpy::bb8::RedisConnectionManager::from(settings);
/// ```
impl From<RedisBuilder> for RedisConnectionManager {
    fn from(client: RedisBuilder) -> Self {
        RedisConnectionManager { client }
    }
}

impl ::bb8::ManageConnection for RedisConnectionManager {
    type Connection = Redis;
    type Error = Error;

    async fn connect(&self) -> Result<Redis> {
        let redis = self.client.clone().build();
        super::ping(&redis).await?;
        Ok(redis)
    }

    async fn is_valid(&self, redis: &mut Redis) -> Result<()> {
        super::ping(redis).await
    }

    fn has_broken(&self, redis: &mut Redis) -> bool {
        !super::reusable(redis)
    }
}
