//! The one error type of the crate.
//!
//! Server error replies ([`Error::Redis`]) are kept apart from failures of the
//! connection (I/O, TLS, protocol, timeouts): after the first the connection
//! is still usable, after the others it has been closed and the next command
//! opens a new one.

use std::fmt;
use std::io;
use std::sync::Arc;

use bytes::Bytes;

use crate::value::Value;

/// Shorthand for `Result<T, siderpy::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong talking to Redis.
///
/// `Error` is `Clone` (I/O and TLS causes are shared behind an `Arc`) because
/// one connection failure is reported to every command that was in flight on
/// that connection.
///
/// # Nothing the server sent is lost
///
/// A reply that does not convert to the type asked for is an
/// [`Error::Type`] that keeps the whole reply: [`Error::reply`] borrows it,
/// [`Error::into_reply`] takes it. A command with side effects (`RPOP l 2`
/// read as one element, say) has already run; its reply is still yours:
///
/// ```no_run
/// # extern crate siderpy_core as siderpy;
/// # async fn f(redis: &siderpy::Redis) -> siderpy::Result<()> {
/// use siderpy::prelude::*;
/// match redis.rpop("l").returning::<i64>().await {
///     Ok(n) => println!("{n}"),
///     Err(e) if e.reply().is_some() => println!("popped, but not an integer: {:?}", e.reply()),
///     Err(e) => return Err(e),
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Error {
    /// The server answered the command with an error reply (`-ERR ...`).
    /// The connection is still usable.
    Redis(ServerError),
    /// A transaction was discarded (`EXECABORT`) because the server refused
    /// one of its commands when queueing it; nothing ran.
    Transaction {
        /// Which command (0-based, not counting `MULTI`) was refused.
        index: usize,
        /// Why the server refused it.
        error: ServerError,
    },
    /// A transaction did not run because a key it `WATCH`ed changed
    /// (`EXEC` replied nil).
    WatchConflict,
    /// The command was queued in the `MULTI` open on this handle: it runs
    /// at `EXEC`, whose reply carries its result at `index`. Not a failure:
    /// sending the command again would queue it twice.
    Queued {
        /// Its place among the transaction's commands (0-based, not
        /// counting `MULTI`): where `EXEC`'s reply has its result.
        index: usize,
    },
    /// The pub/sub message queue was closed: the last channel was
    /// unsubscribed, the connection was closed, or it failed (`cause`).
    QueueClosed {
        /// The connection failure that closed the queue, if any.
        cause: Option<Box<Error>>,
    },
    /// Reading from or writing to the socket failed, or the server closed it.
    Io(Arc<io::Error>),
    /// A timeout set on the client (or on the call) expired.
    Timeout(Timeout),
    /// The TLS handshake failed (for example, the certificate was not trusted).
    Tls(Arc<io::Error>),
    /// The server sent bytes that are not valid RESP; the connection was closed.
    Protocol(String),
    /// The connection URL (or a setting) is invalid.
    Url(UrlError),
    /// A reply could not be converted to the requested Rust type; the
    /// reply is kept ([`TypeError::reply`], [`Error::into_reply`]).
    Type(TypeError),
    /// The client, pool or connection was closed by the user.
    Closed(&'static str),
    /// A command was used where it cannot work (for example a pipeline while
    /// the connection is in pub/sub mode).
    Usage(String),
    /// A cluster command (or transaction) names keys in different hash
    /// slots, which no node can serve together; found before sending.
    /// Put the keys under one `{hash tag}`, or see
    /// [`RedisClusterBuilder::split_multi_key_commands`](crate::cluster::RedisClusterBuilder::split_multi_key_commands).
    CrossSlot {
        /// The command (or `"MULTI"` for a transaction).
        command: String,
        /// Two of the slots its keys hash to.
        slots: (u16, u16),
    },
    /// The cluster could not serve the command: no node is known for its
    /// slot, or the cluster kept redirecting it past the bound.
    Cluster(String),
    /// Sentinel could not give a usable server: no sentinel answered (each
    /// is named, with why), none knows the master's name, the address given
    /// is not in the role asked for (`ROLE`), or the master changed while
    /// the command was in flight on the old one. A command that fails so is
    /// never re-sent by the client: it may have run.
    Sentinel(String),
    /// The server is down, as far as the client knows: connecting failed
    /// just now, and the client waits before it tries again (see
    /// [`RedisBuilder::reconnect`](crate::RedisBuilder::reconnect)) rather
    /// than have every call try on its own. Nothing was sent.
    Unavailable {
        /// Why the last attempt to connect failed.
        cause: Box<Error>,
        /// When the next attempt may start, from now; `None` once the
        /// client gave up (a [`close`](crate::Redis::close) starts over).
        retry_in: Option<std::time::Duration>,
    },
    /// The command was not queued: the connection already holds
    /// [`Limits::max_queued_bytes`](crate::resp::Limits::max_queued_bytes)
    /// of commands the server has not read. Nothing was sent; the
    /// connection stays open. Retry later, or raise the limit.
    OutputFull {
        /// Bytes queued and not yet written.
        queued: usize,
        /// The limit.
        limit: usize,
    },
    /// The server's answer to a handshake command (`HELLO`, `AUTH`,
    /// `SELECT`...) does not have that command's shape: it is not the Redis
    /// it claims to be, or not in step with the client. The connection was
    /// closed.
    Handshake {
        /// The command.
        command: String,
        /// What the server answered, quoted (and shortened).
        reply: String,
    },
}

impl Error {
    /// The server error reply, if this is one.
    pub fn as_server_error(&self) -> Option<&ServerError> {
        match self {
            Error::Redis(e) | Error::Transaction { error: e, .. } => Some(e),
            _ => None,
        }
    }

    /// The error code of a server error reply (`WRONGTYPE`, `NOAUTH`,
    /// `MOVED`...), including the refused command of a discarded transaction.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Redis(e) | Error::Transaction { error: e, .. } => Some(e.code()),
            _ => None,
        }
    }

    /// True for errors after which the connection that produced them was closed
    /// (I/O, TLS, protocol, write timeouts): a retry will use a new connection.
    pub fn is_connection_error(&self) -> bool {
        matches!(
            self,
            Error::Io(_)
                | Error::Tls(_)
                | Error::Protocol(_)
                | Error::Unavailable { .. }
                | Error::Handshake { .. }
                | Error::Sentinel(_)
                | Error::Timeout(Timeout::Connect | Timeout::Write | Timeout::Unresponsive)
        )
    }

    /// The server's reply that could not be converted to the type asked
    /// for, if this is such an error ([`Error::Type`]).
    pub fn reply(&self) -> Option<&Value> {
        match self {
            Error::Type(t) => t.reply.as_deref(),
            _ => None,
        }
    }

    /// [`reply`](Self::reply), taken out of the error.
    pub fn into_reply(self) -> Option<Value> {
        match self {
            Error::Type(t) => t.reply.map(|r| *r),
            _ => None,
        }
    }

    /// True for any timeout, a TCP connect that timed out included (an
    /// [`Error::Io`] of kind `TimedOut`, naming the addresses tried).
    pub fn is_timeout(&self) -> bool {
        match self {
            Error::Timeout(_) => true,
            Error::Io(e) => e.kind() == io::ErrorKind::TimedOut,
            _ => false,
        }
    }

    pub(crate) fn io(e: io::Error) -> Self {
        Error::Io(Arc::new(e))
    }

    pub(crate) fn protocol(msg: impl Into<String>) -> Self {
        Error::Protocol(msg.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Redis(e) => write!(f, "server error: {e}"),
            Error::Transaction { index, error } => {
                write!(f, "transaction discarded: command {index} was refused when queued: {error}")
            }
            Error::WatchConflict => f.write_str("transaction not run: a watched key changed (retry it)"),
            Error::Queued { index } => write!(
                f,
                "queued in the open MULTI as command {index}: its result comes with EXEC (do not send it again)"
            ),
            Error::QueueClosed { cause: None } => f.write_str("pub/sub queue is closed"),
            Error::QueueClosed { cause: Some(c) } => write!(f, "pub/sub queue is closed: {c}"),
            Error::Io(e) => write!(f, "I/O error: {e}"),
            Error::Timeout(t) => write!(f, "{t}"),
            Error::Tls(e) => write!(f, "TLS error: {e}"),
            Error::Protocol(m) => write!(f, "protocol error: {m} (the connection was closed)"),
            Error::Url(e) => write!(f, "invalid connection URL: {e}"),
            Error::Type(e) => write!(f, "{e}"),
            Error::Closed(what) => write!(f, "{what} was closed"),
            Error::Usage(m) => f.write_str(m),
            Error::CrossSlot { command, slots: (a, b) } => write!(
                f,
                "CROSSSLOT: the keys of {command} hash to different slots ({a} and {b}); \
                 a cluster serves only keys of one slot together (use a {{hash tag}})"
            ),
            Error::Cluster(m) => write!(f, "cluster error: {m}"),
            Error::Sentinel(m) => write!(f, "sentinel: {m}"),
            Error::Unavailable { cause, retry_in: Some(d) } => write!(
                f,
                "server unavailable: connecting failed ({cause}); the next attempt is in {} ms",
                d.as_millis()
            ),
            Error::Unavailable { cause, retry_in: None } => write!(
                f,
                "server unavailable: connecting failed ({cause}) and the client gave up; close() it to try again"
            ),
            Error::OutputFull { queued, limit } => write!(
                f,
                "command not sent: {queued} bytes are already queued for a server that is not reading them \
                 (limit {limit}, see Limits::max_queued_bytes)"
            ),
            Error::Handshake { command, reply } => {
                write!(f, "connect failed: the server answered {command} with {reply} (the connection was closed)")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) | Error::Tls(e) => Some(&**e),
            Error::QueueClosed { cause: Some(c) } | Error::Unavailable { cause: c, .. } => Some(&**c),
            Error::Url(e) => Some(e),
            Error::Type(e) => Some(e),
            Error::Redis(e) | Error::Transaction { error: e, .. } => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::io(e)
    }
}

impl From<UrlError> for Error {
    fn from(e: UrlError) -> Self {
        Error::Url(e)
    }
}

impl From<TypeError> for Error {
    fn from(e: TypeError) -> Self {
        Error::Type(e)
    }
}

impl From<ServerError> for Error {
    fn from(e: ServerError) -> Self {
        Error::Redis(e)
    }
}

/// An error reply from the server: `-WRONGTYPE Operation against a key ...`.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerError {
    /// The whole reply line, without the leading `-` (or `!` blob error).
    text: Bytes,
}

impl ServerError {
    pub(crate) fn new(text: Bytes) -> Self {
        ServerError { text }
    }

    /// The error code: the first word when it is in upper case (`ERR`,
    /// `WRONGTYPE`, `NOAUTH`, `WRONGPASS`, `MOVED`, `EXECABORT`...), else `""`.
    pub fn code(&self) -> &str {
        let text = self.as_str();
        let word = text.split(' ').next().unwrap_or("");
        if !word.is_empty() && word.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_') {
            word
        } else {
            ""
        }
    }

    /// The message after the code (the whole text when there is no code).
    pub fn message(&self) -> &str {
        let code = self.code();
        self.as_str()[code.len()..].trim_start()
    }

    /// The whole error text as sent by the server (lossily decoded).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.text).unwrap_or("<non-UTF-8 error text>")
    }
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.text))
    }
}

impl fmt::Debug for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerError").field("code", &self.code()).field("message", &self.message()).finish()
    }
}

impl std::error::Error for ServerError {}

/// Which timeout expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Timeout {
    /// `connect_timeout`: opening the socket, the TLS handshake and the
    /// handshake commands (HELLO, AUTH, SELECT, CLIENT SETNAME) took too long.
    Connect,
    /// `read_timeout` (or a per-call timeout): no reply arrived in time.
    Read,
    /// `write_timeout`: the socket did not accept the command bytes in time.
    Write,
    /// Waiting for a free connection in a pool took too long.
    Pool,
    /// The server stopped answering: a heartbeat `PING` got no reply in
    /// time, or a read timeout passed with nothing at all read on the
    /// connection. It was closed as dead; the next command reconnects.
    Unresponsive,
}

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Timeout::Connect => "connect timeout: the server did not accept the connection and handshake in time",
            Timeout::Read => "read timeout: no reply arrived in time",
            Timeout::Write => "write timeout: the socket did not accept the command in time",
            Timeout::Pool => "pool timeout: no connection became free in time",
            Timeout::Unresponsive => {
                "the server stopped answering (nothing read for a whole timeout): the connection was closed"
            }
        })
    }
}

/// A connection URL that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlError {
    /// The text is not a URL at all (an invalid host or IPv6 address).
    Malformed(String),
    /// No `scheme://` in front.
    MissingScheme,
    /// A scheme other than redis, rediss, redis+unix, redis-socket, unix.
    UnsupportedScheme(String),
    /// A TCP URL without a host name.
    MissingHost,
    /// A unix-socket URL without a socket path.
    MissingSocketPath,
    /// The port is not a number from 1 to 65535.
    InvalidPort(String),
    /// The database is not a non-negative integer.
    InvalidDb(String),
    /// `protocol=` is not `2`, `3`, `resp2` or `resp3`.
    InvalidProtocol(String),
    /// A query parameter this client does not know.
    UnknownParameter(String),
    /// The user name or password is not valid percent-encoded UTF-8.
    InvalidCredentials,
    /// A `redis+sentinel://` URL without what it needs (a sentinel host,
    /// the master's name), or with a bad sentinel address.
    Sentinel(String),
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlError::Malformed(why) => write!(f, "not a URL ({why})"),
            UrlError::MissingScheme => f.write_str("scheme is required, e.g. redis://localhost:6379/0"),
            UrlError::UnsupportedScheme(s) => write!(
                f,
                "scheme {s:?} is not supported; use redis://, rediss://, redis+unix://, redis-socket:// or unix://"
            ),
            UrlError::MissingHost => f.write_str("hostname is required, e.g. redis://localhost:6379"),
            UrlError::MissingSocketPath => {
                f.write_str("unix socket path is required, e.g. redis+unix:///run/redis.sock")
            }
            UrlError::InvalidPort(p) => write!(f, "port {p:?} is not a number from 1 to 65535"),
            UrlError::InvalidDb(d) => write!(f, "db {d:?} must be a non-negative integer"),
            UrlError::InvalidProtocol(p) => write!(f, "protocol {p:?} must be 2, 3, resp2 or resp3"),
            UrlError::UnknownParameter(p) => {
                write!(f, "unknown query parameter {p:?}; known: db, password, protocol, client_name")
            }
            UrlError::InvalidCredentials => f.write_str("user name or password is not valid percent-encoded UTF-8"),
            UrlError::Sentinel(why) => write!(
                f,
                "{why}; a Sentinel URL is redis+sentinel://[user:password@]host1[:port1],host2[:port2]/master-name[/db]"
            ),
        }
    }
}

impl std::error::Error for UrlError {}

/// A reply that does not fit the Rust type asked for.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TypeError {
    /// The command whose reply it was, when known.
    pub command: Option<String>,
    /// The Rust type (or shape) that was expected.
    pub expected: String,
    /// A short description of what was received.
    pub received: String,
    /// The whole reply, as the server sent it, when the error comes from
    /// converting a command's reply (the executors always attach it): the
    /// command ran, and what it returned is not lost.
    pub reply: Option<Box<Value>>,
}

impl TypeError {
    /// A type error with no command attached yet (the executor adds it).
    pub fn new(expected: impl Into<String>, received: impl Into<String>) -> Self {
        TypeError { command: None, expected: expected.into(), received: received.into(), reply: None }
    }

    /// This error with `reply` attached, unless one already is.
    pub(crate) fn with_reply(mut self, reply: Value) -> Self {
        if self.reply.is_none() {
            self.reply = Some(Box::new(reply));
        }
        self
    }

    pub(crate) fn with_command(mut self, command: &str) -> Self {
        if self.command.is_none() {
            self.command = Some(command.to_owned());
        }
        self
    }
}

impl fmt::Display for TypeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.command {
            Some(c) => {
                write!(f, "reply of {c} could not be converted: expected {}, received {}", self.expected, self.received)
            }
            None => write!(f, "reply could not be converted: expected {}, received {}", self.expected, self.received),
        }
    }
}

impl std::error::Error for TypeError {}
