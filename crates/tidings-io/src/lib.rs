//! Async bindings for the tidings WebSocket crates, on tokio or on any futures-io
//! runtime (smol, async-std).
//!
//! This crate owns the sockets, the timers and the waiting, and nothing else. The
//! protocol lives in the sans-IO crates: `tidings-handshake` parses and answers the
//! opening handshake, `tidings-ws` turns bytes into messages and messages into bytes,
//! decides when to pong, when to close and with which code. Here, a poll loop moves
//! bytes between a stream and those state machines and tells them the time.
//!
//! ```text
//!     AsyncRead ──► Connection::read_buffer() ──► poll_event() ──► recv() / Stream
//!                   (no copy: reads land in the
//!                    core's receive buffer)
//!     send() / Sink ──► send_text / send_binary / close
//!                         │ (waits above the high watermark)
//!                         ▼
//!     AsyncWrite ◄── vectored writes ◄── poll_transmit(now)
//!
//!     runtime timer ──► handle_timeout(now) at poll_timeout()
//!                       (keepalive, message, idle and close timeouts: the core's)
//!     should_close_transport() ──► shutdown(Write)
//! ```
//!
//! # What it refuses
//!
//! - Protocol logic: if a rule of RFC 6455 shows up here, it is a bug in a core crate.
//! - Unbounded memory: reads are bounded by the core's frame and message limits plus
//!   one [`Config::read_buffer_size`]; writes by [`Config::write_high_watermark`]; an
//!   idle connection frees its buffers.
//! - Panics on anything a peer sends, and `unsafe` code.
//!
//! Two tasks: [`WebSocket::split`] gives a [`WsReader`] and a [`WsWriter`] with no
//! lock between them on the data path (signals from the reader wake the writer, which
//! writes the pongs and the close echo). Broadcast: [`WebSocket::send_prepared`] with a
//! [`PreparedMessage`], encoded once for every connection.
//!
//! Dialling: one `Dialer` on tokio (TCP with `TCP_NODELAY`; TLS or not) serves
//! `connect_url_with`, [`sse::EventSource`] and the HTTP/2 client alike. TLS: the
//! `rustls` feature makes the default `Dialer` (and so `connect_url`) dial
//! `wss://` and `https://` with rustls and an explicitly chosen crypto provider;
//! a server wraps its TLS stream like any other (`tls` module docs).
//! Runnable servers are in `examples/`: echo on tokio (`echo_tokio`) and on smol
//! (`echo_smol`), a chat room using broadcast (`chat`), one port serving a page,
//! SSE and WebSocket (`one_port`, with [`accept_parsed`] and
//! `sse::Request::from_head` for a head the server parsed itself), and tidings
//! inside an axum app (`axum`, axum's own WebSocket example with one import
//! changed). Each file's first lines give the command that runs it.
//!
//! # A server
//!
//! ```
//! use tidings_io::{Config, Message, Tokio};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! # let url = format!("ws://{}/", listener.local_addr()?);
//! # tokio::spawn(async move {
//! #     let mut ws = tidings_io::connect_url(&url, Config::default()).await.unwrap();
//! #     ws.send(Message::text("hello")).await.unwrap();
//! #     assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("hello"));
//! #     ws.close(tidings_ws::CloseCode::NORMAL, "").await.unwrap();
//! # });
//! let (tcp, _) = listener.accept().await?;
//! let mut ws = tidings_io::accept(Tokio::new(tcp), Config::default()).await?;
//! while let Some(message) = ws.recv().await {
//!     let message = message?;
//!     if matches!(message, Message::Text(_) | Message::Binary(_)) {
//!         ws.send(message).await?; // echo; pings and the close are answered by the core
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! # A client
//!
//! ```no_run
//! use tidings_io::{Config, Message};
//!
//! # async fn run() -> Result<(), tidings_io::Error> {
//! let mut ws = tidings_io::connect_url("ws://127.0.0.1:9001/chat", Config::default()).await?;
//! ws.send(Message::text("hello")).await?;
//! if let Some(reply) = ws.recv().await {
//!     println!("{:?}", reply?);
//! }
//! ws.close(tidings_ws::CloseCode::NORMAL, "bye").await?;
//! # Ok(()) }
//! ```
//!
//! # Server-Sent Events
//!
//! [`sse`] binds `tidings-sse` the same way: [`sse::SseWriter`] streams events as a
//! `text/event-stream` response on any [`Transport`] (with keep-alive comments and
//! the request's `Last-Event-ID` from [`sse::read_request`]), `sse::SseBody` gives
//! hyper and axum a body, and [`sse::EventSource`] is a client `Stream` that
//! reconnects with `Last-Event-ID` after the server's `retry` delay. The module docs
//! show a server and a client.
//!
//! # Features
//!
//! - `tokio` (default): `Tokio`, for tokio streams and `tokio::time`, `Dialer`,
//!   and `connect_url` / `connect_url_with` (`ws://`; the stream a `Dialer` dials
//!   is a `MaybeTlsStream`).
//! - `futures-io`: `FuturesIo`, for futures-io streams and `async-io` timers.
//! - `http-body`: `sse::SseBody`, an `http_body::Body` of events.
//! - `rustls` (implies `tokio`): `Dialer::tls` and a default `Dialer` that speaks
//!   TLS, so `wss://` and `https://` everywhere a `Dialer` dials, and the `tls`
//!   module (rustls 0.23 with its `ring` provider, `webpki-roots` anchors).
//! - `http2` (implies `tokio`, `http-body`): the `http` module, HTTP/1.1 and
//!   HTTP/2 on one listener with hyper (`http::serve`; ALPN with `rustls`, h2c
//!   otherwise), `http::WebSocketUpgrade` for the HTTP/1.1 upgrade and RFC 8441
//!   extended CONNECT, and event streams as HTTP/2 streams; on the client,
//!   `http::H2Connection`, WebSockets and event streams multiplexed on one
//!   connection.
//! - `axum` (implies `http2`): `axum::{WebSocketUpgrade, WebSocket, Message, Sse}`,
//!   a drop-in for `axum::extract::ws` over HTTP/1.1 and HTTP/2.
//! - `hub` (implies `tokio`): `broker::Node`, a tidings-hub fan-out (topics,
//!   positions `EPOCH:OFFSET`, recovery with explicit discontinuities) on tokio.
//! - `redis` (implies `hub`): `broker::Redis`, the node's topics on Redis Streams,
//!   shared by every node of a deployment (see `docs/scaling.md`).
//! - `nats` (implies `hub`): `broker::Nats`, the same on NATS JetStream.
//!
//! `tokio` and `futures-io` can be on at once. With neither, the crate has no
//! [`Transport`] to run on.
//!
//! To run the sans-IO crates on a runtime of your own, see `docs/integrating.md`.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "axum")]
pub mod axum;
#[cfg(feature = "hub")]
pub mod broker;
mod clock;
mod config;
#[cfg(feature = "deflate")]
mod deflate;
#[cfg(feature = "tokio")]
mod dial;
mod driver;
mod error;
mod handshake;
#[cfg(feature = "http2")]
pub mod http;
mod outbox;
mod split;
pub mod sse;
#[cfg(feature = "tokio")]
mod stream;
#[cfg(feature = "rustls")]
pub mod tls;
mod transport;
mod websocket;

pub use config::Config;
#[cfg(feature = "tokio")]
pub use dial::Dialer;
pub use error::Error;
pub use handshake::{
    accept, accept_parsed, accept_parsed_with, accept_with, connect, connect_with,
};
#[cfg(feature = "tokio")]
pub use handshake::{connect_url, connect_url_with};
pub use split::{SIGNAL_QUEUE, WsReader, WsWriter};
#[cfg(feature = "tokio")]
pub use stream::MaybeTlsStream;
#[cfg(feature = "futures-io")]
pub use transport::FuturesIo;
#[cfg(feature = "tokio")]
pub use transport::Tokio;
pub use transport::{SplitTransport, Transport};
pub use websocket::{Message, WebSocket};

pub use tidings_handshake::{ClientBuilder, Rejection, UpgradeRequest};
#[cfg(feature = "deflate")]
pub use tidings_ws::DeflateConfig;
pub use tidings_ws::{CloseCode, CloseFrame, PreparedMessage, Role, Utf8Bytes};
