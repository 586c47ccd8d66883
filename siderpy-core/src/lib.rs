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
#![cfg_attr(not(feature = "tracing"), allow(unused_variables, dead_code))]

mod args;
mod client;
pub mod cluster;
mod command;
mod commands;
mod connection;
mod convert;
mod error;
mod future;
mod info;
mod keys;
mod pipeline;
mod pool;
mod pubsub;
pub mod resp;
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

pub use args::{Arg, Args, CmdArgs, DoubleArg, Exclusive, ToArg};
pub use client::{Redis, RedisBuilder};
pub use command::{Cmd, CommandInfo, Executor, Kind, Raw, StatefulExecutor};
#[doc(hidden)]
pub use commands::__GENERATED_METHODS;
pub use commands::{command_info, kind, types, Commands, ConnectionCommands};
pub use convert::{convert, type_error, FromValue, TextPolicy};
pub use error::{Error, Result, ServerError, Timeout, TypeError, UrlError};
pub use future::ReplyFuture;
pub use info::{parse_url, Addr, ConnectionInfo, Password, Protocol, DEFAULT_URL};
pub use keys::{BeginSearch, FindKeys, KeySpec, RequestPolicy, ResponsePolicy};
pub use pipeline::{Pipeline, PipelineMode};
#[cfg(feature = "bb8")]
pub use pool::bb8;
#[cfg(feature = "deadpool")]
pub use pool::deadpool;
pub use pool::{
    ConnectionPool, DefaultPool, PoolSettings, PoolStatus, PooledRedis, RedisPool, RedisPoolBuilder, DEFAULT_POOL_SIZE,
};
pub use pubsub::{Message, MessageKind, PubSubQueue, RESUBSCRIBE_ATTEMPTS};
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

/// What generated code reaches the runtime through. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::args::{Arg, Args, CmdArgs, DoubleArg, ToArg};
    pub use crate::command::{lookup_command, Cmd, CommandInfo, Executor, Kind, Raw, StatefulExecutor};
    pub use crate::keys::{BeginSearch, FindKeys, KeySpec, RequestPolicy, ResponsePolicy};
    pub use crate::value::Value;
    pub use bytes::{Bytes, BytesMut};

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

    /// Writes how many arguments `write` writes, then those arguments (a
    /// `numkeys` and its keys); returns how many bulk strings in all.
    pub fn write_counted(buf: &mut BytesMut, write: impl FnOnce(&mut BytesMut) -> u32) -> u32 {
        let start = buf.len();
        let n = write(buf);
        let written = buf.len();
        crate::resp::write_bulk(buf, itoa::Buffer::new().format(n).as_bytes());
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
    pub fn execute_cmd<S, A: Args>(sink: S, name: &str, args: A) -> Cmd<S, Raw, Value> {
        let mut cmd_args = CmdArgs::with_name(name);
        args.push_to(&mut cmd_args);
        Cmd::from_parts(sink, cmd_args, crate::commands::command_info(name))
    }
}
