//! Handshake vectors checked both ways, every malformed input with its HTTP
//! status, and every byte split of valid heads.

use tidings_handshake::deflate::{DeflateError, DeflateOffer, DeflatePolicy};
use tidings_handshake::{
    ClientBuilder, ClientHandshake, Error, Extension, Request, RequestError, RequestParser,
    Response, ResponseError, Status, UpgradeRequest,
};

/// A fixed random source: the RFC 6455 §1.3 sample nonce.
fn sample_nonce(buf: &mut [u8]) {
    buf.copy_from_slice(b"the sample nonce");
}

/// RFC 6455 §1.2 / §1.3 request, as a client writes it.
const RFC_REQUEST: &str = "GET /chat HTTP/1.1\r\n\
    Host: server.example.com\r\n\
    Upgrade: websocket\r\n\
    Connection: Upgrade\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Origin: http://example.com\r\n\
    Sec-WebSocket-Protocol: chat, superchat\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";

/// RFC 6455 §1.2 / §1.3 response, as a server writes it.
const RFC_RESPONSE: &str = "HTTP/1.1 101 Switching Protocols\r\n\
    Upgrade: websocket\r\n\
    Connection: Upgrade\r\n\
    Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
    Sec-WebSocket-Protocol: chat\r\n\r\n";

/// RFC 7692 §7.1-style offer on a non-default port with a query.
const DEFLATE_REQUEST: &str = "GET /feed?room=1 HTTP/1.1\r\n\
    Host: [::1]:9001\r\n\
    Upgrade: websocket\r\n\
    Connection: Upgrade\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, x-foo\r\n\
    Sec-WebSocket-Version: 13\r\n\
    Authorization: Bearer abc\r\n\r\n";

const DEFLATE_RESPONSE: &str = "HTTP/1.1 101 Switching Protocols\r\n\
    Upgrade: websocket\r\n\
    Connection: Upgrade\r\n\
    Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
    Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10\r\n\
    Set-Cookie: a=b\r\n\r\n";

fn deflate_offer() -> Extension {
    Extension::new("permessage-deflate")
        .and_then(|e| e.with_param("client_max_window_bits", None))
        .unwrap()
}

fn deflate_answer() -> Extension {
    Extension::new("permessage-deflate")
        .and_then(|e| e.with_param("server_max_window_bits", Some("10")))
        .unwrap()
}

fn rfc_client() -> ClientBuilder {
    ClientBuilder::new("ws://server.example.com/chat")
        .and_then(|b| b.origin("http://example.com"))
        .and_then(|b| b.protocol("chat"))
        .and_then(|b| b.protocol("superchat"))
        .unwrap()
}

fn deflate_client() -> ClientBuilder {
    ClientBuilder::new("ws://[::1]:9001/feed?room=1")
        .and_then(|b| b.header("Authorization", "Bearer abc"))
        .unwrap()
        .extension(deflate_offer())
        .extension(Extension::new("x-foo").unwrap())
}

fn upgrade(bytes: &[u8]) -> UpgradeRequest {
    match RequestParser::new().parse(bytes) {
        Ok(Status::Complete((Request::Upgrade(r), consumed))) => {
            assert_eq!(consumed, bytes.len());
            r
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn rfc6455_section_1_2_both_ways() {
    // encode(value) == bytes
    let mut out = Vec::new();
    let mut client = rfc_client().send_request_with(&mut sample_nonce, &mut out);
    assert_eq!(String::from_utf8(out).unwrap(), RFC_REQUEST);

    // parse(bytes) == value
    let req = upgrade(RFC_REQUEST.as_bytes());
    assert_eq!(
        (req.path(), req.query(), req.host()),
        ("/chat", None, "server.example.com")
    );
    assert_eq!(req.origin(), Some("http://example.com"));
    assert_eq!(req.protocols().collect::<Vec<_>>(), ["chat", "superchat"]);
    assert_eq!(req.key().as_str(), "dGhlIHNhbXBsZSBub25jZQ==");
    assert_eq!(req.headers().len(), 7);

    let mut out = Vec::new();
    req.accept().protocol("chat").unwrap().encode(&mut out);
    assert_eq!(String::from_utf8(out).unwrap(), RFC_RESPONSE);

    let Status::Complete((Response::Accepted(a), _)) =
        client.parse(RFC_RESPONSE.as_bytes()).unwrap()
    else {
        panic!()
    };
    assert_eq!((a.protocol(), a.extensions()), (Some("chat"), &[][..]));
}

#[test]
fn permessage_deflate_offer_both_ways() {
    let mut out = Vec::new();
    let mut client = deflate_client().send_request_with(&mut sample_nonce, &mut out);
    assert_eq!(String::from_utf8(out).unwrap(), DEFLATE_REQUEST);

    let req = upgrade(DEFLATE_REQUEST.as_bytes());
    assert_eq!(
        (req.path(), req.query(), req.host()),
        ("/feed", Some("room=1"), "[::1]:9001")
    );
    assert_eq!(
        req.extensions(),
        [deflate_offer(), Extension::new("x-foo").unwrap()]
    );
    assert_eq!(req.protocols().count(), 0);

    let mut out = Vec::new();
    req.accept()
        .extension(deflate_answer())
        .and_then(|a| a.header("Set-Cookie", "a=b"))
        .unwrap()
        .encode(&mut out);
    assert_eq!(String::from_utf8(out).unwrap(), DEFLATE_RESPONSE);

    let Status::Complete((Response::Accepted(a), _)) =
        client.parse(DEFLATE_RESPONSE.as_bytes()).unwrap()
    else {
        panic!()
    };
    assert_eq!(a.extensions(), [deflate_answer()]);
    let agreed = a.deflate().expect("permessage-deflate agreed");
    assert_eq!(
        (agreed.server_max_window_bits, agreed.client_max_window_bits),
        (10, 15)
    );
    assert_eq!(a.headers().get_str("set-cookie"), Some("a=b"));
}

/// Replaces `from` by `to` in the RFC request (`to` empty deletes the line).
fn edit(from: &str, to: &str) -> String {
    assert!(RFC_REQUEST.contains(from), "{from}");
    RFC_REQUEST.replacen(from, to, 1)
}

#[test]
fn malformed_requests_and_their_status() {
    use RequestError::*;
    #[rustfmt::skip]
    let table: Vec<(&str, String, RequestError, u16)> = vec![
        ("§4.2.1 1: method GET", edit("GET", "POST"), MethodNotGet, 405),
        ("§4.2.1 1: HTTP/1.1", edit("HTTP/1.1", "HTTP/1.0"), HttpVersion, 400),
        ("§4.2.1 2: Host", edit("Host: server.example.com\r\n", ""), Host, 400),
        ("RFC 9112 §3.2: one Host", edit("Host: server.example.com\r\n", "Host: a\r\nHost: b\r\n"), Host, 400),
        ("§4.2.1 3: Upgrade", edit("Upgrade: websocket\r\n", ""), Upgrade, 400),
        ("§4.2.1 3: Upgrade value", edit("Upgrade: websocket", "Upgrade: h2c"), Upgrade, 400),
        ("§4.2.1 4: Connection", edit("Connection: Upgrade\r\n", ""), Connection, 400),
        ("§4.2.1 4: Connection value", edit("Connection: Upgrade", "Connection: keep-alive"), Connection, 400),
        ("§4.2.1 5: key missing", edit("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", ""), Key, 400),
        ("§4.2.1 5: key 15 bytes", edit("dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25j"), Key, 400),
        ("§4.2.1 5: key not base64", edit("dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZ!=="), Key, 400),
        ("§11.3.1: key once", edit("Origin:", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin:"), DuplicateKey, 400),
        ("§4.2.1 6: version 8", edit("Version: 13", "Version: 8"), Version, 426),
        ("§4.2.1 6: version missing", edit("Sec-WebSocket-Version: 13\r\n", ""), Version, 426),
        ("§4.2.1 6: version list", edit("Version: 13", "Version: 13, 8"), Version, 426),
        ("§4.1: protocol tokens", edit("chat, superchat", "chat, super chat"), Protocol, 400),
        ("§9.1: extension grammar", edit("Origin:", "Sec-WebSocket-Extensions: foo;\r\nOrigin:"), Extensions, 400),
        ("httparse: bad header name", edit("Origin:", "Ori gin:"), Malformed, 400),
        ("httparse: bad request line", edit("GET /chat", "GET  /chat"), Malformed, 400),
        ("httparse: bare CR", edit("Origin: http", "Origin: \rhttp"), Malformed, 400),
    ];
    for (rule, input, error, status) in table {
        let got = RequestParser::new().parse(input.as_bytes());
        assert_eq!(got, Err(Error::Request(error)), "{rule}");
        assert_eq!(Error::Request(error).status(), status, "{rule}");
    }
}

#[test]
fn head_limits_answer_431() {
    let mut limits = tidings_handshake::Limits::default();
    limits.max_headers = 6;
    let err = RequestParser::with_limits(limits)
        .parse(RFC_REQUEST.as_bytes())
        .unwrap_err();
    assert_eq!(
        (err.clone(), err.status()),
        (RequestError::TooManyHeaders.into(), 431)
    );
    limits.max_headers = 7;
    assert!(
        RequestParser::with_limits(limits)
            .parse(RFC_REQUEST.as_bytes())
            .is_ok()
    );

    limits.max_head_size = RFC_REQUEST.len() - 1;
    let mut parser = RequestParser::with_limits(limits);
    // Over the limit is refused before the end of the head arrives.
    let err = parser.parse(RFC_REQUEST.as_bytes()).unwrap_err();
    assert_eq!(
        (err.clone(), err.status()),
        (RequestError::HeadTooLarge.into(), 431)
    );
    let mut parser = RequestParser::new();
    let endless = vec![b'a'; tidings_handshake::Limits::DEFAULT_MAX_HEAD_SIZE + 1];
    assert_eq!(parser.parse(&endless).unwrap_err().status(), 431);
}

fn client_for_rfc() -> ClientHandshake {
    rfc_client().send_request_with(&mut sample_nonce, &mut Vec::new())
}

#[test]
fn malformed_responses() {
    use ResponseError::*;
    let edit = |from: &str, to: &str| {
        assert!(RFC_RESPONSE.contains(from), "{from}");
        RFC_RESPONSE.replacen(from, to, 1)
    };
    #[rustfmt::skip]
    let table: Vec<(&str, String, ResponseError)> = vec![
        ("§4.1 1: Upgrade", edit("Upgrade: websocket\r\n", ""), Upgrade),
        ("§4.1 1: Upgrade value", edit("Upgrade: websocket", "Upgrade: websockets"), Upgrade),
        ("§4.1 2: Connection", edit("Connection: Upgrade\r\n", ""), Connection),
        ("§4.1 3: Accept missing", edit("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n", ""), Accept),
        ("§4.1 3: Accept wrong", edit("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo"), Accept),
        ("§11.3.3: Accept once", edit("Sec-WebSocket-Protocol", "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol"), Accept),
        ("§4.1 4: extension not offered", edit("Sec-WebSocket-Protocol", "Sec-WebSocket-Extensions: x-foo\r\nSec-WebSocket-Protocol"), ExtensionNotOffered),
        ("§9.1: extension grammar", edit("Sec-WebSocket-Protocol", "Sec-WebSocket-Extensions: ;\r\nSec-WebSocket-Protocol"), Extensions),
        ("§4.1 5: protocol not offered", edit("Protocol: chat", "Protocol: mqtt"), ProtocolNotOffered),
        ("§4.2.2: one protocol", edit("Protocol: chat", "Protocol: chat, superchat"), ProtocolNotOffered),
        ("101 over HTTP/1.0", edit("HTTP/1.1", "HTTP/1.0"), HttpVersion),
        ("httparse: bad status", edit("101", "1O1"), Malformed),
    ];
    for (rule, input, error) in table {
        let got = client_for_rfc().parse(input.as_bytes());
        assert_eq!(got, Err(Error::Response(error)), "{rule}");
        assert_eq!(Error::Response(error).status(), 502, "{rule}");
    }
    // Case and list forms that must pass.
    let relaxed = edit("Upgrade: websocket", "Upgrade: WebSocket").replacen(
        "Connection: Upgrade",
        "Connection: keep-alive, upgrade",
        1,
    );
    assert!(client_for_rfc().parse(relaxed.as_bytes()).is_ok());
}

#[cfg(feature = "std")]
#[test]
fn the_os_random_source_works() {
    let mut out = Vec::new();
    let a = ClientBuilder::new("ws://a/")
        .unwrap()
        .send_request(&mut out);
    let b = ClientBuilder::new("ws://a/")
        .unwrap()
        .send_request(&mut out);
    assert_ne!(a.key(), b.key());
    assert!(tidings_handshake::SecWebSocketKey::parse(a.key().as_str().as_bytes()).is_some());
}

/// Feeds `input` in the pieces cut at `cuts` to `parse`, and returns the
/// result with `consumed` turned into an absolute offset.
fn feed<T>(
    input: &[u8],
    cuts: &[usize],
    mut parse: impl FnMut(&[u8]) -> Result<Status<(T, usize)>, Error>,
) -> Result<Option<(T, usize)>, Error> {
    let mut start = 0;
    for &end in cuts.iter().chain([&input.len()]) {
        if let Status::Complete((head, consumed)) = parse(&input[start..end])? {
            return Ok(Some((head, start + consumed)));
        }
        start = end;
    }
    Ok(None)
}

#[test]
fn every_byte_split_of_a_request_gives_the_same_result() {
    let mut input = DEFLATE_REQUEST.as_bytes().to_vec();
    input.extend_from_slice(b"\x81\x85frame");
    let whole = feed(&input, &[], |b| RequestParser::new().parse(b))
        .unwrap()
        .unwrap();
    assert_eq!(whole.1, DEFLATE_REQUEST.len());
    for i in 0..=input.len() {
        let mut parser = RequestParser::new();
        assert_eq!(
            feed(&input, &[i], |b| parser.parse(b)).unwrap().as_ref(),
            Some(&whole),
            "{i}"
        );
    }
    let mut parser = RequestParser::new();
    let cuts: Vec<usize> = (1..input.len()).collect();
    assert_eq!(
        feed(&input, &cuts, |b| parser.parse(b)).unwrap(),
        Some(whole)
    );
}

#[test]
fn every_byte_split_of_a_response_gives_the_same_result() {
    let mut input = RFC_RESPONSE.as_bytes().to_vec();
    input.extend_from_slice(b"\x81\x00");
    let whole = feed(&input, &[], |b| client_for_rfc().parse(b))
        .unwrap()
        .unwrap();
    assert_eq!(whole.1, RFC_RESPONSE.len());
    for i in 0..=input.len() {
        let mut client = client_for_rfc();
        assert_eq!(
            feed(&input, &[i], |b| client.parse(b)).unwrap().as_ref(),
            Some(&whole),
            "{i}"
        );
    }
    let mut client = client_for_rfc();
    let cuts: Vec<usize> = (1..input.len()).collect();
    assert_eq!(
        feed(&input, &cuts, |b| client.parse(b)).unwrap(),
        Some(whole)
    );
}

#[test]
fn permessage_deflate_typed_offer_and_policy_agree() {
    let mut offer = DeflateOffer::default();
    offer.server_no_context_takeover = true;
    let mut out = Vec::new();
    let mut client = ClientBuilder::new("ws://h/")
        .unwrap()
        .deflate(offer)
        .deflate(DeflateOffer::default())
        .send_request_with(&mut sample_nonce, &mut out);
    let request = String::from_utf8(out).unwrap();
    assert!(
        request.contains(
            "\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; \
             client_max_window_bits, permessage-deflate; client_max_window_bits\r\n"
        ),
        "{request}"
    );

    let req = upgrade(request.as_bytes());
    let mut policy = DeflatePolicy::default();
    policy.client_max_window_bits = 12;
    let accept = req.accept().deflate(&policy);
    let chosen = accept
        .chosen_deflate()
        .expect("the first offer is acceptable");
    assert!(chosen.server_no_context_takeover);
    let mut out = Vec::new();
    accept.encode(&mut out);
    let response = String::from_utf8(out).unwrap();
    assert!(
        response.contains(
            "\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; \
             client_max_window_bits=12\r\n"
        ),
        "{response}"
    );
    let Status::Complete((Response::Accepted(a), _)) = client.parse(response.as_bytes()).unwrap()
    else {
        panic!()
    };
    assert_eq!(a.deflate(), Some(chosen));
}

#[test]
fn a_permessage_deflate_response_that_fits_no_offer_fails_the_client() {
    let mut out = Vec::new();
    let offer = Extension::new("permessage-deflate").unwrap();
    let mut client = ClientBuilder::new("ws://h/")
        .unwrap()
        .extension(offer)
        .send_request_with(&mut sample_nonce, &mut out);
    let response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
        Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=9\r\n\r\n";
    let error = client.parse(response.as_bytes()).unwrap_err();
    assert_eq!(
        error,
        Error::Response(ResponseError::Deflate(DeflateError::ClientWindowNotOffered))
    );
    assert_eq!(error.status(), 502);
}
