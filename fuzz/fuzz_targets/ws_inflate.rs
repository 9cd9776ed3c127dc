//! Arbitrary bytes as the payload of compressed (permessage-deflate) messages, fed to
//! a server in arbitrary chunks: no panic, the inflated size never past the limit,
//! and the same events and error as a one-chunk feed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tidings_ws::{Config, Connection, DeflateConfig, Error, Event};

/// Small, so that bombs reach it quickly.
const LIMIT: usize = 4096;

fn feed(data: &[u8], sizes: &[u8], config: &Config) -> (Vec<Event>, Option<Error>) {
    let mut conn = Connection::server(config.clone());
    let mut events = Vec::new();
    let (mut at, mut i) = (0, 0);
    while at < data.len() {
        let n = sizes
            .get(i % sizes.len().max(1))
            .map_or(data.len(), |&s| usize::from(s) + 1);
        i += 1;
        let end = (at + n).min(data.len());
        conn.receive(&data[at..end]);
        at = end;
        loop {
            match conn.poll_event() {
                Ok(Some(ev)) => events.push(ev),
                Ok(None) => break,
                Err(e) => return (events, Some(e)),
            }
        }
    }
    (events, None)
}

// `input`: byte 0 picks settings, byte 1 the number of chunk sizes that follow, then
// the sizes, then payloads separated by 0xFF 0x00 (each becomes one compressed
// message of one or two frames).
fuzz_target!(|input: &[u8]| {
    let [flags, n, rest @ ..] = input else { return };
    let (sizes, body) = rest.split_at(usize::from(*n).min(rest.len()));
    let mut deflate = if flags & 1 != 0 {
        DeflateConfig::low_memory()
    } else {
        DeflateConfig::default()
    };
    deflate = deflate.negotiated(false, 15, flags & 2 != 0, 8 + (flags >> 4) % 8);
    let mut config = Config::default();
    config.max_message_size = LIMIT;
    config.deflate = Some(deflate);
    let text = flags & 4 != 0;

    let mut wire = Vec::new();
    for payload in body
        .split(|&b| b == 0xFF)
        .map(|p| p.strip_prefix(&[0]).unwrap_or(p))
    {
        // Two frames when the payload is long enough: RSV1 on the first only.
        let (a, b) = payload.split_at(if flags & 8 != 0 {
            payload.len() / 2
        } else {
            payload.len()
        });
        let frames: &[(&[u8], bool, u8)] = if b.is_empty() {
            &[(a, true, if text { 0x1 } else { 0x2 })]
        } else {
            &[(a, false, if text { 0x1 } else { 0x2 }), (b, true, 0x0)]
        };
        for (i, &(piece, fin, opcode)) in frames.iter().enumerate() {
            let rsv1 = if i == 0 { 0x40 } else { 0 };
            wire.push(u8::from(fin) << 7 | rsv1 | opcode);
            wire.push(0x80 | 127);
            wire.extend_from_slice(&(piece.len() as u64).to_be_bytes());
            wire.extend_from_slice(&[0, 0, 0, 0]); // a zero mask: the payload as is
            wire.extend_from_slice(piece);
        }
    }
    let (split_events, split_err) = feed(&wire, sizes, &config);
    for event in &split_events {
        if let Event::Text(t) = event {
            assert!(t.len() <= LIMIT);
        }
        if let Event::Binary(b) = event {
            assert!(b.len() <= LIMIT);
        }
    }
    if let Some(Error::MessageTooBig { len, limit }) = split_err {
        assert!(len <= limit as u64 + 1);
    }
    let (whole_events, whole_err) = feed(&wire, &[], &config);
    assert_eq!(split_events, whole_events);
    assert_eq!(split_err, whole_err);
});
