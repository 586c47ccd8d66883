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
mod command;
mod commands;
mod connection;
mod convert;
mod error;
mod future;
mod info;
mod pipeline;
mod pubsub;
pub mod resp;
mod value;

pub use args::{Args, CmdArgs, ToArg};
pub use client::{Redis, RedisBuilder};
pub use command::{Cmd, CommandInfo, Executor, Kind, Raw, StatefulExecutor};
pub use commands::{command_info, kind, Commands, ConnectionCommands};
pub use connection::transport::default_tls_config;
pub use convert::{convert, type_error, FromValue, TextPolicy};
pub use error::{Error, Result, ServerError, Timeout, TypeError, UrlError};
pub use future::ReplyFuture;
pub use info::{parse_url, Addr, ConnectionInfo, Password, Protocol, DEFAULT_URL};
pub use pipeline::{Pipeline, PipelineMode};
pub use pubsub::{Message, MessageKind, PubSubQueue};
pub use value::Value;

/// The traits that give executors their command methods: `use siderpy::prelude::*;`.
pub mod prelude {
    pub use crate::{Commands, ConnectionCommands};
}

/// What generated code reaches the runtime through. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::args::{Args, CmdArgs, ToArg};
    pub use crate::command::{Cmd, CommandInfo, Executor, Kind, Raw, StatefulExecutor};
    pub use crate::value::Value;
    pub use bytes::Bytes;

    /// The body of every executor's `execute_cmd`.
    pub fn execute_cmd<S, A: Args>(sink: S, name: &str, args: A) -> Cmd<S, Raw, Value> {
        let mut cmd_args = CmdArgs::with_name(name);
        args.push_to(&mut cmd_args);
        Cmd::from_parts(sink, cmd_args, crate::commands::command_info(name))
    }
}
