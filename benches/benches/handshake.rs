//! handshake: a server parsing a browser's upgrade request and writing its `101`
//! answer (which computes `Sec-WebSocket-Accept`), next to tungstenite's
//! `Request::try_parse` + `create_response` + `write_response`.
//!
//! The request carries the headers a browser sends (about 500 bytes). Before timing,
//! both answers are checked to carry the RFC 6455 §1.3 accept key.

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented `pub fn`"
)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tidings_handshake::{Request, RequestParser, Status};
use tungstenite::handshake::machine::TryParse;

const REQUEST: &[u8] = b"GET /chat?room=1 HTTP/1.1\r\n\
Host: server.example.com\r\n\
Connection: Upgrade\r\n\
Pragma: no-cache\r\n\
Cache-Control: no-cache\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\r\n\
Upgrade: websocket\r\n\
Origin: http://example.com\r\n\
Sec-WebSocket-Version: 13\r\n\
Accept-Encoding: gzip, deflate, br\r\n\
Accept-Language: en-US,en;q=0.9\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
\r\n";

/// RFC 6455 §1.3: the accept value for the sample nonce.
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// A server answering the request into `out`.
type Respond = fn(&mut Vec<u8>);

fn tidings(out: &mut Vec<u8>) {
    let mut parser = RequestParser::new();
    let Ok(Status::Complete((head, _))) = parser.parse(REQUEST) else {
        panic!("tidings: request not parsed")
    };
    let Request::Upgrade(req) = head else {
        panic!("tidings: not an upgrade")
    };
    req.accept().encode(out);
}

fn tungstenite(out: &mut Vec<u8>) {
    let Ok(Some((_, req))) = tungstenite::handshake::server::Request::try_parse(REQUEST) else {
        panic!("tungstenite: request not parsed")
    };
    let resp = tungstenite::handshake::server::create_response(&req).expect("tungstenite");
    tungstenite::handshake::server::write_response(out, &resp).expect("tungstenite");
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("handshake");
    group.throughput(Throughput::Bytes(REQUEST.len() as u64));
    let impls: [(&str, Respond); 2] =
        [("tidings-handshake", tidings), ("tungstenite", tungstenite)];
    for (name, f) in impls {
        let mut out = Vec::new();
        f(&mut out);
        let text = String::from_utf8(out.clone()).unwrap().to_ascii_lowercase();
        assert!(text.starts_with("http/1.1 101"), "{name}: {text}");
        let line = format!("sec-websocket-accept: {}\r\n", ACCEPT.to_ascii_lowercase());
        assert!(text.contains(&line), "{name}: {text}");
        group.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                f(black_box(&mut out));
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = tidings_benches::criterion();
    targets = bench
}
criterion_main!(benches);
