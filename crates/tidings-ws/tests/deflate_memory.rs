//! What permessage-deflate costs an idle connection, per preset: the heap one
//! server connection holds after one compressed message each way and
//! `shrink_buffers`, counted by a global allocator that tracks live bytes.
//!
//! `cargo test -p tidings-ws --features deflate --test deflate_memory -- --nocapture`
//! prints the table that docs/compression.md quotes. The same counter bounds what a
//! deflate bomb costs the receiver.
#![cfg(feature = "deflate")]

use std::time::Duration;
use tidings_ws::{Config, Connection, DeflateConfig, Error, Event, MessageKind};

#[path = "common/counting.rs"]
#[allow(dead_code, reason = "each test file uses part of the counter")]
mod counting;

use counting::{SERIAL, count_from_here, live};

fn message() -> String {
    (0..300)
        .map(|i| format!("{{\"id\":{i},\"symbol\":\"ABC\",\"price\":{}}}\n", i % 89))
        .collect()
}

/// Heap held by one idle server connection with `preset` (both sides use it).
fn idle_bytes(preset: Option<DeflateConfig>) -> isize {
    let mut config = Config::default();
    config.deflate = preset;
    let mut client = Connection::client_with_random_source(config.clone(), |k: &mut [u8]| {
        k.copy_from_slice(&[1, 2, 3, 4])
    });
    client.send_text(message()).unwrap();
    let mut wire = Vec::new();
    client.poll_transmit_into(Duration::ZERO, &mut wire);
    let before = live();
    let mut server = Connection::server(config);
    server.receive(&wire);
    let Ok(Some(Event::Text(text))) = server.poll_event() else {
        panic!("no message")
    };
    server.send_text(text).unwrap();
    while server.poll_transmit(Duration::ZERO).is_some() {}
    server.shrink_buffers();
    let held = live() - before;
    drop(server);
    held
}

#[test]
fn idle_memory_per_preset() {
    let _guard = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    count_from_here();
    let none = idle_bytes(None);
    let default = idle_bytes(Some(DeflateConfig::default()));
    let low = idle_bytes(Some(DeflateConfig::low_memory()));
    let no_takeover = idle_bytes(Some(DeflateConfig::no_context_takeover()));
    println!("| preset | idle heap per connection |");
    println!("|---|---|");
    println!("| no compression | {none} B |");
    println!("| `DeflateConfig::default()` | {} KiB |", default / 1024);
    println!("| `DeflateConfig::low_memory()` | {} KiB |", low / 1024);
    println!("| `DeflateConfig::no_context_takeover()` | {no_takeover} B |");
    // The shapes these presets promise.
    assert!(low * 2 < default, "low_memory {low} vs default {default}");
    assert!(
        no_takeover <= none + 64,
        "no context takeover keeps nothing: {no_takeover} vs {none}"
    );
    assert!(default < 512 << 10, "{default}");
}

/// 1 GiB of zeros, about 1 MiB compressed, sent to a server whose message limit is
/// 16 MiB: refused with 1009 once 16 MiB + 1 byte have inflated, and the server's
/// heap stays bounded by the limit (the message buffer, one read chunk, the zlib
/// state), not by the bomb.
#[test]
fn a_one_gib_bomb_costs_the_receiver_about_its_limit() {
    let _guard = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    count_from_here();
    let mut config = Config::default();
    config.deflate = Some(DeflateConfig::default());
    let mut client = Connection::client_with_random_source(config.clone(), |k: &mut [u8]| {
        k.copy_from_slice(&[1, 2, 3, 4])
    });
    let zeros = bytes::Bytes::from(vec![0u8; 64 << 20]);
    for i in 0..16 {
        client
            .send_fragment(MessageKind::Binary, zeros.clone(), i == 15)
            .unwrap();
    }
    drop(zeros);
    let mut wire = Vec::new();
    client.poll_transmit_into(Duration::ZERO, &mut wire);
    drop(client);

    let limit = 16 << 20;
    config.max_message_size = limit;
    let before = live();
    counting::reset_peak();
    let mut server = Connection::server(config);
    let mut error = None;
    for piece in wire.chunks(64 << 10) {
        server.receive(piece);
        match server.poll_event() {
            Ok(_) => {}
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    let peak = counting::peak() - before;
    println!(
        "bomb: {} B on the wire, refused with {:?}, receiver peak heap {} KiB",
        wire.len(),
        error.map(|e| e.close_code().0),
        peak / 1024
    );
    assert!(
        matches!(error, Some(Error::MessageTooBig { .. })),
        "{error:?}"
    );
    // The message buffer grows by doubling, so its capacity may reach twice the
    // limit (the pages written stay within the limit); never more.
    assert!(peak < 2 * limit as isize + (2 << 20), "peak {peak}");
}
