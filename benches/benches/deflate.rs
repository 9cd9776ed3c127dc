//! deflate: what permessage-deflate costs and saves, per preset, next to the
//! uncompressed path, on realistic JSON text messages (a ticker: the same keys,
//! changing numbers).
//!
//! - `deflate_send`: a client compresses, frames and masks a batch of messages and
//!   hands the bytes to the transport (`poll_transmit_into`).
//! - `deflate_recv`: a server reads that batch back: unmask, inflate, validate UTF-8,
//!   whole messages. The batch was compressed in sequence, so with context takeover
//!   each message is small; every iteration uses a fresh connection, whose setup is
//!   part of the cost (amortized over the batch).
//!
//! Throughput is in uncompressed payload bytes. Before timing, each preset's batch is
//! read back and compared with what was sent, and the wire size is printed (the
//! saving the CPU buys).

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented `pub fn`"
)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tidings_ws::{Config, Connection, DeflateConfig, Event};

/// Messages of about `len` bytes: JSON ticks, the same keys with changing values.
fn messages(len: usize, n: usize) -> Vec<String> {
    (0..n)
        .map(|m| {
            let mut s = String::from("[");
            let mut i = 0;
            while s.len() + 60 < len {
                let price = (m * 7919 + i * 104_729) % 100_000;
                s.push_str(&format!(
                    "{{\"symbol\":\"T{:03}\",\"price\":{}.{:02},\"volume\":{}}},",
                    i % 500,
                    price / 100,
                    price % 100,
                    (m + i) * 13 % 9973
                ));
                i += 1;
            }
            s.push_str("{}]");
            while s.len() < len {
                s.push(' ');
            }
            s
        })
        .collect()
}

fn presets() -> Vec<(&'static str, Option<DeflateConfig>)> {
    vec![
        ("uncompressed", None),
        ("default", Some(DeflateConfig::default())),
        ("low_memory", Some(DeflateConfig::low_memory())),
        (
            "no_context_takeover",
            Some(DeflateConfig::no_context_takeover()),
        ),
    ]
}

fn config(preset: Option<DeflateConfig>) -> Config {
    let mut config = Config::default();
    config.deflate = preset;
    config
}

fn client(preset: Option<DeflateConfig>) -> Connection {
    Connection::client_with_random_source(config(preset), |k: &mut [u8]| {
        k.copy_from_slice(&[0x37, 0xfa, 0x21, 0x3d])
    })
}

/// The wire bytes of a batch, sent in order on one connection.
fn wire(preset: Option<DeflateConfig>, batch: &[String]) -> Vec<u8> {
    let mut c = client(preset);
    for m in batch {
        c.send_text(m.clone()).expect("send");
    }
    let mut out = Vec::new();
    c.poll_transmit_into(Duration::ZERO, &mut out);
    out
}

/// Reads a whole batch on a fresh server connection; calls `f` per message.
fn receive(preset: Option<DeflateConfig>, wire: &[u8], f: &mut impl FnMut(&str)) {
    let mut server = Connection::server(config(preset));
    server.receive(wire);
    while let Some(event) = server.poll_event().expect("valid input") {
        if let Event::Text(text) = event {
            f(text.as_str());
        }
    }
}

fn bench(c: &mut Criterion) {
    for len in [125, 4096, 64 * 1024] {
        let n = ((256 << 10) / len).clamp(4, 256);
        let batch = messages(len, n);
        let bytes: usize = batch.iter().map(String::len).sum();
        let mut send = c.benchmark_group("deflate_send");
        send.throughput(Throughput::Bytes(bytes as u64));
        for (name, preset) in presets() {
            send.bench_function(BenchmarkId::new(name, len), |b| {
                let mut conn = client(preset);
                let mut out = Vec::with_capacity(bytes + 64 * n);
                b.iter(|| {
                    for m in &batch {
                        conn.send_text(m.clone()).expect("send");
                    }
                    out.clear();
                    conn.poll_transmit_into(Duration::ZERO, &mut out);
                    black_box(&out);
                })
            });
        }
        send.finish();

        let mut recv = c.benchmark_group("deflate_recv");
        recv.throughput(Throughput::Bytes(bytes as u64));
        for (name, preset) in presets() {
            let wire = wire(preset, &batch);
            // The check, and the saving: every message back, and the wire size.
            let mut got = Vec::new();
            receive(preset, &wire, &mut |t| got.push(t.to_owned()));
            assert!(got == batch, "{name}: messages differ at {len} B");
            println!(
                "deflate {name} {len} B: {bytes} payload bytes in {} wire bytes ({:.1}%)",
                wire.len(),
                100.0 * wire.len() as f64 / bytes as f64
            );
            recv.bench_function(BenchmarkId::new(name, len), |b| {
                b.iter(|| {
                    receive(preset, &wire, &mut |t| {
                        black_box(t);
                    })
                })
            });
        }
        recv.finish();
    }
}

criterion_group! {
    name = benches;
    config = tidings_benches::criterion();
    targets = bench
}
criterion_main!(benches);
