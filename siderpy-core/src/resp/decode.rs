//! Decoding RESP frames from a read buffer.
//!
//! Two passes, as in mini-redis: a check walks the buffered bytes to learn
//! whether a whole frame is there and how long it is, allocating nothing and
//! trusting no length field; only then is the frame split off the buffer,
//! frozen, and parsed into a [`Value`] whose strings are zero-copy slices.
//!
//! The check resumes where the previous read left it, element by element, so
//! a reply arriving in many reads is walked once, and malformed bytes are
//! refused as soon as they arrive, whatever the reads' sizes.

use bytes::{Buf, Bytes, BytesMut};

use crate::error::{Error, ServerError};
use crate::value::Value;

/// Caps on what a server may make the client buffer or build.
///
/// A reply over a cap is a protocol error and the connection is closed, so a
/// hostile or broken server cannot make the client allocate without bound:
/// the client buffers at most [`max_frame_len`](Self::max_frame_len) bytes of
/// one reply (plus one read), and refuses a reply as soon as what it has
/// announced cannot fit, without waiting for the bytes.
///
/// Set them with [`RedisBuilder::limits`](crate::RedisBuilder::limits):
///
/// ```
/// # extern crate siderpy_core as siderpy;
/// use siderpy::resp::Limits;
/// let limits = Limits { max_bulk_len: 1 << 20, max_frame_len: 16 << 20, ..Limits::default() };
/// # let _ = limits;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest bulk string accepted, in bytes. Default 512 MiB, Redis's own
    /// `proto-max-bulk-len` default.
    pub max_bulk_len: usize,
    /// Largest number of elements in one array, set, map or push.
    /// Default 2^32.
    pub max_elements: usize,
    /// Deepest nesting of aggregates accepted. Default 64; real replies nest
    /// a handful of levels (`COMMAND DOCS` is among the deepest at about 8).
    pub max_depth: usize,
    /// Largest whole reply accepted, in bytes, counting everything nested
    /// in it. Default 1 GiB.
    ///
    /// The caps above bound each part of a reply, not their sum: an array
    /// of arrays of arrays, each within `max_elements`, could otherwise go on
    /// for ever. The reply is refused as soon as the bytes buffered plus the
    /// least its announced but missing parts take (a declared bulk length,
    /// 3 bytes per missing element) exceed this, so an endless array fails
    /// long before this much is buffered. Raise it for larger replies (an
    /// `MGET` of several values near `max_bulk_len`).
    pub max_frame_len: usize,
    /// Most memory the values decoded from one reply may take, in bytes.
    /// Default 1 GiB.
    ///
    /// `max_frame_len` counts wire bytes, but a small element costs more in
    /// memory than on the wire: `:1` is 4 bytes there and one
    /// [`Value`] (`size_of::<Value>()` bytes) here. Every element is counted
    /// at that size as soon as its aggregate announces it (strings are
    /// slices of the reply's own bytes, which `max_frame_len` counts), so a
    /// reply announcing more than this is refused before it is read. With
    /// both defaults, a reply costs at most 2 GiB: twice the frame cap.
    pub max_decoded_bytes: usize,
    /// Most bytes of commands a connection queues for a server that does
    /// not read them; past it, new commands fail at once with
    /// [`Error::OutputFull`] (nothing sent, the connection stays open).
    /// Default 64 MiB. One command larger than this is still accepted when
    /// little else is queued.
    pub max_queued_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: 512 * 1024 * 1024,
            max_elements: 1 << 32,
            max_depth: 64,
            max_frame_len: 1 << 30,
            max_decoded_bytes: 1 << 30,
            max_queued_bytes: 64 << 20,
        }
    }
}

/// What one decoded element costs in memory, for `max_decoded_bytes`.
const VALUE_SIZE: usize = std::mem::size_of::<Value>();

/// A stateful RESP decoder for one connection.
///
/// Feed it one buffer, only ever appending to it: it remembers how far it
/// has checked the frame at the head of the buffer, so a large reply arriving
/// in many reads is walked once.
#[derive(Debug, Default)]
pub struct Decoder {
    limits: Limits,
    /// The head frame's bytes before this are checked.
    pos: usize,
    /// For each aggregate open at `pos`, outermost first: how many of its
    /// elements are not complete yet (the one `pos` is in included).
    open: Vec<usize>,
    /// What the head frame needs at least, as far as is known.
    need: usize,
    /// Where each element of an array of bulk strings lies (kept to reuse
    /// its allocation).
    spans: Vec<(usize, usize)>,
    /// Memory the head frame's values will take, as far as announced.
    decoded: usize,
}

impl Decoder {
    /// A decoder enforcing `limits`.
    pub fn new(limits: Limits) -> Self {
        Decoder { limits, ..Decoder::default() }
    }

    /// Splits one whole frame off the front of `buf` and decodes it.
    ///
    /// Returns `Ok(None)` when `buf` holds only part of a frame (append what
    /// is read next and call again) and [`Error::Protocol`] when the bytes
    /// are not valid RESP or exceed the [`Limits`]; the connection must then
    /// be closed.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Value>, Error> {
        if self.pos > buf.len() {
            // Not the buffer it was fed: start over.
            self.reset();
        }
        if self.pos == 0 {
            // Nothing of this frame checked yet: the commonest replies, when
            // whole, take one pass. Partial ones go the resumable way below.
            if let Some(v) = self.decode_scalar(buf).or_else(|| self.decode_bulk_array(buf)) {
                return Ok(Some(v));
            }
        }
        match self.check(buf) {
            Ok(len) => {
                self.reset();
                let frame = buf.split_to(len).freeze();
                let mut p = Parser { buf: frame, pos: 0 };
                p.value().map(Some)
            }
            Err(Check::Incomplete(need)) if need > self.limits.max_frame_len => Err(self.too_long(need)),
            Err(Check::Incomplete(need)) => {
                self.need = need;
                Ok(None)
            }
            Err(Check::Invalid(msg)) => Err(Error::protocol(msg)),
        }
    }

    /// One pass for the commonest replies (a bulk string, a simple string or
    /// an integer at the top level): the payload is split off the buffer
    /// directly. `None` for anything else, anything unusual, or a frame not
    /// all here yet: the general, resumable path then decodes (or refuses) it.
    fn decode_scalar(&mut self, buf: &mut BytesMut) -> Option<Value> {
        let kind = *buf.first()?;
        if !matches!(kind, b'$' | b'+' | b':') {
            return None;
        }
        let nl = memchr::memchr(b'\n', &buf[..buf.len().min(MAX_LINE)])?;
        if nl < 2 || buf[nl - 1] != b'\r' {
            return None;
        }
        let line = &buf[1..nl - 1];
        let value = match kind {
            b'$' => {
                let len = match length(line, "bulk", self.limits.max_bulk_len) {
                    Ok(Some(len)) => len,
                    Ok(None) => {
                        buf.advance(nl + 1);
                        self.need = 0;
                        return Some(Value::Nil);
                    }
                    Err(_) => return None,
                };
                let end = (nl + 1).checked_add(len)?.checked_add(2)?;
                if buf.len() < end || end > self.limits.max_frame_len {
                    return None;
                }
                if &buf[end - 2..end] != b"\r\n" {
                    return None;
                }
                buf.advance(nl + 1);
                let payload = buf.split_to(len).freeze();
                buf.advance(2);
                Value::Bulk(payload)
            }
            b'+' => {
                let text = match line {
                    b"OK" => Bytes::from_static(b"OK"),
                    b"QUEUED" => Bytes::from_static(b"QUEUED"),
                    b"PONG" => Bytes::from_static(b"PONG"),
                    _ => {
                        let mut line = buf.split_to(nl - 1);
                        line.advance(1);
                        buf.advance(2);
                        self.need = 0;
                        return Some(Value::Simple(line.freeze()));
                    }
                };
                buf.advance(nl + 1);
                Value::Simple(text)
            }
            _ => {
                let n = parse_int(line)?;
                buf.advance(nl + 1);
                Value::Int(n)
            }
        };
        self.need = 0;
        Some(value)
    }

    /// One walk for a top-level array of bulk strings and nils (`MGET`,
    /// `LRANGE`, `HMGET`, `KEYS`...): it checks the frame and notes where
    /// each element lies, then builds the values from those notes without
    /// parsing again. `None` for any other element type, anything unusual,
    /// or a frame not all here yet: the general path then handles it.
    fn decode_bulk_array(&mut self, buf: &mut BytesMut) -> Option<Value> {
        /// The longest bulk header: `$`, 20 digits, CRLF.
        const HEADER: usize = 24;
        const NIL: usize = usize::MAX;
        if buf.first() != Some(&b'*') {
            return None;
        }
        let nl = memchr::memchr(b'\n', &buf[..buf.len().min(HEADER)])?;
        if nl < 2 || buf[nl - 1] != b'\r' {
            return None;
        }
        let n = match length(&buf[1..nl - 1], "aggregate", self.limits.max_elements) {
            Ok(Some(n)) if n.saturating_mul(VALUE_SIZE) <= self.limits.max_decoded_bytes => n,
            _ => return None,
        };
        let mut pos = nl + 1;
        self.spans.clear();
        for _ in 0..n {
            let rest = &buf[pos..];
            match rest.first() {
                None => return None,
                Some(b'$') => {}
                Some(b'_') if rest.len() < 3 => return None,
                Some(b'_') if &rest[1..3] == b"\r\n" => {
                    self.spans.push((NIL, 0));
                    pos += 3;
                    continue;
                }
                Some(_) => return None,
            }
            let nl = memchr::memchr(b'\n', &rest[..rest.len().min(HEADER)])?;
            if nl < 2 || rest[nl - 1] != b'\r' {
                return None;
            }
            match length(&rest[1..nl - 1], "bulk", self.limits.max_bulk_len) {
                Ok(None) => {
                    self.spans.push((NIL, 0));
                    pos += nl + 1;
                }
                Ok(Some(len)) => {
                    let start = pos + nl + 1;
                    let end = start.checked_add(len)?.checked_add(2)?;
                    if end > buf.len() {
                        return None;
                    }
                    if &buf[end - 2..end] != b"\r\n" {
                        return None;
                    }
                    self.spans.push((start, len));
                    pos = end;
                }
                Err(_) => return None,
            }
        }
        if pos > self.limits.max_frame_len {
            return None;
        }
        let frame = buf.split_to(pos).freeze();
        let items = self
            .spans
            .iter()
            .map(|&(start, len)| if start == NIL { Value::Nil } else { Value::Bulk(frame.slice(start..start + len)) })
            .collect();
        if self.spans.capacity() > 1 << 16 {
            self.spans = Vec::new();
        }
        self.need = 0;
        Some(Value::Array(items))
    }

    /// How many bytes the frame at the head of the buffer needs at least, as
    /// far as is known (0 when unknown): a hint for sizing the next read.
    pub fn bytes_needed(&self) -> usize {
        self.need
    }

    fn reset(&mut self) {
        self.pos = 0;
        self.open.clear();
        self.need = 0;
        self.decoded = 0;
    }

    fn too_long(&self, len: usize) -> Error {
        Error::protocol(format!(
            "reply of at least {len} bytes exceeds the limit of {} (Limits::max_frame_len)",
            self.limits.max_frame_len
        ))
    }

    /// Walks the head frame on from where the last call stopped; returns
    /// its length once it is all there.
    fn check(&mut self, buf: &[u8]) -> Result<usize, Check> {
        loop {
            let depth = self.open.len();
            if depth > self.limits.max_depth {
                return Err(Check::Invalid(format!("reply nested deeper than {} levels", self.limits.max_depth)));
            }
            let mut cur = Cursor { buf, pos: self.pos };
            let children = match element(&mut cur, &self.limits) {
                Ok(children) => children,
                Err(Check::Incomplete(need)) => {
                    // The elements still to come take some room too: knowing
                    // it, an endless reply is refused early (`max_frame_len`).
                    let this = need.max(self.pos.saturating_add(MIN_FRAME));
                    let rest = self.open.iter().fold(0usize, |sum, n| sum.saturating_add(n - 1));
                    return Err(Check::Incomplete(this.saturating_add(rest.saturating_mul(MIN_FRAME))));
                }
                Err(invalid) => return Err(invalid),
            };
            self.pos = cur.pos;
            if self.pos > self.limits.max_frame_len {
                return Err(Check::Invalid(format!(
                    "reply of at least {} bytes exceeds the limit of {} (Limits::max_frame_len)",
                    self.pos, self.limits.max_frame_len
                )));
            }
            if children > 0 {
                self.decoded = self.decoded.saturating_add(children.saturating_mul(VALUE_SIZE));
                // When the wire bytes alone cannot fit, that is the cap to name.
                let least = self.pos.saturating_add(children.saturating_mul(MIN_FRAME));
                if self.decoded > self.limits.max_decoded_bytes && least <= self.limits.max_frame_len {
                    return Err(Check::Invalid(format!(
                        "reply announcing at least {} bytes of values exceeds the limit of {} \
                         (Limits::max_decoded_bytes)",
                        self.decoded, self.limits.max_decoded_bytes
                    )));
                }
                self.open.push(children);
                continue;
            }
            // An element is complete, and with it any aggregate it was the last of.
            loop {
                match self.open.last_mut() {
                    None => return Ok(self.pos),
                    Some(1) => drop(self.open.pop()),
                    Some(n) => {
                        *n -= 1;
                        break;
                    }
                }
            }
        }
    }
}

/// Why the check stopped.
#[derive(Debug)]
enum Check {
    /// More bytes are needed; the frame is at least this long (a lower bound,
    /// always past the bytes buffered).
    Incomplete(usize),
    Invalid(String),
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn byte(&mut self) -> Result<u8, Check> {
        let b = *self.buf.get(self.pos).ok_or(Check::Incomplete(self.buf.len() + 1))?;
        self.pos += 1;
        Ok(b)
    }

    /// The bytes up to the next CRLF, which is consumed.
    fn line(&mut self) -> Result<&'a [u8], Check> {
        let rest = &self.buf[self.pos..];
        match memchr::memchr(b'\n', rest) {
            // Refused whole or in parts alike: the same bytes give the same
            // answer however they are split across reads.
            Some(i) if i > MAX_LINE => Err(Check::Invalid(format!("header line longer than {MAX_LINE} bytes"))),
            Some(i) if i > 0 && rest[i - 1] == b'\r' => {
                self.pos += i + 1;
                Ok(&rest[..i - 1])
            }
            Some(_) => Err(Check::Invalid("line not terminated by CRLF".into())),
            None if rest.len() > MAX_LINE => Err(Check::Invalid(format!("header line longer than {MAX_LINE} bytes"))),
            None => Err(Check::Incomplete(self.buf.len() + 1)),
        }
    }

    fn skip(&mut self, n: usize) -> Result<(), Check> {
        let end = self.pos.checked_add(n).ok_or_else(|| Check::Invalid("length overflows".into()))?;
        if end > self.buf.len() {
            return Err(Check::Incomplete(end));
        }
        self.pos = end;
        Ok(())
    }
}

/// Simple strings, errors and numbers are short; a line this long without a
/// CRLF is garbage, not a frame still arriving.
const MAX_LINE: usize = 64 * 1024;

/// The shortest frame there is (`+\r\n`, `_\r\n`): what each element an
/// aggregate still lacks will take at least.
const MIN_FRAME: usize = 3;

fn parse_int(line: &[u8]) -> Option<i64> {
    let (neg, digits) = match line.split_first()? {
        (b'-', rest) => (true, rest),
        (b'+', rest) => (false, rest),
        _ => (false, line),
    };
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    let mut n: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        let d = i64::from(d - b'0');
        n = if neg { n.checked_mul(10)?.checked_sub(d)? } else { n.checked_mul(10)?.checked_add(d)? };
    }
    Some(n)
}

fn parse_double(line: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(line).ok()?;
    match s {
        "inf" | "+inf" => Some(f64::INFINITY),
        "-inf" => Some(f64::NEG_INFINITY),
        "nan" | "-nan" => Some(f64::NAN),
        _ => s.parse().ok(),
    }
}

/// A length header: `-1` (RESP2 nil) is `None`; other negatives are invalid.
fn length(line: &[u8], what: &str, max: usize) -> Result<Option<usize>, Check> {
    match parse_int(line) {
        Some(-1) => Ok(None),
        Some(n) if n >= 0 && (n as u64) <= max as u64 => Ok(Some(n as usize)),
        Some(n) if n >= 0 => Err(Check::Invalid(format!("{what} length {n} exceeds the limit of {max}"))),
        _ => Err(Check::Invalid(format!("invalid {what} length {:?}", String::from_utf8_lossy(line)))),
    }
}

/// Checks one element at the cursor: a whole scalar, or an aggregate's
/// header. Returns how many elements the aggregate holds (0 for a scalar).
fn element(cur: &mut Cursor<'_>, limits: &Limits) -> Result<usize, Check> {
    match cur.byte()? {
        b'+' | b'-' => cur.line().map(|_| 0),
        b':' => {
            let line = cur.line()?;
            parse_int(line)
                .map(|_| 0)
                .ok_or_else(|| Check::Invalid(format!("invalid integer {:?}", String::from_utf8_lossy(line))))
        }
        b',' => {
            let line = cur.line()?;
            parse_double(line)
                .map(|_| 0)
                .ok_or_else(|| Check::Invalid(format!("invalid double {:?}", String::from_utf8_lossy(line))))
        }
        b'#' => match cur.line()? {
            b"t" | b"f" => Ok(0),
            other => Err(Check::Invalid(format!("invalid boolean {:?}", String::from_utf8_lossy(other)))),
        },
        b'(' => {
            let line = cur.line()?;
            let digits = line.strip_prefix(b"-").unwrap_or(line);
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return Err(Check::Invalid("invalid big number".into()));
            }
            Ok(0)
        }
        b'_' => match cur.line()? {
            b"" => Ok(0),
            _ => Err(Check::Invalid("null with a payload".into())),
        },
        kind @ (b'$' | b'!' | b'=') => {
            let Some(len) = length(cur.line()?, "bulk", limits.max_bulk_len)? else {
                return if kind == b'$' { Ok(0) } else { Err(Check::Invalid("negative length".into())) };
            };
            if kind == b'=' && len < 4 {
                return Err(Check::Invalid("verbatim string shorter than its format prefix".into()));
            }
            let end = cur.pos.saturating_add(len).saturating_add(2);
            if end > cur.buf.len() {
                return Err(Check::Incomplete(end));
            }
            cur.skip(len)?;
            match cur.buf.get(cur.pos..cur.pos + 2) {
                Some(b"\r\n") => {
                    cur.pos += 2;
                    Ok(0)
                }
                Some(_) => Err(Check::Invalid("bulk string not terminated by CRLF".into())),
                None => Err(Check::Incomplete(end)),
            }
        }
        kind @ (b'*' | b'~' | b'>' | b'%' | b'|') => {
            let Some(n) = length(cur.line()?, "aggregate", limits.max_elements)? else {
                return if kind == b'*' { Ok(0) } else { Err(Check::Invalid("negative length".into())) };
            };
            let items = if matches!(kind, b'%' | b'|') {
                n.checked_mul(2).ok_or_else(|| Check::Invalid("map too long".into()))?
            } else {
                n
            };
            // An attribute precedes the value it describes.
            Ok(items.saturating_add(usize::from(kind == b'|')))
        }
        other => Err(Check::Invalid(format!("unknown type byte {:?}", other as char))),
    }
}

/// Builds a [`Value`] from a frame that the check accepted.
///
/// It re-validates as it goes and never panics, but errors here would mean
/// the check and the parser disagree. It recurses, as deep as
/// [`Limits::max_depth`] lets a frame nest.
struct Parser {
    buf: Bytes,
    pos: usize,
}

impl Parser {
    fn invalid() -> Error {
        Error::protocol("frame changed between check and parse")
    }

    /// The range of the line at the cursor (CRLF excluded), which is consumed.
    fn line_range(&mut self) -> Result<(usize, usize), Error> {
        let start = self.pos;
        let i = memchr::memchr(b'\n', &self.buf[start..]).ok_or_else(Self::invalid)?;
        if i == 0 {
            return Err(Self::invalid());
        }
        self.pos = start + i + 1;
        Ok((start, start + i - 1))
    }

    /// The line at the cursor, borrowed: for numbers, which need no `Bytes`.
    fn line_slice(&mut self) -> Result<&[u8], Error> {
        let (start, end) = self.line_range()?;
        Ok(&self.buf[start..end])
    }

    fn line(&mut self) -> Result<Bytes, Error> {
        let (start, end) = self.line_range()?;
        Ok(self.buf.slice(start..end))
    }

    fn len(&mut self) -> Result<Option<usize>, Error> {
        match parse_int(self.line_slice()?).ok_or_else(Self::invalid)? {
            -1 => Ok(None),
            n => usize::try_from(n).map(Some).map_err(|_| Self::invalid()),
        }
    }

    fn bytes(&mut self, len: usize) -> Result<Bytes, Error> {
        let end = self.pos.checked_add(len).filter(|&e| e + 2 <= self.buf.len()).ok_or_else(Self::invalid)?;
        let b = self.buf.slice(self.pos..end);
        self.pos = end + 2;
        Ok(b)
    }

    fn items(&mut self, n: usize) -> Result<Vec<Value>, Error> {
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            v.push(self.value()?);
        }
        Ok(v)
    }

    fn pairs(&mut self, n: usize) -> Result<Vec<(Value, Value)>, Error> {
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            let k = self.value()?;
            v.push((k, self.value()?));
        }
        Ok(v)
    }

    fn value(&mut self) -> Result<Value, Error> {
        let kind = *self.buf.get(self.pos).ok_or_else(Self::invalid)?;
        self.pos += 1;
        Ok(match kind {
            b'+' => {
                // The commonest replies need no reference to the read buffer.
                let (start, end) = self.line_range()?;
                Value::Simple(match &self.buf[start..end] {
                    b"OK" => Bytes::from_static(b"OK"),
                    b"QUEUED" => Bytes::from_static(b"QUEUED"),
                    b"PONG" => Bytes::from_static(b"PONG"),
                    _ => self.buf.slice(start..end),
                })
            }
            b'-' => Value::Error(ServerError::new(self.line()?)),
            b':' => Value::Int(parse_int(self.line_slice()?).ok_or_else(Self::invalid)?),
            b',' => Value::Double(parse_double(self.line_slice()?).ok_or_else(Self::invalid)?),
            b'#' => Value::Boolean(self.line_slice()? == b"t"),
            b'(' => Value::BigNumber(self.line()?),
            b'_' => {
                self.line_range()?;
                Value::Nil
            }
            b'$' => match self.len()? {
                None => Value::Nil,
                Some(n) => Value::Bulk(self.bytes(n)?),
            },
            b'!' => {
                let n = self.len()?.ok_or_else(Self::invalid)?;
                Value::Error(ServerError::new(self.bytes(n)?))
            }
            b'=' => {
                let n = self.len()?.ok_or_else(Self::invalid)?;
                let mut all = self.bytes(n)?;
                let mut format = [0u8; 3];
                format.copy_from_slice(all.get(..3).ok_or_else(Self::invalid)?);
                all.advance(4); // "txt:"
                Value::Verbatim { format, text: all }
            }
            b'*' => match self.len()? {
                None => Value::Nil,
                Some(n) => Value::Array(self.items(n)?),
            },
            b'~' => {
                let n = self.len()?.ok_or_else(Self::invalid)?;
                Value::Set(self.items(n)?)
            }
            b'>' => {
                let n = self.len()?.ok_or_else(Self::invalid)?;
                Value::Push(self.items(n)?)
            }
            b'%' => {
                let n = self.len()?.ok_or_else(Self::invalid)?;
                Value::Map(self.pairs(n)?)
            }
            b'|' => {
                let n = self.len()?.ok_or_else(Self::invalid)?;
                let attributes = self.pairs(n)?;
                Value::Attribute { attributes, value: Box::new(self.value()?) }
            }
            _ => return Err(Self::invalid()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8]) -> Result<Option<Value>, Error> {
        Decoder::default().decode(&mut BytesMut::from(input))
    }

    fn bulk(s: &str) -> Value {
        Value::Bulk(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn every_type_decodes() {
        let cases: Vec<(&[u8], Value)> = vec![
            (b"+OK\r\n", Value::Simple(Bytes::from_static(b"OK"))),
            (b":-42\r\n", Value::Int(-42)),
            (b":9223372036854775807\r\n", Value::Int(i64::MAX)),
            (b":-9223372036854775808\r\n", Value::Int(i64::MIN)),
            (b"$3\r\nfoo\r\n", bulk("foo")),
            (b"$0\r\n\r\n", bulk("")),
            (b"$-1\r\n", Value::Nil),
            (b"*-1\r\n", Value::Nil),
            (b"_\r\n", Value::Nil),
            (b"*2\r\n$1\r\na\r\n:1\r\n", Value::Array(vec![bulk("a"), Value::Int(1)])),
            (b"%1\r\n+k\r\n:2\r\n", Value::Map(vec![(Value::Simple(Bytes::from_static(b"k")), Value::Int(2))])),
            (b"~1\r\n:1\r\n", Value::Set(vec![Value::Int(1)])),
            (b",1.5\r\n", Value::Double(1.5)),
            (b",inf\r\n", Value::Double(f64::INFINITY)),
            (b",-inf\r\n", Value::Double(f64::NEG_INFINITY)),
            (b"#t\r\n", Value::Boolean(true)),
            (b"#f\r\n", Value::Boolean(false)),
            (
                b"(3492890328409238509324850943850943825024385\r\n",
                Value::BigNumber(Bytes::from_static(b"3492890328409238509324850943850943825024385")),
            ),
            (
                b"=15\r\ntxt:Some string\r\n",
                Value::Verbatim { format: *b"txt", text: Bytes::from_static(b"Some string") },
            ),
            (
                b">2\r\n+message\r\n:1\r\n",
                Value::Push(vec![Value::Simple(Bytes::from_static(b"message")), Value::Int(1)]),
            ),
            (
                b"|1\r\n+ttl\r\n:3\r\n:7\r\n",
                Value::Attribute {
                    attributes: vec![(Value::Simple(Bytes::from_static(b"ttl")), Value::Int(3))],
                    value: Box::new(Value::Int(7)),
                },
            ),
        ];
        for (input, want) in cases {
            assert_eq!(decode_all(input).unwrap(), Some(want), "input {:?}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn errors_keep_code_and_message() {
        for input in [&b"-WRONGTYPE Operation against a key\r\n"[..], b"!33\r\nWRONGTYPE Operation against a key\r\n"] {
            let Some(Value::Error(e)) = decode_all(input).unwrap() else { panic!("not an error") };
            assert_eq!(e.code(), "WRONGTYPE");
            assert_eq!(e.message(), "Operation against a key");
        }
    }

    #[test]
    fn nan_double() {
        let Some(Value::Double(d)) = decode_all(b",nan\r\n").unwrap() else { panic!() };
        assert!(d.is_nan());
    }

    /// Feeds `input` in two parts, split at every byte, and checks the
    /// frames decoded are `want` and nothing is left over.
    fn assert_decodes_at_every_split(input: &[u8], want: &[Value]) {
        for split in 0..input.len() {
            let mut d = Decoder::default();
            let mut buf = BytesMut::from(&input[..split]);
            let mut got = Vec::new();
            while let Some(v) = d.decode(&mut buf).unwrap() {
                got.push(v);
            }
            buf.extend_from_slice(&input[split..]);
            while let Some(v) = d.decode(&mut buf).unwrap() {
                got.push(v);
            }
            assert_eq!(got, want, "split at {split}");
            assert!(buf.is_empty(), "split at {split}: bytes left over");
        }
    }

    #[test]
    fn every_split_point_decodes_the_same() {
        let input: &[u8] = b"*3\r\n$5\r\nhello\r\n%1\r\n+a\r\n,2.5\r\n>1\r\n:7\r\n+next\r\n";
        let whole = {
            let mut buf = BytesMut::from(input);
            let mut d = Decoder::default();
            (d.decode(&mut buf).unwrap(), d.decode(&mut buf).unwrap())
        };
        assert_decodes_at_every_split(input, &[whole.0.unwrap(), whole.1.unwrap()]);
    }

    #[test]
    fn top_level_scalars_at_every_split_point() {
        let input: &[u8] = b"$5\r\nhello\r\n+OK\r\n+hi there\r\n:-12\r\n$-1\r\n$0\r\n\r\n+\r\n:7\r\n";
        let want = vec![
            bulk("hello"),
            Value::Simple(Bytes::from_static(b"OK")),
            Value::Simple(Bytes::from_static(b"hi there")),
            Value::Int(-12),
            Value::Nil,
            bulk(""),
            Value::Simple(Bytes::new()),
            Value::Int(7),
        ];
        assert_decodes_at_every_split(input, &want);
    }

    #[test]
    fn arrays_of_bulks_at_every_split_point() {
        let input: &[u8] =
            b"*4\r\n$5\r\nhello\r\n$-1\r\n_\r\n$0\r\n\r\n*0\r\n*2\r\n$1\r\na\r\n:1\r\n*1\r\n$2\r\nok\r\n";
        let want = vec![
            Value::Array(vec![bulk("hello"), Value::Nil, Value::Nil, bulk("")]),
            Value::Array(vec![]),
            Value::Array(vec![bulk("a"), Value::Int(1)]),
            Value::Array(vec![bulk("ok")]),
        ];
        assert_decodes_at_every_split(input, &want);
    }

    #[test]
    fn malformed_arrays_of_bulks_are_protocol_errors() {
        let cases: &[&[u8]] = &[
            b"*2\r\n$1\r\naXX$1\r\nb\r\n",
            b"*1\r\n$-2\r\n",
            b"*1\r\n$x\r\n",
            b"*1\r\n_x\r\n",
            b"*1\r\n$1\na\r\n",
            b"*1\r\n$99999999999999999999999999\r\n",
        ];
        assert_protocol_errors(cases);
        // Within the limits but not here yet: incomplete, and the need is known.
        let mut d = Decoder::default();
        let mut buf = BytesMut::from(&b"*2\r\n$1\r\na\r\n$100000\r\nabc"[..]);
        assert_eq!(d.decode(&mut buf).unwrap(), None);
        assert_eq!(d.bytes_needed(), 20 + 100_000 + 2);
    }

    #[test]
    fn bulk_is_a_slice_of_the_read_buffer() {
        let mut buf = BytesMut::from(&b"$5\r\nhello\r\n"[..]);
        let base = buf.as_ptr() as usize;
        let Some(Value::Bulk(b)) = Decoder::default().decode(&mut buf).unwrap() else { panic!() };
        assert_eq!(b.as_ptr() as usize, base + 4, "payload was copied");
    }

    /// Each input, decoded whole, is a protocol error.
    fn assert_protocol_errors(cases: &[&[u8]]) {
        for &input in cases {
            let got = decode_all(input);
            assert!(matches!(got, Err(Error::Protocol(_))), "{:?} gave {got:?}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn malformed_input_is_a_protocol_error() {
        let cases: &[&[u8]] = &[
            b"?what\r\n",
            b"$abc\r\n",
            b"$-2\r\n",
            b"*-5\r\n",
            b"$3\r\nfooXX",
            b":12x\r\n",
            b":99999999999999999999\r\n",
            b",notanumber\r\n",
            b"#x\r\n",
            b"+OK\n",
            b"_x\r\n",
            b"=2\r\nab\r\n",
            b"%-1\r\n",
        ];
        assert_protocol_errors(cases);
    }

    #[test]
    fn huge_claimed_length_is_refused_without_allocating() {
        assert!(matches!(decode_all(b"$9999999999\r\n"), Err(Error::Protocol(_))));
        // Within the limit but not yet here: incomplete, and nothing reserved.
        let mut buf = BytesMut::from(&b"$536870912\r\nabc"[..]);
        let mut d = Decoder::default();
        assert_eq!(d.decode(&mut buf).unwrap(), None);
        assert!(buf.capacity() < 1024);
        assert_eq!(d.bytes_needed(), 12 + 536870912 + 2);
        let many = decode_all(b"*4294967297\r\n");
        assert!(matches!(many, Err(Error::Protocol(_))), "{many:?}");
    }

    #[test]
    fn deep_nesting_is_capped() {
        let mut input = Vec::new();
        for _ in 0..10_000 {
            input.extend_from_slice(b"*1\r\n");
        }
        input.extend_from_slice(b":1\r\n");
        assert!(matches!(decode_all(&input), Err(Error::Protocol(_))));
    }

    fn decode_with(limits: Limits, input: &[u8]) -> Result<Option<Value>, Error> {
        Decoder::new(limits).decode(&mut BytesMut::from(input))
    }

    #[test]
    fn whole_reply_is_capped_by_max_frame_len() {
        // Each aggregate within max_elements, the whole over max_frame_len.
        let limits = Limits { max_elements: 100, max_frame_len: 10_000, ..Limits::default() };
        let child = [&b"*100\r\n"[..], &b":1\r\n".repeat(100)].concat();
        let nested = [&b"*100\r\n"[..], &child.repeat(100)].concat();
        let err = decode_with(limits, &nested).unwrap_err();
        assert!(matches!(&err, Error::Protocol(m) if m.contains("max_frame_len")), "{err:?}");
        // Exactly at the limit is fine, one byte over is not.
        let frame = |total: usize| {
            (0..total)
                .map(|l| [format!("${l}\r\n").into_bytes(), vec![b'x'; l], b"\r\n".to_vec()].concat())
                .find(|f| f.len() == total)
                .expect("a bulk of that total length")
        };
        let limits = Limits { max_frame_len: 1000, ..Limits::default() };
        assert_eq!(frame(1000).len(), 1000);
        assert!(matches!(decode_with(limits, &frame(1000)), Ok(Some(Value::Bulk(_)))));
        assert!(matches!(decode_with(limits, &frame(1001)), Err(Error::Protocol(_))));
    }

    #[test]
    fn decoded_size_is_capped_by_max_decoded_bytes() {
        let limits = Limits { max_decoded_bytes: 10 * VALUE_SIZE, ..Limits::default() };
        let ints = |n: usize| [format!("*{n}\r\n").into_bytes(), b":1\r\n".repeat(n)].concat();
        assert!(matches!(decode_with(limits, &ints(10)), Ok(Some(Value::Array(_)))));
        // Refused on its header, the elements not even sent.
        let got = decode_with(limits, b"*11\r\n");
        assert!(matches!(&got, Err(Error::Protocol(m)) if m.contains("max_decoded_bytes")), "{got:?}");
        // Each array small, their sum over: refused as the sum passes.
        let nested = [&b"*2\r\n"[..], &ints(5), b"*5\r\n"].concat();
        let got = decode_with(limits, &nested);
        assert!(matches!(&got, Err(Error::Protocol(m)) if m.contains("max_decoded_bytes")), "{got:?}");
        // Bulk strings cost one value each (their bytes are the frame's).
        let bulks = [&b"*11\r\n"[..], &b"$1\r\nx\r\n".repeat(11)].concat();
        assert!(matches!(decode_with(limits, &bulks), Err(Error::Protocol(_))));
        // By default: a 90 MB reply of `_` (30 million values, 1.2 GB) is refused.
        let got = decode_all(b"*30000000\r\n_\r\n");
        assert!(matches!(&got, Err(Error::Protocol(m)) if m.contains("max_decoded_bytes")), "{got:?}");
    }

    #[test]
    fn endless_replies_are_refused_before_they_are_buffered() {
        let limits = Limits { max_frame_len: 1 << 20, ..Limits::default() };
        // A bulk or an array announcing more than fits: refused on its header.
        for header in [&b"$536870912\r\n"[..], b"*4294967295\r\n", b"%100000000\r\n", b"*2\r\n*1000000\r\n"] {
            let got = decode_with(limits, header);
            assert!(matches!(&got, Err(Error::Protocol(m)) if m.contains("max_frame_len")), "{got:?}");
        }
        // The default cap refuses an array of 2^32 elements on its header too.
        assert!(matches!(decode_all(b"*4294967296\r\n"), Err(Error::Protocol(_))));
        // An array of arrays, each announcing little: refused once the bytes
        // buffered pass the cap (4 MB would complete it), not later.
        let limits = Limits { max_elements: 1000, max_frame_len: 1 << 20, ..Limits::default() };
        let mut d = Decoder::new(limits);
        let mut buf = BytesMut::from(&b"*1000\r\n"[..]);
        let mut fed = buf.len();
        // 16 elements of the outer array per read.
        let chunk = [&b"*1000\r\n"[..], &b":1\r\n".repeat(1000)].concat().repeat(16);
        loop {
            match d.decode(&mut buf) {
                Ok(None) => {
                    buf.extend_from_slice(&chunk);
                    fed += chunk.len();
                }
                Ok(Some(v)) => panic!("decoded {v:?}"),
                Err(e) => {
                    assert!(matches!(&e, Error::Protocol(m) if m.contains("max_frame_len")), "{e:?}");
                    break;
                }
            }
        }
        assert!(fed <= (1 << 20) + chunk.len(), "buffered {fed} bytes");
    }

    #[test]
    fn what_a_partial_aggregate_needs_is_known() {
        // The elements still missing take 3 bytes each at least.
        let mut d = Decoder::default();
        let mut buf = BytesMut::from(&b"*1000\r\n:1\r\n"[..]);
        assert_eq!(d.decode(&mut buf).unwrap(), None);
        assert_eq!(d.bytes_needed(), 7 + 4 + 999 * MIN_FRAME);
        let mut d = Decoder::default();
        let mut buf = BytesMut::from(&b"%2\r\n+k\r\n"[..]);
        assert_eq!(d.decode(&mut buf).unwrap(), None);
        assert_eq!(d.bytes_needed(), 8 + 3 * MIN_FRAME);
    }

    #[test]
    fn garbage_inside_a_partial_reply_is_refused_as_it_arrives() {
        // Found by the decode fuzz target: a bad line inside a long array was
        // only seen once the bytes the array needed at least had arrived, and
        // a server stopping there left the client waiting.
        let mut d = Decoder::default();
        let mut buf = BytesMut::new();
        for &b in b"*1000\r\n*1\r\n:1" {
            buf.extend_from_slice(&[b]);
            assert_eq!(d.decode(&mut buf).unwrap(), None);
        }
        buf.extend_from_slice(b"\n:");
        assert!(matches!(d.decode(&mut buf), Err(Error::Protocol(_))));
    }

    #[test]
    fn a_reply_is_walked_once_however_it_is_split() {
        // Resumed where it stopped: the state after each read is the same
        // as after reading everything at once.
        let input =
            [&b"*3\r\n%1\r\n+k\r\n*2\r\n:1\r\n$3\r\nabc\r\n"[..], b"|1\r\n+a\r\n:1\r\n,1.5\r\n", b"_\r\n"].concat();
        let whole = decode_all(&input).unwrap().unwrap();
        for step in 1..input.len() {
            let mut d = Decoder::default();
            let mut buf = BytesMut::new();
            let mut got = None;
            for chunk in input.chunks(step) {
                buf.extend_from_slice(chunk);
                if let Some(v) = d.decode(&mut buf).unwrap() {
                    got = Some(v);
                }
            }
            assert_eq!(got.as_ref(), Some(&whole), "in pieces of {step}");
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn long_lines_are_refused_whole_or_split() {
        for len in [MAX_LINE - 2, MAX_LINE - 1, MAX_LINE, MAX_LINE + 1] {
            let mut input = vec![b'+'];
            input.extend(std::iter::repeat_n(b'a', len));
            input.extend_from_slice(b"\r\n");
            let whole = decode_all(&input).is_ok();
            let mut d = Decoder::default();
            let mut buf = BytesMut::new();
            let mut split = true;
            for chunk in input.chunks(4096) {
                buf.extend_from_slice(chunk);
                match d.decode(&mut buf) {
                    Ok(_) => {}
                    Err(_) => {
                        split = false;
                        break;
                    }
                }
            }
            assert_eq!(whole, split, "a line of {len} bytes");
        }
    }

    #[test]
    fn incomplete_input_is_none() {
        for input in [&b""[..], b"+OK", b"+OK\r", b"$3\r\nfo", b"*2\r\n:1\r\n", b"%1\r\n+a\r\n"] {
            assert_eq!(decode_all(input).unwrap(), None, "{:?}", String::from_utf8_lossy(input));
        }
    }
}
