//! Properties: parse(build(x)) == x in both directions, whatever the options
//! and however the bytes are split.

use proptest::prelude::*;
use tidings_handshake::{
    ClientBuilder, Extension, Request, RequestParser, Response, SecWebSocketKey, Status,
};

fn token() -> impl Strategy<Value = String> {
    "[a-zA-Z][a-zA-Z0-9._~!#$%&'*+^`|-]{0,8}"
}

fn extension() -> impl Strategy<Value = Extension> {
    (
        token(),
        prop::collection::vec((token(), prop::option::of(token())), 0..3),
    )
        .prop_map(|(name, params)| {
            params
                .iter()
                .fold(Extension::new(&name).unwrap(), |e, (n, v)| {
                    e.with_param(n, v.as_deref()).unwrap()
                })
        })
}

#[derive(Debug, Clone)]
struct Options {
    secure: bool,
    host: String,
    port: Option<u16>,
    path: String,
    query: Option<String>,
    origin: Option<String>,
    protocols: Vec<String>,
    extensions: Vec<Extension>,
    headers: Vec<(String, String)>,
    nonce: [u8; 16],
}

fn options() -> impl Strategy<Value = Options> {
    (
        (
            any::<bool>(),
            "[a-z][a-z0-9-]{0,10}(\\.[a-z]{2,5})?",
            prop::option::of(any::<u16>()),
        ),
        (
            "(/[a-zA-Z0-9._~%-]{0,8}){0,3}",
            prop::option::of("[a-zA-Z0-9=&%/-]{0,12}"),
        ),
        prop::option::of("https?://[a-z]{1,10}"),
        prop::collection::vec(token(), 0..4),
        prop::collection::vec(extension(), 0..3),
        prop::collection::vec(("X-[A-Za-z0-9-]{1,10}", "[!-~]([ -~]{0,16}[!-~])?"), 0..3),
        any::<[u8; 16]>(),
    )
        .prop_map(
            |(
                (secure, host, port),
                (path, query),
                origin,
                protocols,
                extensions,
                headers,
                nonce,
            )| {
                Options {
                    secure,
                    host,
                    port,
                    path,
                    query,
                    origin,
                    protocols,
                    extensions,
                    headers,
                    nonce,
                }
            },
        )
}

fn uri(o: &Options) -> String {
    let scheme = if o.secure { "wss" } else { "ws" };
    let port = o.port.map(|p| format!(":{p}")).unwrap_or_default();
    let query = o
        .query
        .as_ref()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    format!("{scheme}://{}{port}{}{query}", o.host, o.path)
}

fn build(o: &Options) -> ClientBuilder {
    let mut b = ClientBuilder::new(&uri(o)).unwrap();
    if let Some(origin) = &o.origin {
        b = b.origin(origin).unwrap();
    }
    for p in &o.protocols {
        b = b.protocol(p).unwrap();
    }
    for e in &o.extensions {
        b = b.extension(e.clone());
    }
    for (n, v) in &o.headers {
        b = b.header(n, v).unwrap();
    }
    b
}

/// Feeds `input` cut at `cut` (clamped), returning the head and the absolute
/// end of the head.
fn parse_split<T>(
    input: &[u8],
    cut: usize,
    mut parse: impl FnMut(&[u8]) -> Result<Status<(T, usize)>, tidings_handshake::Error>,
) -> (T, usize) {
    let cut = cut.min(input.len());
    match parse(&input[..cut]).unwrap() {
        Status::Complete(complete) => complete,
        Status::Partial => match parse(&input[cut..]).unwrap() {
            Status::Complete((head, consumed)) => (head, cut + consumed),
            Status::Partial => panic!("incomplete"),
        },
    }
}

proptest! {
    #[test]
    fn request_and_response_round_trip(
        o in options(),
        cut in 0usize..600,
        choose_protocol in any::<prop::sample::Index>(),
        take_extensions in any::<u8>(),
    ) {
        let mut wire = Vec::new();
        let mut client = build(&o).send_request_with(&mut |b: &mut [u8]| b.copy_from_slice(&o.nonce), &mut wire);
        let head_len = wire.len();
        wire.extend_from_slice(b"\x81\x00trailing");

        // Server side: parse(build(x)) == x.
        let mut parser = RequestParser::new();
        let (request, end) = parse_split(&wire, cut, |b| parser.parse(b));
        prop_assert_eq!(end, head_len);
        let Request::Upgrade(req) = request else { panic!("plain") };
        let path = if o.path.is_empty() { "/" } else { o.path.as_str() };
        prop_assert_eq!(req.path(), path);
        prop_assert_eq!(req.query(), o.query.as_deref());
        prop_assert_eq!(req.host(), client.uri().host_header());
        prop_assert_eq!(req.origin(), o.origin.as_deref());
        prop_assert_eq!(req.protocols().collect::<Vec<_>>(), o.protocols.iter().map(String::as_str).collect::<Vec<_>>());
        prop_assert_eq!(req.extensions(), &o.extensions[..]);
        prop_assert_eq!(req.key(), SecWebSocketKey::from_nonce(o.nonce));
        for (n, v) in &o.headers {
            prop_assert!(req.headers().get_all(n).any(|got| got == v.as_bytes()));
        }

        // Client side: the server's choice comes back as chosen.
        let protocol = (!o.protocols.is_empty()).then(|| o.protocols[choose_protocol.index(o.protocols.len())].clone());
        let chosen: Vec<Extension> = o.extensions.iter().enumerate()
            .filter(|(i, _)| take_extensions & (1 << i) != 0).map(|(_, e)| e.clone()).collect();
        let mut accept = req.accept();
        if let Some(p) = &protocol {
            accept = accept.protocol(p).unwrap();
        }
        for e in &chosen {
            accept = accept.extension(e.clone()).unwrap();
        }
        let mut answer = Vec::new();
        accept.encode(&mut answer);
        let answer_len = answer.len();
        answer.extend_from_slice(b"\x81\x00");
        let (response, end) = parse_split(&answer, cut, |b| client.parse(b));
        prop_assert_eq!(end, answer_len);
        let Response::Accepted(accepted) = response else { panic!("rejected") };
        prop_assert_eq!(accepted.protocol(), protocol.as_deref());
        prop_assert_eq!(accepted.extensions(), &chosen[..]);
    }

    /// Whatever the input, the parsers return without panicking, and the
    /// result does not depend on where the input is cut.
    #[test]
    fn arbitrary_input_is_split_invariant(input in prop::collection::vec(any::<u8>(), 0..300), cut in 0usize..300) {
        let once = RequestParser::new().parse(&input);
        let cut = cut.min(input.len());
        let mut parser = RequestParser::new();
        let split = match parser.parse(&input[..cut]) {
            Ok(Status::Partial) => parser.parse(&input[cut..]).map(|s| match s {
                Status::Complete((head, consumed)) => Status::Complete((head, cut + consumed)),
                Status::Partial => Status::Partial,
            }),
            other => other,
        };
        prop_assert_eq!(once, split);
    }
}
