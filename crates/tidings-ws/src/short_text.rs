//! Short text messages: validated inline, and lent out as `&str` without a second
//! check.
//!
//! # Why
//!
//! Most text messages of a chat, a ticker or a game are a few dozen bytes, and for
//! them the validator's fixed cost is much of the message's cost: `core` pays a call
//! and an alignment set-up, `simdutf8` a dispatch and a padded tail below its 64-byte
//! block (docs/performance.md has the measurements). The loop below is small enough to inline, skips
//! ASCII eight bytes at a time and checks other characters against RFC 3629's table;
//! it wins below [`SHORT`] bytes and `simdutf8` wins from there. Lending the text as
//! `&str` after it then needs `from_utf8_unchecked`, the one `unsafe` call here:
//! going through `from_utf8` again would pay the cost this module removes. Where only
//! a yes or no is needed (the owned path), [`is_valid`] is used in safe code.
//!
//! # The oracle
//!
//! `core::str::from_utf8`. The tests compare [`is_valid`] with it on every sequence of
//! up to two bytes, every three-byte sequence that starts with a non-ASCII byte,
//! four-byte sequences around every boundary of the table, and random text with
//! random damage at every offset from an eight-byte word boundary.

#![deny(clippy::undocumented_unsafe_blocks)]

/// Payloads shorter than this are validated here; longer ones by `simdutf8`.
pub(crate) const SHORT: usize = 64;

/// Whether `bytes` is well-formed UTF-8 (RFC 3629 §4, the Unicode Standard's table
/// 3-7): no overlong forms, no surrogates, nothing above U+10FFFF, no truncation.
#[inline(always)]
pub(crate) fn is_valid(bytes: &[u8]) -> bool {
    let n = bytes.len();
    let mut i = 0;
    while i < n {
        // Eight bytes at a time (the last few padded with zeros, which are ASCII).
        let word = match bytes[i..].first_chunk::<8>() {
            Some(word) => u64::from_le_bytes(*word),
            None => bytes[i..]
                .iter()
                .rev()
                .fold(0, |word, &b| word << 8 | u64::from(b)),
        };
        let high = word & 0x8080_8080_8080_8080;
        if high == 0 {
            i += 8;
            continue;
        }
        // Straight to the first byte that is not ASCII.
        i += (high.trailing_zeros() / 8) as usize;
        let lead = bytes[i];
        // The width, and the range the second byte must lie in.
        let (width, low, high) = match lead {
            0xC2..=0xDF => (2, 0x80, 0xBF),
            0xE0 => (3, 0xA0, 0xBF),
            0xE1..=0xEC | 0xEE..=0xEF => (3, 0x80, 0xBF),
            0xED => (3, 0x80, 0x9F),
            0xF0 => (4, 0x90, 0xBF),
            0xF1..=0xF3 => (4, 0x80, 0xBF),
            0xF4 => (4, 0x80, 0x8F),
            _ => return false,
        };
        let Some(tail) = bytes.get(i + 1..i + width) else {
            return false;
        };
        if !(low..=high).contains(&tail[0]) || tail[1..].iter().any(|&b| b & 0xC0 != 0x80) {
            return false;
        }
        i += width;
    }
    true
}

/// `bytes` as text, if [`is_valid`] accepts it.
#[inline(always)]
pub(crate) fn from_utf8(bytes: &[u8]) -> Option<&str> {
    if !is_valid(bytes) {
        return None;
    }
    // SAFETY: `is_valid` returned true, and it accepts exactly well-formed UTF-8:
    // ASCII, and the byte patterns of RFC 3629 §4's table, each whole. The tests
    // below hold it to `core::str::from_utf8` (see the module doc).
    Some(unsafe { core::str::from_utf8_unchecked(bytes) })
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use proptest::prelude::*;

    use super::*;

    fn agree(bytes: &[u8]) {
        assert_eq!(
            is_valid(bytes),
            core::str::from_utf8(bytes).is_ok(),
            "{bytes:02x?}"
        );
    }

    #[test]
    fn every_short_sequence() {
        agree(&[]);
        for a in 0..=255u8 {
            agree(&[a]);
            for b in 0..=255u8 {
                agree(&[a, b]);
            }
        }
        for a in 0x80..=0xFFu8 {
            for b in 0..=255u8 {
                for c in 0..=255u8 {
                    agree(&[a, b, c]);
                }
            }
        }
    }

    #[test]
    fn four_byte_boundaries() {
        let edges = [0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF];
        for a in 0xE0..=0xFFu8 {
            for b in 0..=255u8 {
                for c in edges {
                    for d in edges {
                        agree(&[a, b, c, d]);
                        // The same behind ASCII, so the word skip leads into it.
                        let mut v = Vec::from(*b"0123456");
                        v.extend_from_slice(&[a, b, c, d]);
                        agree(&v);
                    }
                }
            }
        }
    }

    #[test]
    fn lends_the_text() {
        assert_eq!(
            from_utf8("hello wörld €uro 😀".as_bytes()),
            Some("hello wörld €uro 😀")
        );
        assert_eq!(from_utf8(b"ab\xed\xa0\x80"), None);
    }

    proptest! {
        #[test]
        fn random_text_and_damage(
            text in ".{0,60}",
            pad in 0usize..8,
            damage in prop::option::of((any::<prop::sample::Index>(), any::<u8>())),
        ) {
            let mut bytes = Vec::from(&b"xxxxxxxx"[..pad]);
            bytes.extend_from_slice(text.as_bytes());
            if let Some((at, byte)) = damage {
                if !bytes.is_empty() {
                    let at = at.index(bytes.len());
                    bytes[at] = byte;
                }
            }
            prop_assert_eq!(is_valid(&bytes), core::str::from_utf8(&bytes).is_ok());
        }
    }
}
