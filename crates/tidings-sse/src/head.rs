//! The HTTP around the stream: the headers each side sends, and reading them.
//!
//! # Why it is built this way
//!
//! SSE rides on a plain HTTP response, so this crate has no HTTP parser of its own:
//! these helpers take header names and values as slices, the way `httparse`, `http`
//! and `hyper` all hand them out, and produce constants any HTTP library can send.
//! The one thing every side must agree on is small and easy to get subtly wrong:
//!
//! * the client asks with `Accept: text/event-stream` and `Cache-Control: no-store`
//!   (the spec sets the request's cache mode to "no-store"), plus `Last-Event-ID` when
//!   resuming;
//! * the server answers `200` with `Content-Type: text/event-stream` (parameters such
//!   as `; charset=utf-8` are allowed, the MIME type's essence is what counts) and
//!   `Cache-Control: no-store` so that no cache replays an old stream.

use bytes::BufMut;

use crate::Error;

/// The MIME type of an event stream.
pub const MIME_TYPE: &str = "text/event-stream";

/// The headers a client sends on every request for an event stream. A reconnecting
/// client adds `Last-Event-ID`; [`Request::headers`](crate::event_source::Request::headers)
/// does that for you, and [`Client`](crate::Client) writes the whole request.
pub const REQUEST_HEADERS: [(&str, &str); 2] =
    [("Accept", MIME_TYPE), ("Cache-Control", "no-store")];

/// The headers a server sends with its `200 OK` event stream response.
pub const RESPONSE_HEADERS: [(&str, &str); 2] =
    [("Content-Type", MIME_TYPE), ("Cache-Control", "no-store")];

/// The whole HTTP/1.1 response head a server writes on a raw connection before the
/// event stream: `200 OK`, the [`RESPONSE_HEADERS`], and `Connection: close`.
///
/// It has no `Content-Length` and no `Transfer-Encoding`, so the body is
/// close-delimited: it runs until the server closes the connection (RFC 9112 §6.3,
/// rule 8), which needs no framing per event and which every HTTP/1.x client reads.
/// `Connection: close` says so up front ("A server that does not support persistent
/// connections MUST send the "close" connection option in every response message
/// that does not have a 1xx status code", RFC 9112 §9.6). Servers that need more
/// headers (CORS, cookies) write their own head with [`RESPONSE_HEADERS`].
pub const RESPONSE_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\n\
Content-Type: text/event-stream\r\n\
Cache-Control: no-store\r\n\
Connection: close\r\n\
\r\n";

/// Appends [`RESPONSE_HEAD`] to `buf`.
///
/// ```
/// let mut buf = Vec::new();
/// tidings_sse::head::write_response_head(&mut buf);
/// assert_eq!(
///     buf,
///     b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n\
///       Connection: close\r\n\r\n"
/// );
/// ```
pub fn write_response_head(buf: &mut impl BufMut) {
    buf.put_slice(RESPONSE_HEAD);
}

/// Reads `Last-Event-ID` from a request's headers, so a server can resume the stream
/// after the event the client saw last. Names are compared case-insensitively;
/// the value is taken as sent (an ID may legitimately have spaces at either end).
///
/// Returns `Ok(None)` when the header is absent or empty (a client with an empty last
/// event ID sends nothing: "If the `EventSource` object's last event ID string is not
/// the empty string").
///
/// ```
/// use tidings_sse::head::last_event_id;
///
/// let headers = [("Host", &b"example.com"[..]), ("last-event-id", b"42")];
/// assert_eq!(last_event_id(headers)?, Some("42"));
/// # Ok::<(), tidings_sse::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::InvalidLastEventId`] (status 400) when the value is not UTF-8, contains
/// NUL, CR or LF (no `id` field can produce such an ID), or the header is repeated.
pub fn last_event_id<'h, I>(headers: I) -> Result<Option<&'h str>, Error>
where
    I: IntoIterator<Item = (&'h str, &'h [u8])>,
{
    let mut found = None;
    for (name, value) in headers {
        if !name.eq_ignore_ascii_case("last-event-id") {
            continue;
        }
        if found.is_some() {
            return Err(Error::InvalidLastEventId);
        }
        let value = core::str::from_utf8(value).map_err(|_| Error::InvalidLastEventId)?;
        if value.bytes().any(|b| matches!(b, 0 | b'\r' | b'\n')) {
            return Err(Error::InvalidLastEventId);
        }
        found = Some(value);
    }
    Ok(found.filter(|id| !id.is_empty()))
}

/// `true` if a `Content-Type` value names the `text/event-stream` MIME type.
///
/// This compares the *essence* of the parsed MIME type, as Fetch does: HTTP
/// whitespace around the value is ignored, type and subtype are ASCII
/// case-insensitive, and parameters (`; charset=utf-8`) do not matter.
///
/// ```
/// use tidings_sse::head::is_event_stream;
///
/// assert!(is_event_stream(b"Text/Event-Stream; charset=utf-8"));
/// assert!(!is_event_stream(b"text/plain"));
/// ```
#[must_use]
pub fn is_event_stream(content_type: &[u8]) -> bool {
    // "Remove any leading and trailing HTTP whitespace from input."
    let value = trim_http_whitespace(content_type);
    // The essence runs up to the first ';'; trailing whitespace before it is removed
    // ("Remove any trailing HTTP whitespace from subtype").
    let essence = match memchr::memchr(b';', value) {
        Some(semicolon) => trim_http_whitespace(&value[..semicolon]),
        None => value,
    };
    essence.eq_ignore_ascii_case(MIME_TYPE.as_bytes())
}

/// HTTP whitespace is U+000A LF, U+000D CR, or an HTTP tab or space (Fetch, §2).
fn trim_http_whitespace(mut bytes: &[u8]) -> &[u8] {
    let is_ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    while let Some((first, rest)) = bytes.split_first() {
        if !is_ws(first) {
            break;
        }
        bytes = rest;
    }
    while let Some((last, rest)) = bytes.split_last() {
        if !is_ws(last) {
            break;
        }
        bytes = rest;
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn response_head_has_the_response_headers() {
        let mut head = b"HTTP/1.1 200 OK\r\n".to_vec();
        for (name, value) in RESPONSE_HEADERS.iter().chain(&[("Connection", "close")]) {
            head.extend_from_slice(alloc::format!("{name}: {value}\r\n").as_bytes());
        }
        head.extend_from_slice(b"\r\n");
        assert_eq!(RESPONSE_HEAD, head);
        let mut written = Vec::new();
        write_response_head(&mut written);
        assert_eq!(written, head);
    }

    #[test]
    fn mime_essence() {
        for ok in [
            &b"text/event-stream"[..],
            b" text/event-stream ",
            b"TEXT/EVENT-STREAM",
            b"text/event-stream;charset=utf-8",
            b"text/event-stream \t; x=y",
        ] {
            assert!(is_event_stream(ok), "{ok:?}");
        }
        for bad in [
            &b""[..],
            b"text/plain",
            b"text/event-streams",
            b"text/ event-stream",
            b"text/event-stream,text/plain",
            b"application/json",
        ] {
            assert!(!is_event_stream(bad), "{bad:?}");
        }
    }

    #[test]
    fn last_event_id_rules() {
        assert_eq!(last_event_id([]), Ok(None));
        assert_eq!(last_event_id([("Last-Event-ID", &b""[..])]), Ok(None));
        assert_eq!(
            last_event_id([("LAST-EVENT-ID", &b" 7 "[..])]),
            Ok(Some(" 7 "))
        );
        let twice = [("last-event-id", &b"1"[..]), ("Last-Event-Id", b"2")];
        assert_eq!(last_event_id(twice), Err(Error::InvalidLastEventId));
        for bad in [&b"\xFF"[..], b"a\0", b"a\rb"] {
            let err = last_event_id([("last-event-id", bad)]).unwrap_err();
            assert_eq!((err, err.status()), (Error::InvalidLastEventId, Some(400)));
        }
    }
}
