//! Named vectors from the rules of WHATWG HTML §9.2.5 (the ABNF) and §9.2.6 (event
//! stream interpretation). Every vector is run as one chunk, through both parser
//! entry points, at every single split point, byte by byte, and at random splits;
//! with comments surfaced and ignored. Encoder vectors are checked both ways.

mod common;

use common::{Rng, message, parse_chunks, parse_low_level, split_at};
use core::time::Duration;
use tidings_sse::encode::EventBuilder;
use tidings_sse::parse::{Config, Item};

fn retry(ms: u64) -> Item {
    Item::Retry(Duration::from_millis(ms))
}

fn comment(text: &str) -> Item {
    Item::Comment(text.into())
}

fn check(input: &[u8], expected: &[Item]) {
    let mut with_comments = Config::default();
    with_comments.comments = true;
    let expected_with: Vec<_> = expected.iter().cloned().map(Ok).collect();
    let expected_without: Vec<_> = expected
        .iter()
        .filter(|item| !matches!(item, Item::Comment(_)))
        .cloned()
        .map(Ok)
        .collect();
    for (config, expected) in [
        (with_comments, &expected_with),
        (Config::default(), &expected_without),
    ] {
        assert_eq!(&parse_chunks(config, [input]), expected, "one chunk");
        assert_eq!(&parse_low_level(config, &[input]), expected, "parse()");
        assert_eq!(&parse_chunks(config, input.chunks(1)), expected, "bytes");
        for cut in 0..=input.len() {
            let chunks = split_at(input, &[cut]);
            assert_eq!(&parse_low_level(config, &chunks), expected, "cut {cut}");
        }
        let mut rng = Rng(0x5EED ^ input.len() as u64);
        for _ in 0..32 {
            let cuts: Vec<usize> = (0..rng.below(6))
                .map(|_| rng.below(input.len() + 1))
                .collect();
            let chunks = split_at(input, &cuts);
            assert_eq!(&parse_chunks(config, chunks), expected, "cuts {cuts:?}");
        }
    }
}

macro_rules! vectors {
    ($( $(#[doc = $doc:literal])* $name:ident: $input:expr => [$($item:expr),* $(,)?]; )*) => {
        $(
            $(#[doc = $doc])*
            #[test]
            fn $name() {
                check($input, &[$($item),*]);
            }
        )*
    };
}

vectors! {
    /// "If the line is empty (a blank line): Dispatch the event."
    dispatch_single_data_line: b"data: hello\n\n" => [message("", "hello", "")];
    /// "Append the field value to the data buffer, then append a single U+000A LINE FEED (LF)."
    dispatch_data_lines_joined_with_lf: b"data: a\ndata: b\ndata: c\n\n" => [message("", "a\nb\nc", "")];
    /// Step 3: only the one final LF is removed.
    dispatch_final_lf_removed_once: b"data: a\ndata\n\n" => [message("", "a\n", "")];
    /// A `data` line with an empty value still makes the buffer non-empty.
    dispatch_empty_data_dispatches_empty_string: b"data\n\n" => [message("", "", "")];
    dispatch_two_empty_data_lines: b"data:\ndata:\n\n" => [message("", "\n", "")];
    /// Step 2: "If the data buffer is an empty string, set the data buffer and the
    /// event type buffer to the empty string and return."
    dispatch_nothing_without_data: b"event: x\n\n\n\n" => [];
    dispatch_empty_block_resets_event_type: b"event: add\n\ndata: 2\n\n" => [message("", "2", "")];
    /// Step 7: the event type buffer is reset after every dispatch.
    dispatch_event_type_resets_after_dispatch: b"event: add\ndata: 1\n\ndata: 2\n\n" => [
        message("add", "1", ""),
        message("", "2", ""),
    ];
    /// "Once the end of the file is reached, any pending data must be discarded."
    dispatch_unterminated_block_is_discarded: b"data: x\n" => [];
    dispatch_unterminated_line_is_discarded: b"data: x\n\ndata: y" => [message("", "x", "")];
    dispatch_blank_lines_alone: b"\n\r\n\r\n\n" => [];

    /// "If value starts with a U+0020 SPACE character, remove it from value." Once.
    field_one_leading_space_removed: b"data:  two\n\n" => [message("", " two", "")];
    field_no_space_after_colon: b"data:x\n\n" => [message("", "x", "")];
    field_tab_is_not_a_space: b"data:\tx\n\n" => [message("", "\tx", "")];
    field_trailing_space_kept: b"data: x \n\n" => [message("", "x ", "")];
    /// Only the *first* colon separates name and value.
    field_colon_in_value: b"data: a: b:c\n\n" => [message("", "a: b:c", "")];
    /// "Field names must be compared literally, with no case folding performed."
    field_names_are_case_sensitive: b"Data: x\nDATA: y\n\n" => [];
    field_name_with_trailing_space_is_unknown: b"data : x\n\n" => [];
    /// "Otherwise: The field is ignored."
    field_unknown_is_ignored: b"foo: bar\ndatum: x\ndata: y\n\n" => [message("", "y", "")];
    field_prefix_of_known_name_is_unknown: b"dat: x\nd\n\n" => [];
    /// "the string is not empty but does not contain a U+003A COLON character (:)":
    /// the whole line is the field name and the value is empty.
    field_without_colon_event_resets_type: b"event: a\nevent\ndata: x\n\n" => [message("", "x", "")];

    /// "If the line starts with a U+003A COLON character (:): Ignore the line."
    comment_line_ignored: b": hello\ndata: x\n\n" => [comment("hello"), message("", "x", "")];
    comment_empty: b":\n" => [comment("")];
    comment_keeps_further_colons: b":: x :\n" => [comment(": x :")];
    comment_does_not_end_a_block: b"data: a\n: ping\ndata: b\n\n" => [
        comment("ping"),
        message("", "a\nb", ""),
    ];

    /// end-of-line = ( cr lf / cr / lf )
    line_crlf: b"data: a\r\ndata: b\r\n\r\n" => [message("", "a\nb", "")];
    line_cr: b"data: a\rdata: b\r\r" => [message("", "a\nb", "")];
    line_lf_cr_is_two_endings: b"data: a\n\rdata: b\n\n" => [message("", "a", ""), message("", "b", "")];
    line_cr_cr_lf: b"data: a\r\r\n" => [message("", "a", "")];
    line_mixed: b"data: a\r\n\ndata: b\r\rdata: c\n\r\n" => [
        message("", "a", ""),
        message("", "b", ""),
        message("", "c", ""),
    ];
    /// A CR as the very last byte of the stream still ends its line.
    line_cr_as_last_byte: b"data: x\r\r" => [message("", "x", "")];
    line_retry_ended_by_final_cr: b"retry: 7\r" => [retry(7)];

    /// "Set the event type buffer to the field value."
    event_type_named: b"event: add\ndata: 1\n\n" => [message("add", "1", "")];
    event_type_last_one_wins: b"event: a\nevent: b\ndata: 1\n\n" => [message("b", "1", "")];
    event_type_empty_means_message: b"event:\ndata: 1\n\n" => [message("message", "1", "")];
    event_type_may_follow_data: b"data: 1\nevent: late\n\n" => [message("late", "1", "")];

    /// "If the field value does not contain U+0000 NULL, then set the last event ID
    /// buffer to the field value. Otherwise, ignore the field."
    id_persists_across_events: b"id: 1\ndata: a\n\ndata: b\n\n" => [
        message("", "a", "1"),
        message("", "b", "1"),
    ];
    id_empty_resets: b"id: 1\ndata: a\n\nid\ndata: b\n\nid:\ndata: c\n\n" => [
        message("", "a", "1"),
        message("", "b", ""),
        message("", "c", ""),
    ];
    id_with_nul_is_ignored: b"id: 1\n\nid: a\0b\ndata: x\n\n" => [message("", "x", "1")];
    id_in_block_without_data_still_counts: b"id: 5\n\ndata: x\n\n" => [message("", "x", "5")];
    id_after_data_in_same_block: b"data: x\nid: 3\n\n" => [message("", "x", "3")];
    id_keeps_inner_spaces: b"id:  a b \ndata: x\n\n" => [message("", "x", " a b ")];

    /// "If the field value consists of only ASCII digits, then interpret the field value
    /// as an integer in base ten, and set the event stream's reconnection time".
    retry_digits: b"retry: 1000\n" => [retry(1000)];
    retry_leading_zeros: b"retry:0042\n" => [retry(42)];
    retry_in_a_block_that_never_dispatches: b"retry: 5\ndata: x" => [retry(5)];
    retry_then_event: b"retry: 5\ndata: x\n\n" => [retry(5), message("", "x", "")];
    retry_non_digits_ignored: b"retry: 1.5\nretry: -1\nretry: 1 \nretry: +1\nretry: 1e3\n" => [];
    retry_two_spaces_ignored: b"retry:  1\n" => [];
    retry_empty_ignored: b"retry:\nretry\n" => [];
    retry_non_ascii_digits_ignored: "retry: \u{0661}\n".as_bytes() => [];

    /// stream = [ bom ] *event; the UTF-8 decode strips one leading BOM.
    bom_stripped: b"\xEF\xBB\xBFdata: x\n\n" => [message("", "x", "")];
    bom_only_once: b"\xEF\xBB\xBF\xEF\xBB\xBFdata: x\n\ndata: y\n\n" => [message("", "y", "")];
    bom_only_at_start: b"data: x\n\n\xEF\xBB\xBFdata: y\n\n" => [message("", "x", "")];
    bom_partial_is_content: b"\xEF\xBBdata: x\n\ndata: y\n\n" => [message("", "y", "")];
    bom_alone: b"\xEF\xBB\xBF" => [];

    /// Streams are decoded with "UTF-8 decode", replacing errors with U+FFFD.
    utf8_multibyte_kept: "data: h\u{e9}llo \u{20ac} \u{1F600}\n\n".as_bytes() => [
        message("", "h\u{e9}llo \u{20ac} \u{1F600}", ""),
    ];
    utf8_invalid_byte_replaced: b"data: a\xFFb\n\n" => [message("", "a\u{FFFD}b", "")];
    utf8_truncated_sequence_is_one_replacement: b"data: \xE2\x82\n\n" => [message("", "\u{FFFD}", "")];
    utf8_sequence_cut_by_line_end: b"data: \xF0\x9F\ndata: \x98\x80\n\n" => [
        message("", "\u{FFFD}\n\u{FFFD}\u{FFFD}", ""),
    ];
    utf8_surrogates_replaced_per_byte: b"data: \xED\xA0\x80\n\n" => [
        message("", "\u{FFFD}\u{FFFD}\u{FFFD}", ""),
    ];
    utf8_overlong_replaced: b"data: \xC0\xAF\n\n" => [message("", "\u{FFFD}\u{FFFD}", "")];
    utf8_in_event_type_and_id: b"event: \xFF\nid: \xFE\ndata: x\n\n" => [
        message("\u{FFFD}", "x", "\u{FFFD}"),
    ];
    utf8_nul_in_data_kept: b"data: a\0b\n\n" => [message("", "a\0b", "")];
}

/// Encoder vectors, checked both ways: `encode(value) == bytes` and
/// `parse(bytes) == value`.
#[test]
fn encoder_vectors_both_ways() {
    let cases: &[(EventBuilder<'_>, &[u8], Vec<Item>)] = &[
        (
            EventBuilder::new().data("hello"),
            b"data: hello\n\n",
            vec![message("", "hello", "")],
        ),
        (
            EventBuilder::new().event("add").id("7").data("a\nb"),
            b"event: add\nid: 7\ndata: a\ndata: b\n\n",
            vec![message("add", "a\nb", "7")],
        ),
        (
            EventBuilder::new().data("a\r\nb\rc"),
            b"data: a\ndata: b\ndata: c\n\n",
            vec![message("", "a\nb\nc", "")],
        ),
        (
            EventBuilder::new().id("").data(" x"),
            b"id:\ndata:  x\n\n",
            vec![message("", " x", "")],
        ),
        (
            EventBuilder::new()
                .retry(Duration::from_millis(2500))
                .data(""),
            b"retry: 2500\ndata:\n\n",
            vec![retry(2500), message("", "", "")],
        ),
        (EventBuilder::new().id("9"), b"id: 9\n\n", vec![]),
    ];
    for (builder, bytes, items) in cases {
        let mut buf = Vec::new();
        builder.encode(&mut buf).unwrap();
        assert_eq!(&buf[..], *bytes, "{builder:?}");
        check(bytes, items);
    }
}
