//! Codec micro-benchmarks: siderpy's RESP decoder and command encoder, with
//! the `redis-protocol` crate on the same bytes for comparison.
//!
//! `cargo bench --bench codec` (in `bench/`).

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use siderpy::resp::{Decoder, Limits};

/// `*1000` of 10-byte bulk strings: an `MGET` or `LRANGE` reply.
fn array_1000() -> Vec<u8> {
    let mut v = b"*1000\r\n".to_vec();
    for i in 0..1000 {
        v.extend_from_slice(format!("$10\r\nvalue-{i:04}\r\n").as_bytes());
    }
    v
}

/// One 1 MiB bulk string: a large `GET`.
fn bulk_1mib() -> Vec<u8> {
    let mut v = format!("${}\r\n", 1 << 20).into_bytes();
    v.extend(std::iter::repeat_n(b'x', 1 << 20));
    v.extend_from_slice(b"\r\n");
    v
}

/// A RESP3 map nested 10 deep, each level with a few scalars of every kind
/// and the next level under the last key.
fn nested_map() -> Vec<u8> {
    fn level(out: &mut Vec<u8>, depth: usize) {
        if depth == 0 {
            out.extend_from_slice(b"$5\r\nleaf!\r\n");
            return;
        }
        out.extend_from_slice(b"%5\r\n");
        out.extend_from_slice(b"+name\r\n$6\r\nsiderp\r\n");
        out.extend_from_slice(b"+count\r\n:123456\r\n");
        out.extend_from_slice(b"+score\r\n,2.5\r\n");
        out.extend_from_slice(b"+flags\r\n~3\r\n+a\r\n+b\r\n#t\r\n");
        out.extend_from_slice(b"+child\r\n");
        level(out, depth - 1);
    }
    let mut v = Vec::new();
    level(&mut v, 10);
    v
}

fn decode(c: &mut Criterion) {
    let inputs = [
        ("array_1000", array_1000(), false),
        ("bulk_1MiB", bulk_1mib(), false),
        ("nested_map_resp3", nested_map(), true),
    ];
    let mut g = c.benchmark_group("decode");
    for (name, input, resp3) in &inputs {
        let size = if input.len() > 100_000 { BatchSize::LargeInput } else { BatchSize::SmallInput };
        g.throughput(Throughput::Bytes(input.len() as u64));
        g.bench_with_input(BenchmarkId::new("siderpy", name), input, |b, input| {
            let mut decoder = Decoder::new(Limits::default());
            b.iter_batched(
                || BytesMut::from(&input[..]),
                |mut buf| {
                    let v = decoder.decode(&mut buf).unwrap().unwrap();
                    assert!(buf.is_empty());
                    v
                },
                size,
            )
        });
        g.bench_with_input(BenchmarkId::new("redis-protocol", name), input, |b, input| {
            b.iter_batched(
                || BytesMut::from(&input[..]),
                |mut buf| {
                    if *resp3 {
                        let (f, n, _) =
                            redis_protocol::resp3::decode::complete::decode_bytes_mut(&mut buf).unwrap().unwrap();
                        assert_eq!(n, input.len());
                        std::hint::black_box(f);
                    } else {
                        let (f, n, _) = redis_protocol::resp2::decode::decode_bytes_mut(&mut buf).unwrap().unwrap();
                        assert_eq!(n, input.len());
                        std::hint::black_box(f);
                    }
                },
                size,
            )
        });
    }
    g.finish();
}

const ARGS: [&str; 10] = [
    "key:000001",
    "field-one",
    "value-one",
    "field-two",
    "value-two",
    "EX",
    "3600",
    "some-longer-argument-here",
    "42",
    "x",
];

fn encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode_10_args");
    g.throughput(Throughput::Elements(1));
    g.bench_function("siderpy", |b| {
        let mut out = BytesMut::with_capacity(4096);
        b.iter(|| {
            out.clear();
            let mut cmd = siderpy::CmdArgs::with_name("HSET");
            for a in ARGS {
                cmd.push(a);
            }
            cmd.write_frame(&mut out);
            std::hint::black_box(&out);
        })
    });
    g.bench_function("redis-protocol", |b| {
        use redis_protocol::resp2::types::BorrowedFrame;
        let mut out = BytesMut::with_capacity(4096);
        b.iter(|| {
            out.clear();
            let mut frames = Vec::with_capacity(ARGS.len() + 1);
            frames.push(BorrowedFrame::BulkString(b"HSET"));
            frames.extend(ARGS.iter().map(|a| BorrowedFrame::BulkString(a.as_bytes())));
            redis_protocol::resp2::encode::extend_encode_borrowed(&mut out, &BorrowedFrame::Array(&frames), false)
                .unwrap();
            std::hint::black_box(&out);
        })
    });
    g.finish();
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);
