//! permessage-deflate through the async binding: a client and a server negotiate it
//! from their presets in the handshake, then talk compressed.
#![cfg(all(feature = "tokio", feature = "deflate"))]

mod common;
use common::{Rt, TokioRt};

use tidings_io::{Config, DeflateConfig, Message};

fn with(preset: Option<DeflateConfig>) -> Config {
    let mut config = Config::default();
    config.deflate = preset;
    config
}

fn json(n: usize) -> String {
    (0..n)
        .map(|i| format!("{{\"seq\":{i},\"text\":\"hello from the other side\"}}\n"))
        .collect()
}

#[test]
fn presets_negotiate_and_messages_echo_compressed() {
    TokioRt::run(async {
        let cases = [
            (
                Some(DeflateConfig::default()),
                Some(DeflateConfig::default()),
                true,
            ),
            (
                Some(DeflateConfig::low_memory()),
                Some(DeflateConfig::default()),
                true,
            ),
            (
                Some(DeflateConfig::default()),
                Some(DeflateConfig::low_memory()),
                true,
            ),
            (Some(DeflateConfig::default()), None, false),
            (None, Some(DeflateConfig::default()), false),
        ];
        for (server_preset, client_preset, agreed) in cases {
            let (mut server, mut client) =
                TokioRt::pair(with(server_preset), with(client_preset)).await;
            let server_side = server.connection().config().deflate;
            let client_side = client.connection().config().deflate;
            assert_eq!(server_side.is_some(), agreed);
            assert_eq!(client_side.is_some(), agreed);
            if let (Some(s), Some(c)) = (server_side, client_side) {
                // What one compresses with, the other inflates.
                assert!(c.compress_window_bits <= s.decompress_window_bits);
                assert!(s.compress_window_bits <= c.decompress_window_bits);
            }
            let big = json(2000);
            for message in [
                Message::Text(big.clone().into()),
                Message::Binary(big.clone().into_bytes().into()),
                Message::Text("small".into()),
                Message::Text(String::new().into()),
            ] {
                client.send(message.clone()).await.unwrap();
                let got = server.recv().await.unwrap().unwrap();
                assert_eq!(got, message);
                server.send(got).await.unwrap();
                assert_eq!(client.recv().await.unwrap().unwrap(), message);
            }
        }
    });
}
