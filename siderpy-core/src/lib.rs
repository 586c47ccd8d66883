//! The runtime of [siderpy](https://docs.rs/siderpy): the RESP codec, the
//! shared connection, the executors (client, pipeline, pool), errors and
//! reply conversions, plus the typed command API generated from
//! `commands.json` by `siderpy-macros`.
//!
//! Depend on the `siderpy` crate, which re-exports everything here.

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]
// docs.rs labels what a feature adds.
#![cfg_attr(docsrs, feature(doc_cfg))]
// Without the `tracing` feature its events compile to nothing, and what
// only they read (a connection's id, an error being logged) is unused.
#![cfg_attr(not(feature = "tracing"), allow(unused_variables, unused_assignments, dead_code))]

mod args;
mod cache;
mod client;
pub mod cluster;
mod command;
mod commands;
mod connection;
mod convert;
mod error;
mod future;
mod info;
#[cfg(feature = "serde")]
mod json;
mod keys;
#[cfg(feature = "mock")]
pub mod mock;
mod monitor;
mod observe;
mod pipeline;
mod pool;
mod pubsub;
pub mod resp;
mod scan;
mod script;
pub mod sentinel;
#[cfg(feature = "tls")]
mod tls;
mod trace;
/// Without TLS compiled in, a client has no TLS settings.
#[cfg(not(feature = "tls"))]
mod tls {
    #[derive(Debug, Clone)]
    pub(crate) enum TlsConfig {}
}
mod value;

pub use args::{Arg, Args, CmdArgs, DoubleArg, Exclusive, Multiple, One, Several, ToArg, ToArgs, Tuples};
pub use cache::{CacheConfig, CacheMode, CacheStats, DEFAULT_CACHE_BYTES, DEFAULT_CACHE_ENTRIES};
pub use client::{
    Redis, RedisBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TCP_KEEPALIVE, DEFAULT_TCP_USER_TIMEOUT,
    DEFAULT_UNRESPONSIVE_AFTER,
};
pub use command::{Cmd, CommandInfo, Effect, Executor, Kind, Raw, StatefulExecutor};
#[doc(hidden)]
pub use commands::__GENERATED_METHODS;
pub use commands::{command_info, kind, types, Commands, ConnectionCommands};
pub use connection::reconnect::Backoff;
pub use connection::transport::Resolve;
pub use convert::{convert, type_error, FromValue, TextPolicy};
pub use error::{Error, Result, ServerError, Timeout, TypeError, UrlError};
pub use info::{parse_url, Addr, ConnectionInfo, Password, Protocol, DEFAULT_URL};
#[cfg(feature = "serde")]
pub use json::Json;
pub use keys::{BeginSearch, FindKeys, KeySpec, RequestPolicy, ResponsePolicy};
pub use monitor::{Monitor, MonitorLine};
pub use observe::{CommandEvent, CommandObserver, Outcome};
pub use pipeline::{Pipeline, PipelineMode};
#[cfg(feature = "bb8")]
pub use pool::bb8;
#[cfg(feature = "deadpool")]
pub use pool::deadpool;
pub use pool::{
    ConnectionPool, DefaultPool, PoolSettings, PoolStatus, PooledRedis, RedisPool, RedisPoolBuilder, DEFAULT_POOL_SIZE,
};
pub use pubsub::{Message, MessageKind, PubSubQueue, INVALIDATE_CHANNEL, RESUBSCRIBE_ATTEMPTS};
pub use scan::ScanIter;
pub use script::{Call, Function, FunctionCall, Library, Script, ScriptCall};
/// Derives [`FromValue`](trait@FromValue) and [`ToArgs`](trait@ToArgs).
pub use siderpy_macros::{FromValue, ToArgs};
#[cfg(feature = "tls")]
pub use tls::{crypto_provider, default_tls_config};
pub use value::Value;

/// The byte string type of replies and arguments (`Option<Bytes>` is what
/// `GET` returns by default).
pub use bytes::Bytes;
/// The trait of [`PubSubQueue`] and `Redis` as streams of messages. Without
/// a futures crate, [`PubSubQueue::recv`] reads them one by one.
pub use futures_core::Stream;
/// The TLS library, to build a [`RedisBuilder::tls`] configuration with the
/// same version siderpy uses.
#[cfg(feature = "tls")]
pub use rustls;

/// The traits that give executors their command methods: `use siderpy::prelude::*;`.
pub mod prelude {
    pub use crate::{Commands, ConnectionCommands};
}

/// Generates a typed trait from a command spec in your own crate: a newer
/// Redis or Valkey, or a module (RedisJSON, RedisBloom...), without waiting
/// for a siderpy release.
///
/// ```ignore
/// siderpy::commands! {
///     /// RedisJSON's commands.
///     pub trait JsonCommands = "specs/json.json";
/// }
/// // With a reply table of your own (the format of siderpy-macros' `replies.json`):
/// siderpy::commands!(pub trait BloomCommands = "specs/bloom.json", replies = "specs/bloom.replies.json");
///
/// use json_commands::prelude::*; // the trait and every command's setters
/// # async fn f(redis: siderpy::Redis) -> siderpy::Result<()> {
/// redis.json_set("doc", "$", r#"{"a":1}"#).nx().await?;
/// # Ok(()) }
/// ```
///
/// The path is relative to your crate's `Cargo.toml`; the spec is in the
/// format Redis publishes (`commands.json`), which modules publish at the
/// root of their repositories and `siderpy-gen` writes from a live server
/// (merging a module's published spec with what the server reports:
/// `siderpy-gen --merge module.json`). Editing the file rebuilds your crate.
///
/// It expands to a module named after the trait (`json_commands`) holding:
/// the trait, with one method per command named and typed as in
/// [`Commands`] and implemented for every [`Executor`] (`&Redis`,
/// `&mut Pipeline`, `&RedisPool`, `&RedisCluster`); a `...Connection`
/// trait for commands that change connection state, if the spec has any;
/// one setter trait per command with optional arguments (`JsonSetArgs`,
/// all in `prelude`); the argument enums in `types`; the markers in `kind`;
/// and `command_info`. The trait is re-exported beside the module.
///
/// Replies default to siderpy's table for Redis's own commands, then the
/// given table, then the spec's `reply_schema`, else [`Value`]; any call
/// can ask for another type with [`returning`](Cmd::returning).
///
/// A cluster routes each command by the spec's `key_specs`; where a spec
/// has none (module specs), by its `key` arguments at fixed positions
/// (`JSON.GET key`, `JSON.MGET key [key ...] path`, `JSON.MSET key path
/// value [...]`, keys after a `numkeys`).
///
/// Importing both this trait and [`Commands`] works when their method
/// names differ (modules); for a whole newer Redis spec, import only the
/// generated one.
#[macro_export]
macro_rules! commands {
    ($($input:tt)*) => {
        $crate::__private::user_commands! { $crate; $($input)* }
    };
}

/// What generated code reaches the runtime through. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::args::{Arg, Args, CmdArgs, DoubleArg, Multiple, ToArg, ToArgs, Tuples};
    pub use crate::command::{lookup_command, Cmd, CommandInfo, Effect, Executor, Kind, Raw, Sink, StatefulExecutor};
    pub use crate::convert::{field_values, missing_field, text_of, type_error, FromValue};
    pub use crate::error::Error;
    pub use crate::keys::{BeginSearch, FindKeys, KeySpec, RequestPolicy, ResponsePolicy};
    pub use crate::value::Value;
    pub use bytes::{Bytes, BytesMut};
    pub use siderpy_macros::user_commands;

    /// Writes a generated argument enum; returns how many bulk strings.
    pub trait WriteArgs {
        /// Appends the arguments to `buf`.
        fn write_args(self, buf: &mut BytesMut) -> u32;
    }

    /// Writes a token; returns 1.
    pub fn write_token(buf: &mut BytesMut, token: &str) -> u32 {
        crate::resp::write_bulk(buf, token.as_bytes());
        1
    }

    /// Writes one argument; returns 1.
    pub fn write_arg(buf: &mut BytesMut, value: impl ToArg) -> u32 {
        value.write_arg(buf);
        1
    }

    /// Writes how many items `write` writes (its arguments over
    /// `per_item`), then those arguments (a `numkeys` and its keys, a
    /// `numfields` and its field-value pairs); returns how many bulk
    /// strings in all.
    pub fn write_counted(buf: &mut BytesMut, per_item: u32, write: impl FnOnce(&mut BytesMut) -> u32) -> u32 {
        let start = buf.len();
        let n = write(buf);
        let written = buf.len();
        // A list of `field value` pairs (HSETEX) counts pairs, not words.
        crate::resp::write_bulk(buf, itoa::Buffer::new().format(n / per_item.max(1)).as_bytes());
        // The count goes first: moved in place before what it counts.
        let count = buf.len() - written;
        buf[start..].rotate_right(count);
        n + 1
    }

    /// Writes raw arguments; returns how many bulk strings.
    pub fn write_args(buf: &mut BytesMut, args: impl Args) -> u32 {
        let mut tmp = CmdArgs::default();
        args.push_to(&mut tmp);
        tmp.write_body(buf)
    }

    /// The body of every executor's `execute_cmd`.
    pub fn execute_cmd<S: Sink, A: Args>(sink: S, name: &str, args: A) -> Cmd<S, Raw, Value> {
        let mut cmd_args = CmdArgs::with_name(name);
        args.push_to(&mut cmd_args);
        let mut info = crate::commands::command_info(name);
        // `("CLIENT", ("REPLY", "OFF"))` is `CLIENT REPLY`, with its effect:
        // only a container (one word, no keys) can be followed by its
        // subcommand.
        if info.is_some_and(|i| i.words == 1 && i.keys.is_empty()) && cmd_args.len() > 1 {
            info = crate::keys::resolve(info, &cmd_args.words());
        }
        Cmd::from_parts(sink, cmd_args, info)
    }
}
