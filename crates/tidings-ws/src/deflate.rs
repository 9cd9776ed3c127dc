//! permessage-deflate (RFC 7692): compressing and inflating message payloads.
//!
//! The negotiation happens in the handshake (tidings-handshake's `deflate` module);
//! this module gets its outcome as a [`DeflateConfig`] and does the per-message
//! work the connection halves call into:
//!
//! ```text
//!  send:  payload ──deflate, SYNC_FLUSH──▶ ... 00 00 ff ff ──strip 4──▶ frames, RSV1 on the first
//!  recv:  frames (RSV1 on the first) ──unmask──▶ + 00 00 ff ff ──inflate, bounded──▶ message
//! ```
//!
//! Why it is built this way:
//! - **Bounded inflation.** Output is produced into a buffer that never grows past
//!   the message limit plus one byte, so a deflate bomb (a few bytes that inflate to
//!   gigabytes) is refused with 1009 after at most
//!   [`Config::max_message_size`](crate::Config::max_message_size) bytes of work
//!   and memory, not after inflating it.
//! - **zlib-rs, directly.** It is the zlib flate2 can sit on, and it exposes
//!   `memLevel`, which is half of the memory a compressor costs (the other half
//!   is the window), so the presets can trade ratio for memory.
//! - **Idle connections hold nothing they do not need.** A context that is reset
//!   after every message (`*_no_context_takeover`) is reset in place between
//!   messages, and dropped by [`shrink`](Compressor::shrink) when the caller
//!   shrinks an idle connection's buffers; it is created again when the next
//!   compressed message comes.
//! - **8-bit windows.** RFC 7692 allows them; zlib cannot *write* a raw stream
//!   with one (it silently uses 9), so a connection told to compress with an
//!   8-bit window sends its messages uncompressed, which is always allowed, and
//!   inflation always uses at least 9 bits (which reads 8-bit streams too).

use bytes::BytesMut;

use crate::connection::Role;
use zlib_rs::{Deflate, DeflateFlush, Inflate, InflateFlush, Method, Status, Strategy};

/// RFC 7692 §7.2.1: the sender removes these four bytes, the end of the empty
/// stored block a sync flush writes; the receiver appends them back (§7.2.2).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// permessage-deflate for one connection: what the handshake agreed, seen from
/// this endpoint, and how hard to work.
///
/// Start from a preset and fill in the negotiated values with
/// [`negotiated`](Self::negotiated).
///
/// What an idle connection holds after one compressed message each way and
/// `shrink_buffers` (`tests/deflate_memory.rs` measures it and checks the shape;
/// docs/compression.md has the figures):
///
/// | preset | window | memLevel | context kept | idle heap |
/// |---|---|---|---|---|
/// | [`default`](Self::default) | 15 | 8 | yes | the most |
/// | [`low_memory`](Self::low_memory) | 11 | 4 | yes | under half of `default`'s |
/// | [`no_context_takeover`](Self::no_context_takeover) | 15 | 8 | no | nothing |
///
/// zlib-rs allocates a 128 KiB hash table and a 32 KiB inflate window whatever
/// the parameters, so smaller windows save less than with C zlib; the saving that
/// counts is not keeping a context between messages, at the price of compressing
/// each message alone (repeated keys are not remembered) and of setting the
/// compressor up again for every message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeflateConfig {
    /// The window this endpoint compresses with (base-2 log, 8..=15; default 15).
    /// The handshake may lower it; 8 means "send uncompressed" (see the module docs).
    pub compress_window_bits: u8,
    /// Reset the compression context after every message (default `false`).
    pub compress_no_context_takeover: bool,
    /// The largest window the peer compresses with (8..=15; default 15): the
    /// window this endpoint inflates with.
    pub decompress_window_bits: u8,
    /// The peer resets its context after every message (default `false`).
    pub decompress_no_context_takeover: bool,
    /// zlib compression level, 0..=9 (default 6, zlib's own default).
    pub level: u8,
    /// zlib `memLevel`, 1..=9 (default 8): the compressor's hash table and
    /// pending-symbol buffer scale with `2^(memLevel + 9)` bytes.
    pub mem_level: u8,
    /// Messages shorter than this many bytes are sent uncompressed (default 64):
    /// below that, the deflate header and the CPU cost outweigh the saving.
    pub threshold: usize,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        Self {
            compress_window_bits: 15,
            compress_no_context_takeover: false,
            decompress_window_bits: 15,
            decompress_no_context_takeover: false,
            level: 6,
            mem_level: 8,
            threshold: 64,
        }
    }
}

impl DeflateConfig {
    /// A smaller footprint with context takeover kept: an 11-bit window (2 KiB)
    /// and memLevel 4, asked of the peer too. Compresses repetitive messages (JSON
    /// with the same keys) nearly as well as the default, for half the memory.
    #[must_use]
    pub fn low_memory() -> Self {
        Self {
            compress_window_bits: 11,
            decompress_window_bits: 11,
            mem_level: 4,
            ..Self::default()
        }
    }

    /// Nothing kept between messages, in either direction: asks the peer for
    /// `no_context_takeover` too, so an idle connection holds no compression state.
    #[must_use]
    pub fn no_context_takeover() -> Self {
        Self {
            compress_no_context_takeover: true,
            decompress_no_context_takeover: true,
            ..Self::default()
        }
    }

    /// Applies what the handshake agreed: the window limits only ever lower this
    /// config's windows, and `no_context_takeover` only ever turns on.
    ///
    /// `local_*` binds this endpoint's compressor (for a server:
    /// `server_no_context_takeover` and `server_max_window_bits`), `remote_*` the
    /// peer's (for a server: the `client_*` parameters).
    #[must_use]
    pub fn negotiated(
        mut self,
        local_no_context_takeover: bool,
        local_max_window_bits: u8,
        remote_no_context_takeover: bool,
        remote_max_window_bits: u8,
    ) -> Self {
        self.compress_no_context_takeover |= local_no_context_takeover;
        self.compress_window_bits = self.compress_window_bits.min(local_max_window_bits);
        self.decompress_no_context_takeover |= remote_no_context_takeover;
        // The peer may use any window up to what it was allowed: inflate with that.
        self.decompress_window_bits = remote_max_window_bits;
        self
    }

    /// [`negotiated`](Self::negotiated) in RFC 7692's own terms: the four agreed
    /// parameters, `server_*` then `client_*`, applied to this endpoint as `role`.
    /// The one place the RFC's server/client names meet this crate's
    /// compress/decompress sides.
    #[must_use]
    pub fn negotiated_as(
        self,
        role: Role,
        server_no_context_takeover: bool,
        server_max_window_bits: u8,
        client_no_context_takeover: bool,
        client_max_window_bits: u8,
    ) -> Self {
        let server = (server_no_context_takeover, server_max_window_bits);
        let client = (client_no_context_takeover, client_max_window_bits);
        let (local, remote) = match role {
            Role::Server => (server, client),
            Role::Client => (client, server),
        };
        self.negotiated(local.0, local.1, remote.0, remote.1)
    }
}

/// Why a compressed message could not be inflated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InflateError {
    /// Not a valid deflate stream (1007).
    Invalid,
    /// The inflated message would pass the limit (1009); `len` is how far it got.
    TooBig { len: u64 },
}

/// The compressing side of one connection.
pub(crate) struct Compressor {
    config: DeflateConfig,
    /// Created on the first compressed message; dropped when idle or reset.
    z: Option<Deflate>,
}

impl Compressor {
    pub(crate) fn new(config: DeflateConfig) -> Self {
        Self { config, z: None }
    }

    /// What the handshake agreed, seen from this endpoint.
    pub(crate) fn config(&self) -> &DeflateConfig {
        &self.config
    }

    /// Whether a message of `len` bytes goes out compressed.
    pub(crate) fn wants(&self, len: usize) -> bool {
        len >= self.config.threshold && self.config.compress_window_bits >= 9
    }

    /// Compresses one piece of a message, appending the output to `out`. With
    /// `fin`, the message ends here: the sync-flush tail is removed (§7.2.1) and,
    /// without context takeover, the context is dropped.
    pub(crate) fn compress(&mut self, input: &[u8], fin: bool, out: &mut BytesMut) {
        let config = &self.config;
        let z = self.z.get_or_insert_with(|| {
            Deflate::new_with_config(zlib_rs::DeflateConfig {
                level: i32::from(config.level.min(9)),
                method: Method::Deflated,
                // Negative: a raw deflate stream, no zlib header.
                window_bits: -i32::from(config.compress_window_bits.clamp(9, 15)),
                mem_level: i32::from(config.mem_level.clamp(1, 9)),
                strategy: Strategy::Default,
            })
        });
        let start = out.len();
        let mut input = input;
        loop {
            // Deflate rarely grows data by more than 0.1% plus a few bytes per
            // block; start near the input size and grow if that was not enough.
            let room = (input.len() + input.len() / 8).clamp(64, 1 << 20);
            let filled = out.len();
            out.resize(filled + room, 0);
            let (before_in, before_out) = (z.total_in(), z.total_out());
            // A sync flush of valid input into a non-empty buffer cannot fail;
            // the stream state is never shared or misconfigured.
            let status = z.compress(input, &mut out[filled..], DeflateFlush::SyncFlush);
            let consumed = (z.total_in() - before_in) as usize;
            let produced = (z.total_out() - before_out) as usize;
            out.truncate(filled + produced);
            input = &input[consumed..];
            // Done when all input is taken and zlib did not fill the buffer (a full
            // buffer may hide more flush output).
            if status.is_err() || (input.is_empty() && produced < room) {
                break;
            }
        }
        if fin {
            if out[start..].ends_with(&TAIL) {
                out.truncate(out.len() - TAIL.len());
            }
            // A flush right after a flush writes nothing, so an empty message can
            // come out empty; §7.2.3.6 sends it as one 0x00 (an empty stored
            // block once the receiver appends the tail).
            if out.len() == start {
                out.extend_from_slice(&[0x00]);
            }
            // Without context takeover the next message starts afresh; the state
            // is reset rather than dropped, which saves setting it up again for
            // every message of a busy connection (`shrink` drops it when idle).
            if self.config.compress_no_context_takeover {
                if let Some(z) = &mut self.z {
                    z.reset();
                }
            }
        }
    }

    /// Drops the compression context if it carries nothing into the next message.
    pub(crate) fn shrink(&mut self) {
        if self.config.compress_no_context_takeover {
            self.z = None;
        }
    }

    /// The window (base-2 log) a message compressed alone must fit for this
    /// connection to send it as it is, or `None` if this connection keeps its context
    /// between messages (a message compressed elsewhere would leave its context out of
    /// step with the peer's) or sends nothing compressed (8-bit windows).
    ///
    /// Without context takeover, a message is a deflate stream of its own, started
    /// from a fresh context: whoever compressed it, with whatever level, the bytes are
    /// the same kind of thing this compressor would write, as long as no distance in
    /// them reaches past the window the peer inflates with (§7.1.2: the sender uses
    /// at most the negotiated window; a peer inflating with a smaller window than the
    /// sender used reads garbage or fails).
    pub(crate) fn shared_window(&self) -> Option<u8> {
        let bits = self.config.compress_window_bits;
        (self.config.compress_no_context_takeover && bits >= 9).then_some(bits)
    }
}

/// Compresses a whole message alone, from a fresh context, with a window of
/// `2^window_bits` (9..=15) and `config`'s level and memLevel: what a compressor
/// without context takeover sends, RSV1 aside (§7.2.1: sync flush, the trailing
/// `00 00 ff ff` removed). Used by broadcast, which compresses once for every
/// connection that can send the result unchanged ([`Compressor::shared_window`]).
pub(crate) fn compress_alone(config: &DeflateConfig, window_bits: u8, message: &[u8]) -> BytesMut {
    let mut alone = Compressor::new(DeflateConfig {
        compress_window_bits: window_bits,
        compress_no_context_takeover: true,
        ..*config
    });
    let mut out = BytesMut::new();
    alone.compress(message, true, &mut out);
    out
}

/// The inflating side of one connection.
pub(crate) struct Decompressor {
    config: DeflateConfig,
    /// Created on the first compressed message; dropped when idle or reset.
    z: Option<Inflate>,
    /// The deflate stream ended (a final block) inside this message.
    ended: bool,
}

impl Decompressor {
    pub(crate) fn new(config: DeflateConfig) -> Self {
        Self {
            config,
            z: None,
            ended: false,
        }
    }

    /// Inflates one piece of a compressed message, appending to `out`, which
    /// holds this message's output so far (`already` bytes of it before `out`
    /// began, in chunk mode). Fails once the message would pass `limit`.
    pub(crate) fn decompress(
        &mut self,
        input: &[u8],
        out: &mut BytesMut,
        already: u64,
        limit: usize,
    ) -> Result<(), InflateError> {
        self.inflate(input, out, already, limit)
    }

    /// Ends a compressed message: inflates the tail the sender removed.
    pub(crate) fn finish(
        &mut self,
        out: &mut BytesMut,
        already: u64,
        limit: usize,
    ) -> Result<(), InflateError> {
        let result = if self.ended {
            Ok(())
        } else {
            self.inflate(&TAIL, out, already, limit)
        };
        if self.ended || result.is_err() {
            self.z = None;
        } else if self.config.decompress_no_context_takeover {
            if let Some(z) = &mut self.z {
                // Raw deflate again; a reset state reads windows of up to 15 bits.
                z.reset(false);
            }
        }
        self.ended = false;
        result
    }

    /// Drops the inflate context if it carries nothing into the next message.
    pub(crate) fn shrink(&mut self) {
        if self.config.decompress_no_context_takeover {
            self.z = None;
        }
    }

    fn inflate(
        &mut self,
        mut input: &[u8],
        out: &mut BytesMut,
        already: u64,
        limit: usize,
    ) -> Result<(), InflateError> {
        if self.ended {
            // Past a final block (§7.2.3.4's "BFINAL set to 1" flush) the stream is
            // over; like zlib's unused data, what follows in the message is ignored.
            return Ok(());
        }
        let bits = self.config.decompress_window_bits.clamp(9, 15);
        let z = self.z.get_or_insert_with(|| Inflate::new(false, bits));
        let start = out.len();
        loop {
            let produced_so_far = already + (out.len() - start) as u64;
            // One byte past the limit tells "exactly the limit" from "over it".
            let room_left = (limit as u64)
                .saturating_add(1)
                .saturating_sub(produced_so_far);
            if room_left == 0 {
                return Err(InflateError::TooBig {
                    len: produced_so_far,
                });
            }
            let want = (input.len() as u64 * 4).clamp(4096, 1 << 20);
            let room = want.min(room_left) as usize;
            let filled = out.len();
            out.resize(filled + room, 0);
            let (before_in, before_out) = (z.total_in(), z.total_out());
            let status = z.decompress(input, &mut out[filled..], InflateFlush::SyncFlush);
            let consumed = (z.total_in() - before_in) as usize;
            let produced = (z.total_out() - before_out) as usize;
            out.truncate(filled + produced);
            input = &input[consumed..];
            match status {
                // zlib can find bad data just past a full output buffer: the limit
                // was passed first, whatever comes after.
                Err(_) if produced_so_far + produced as u64 > limit as u64 => {
                    return Err(InflateError::TooBig {
                        len: produced_so_far + produced as u64,
                    });
                }
                Err(_) => return Err(InflateError::Invalid),
                Ok(Status::StreamEnd) => {
                    self.ended = true;
                    return Ok(());
                }
                Ok(Status::Ok | Status::BufError) => {
                    // Finished when the input is used up and zlib had room to spare.
                    if input.is_empty() && produced < room {
                        return Ok(());
                    }
                    if consumed == 0 && produced == 0 {
                        // No progress with room to write: the input is stuck.
                        return Err(InflateError::Invalid);
                    }
                }
            }
        }
    }
}

impl core::fmt::Debug for Compressor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Compressor")
            .field("config", &self.config)
            .field("active", &self.z.is_some())
            .finish()
    }
}

impl core::fmt::Debug for Decompressor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Decompressor")
            .field("config", &self.config)
            .field("active", &self.z.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn compress_all(c: &mut Compressor, message: &[u8]) -> BytesMut {
        let mut out = BytesMut::new();
        c.compress(message, true, &mut out);
        out
    }

    fn inflate_all(
        d: &mut Decompressor,
        pieces: &[&[u8]],
        limit: usize,
    ) -> Result<BytesMut, InflateError> {
        let mut out = BytesMut::new();
        for piece in pieces {
            d.decompress(piece, &mut out, 0, limit)?;
        }
        d.finish(&mut out, 0, limit)?;
        Ok(out)
    }

    /// RFC 7692 §7.2.3.1: "Hello" compressed without context takeover is
    /// `f2 48 cd c9 c9 07 00`.
    #[test]
    fn rfc_7692_hello() {
        let mut d = Decompressor::new(DeflateConfig::default());
        let out = inflate_all(&mut d, &[&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]], 100);
        assert_eq!(out.unwrap(), "Hello");
        // §7.2.3.2: the same message sent again with context takeover shrinks to a
        // back-reference: `f2 00 11 00 00`.
        let out = inflate_all(&mut d, &[&[0xf2, 0x00, 0x11, 0x00, 0x00]], 100);
        assert_eq!(out.unwrap(), "Hello");
        // §7.2.3.3: an uncompressed (stored) block.
        let mut fresh = Decompressor::new(DeflateConfig::default());
        let stored = [
            0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
        ];
        assert_eq!(inflate_all(&mut fresh, &[&stored], 100).unwrap(), "Hello");
        // §7.2.3.5: two deflate blocks in one message.
        let mut fresh = Decompressor::new(DeflateConfig::default());
        let two = [
            0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00,
        ];
        assert_eq!(inflate_all(&mut fresh, &[&two], 100).unwrap(), "Hello");
        // §7.2.3.4: a final block (BFINAL set) followed by the tail.
        let mut fresh = Decompressor::new(DeflateConfig::default());
        let last = [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
        assert_eq!(inflate_all(&mut fresh, &[&last], 100).unwrap(), "Hello");
    }

    #[test]
    fn round_trips_with_and_without_context_takeover_and_every_window() {
        let text: Vec<u8> = (0..5000u32)
            .flat_map(|i| alloc::format!("{{\"id\":{i},\"price\":{}}}", i % 97).into_bytes())
            .collect();
        for bits in 9..=15 {
            for takeover in [false, true] {
                let config = DeflateConfig {
                    compress_window_bits: bits,
                    decompress_window_bits: bits,
                    compress_no_context_takeover: !takeover,
                    decompress_no_context_takeover: !takeover,
                    ..DeflateConfig::default()
                };
                let (mut c, mut d) = (Compressor::new(config), Decompressor::new(config));
                let mut sizes = Vec::new();
                // About 6 KiB, repeated; then larger than any window; then small.
                let small = &text[..6000];
                for message in [small, small, b"", &text[..], &text[..100]] {
                    let wire = compress_all(&mut c, message);
                    sizes.push(wire.len());
                    // Split anywhere: inflation does not care where frames end.
                    let (a, b) = wire.split_at(wire.len() / 3);
                    let out = inflate_all(&mut d, &[a, b], usize::MAX).unwrap();
                    assert_eq!(out, message, "bits {bits}, takeover {takeover}");
                }
                // With context takeover, a repeated message that fits in the window
                // is a few back-references.
                if takeover && bits >= 13 {
                    assert!(sizes[1] < sizes[0] / 4, "{sizes:?}");
                } else {
                    // Nothing carried over: the repeat costs about as much again.
                    assert!(sizes[1] > sizes[0] / 2, "bits {bits}: {sizes:?}");
                }
            }
        }
    }

    #[test]
    fn a_message_streamed_in_pieces_inflates_whole() {
        let config = DeflateConfig::default();
        let (mut c, mut d) = (Compressor::new(config), Decompressor::new(config));
        let mut wire = BytesMut::new();
        c.compress(b"Hello, ", false, &mut wire);
        c.compress(b"world", false, &mut wire);
        c.compress(b"!", true, &mut wire);
        assert_eq!(inflate_all(&mut d, &[&wire], 100).unwrap(), "Hello, world!");
    }

    /// The limit applies to the inflated size, while inflating: a bomb stops at the
    /// limit, with the buffer never larger than the limit plus one byte.
    #[test]
    fn a_bomb_stops_at_the_limit() {
        let config = DeflateConfig::default();
        let zeros = alloc::vec![0u8; 8 << 20];
        let wire = compress_all(&mut Compressor::new(config), &zeros);
        assert!(wire.len() < 16 << 10, "{}", wire.len());
        let limit = 1 << 20;
        let mut d = Decompressor::new(config);
        let mut out = BytesMut::new();
        let err = d.decompress(&wire, &mut out, 0, limit).unwrap_err();
        assert_eq!(
            err,
            InflateError::TooBig {
                len: limit as u64 + 1
            }
        );
        assert!(out.capacity() <= 2 * (limit + 1), "{}", out.capacity());
        // Exactly at the limit is fine.
        let exact = compress_all(&mut Compressor::new(config), &zeros[..limit]);
        let mut d = Decompressor::new(config);
        assert_eq!(inflate_all(&mut d, &[&exact], limit).unwrap().len(), limit);
        // And the limit counts what earlier pieces (chunks) produced.
        let mut d = Decompressor::new(config);
        let mut out = BytesMut::new();
        assert!(matches!(
            d.decompress(&exact, &mut out, 10, limit),
            Err(InflateError::TooBig { .. })
        ));
    }

    #[test]
    fn garbage_is_invalid_not_a_panic() {
        for garbage in [&[0xff; 16][..], &[0x07], &[0x06, 0x00]] {
            let mut d = Decompressor::new(DeflateConfig::default());
            assert_eq!(
                inflate_all(&mut d, &[garbage], 1 << 20).unwrap_err(),
                InflateError::Invalid,
                "{garbage:x?}"
            );
        }
        // Bytes after a final block are ignored, wherever the pieces are cut, and
        // the next message starts a new stream.
        let after = [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x42, 0x43];
        for cut in 0..after.len() {
            let mut d = Decompressor::new(DeflateConfig::default());
            let (a, b) = after.split_at(cut);
            assert_eq!(inflate_all(&mut d, &[a, b], 100).unwrap(), "Hello");
            let hello = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
            assert_eq!(inflate_all(&mut d, &[&hello], 100).unwrap(), "Hello");
        }
    }

    #[test]
    fn small_messages_and_eight_bit_windows_go_uncompressed() {
        let c = Compressor::new(DeflateConfig::default());
        assert!(!c.wants(63));
        assert!(c.wants(64));
        let eight = DeflateConfig::default().negotiated(false, 8, false, 15);
        assert!(!Compressor::new(eight).wants(1 << 20));
        // A peer told to use 8 bits really uses 9 (zlib); inflating with 9 reads it.
        let nine = DeflateConfig {
            compress_window_bits: 9,
            ..DeflateConfig::default()
        };
        let text = alloc::vec![b'a'; 3000];
        let wire = compress_all(&mut Compressor::new(nine), &text);
        let mut d = Decompressor::new(DeflateConfig::default().negotiated(false, 15, false, 8));
        assert_eq!(inflate_all(&mut d, &[&wire], 1 << 20).unwrap(), text);
    }

    #[test]
    fn roles_map_the_rfc_names_onto_each_side() {
        let server = DeflateConfig::default().negotiated_as(Role::Server, true, 10, false, 12);
        let client = DeflateConfig::default().negotiated_as(Role::Client, true, 10, false, 12);
        assert_eq!(
            server,
            DeflateConfig::default().negotiated(true, 10, false, 12)
        );
        assert_eq!(
            client,
            DeflateConfig::default().negotiated(false, 12, true, 10)
        );
        // What one compresses with, the other inflates with.
        assert_eq!(server.compress_window_bits, client.decompress_window_bits);
        assert_eq!(client.compress_window_bits, server.decompress_window_bits);
    }

    #[test]
    fn negotiated_values_only_narrow() {
        let config = DeflateConfig::low_memory().negotiated(true, 15, false, 10);
        assert_eq!(config.compress_window_bits, 11);
        assert!(config.compress_no_context_takeover);
        assert_eq!(config.decompress_window_bits, 10);
        assert!(!config.decompress_no_context_takeover);
    }
}
