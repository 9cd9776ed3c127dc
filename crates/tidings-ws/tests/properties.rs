//! Properties: any split of the input gives the same events, and whatever one end
//! sends, the other receives, for arbitrary messages, fragmentations and masks.

mod common;

use common::{Driven, events, transmit};
use core::time::Duration;
use proptest::prelude::*;
use tidings_ws::{Config, Connection, Error, Event, MessageKind};

#[derive(Debug, Clone)]
enum Msg {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    /// A message sent with `send_fragment`, cut at these byte lengths.
    Fragmented(MessageKind, Vec<u8>, Vec<usize>),
}

fn msg() -> impl Strategy<Value = Msg> {
    prop_oneof![
        ".{0,40}".prop_map(Msg::Text),
        prop::collection::vec(any::<u8>(), 0..300).prop_map(Msg::Binary),
        prop::collection::vec(any::<u8>(), 0..125).prop_map(Msg::Ping),
        (
            prop::collection::vec(any::<u8>(), 0..200),
            prop::collection::vec(0usize..60, 0..5)
        )
            .prop_map(|(b, cuts)| Msg::Fragmented(MessageKind::Binary, b, cuts)),
        (".{0,60}", prop::collection::vec(0usize..30, 0..5)).prop_map(|(s, cuts)| Msg::Fragmented(
            MessageKind::Text,
            s.into_bytes(),
            cuts
        )),
    ]
}

/// Sends `msgs` from `sender`, draining its output after each one (control frames
/// overtake queued data, which `pair.rs` pins; here the wire order is the send order).
/// Returns the events the receiver should see and the bytes on the wire.
fn send_all(sender: &mut Connection, msgs: &[Msg]) -> (Vec<Event>, Vec<u8>) {
    let mut expect = Vec::new();
    let mut wire = Vec::new();
    for m in msgs {
        match m {
            Msg::Text(s) => {
                sender.send_text(s.clone()).unwrap();
                expect.push(Event::Text(s.as_str().into()));
            }
            Msg::Binary(b) => {
                sender.send_binary(b.clone()).unwrap();
                expect.push(Event::Binary(b.clone().into()));
            }
            Msg::Ping(b) => {
                sender.send_ping(b.clone()).unwrap();
                expect.push(Event::Ping(b.clone().into()));
            }
            Msg::Fragmented(kind, bytes, cuts) => {
                let mut rest = &bytes[..];
                for &cut in cuts {
                    let (piece, tail) = rest.split_at(cut.min(rest.len()));
                    sender.send_fragment(*kind, piece.to_vec(), false).unwrap();
                    rest = tail;
                }
                sender.send_fragment(*kind, rest.to_vec(), true).unwrap();
                expect.push(match kind {
                    MessageKind::Text => {
                        Event::Text(String::from_utf8(bytes.clone()).unwrap().into())
                    }
                    MessageKind::Binary => Event::Binary(bytes.clone().into()),
                });
            }
        }
        wire.extend(transmit(sender, Duration::ZERO));
    }
    (expect, wire)
}

/// Feeds `wire` cut at `cuts` (sorted offsets) and collects every event and error.
fn feed_split(conn: Connection, wire: &[u8], cuts: &[usize]) -> (Vec<Event>, Option<Error>) {
    feed_mixed(conn, wire, cuts, &[])
}

fn split_points(max: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0..max.max(1), 0..20).prop_map(|mut v| {
        v.sort_unstable();
        v
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Client to server with arbitrary masks, frame sizes and splits: the server sees
    /// exactly what was sent, however the bytes were cut.
    #[test]
    fn client_to_server_round_trip(
        msgs in prop::collection::vec(msg(), 0..12),
        key in any::<[u8; 4]>(),
        frame_size in 1usize..400,
        cuts in split_points(4000),
    ) {
        let mut config = Config::default();
        config.max_send_frame_size = frame_size;
        let mut client = Connection::client_with_random_source(config, move |k: &mut [u8]| k.copy_from_slice(&key));
        let (expect, wire) = send_all(&mut client, &msgs);
        let whole = feed_split(Connection::server(Config::default()), &wire, &[]);
        prop_assert_eq!(&whole, &(expect, None));
        let split = feed_split(Connection::server(Config::default()), &wire, &cuts);
        prop_assert_eq!(split, whole);
    }

    /// Server to client, the same.
    #[test]
    fn server_to_client_round_trip(
        msgs in prop::collection::vec(msg(), 0..12),
        frame_size in 1usize..400,
        cuts in split_points(4000),
    ) {
        let mut config = Config::default();
        config.max_send_frame_size = frame_size;
        let mut server = Connection::server(config);
        let (expect, wire) = send_all(&mut server, &msgs);
        let client = || Connection::client_with_random_source(Config::default(), |k: &mut [u8]| k.copy_from_slice(&[0; 4]));
        prop_assert_eq!(feed_split(client(), &wire, &cuts), (expect, None));
    }

    /// Arbitrary (mostly invalid) bytes: never a panic, and the same events and error
    /// whether they arrive whole or in pieces.
    #[test]
    fn arbitrary_input_is_split_invariant(
        wire in prop::collection::vec(any::<u8>(), 0..600),
        cuts in split_points(600),
        server_role in any::<bool>(),
        small_limits in any::<bool>(),
    ) {
        let mut config = Config::default();
        if small_limits {
            config.max_frame_size = 64;
            config.max_message_size = 100;
        }
        let make = || if server_role {
            Connection::server(config.clone())
        } else {
            Connection::client_with_random_source(config.clone(), |k: &mut [u8]| k.copy_from_slice(&[1, 2, 3, 4]))
        };
        let whole = feed_split(make(), &wire, &[]);
        prop_assert_eq!(feed_split(make(), &wire, &cuts), whole);
    }

    /// In chunk mode, the chunks of each message concatenate to the message.
    #[test]
    fn chunks_concatenate_to_messages(
        msgs in prop::collection::vec(msg(), 0..8),
        cuts in split_points(3000),
    ) {
        let mut client = Connection::client_with_random_source(Config::default(), |k: &mut [u8]| k.copy_from_slice(&[9, 8, 7, 6]));
        let (expect, wire) = send_all(&mut client, &msgs);
        let mut config = Config::default();
        config.receive_chunks = true;
        let (got, err) = feed_split(Connection::server(config), &wire, &cuts);
        prop_assert_eq!(err, None);
        let mut rebuilt = Vec::new();
        let mut current: Option<(MessageKind, Vec<u8>)> = None;
        for ev in got {
            match ev {
                Event::Chunk(c) => {
                    prop_assert_eq!(c.first, current.is_none());
                    let (_, buf) = current.get_or_insert((c.kind, Vec::new()));
                    buf.extend_from_slice(&c.data);
                    if c.last {
                        let (kind, buf) = current.take().unwrap();
                        rebuilt.push(match kind {
                            MessageKind::Text => Event::Text(String::from_utf8(buf).unwrap().into()),
                            MessageKind::Binary => Event::Binary(buf.into()),
                        });
                    }
                }
                other => rebuilt.push(other),
            }
        }
        prop_assert_eq!(rebuilt, expect);
    }
}

/// Drives a split connection as two tasks would: the reader drains events and pushes
/// signals into a queue; the writer takes them later. Returns events, error and the
/// bytes the writer produced.
fn run_split(
    conn: Connection,
    wire: &[u8],
    cuts: &[usize],
) -> (Vec<Event>, Option<Error>, Vec<u8>) {
    let (mut rx, mut tx) = conn.into_split();
    let mut channel = std::collections::VecDeque::new();
    let mut events = Vec::new();
    let mut error = None;
    let mut at = 0;
    for &cut in cuts.iter().chain(core::iter::once(&wire.len())) {
        let cut = cut.clamp(at, wire.len());
        rx.receive(&wire[at..cut]);
        at = cut;
        loop {
            match rx.poll_event() {
                Ok(Some(ev)) => events.push(ev),
                Ok(None) => break,
                Err(e) => {
                    error.get_or_insert(e);
                    break;
                }
            }
        }
        channel.extend(std::iter::from_fn(|| rx.poll_signal()));
    }
    for signal in channel {
        tx.handle_signal(signal);
    }
    let mut out = Vec::new();
    tx.poll_transmit_into(Duration::ZERO, &mut out);
    (events, error, out)
}

fn run_whole(mut conn: Connection, wire: &[u8]) -> (Vec<Event>, Option<Error>, Vec<u8>) {
    conn.receive(wire);
    let (events, error) = events(&mut conn);
    (events, error, transmit(&mut conn, Duration::ZERO))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// The split halves, with signals delivered late, do exactly what the whole
    /// connection does: same events, same error, same bytes on the wire (pongs, close
    /// echoes and failure close codes included).
    #[test]
    fn split_halves_match_the_whole(
        msgs in prop::collection::vec(msg(), 0..8),
        noise in prop::collection::vec(any::<u8>(), 0..40),
        close in any::<bool>(),
        cuts in split_points(3000),
    ) {
        let mut client = Connection::client_with_random_source(Config::default(), |k: &mut [u8]| k.copy_from_slice(&[3, 1, 4, 1]));
        let (_, mut wire) = send_all(&mut client, &msgs);
        if close {
            client.close(tidings_ws::CloseCode::NORMAL, "bye").unwrap();
            wire.extend(transmit(&mut client, Duration::ZERO));
        }
        wire.extend_from_slice(&noise);
        let whole = run_whole(Connection::server(Config::default()), &wire);
        let split = run_split(Connection::server(Config::default()), &wire, &cuts);
        prop_assert_eq!(split, whole);
    }
}

/// Drives a server's receiving half with `poll_event_ref`, turning borrowed messages
/// into owned events, feeding `wire` cut at `cuts`.
fn run_borrowed(wire: &[u8], cuts: &[usize]) -> (Vec<Event>, Option<Error>) {
    use tidings_ws::EventRef;
    let (mut rx, _tx) = Connection::server(Config::default()).into_split();
    let mut all = Vec::new();
    let mut at = 0;
    for &cut in cuts.iter().chain(core::iter::once(&wire.len())) {
        let cut = cut.clamp(at, wire.len());
        rx.receive(&wire[at..cut]);
        at = cut;
        loop {
            match rx.poll_event_ref() {
                Ok(Some(EventRef::Text(t))) => all.push(Event::Text(t.into())),
                Ok(Some(EventRef::Binary(b))) => {
                    all.push(Event::Binary(bytes::Bytes::copy_from_slice(b)));
                }
                Ok(Some(EventRef::Owned(e))) => all.push(e),
                Ok(Some(other)) => panic!("unknown {other:?}"),
                Ok(None) => break,
                Err(e) => return (all, Some(e)),
            }
        }
    }
    (all, None)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// `poll_event_ref` (whole messages borrowed from the buffer) reports exactly
    /// what `poll_event` does, for any input and any split, errors included.
    #[test]
    fn borrowed_events_match_owned(
        msgs in prop::collection::vec(msg(), 0..10),
        noise in prop::collection::vec(any::<u8>(), 0..40),
        cuts in split_points(3000),
    ) {
        let mut client = Connection::client_with_random_source(Config::default(), |k: &mut [u8]| k.copy_from_slice(&[9, 8, 7, 6]));
        let (_, mut wire) = send_all(&mut client, &msgs);
        wire.extend_from_slice(&noise);
        let owned = feed_split(Connection::server(Config::default()), &wire, &cuts);
        prop_assert_eq!(run_borrowed(&wire, &cuts), owned);
    }

    /// `send_binary_slice` / `send_text_str` put the same bytes on the wire as
    /// `send_binary` / `send_text`, on both roles.
    #[test]
    fn copied_sends_match(
        msgs in prop::collection::vec(msg(), 0..10),
        client in any::<bool>(),
        frame_size in 1usize..400,
    ) {
        let mut config = Config::default();
        config.max_send_frame_size = frame_size;
        let make = || if client {
            Connection::client_with_random_source(config.clone(), |k: &mut [u8]| k.copy_from_slice(&[1, 2, 3, 4]))
        } else {
            Connection::server(config.clone())
        };
        let (mut a, mut b) = (make(), make());
        for m in &msgs {
            match m {
                Msg::Text(s) => {
                    a.send_text(s.clone()).unwrap();
                    b.send_text_str(s).unwrap();
                }
                Msg::Binary(v) => {
                    a.send_binary(v.clone()).unwrap();
                    b.send_binary_slice(v).unwrap();
                }
                _ => {}
            }
        }
        prop_assert_eq!(transmit(&mut a, Duration::ZERO), transmit(&mut b, Duration::ZERO));
    }
}

/// A large message for the direct path: `len` bytes from `seed`, text (a mix of one- to
/// four-byte characters) or binary, sent in frames of `frame` bytes.
fn big_message(text: bool, len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    if !text {
        return (0..len).map(|_| next() as u8).collect();
    }
    let mut s = String::with_capacity(len + 4);
    while s.len() < len {
        s.push(['a', 'é', '€', '😀', ' '][(next() % 5) as usize]);
    }
    s.into_bytes()
}

/// Feeds `wire` cut at `cuts`, each piece through `receive` or appended to
/// `read_buffer` as `via_buffer` says, and collects events and the first error.
fn feed_mixed(
    mut conn: Connection,
    wire: &[u8],
    cuts: &[usize],
    via_buffer: &[bool],
) -> (Vec<Event>, Option<Error>) {
    let mut all = Vec::new();
    let mut at = 0;
    for (i, &cut) in cuts.iter().chain(core::iter::once(&wire.len())).enumerate() {
        let cut = cut.clamp(at, wire.len());
        if via_buffer.get(i).copied().unwrap_or(false) {
            conn.read_buffer().extend_from_slice(&wire[at..cut]);
        } else {
            conn.receive(&wire[at..cut]);
        }
        at = cut;
        let (ev, err) = events(&mut conn);
        all.extend(ev);
        if err.is_some() {
            return (all, err);
        }
    }
    (all, None)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Large frames that arrive in pieces are copied into their message as they come
    /// (the direct path): whatever the cuts, and whether the pieces come through
    /// `receive` or `read_buffer`, the events are those sent, with pings between
    /// fragments; and a corrupted byte gives the same events and error as the
    /// corrupted stream fed whole.
    #[test]
    fn large_frames_any_split_any_entry(
        parts in prop::collection::vec((any::<bool>(), 0usize..40_000, any::<u64>(), 1usize..50_000), 1..4),
        key in any::<[u8; 4]>(),
        cuts in split_points(150_000),
        via_buffer in prop::collection::vec(any::<bool>(), 21),
        corrupt in prop::option::of((any::<prop::sample::Index>(), 1u8..=255)),
    ) {
        let mut client = Connection::client_with_random_source(Config::default(), move |k: &mut [u8]| k.copy_from_slice(&key));
        let mut expect = Vec::new();
        let mut wire = Vec::new();
        for &(text, len, seed, frame) in &parts {
            let kind = if text { MessageKind::Text } else { MessageKind::Binary };
            let payload = big_message(text, len, seed);
            let mut pieces = payload.chunks(frame).peekable();
            if pieces.peek().is_none() {
                client.send_fragment(kind, Vec::new(), true).unwrap();
            }
            while let Some(piece) = pieces.next() {
                let last = pieces.peek().is_none();
                client.send_fragment(kind, piece.to_vec(), last).unwrap();
                if !last {
                    client.send_ping(&b"between"[..]).unwrap();
                    expect.push(Event::Ping(bytes::Bytes::from_static(b"between")));
                }
                wire.extend(transmit(&mut client, Duration::ZERO));
            }
            wire.extend(transmit(&mut client, Duration::ZERO));
            expect.push(match kind {
                MessageKind::Text => Event::Text(String::from_utf8(payload).unwrap().into()),
                MessageKind::Binary => Event::Binary(payload.into()),
            });
        }
        let server = || Connection::server(Config::default());
        prop_assert_eq!(
            feed_mixed(server(), &wire, &cuts, &via_buffer),
            (expect, None)
        );
        if let Some((at, flip)) = corrupt {
            let at = at.index(wire.len());
            wire[at] ^= flip;
        }
        let whole = feed_mixed(server(), &wire, &[], &[]);
        prop_assert_eq!(feed_mixed(server(), &wire, &cuts, &via_buffer), whole);
    }
}

/// One step of a timed conversation: the client sends something, then time passes.
#[derive(Debug, Clone)]
enum Timed {
    /// A binary fragment; `fin` ends the message.
    Fragment(Vec<u8>, bool),
    /// A whole text message.
    Text(String),
    Ping(Vec<u8>),
    /// Nothing is sent; this many milliseconds pass.
    Wait(u64),
}

fn timed() -> impl Strategy<Value = Timed> {
    prop_oneof![
        (prop::collection::vec(any::<u8>(), 0..20), any::<bool>())
            .prop_map(|(b, fin)| Timed::Fragment(b, fin)),
        ".{0,20}".prop_map(Timed::Text),
        prop::collection::vec(any::<u8>(), 0..10).prop_map(Timed::Ping),
        (0u64..25_000).prop_map(Timed::Wait),
    ]
}

/// Plays `steps` from a client to a server driven whole or split, firing the server's
/// timers as time passes; stops at the first error. Returns what the server did at
/// each step: its events, its error, its bytes and its next deadline.
type Observed = Vec<(Vec<Event>, Option<Error>, Vec<u8>, Option<Duration>)>;

fn play(config: &Config, steps: &[Timed], split: bool) -> Observed {
    let mut client =
        Connection::client_with_random_source(Config::default(), |k: &mut [u8]| k.fill(5));
    let mut server = Driven::new(Connection::server(config.clone()), split);
    let mut now = Duration::ZERO;
    let mut seen = Vec::new();
    for step in steps {
        match step {
            Timed::Fragment(b, fin) => client
                .send_fragment(MessageKind::Binary, b.clone(), *fin)
                .unwrap(),
            Timed::Text(t) => {
                // A text message may not interleave with an unfinished fragmented one.
                let _ = client.send_text(t.clone());
            }
            Timed::Ping(b) => client.send_ping(b.clone()).unwrap(),
            Timed::Wait(ms) => now += Duration::from_millis(*ms),
        }
        let (events, mut error) = server.receive(&transmit(&mut client, now));
        let mut out = server.transmit(now);
        if error.is_none() {
            error = server.handle_timeout(now);
            out.extend(server.transmit(now));
        }
        let stop = error.is_some();
        seen.push((events, error, out, server.poll_timeout()));
        if stop {
            break;
        }
    }
    seen
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// With time passing, the split halves (signals carried to the writer at each
    /// step, as a channel would) and the whole connection do the same: the same
    /// events, the same timer failures at the same moments, the same bytes (pongs,
    /// keepalive pings, close frames with their codes) and the same next deadline.
    #[test]
    fn timers_split_matches_whole(
        steps in prop::collection::vec(timed(), 0..30),
        message_timeout in prop::option::of(1u64..40),
        idle_timeout in prop::option::of(1u64..40),
        keepalive in prop::option::of(1u64..40),
    ) {
        let mut config = Config::default();
        config.message_timeout = message_timeout.map(Duration::from_secs);
        config.idle_timeout = idle_timeout.map(Duration::from_secs);
        config.keepalive_interval = keepalive.map(Duration::from_secs);
        let whole = play(&config, &steps, false);
        prop_assert_eq!(play(&config, &steps, true), whole);
    }
}
