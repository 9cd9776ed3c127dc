//! Whatever a permessage-deflate client sends, in whole messages, streamed pieces or
//! prepared (broadcast) messages, with any negotiated window and context takeover, a
//! server receives exactly, however the wire is split.
#![no_main]

use core::time::Duration;
use libfuzzer_sys::fuzz_target;
use tidings_ws::{Config, Connection, DeflateConfig, Event, MessageKind, PreparedMessage};

fuzz_target!(|input: &[u8]| {
    let [flags, cut, rest @ ..] = input else {
        return;
    };
    let bits = 8 + (flags >> 4) % 8;
    let takeover = flags & 1 == 0;
    let mut base = if flags & 2 != 0 {
        DeflateConfig::low_memory()
    } else {
        DeflateConfig::default()
    };
    base.threshold = usize::from(flags & 4) * 8;
    base.level = (flags >> 3) % 10;
    // Each side as the handshake would leave it: the client compresses with at most
    // `bits`, the server inflates with that.
    let client_side = base.negotiated(!takeover, bits, false, 15);
    let server_side = DeflateConfig::default().negotiated(false, 15, !takeover, bits);
    let mut client_config = Config::default();
    client_config.deflate = Some(client_side);
    client_config.max_send_frame_size = usize::from(*cut).max(1) * 16;
    let mut server_config = Config::default();
    server_config.deflate = Some(server_side);
    let mut client = Connection::client_with_random_source(client_config, |k: &mut [u8]| {
        k.copy_from_slice(&[1, 2, 3, 4])
    });
    let mut server = Connection::server(server_config);

    let messages: Vec<&[u8]> = rest.split(|&b| b == b'|').collect();
    for (i, m) in messages.iter().enumerate() {
        if i % 3 == 2 && m.len() > 1 {
            let (a, b) = m.split_at(m.len() / 2);
            client
                .send_fragment(MessageKind::Binary, a.to_vec(), false)
                .unwrap();
            client.send_ping(&b"x"[..]).unwrap();
            client
                .send_fragment(MessageKind::Binary, b.to_vec(), true)
                .unwrap();
        } else if i % 3 == 1 {
            // Without context takeover: the shared encoding, masked; with it: the
            // client's own context, kept in step.
            client
                .send_prepared(&PreparedMessage::binary(m.to_vec()))
                .unwrap();
        } else {
            client.send_binary(m.to_vec()).unwrap();
        }
    }
    let mut wire = Vec::new();
    client.poll_transmit_into(Duration::ZERO, &mut wire);
    let mut got = Vec::new();
    for piece in wire.chunks(usize::from(*cut).max(1)) {
        server.receive(piece);
        while let Some(event) = server.poll_event().expect("valid compressed input") {
            if let Event::Binary(data) = event {
                got.push(data);
            }
        }
    }
    assert_eq!(got.len(), messages.len());
    for (g, m) in got.iter().zip(&messages) {
        assert_eq!(&g[..], *m);
    }
});
