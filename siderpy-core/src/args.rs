//! Command arguments: [`ToArg`] for anything that can be sent, and
//! [`CmdArgs`], a command being built whose optional arguments may be given
//! in any order but are sent in the order the spec defines.

use std::borrow::Cow;

use bytes::{Bytes, BytesMut};

use crate::error::{Error, Result};
use crate::resp::{write_array_header, write_bulk};

/// A value that can be sent as one command argument.
///
/// Strings and byte strings are sent as they are; integers and floats as
/// their decimal text (formatted without heap allocation). Implement it for
/// your own types to pass them to typed methods and `execute_cmd`.
pub trait ToArg {
    /// Appends this value to `out` as one RESP bulk string (use
    /// [`write_bulk`](crate::resp::write_bulk)).
    fn write_arg(&self, out: &mut BytesMut);
}

impl<T: ToArg + ?Sized> ToArg for &T {
    fn write_arg(&self, out: &mut BytesMut) {
        (**self).write_arg(out)
    }
}

macro_rules! bytes_like {
    ($($t:ty),*) => {$(
        impl ToArg for $t {
            fn write_arg(&self, out: &mut BytesMut) {
                write_bulk(out, AsRef::<[u8]>::as_ref(self))
            }
        }
    )*};
}
bytes_like!(str, String, [u8], Vec<u8>, Bytes, BytesMut, Cow<'_, [u8]>);

impl ToArg for Cow<'_, str> {
    fn write_arg(&self, out: &mut BytesMut) {
        write_bulk(out, self.as_bytes())
    }
}

impl<const N: usize> ToArg for [u8; N] {
    fn write_arg(&self, out: &mut BytesMut) {
        write_bulk(out, self)
    }
}

macro_rules! integer {
    ($($t:ty),*) => {$(
        impl ToArg for $t {
            fn write_arg(&self, out: &mut BytesMut) {
                write_bulk(out, itoa::Buffer::new().format(*self).as_bytes())
            }
        }
    )*};
}
// Not `u8`: a `Vec<u8>`, `[u8]` or `Bytes` is one byte-string argument, and
// with `u8` an argument too, each would also be a list of arguments to
// [`Multiple`], which could not tell the two apart.
integer!(i8, i16, i32, i64, i128, isize, u16, u32, u64, u128, usize);

macro_rules! float {
    ($($t:ty),*) => {$(
        /// Sent as the shortest text that reads back as the same value;
        /// infinities as `inf` / `-inf`, which Redis accepts for scores.
        impl ToArg for $t {
            fn write_arg(&self, out: &mut BytesMut) {
                if self.is_finite() {
                    write_bulk(out, ryu::Buffer::new().format_finite(*self).as_bytes())
                } else if self.is_nan() {
                    write_bulk(out, b"nan")
                } else if *self > 0.0 {
                    write_bulk(out, b"inf")
                } else {
                    write_bulk(out, b"-inf")
                }
            }
        }
    )*};
}
float!(f32, f64);

/// One argument or several, where the spec takes several (keys, members,
/// channels, values): `redis.delete("k")` and `redis.delete(["a", "b"])`
/// both work, as does any iterator of arguments.
///
/// `M` is [`One`] or [`Several`]; it only lets both kinds of value implement
/// the trait, and is inferred. Byte strings (`Vec<u8>`, `&[u8]`, `Bytes`) are
/// one argument.
///
/// # Examples
/// ```no_run
/// # extern crate siderpy_core as siderpy;
/// # async fn f(redis: siderpy::Redis) -> siderpy::Result<()> {
/// use siderpy::prelude::*;
/// redis.lpush("jobs", "a").await?;
/// redis.lpush("jobs", ["b", "c"]).await?;
/// let job = redis.blpop("jobs", 0).await?;
/// let keys = vec![String::from("jobs")];
/// redis.delete(&keys).await?;
/// # Ok(()) }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is neither one argument nor a list of arguments",
    label = "expected a string, a number, bytes, or a collection or iterator of them",
    note = "one argument implements `ToArg`; a list is any `IntoIterator` whose items implement `ToArg`"
)]
pub trait Multiple<M> {
    /// The type of each argument.
    type Item: ToArg;
    /// The arguments, in order.
    type IntoArgs: Iterator<Item = Self::Item>;
    /// The arguments, in order.
    fn into_args(self) -> Self::IntoArgs;
}

/// [`Multiple`]'s and [`Tuples`]' marker for a single item.
#[derive(Debug)]
pub enum One {}

/// [`Multiple`]'s and [`Tuples`]' marker for a collection or iterator of items.
#[derive(Debug)]
pub enum Several {}

impl<T: ToArg> Multiple<One> for T {
    type Item = T;
    type IntoArgs = std::iter::Once<T>;
    fn into_args(self) -> Self::IntoArgs {
        std::iter::once(self)
    }
}

impl<I> Multiple<Several> for I
where
    I: IntoIterator,
    I::Item: ToArg,
{
    type Item = I::Item;
    type IntoArgs = I::IntoIter;
    fn into_args(self) -> Self::IntoArgs {
        self.into_iter()
    }
}

/// One tuple or several, where the spec repeats a block of arguments
/// (HSET's field and value, ZADD's score and member, GEOADD's longitude,
/// latitude and member): `redis.hset("h", ("f", "v"))` and
/// `redis.hset("h", [("f", "v"), ("g", "w")])` both work, as does any
/// iterator of tuples. The method's signature says what each position takes.
///
/// `M` is [`One`] or [`Several`], as for [`Multiple`].
///
/// # Examples
/// ```no_run
/// # extern crate siderpy_core as siderpy;
/// # async fn f(redis: siderpy::Redis) -> siderpy::Result<()> {
/// use siderpy::prelude::*;
/// redis.zadd("scores", (1.5, "ann")).await?;
/// redis.zadd("scores", [(2, "bob"), (3, "cy")]).await?;
/// let fields = vec![("name", "Ada"), ("lang", "en")];
/// redis.hset("user:1", fields).await?;
/// # Ok(()) }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is neither a tuple nor a list of tuples",
    label = "expected a tuple such as (field, value), or a collection or iterator of them",
    note = "the command repeats a block of arguments: pass one as a tuple, several as any `IntoIterator` of tuples"
)]
pub trait Tuples<M> {
    /// The type of each tuple.
    type Item;
    /// The tuples, in order.
    type IntoArgs: Iterator<Item = Self::Item>;
    /// The tuples, in order.
    fn into_args(self) -> Self::IntoArgs;
}

// Each tuple length the spec's blocks need (GEOADD's is the longest, 3),
// with room for a module's; the macro's `one_or_many` offers `Tuples` up
// to this length (6) and a plain `IntoIterator` past it.
macro_rules! one_tuple {
    ($($t:ident),+) => {
        impl<$($t),+> Tuples<One> for ($($t,)+) {
            type Item = Self;
            type IntoArgs = std::iter::Once<Self>;
            fn into_args(self) -> Self::IntoArgs {
                std::iter::once(self)
            }
        }
    };
}
one_tuple!(A);
one_tuple!(A, B);
one_tuple!(A, B, C);
one_tuple!(A, B, C, D);
one_tuple!(A, B, C, D, E);
one_tuple!(A, B, C, D, E, F);

// A tuple is never an iterator, so the two never both apply.
impl<I: IntoIterator> Tuples<Several> for I {
    type Item = I::Item;
    type IntoArgs = I::IntoIter;
    fn into_args(self) -> Self::IntoArgs {
        self.into_iter()
    }
}

/// A struct written as field/value pairs, as `HSET` and `XADD` take them:
/// derive it (`#[derive(ToArgs)]`) and pass `&value`.
///
/// # Examples
/// ```no_run
/// # extern crate siderpy_core as siderpy;
/// # async fn f(redis: siderpy::Redis) -> siderpy::Result<()> {
/// use siderpy::prelude::*;
/// use siderpy::{FromValue, ToArgs};
///
/// #[derive(ToArgs, FromValue, Debug, PartialEq)]
/// struct User {
///     name: String,
///     #[siderpy(rename = "mail")]
///     email: Option<String>,
///     visits: i64,
/// }
///
/// let ada = User { name: "Ada".into(), email: None, visits: 3 };
/// redis.hset("user:1", &ada).await?;
/// let back: Option<User> = redis.hgetall("user:1").returning().await?;
/// assert_eq!(back, Some(ada));
/// # Ok(()) }
/// ```
pub trait ToArgs {
    /// The fields that have a value, as (name on the wire, value) pairs.
    fn field_values(&self) -> Vec<(&'static str, Arg)>;
}

/// A value for an argument the spec types `double` (a score, a radius, a
/// weight...): any number, or a score bound such as [`Exclusive`].
///
/// Integers are accepted as they are (`zadd("z", [(1, "a")])`); strings are
/// not, so a typo cannot reach the server as a score.
pub trait DoubleArg: ToArg {}

macro_rules! double_arg {
    ($($t:ty),*) => {$( impl DoubleArg for $t {} )*};
}
double_arg!(f64, f32, i8, i16, i32, i64, isize, u16, u32, u64, usize);

/// An exclusive score bound: `Exclusive(2.5)` is sent as `(2.5`, as in
/// `ZRANGEBYSCORE z (2.5 +inf` ("scores greater than 2.5").
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exclusive(pub f64);

impl ToArg for Exclusive {
    fn write_arg(&self, out: &mut BytesMut) {
        let mut text = String::with_capacity(24);
        text.push('(');
        if self.0.is_finite() {
            text.push_str(ryu::Buffer::new().format_finite(self.0));
        } else if self.0 > 0.0 {
            text.push_str("+inf");
        } else {
            text.push_str("-inf");
        }
        write_bulk(out, text.as_bytes())
    }
}

impl DoubleArg for Exclusive {}

/// A command under construction: its name and encoded arguments.
///
/// Arguments are encoded as they are given, each into a segment tagged with
/// its position (`slot`) in the command's syntax. Segments are sent sorted by
/// slot, so optional arguments can be chained in any order; giving a slot
/// again replaces what it held (for mutually exclusive options, the last
/// choice wins).
#[derive(Debug, Clone, Default)]
pub struct CmdArgs {
    buf: BytesMut,
    segs: Segs,
    /// Segments are already in slot order with nothing replaced: `buf` can be
    /// sent as it is.
    ordered: bool,
}

#[derive(Debug, Clone, Copy, Default)]
struct Seg {
    slot: u16,
    start: u32,
    end: u32,
    /// How many RESP bulk strings the segment holds.
    count: u32,
}

/// Segments kept inline up to this many: a name and a few arguments, which
/// is most commands, cost no allocation of their own.
const INLINE_SEGS: usize = 4;

/// The segments of a command: inline while few, then on the heap.
#[derive(Clone)]
enum Segs {
    Inline(u8, [Seg; INLINE_SEGS]),
    Heap(Vec<Seg>),
}

impl Default for Segs {
    fn default() -> Self {
        Segs::Inline(0, [Seg::default(); INLINE_SEGS])
    }
}

impl std::fmt::Debug for Segs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl Segs {
    fn one(seg: Seg) -> Self {
        let mut segs = [Seg::default(); INLINE_SEGS];
        segs[0] = seg;
        Segs::Inline(1, segs)
    }

    fn as_slice(&self) -> &[Seg] {
        match self {
            Segs::Inline(n, segs) => &segs[..usize::from(*n)],
            Segs::Heap(v) => v,
        }
    }

    fn as_mut_slice(&mut self) -> &mut [Seg] {
        match self {
            Segs::Inline(n, segs) => &mut segs[..usize::from(*n)],
            Segs::Heap(v) => v,
        }
    }

    fn push(&mut self, seg: Seg) {
        match self {
            Segs::Inline(n, segs) if usize::from(*n) < INLINE_SEGS => {
                segs[usize::from(*n)] = seg;
                *n += 1;
            }
            Segs::Inline(_, segs) => {
                let mut v = Vec::with_capacity(INLINE_SEGS * 2);
                v.extend_from_slice(segs);
                v.push(seg);
                *self = Segs::Heap(v);
            }
            Segs::Heap(v) => v.push(seg),
        }
    }

    fn remove(&mut self, pos: usize) {
        match self {
            Segs::Inline(n, segs) => {
                segs.copy_within(pos + 1..usize::from(*n), pos);
                *n -= 1;
            }
            Segs::Heap(v) => {
                v.remove(pos);
            }
        }
    }
}

/// A command's arguments as a request holds them. Owned ones are dropped
/// as soon as they are queued, so that a large value is held once (in the
/// write buffer, until written) while the reply is awaited; borrowed ones
/// belong to a caller that may send them again (the cluster, on a
/// redirect).
pub(crate) enum Outgoing<'a> {
    Owned(CmdArgs),
    Borrowed(&'a CmdArgs),
}

impl std::ops::Deref for Outgoing<'_> {
    type Target = CmdArgs;

    fn deref(&self) -> &CmdArgs {
        match self {
            Outgoing::Owned(args) => args,
            Outgoing::Borrowed(args) => args,
        }
    }
}

impl From<CmdArgs> for Outgoing<'_> {
    fn from(args: CmdArgs) -> Self {
        Outgoing::Owned(args)
    }
}

impl<'a> From<&'a CmdArgs> for Outgoing<'a> {
    fn from(args: &'a CmdArgs) -> Self {
        Outgoing::Borrowed(args)
    }
}

impl CmdArgs {
    /// A command with a fixed name; `name` is its words, already encoded as
    /// bulk strings (`$6\r\nCLIENT\r\n$4\r\nKILL\r\n`), `words` how many.
    pub fn with_encoded_name(name: &[u8], words: u32) -> Self {
        let mut buf = BytesMut::with_capacity(name.len() + 64);
        buf.extend_from_slice(name);
        CmdArgs { buf, segs: Segs::one(Seg { slot: 0, start: 0, end: name.len() as u32, count: words }), ordered: true }
    }

    /// A command whose name is only known at run time. A name with spaces
    /// (`"CLIENT LIST"`) is sent as several words.
    pub fn with_name(name: &str) -> Self {
        let mut args = CmdArgs { buf: BytesMut::with_capacity(64), segs: Segs::default(), ordered: true };
        let mut count = 0;
        for word in name.split_ascii_whitespace() {
            write_bulk(&mut args.buf, word.as_bytes());
            count += 1;
        }
        args.segs.push(Seg { slot: 0, start: 0, end: args.buf.len() as u32, count });
        args
    }

    /// Starts (or restarts) the segment of `slot`: what is written until the
    /// next call belongs to it, and replaces anything the slot held before.
    fn open(&mut self, slot: u16) {
        if let Some(pos) = self.segs.as_slice().iter().position(|s| s.slot == slot) {
            self.segs.remove(pos);
            self.ordered = false;
        }
        if self.segs.as_slice().last().is_some_and(|last| last.slot > slot) {
            self.ordered = false;
        }
        let at = self.buf.len() as u32;
        self.segs.push(Seg { slot, start: at, end: at, count: 0 });
    }

    fn close(&mut self, count: u32) {
        let end = self.buf.len() as u32;
        let seg = self.segs.as_mut_slice().last_mut().expect("open before close");
        seg.end = end;
        seg.count = count;
    }

    /// Sets `slot` to one argument.
    pub fn arg(&mut self, slot: u16, value: impl ToArg) {
        self.open(slot);
        value.write_arg(&mut self.buf);
        self.close(1);
    }

    /// Sets `slot` to a token followed by one argument (`EX 10`).
    pub fn token_arg(&mut self, slot: u16, token: &str, value: impl ToArg) {
        self.open(slot);
        write_bulk(&mut self.buf, token.as_bytes());
        value.write_arg(&mut self.buf);
        self.close(2);
    }

    /// Sets `slot` to a bare token (`NX`).
    pub fn token(&mut self, slot: u16, token: &str) {
        self.open(slot);
        write_bulk(&mut self.buf, token.as_bytes());
        self.close(1);
    }

    /// Sets `slot` to any number of arguments written by `write`, which gets
    /// the buffer and returns how many bulk strings it wrote.
    pub fn custom(&mut self, slot: u16, write: impl FnOnce(&mut BytesMut) -> u32) {
        self.open(slot);
        let count = write(&mut self.buf);
        self.close(count);
    }

    /// Sets `slot` to every item of `values` (a `multiple` argument), each
    /// preceded by `token` when given (a `multiple_token` argument).
    pub fn multiple<T: ToArg>(&mut self, slot: u16, token: Option<&str>, values: impl IntoIterator<Item = T>) {
        self.custom(slot, |buf| {
            let mut n = 0;
            for v in values {
                if let Some(t) = token {
                    write_bulk(buf, t.as_bytes());
                    n += 1;
                }
                v.write_arg(buf);
                n += 1;
            }
            n
        })
    }

    /// Appends an argument after everything else (raw `execute_cmd` use).
    pub fn push(&mut self, value: impl ToArg) {
        let slot = self.segs.as_slice().last().map_or(0, |s| s.slot.saturating_add(1));
        self.arg(slot, value);
    }

    /// Refuses a command with no name (`execute_cmd("", ..)`, or only
    /// spaces): sent, it would be `*0`, which Redis ignores without a reply,
    /// so every later reply on the connection would go to the wrong caller;
    /// with arguments, the first would be taken as the command.
    ///
    /// # Errors
    /// [`Error::Usage`] when the name has no words.
    pub(crate) fn check_name(&self) -> Result<()> {
        match self.segs.as_slice().iter().find(|s| s.slot == 0) {
            Some(name) if name.count > 0 => Ok(()),
            _ => Err(Error::Usage("a command needs a name: execute_cmd was given an empty one".into())),
        }
    }

    /// Whether `slot` has been given.
    pub fn has(&self, slot: u16) -> bool {
        self.segs.as_slice().iter().any(|s| s.slot == slot)
    }

    /// Number of bulk strings in the command, name included.
    pub fn len(&self) -> usize {
        self.segs.as_slice().iter().map(|s| s.count as usize).sum()
    }

    /// True when not even a name was given.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The command name as sent (its first word, or words for containers),
    /// for error messages.
    pub fn name(&self) -> String {
        let Some(first) = self.segs.as_slice().iter().find(|s| s.slot == 0) else { return String::new() };
        let mut words = Vec::new();
        let mut rest = &self.buf[first.start as usize..first.end as usize];
        // Each word is `$<len>\r\n<bytes>\r\n`.
        while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
            let len: usize = std::str::from_utf8(&rest[1..nl - 1]).ok().and_then(|s| s.parse().ok()).unwrap_or(0);
            let word = rest.get(nl + 1..nl + 1 + len).unwrap_or_default();
            words.push(String::from_utf8_lossy(word).to_uppercase());
            rest = rest.get(nl + 1 + len + 2..).unwrap_or_default();
        }
        words.join(" ")
    }

    /// Every bulk string of the command, name words included, in the order
    /// they are sent (slot order, as [`write_frame`](Self::write_frame)):
    /// what a cluster router finds keys in. The slices borrow the command's
    /// buffer; nothing is copied.
    ///
    /// A [`ToArg`] is bound to write bulk strings; should one write
    /// anything else, the list ends where that begins.
    pub fn words(&self) -> Vec<&[u8]> {
        let mut words = Vec::with_capacity(self.len());
        for part in self.parts_in_order() {
            words.extend(Words(part));
        }
        words
    }

    /// The bulk string at `index` as sent (0 is the name's first word),
    /// without listing the others: what routing a one-key command needs.
    pub(crate) fn word(&self, index: usize) -> Option<&[u8]> {
        if self.ordered {
            // The segments are in order, back to back: only the one that
            // holds the word is read (a cache lookup comes here for every
            // read's key).
            let mut index = index;
            for s in self.segs.as_slice() {
                let count = s.count as usize;
                if index < count {
                    return Words(&self.buf[s.start as usize..s.end as usize]).nth(index);
                }
                index -= count;
            }
            return None;
        }
        self.words().get(index).copied()
    }

    /// Every bulk string of the command as sent, back to back (no array
    /// header: they delimit themselves): a cache's key for the command.
    pub(crate) fn sent_bytes(&self) -> std::borrow::Cow<'_, [u8]> {
        if self.ordered {
            return std::borrow::Cow::Borrowed(&self.buf[..]);
        }
        std::borrow::Cow::Owned(self.parts_in_order().concat())
    }

    /// The segments' bytes in the order they are sent.
    fn parts_in_order(&self) -> Vec<&[u8]> {
        if self.ordered {
            return vec![&self.buf[..]];
        }
        self.segs_in_order().into_iter().map(|s| &self.buf[s.start as usize..s.end as usize]).collect()
    }

    /// The segments in the order they are sent: by slot, and stable, so
    /// that equal slots keep their order. One sort for every caller, so
    /// that it is compiled once.
    fn segs_in_order(&self) -> Vec<&Seg> {
        let mut order: Vec<&Seg> = self.segs.as_slice().iter().collect();
        order.sort_by_key(|s| s.slot);
        order
    }

    /// Writes every argument (name included, if any) to `out` without the
    /// array header; returns how many bulk strings that is.
    pub(crate) fn write_body(&self, out: &mut BytesMut) -> u32 {
        let order = self.segs_in_order();
        for s in &order {
            out.extend_from_slice(&self.buf[s.start as usize..s.end as usize]);
        }
        order.iter().map(|s| s.count).sum()
    }

    /// About how many bytes [`write_frame`](Self::write_frame) writes (exact
    /// but for the array header's digits), to reserve room up front.
    pub(crate) fn frame_len_hint(&self) -> usize {
        self.buf.len() + 16
    }

    /// Writes the whole command, as a RESP array, to `out`.
    pub fn write_frame(&self, out: &mut BytesMut) {
        out.reserve(self.frame_len_hint());
        write_array_header(out, self.len());
        if self.ordered {
            out.extend_from_slice(&self.buf);
            return;
        }
        for s in self.segs_in_order() {
            out.extend_from_slice(&self.buf[s.start as usize..s.end as usize]);
        }
    }
}

/// The bytes of the bulk string (`$<len>\r\n<bytes>\r\n`) `buf` starts
/// with, and what follows it.
fn bulk(buf: &[u8]) -> Option<(&[u8], &[u8])> {
    // One pass, by hand, with slice patterns rather than slice equality (a
    // `memcmp` call each): a cache lookup reads its key this way, on every
    // read.
    let [b'$', after @ ..] = buf else { return None };
    let mut rest = after;
    let mut len = 0usize;
    let mut digits = 0;
    while let [d @ b'0'..=b'9', tail @ ..] = rest {
        len = len.checked_mul(10)?.checked_add(usize::from(*d - b'0'))?;
        rest = tail;
        digits += 1;
    }
    let [b'\r', b'\n', body @ ..] = rest else { return None };
    if digits == 0 {
        return None;
    }
    let (word, tail) = body.split_at_checked(len)?;
    let [b'\r', b'\n', tail @ ..] = tail else { return None };
    Some((word, tail))
}

/// The bulk strings of encoded arguments, one by one.
struct Words<'a>(&'a [u8]);

impl<'a> Iterator for Words<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let (word, rest) = bulk(self.0)?;
        self.0 = rest;
        Some(word)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(args: &CmdArgs) -> String {
        let mut out = BytesMut::new();
        args.write_frame(&mut out);
        String::from_utf8(out.to_vec()).unwrap().replace("\r\n", " ")
    }

    #[test]
    fn words_are_read_as_sent() {
        let mut a = CmdArgs::with_name("CLIENT KILL");
        a.arg(1, "id");
        a.arg(2, 1234567890123u64);
        assert_eq!(a.word(1), Some(&b"KILL"[..]));
        assert_eq!(a.word(3), Some(&b"1234567890123"[..]));
        assert_eq!(a.word(4), None);
        let mut b = CmdArgs::with_name("SET");
        b.arg(2, "v");
        b.arg(1, "k");
        assert_eq!((b.word(1), b.word(2)), (Some(&b"k"[..]), Some(&b"v"[..])));
        assert_eq!(bulk(b"$2\r\nab\r\nrest"), Some((&b"ab"[..], &b"rest"[..])));
        for bad in [&b"$\r\n\r\n"[..], b"$2\r\nab", b"$2\nab\r\n", b"$99999999999999999999999\r\n", b"*1\r\n"] {
            assert_eq!(bulk(bad), None);
        }
    }

    #[test]
    fn options_are_sent_in_slot_order_and_last_choice_wins() {
        let mut a = CmdArgs::with_name("SET");
        a.arg(1, "k");
        a.arg(2, "v");
        a.token_arg(5, "EX", 10);
        a.token(3, "NX");
        a.token(3, "XX");
        a.token_arg(5, "PX", 1500);
        assert_eq!(frame(&a), "*6 $3 SET $1 k $1 v $2 XX $2 PX $4 1500 ");
        assert_eq!(a.name(), "SET");
    }

    #[test]
    fn encoded_args() {
        let a = Arg::from("Palermo");
        assert_eq!(format!("{a:?}"), "Arg(\"Palermo\")");
        assert_eq!(a, Arg::new(String::from("Palermo")));
        let mut c = CmdArgs::with_name("X");
        c.arg(1, Arg::from(-1.5f64));
        assert_eq!(frame(&c), "*2 $1 X $4 -1.5 ");
        let mut body = BytesMut::new();
        assert_eq!(c.write_body(&mut body), 2);
    }

    #[test]
    fn numbers_and_multiword_names() {
        let mut a = CmdArgs::with_name("client kill");
        a.push(-5i64);
        a.push(2.5f64);
        a.push(f64::NEG_INFINITY);
        a.multiple(9, Some("ID"), [1u32, 2]);
        assert_eq!(frame(&a), "*9 $6 client $4 kill $2 -5 $3 2.5 $4 -inf $2 ID $1 1 $2 ID $1 2 ");
        assert_eq!(a.name(), "CLIENT KILL");
    }

    #[test]
    fn words_in_the_order_sent() {
        let mut a = CmdArgs::with_encoded_name(b"$6\r\nCLIENT\r\n$4\r\nKILL\r\n", 2);
        let empty: &[u8] = b"";
        assert_eq!(a.words(), [&b"CLIENT"[..], b"KILL"]);
        a.token_arg(4, "ID", 7);
        a.arg(1, empty);
        a.multiple(2, None, ["a\r\nb", "$3"]);
        a.token(4, "SKIPME");
        a.token(3, "NX");
        let words: Vec<&[u8]> = a.words();
        assert_eq!(words, [&b"CLIENT"[..], b"KILL", b"", b"a\r\nb", b"$3", b"NX", b"SKIPME"]);
        // The same as sent.
        let sent: Vec<String> =
            words.iter().map(|w| format!("${}\r\n{}\r\n", w.len(), String::from_utf8_lossy(w))).collect();
        assert_eq!(frame(&a), format!("*7\r\n{}", sent.concat()).replace("\r\n", " "));
        // Zero-copy: the words point into the command's buffer.
        let range = a.buf.as_ptr_range();
        assert!(words.iter().all(|w| range.contains(&w.as_ptr()) || w.is_empty()));
        // In order already (no slot given twice, none out of order).
        let mut b = CmdArgs::with_name("mset");
        b.push("k");
        b.push(1.5);
        assert!(b.ordered);
        assert_eq!(b.words(), [&b"mset"[..], b"k", b"1.5"]);
        assert!(CmdArgs::default().words().is_empty());
    }

    #[test]
    fn a_command_needs_a_name() {
        for empty in ["", "   ", " \t "] {
            let mut a = CmdArgs::with_name(empty);
            assert!(matches!(a.check_name(), Err(Error::Usage(_))), "{empty:?}");
            a.push("GET");
            assert!(matches!(a.check_name(), Err(Error::Usage(_))), "{empty:?} with arguments");
        }
        assert!(CmdArgs::default().check_name().is_err());
        assert!(CmdArgs::with_name(" client  list ").check_name().is_ok());
        assert!(CmdArgs::with_encoded_name(b"$3\r\nGET\r\n", 1).check_name().is_ok());
    }

    #[test]
    fn words_stop_at_what_is_not_a_bulk_string() {
        struct Bad(&'static [u8]);
        impl ToArg for Bad {
            fn write_arg(&self, out: &mut BytesMut) {
                out.extend_from_slice(self.0)
            }
        }
        for bad in
            [&b"oops"[..], b"$", b"$x\r\n", b"$5\r\nab\r\n", b"$2\r\nab", b"$2\nab\r\n", b"$99999999999999999999\r\n"]
        {
            let mut a = CmdArgs::with_name("GET");
            a.arg(1, Bad(bad));
            a.arg(2, "after");
            assert_eq!(a.words(), [&b"GET"[..]], "{bad:?}");
        }
        let mut a = CmdArgs::with_name("GET");
        a.arg(1, Bad(b"$1\r\nk\r\n"));
        assert_eq!(a.words(), [&b"GET"[..], b"k"]);
    }
}

/// One argument, already encoded: what the string-valued parts of the
/// generated argument enums ([`types`](crate::types)) and of optional
/// pieces hold, since those cannot be generic.
///
/// Made from strings, byte strings and numbers with `.into()`, or from any
/// [`ToArg`] with [`Arg::new`].
///
/// ```
/// # extern crate siderpy_core as siderpy;
/// use siderpy::types::GeosearchFrom;
/// let from = GeosearchFrom::Frommember("Palermo".into());
/// # let _ = from;
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Arg(Bytes);

impl Arg {
    /// Encodes `value`.
    pub fn new(value: impl ToArg) -> Arg {
        let mut out = BytesMut::new();
        value.write_arg(&mut out);
        Arg(out.freeze())
    }
}

impl ToArg for Arg {
    fn write_arg(&self, out: &mut BytesMut) {
        out.extend_from_slice(&self.0)
    }
}

impl std::fmt::Debug for Arg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `$<len>\r\n<bytes>\r\n`: show the bytes.
        let body = self.0.iter().position(|&b| b == b'\n').map_or(&self.0[..], |nl| &self.0[nl + 1..self.0.len() - 2]);
        write!(f, "Arg({:?})", String::from_utf8_lossy(body))
    }
}

macro_rules! arg_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Arg {
            fn from(value: $t) -> Arg {
                Arg::new(value)
            }
        }
    )*};
}
arg_from!(&str, String, &String, Cow<'_, str>, &[u8], Vec<u8>, Bytes, &Bytes);
arg_from!(i8, i16, i32, i64, i128, isize, u16, u32, u64, u128, usize, f32, f64);

impl<const N: usize> From<&[u8; N]> for Arg {
    fn from(value: &[u8; N]) -> Arg {
        Arg::new(value)
    }
}

/// The arguments of a raw [`execute_cmd`](crate::Commands::execute_cmd)
/// call: an array, `Vec` or slice of one argument type, or a tuple of mixed
/// ones (`("key", 10, 2.5)`), or `()` for none.
pub trait Args {
    /// Appends every argument to `cmd`.
    fn push_to(self, cmd: &mut CmdArgs);
}

impl Args for () {
    fn push_to(self, _: &mut CmdArgs) {}
}

impl<T: ToArg, const N: usize> Args for [T; N] {
    fn push_to(self, cmd: &mut CmdArgs) {
        cmd.multiple(1, None, self)
    }
}

impl<T: ToArg> Args for Vec<T> {
    fn push_to(self, cmd: &mut CmdArgs) {
        cmd.multiple(1, None, self)
    }
}

impl<T: ToArg> Args for &[T] {
    fn push_to(self, cmd: &mut CmdArgs) {
        cmd.multiple(1, None, self)
    }
}

macro_rules! tuple_args {
    ($($t:ident),+) => {
        impl<$($t: ToArg),+> Args for ($($t,)+) {
            #[allow(non_snake_case)]
            fn push_to(self, cmd: &mut CmdArgs) {
                let ($($t,)+) = self;
                cmd.custom(1, |buf| {
                    let mut n = 0;
                    $( $t.write_arg(buf); n += 1; )+
                    n
                })
            }
        }
    };
}
tuple_args!(A);
tuple_args!(A, B);
tuple_args!(A, B, C);
tuple_args!(A, B, C, D);
tuple_args!(A, B, C, D, E);
tuple_args!(A, B, C, D, E, F);
tuple_args!(A, B, C, D, E, F, G);
tuple_args!(A, B, C, D, E, F, G, H);
tuple_args!(A, B, C, D, E, F, G, H, I);
tuple_args!(A, B, C, D, E, F, G, H, I, J);
tuple_args!(A, B, C, D, E, F, G, H, I, J, K);
tuple_args!(A, B, C, D, E, F, G, H, I, J, K, L);
