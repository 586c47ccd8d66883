//! The runtime of [siderpy](https://docs.rs/siderpy): the RESP codec, the
//! shared connection, the executors (client, pipeline, pool), errors and
//! reply conversions, plus the typed command API generated from
//! `commands.json` by `siderpy-macros`.
//!
//! Depend on the `siderpy` crate, which re-exports everything here.

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]

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
#[cfg(feature = "mock")]
pub mod mock;
mod monitor;
mod pipeline;
mod pool;
mod pubsub;
pub mod resp;
mod scan;
mod script;
mod tls;
mod value;

pub use args::{Arg, Args, CmdArgs, DoubleArg, Exclusive, Multiple, One, Several, ToArg, ToArgs};
pub use client::{
    Redis, RedisBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TCP_KEEPALIVE, DEFAULT_TCP_USER_TIMEOUT,
    DEFAULT_UNRESPONSIVE_AFTER,
};
pub use command::{Cmd, CommandInfo, Effect, Executor, Kind, Raw, StatefulExecutor};
#[doc(hidden)]
pub use commands::__GENERATED_METHODS;
pub use commands::{command_info, kind, types, Commands, ConnectionCommands};
pub use connection::reconnect::Backoff;
pub use connection::transport::{default_tls_config, Resolve};
pub use convert::{convert, type_error, FromValue, TextPolicy};
pub use error::{Error, Result, ServerError, Timeout, TypeError, UrlError};
pub use future::ReplyFuture;
pub use info::{parse_url, Addr, ConnectionInfo, Password, Protocol, DEFAULT_URL};
pub use keys::{BeginSearch, FindKeys, KeySpec, RequestPolicy, ResponsePolicy};
pub use monitor::{Monitor, MonitorLine};
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
pub use script::{FunctionCall, Library, Script, ScriptCall};
/// Derives [`FromValue`](trait@FromValue) and [`ToArgs`](trait@ToArgs).
pub use siderpy_macros::{FromValue, ToArgs};
pub use value::Value;

/// The traits that give executors their command methods: `use siderpy::prelude::*;`.
pub mod prelude {
    pub use crate::{Commands, ConnectionCommands};
}

/// What generated code reaches the runtime through. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::args::{Arg, Args, CmdArgs, DoubleArg, Multiple, ToArg, ToArgs};
    pub use crate::command::{lookup_command, Cmd, CommandInfo, Effect, Executor, Kind, Raw, StatefulExecutor};
    pub use crate::convert::{field_values, missing_field, text_of, type_error, FromValue};
    pub use crate::error::Error;
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
    pub fn execute_cmd<S, A: Args>(sink: S, name: &str, args: A) -> Cmd<S, Raw, Value> {
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
