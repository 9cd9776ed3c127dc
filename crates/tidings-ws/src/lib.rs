//! A sans-IO WebSocket (RFC 6455): a frame codec and a connection state machine.
//!
//! This crate is the protocol and nothing else. It has no networking code, reads no
//! clock, spawns nothing and depends on no runtime: bytes go in, events and bytes to
//! send come out, and time is a value you pass in. That makes it usable from tokio,
//! smol, a blocking thread, an embedded loop or a fuzzer alike, and testable with both
//! ends in memory. The opening handshake lives in `tidings-handshake`, the async
//! bindings in `tidings-io`.
//!
//! ```text
//!   transport bytes ─► Connection::receive ─┐
//!                                            ▼
//!                    ┌──────────── frame::FrameHeader::decode (stateless)
//!                    │  unmask in place, UTF-8 as it arrives, §5 rules, limits
//!                    ▼
//!      poll_event() ─► Event::{Text, Binary, Chunk, Ping, Pong, Close}
//!
//!   send_text / send_binary / send_fragment / send_ping / close
//!                    │  header + payload (server: the caller's Bytes, no copy;
//!                    ▼                    client: one copy-and-mask pass)
//!   poll_transmit(now) ─► Bytes for the transport      poll_timeout() ─► deadline
//! ```
//!
//! # What it refuses
//!
//! Every rule of RFC 6455 §5-§8 that a receiver can check, each failing the connection
//! with the close code the RFC asks for ([`Error::close_code`]):
//!
//! - 1002: reserved bits without an extension, reserved opcodes, fragmented or
//!   over-long control frames, continuation frames out of order, unmasked frames from a
//!   client or masked frames from a server, a 64-bit length with its high bit set, a
//!   length in a longer form than it needs (§5.2: "the minimal number of bytes MUST
//!   be used"), a one-byte close payload, close codes that may not be sent;
//! - 1007: text or a close reason that is not UTF-8, detected at the first bad byte as
//!   it arrives, not at the end of the message;
//! - 1009: frames over [`Config::max_frame_size`] (as soon as the header says so) and
//!   messages over [`Config::max_message_size`] (1 MiB each by default; a compressed
//!   message counts after inflation);
//! - 1008: a data message not complete within [`Config::message_timeout`] of its
//!   first frame (30 s by default);
//! - 1001 with the reason "idle timeout": nothing received for
//!   [`Config::idle_timeout`], when it is set.
//!
//! It never panics on input, and what the peer sends is bounded by the [`Config`]
//! limits, in memory and in time: a header announcing 2^63 bytes costs nothing, a
//! flood of empty frames costs constant work each and ends at the message deadline,
//! and no peer can make a connection hold more than one message's limit of inflated
//! bytes, or hold it for longer than that deadline.
//!
//! # Example
//!
//! Both ends in memory, a message each way, and the closing handshake:
//!
//! ```
//! use core::time::Duration;
//! use tidings_ws::{CloseCode, Config, Connection, Event, State};
//!
//! let mut client = Connection::client_with_random_source(Config::default(), |key: &mut [u8]| key.fill(7));
//! let mut server = Connection::server(Config::default());
//! let now = Duration::ZERO;
//!
//! client.send_text("ping?")?;
//! while let Some(bytes) = client.poll_transmit(now) { server.receive(&bytes); }
//! assert_eq!(server.poll_event()?, Some(Event::Text("ping?".into())));
//!
//! server.send_binary(&b"pong!"[..])?;
//! server.close(CloseCode::NORMAL, "bye")?;
//! while let Some(bytes) = server.poll_transmit(now) { client.receive(&bytes); }
//! assert_eq!(client.poll_event()?, Some(Event::Binary("pong!".into())));
//! assert!(matches!(client.poll_event()?, Some(Event::Close(Some(f))) if f.code == CloseCode::NORMAL));
//!
//! // The client echoed the close; the server may now close the transport.
//! while let Some(bytes) = client.poll_transmit(now) { server.receive(&bytes); }
//! assert!(matches!(server.poll_event()?, Some(Event::Close(_))));
//! assert_eq!(server.state(), State::Closed);
//! assert!(server.should_close_transport());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Features
//!
//! - `std` (default): OS randomness for client masking keys ([`OsRandom`]) and
//!   runtime CPU detection in `simdutf8`. Without it the crate is `no_std` + `alloc`,
//!   and a client needs a [`RandomSource`] of your choosing.
//! - `deflate`: permessage-deflate (RFC 7692) with zlib-rs: set
//!   `Config::deflate` to what the handshake agreed (`DeflateConfig`); implies
//!   `std`. Compressed messages are inflated as they arrive, bounded by
//!   [`Config::max_message_size`], so a deflate bomb stops at the limit. A
//!   [`PreparedMessage`] broadcast to connections without context takeover on
//!   their sending side is compressed once and its bytes shared by all of them.
//!
//! # `unsafe`
//!
//! The crate denies `unsafe_code` except in two private modules of a few dozen lines,
//! each holding one `unsafe` call that a benchmark showed pays
//! (docs/performance.md), each tested against a safe oracle: writing a client's
//! masked payload into the output buffer's spare capacity in one pass
//! (`BytesMut::set_len`; the oracle is [`mask::mask_bytewise`]), and lending a short
//! text message as `&str` after an inline validation (`from_utf8_unchecked`; the
//! oracle is `core::str::from_utf8`).
#![no_std]
#![deny(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod close;
mod config;
mod connection;
#[cfg(feature = "deflate")]
mod deflate;
mod error;
pub mod frame;
mod key;
pub mod mask;
mod read_size;
mod recv;
mod send;
#[allow(
    unsafe_code,
    reason = "short text lent as `&str` after an inline validation; see the module doc"
)]
mod short_text;
#[allow(
    unsafe_code,
    reason = "one-pass masking into spare capacity; see the module doc"
)]
mod spare;
mod utf8;

pub use close::{CloseCode, CloseFrame};
pub use config::Config;
pub use connection::{Chunk, Connection, Event, MessageKind, Role, State};
#[cfg(feature = "deflate")]
pub use deflate::DeflateConfig;
pub use error::{Error, LocalError};
pub use frame::{FrameHeader, MaskingKey, OpCode};
#[cfg(feature = "std")]
pub use key::OsRandom;
pub use key::RandomSource;
pub use read_size::ReadSize;
pub use recv::{EventRef, RecvHalf, Signal};
pub use send::{PreparedMessage, SendHalf};
pub use utf8::Utf8Bytes;

/// The workspace README's Rust snippets, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
