//! [`Monitor`]: the lines of `MONITOR` on a connection of their own, parsed.
//!
//! `MONITOR` turns a connection into a stream of every command the server
//! runs; sent on a shared connection it would hand those lines to other
//! callers as their replies. So it is refused there (see
//! [`Effect::Monitor`](crate::Effect::Monitor)) and
//! [`Redis::monitor`](crate::Redis::monitor) opens a connection for it
//! alone, whose lines go to a bounded queue (the client's
//! `pubsub_queue_maxsize`: a full queue stops reading the socket, so the
//! server buffers, as for pub/sub).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;

use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::pubsub::PubSubQueue;

/// One line of `MONITOR` output: a command the server ran.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorLine {
    /// When it ran, in seconds since the Unix epoch (microsecond precision).
    pub time: f64,
    /// The database it ran in.
    pub db: i64,
    /// Who sent it: `ip:port`, `unix:<path>`, or `lua` for a script.
    pub client: String,
    /// The command and its arguments, unescaped.
    pub command: Vec<Bytes>,
    /// The line as the server sent it.
    pub raw: Bytes,
}

/// The commands a server runs, as they run: a `Stream` of [`MonitorLine`]s
/// from a connection of its own, closed when the `Monitor` is dropped.
///
/// Made by [`Redis::monitor`](crate::Redis::monitor).
///
/// ```no_run
/// # extern crate siderpy_core as siderpy;
/// # async fn f(redis: siderpy::Redis) -> siderpy::Result<()> {
/// let monitor = redis.monitor().await?;
/// while let Some(line) = monitor.recv().await? {
///     println!("db {} ran {:?}", line.db, line.command);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Monitor {
    conn: Connection,
    queue: PubSubQueue,
}

impl Monitor {
    pub(crate) fn new(conn: Connection, queue: PubSubQueue) -> Self {
        Monitor { conn, queue }
    }

    /// Waits for the next line; `None` once the monitor was closed.
    ///
    /// # Errors
    /// The connection failed ([`Error::QueueClosed`] with its cause), or the
    /// server sent a line that is not `MONITOR` output
    /// ([`Error::Protocol`], naming the line; the next call goes on).
    pub async fn recv(&self) -> Result<Option<MonitorLine>> {
        match self.queue.recv().await {
            Ok(m) => parse(m.payload).map(Some),
            Err(Error::QueueClosed { cause: None }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Stops monitoring: the connection closes (dropping the `Monitor`
    /// does too). Lines already read stay readable.
    pub fn close(&self) {
        self.conn.close(Error::Closed("monitor"));
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.close();
    }
}

impl futures_core::Stream for Monitor {
    type Item = Result<MonitorLine>;

    /// Ends (`None`) when the monitor is closed; a connection failure is
    /// one last `Err`.
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let queue = &mut self.get_mut().queue;
        Pin::new(queue).poll_next(cx).map(|m| m.map(|m| m.and_then(|m| parse(m.payload))))
    }
}

/// `1339518083.107412 [0 127.0.0.1:60866] "keys" "*"`.
pub(crate) fn parse(raw: Bytes) -> Result<MonitorLine> {
    let bad = || Error::protocol(format!("not a MONITOR line: {:?}", String::from_utf8_lossy(&raw)));
    let (head, rest) = split_once(&raw, b" [").ok_or_else(bad)?;
    let time = std::str::from_utf8(head).ok().and_then(|t| t.parse().ok()).ok_or_else(bad)?;
    let (source, args) = split_once(rest, b"]").ok_or_else(bad)?;
    let (db, client) = split_once(source, b" ").ok_or_else(bad)?;
    let db = std::str::from_utf8(db).ok().and_then(|d| d.parse().ok()).ok_or_else(bad)?;
    let client = String::from_utf8_lossy(client).into_owned();
    let command = quoted(args).ok_or_else(bad)?;
    Ok(MonitorLine { time, db, client, command, raw })
}

fn split_once<'a>(s: &'a [u8], sep: &[u8]) -> Option<(&'a [u8], &'a [u8])> {
    let at = s.windows(sep.len()).position(|w| w == sep)?;
    Some((&s[..at], &s[at + sep.len()..]))
}

/// The words of ` "a" "b\"c" "\x00"`, unescaped as Redis escapes them
/// (`sdscatrepr`: `\\`, `\"`, `\n`, `\r`, `\t`, `\a`, `\b`, `\xHH`).
fn quoted(mut s: &[u8]) -> Option<Vec<Bytes>> {
    let mut words = Vec::new();
    loop {
        s = s.trim_ascii_start();
        let Some(rest) = s.strip_prefix(b"\"") else {
            return s.is_empty().then_some(words);
        };
        let mut word = Vec::new();
        let mut i = 0;
        loop {
            match *rest.get(i)? {
                b'"' => break,
                b'\\' => {
                    let c = *rest.get(i + 1)?;
                    i += 2;
                    word.push(match c {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'a' => 0x07,
                        b'b' => 0x08,
                        b'x' => {
                            let hex = std::str::from_utf8(rest.get(i..i + 2)?).ok()?;
                            i += 2;
                            u8::from_str_radix(hex, 16).ok()?
                        }
                        other => other,
                    });
                }
                c => {
                    word.push(c);
                    i += 1;
                }
            }
        }
        words.push(Bytes::from(word));
        s = &rest[i + 1..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_parsed() {
        let line =
            parse(Bytes::from_static(br#"1339518083.107412 [3 127.0.0.1:60866] "SET" "k\"ey" "a\x00\n b""#)).unwrap();
        assert_eq!((line.time, line.db, line.client.as_str()), (1339518083.107412, 3, "127.0.0.1:60866"));
        assert_eq!(line.command, [&b"SET"[..], b"k\"ey", b"a\x00\n b"]);
        let lua = parse(Bytes::from_static(br#"1.5 [0 lua] "get" "x""#)).unwrap();
        assert_eq!((lua.client.as_str(), lua.command.len()), ("lua", 2));
        let unix = parse(Bytes::from_static(br#"1.5 [0 unix:/tmp/a b.sock] "ping""#)).unwrap();
        assert_eq!(unix.client, "unix:/tmp/a b.sock");
        for bad in [&b"OK"[..], b"1.5 [x y] \"a\"", b"1.5 [0 c] \"unterminated", b"1.5 [0 c] bare"] {
            assert!(matches!(parse(Bytes::copy_from_slice(bad)), Err(Error::Protocol(_))), "{bad:?}");
        }
    }
}
