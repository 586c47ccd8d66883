//! The `SCAN` family as streams: [`Redis::scan_iter`] and its hash, set and
//! sorted-set counterparts walk the cursor for the caller.
//!
//! `SCAN` guarantees that an element present for the whole iteration is
//! returned at least once, and may return one more than once; the stream
//! passes that on as it is (deduplicate if it matters).

use std::collections::VecDeque;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;

use crate::args::{Arg, ToArg};
use crate::client::Redis;
use crate::command::{Cmd, Raw};

/// The command fetching the next page: a cursor and its items.
type Page<'a, T> = Cmd<&'a Redis, Raw, (u64, Vec<T>)>;
use crate::convert::FromValue;
use crate::error::Result;

/// A stream of what a `SCAN`, `HSCAN`, `SSCAN` or `ZSCAN` walk returns, one
/// item at a time, fetching the next page when the last is used up.
///
/// Read it with [`next`](ScanIter::next) or as a `Stream`. Set `MATCH`,
/// `COUNT` and `TYPE` before reading. An error (the
/// connection, or a page that does not convert) is yielded once and ends
/// the stream.
///
/// # Examples
/// ```no_run
/// # extern crate siderpy_core as siderpy;
/// # async fn f(redis: siderpy::Redis) -> siderpy::Result<()> {
/// let mut keys = redis.scan_iter().match_("user:*").count(500).returning::<String>();
/// while let Some(key) = keys.next().await {
///     println!("{}", key?);
/// }
/// # Ok(()) }
/// ```
#[must_use = "streams do nothing unless polled"]
pub struct ScanIter<'a, T> {
    redis: &'a Redis,
    command: &'static str,
    key: Option<Arg>,
    pattern: Option<Arg>,
    count: Option<u64>,
    type_: Option<Arg>,
    cursor: u64,
    /// The last page came back with cursor 0, or an error ended the walk.
    finished: bool,
    page: VecDeque<T>,
    fetching: Option<Page<'a, T>>,
    item: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for ScanIter<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScanIter")
            .field("command", &self.command)
            .field("cursor", &self.cursor)
            .field("finished", &self.finished)
            .field("buffered", &self.page.len())
            .finish()
    }
}

impl Redis {
    /// Every key of the database (`SCAN`), as a stream of `Bytes`.
    pub fn scan_iter(&self) -> ScanIter<'_, Bytes> {
        ScanIter::new(self, "SCAN", None)
    }

    /// Every field and value of the hash at `key` (`HSCAN`).
    pub fn hscan_iter(&self, key: impl ToArg) -> ScanIter<'_, (Bytes, Bytes)> {
        ScanIter::new(self, "HSCAN", Some(Arg::new(key)))
    }

    /// Every member of the set at `key` (`SSCAN`).
    pub fn sscan_iter(&self, key: impl ToArg) -> ScanIter<'_, Bytes> {
        ScanIter::new(self, "SSCAN", Some(Arg::new(key)))
    }

    /// Every member of the sorted set at `key` with its score (`ZSCAN`).
    pub fn zscan_iter(&self, key: impl ToArg) -> ScanIter<'_, (Bytes, f64)> {
        ScanIter::new(self, "ZSCAN", Some(Arg::new(key)))
    }
}

impl<'a, T> ScanIter<'a, T> {
    fn new(redis: &'a Redis, command: &'static str, key: Option<Arg>) -> Self {
        ScanIter {
            redis,
            command,
            key,
            pattern: None,
            count: None,
            type_: None,
            cursor: 0,
            finished: false,
            page: VecDeque::new(),
            fetching: None,
            item: PhantomData,
        }
    }

    /// Only what matches the glob-style `pattern` (`MATCH`). The server
    /// filters after reading a page, so pages may come back short or empty.
    pub fn match_(mut self, pattern: impl ToArg) -> Self {
        self.pattern = Some(Arg::new(pattern));
        self
    }

    /// How much work the server does per page (`COUNT`, a hint; 10 by default).
    pub fn count(mut self, count: u64) -> Self {
        self.count = Some(count);
        self
    }

    /// Only keys of this type (`TYPE`, `SCAN` only: `"string"`, `"hash"`...).
    pub fn type_(mut self, type_: impl ToArg) -> Self {
        self.type_ = Some(Arg::new(type_));
        self
    }

    /// Converts each item to `U` instead (`String` keys, `(String, i64)`
    /// fields and values...).
    pub fn returning<U>(self) -> ScanIter<'a, U> {
        ScanIter {
            redis: self.redis,
            command: self.command,
            key: self.key,
            pattern: self.pattern,
            count: self.count,
            type_: self.type_,
            cursor: self.cursor,
            finished: self.finished,
            page: VecDeque::new(),
            fetching: None,
            item: PhantomData,
        }
    }

    /// The next item, fetching a page when needed; `None` once the walk is
    /// over. The same as `StreamExt::next`, without needing `futures`.
    pub async fn next(&mut self) -> Option<Result<T>>
    where
        T: FromValue + Send + 'a,
    {
        std::future::poll_fn(|cx| futures_core::Stream::poll_next(Pin::new(&mut *self), cx)).await
    }

    /// The words after the command name for the page at `self.cursor`.
    fn page_args(&self) -> Vec<Arg> {
        let mut words: Vec<Arg> = self.key.iter().cloned().collect();
        words.push(Arg::new(self.cursor));
        if let Some(p) = &self.pattern {
            words.extend([Arg::new("MATCH"), p.clone()]);
        }
        if let Some(n) = self.count {
            words.extend([Arg::new("COUNT"), Arg::new(n)]);
        }
        if let Some(t) = &self.type_ {
            words.extend([Arg::new("TYPE"), t.clone()]);
        }
        words
    }
}

// Items are only moved in and out of the page, never pinned in place.
impl<T> Unpin for ScanIter<'_, T> {}

impl<'a, T: FromValue + Send + 'a> futures_core::Stream for ScanIter<'a, T> {
    type Item = Result<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<T>>> {
        let this = self.get_mut();
        loop {
            if let Some(item) = this.page.pop_front() {
                return Poll::Ready(Some(Ok(item)));
            }
            if this.finished {
                return Poll::Ready(None);
            }
            let fetching = match &mut this.fetching {
                Some(f) => f,
                None => {
                    let cmd = crate::__private::execute_cmd(this.redis, this.command, this.page_args());
                    this.fetching.insert(cmd.returning::<(u64, Vec<T>)>())
                }
            };
            let page = std::task::ready!(Pin::new(fetching).poll(cx));
            this.fetching = None;
            match page {
                Ok((cursor, items)) => {
                    this.cursor = cursor;
                    this.finished = cursor == 0;
                    this.page.extend(items);
                }
                Err(e) => {
                    this.finished = true;
                    return Poll::Ready(Some(Err(e)));
                }
            }
        }
    }
}
