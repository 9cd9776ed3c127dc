//! mask: tidings' in-place mask next to the byte loop and the word-at-a-time XOR, and
//! the peers' exported mask functions where they have one.
//!
//! Every buffer is masked at payload offset 0; each implementation is checked once
//! against the byte loop before timing.

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented `pub fn`"
)]

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tidings_benches::{LIMIT_SIZES, pseudo_random, ws};
use tidings_ws::MaskingKey;

type MaskFn = fn(&mut [u8], [u8; 4]);

fn impls() -> Vec<(&'static str, MaskFn)> {
    vec![
        ("tidings-ws", |b, k| {
            tidings_ws::mask::apply_mask(b, MaskingKey(k), 0)
        }),
        ("limit: xor_bytes", ws::mask_bytes),
        ("limit: xor_words", ws::mask_words),
        ("fastwebsockets", fastwebsockets::unmask),
    ]
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("mask");
    for len in LIMIT_SIZES {
        group.throughput(Throughput::Bytes(len as u64));
        let src = pseudo_random(len, 9);
        let mut expected = src.clone();
        ws::mask_bytes(&mut expected, ws::KEY);
        for (name, f) in impls() {
            // Check at this length and at an odd start, then time.
            let mut buf = src.clone();
            f(&mut buf, ws::KEY);
            assert_eq!(buf, expected, "{name} at {len}");
            if len > 3 {
                let mut odd = src[3..].to_vec();
                f(&mut odd, ws::KEY);
                let mut want = src[3..].to_vec();
                ws::mask_bytes(&mut want, ws::KEY);
                assert_eq!(odd, want, "{name} at {len} - 3");
            }
            group.bench_function(BenchmarkId::new(name, len), |b| {
                b.iter(|| f(black_box(&mut buf), ws::KEY))
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = tidings_benches::criterion();
    targets = bench
}
criterion_main!(benches);
