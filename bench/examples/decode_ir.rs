//! A fixed amount of decoding, for instruction counts under
//! `valgrind --tool=callgrind` (deterministic, unlike wall-clock timings on
//! a shared machine): `cargo run --release --example decode_ir -- array 1000`.

use bytes::BytesMut;
use siderpy::resp::{Decoder, Limits};

fn main() {
    let mut args = std::env::args().skip(1);
    let what = args.next().unwrap_or_else(|| "array".into());
    let times: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(1000);
    let input: Vec<u8> = match what.as_str() {
        "array" => {
            let mut v = b"*1000\r\n".to_vec();
            for i in 0..1000 {
                v.extend_from_slice(format!("$10\r\nvalue-{i:04}\r\n").as_bytes());
            }
            v
        }
        "ok" => b"+OK\r\n".repeat(1000),
        "bulk" => b"$3\r\nabc\r\n".repeat(1000),
        other => panic!("unknown input {other}"),
    };
    let mut decoder = Decoder::new(Limits::default());
    let mut buf = BytesMut::with_capacity(input.len());
    let mut n = 0;
    for _ in 0..times {
        buf.clear();
        buf.extend_from_slice(&input);
        while let Some(v) = decoder.decode(&mut buf).unwrap() {
            n += 1;
            std::hint::black_box(v);
        }
    }
    println!("{n} values");
}
