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
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `tls-ring` | yes | `rediss://` with rustls and its ring crypto provider |
//! | `tls-aws-lc-rs` | | `rediss://` with rustls and aws-lc-rs (chosen over ring when both are on) |
//! | `tls` | | `rediss://` with the crypto provider the application installs as rustls's process default |
//! | `tracing` | yes | connects, reconnects, redirections and failures as [`tracing`](https://docs.rs/tracing) events |
//! | `bb8`, `deadpool` | | managers so that clients can live in those pools |
//!
//! siderpy always hands rustls its provider explicitly
//! ([`crypto_provider`]), so a second provider compiled in by another crate
//! never makes a connection panic. Without any TLS feature, a `rediss://`
//! connection fails with a [`Usage`](Error::Usage) error naming the feature.
//! To build your own [`rustls::ClientConfig`] (a private CA, client
//! certificates) use the re-exported [`rustls`] with
//! `ClientConfig::builder_with_provider(siderpy::crypto_provider()?)`.

#![forbid(unsafe_code)]
// docs.rs labels what a feature adds.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use siderpy_core::*;
