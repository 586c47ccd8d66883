//! [`Script`] and [`Library`]: server-side code sent by name, and loaded
//! only when the server does not have it.
//!
//! A Lua script is sent as `EVALSHA` with its SHA1 digest, so its text
//! crosses the network once per server rather than once per call; when the
//! server answers `NOSCRIPT` (restarted, `SCRIPT FLUSH`, another node of a
//! cluster), the script is loaded and the call sent again. A function library
//! works the same way with `FCALL` and `FUNCTION LOAD`.
//!
//! Both work with any executor whose commands can be awaited: a [`Redis`],
//! a [`RedisPool`] or a [`RedisCluster`] (where `SCRIPT LOAD` and
//! `FUNCTION LOAD` go to every node, each having its own cache). A pipeline
//! cannot retry one of its commands on its own, so a call queued in one
//! ([`ScriptCall::queue`], [`FunctionCall::queue`]) is recorded with its
//! script or library, and sending the pipeline first makes sure each is
//! loaded where the batch goes (`SCRIPT EXISTS` / `FUNCTION LIST`, then
//! `SCRIPT LOAD` / `FUNCTION LOAD` of the missing ones, outside the batch,
//! so that its replies stay one per queued command).
//!
//! [`Redis`]: crate::Redis
//! [`RedisPool`]: crate::RedisPool
//! [`RedisCluster`]: crate::cluster::RedisCluster

use std::future::IntoFuture;
use std::sync::Arc;

use bytes::BytesMut;

use crate::args::{Arg, CmdArgs, Multiple, ToArg};
use crate::client::Redis;
use crate::command::{Cmd, Executor, Raw};
use crate::connection::Frames;
use crate::convert::FromValue;
use crate::error::{Error, Result};
use crate::pipeline::Pipeline;
use crate::value::Value;

/// A Lua script, invoked by its SHA1 digest (`EVALSHA`) and loaded on
/// demand.
///
/// # Examples
/// ```no_run
/// # extern crate siderpy_core as siderpy;
/// # async fn f(redis: siderpy::Redis) -> siderpy::Result<()> {
/// use siderpy::Script;
/// // Cheap to clone; make it once (a static, a field) and reuse it.
/// let add = Script::new("return redis.call('INCRBY', KEYS[1], ARGV[1])");
/// let total: i64 = add.key("counter").arg(5).invoke(&redis).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Script {
    code: Arc<str>,
    sha1: Arc<str>,
}

impl Script {
    /// A script of `code`; its digest is computed here, no I/O happens.
    pub fn new(code: impl Into<String>) -> Script {
        let code: String = code.into();
        let sha1 = sha1_smol::Sha1::from(code.as_bytes()).digest().to_string();
        Script { code: code.into(), sha1: sha1.into() }
    }

    /// The script's SHA1 digest in hex, as `EVALSHA` and `SCRIPT EXISTS` take it.
    pub fn sha1(&self) -> &str {
        &self.sha1
    }

    /// The script's source.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// A call of the script with `key` as its first key (`KEYS[1]`).
    pub fn key(&self, key: impl ToArg) -> ScriptCall<'_> {
        self.call().key(key)
    }

    /// A call of the script with these keys.
    pub fn keys<M>(&self, keys: impl Multiple<M>) -> ScriptCall<'_> {
        self.call().keys(keys)
    }

    /// A call of the script with `arg` as its first argument (`ARGV[1]`).
    pub fn arg(&self, arg: impl ToArg) -> ScriptCall<'_> {
        self.call().arg(arg)
    }

    /// A call of the script with neither keys nor arguments so far.
    pub fn call(&self) -> ScriptCall<'_> {
        Call::new(self)
    }

    /// Runs the script without keys or arguments; see [`ScriptCall::invoke`].
    ///
    /// # Errors
    /// As [`ScriptCall::invoke`].
    pub async fn invoke<E, T>(&self, executor: E) -> Result<T>
    where
        E: Executor + Copy,
        T: FromValue,
        Cmd<E::Sink, Raw, T>: IntoFuture<Output = Result<T>>,
        Cmd<E::Sink, Raw, Value>: IntoFuture<Output = Result<Value>>,
    {
        self.call().invoke(executor).await
    }

    /// Loads the script now (`SCRIPT LOAD`; on a cluster, into every node).
    /// [`ScriptCall::invoke`] and pipelines load it when the server lacks
    /// it, so this is only to find a syntax error early, or to warm caches.
    ///
    /// # Errors
    /// The server refused the script (a syntax error), or sending failed.
    pub async fn load<E>(&self, executor: E) -> Result<()>
    where
        E: Executor + Copy,
        Cmd<E::Sink, Raw, Value>: IntoFuture<Output = Result<Value>>,
    {
        raw(executor, "SCRIPT LOAD", vec![Arg::new(&*self.code)]).await.map(drop)
    }
}

/// One call of a script or a function: what it runs (a [`Script`], a
/// [`Function`]), with its keys and arguments.
#[derive(Debug, Clone)]
#[must_use = "a call does nothing until it is invoked or queued"]
pub struct Call<T> {
    target: T,
    keys: Vec<Arg>,
    args: Vec<Arg>,
}

/// One call of a [`Script`].
pub type ScriptCall<'a> = Call<&'a Script>;

/// One call of a [`Library`]'s function.
pub type FunctionCall<'a> = Call<Function<'a>>;

/// A function of a [`Library`], by name.
#[derive(Debug, Clone, Copy)]
pub struct Function<'a> {
    library: &'a Library,
    name: &'a str,
}

impl<T> Call<T> {
    fn new(target: T) -> Self {
        Call { target, keys: Vec::new(), args: Vec::new() }
    }

    /// Adds a key (`KEYS[n]`). Keys are what a cluster routes the call by.
    pub fn key(mut self, key: impl ToArg) -> Self {
        self.keys.push(Arg::new(key));
        self
    }

    /// Adds keys.
    pub fn keys<M>(mut self, keys: impl Multiple<M>) -> Self {
        self.keys.extend(keys.into_args().map(Arg::new));
        self
    }

    /// Adds an argument (`ARGV[n]`).
    pub fn arg(mut self, arg: impl ToArg) -> Self {
        self.args.push(Arg::new(arg));
        self
    }

    /// Adds arguments.
    pub fn args<M>(mut self, args: impl Multiple<M>) -> Self {
        self.args.extend(args.into_args().map(Arg::new));
        self
    }

    /// `first numkeys key... arg...`, as `EVALSHA` and `FCALL` take them.
    fn words(&self, first: Arg) -> Vec<Arg> {
        let mut words = Vec::with_capacity(2 + self.keys.len() + self.args.len());
        words.push(first);
        words.push(Arg::new(self.keys.len()));
        words.extend(self.keys.iter().cloned());
        words.extend(self.args.iter().cloned());
        words
    }
}

impl ScriptCall<'_> {
    /// Runs the script with `EVALSHA`; when the server does not have it
    /// (`NOSCRIPT`), loads it and sends the call again. The reply is
    /// converted to `T`.
    ///
    /// # Errors
    /// The script's own errors ([`Error::Redis`]), a failed conversion, or
    /// sending failed.
    pub async fn invoke<E, T>(&self, executor: E) -> Result<T>
    where
        E: Executor + Copy,
        T: FromValue,
        Cmd<E::Sink, Raw, T>: IntoFuture<Output = Result<T>>,
        Cmd<E::Sink, Raw, Value>: IntoFuture<Output = Result<Value>>,
    {
        match self.evalsha(executor).returning::<T>().await {
            Err(e) if e.code() == Some("NOSCRIPT") => {
                self.target.load(executor).await?;
                self.evalsha(executor).returning::<T>().await
            }
            reply => reply,
        }
    }

    /// Queues the call (`EVALSHA`) in a pipeline, or a transaction.
    ///
    /// The script need not be loaded: sending the pipeline first loads each
    /// script queued in it where it is missing (on a cluster, on each node
    /// the batch goes to), in round trips of their own, then sends the
    /// batch. A script the server refuses to load (a syntax error) fails
    /// the whole pipeline, nothing of it sent. A `SCRIPT FLUSH` by someone
    /// else between the two still makes that call's reply `NOSCRIPT`.
    ///
    /// ```no_run
    /// # extern crate siderpy_core as siderpy;
    /// # async fn f(redis: siderpy::Redis) -> siderpy::Result<()> {
    /// use siderpy::prelude::*;
    /// use siderpy::Script;
    /// let add = Script::new("return redis.call('INCRBY', KEYS[1], ARGV[1])");
    /// let mut pipe = redis.pipe();
    /// pipe.set("plain", "value").queue();
    /// add.key("counter").arg(5).queue(&mut pipe);
    /// // One reply per queued command: the loading is not among them.
    /// let (_, total): (bool, i64) = pipe.query().await?;
    /// # Ok(()) }
    /// ```
    pub fn queue(&self, pipe: &mut Pipeline) {
        let cmd = crate::__private::execute_cmd((), "EVALSHA", self.words(Arg::new(self.target.sha1())));
        pipe.push_code(Loadable::Script(self.target.clone()), cmd.args, cmd.opts.info);
    }

    fn evalsha<E: Executor>(&self, executor: E) -> Cmd<E::Sink, Raw, Value> {
        crate::__private::execute_cmd(executor.__sink(), "EVALSHA", self.words(Arg::new(self.target.sha1())))
    }
}

/// A library of functions (`FUNCTION LOAD`), called with `FCALL` and
/// loaded on demand.
///
/// Its name comes from the code's first line (`#!lua name=mylib`).
///
/// # Examples
/// ```no_run
/// # extern crate siderpy_core as siderpy;
/// # async fn f(redis: siderpy::Redis) -> siderpy::Result<()> {
/// use siderpy::Library;
/// let lib = Library::new(
///     "#!lua name=counters\n\
///      redis.register_function('bump', function(keys, args) return redis.call('INCR', keys[1]) end)",
/// )?;
/// let n: i64 = lib.fcall("bump").key("hits").invoke(&redis).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Library {
    code: Arc<str>,
    name: Arc<str>,
}

impl Library {
    /// A library of `code`, whose first line names it (`#!lua name=mylib`).
    ///
    /// # Errors
    /// [`Error::Usage`] when the first line names no library.
    pub fn new(code: impl Into<String>) -> Result<Library> {
        let code: String = code.into();
        let name = code
            .lines()
            .next()
            .filter(|l| l.starts_with("#!"))
            .and_then(|l| l.split_whitespace().find_map(|w| w.strip_prefix("name=")))
            .filter(|n| !n.is_empty())
            .ok_or_else(|| Error::Usage("a function library's first line must name it: `#!lua name=mylib`".into()))?
            .to_owned();
        Ok(Library { code: code.into(), name: name.into() })
    }

    /// The library's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A call of `function`, one of this library's functions.
    pub fn fcall<'a>(&'a self, function: &'a str) -> FunctionCall<'a> {
        Call::new(Function { library: self, name: function })
    }

    /// Loads the library, replacing a loaded one of the same name
    /// (`FUNCTION LOAD REPLACE`; on a cluster, into every primary).
    ///
    /// # Errors
    /// The server refused the code, or sending failed.
    pub async fn load<E>(&self, executor: E) -> Result<()>
    where
        E: Executor + Copy,
        Cmd<E::Sink, Raw, Value>: IntoFuture<Output = Result<Value>>,
    {
        raw(executor, "FUNCTION LOAD", vec![Arg::new("REPLACE"), Arg::new(&*self.code)]).await.map(drop)
    }
}

impl FunctionCall<'_> {
    /// Calls the function (`FCALL`); when the server does not know it, loads
    /// the library and calls again.
    ///
    /// # Errors
    /// The function's own errors ([`Error::Redis`]), a failed conversion, or
    /// sending failed.
    pub async fn invoke<E, T>(&self, executor: E) -> Result<T>
    where
        E: Executor + Copy,
        T: FromValue,
        Cmd<E::Sink, Raw, T>: IntoFuture<Output = Result<T>>,
        Cmd<E::Sink, Raw, Value>: IntoFuture<Output = Result<Value>>,
    {
        match self.fcall(executor).returning::<T>().await {
            Err(Error::Redis(e)) if e.as_str().contains(FUNCTION_NOT_FOUND) => {
                self.target.library.load(executor).await?;
                self.fcall(executor).returning::<T>().await
            }
            reply => reply,
        }
    }

    /// Queues the call (`FCALL`) in a pipeline, or a transaction.
    ///
    /// As for [`ScriptCall::queue`], sending the pipeline first loads the
    /// library where no library of its name is loaded (`FUNCTION LIST
    /// LIBRARYNAME`, then `FUNCTION LOAD`; on a cluster, on each node the
    /// batch goes to), outside the batch. A library of the same name already
    /// loaded is kept as it is, as [`invoke`](Self::invoke) does.
    ///
    /// ```no_run
    /// # extern crate siderpy_core as siderpy;
    /// # async fn f(redis: siderpy::Redis) -> siderpy::Result<()> {
    /// use siderpy::Library;
    /// let lib = Library::new(
    ///     "#!lua name=counters\n\
    ///      redis.register_function('bump', function(keys, args) return redis.call('INCR', keys[1]) end)",
    /// )?;
    /// let mut tx = redis.transaction();
    /// lib.fcall("bump").key("hits").queue(&mut tx);
    /// lib.fcall("bump").key("hits").queue(&mut tx);
    /// let (first, second): (i64, i64) = tx.query().await?;
    /// # Ok(()) }
    /// ```
    pub fn queue(&self, pipe: &mut Pipeline) {
        let cmd = crate::__private::execute_cmd((), "FCALL", self.words(Arg::new(self.target.name)));
        pipe.push_code(Loadable::Library(self.target.library.clone()), cmd.args, cmd.opts.info);
    }

    fn fcall<E: Executor>(&self, executor: E) -> Cmd<E::Sink, Raw, Value> {
        crate::__private::execute_cmd(executor.__sink(), "FCALL", self.words(Arg::new(self.target.name)))
    }
}

fn raw<E: Executor>(executor: E, name: &str, words: Vec<Arg>) -> Cmd<E::Sink, Raw, Value> {
    crate::__private::execute_cmd(executor.__sink(), name, words)
}

/// How the server says `FCALL`'s function is not loaded (`ERR Function not
/// found`): there is no error code of its own, as `NOSCRIPT` is for scripts.
const FUNCTION_NOT_FOUND: &str = "Function not found";

/// Server-side code a queued call needs loaded: a script or a function
/// library.
#[derive(Debug, Clone)]
pub(crate) enum Loadable {
    Script(Script),
    Library(Library),
}

impl Loadable {
    /// Whether `error` is the server saying it lacks this code.
    pub(crate) fn is_missing(&self, error: &Error) -> bool {
        match (self, error) {
            (Loadable::Script(_), e) => e.code() == Some("NOSCRIPT"),
            (Loadable::Library(_), Error::Redis(e)) => e.as_str().contains(FUNCTION_NOT_FOUND),
            (Loadable::Library(_), _) => false,
        }
    }

    /// Loads it through `executor` (on a cluster, into every node).
    pub(crate) async fn load<E>(&self, executor: E) -> Result<()>
    where
        E: Executor + Copy,
        Cmd<E::Sink, Raw, Value>: IntoFuture<Output = Result<Value>>,
    {
        match self {
            Loadable::Script(script) => script.load(executor).await,
            Loadable::Library(library) => library.load(executor).await,
        }
    }
}

/// Makes sure `redis`'s server has all of `code`: `SCRIPT EXISTS` for the
/// scripts and `FUNCTION LIST LIBRARYNAME` for the libraries, in one batch,
/// then `SCRIPT LOAD` / `FUNCTION LOAD` of what is missing, in another; both
/// on the handle's connection (a pinned one stays pinned: none of these
/// changes its state). Nothing at all is sent when `code` is empty.
///
/// # Errors
/// The server refused some code ([`Error::Redis`]) or to answer, or sending
/// failed.
pub(crate) async fn load_missing<'s>(redis: &Redis, code: impl IntoIterator<Item = &'s Loadable>) -> Result<()> {
    let (mut scripts, mut libraries): (Vec<&Script>, Vec<&Library>) = (Vec::new(), Vec::new());
    for c in code {
        match c {
            Loadable::Script(s) if !scripts.iter().any(|u| u.sha1 == s.sha1) => scripts.push(s),
            Loadable::Library(l) if !libraries.iter().any(|u| u.name == l.name) => libraries.push(l),
            _ => {}
        }
    }
    if scripts.is_empty() && libraries.is_empty() {
        return Ok(());
    }
    let mut frames = BytesMut::new();
    let mut n = 0;
    if !scripts.is_empty() {
        let mut exists = CmdArgs::with_name("SCRIPT EXISTS");
        for script in &scripts {
            exists.push(script.sha1());
        }
        exists.write_frame(&mut frames);
        n += 1;
    }
    for library in &libraries {
        let mut list = CmdArgs::with_name("FUNCTION LIST LIBRARYNAME");
        list.push(&*library.name);
        list.write_frame(&mut frames);
        n += 1;
    }
    let mut replies = redis.request_batch(Frames { parts: &[&frames], n }, false).await?.into_iter();
    frames.clear();
    let mut missing = 0;
    if !scripts.is_empty() {
        let found = match replies.next() {
            Some(Value::Array(found)) if found.len() == scripts.len() => found,
            Some(Value::Error(e)) => return Err(Error::Redis(e)),
            other => {
                return Err(Error::protocol(format!(
                    "SCRIPT EXISTS of {} scripts replied with {other:?}",
                    scripts.len()
                )))
            }
        };
        for (script, found) in scripts.iter().zip(found) {
            if !matches!(found, Value::Int(1) | Value::Boolean(true)) {
                let mut load = CmdArgs::with_name("SCRIPT LOAD");
                load.push(&*script.code);
                load.write_frame(&mut frames);
                missing += 1;
            }
        }
    }
    for (library, listed) in libraries.iter().zip(replies) {
        if let Value::Error(e) = listed {
            return Err(Error::Redis(e));
        }
        if !library_names(listed).iter().any(|n| **n == *library.name.as_bytes()) {
            let mut load = CmdArgs::with_name("FUNCTION LOAD REPLACE");
            load.push(&*library.code);
            load.write_frame(&mut frames);
            missing += 1;
        }
    }
    if missing == 0 {
        return Ok(());
    }
    for reply in redis.request_batch(Frames { parts: &[&frames], n: missing }, false).await? {
        if let Value::Error(e) = reply {
            return Err(Error::Redis(e));
        }
    }
    Ok(())
}

/// The `library_name` of each library in a `FUNCTION LIST` reply (RESP2:
/// arrays of field, value...; RESP3: maps). The name given to `LIBRARYNAME`
/// is a pattern, so the caller compares names itself.
fn library_names(listed: Value) -> Vec<bytes::Bytes> {
    const FIELD: &[u8] = b"library_name";
    let Value::Array(libraries) = listed else { return Vec::new() };
    let mut names = Vec::new();
    for library in libraries {
        let pairs: Vec<(Value, Value)> = match library {
            Value::Map(pairs) => pairs,
            Value::Array(flat) => {
                let mut flat = flat.into_iter();
                std::iter::from_fn(|| Some((flat.next()?, flat.next()?))).collect()
            }
            _ => continue,
        };
        for (field, value) in pairs {
            match (field, value) {
                (Value::Bulk(f) | Value::Simple(f), Value::Bulk(v) | Value::Simple(v)) if f == FIELD => names.push(v),
                _ => {}
            }
        }
    }
    names
}
