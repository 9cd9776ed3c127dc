//! limits: what the hardware allows, measured in the same run as the codecs.
//!
//! - `memcpy`: `copy_from_slice` into a buffer placed away from 4K aliasing;
//! - `xor_bytes`: the byte-loop XOR mask of RFC 6455 §5.3;
//! - `memchr2`: finding every CR and LF in SSE text (what a line splitter must do);
//! - `simdutf8`: validating UTF-8 text.
//!
//! Each is checked once against a plain loop before timing.

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented `pub fn`"
)]

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tidings_benches::{LIMIT_SIZES, Unaliased, pseudo_random, sse, ws};

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("limits");
    let text = sse::realistic(1024 * 1024 + 4096, false).bytes;
    for len in LIMIT_SIZES {
        group.throughput(Throughput::Bytes(len as u64));
        let src = pseudo_random(len, 7);

        let mut dst = Unaliased::after(&src, len);
        dst.as_mut_slice().copy_from_slice(&src);
        assert_eq!(dst.as_slice(), &src[..]);
        group.bench_function(BenchmarkId::new("memcpy", len), |b| {
            b.iter(|| dst.as_mut_slice().copy_from_slice(black_box(&src)))
        });

        let mut buf = src.clone();
        ws::mask_bytes(&mut buf, ws::KEY);
        let mut oracle = src.clone();
        for (i, b) in oracle.iter_mut().enumerate() {
            *b ^= ws::KEY[i % 4];
        }
        assert_eq!(buf, oracle);
        group.bench_function(BenchmarkId::new("xor_bytes", len), |b| {
            b.iter(|| ws::mask_bytes(black_box(&mut buf), ws::KEY))
        });

        let hay = &text[..len];
        let naive = hay.iter().filter(|&&b| b == b'\r' || b == b'\n').count();
        assert_eq!(memchr::memchr2_iter(b'\r', b'\n', hay).count(), naive);
        group.bench_function(BenchmarkId::new("memchr2", len), |b| {
            b.iter(|| memchr::memchr2_iter(b'\r', b'\n', black_box(hay)).count())
        });

        let utf8 = ws::payload(len, true);
        assert_eq!(
            simdutf8::basic::from_utf8(&utf8).is_ok(),
            std::str::from_utf8(&utf8).is_ok()
        );
        group.bench_function(BenchmarkId::new("simdutf8", len), |b| {
            b.iter(|| simdutf8::basic::from_utf8(black_box(&utf8)).is_ok())
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = tidings_benches::criterion();
    targets = bench
}
criterion_main!(benches);
