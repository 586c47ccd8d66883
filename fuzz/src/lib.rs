//! What the fuzz targets run, as plain functions (the targets are one line
//! each), so the checks can be read, and replayed, without libFuzzer.

#![forbid(unsafe_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use bytes::{Bytes, BytesMut};
use siderpy_core::resp::{Decoder, Limits};
use siderpy_core::{convert as convert_value, parse_url, FromValue, Password, TextPolicy, Value};

/// Caps small enough for short inputs to reach every one of them.
const SMALL: Limits = Limits {
    max_bulk_len: 64,
    max_elements: 8,
    max_depth: 4,
    max_frame_len: 256,
    max_decoded_bytes: 1024,
    max_queued_bytes: 4096,
};

/// How decoding a byte stream ended.
#[derive(Debug, PartialEq)]
enum End {
    /// The last frame is incomplete (or there is none).
    Incomplete,
    /// A protocol error.
    Invalid,
}

/// Decodes `input` fed in pieces of the given sizes (cycled; the last piece
/// may be shorter), returning each frame with where it ends in `input`, and
/// how it ended. Checks on the way that what the decoder says an incomplete
/// frame needs is more than it has, and no more than the frame turned out
/// to take (`ends` from a whole decode, when known).
fn run(input: &[u8], limits: Limits, sizes: &[usize], ends: Option<&[usize]>) -> (Vec<(Value, usize)>, End) {
    let mut decoder = Decoder::new(limits);
    let mut buf = BytesMut::new();
    let mut fed = 0;
    let mut frames = Vec::new();
    let mut sizes = sizes.iter().cycle();
    loop {
        let step = (*sizes.next().expect("sizes is not empty")).max(1);
        let next = (fed + step).min(input.len());
        buf.extend_from_slice(&input[fed..next]);
        fed = next;
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(v)) => frames.push((v, fed - buf.len())),
                Ok(None) => {
                    let need = decoder.bytes_needed();
                    assert!(need > buf.len() || buf.is_empty(), "needs {need} with {} buffered", buf.len());
                    if let Some(&end) = ends.and_then(|e| e.get(frames.len())) {
                        let start = fed - buf.len();
                        assert!(start + need <= end, "claimed {need} bytes for a frame of {}", end - start);
                    }
                    break;
                }
                Err(e) => {
                    assert!(matches!(e, siderpy_core::Error::Protocol(_)), "{e:?}");
                    return (frames, End::Invalid);
                }
            }
        }
        if fed == input.len() {
            return (frames, End::Incomplete);
        }
    }
}

/// Equality that holds for a NaN double too.
fn same(a: &Value, b: &Value) -> bool {
    fn all(a: &[Value], b: &[Value]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
    }
    fn pairs(a: &[(Value, Value)], b: &[(Value, Value)]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|((k1, v1), (k2, v2))| same(k1, k2) && same(v1, v2))
    }
    match (a, b) {
        (Value::Double(x), Value::Double(y)) => x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
        (Value::Array(x), Value::Array(y)) | (Value::Set(x), Value::Set(y)) | (Value::Push(x), Value::Push(y)) => {
            all(x, y)
        }
        (Value::Map(x), Value::Map(y)) => pairs(x, y),
        (Value::Attribute { attributes: a1, value: v1 }, Value::Attribute { attributes: a2, value: v2 }) => {
            pairs(a1, a2) && same(v1, v2)
        }
        _ => a == b,
    }
}

/// The decoder fed all at once, one byte at a time and in pieces of sizes
/// the first input byte picks: same frames, same end, under the default and
/// under small limits.
pub fn decode(data: &[u8]) {
    let Some((&seed, input)) = data.split_first() else { return };
    let pieces = [1 + usize::from(seed & 7), 1 + usize::from(seed >> 3), 2, 5];
    for limits in [Limits::default(), SMALL] {
        let (whole, whole_end) = run(input, limits, &[input.len()], None);
        let ends: Vec<usize> = whole.iter().map(|(_, end)| *end).collect();
        for sizes in [&[1][..], &pieces] {
            let (parts, parts_end) = run(input, limits, sizes, Some(&ends));
            assert_eq!(parts.len(), whole.len(), "frames decoded, in pieces of {sizes:?}");
            for ((a, a_end), (b, b_end)) in whole.iter().zip(&parts) {
                assert!(same(a, b) && a_end == b_end, "{a:?} at {a_end} whole, {b:?} at {b_end} in pieces");
            }
            assert_eq!(whole_end, parts_end, "how decoding ended, in pieces of {sizes:?}");
        }
    }
}

/// `parse_url` on any text: no panic, and what a parsed URL shows does not
/// depend on its password.
pub fn url(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match parse_url(text) {
        Ok(info) => {
            let shown = format!("{info} {info:?}");
            let mut other = info.clone();
            if other.password.is_some() {
                other.password = Some(Password::new("another password"));
            }
            assert_eq!(shown, format!("{other} {other:?}"), "the password shows");
            assert_eq!(parse_url(text).ok(), Some(info));
        }
        Err(e) => drop(format!("{e} {e:?}")),
    }
}

fn try_as<T: FromValue>(v: &Value) {
    for policy in [TextPolicy::Strict, TextPolicy::Replace] {
        if let Err(e) = convert_value::<T>(v.clone(), policy) {
            drop(e.to_string());
        }
    }
}

/// Every value the input decodes to, converted to a range of types: errors
/// are fine, panics are not.
pub fn convert(data: &[u8]) {
    let mut buf = BytesMut::from(data);
    let mut decoder = Decoder::new(Limits { max_frame_len: 1 << 16, ..Limits::default() });
    while let Ok(Some(v)) = decoder.decode(&mut buf) {
        try_as::<Value>(&v);
        try_as::<()>(&v);
        try_as::<bool>(&v);
        try_as::<i64>(&v);
        try_as::<u8>(&v);
        try_as::<u64>(&v);
        try_as::<i128>(&v);
        try_as::<usize>(&v);
        try_as::<f32>(&v);
        try_as::<f64>(&v);
        try_as::<String>(&v);
        try_as::<Bytes>(&v);
        try_as::<Vec<u8>>(&v);
        try_as::<Option<String>>(&v);
        try_as::<Option<Vec<i64>>>(&v);
        try_as::<Vec<String>>(&v);
        try_as::<Vec<Option<Bytes>>>(&v);
        try_as::<Vec<Vec<String>>>(&v);
        try_as::<Vec<(String, f64)>>(&v);
        try_as::<Vec<(Bytes, Bytes, i64)>>(&v);
        try_as::<HashMap<String, i64>>(&v);
        try_as::<HashMap<Bytes, Vec<String>>>(&v);
        try_as::<BTreeMap<String, Value>>(&v);
        try_as::<HashSet<String>>(&v);
        try_as::<BTreeSet<i64>>(&v);
        try_as::<(i64, String)>(&v);
        try_as::<(String, String, i64)>(&v);
        try_as::<(Option<String>, Vec<Value>)>(&v);
        try_as::<Vec<(String, HashMap<String, String>)>>(&v);
        try_as::<(u8, u8, u8, u8, u8, u8, u8, u8, u8, u8, u8, u8)>(&v);
    }
}

#[cfg(test)]
mod tests {
    /// The committed corpus replays clean (`cargo test` in this directory).
    #[test]
    fn corpus_replays() {
        for (target, run) in [("decode", super::decode as fn(&[u8])), ("url", super::url), ("convert", super::convert)] {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(target);
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                run(&std::fs::read(entry.path()).unwrap());
            }
        }
    }
}
