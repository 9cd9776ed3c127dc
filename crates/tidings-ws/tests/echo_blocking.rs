//! Starts `examples/echo_blocking.rs` on 127.0.0.1:0 and talks to it over real TCP:
//! the handshake, echoes from 0 B to 1 MiB, a ping, the closing handshake (the server
//! closes TCP first), and the answers to a plain GET and a wrong version.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tidings_handshake::{ClientBuilder, Response, Status};
use tidings_ws::{CloseCode, Config, Connection, Event, State};

#[allow(dead_code)]
#[path = "../examples/echo_blocking.rs"]
mod echo_blocking;

fn start() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || echo_blocking::run(listener));
    addr
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// A blocking client: the same loop as the server, from the other side.
struct Client {
    stream: TcpStream,
    conn: Connection,
    epoch: Instant,
    buf: Vec<u8>,
}

impl Client {
    fn open(addr: SocketAddr) -> Self {
        let mut stream = connect(addr);
        let mut out = Vec::new();
        let mut handshake = ClientBuilder::new(&format!("ws://{addr}/echo"))
            .unwrap()
            .send_request(&mut out);
        stream.write_all(&out).unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let leftover = loop {
            let n = stream.read(&mut buf).unwrap();
            assert!(n > 0, "server closed during the handshake");
            match handshake.parse(&buf[..n]).unwrap() {
                Status::Partial => {}
                Status::Complete((Response::Accepted(_), consumed)) => {
                    break buf[consumed..n].to_vec();
                }
                Status::Complete((Response::Rejected(r), _)) => panic!("rejected: {}", r.status()),
            }
        };
        let mut conn = Connection::client(Config::default());
        conn.receive(&leftover);
        Self {
            stream,
            conn,
            epoch: Instant::now(),
            buf,
        }
    }

    fn flush(&mut self) {
        while let Some(chunk) = self.conn.poll_transmit(self.epoch.elapsed()) {
            self.stream.write_all(&chunk).unwrap();
        }
    }

    /// Reads until the next event (or EOF, as `None`).
    fn next_event(&mut self) -> Option<Event> {
        loop {
            if let Some(ev) = self.conn.poll_event().unwrap() {
                self.flush();
                return Some(ev);
            }
            self.flush();
            let n = self.stream.read(&mut self.buf).unwrap();
            if n == 0 {
                self.conn.handle_eof();
                return None;
            }
            self.conn.receive(&self.buf[..n]);
        }
    }
}

#[test]
fn echoes_and_closes() {
    let addr = start();
    let mut c = Client::open(addr);
    for len in [0usize, 1, 125, 126, 65535, 65536, 1 << 20] {
        let text: String = (0..len)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        c.conn.send_text(text.clone()).unwrap();
        c.flush();
        assert_eq!(c.next_event(), Some(Event::Text(text.into())), "text {len}");
        let data: Bytes = (0..len).map(|i| (i * 7) as u8).collect::<Vec<_>>().into();
        c.conn.send_binary(data.clone()).unwrap();
        c.flush();
        assert_eq!(c.next_event(), Some(Event::Binary(data)), "binary {len}");
    }
    c.conn.send_ping(&b"hi"[..]).unwrap();
    c.flush();
    assert_eq!(c.next_event(), Some(Event::Pong(Bytes::from_static(b"hi"))));

    c.conn.close(CloseCode::NORMAL, "bye").unwrap();
    c.flush();
    match c.next_event() {
        Some(Event::Close(Some(frame))) => assert_eq!(frame.code, CloseCode::NORMAL),
        other => panic!("{other:?}"),
    }
    assert_eq!(c.conn.state(), State::Closed);
    // §7.1.1: the server closes the TCP connection first.
    assert_eq!(c.next_event(), None, "server did not close TCP");
    assert!(c.conn.should_close_transport());
}

#[test]
fn protocol_error_gets_1002() {
    let addr = start();
    let mut c = Client::open(addr);
    // An unmasked frame from a client.
    c.stream.write_all(&[0x81, 0x02, b'h', b'i']).unwrap();
    match c.next_event() {
        Some(Event::Close(Some(frame))) => assert_eq!(frame.code, CloseCode::PROTOCOL_ERROR),
        other => panic!("{other:?}"),
    }
}

fn http_exchange(addr: SocketAddr, request: &str) -> String {
    let mut stream = connect(addr);
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn plain_get_probe_and_bad_version() {
    let addr = start();
    // A bare TCP probe (Autobahn's readiness check) must not hurt the server.
    drop(TcpStream::connect(addr).unwrap());

    let page = http_exchange(addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(page.starts_with("HTTP/1.1 426 "), "{page}");

    let bad = http_exchange(
        addr,
        "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
    );
    assert!(bad.starts_with("HTTP/1.1 426 "), "{bad}");
    assert!(
        bad.to_ascii_lowercase()
            .contains("sec-websocket-version: 13\r\n"),
        "{bad}"
    );

    // Still serving.
    let mut c = Client::open(addr);
    c.conn.send_text("still here").unwrap();
    c.flush();
    assert_eq!(c.next_event(), Some(Event::Text("still here".into())));
}
