//! A client's masked payload written straight into the output buffer's spare
//! capacity, in one pass: the send side's one `unsafe`.
//!
//! # Why
//!
//! A client must send every payload byte XORed with its masking key (RFC 6455 §5.3).
//! In safe code the masked bytes have to land somewhere initialised first: either the
//! payload is copied into the output buffer and then masked in place (two passes, and
//! the copy is glibc's `memcpy`, which for blocks of 4 KiB and up uses `rep movsb`,
//! slow on this kind of CPU when the destination is misaligned by the frame header),
//! or masked into a small stack block and then copied (two passes again). Reading the
//! source once and writing each masked word once to its final place is what the
//! `ws_encode/client_masked` benchmark's "limit: copy+mask" row does, and only this
//! one-pass form comes close to it (docs/performance.md has the figures).
//!
//! Two placement effects matter as much as the pass count, and are handled here: the
//! destination is aligned so that no vector store straddles a cache line, and the
//! copy runs backward when the destination sits a little ahead of the source modulo
//! 4 KiB (4K aliasing; page-aligned payload, page-aligned buffer, 14-byte header).
//!
//! # What is unsafe, and why it is sound
//!
//! Only `BytesMut::set_len`. Everything before it is safe code: [`copy_masked`] writes
//! the masked bytes into `&mut [MaybeUninit<u8>]` (the spare capacity, as `bytes`
//! hands it out safely), and its loops cover every element of that slice: the slice
//! and the source have the same length (checked); an unaligned first 32 bytes is
//! written, and then everything from the aligned address on (so the overlap is
//! written twice, with the same values); within that, the 8-byte lanes and last bytes
//! of the remainder, then the 64-byte chunks before it, are the whole of both. Then
//! the new length only takes in bytes that were written.
//!
//! # The oracle
//!
//! [`crate::mask::mask_bytewise`], the byte loop of §5.3, compiled always. The tests
//! below compare against it at every length up to 300, every alignment and key offset,
//! and with random inputs up to 10 KiB (proptest).

#![deny(clippy::undocumented_unsafe_blocks)]

use core::mem::MaybeUninit;

use bytes::BytesMut;

use crate::frame::MaskingKey;

/// Appends `src` masked with `key` (starting at payload `offset`) to `dst`, reading
/// `src` once and writing each masked byte once.
#[inline]
pub(crate) fn extend_masked(dst: &mut BytesMut, src: &[u8], key: MaskingKey, offset: usize) {
    dst.reserve(src.len());
    let len = dst.len();
    let spare = &mut dst.spare_capacity_mut()[..src.len()];
    copy_masked(spare, src, key, offset);
    // SAFETY: `reserve` made room for `src.len()` more bytes, and `copy_masked` has
    // initialised all of them: `spare` is exactly the `src.len()` elements after the
    // current length, and `copy_masked` writes every element of the slice it is given
    // (see the module doc). So the first `len + src.len()` bytes are initialised and
    // within the capacity, which is what `set_len` requires.
    unsafe { dst.set_len(len + src.len()) };
}

/// Writes `src` XORed with `key` (as if `src` started at payload `offset`) to every
/// element of `dst`.
///
/// # Panics
///
/// If `dst` and `src` differ in length (a bug in the caller, never input-dependent).
#[inline]
fn copy_masked(dst: &mut [MaybeUninit<u8>], src: &[u8], key: MaskingKey, offset: usize) {
    assert_eq!(dst.len(), src.len(), "copy_masked: lengths differ");
    // Align the destination to 32 bytes, so that no vector store straddles a cache
    // line (behind a 2-14 byte frame header, a quarter of them would): the first 32
    // bytes are written unaligned, then the rest from the next aligned address, the
    // overlap written twice with the same values.
    let head = (dst.as_ptr() as usize).wrapping_neg() % 32;
    if head != 0 && dst.len() >= 256 {
        copy_masked_from(&mut dst[..32], &src[..32], key, offset);
        copy_masked_from(&mut dst[head..], &src[head..], key, offset + head);
    } else {
        copy_masked_from(dst, src, key, offset);
    }
}

/// [`copy_masked`] after the alignment step.
#[inline(always)]
fn copy_masked_from(dst: &mut [MaybeUninit<u8>], src: &[u8], key: MaskingKey, offset: usize) {
    let mut k = key.0;
    k.rotate_left(offset & 3);
    let wide = u64::from_ne_bytes([k[0], k[1], k[2], k[3], k[0], k[1], k[2], k[3]]);

    // The remainder first: 8-byte lanes, then single bytes. Every lane starts at a
    // multiple of 4 from the rotated key's start, so the same pattern applies to each.
    let whole = src.len() / CHUNK * CHUNK;
    let (d_body, d) = dst.split_at_mut(whole);
    let (s_body, s) = src.split_at(whole);
    let mut d8 = d.chunks_exact_mut(8);
    let mut s8 = s.chunks_exact(8);
    for (d, s) in (&mut d8).zip(&mut s8) {
        put_word(d, s, wide);
    }
    for (i, (d, s)) in d8
        .into_remainder()
        .iter_mut()
        .zip(s8.remainder())
        .enumerate()
    {
        *d = MaybeUninit::new(s ^ k[i & 3]);
    }

    // Then 64-byte chunks: eight independent 8-byte lanes, which the compiler turns
    // into vector loads, XORs and stores.
    //
    // The direction avoids 4K aliasing: a load whose address equals a recent store's
    // in its low 12 bits waits for that store, as if they overlapped. Copying forward,
    // that happens when the destination is a little ahead of the source modulo 4 KiB
    // (a page-aligned payload copied behind a frame header into a page-aligned buffer:
    // 14 bytes ahead); copying backward, when it is a little behind. So go backward
    // when it is ahead by less than half a page.
    let ahead = (d_body.as_ptr() as usize).wrapping_sub(s_body.as_ptr() as usize) % 4096;
    let chunks = d_body
        .chunks_exact_mut(CHUNK)
        .zip(s_body.chunks_exact(CHUNK));
    if ahead < 2048 {
        for (d, s) in chunks.rev() {
            put_chunk(d, s, wide);
        }
    } else {
        for (d, s) in chunks {
            put_chunk(d, s, wide);
        }
    }
}

/// The bytes per step of the main loop: eight independent 8-byte lanes.
const CHUNK: usize = 64;

/// `d = s ^ wide` for one chunk, as 8-byte lanes.
#[inline(always)]
fn put_chunk(d: &mut [MaybeUninit<u8>], s: &[u8], wide: u64) {
    for (d, s) in d.chunks_exact_mut(8).zip(s.chunks_exact(8)) {
        put_word(d, s, wide);
    }
}

/// `d = s ^ wide` for one 8-byte lane.
#[inline(always)]
fn put_word(d: &mut [MaybeUninit<u8>], s: &[u8], wide: u64) {
    let word = u64::from_ne_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]]) ^ wide;
    d.copy_from_slice(&word.to_ne_bytes().map(MaybeUninit::new));
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use proptest::prelude::*;

    use super::*;
    use crate::mask::mask_bytewise;

    const KEY: MaskingKey = MaskingKey([0x37, 0xfa, 0x21, 0x3d]);

    /// The oracle's answer: `prefix`, then `src` masked byte by byte.
    fn oracle(prefix: &[u8], src: &[u8], key: MaskingKey, offset: usize) -> Vec<u8> {
        let mut masked = src.to_vec();
        mask_bytewise(&mut masked, key, offset);
        [prefix, &masked].concat()
    }

    /// Every length up to 300, every key offset, every alignment of the destination
    /// (bytes already in the buffer) and of the source.
    #[test]
    fn matches_oracle_everywhere() {
        let data: Vec<u8> = (0..400u32).map(|i| (i * 31 + 7) as u8).collect();
        for align in 0..16 {
            for len in 0..300 {
                for offset in 0..4 {
                    let prefix = &[0xAAu8; 16][..align];
                    let src = &data[align..align + len];
                    let mut out = BytesMut::from(prefix);
                    extend_masked(&mut out, src, KEY, offset);
                    assert_eq!(
                        out,
                        oracle(prefix, src, KEY, offset),
                        "{align} {len} {offset}"
                    );
                }
            }
        }
    }

    proptest! {
        /// Random payloads, keys, offsets and buffer states (empty, with bytes in
        /// it, with spare room already reserved) give the oracle's bytes.
        #[test]
        fn matches_oracle(
            src in proptest::collection::vec(any::<u8>(), 0..10_000),
            key in any::<[u8; 4]>(),
            offset in 0usize..8,
            prefix in proptest::collection::vec(any::<u8>(), 0..40),
            room in 0usize..20_000,
        ) {
            let key = MaskingKey(key);
            let mut out = BytesMut::with_capacity(room);
            out.extend_from_slice(&prefix);
            extend_masked(&mut out, &src, key, offset);
            prop_assert_eq!(&out[..], &oracle(&prefix, &src, key, offset)[..]);
            // Appending twice continues the buffer, not overwrites it.
            let mut twice = out.clone();
            extend_masked(&mut twice, &src, key, offset + src.len());
            let mut all = [&src[..], &src[..]].concat();
            mask_bytewise(&mut all, key, offset);
            prop_assert_eq!(&twice[prefix.len()..], &all[..]);
        }
    }
}
