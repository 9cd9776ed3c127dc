//! The HTTP/1.1 client machine driven in memory with virtual time: the "server" is a
//! byte string, the "network" is a function call, the clock is a `Duration`. One test
//! per rule the client applies (RFC 9112 framing, RFC 9110 redirects, Fetch's
//! credential rule), and the whole conversation at every split.

mod common;

use core::time::Duration;

use common::Rng;
use proptest::prelude::*;
use tidings_sse::client::{Config, Url, UrlError};
use tidings_sse::{Cause, Client, Error, Event, LocalError, MessageEvent, ReadyState, Warning};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// A config with no backoff and a 1 s reconnection time, so delays are exact.
fn quick() -> Config {
    let mut config = Config::default();
    config.event_source.backoff = None;
    config.event_source.reconnection_time = secs(1);
    config
}

fn client(url: &str, config: Config) -> Client {
    Client::with_random_source(url, config, |buf: &mut [u8]| buf.fill(0), secs(0)).unwrap()
}

fn drain(client: &mut Client) -> Vec<Event> {
    std::iter::from_fn(|| client.poll_event()).collect()
}

/// Expects exactly one `Connect`; connects; returns the URL and the request head.
fn connect(client: &mut Client) -> (Url, String) {
    let url = match &drain(client)[..] {
        [Event::Connect(url)] => url.clone(),
        other => panic!("expected one Connect, got {other:?}"),
    };
    client.handle_connected();
    let request = client.poll_transmit().expect("a request");
    assert_eq!(client.poll_transmit(), None, "one request per connection");
    (url, String::from_utf8(request.to_vec()).unwrap())
}

fn message(data: &str, id: &str) -> Event {
    Event::Message(MessageEvent::new("", data, id))
}

fn reconnecting(cause: Cause) -> Event {
    Event::Error {
        ready_state: ReadyState::Connecting,
        cause,
    }
}

fn failed(cause: Cause) -> Event {
    Event::Error {
        ready_state: ReadyState::Closed,
        cause,
    }
}

const OK: &str = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n";

/// Answers the pending connection with `response` at time `now`; returns the events.
fn answer(client: &mut Client, response: &str, now: Duration) -> Vec<Event> {
    connect(client);
    client.handle_bytes(response.as_bytes(), now);
    drain(client)
}

/// Waits out the scheduled reconnection.
fn wait(client: &mut Client) -> Duration {
    let deadline = client.poll_timeout().expect("a reconnection is scheduled");
    client.handle_timeout(deadline);
    deadline
}

#[test]
fn the_request_head() {
    let mut config = quick();
    config
        .headers
        .push(("Authorization".into(), "Bearer t".into()));
    let mut client = client("http://Example.com:8080/p?q=1#frag", config);
    let (url, request) = connect(&mut client);
    assert_eq!(url.to_string(), "http://example.com:8080/p?q=1");
    assert_eq!(
        request,
        "GET /p?q=1 HTTP/1.1\r\nHost: example.com:8080\r\nAccept: text/event-stream\r\n\
         Cache-Control: no-store\r\nAuthorization: Bearer t\r\n\r\n"
    );
    // Resuming: Last-Event-ID after the machine's headers.
    client.handle_bytes(format!("{OK}id: 7\ndata: x\n\n").as_bytes(), secs(0));
    client.handle_disconnect(secs(0));
    let _ = drain(&mut client);
    wait(&mut client);
    let (_, request) = connect(&mut client);
    assert!(
        request.ends_with(
            "Cache-Control: no-store\r\nLast-Event-ID: 7\r\nAuthorization: Bearer t\r\n\r\n"
        ),
        "{request}"
    );
    // The default port is not written; https asks for TLS.
    let mut client = self::client("https://h:443", quick());
    let (url, request) = connect(&mut client);
    assert!((url.is_https(), url.port()) == (true, 443));
    assert!(
        request.starts_with("GET / HTTP/1.1\r\nHost: h\r\n"),
        "{request}"
    );
}

#[test]
fn what_cannot_be_sent_is_refused_up_front() {
    let new = |url: &str, header: Option<(&str, &str)>| {
        let mut config = Config::default();
        config
            .headers
            .extend(header.map(|(n, v)| (n.to_owned(), v.to_owned())));
        Client::new(url, config, secs(0)).map(|_| ())
    };
    assert_eq!(new("http://h/", None), Ok(()));
    assert_eq!(
        new("ws://h/", None),
        Err(LocalError::InvalidUrl(UrlError::Scheme))
    );
    assert_eq!(
        new("http://u:p@h/", None),
        Err(LocalError::InvalidUrl(UrlError::Userinfo))
    );
    assert_eq!(
        new("http://h/", Some(("Bad\r\nName", "x"))),
        Err(LocalError::InvalidHeader)
    );
    assert_eq!(
        new("http://h/", Some(("X", "caf\u{e9}"))),
        Err(LocalError::InvalidHeader)
    );
    for name in [
        "Host",
        "Content-Length",
        "Transfer-Encoding",
        "Last-Event-ID",
    ] {
        assert_eq!(
            new("http://h/", Some((name, "1"))),
            Err(LocalError::ForbiddenHeader),
            "{name}"
        );
    }
}

#[test]
fn close_delimited_body() {
    let mut client = client("http://h/", quick());
    let events = answer(
        &mut client,
        &format!("{OK}id: 1\ndata: a\n\ndata: b"),
        secs(0),
    );
    assert_eq!(events, [Event::Open, message("a", "1")]);
    client.handle_bytes(b"\n\n", secs(0));
    assert_eq!(drain(&mut client), [message("b", "1")]);
    // The end of the connection is the end of the body: reconnect after `retry`.
    client.handle_disconnect(secs(2));
    assert_eq!(drain(&mut client), [reconnecting(Cause::Disconnected)]);
    assert_eq!(client.poll_timeout(), Some(secs(3)));
}

/// RFC 9112 §6.3 rule 6: a Content-Length body ends after that many bytes; what
/// follows is not part of it.
#[test]
fn content_length_body() {
    let mut client = client("http://h/", quick());
    let response =
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 15\r\n\r\n";
    let events = answer(
        &mut client,
        &format!("{response}id: 2\ndata: b\n\nDROPPED\n\n"),
        secs(0),
    );
    assert_eq!(
        events,
        [
            Event::Open,
            message("b", "2"),
            reconnecting(Cause::Disconnected)
        ]
    );
    // A later read of the dropped connection changes nothing.
    client.handle_bytes(b"data: late\n\n", secs(0));
    assert_eq!(drain(&mut client), []);
}

/// RFC 9112 §7.1: chunk extensions are ignored, trailers skipped, the last chunk ends
/// the body, data lines may straddle chunks.
#[test]
fn chunked_body() {
    let mut client = client("http://h/", quick());
    let response = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n\
                    3;ext=1\r\nid:\r\n7\r\n 1\ndata\r\n4\r\n: a\n\r\n1\r\n\n\r\n0\r\nTrailer: x\r\n\r\n";
    let events = answer(&mut client, response, secs(0));
    assert_eq!(
        events,
        [
            Event::Open,
            message("a", "1"),
            reconnecting(Cause::Disconnected)
        ]
    );
}

#[test]
fn malformed_chunk_is_a_network_error() {
    let mut client = client("http://h/", quick());
    let response = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n\
                    10\r\nid: 5\ndata: ok\n\n\r\nZZ\r\nid: 6\ndata: lost\n\n";
    let events = answer(&mut client, response, secs(0));
    assert_eq!(
        events,
        [
            Event::Open,
            message("ok", "5"),
            reconnecting(Cause::Error(Error::Chunked(
                tidings_sse::client::ChunkedError::InvalidSize
            )))
        ]
    );
    wait(&mut client);
    let (_, request) = connect(&mut client);
    assert!(request.contains("\r\nLast-Event-ID: 5\r\n"), "{request}");
}

/// RFC 9110 §15.2: interim responses before the final one (101 excepted).
#[test]
fn interim_responses_are_skipped() {
    let mut client = client("http://h/", quick());
    let response = format!(
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n{OK}data: x\n\n"
    );
    // In one piece and byte by byte.
    assert_eq!(
        answer(&mut client, &response, secs(0)),
        [Event::Open, message("x", "")]
    );
    let mut client = self::client("http://h/", quick());
    connect(&mut client);
    for byte in response.as_bytes() {
        client.handle_bytes(std::slice::from_ref(byte), secs(0));
    }
    assert_eq!(drain(&mut client), [Event::Open, message("x", "")]);
    // 101 is final, and not 200.
    let mut client = self::client("http://h/", quick());
    let events = answer(&mut client, "HTTP/1.1 101 Switching\r\n\r\n", secs(0));
    assert_eq!(events, [failed(Cause::Status(101))]);
}

#[test]
fn refused_responses_fail() {
    for (response, cause) in [
        ("HTTP/1.1 204 No Content\r\n\r\n", Cause::Status(204)),
        (
            "HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n",
            Cause::Status(503),
        ),
        (
            "HTTP/1.1 300 Choices\r\nLocation: /x\r\n\r\n",
            Cause::Status(300),
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\ndata: x\n\n",
            Cause::ContentType,
        ),
        ("HTTP/1.1 200 OK\r\n\r\ndata: x\n\n", Cause::ContentType),
    ] {
        let mut client = client("http://h/", quick());
        assert_eq!(answer(&mut client, response, secs(0)), [failed(cause)]);
        assert_eq!(client.ready_state(), ReadyState::Closed);
        assert_eq!(client.poll_timeout(), None);
        // Late news changes nothing.
        client.handle_disconnect(secs(1));
        client.handle_timeout(secs(100));
        assert_eq!(drain(&mut client), []);
    }
}

#[test]
fn unreadable_heads_are_network_errors() {
    let mut config = quick();
    config.max_head_size = 128;
    config.max_headers = 2;
    let big = format!("HTTP/1.1 200 OK\r\nX: {}\r\n\r\n", "a".repeat(200));
    for (response, error) in [
        (
            "HTTP/1.1 2000 OK\r\n\r\n".to_owned(),
            Error::InvalidResponseHead,
        ),
        (big, Error::HeadTooLarge { limit: 128 }),
        (
            "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n".to_owned(),
            Error::TooManyHeaders { limit: 2 },
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 1x\r\n\r\n"
                .to_owned(),
            Error::InvalidContentLength,
        ),
        // Interim heads count towards the size limit.
        (
            "HTTP/1.1 100 Continue\r\n\r\n".repeat(6),
            Error::HeadTooLarge { limit: 128 },
        ),
    ] {
        let mut client = client("http://h/", config.clone());
        let events = answer(&mut client, &response, secs(0));
        assert_eq!(events, [reconnecting(Cause::Error(error))], "{response:?}");
        assert_eq!(client.poll_timeout(), Some(secs(1)));
    }
}

#[test]
fn every_redirect_status_is_followed() {
    for status in [301, 302, 303, 307, 308] {
        let mut client = client("http://h/start", quick());
        let events = answer(
            &mut client,
            &format!("HTTP/1.1 {status} Moved\r\nLocation: /next\r\nContent-Length: 0\r\n\r\n"),
            secs(0),
        );
        assert!(matches!(&events[..], [Event::Connect(url)] if url.to_string() == "http://h/next"));
        client.handle_connected();
        let request = client.poll_transmit().unwrap();
        assert!(request.starts_with(b"GET /next HTTP/1.1\r\nHost: h\r\n"));
        client.handle_bytes(format!("{OK}data: moved\n\n").as_bytes(), secs(0));
        assert_eq!(drain(&mut client), [Event::Open, message("moved", "")]);
        // Reconnections go to the URL given, not to the redirect's target.
        client.handle_disconnect(secs(0));
        let _ = drain(&mut client);
        wait(&mut client);
        assert_eq!(connect(&mut client).0.to_string(), "http://h/start");
    }
}

#[test]
fn redirect_targets_resolve_against_the_hop() {
    let mut client = client("http://h:81/a/b?q", quick());
    connect(&mut client);
    client.handle_bytes(b"HTTP/1.1 302 Found\r\nLocation: c/../d\r\n\r\n", secs(0));
    let (url, _) = connect(&mut client);
    assert_eq!(url.to_string(), "http://h:81/a/d");
    client.handle_bytes(
        b"HTTP/1.1 307 T\r\nLocation: https://Other/x\r\n\r\n",
        secs(0),
    );
    let (url, request) = connect(&mut client);
    assert_eq!(url.to_string(), "https://other/x");
    assert!(request.contains("\r\nHost: other\r\n"));
    client.handle_bytes(b"HTTP/1.1 308 P\r\nLocation: //third:9/y\r\n\r\n", secs(0));
    assert_eq!(connect(&mut client).0.to_string(), "https://third:9/y");
}

#[test]
fn redirects_that_cannot_be_followed_fail() {
    let mut config = quick();
    config.max_redirects = 3;
    // A loop: the request and three redirects, then the end.
    let mut client = client("http://h/loop", config.clone());
    for _ in 0..3 {
        connect(&mut client);
        client.handle_bytes(b"HTTP/1.1 301 Moved\r\nLocation: /loop\r\n\r\n", secs(0));
    }
    let events = answer(
        &mut client,
        "HTTP/1.1 301 Moved\r\nLocation: /loop\r\n\r\n",
        secs(0),
    );
    assert_eq!(
        events,
        [failed(Cause::Error(Error::TooManyRedirects { limit: 3 }))]
    );
    for (response, error) in [
        ("HTTP/1.1 302 Found\r\n\r\n", Error::InvalidRedirect),
        (
            "HTTP/1.1 302 Found\r\nLocation: mailto:x\r\n\r\n",
            Error::InvalidRedirect,
        ),
        (
            "HTTP/1.1 302 Found\r\nLocation: http://h:99999/\r\n\r\n",
            Error::InvalidRedirect,
        ),
    ] {
        let mut client = self::client("http://h/", config.clone());
        assert_eq!(
            answer(&mut client, response, secs(0)),
            [failed(Cause::Error(error))]
        );
    }
    // https to http: never.
    let mut client = self::client("https://h/", config);
    let events = answer(
        &mut client,
        "HTTP/1.1 302 Found\r\nLocation: http://h/\r\n\r\n",
        secs(0),
    );
    assert_eq!(events, [failed(Cause::Error(Error::RedirectDowngrade))]);
}

/// Issue 14, point 2: credentials followed a redirect to another host. Fetch and curl
/// drop them when the origin (scheme, host, port) changes, for that hop and the rest
/// of the chain.
#[test]
fn credentials_stay_with_their_origin() {
    let mut config = quick();
    for (name, value) in [
        ("Authorization", "Bearer secret"),
        ("cookie", "session=secret"),
        ("Proxy-Authorization", "Basic secret"),
        ("X-Trace", "kept"),
    ] {
        config.headers.push((name.into(), value.into()));
    }
    let mut client = client("http://h/a", config);
    let (_, first) = connect(&mut client);
    assert_eq!(first.matches("secret").count(), 3, "{first}");
    // Same origin (a different path, the default port spelled out): all kept.
    client.handle_bytes(
        b"HTTP/1.1 302 Found\r\nLocation: http://H:80/b\r\n\r\n",
        secs(0),
    );
    let (_, same) = connect(&mut client);
    assert_eq!(same.matches("secret").count(), 3, "{same}");
    // Another port is another origin: dropped, with a warning, X-Trace kept.
    client.handle_bytes(
        b"HTTP/1.1 307 T\r\nLocation: http://h:8080/c\r\n\r\n",
        secs(0),
    );
    assert!(matches!(
        &drain(&mut client)[..],
        [
            Event::Warning(Warning::CredentialsNotForwarded),
            Event::Connect(_)
        ]
    ));
    client.handle_connected();
    let other = String::from_utf8(client.poll_transmit().unwrap().to_vec()).unwrap();
    assert!(!other.contains("secret"), "{other}");
    assert!(other.contains("\r\nX-Trace: kept\r\n"), "{other}");
    // Back to the first origin later in the chain: still dropped.
    client.handle_bytes(
        b"HTTP/1.1 302 Found\r\nLocation: http://h/d\r\n\r\n",
        secs(0),
    );
    let (_, back) = connect(&mut client);
    assert!(!back.contains("secret"), "{back}");
    // Another scheme and another host are other origins too.
    for location in ["https://h/e", "http://evil/e"] {
        let mut config = quick();
        config
            .headers
            .push(("Authorization".into(), "Bearer secret".into()));
        let mut client = self::client("http://h/a", config);
        connect(&mut client);
        let redirect = format!("HTTP/1.1 302 Found\r\nLocation: {location}\r\n\r\n");
        client.handle_bytes(redirect.as_bytes(), secs(0));
        let _ = drain(&mut client);
        client.handle_connected();
        let request = client.poll_transmit().unwrap();
        assert!(!request.windows(6).any(|w| w == b"secret"), "{location}");
    }
    // A reconnection starts from the configured URL with every header.
    client.handle_bytes(OK.as_bytes(), secs(0));
    client.handle_disconnect(secs(0));
    let _ = drain(&mut client);
    wait(&mut client);
    let (_, again) = connect(&mut client);
    assert_eq!(again.matches("secret").count(), 3, "{again}");
}

#[test]
fn connect_timeout_covers_dial_request_and_head() {
    // The dial never completes.
    let mut client = client("http://h/", quick());
    let _ = drain(&mut client);
    assert_eq!(client.poll_timeout(), Some(secs(10)));
    client.handle_timeout(secs(9));
    assert_eq!(drain(&mut client), []);
    client.handle_timeout(secs(10));
    assert_eq!(
        drain(&mut client),
        [reconnecting(Cause::Error(Error::ConnectTimeout))]
    );
    // A late handle_connected for the abandoned dial is ignored.
    client.handle_connected();
    assert_eq!(client.poll_transmit(), None);
    // The head trickles in: bytes do not push the deadline back.
    assert_eq!(wait(&mut client), secs(11));
    connect(&mut client);
    for (i, byte) in b"HTTP/1.1 200 OK\r\n".iter().enumerate() {
        client.handle_bytes(
            std::slice::from_ref(byte),
            secs(11) + Duration::from_millis(i as u64 * 500),
        );
    }
    assert_eq!(client.poll_timeout(), Some(secs(21)));
    client.handle_timeout(secs(21));
    assert_eq!(
        drain(&mut client),
        [reconnecting(Cause::Error(Error::ConnectTimeout))]
    );
    // Each redirect hop has its own deadline.
    wait(&mut client);
    connect(&mut client);
    client.handle_bytes(b"HTTP/1.1 302 F\r\nLocation: /x\r\n\r\n", secs(30));
    let _ = drain(&mut client);
    assert_eq!(client.poll_timeout(), Some(secs(40)));
}

/// Issue 14, point 5, through the HTTP layer: the head, then nothing.
#[test]
fn silent_stream_after_the_head_reconnects() {
    let mut client = client("http://h/", quick());
    assert_eq!(answer(&mut client, OK, secs(0)), [Event::Open]);
    assert_eq!(client.poll_timeout(), Some(secs(45)));
    client.handle_timeout(secs(45));
    assert_eq!(
        drain(&mut client),
        [reconnecting(Cause::Error(Error::ReadTimeout))]
    );
    assert_eq!(wait(&mut client), secs(46));
    assert!(matches!(&drain(&mut client)[..], [Event::Connect(_)]));
}

#[test]
fn close_drops_everything() {
    let mut client = client("http://h/", quick());
    connect(&mut client);
    client.handle_bytes(format!("{OK}data: a\n\n").as_bytes(), secs(0));
    client.close();
    assert_eq!(client.ready_state(), ReadyState::Closed);
    assert_eq!(drain(&mut client), []);
    client.handle_bytes(b"data: b\n\n", secs(0));
    client.handle_disconnect(secs(0));
    assert_eq!((drain(&mut client), client.poll_timeout()), (vec![], None));
}

/// Response level (an HTTP stack of the caller's, e.g. HTTP/2): the request as
/// header fields, the head as a status and a `Content-Type`, the body as the stack
/// framed it. The `EventSource`'s rules are those of the byte level.
fn headers(client: &Client) -> Vec<String> {
    let fields = client.request_headers();
    fields
        .map(|(name, value)| format!("{name}: {value}"))
        .collect()
}

const EVENT_STREAM: Option<&[u8]> = Some(b"text/event-stream");

#[test]
fn response_level_streams_and_resumes() {
    let mut config = quick();
    config
        .headers
        .push(("Authorization".into(), "Bearer t".into()));
    let mut client = client("http://h/events", config);
    assert!(matches!(&drain(&mut client)[..], [Event::Connect(_)]));
    assert_eq!(
        headers(&client),
        [
            "Accept: text/event-stream",
            "Cache-Control: no-store",
            "Authorization: Bearer t"
        ]
    );
    // A body before the head is late news: ignored.
    client.handle_body(b"data: early\n\n", secs(0));
    assert!(!client.has_opened());
    client.handle_response(200, EVENT_STREAM, secs(0));
    client.handle_body(b"id: 7\ndata: x\n\ndata: cut", secs(0));
    assert_eq!(drain(&mut client), [Event::Open, message("x", "7")]);
    assert!(client.has_opened());
    assert_eq!(client.poll_transmit(), None, "the stack sends the request");
    // The stack says the stream ended: the partial event is dropped, a reconnection
    // follows with Last-Event-ID before the configured fields.
    client.handle_disconnect(secs(0));
    assert_eq!(drain(&mut client), [reconnecting(Cause::Disconnected)]);
    wait(&mut client);
    assert!(matches!(&drain(&mut client)[..], [Event::Connect(_)]));
    assert_eq!(
        headers(&client)[2..],
        ["Last-Event-ID: 7", "Authorization: Bearer t"]
    );
    // A failed request after an open stream: a reconnection, and still opened.
    client.handle_disconnect(secs(2));
    assert_eq!(drain(&mut client), [reconnecting(Cause::Disconnected)]);
    assert!(client.has_opened());
}

#[test]
fn response_level_statuses_fail_and_redirects_are_not_followed() {
    for (status, content_type, cause) in [
        (204, None, Cause::Status(204)),
        (301, None, Cause::Status(301)),
        (500, EVENT_STREAM, Cause::Status(500)),
        (200, Some(&b"text/html"[..]), Cause::ContentType),
    ] {
        let mut client = client("http://h/", quick());
        let _ = drain(&mut client);
        client.handle_response(status, content_type, secs(0));
        assert_eq!(drain(&mut client), [failed(cause)], "{status}");
        assert_eq!((client.poll_timeout(), client.has_opened()), (None, false));
    }
}

#[test]
fn response_level_failures_before_a_head_reconnect() {
    let mut client = client("http://h/", quick());
    let _ = drain(&mut client);
    // The request failed (no connection, a reset): not opened, a reconnection.
    client.handle_disconnect(secs(0));
    assert_eq!(drain(&mut client), [reconnecting(Cause::Disconnected)]);
    assert!(!client.has_opened());
    // The connect timeout runs from the Connect to the head.
    assert_eq!(wait(&mut client), secs(1));
    let _ = drain(&mut client);
    assert_eq!(client.poll_timeout(), Some(secs(11)));
    client.handle_timeout(secs(11));
    assert_eq!(
        drain(&mut client),
        [reconnecting(Cause::Error(Error::ConnectTimeout))]
    );
    // The abandoned request's late head is ignored.
    client.handle_response(200, EVENT_STREAM, secs(11));
    assert_eq!(drain(&mut client), []);
}

/// Everything a client reports for `response` fed in `pieces`, then disconnected.
fn conversation(response: &[u8], cuts: &[usize]) -> Vec<Event> {
    let mut client = client("http://h/", quick());
    let _ = drain(&mut client);
    client.handle_connected();
    let _ = client.poll_transmit();
    let mut events = Vec::new();
    for piece in common::split_at(response, cuts) {
        client.handle_bytes(piece, secs(0));
        events.extend(drain(&mut client));
    }
    client.handle_disconnect(secs(0));
    events.extend(drain(&mut client));
    events
}

/// A response with interim heads, a chunked body whose chunk boundaries fall inside
/// lines, CRLF and LF, and more than one event.
fn whole_response(rng: &mut Rng) -> Vec<u8> {
    let mut body = Vec::new();
    for i in 0..8 {
        let data = "x".repeat(rng.below(40));
        body.extend_from_slice(format!("id: {i}\r\ndata: {data}\ndata: {i}\n\n").as_bytes());
    }
    let mut wire = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\
        Content-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        .to_vec();
    let mut rest = &body[..];
    while !rest.is_empty() {
        let n = (1 + rng.below(30)).min(rest.len());
        wire.extend_from_slice(format!("{n:x};e=1\r\n").as_bytes());
        wire.extend_from_slice(&rest[..n]);
        wire.extend_from_slice(b"\r\n");
        rest = &rest[n..];
    }
    wire.extend_from_slice(b"0\r\nT: x\r\n\r\n");
    wire
}

#[test]
fn a_whole_response_at_every_split_point() {
    let wire = whole_response(&mut Rng(5));
    let whole = conversation(&wire, &[]);
    assert_eq!(whole.len(), 1 + 8 + 1, "{whole:?}");
    assert_eq!(whole[0], Event::Open);
    assert!(
        matches!(&whole[8], Event::Message(m) if m.data().ends_with("\n7") && m.last_event_id() == "7")
    );
    assert_eq!(whole[9], reconnecting(Cause::Disconnected));
    for cut in 0..=wire.len() {
        assert_eq!(conversation(&wire, &[cut]), whole, "cut at {cut}");
    }
}

proptest! {
    /// Any split of a whole response gives the same events as one piece.
    #[test]
    fn any_split_gives_the_same_events(seed in any::<u64>(), cuts in prop::collection::vec(0usize..2000, 0..40)) {
        let wire = whole_response(&mut Rng(seed | 1));
        prop_assert_eq!(conversation(&wire, &cuts), conversation(&wire, &[]));
    }
}
