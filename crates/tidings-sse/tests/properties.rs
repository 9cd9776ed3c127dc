//! Properties: any split of any input gives the same items (errors included), and
//! `parse(encode(events)) == events` for arbitrary event sequences.

mod common;

use common::{message, parse_chunks, parse_low_level, split_at};
use proptest::prelude::*;
use tidings_sse::encode::EventBuilder;
use tidings_sse::parse::Config;
use tidings_sse::{Error, head};

/// `parse_low_level` through `Parser::parse_ref`, borrowed events turned into owned
/// ones: the borrowed API must report exactly what the owned one does.
fn parse_borrowed(config: Config, chunks: &[&[u8]]) -> Vec<Result<tidings_sse::Item, Error>> {
    use tidings_sse::{ItemRef, Parser, Status};
    let mut parser = Parser::with_config(config);
    let mut out = Vec::new();
    for chunk in chunks {
        let mut rest = *chunk;
        loop {
            match parser.parse_ref(rest) {
                Ok(Status::Complete((item, consumed))) => {
                    assert!(consumed > 0 && consumed <= rest.len());
                    rest = &rest[consumed..];
                    out.push(Ok(match item {
                        ItemRef::Message(e) => message(e.event_type(), e.data(), e.last_event_id()),
                        ItemRef::Owned(item) => item,
                        other => panic!("unknown {other:?}"),
                    }));
                }
                Ok(Status::Partial) => break,
                Err(error) => {
                    out.push(Err(error));
                    return out;
                }
            }
        }
    }
    out
}

/// Bytes that look like an event stream often enough to reach every rule: field
/// names, colons, spaces, every line ending, BOM bytes, NUL, bits of UTF-8.
fn stream_bytes() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(&b"data"[..]),
        Just(&b"event"[..]),
        Just(&b"id"[..]),
        Just(&b"retry"[..]),
        Just(&b":"[..]),
        Just(&b" "[..]),
        Just(&b"\n"[..]),
        Just(&b"\r"[..]),
        Just(&b"\r\n"[..]),
        Just(&b"\n\n"[..]),
        Just(&b"\xEF\xBB\xBF"[..]),
        Just(&b"\0"[..]),
        Just(&b"12"[..]),
        Just("\u{e9}\u{20ac}".as_bytes()),
        Just(&b"\xE2\x82"[..]),
        Just(&b"\xFF"[..]),
        Just(&b"x"[..]),
    ];
    prop::collection::vec(
        prop_oneof![
            token.prop_map(<[u8]>::to_vec),
            any::<u8>().prop_map(|b| vec![b])
        ],
        0..64,
    )
    .prop_map(|parts| parts.concat())
}

fn small_limits() -> impl Strategy<Value = Config> {
    (
        prop_oneof![Just(usize::MAX), 4..40usize],
        prop_oneof![Just(usize::MAX), 2..40usize],
        any::<bool>(),
    )
        .prop_map(|(line, event, comments)| {
            let mut config = Config::default();
            config.max_line_len = line;
            config.max_event_size = event;
            config.comments = comments;
            config
        })
}

/// Text for `data`: anything, including every line ending.
fn data_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("\n".to_string()),
            Just("\r".to_string()),
            Just("\r\n".to_string()),
            Just(" ".to_string()),
            Just(":".to_string()),
            any::<char>().prop_map(String::from),
        ],
        0..12,
    )
    .prop_map(|parts| parts.concat())
}

/// Text without line breaks (and, for IDs, without NUL).
fn field_text(nul_allowed: bool) -> impl Strategy<Value = String> {
    data_text().prop_map(move |text| {
        text.chars()
            .filter(|&c| c != '\r' && c != '\n' && (nul_allowed || c != '\0'))
            .collect()
    })
}

/// How a client sees `data` after the trip: each of CR, LF, CRLF becomes LF.
fn normalise_line_endings(data: &str) -> String {
    data.replace("\r\n", "\n").replace('\r', "\n")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_split_gives_the_same_items(
        input in stream_bytes(),
        config in small_limits(),
        cuts in prop::collection::vec(0usize..300, 0..8),
    ) {
        let whole = parse_chunks(config, [&input[..]]);
        let chunks = split_at(&input, &cuts);
        prop_assert_eq!(&parse_chunks(config, chunks.iter().copied()), &whole);
        prop_assert_eq!(&parse_low_level(config, &chunks), &whole);
        prop_assert_eq!(&parse_borrowed(config, &chunks), &whole);
        prop_assert_eq!(&parse_chunks(config, input.chunks(1)), &whole);
    }

    #[test]
    fn parse_of_encode_is_identity(
        events in prop::collection::vec(
            (field_text(true), data_text(), prop::option::of(field_text(false))),
            0..8,
        ),
    ) {
        let mut wire = Vec::new();
        let mut expected = Vec::new();
        let mut last_event_id = String::new();
        for (event_type, data, id) in &events {
            let mut builder = EventBuilder::new().event(event_type).data(data);
            if let Some(id) = id {
                builder = builder.id(id);
                last_event_id.clone_from(id);
            }
            builder.encode(&mut wire).unwrap();
            expected.push(Ok(message(event_type, &normalise_line_endings(data), &last_event_id)));
        }
        prop_assert_eq!(parse_chunks(Config::default(), [&wire[..]]), expected);
    }

    #[test]
    fn encoder_refuses_instead_of_corrupting(event_type in data_text(), id in data_text()) {
        let mut wire = Vec::new();
        let result = EventBuilder::new().event(&event_type).id(&id).data("x").encode(&mut wire);
        let bad_type = event_type.contains(['\r', '\n']);
        let bad_id = id.contains(['\r', '\n', '\0']);
        match result {
            Err(tidings_sse::LocalError::InvalidEventType) => prop_assert!(bad_type),
            Err(tidings_sse::LocalError::InvalidId) => prop_assert!(bad_id && !bad_type),
            Ok(()) => {
                prop_assert!(!bad_type && !bad_id);
                let items = parse_chunks(Config::default(), [&wire[..]]);
                prop_assert_eq!(items, vec![Ok(message(&event_type, "x", &id))]);
            }
            Err(other) => prop_assert!(false, "unexpected {:?}", other),
        }
        if result.is_err() {
            prop_assert!(wire.is_empty());
        }
    }

    #[test]
    fn content_type_check_never_panics(value in prop::collection::vec(any::<u8>(), 0..40)) {
        let _ = head::is_event_stream(&value);
        let _ = head::last_event_id([("last-event-id", &value[..])]);
    }
}
