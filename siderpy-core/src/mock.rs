//! [`MockRedis`]: an executor without a server, for unit tests of code that
//! uses the typed API (the `mock` feature).
//!
//! It records every command it is sent and answers each with the next reply
//! scripted for it, converted to the method's reply type exactly as a real
//! reply would be. Write the code under test against `E: Executor` (or take a
//! `&MockRedis` in tests and a `&Redis` in production through a trait of your
//! own) and check what it sent with [`MockRedis::commands`].

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use bytes::Bytes;

use crate::command::{Cmd, Executor, StatefulExecutor};
use crate::convert::{convert, FromValue, TextPolicy};
use crate::error::{Error, Result, ServerError};
use crate::value::Value;

/// A stand-in for [`Redis`](crate::Redis) that answers from a script.
///
/// Cheap to clone; clones share the script and the record.
///
/// # Examples
/// ```
/// # extern crate siderpy_core as siderpy;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> siderpy::Result<()> {
/// use siderpy::mock::MockRedis;
/// use siderpy::prelude::*;
/// use siderpy::Value;
///
/// let redis = MockRedis::new();
/// redis.expect(["GET", "greeting"], Value::Bulk("hello".into()));
/// redis.reply(Value::Int(1));
///
/// assert_eq!(redis.get("greeting").await?.as_deref(), Some(&b"hello"[..]));
/// assert_eq!(redis.incr("visits").await?, 1);
/// assert_eq!(redis.commands(), [vec!["GET", "greeting"], vec!["INCR", "visits"]]);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct MockRedis {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    script: VecDeque<Scripted>,
    sent: Vec<Vec<Bytes>>,
}

#[derive(Debug)]
struct Scripted {
    /// The exact command this reply is for, or `None` for whatever comes next.
    expected: Option<Vec<Bytes>>,
    reply: Value,
}

impl MockRedis {
    /// A mock with nothing scripted: every command fails until replies are added.
    pub fn new() -> MockRedis {
        MockRedis::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds `reply` as the answer to the next command, whatever it is.
    pub fn reply(&self, reply: Value) -> &Self {
        self.lock().script.push_back(Scripted { expected: None, reply });
        self
    }

    /// Adds a server error (`"WRONGTYPE Operation against a key..."`) as the
    /// answer to the next command.
    pub fn error(&self, text: &str) -> &Self {
        self.reply(Value::Error(ServerError::new(Bytes::copy_from_slice(text.as_bytes()))))
    }

    /// Adds `reply` as the answer to the next command, which must be exactly
    /// `command` (its words, name first, as sent); any other command fails
    /// with [`Error::Usage`] saying what was expected.
    pub fn expect<I>(&self, command: I, reply: Value) -> &Self
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let expected = command.into_iter().map(|w| Bytes::copy_from_slice(w.as_ref())).collect();
        self.lock().script.push_back(Scripted { expected: Some(expected), reply });
        self
    }

    /// Every command sent so far, each as its words (name first), as text
    /// (invalid UTF-8 replaced).
    pub fn commands(&self) -> Vec<Vec<String>> {
        let state = self.lock();
        state.sent.iter().map(|c| c.iter().map(|w| String::from_utf8_lossy(w).into_owned()).collect()).collect()
    }

    /// How many scripted replies are still unused: `0` at the end of a test
    /// that sent every command it was expected to.
    pub fn pending(&self) -> usize {
        self.lock().script.len()
    }

    /// Records `words` and takes the reply scripted for them.
    fn answer(&self, words: Vec<Bytes>) -> Result<Value> {
        let mut state = self.lock();
        let shown = show(&words);
        state.sent.push(words);
        let Some(next) = state.script.pop_front() else {
            return Err(Error::Usage(format!("mock: no reply scripted for `{shown}`")));
        };
        if let Some(expected) = &next.expected {
            if expected != state.sent.last().expect("just pushed") {
                let expected = show(expected);
                // Put it back: the command it is for may still come.
                state.script.push_front(next);
                return Err(Error::Usage(format!("mock: expected `{expected}`, got `{shown}`")));
            }
        }
        match next.reply {
            Value::Error(e) => Err(Error::Redis(e)),
            v => Ok(v),
        }
    }
}

fn show(words: &[Bytes]) -> String {
    words.iter().map(|w| String::from_utf8_lossy(w)).collect::<Vec<_>>().join(" ")
}

impl<'a> Executor for &'a MockRedis {
    type Sink = &'a MockRedis;
    fn __sink(self) -> &'a MockRedis {
        self
    }
}

/// A mock plays any command, MULTI and SELECT included.
impl StatefulExecutor for &MockRedis {}

impl<'a> crate::command::Sink for &'a MockRedis {
    type Running<R> = crate::command::Boxed<'a, R>;
}

impl<'a, K: ?Sized, R: FromValue + Send + 'a> Future for Cmd<&'a MockRedis, K, R> {
    type Output = Result<R>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<R>> {
        self.get_mut().poll_boxed(cx, |mock, args, _| {
            Box::pin(async move {
                // Recorded when first polled, as a real command is sent then.
                let reply = mock.answer(args.words().into_iter().map(Bytes::copy_from_slice).collect());
                convert::<R>(reply?, TextPolicy::Strict).map_err(|e| match e {
                    Error::Type(t) => Error::Type(t.with_command(&args.name())),
                    e => e,
                })
            })
        })
    }
}
