//! Payload masking (RFC 6455 §5.3), at memory speed and in safe code.
//!
//! "Octet i of the transformed data is the XOR of octet i of the original data with
//! octet at index i modulo 4 of the masking key." A byte loop does this at well under
//! memory speed, so the kernels XOR eight or sixteen bytes at a time with the key
//! repeated into a word; the compiler turns the fixed-width chunk loops into vector
//! code, with no `unsafe` here.
//!
//! Three kernels, one oracle: [`apply_mask`] in place, for any length;
//! [`apply_mask_inline`] in place, small enough to inline into the receive path for the
//! short payloads most messages have; [`extend_masked`] copying into a buffer in the
//! same pass (the client's send path, and large frames arriving in pieces). Each is
//! tested against [`mask_bytewise`], the byte loop of §5.3, at every length up to 300,
//! every key offset and every alignment.
//!
//! `offset` is the position of `buf[0]` within the frame payload, so a payload can be
//! unmasked piecewise as it arrives from the network.

use bytes::BytesMut;

use crate::frame::MaskingKey;

/// XORs `buf` with `key` in place, as if `buf` started at `offset` within the payload.
#[inline]
pub fn apply_mask(buf: &mut [u8], key: MaskingKey, offset: usize) {
    let key = rotate(key.0, offset);
    // Each 8-byte lane starts at a multiple of 4 from the (rotated) key start, so the
    // same 8-byte pattern applies to every lane.
    let wide = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut chunks = buf.chunks_exact_mut(32);
    for chunk in &mut chunks {
        for lane in chunk.chunks_exact_mut(8) {
            let word = u64::from_ne_bytes([
                lane[0], lane[1], lane[2], lane[3], lane[4], lane[5], lane[6], lane[7],
            ]) ^ wide;
            lane.copy_from_slice(&word.to_ne_bytes());
        }
    }
    let rest = chunks.into_remainder();
    let mut lanes = rest.chunks_exact_mut(8);
    for lane in &mut lanes {
        let word = u64::from_ne_bytes([
            lane[0], lane[1], lane[2], lane[3], lane[4], lane[5], lane[6], lane[7],
        ]) ^ wide;
        lane.copy_from_slice(&word.to_ne_bytes());
    }
    for (i, b) in lanes.into_remainder().iter_mut().enumerate() {
        *b ^= key[i & 3];
    }
}

/// [`apply_mask`] for payloads of up to [`INLINE_MAX`] bytes, in a loop small enough
/// to stay inline at its call site and with no set-up beyond the key's rotation (none
/// at all for a constant `offset` of 0); longer payloads go to [`apply_mask`].
///
/// This is the receive path's kernel for whole small messages, where a call and
/// [`apply_mask`]'s set-up would be much of the cost of the message.
#[inline(always)]
pub fn apply_mask_inline(buf: &mut [u8], key: MaskingKey, offset: usize) {
    if buf.len() > INLINE_MAX {
        return apply_mask(buf, key, offset);
    }
    let key = rotate(key.0, offset);
    // The key four times, in memory order on either endianness.
    let half = u64::from(u32::from_ne_bytes(key));
    let word = half | half << 32;
    let wide = u128::from(word) | u128::from(word) << 64;
    let mut blocks = buf.chunks_exact_mut(16);
    for block in &mut blocks {
        if let Ok(bytes) = <[u8; 16]>::try_from(&*block) {
            block.copy_from_slice(&(u128::from_ne_bytes(bytes) ^ wide).to_ne_bytes());
        }
    }
    // The rest starts at a multiple of 16, so at key byte 0.
    let rest = blocks.into_remainder();
    let (words, bytes) = rest.split_at_mut(rest.len() & !7);
    if let Ok(eight) = <[u8; 8]>::try_from(&*words) {
        words.copy_from_slice(&(u64::from_ne_bytes(eight) ^ word).to_ne_bytes());
    }
    for (i, b) in bytes.iter_mut().enumerate() {
        *b ^= key[i & 3];
    }
}

/// The longest payload [`apply_mask_inline`] masks itself.
pub const INLINE_MAX: usize = 128;

/// Appends `src` masked with `key` (starting at payload `offset`) to `dst`.
///
/// One pass: each source word is read once and its masked value written once, straight
/// into `dst`'s spare capacity (an `unsafe` fenced in its own module and tested
/// against [`mask_bytewise`]).
#[inline]
pub fn extend_masked(dst: &mut BytesMut, src: &[u8], key: MaskingKey, offset: usize) {
    crate::spare::extend_masked(dst, src, key, offset);
}

/// The reference implementation: one byte at a time, exactly as §5.3 words it.
///
/// Kept compiled (not only under `cfg(test)`) so that fuzzers and benchmarks can use it
/// as the oracle too.
pub fn mask_bytewise(buf: &mut [u8], key: MaskingKey, offset: usize) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b ^= key.0[(offset + i) % 4];
    }
}

/// The key as seen from payload position `offset`: `key` rotated left by
/// `offset % 4` bytes, as one rotation of a little-endian word (nothing at all for a
/// constant 0).
#[inline(always)]
fn rotate(key: [u8; 4], offset: usize) -> [u8; 4] {
    let bits = 8 * (offset & 3) as u32;
    u32::from_le_bytes(key).rotate_right(bits).to_le_bytes()
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use super::*;

    const KEY: MaskingKey = MaskingKey([0x37, 0xfa, 0x21, 0x3d]);

    /// RFC 6455 §5.7: "Hello" masked with 37 fa 21 3d.
    #[test]
    fn rfc_hello() {
        let mut buf = *b"Hello";
        apply_mask(&mut buf, KEY, 0);
        assert_eq!(buf, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
        apply_mask(&mut buf, KEY, 0);
        assert_eq!(&buf, b"Hello");
    }

    /// Every kernel against the oracle at every length up to 300 (both sides of
    /// [`INLINE_MAX`]), every key offset, and every alignment of the slice within its
    /// allocation.
    #[test]
    fn matches_oracle_everywhere() {
        let data: Vec<u8> = (0..400u32).map(|i| (i * 31 + 7) as u8).collect();
        for align in 0..16 {
            for len in 0..300 {
                for offset in 0..4 {
                    let mut fast = data.clone();
                    let mut slow = data.clone();
                    apply_mask(&mut fast[align..align + len], KEY, offset);
                    mask_bytewise(&mut slow[align..align + len], KEY, offset);
                    assert_eq!(fast, slow, "align {align} len {len} offset {offset}");

                    let mut inline = data.clone();
                    apply_mask_inline(&mut inline[align..align + len], KEY, offset);
                    assert_eq!(
                        inline, slow,
                        "inline: align {align} len {len} offset {offset}"
                    );

                    let mut ext = BytesMut::from(&[0xAAu8; 16][..align]);
                    extend_masked(&mut ext, &data[align..align + len], KEY, offset);
                    assert_eq!(&ext[align..], &slow[align..align + len]);
                }
            }
        }
    }

    #[test]
    fn piecewise_equals_whole() {
        let data: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let mut whole = data.clone();
        apply_mask(&mut whole, KEY, 0);
        let mut pieces = data.clone();
        let mut at = 0;
        for len in [1, 2, 3, 5, 8, 13, 4096, 21, 5000] {
            let end = (at + len).min(pieces.len());
            apply_mask(&mut pieces[at..end], KEY, at);
            at = end;
        }
        apply_mask(&mut pieces[at..], KEY, at);
        assert_eq!(whole, pieces);

        let mut ext = BytesMut::new();
        extend_masked(&mut ext, &data, KEY, 0);
        assert_eq!(ext, whole);
    }
}
