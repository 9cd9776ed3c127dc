//! Encode → parse round trip: whatever events, comments and retries the fuzzer makes
//! up, the encoder either refuses them (and writes nothing) or the parser gives them
//! back exactly, with line endings in data and comments normalised to LF.
//!
//! Input layout: the bytes are read as (lossy) UTF-8 and split on U+0001 into records;
//! a record is split on U+0002 into `event`, `data`, `id`. A record starting with
//! U+0003 is a comment instead, one starting with U+0004 a `retry` of its length in ms.
#![no_main]

use core::time::Duration;
use libfuzzer_sys::fuzz_target;
use tidings_sse::LocalError;
use tidings_sse::encode::{self, EventBuilder};
use tidings_sse::parse::{Config, Item, MessageEvent, Parser};

fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    core::iter::from_fn(move || {
        let text = rest?;
        match text.find(['\r', '\n']) {
            None => {
                rest = None;
                Some(text)
            }
            Some(end) => {
                let skip = if text[end..].starts_with("\r\n") {
                    2
                } else {
                    1
                };
                rest = Some(&text[end + skip..]);
                Some(&text[..end])
            }
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut wire = Vec::new();
    let mut expected = Vec::new();
    let mut last_event_id = String::new();
    for record in text.split('\u{1}') {
        if let Some(comment) = record.strip_prefix('\u{3}') {
            encode::write_comment(comment, &mut wire);
            expected.extend(lines(comment).map(|line| Item::Comment(line.into())));
            continue;
        }
        if let Some(retry) = record.strip_prefix('\u{4}') {
            let retry = Duration::from_millis(retry.len() as u64);
            encode::write_retry(retry, &mut wire);
            expected.push(Item::Retry(retry));
            continue;
        }
        let mut fields = record.split('\u{2}');
        let data = fields.next().unwrap_or_default();
        let event = fields.next();
        let id = fields.next();
        let mut builder = EventBuilder::new().data(data);
        if let Some(event) = event {
            builder = builder.event(event);
        }
        if let Some(id) = id {
            builder = builder.id(id);
        }
        let before = wire.len();
        match builder.encode(&mut wire) {
            Ok(()) => {
                if let Some(id) = id {
                    last_event_id = id.into();
                }
                let data: Vec<&str> = lines(data).collect();
                let event_type = event.unwrap_or_default();
                expected.push(Item::Message(MessageEvent::new(
                    event_type,
                    &data.join("\n"),
                    &last_event_id,
                )));
            }
            Err(LocalError::InvalidEventType) => {
                assert!(event.is_some_and(|e| e.contains(['\r', '\n'])));
                assert_eq!(wire.len(), before);
            }
            Err(LocalError::InvalidId) => {
                assert!(id.is_some_and(|i| i.contains(['\r', '\n', '\0'])));
                assert_eq!(wire.len(), before);
            }
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    let mut config = Config::default();
    config.comments = true;
    let mut parser = Parser::with_config(config);
    let parsed: Vec<Item> = parser
        .feed(&wire)
        .map(|item| item.expect("within limits"))
        .collect();
    assert_eq!(parsed, expected);
});
