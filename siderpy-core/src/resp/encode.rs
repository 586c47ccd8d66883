//! Encoding commands: an array of bulk strings, written straight into the
//! output buffer with no per-argument allocation.

use bytes::{BufMut, BytesMut};

/// Writes `*<n>\r\n`.
pub fn write_array_header(out: &mut BytesMut, n: usize) {
    let mut num = itoa::Buffer::new();
    let digits = num.format(n).as_bytes();
    out.reserve(3 + digits.len());
    out.put_u8(b'*');
    out.put_slice(digits);
    out.put_slice(b"\r\n");
}

/// Writes one bulk string: `$<len>\r\n<bytes>\r\n`.
pub fn write_bulk(out: &mut BytesMut, arg: &[u8]) {
    let mut num = itoa::Buffer::new();
    let digits = num.format(arg.len()).as_bytes();
    out.reserve(5 + digits.len() + arg.len());
    out.put_u8(b'$');
    out.put_slice(digits);
    out.put_slice(b"\r\n");
    out.put_slice(arg);
    out.put_slice(b"\r\n");
}

/// Writes a whole command whose arguments are already byte strings.
pub fn write_command<'a>(out: &mut BytesMut, args: impl ExactSizeIterator<Item = &'a [u8]>) {
    write_array_header(out, args.len());
    for a in args {
        write_bulk(out, a);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_is_an_array_of_bulk_strings() {
        let mut out = BytesMut::new();
        write_command(&mut out, [&b"SET"[..], b"key", b""].into_iter());
        assert_eq!(&out[..], b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$0\r\n\r\n");
    }
}
