//! # siderpy
//!
//! An async Redis client whose typed command API is generated at compile
//! time from Redis's own command specification (`commands.json`).
//!
//! ```no_run
//! # async fn f() -> siderpy::Result<()> {
//! use siderpy::prelude::*;
//!
//! let redis = siderpy::Redis::new("redis://localhost:6379/0")?;
//! redis.set("greeting", "hello").await?;
//! let greeting = redis.get("greeting").await?; // Option<Bytes>
//! # Ok(()) }
//! ```
//!
//! This crate re-exports [`siderpy-core`](siderpy_core), the runtime; the
//! two are one library split for build hygiene (the proc-macro crate cannot
//! depend on the runtime it generates code for).

#![forbid(unsafe_code)]

pub use siderpy_core::*;
