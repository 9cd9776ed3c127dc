//! WebSocket inputs: payloads, masked client frames, a reference frame reader, and the
//! copy-and-mask limit.
//!
//! The reference reader is deliberately plain (a byte-loop unmask, no limits): it is
//! the judge of every implementation's output, not a contender.

/// The masking key of every recorded client frame (RFC 6455 §5.7's example key).
pub const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A payload of `len` bytes: arbitrary bytes for binary, valid UTF-8 (mostly ASCII,
/// with two- and three-byte characters mixed in) for text.
pub fn payload(len: usize, text: bool) -> Vec<u8> {
    if !text {
        return crate::pseudo_random(len, len as u64 + 11);
    }
    let pieces: [&str; 6] = ["hello ", "wörld ", "{\"k\":1}", "€uro ", "tidings ", "x"];
    let mut s = String::with_capacity(len + 8);
    let mut i = 0;
    while s.len() < len {
        let p = pieces[i % pieces.len()];
        i += 1;
        if s.len() + p.len() <= len {
            s.push_str(p);
        } else {
            s.push('x');
        }
    }
    s.into_bytes()
}

/// One frame header + payload, masked with `key` when given (FIN set, one frame).
pub fn frame(payload: &[u8], text: bool, key: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 14);
    out.push(0x80 | if text { 0x1 } else { 0x2 });
    let mask_bit = if key.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n @ 0..=125 => out.push(mask_bit | n as u8),
        n @ 126..=0xFFFF => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match key {
        Some(k) => {
            out.extend_from_slice(&k);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ k[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

/// How many messages of `len` bytes one benchmark iteration handles: enough that an
/// iteration moves at least 64 KiB (so per-iteration overhead is noise), at least one.
pub fn batch(len: usize) -> usize {
    (64 * 1024 / len.max(1)).clamp(1, 4096)
}

/// A recorded client stream: `n` masked frames carrying `payload`.
pub fn client_stream(payload: &[u8], text: bool, n: usize) -> Vec<u8> {
    let one = frame(payload, text, Some(KEY));
    one.repeat(n)
}

/// A frame as the reference reader sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefFrame {
    /// FIN bit.
    pub fin: bool,
    /// The 4-bit opcode.
    pub opcode: u8,
    /// Whether the frame was masked.
    pub masked: bool,
    /// The payload, unmasked.
    pub payload: Vec<u8>,
}

/// Reads every frame in `wire` (which must hold whole frames), unmasking payloads.
pub fn read_frames(mut wire: &[u8]) -> Vec<RefFrame> {
    let mut frames = Vec::new();
    while !wire.is_empty() {
        let (b0, b1) = (wire[0], wire[1]);
        let mut at = 2;
        let len = match b1 & 0x7F {
            126 => {
                at += 2;
                u16::from_be_bytes([wire[2], wire[3]]) as usize
            }
            127 => {
                at += 8;
                u64::from_be_bytes(wire[2..10].try_into().unwrap()) as usize
            }
            n => n as usize,
        };
        let key = if b1 & 0x80 != 0 {
            at += 4;
            Some([wire[at - 4], wire[at - 3], wire[at - 2], wire[at - 1]])
        } else {
            None
        };
        let mut payload = wire[at..at + len].to_vec();
        if let Some(k) = key {
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= k[i % 4];
            }
        }
        frames.push(RefFrame {
            fin: b0 & 0x80 != 0,
            opcode: b0 & 0x0F,
            masked: key.is_some(),
            payload,
        });
        wire = &wire[at + len..];
    }
    frames
}

/// Asserts that `wire` holds exactly `n` single-frame messages carrying `payload`,
/// masked or not as given.
pub fn assert_frames(name: &str, wire: &[u8], payload: &[u8], text: bool, n: usize, masked: bool) {
    let frames = read_frames(wire);
    assert_eq!(frames.len(), n, "{name}: frame count");
    for f in &frames {
        assert!(f.fin, "{name}: FIN");
        assert_eq!(f.opcode, if text { 1 } else { 2 }, "{name}: opcode");
        assert_eq!(f.masked, masked, "{name}: mask bit");
        assert!(f.payload == payload, "{name}: payload differs");
    }
}

/// The limit for a client's encode: one pass that copies `src` into `dst` and XORs
/// it with `key`, eight bytes at a time.
#[inline]
pub fn copy_and_mask(dst: &mut [u8], src: &[u8], key: [u8; 4]) {
    let wide = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut d = dst.chunks_exact_mut(8);
    let mut s = src.chunks_exact(8);
    for (d, s) in (&mut d).zip(&mut s) {
        let w = u64::from_ne_bytes(s.try_into().unwrap()) ^ wide;
        d.copy_from_slice(&w.to_ne_bytes());
    }
    for (i, (d, s)) in d.into_remainder().iter_mut().zip(s.remainder()).enumerate() {
        *d = s ^ key[i % 4];
    }
}

/// The byte-loop XOR mask, as RFC 6455 §5.3 words it: the slowest honest mask.
#[inline(never)]
pub fn mask_bytes(buf: &mut [u8], key: [u8; 4]) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b ^= key[i & 3];
    }
}

/// The word-at-a-time XOR mask: the key repeated into a `u64`, eight bytes per step.
#[inline(never)]
pub fn mask_words(buf: &mut [u8], key: [u8; 4]) {
    let wide = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut lanes = buf.chunks_exact_mut(8);
    for lane in &mut lanes {
        let w = u64::from_ne_bytes((&*lane).try_into().unwrap()) ^ wide;
        lane.copy_from_slice(&w.to_ne_bytes());
    }
    for (i, b) in lanes.into_remainder().iter_mut().enumerate() {
        *b ^= key[i & 3];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        for len in [0, 5, 125, 126, 65535, 65536] {
            for text in [false, true] {
                let p = payload(len, text);
                assert_eq!(p.len(), len);
                if text {
                    assert!(std::str::from_utf8(&p).is_ok());
                }
                let wire = client_stream(&p, text, 3);
                assert_frames("ref", &wire, &p, text, 3, true);
            }
        }
    }

    #[test]
    fn limits_agree_with_the_byte_loop() {
        let src = crate::pseudo_random(1000, 3);
        let mut a = src.clone();
        mask_bytes(&mut a, KEY);
        let mut b = src.clone();
        mask_words(&mut b, KEY);
        let mut c = vec![0; 1000];
        copy_and_mask(&mut c, &src, KEY);
        assert_eq!(a, b);
        assert_eq!(a, c);
    }
}
