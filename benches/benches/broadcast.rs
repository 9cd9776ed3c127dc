//! broadcast: one message published to many WebSocket connections with
//! permessage-deflate, compressed once and shared (issue 16) against compressed by
//! every connection.
//!
//! One iteration publishes one ~1 KiB JSON text message (a ticker snapshot, a new one
//! each time, as a publisher would) to 100 server connections and hands every
//! connection's bytes to the transport (`poll_transmit`, the chunks dropped):
//!
//! - `shared`: the servers negotiated `server_no_context_takeover`; a fresh
//!   `PreparedMessage` is compressed by the first connection and the other 99 queue
//!   the same `Bytes`;
//! - `per_connection`: the same connections, each compressing the message itself
//!   (`send_text`): what every Rust peer does, and what tidings did before;
//! - `per_connection_takeover`: the default preset (context takeover), which can only
//!   compress per connection, for reference;
//! - `uncompressed`: a `PreparedMessage` to connections without deflate, the floor.
//!
//! Before timing, every variant's output is read back by a client of each kind and
//! compared with the message, the shared bytes are checked to be the same on every
//! connection, and the wire size per connection is printed.

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented `pub fn`"
)]

use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tidings_ws::{Config, Connection, DeflateConfig, Event, PreparedMessage, Role};

/// Connections per broadcast.
const SUBSCRIBERS: usize = 100;
/// About this many bytes per message.
const MESSAGE_LEN: usize = 1024;

/// The `m`-th message: a JSON ticker snapshot of about 1 KiB, the same keys with
/// changing numbers.
fn message(m: usize) -> String {
    let mut s = String::from("{\"type\":\"snapshot\",\"seq\":");
    s.push_str(&m.to_string());
    s.push_str(",\"quotes\":[");
    let mut i = 0;
    while s.len() + 80 < MESSAGE_LEN {
        let price = (m * 7919 + i * 104_729) % 100_000;
        s.push_str(&format!(
            "{{\"symbol\":\"T{:03}\",\"bid\":{}.{:02},\"ask\":{}.{:02},\"volume\":{}}},",
            (m + i) % 500,
            price / 100,
            price % 100,
            price / 100 + 1,
            price % 100,
            (m + i) * 13 % 9973
        ));
        i += 1;
    }
    s.push_str("{}]}");
    s
}

/// The deflate parameters each end uses, per variant: `None` for no deflate.
fn agreed(name: &str, role: Role) -> Option<DeflateConfig> {
    let base = DeflateConfig::default();
    match name {
        "uncompressed" => None,
        // A browser's offer answered with `server_no_context_takeover`.
        "shared" | "per_connection" => Some(base.negotiated_as(role, true, 15, false, 15)),
        _ => Some(base.negotiated_as(role, false, 15, false, 15)),
    }
}

fn connection(name: &str, role: Role) -> Connection {
    let mut config = Config::default();
    config.deflate = agreed(name, role);
    match role {
        Role::Server => Connection::server(config),
        Role::Client => Connection::client_with_random_source(config, |k: &mut [u8]| {
            k.copy_from_slice(&[0x37, 0xfa, 0x21, 0x3d])
        }),
    }
}

const VARIANTS: [&str; 4] = [
    "shared",
    "per_connection",
    "per_connection_takeover",
    "uncompressed",
];

/// Publishes message `m` to every server the way `name` does, and drains them.
fn publish(name: &str, servers: &mut [Connection], m: &str, out: &mut impl FnMut(Bytes)) {
    match name {
        "shared" | "uncompressed" => {
            let prepared = PreparedMessage::text(m.to_owned());
            for server in servers.iter_mut() {
                server.send_prepared(&prepared).expect("send");
            }
        }
        _ => {
            for server in servers.iter_mut() {
                server.send_text(m.to_owned()).expect("send");
            }
        }
    }
    for server in servers.iter_mut() {
        while let Some(chunk) = server.poll_transmit(Duration::ZERO) {
            out(chunk);
        }
    }
}

/// Checks every variant before timing: each connection's bytes read back as the
/// message, and the shared bytes are the same memory on every connection.
fn check() {
    for name in VARIANTS {
        let mut servers: Vec<Connection> = (0..SUBSCRIBERS)
            .map(|_| connection(name, Role::Server))
            .collect();
        // One client per server: with context takeover, each reads its own stream.
        let mut clients: Vec<Connection> = (0..SUBSCRIBERS)
            .map(|_| connection(name, Role::Client))
            .collect();
        let mut wire_len = 0;
        for m in 0..3 {
            let text = message(m);
            let mut per_server: Vec<Vec<Bytes>> = Vec::new();
            for server in &mut servers {
                let mut chunks = Vec::new();
                publish(name, std::slice::from_mut(server), &text, &mut |c| {
                    chunks.push(c)
                });
                per_server.push(chunks);
            }
            for (chunks, client) in per_server.iter().zip(&mut clients) {
                let wire = chunks.concat();
                wire_len = wire.len();
                client.receive(&wire);
                assert_eq!(
                    client.poll_event().expect("valid"),
                    Some(Event::Text(text.clone().into())),
                    "{name}"
                );
            }
        }
        if name == "shared" {
            // Publishing to one server at a time above made a new PreparedMessage
            // each time; publish to all at once, and check that they share.
            let mut all = Vec::new();
            publish(name, &mut servers, &message(3), &mut |c| all.push(c));
            assert_eq!(all.len(), SUBSCRIBERS);
            assert!(
                all.iter().all(|c| c.as_ptr() == all[0].as_ptr()),
                "shared: the same bytes on every connection"
            );
        }
        println!(
            "broadcast {name}: {} B message, {wire_len} wire bytes per connection",
            message(2).len()
        );
    }
}

fn bench(c: &mut Criterion) {
    check();
    let mut group = c.benchmark_group("broadcast");
    // One element per delivery: criterion's time is per broadcast to all of them.
    group.throughput(Throughput::Elements(SUBSCRIBERS as u64));
    for name in VARIANTS {
        group.bench_function(BenchmarkId::new(name, MESSAGE_LEN), |b| {
            let mut servers: Vec<Connection> = (0..SUBSCRIBERS)
                .map(|_| connection(name, Role::Server))
                .collect();
            let messages: Vec<String> = (0..64).map(message).collect();
            let mut m = 0;
            b.iter(|| {
                m = (m + 1) % messages.len();
                publish(name, &mut servers, &messages[m], &mut |chunk| {
                    black_box(chunk);
                });
            })
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
