//! The stateless frame codec: RFC 6455 §5.2 headers over caller slices.
//!
//! Everything here is a pure function of its input: no state, no allocation, no
//! knowledge of fragmentation or roles. [`crate::Connection`] builds the protocol rules
//! on top. Keeping the codec apart lets users who do their own framing (proxies,
//! benchmarks, fuzzers) decode and encode headers without a connection.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               |Masking-key, if MASK set to 1  |
//! +-------------------------------+-------------------------------+
//! ```

use core::fmt;

use bytes::BufMut;

/// A frame opcode (RFC 6455 §5.2, §11.8): four bits, half of them reserved.
///
/// The space is open (future extensions may define the reserved values), so this is
/// a newtype with constants rather than an enum.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct OpCode(u8);

impl OpCode {
    /// `%x0` denotes a continuation frame.
    pub const CONTINUATION: Self = Self(0x0);
    /// `%x1` denotes a text frame.
    pub const TEXT: Self = Self(0x1);
    /// `%x2` denotes a binary frame.
    pub const BINARY: Self = Self(0x2);
    /// `%x8` denotes a connection close.
    pub const CLOSE: Self = Self(0x8);
    /// `%x9` denotes a ping.
    pub const PING: Self = Self(0x9);
    /// `%xA` denotes a pong.
    pub const PONG: Self = Self(0xA);

    /// The opcode with the given low four bits; higher bits are dropped.
    pub const fn from_bits(bits: u8) -> Self {
        Self(bits & 0x0F)
    }

    /// The four-bit value.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Control frames have the high bit of the opcode set (§5.5).
    pub const fn is_control(self) -> bool {
        self.0 & 0x8 != 0
    }

    /// `%x3-7` and `%xB-F` are reserved for further frames (§5.2).
    pub const fn is_reserved(self) -> bool {
        matches!(self.0, 0x3..=0x7 | 0xB..=0xF)
    }
}

impl fmt::Debug for OpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match *self {
            Self::CONTINUATION => "CONTINUATION",
            Self::TEXT => "TEXT",
            Self::BINARY => "BINARY",
            Self::CLOSE => "CLOSE",
            Self::PING => "PING",
            Self::PONG => "PONG",
            Self(other) => return write!(f, "OpCode({other:#x})"),
        };
        f.write_str(name)
    }
}

/// The 32-bit masking key of a client-to-server frame (§5.3).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct MaskingKey(pub [u8; 4]);

/// A decoded frame header: everything before the payload.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct FrameHeader {
    /// FIN: this is the final fragment of a message.
    pub fin: bool,
    /// RSV1, RSV2, RSV3 as the low three bits (RSV1 = `0b100`).
    pub rsv: u8,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, present exactly when the MASK bit is set.
    pub mask: Option<MaskingKey>,
    /// The payload length in bytes.
    pub payload_len: u64,
}

/// The longest possible header: 2 + 8 (64-bit length) + 4 (masking key).
pub const MAX_HEADER_LEN: usize = 14;

/// A header that can never be valid, whatever follows it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum HeaderError {
    /// §5.2: "the most significant bit MUST be 0" in a 64-bit payload length.
    LengthHighBitSet,
    /// §5.2: "the minimal number of bytes MUST be used to encode the length": a
    /// 16-bit length under 126, or a 64-bit length under 65,536.
    NonMinimalLength,
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LengthHighBitSet => f.write_str("64-bit payload length has its high bit set"),
            Self::NonMinimalLength => {
                f.write_str("payload length not encoded in the minimal number of bytes")
            }
        }
    }
}

impl core::error::Error for HeaderError {}

impl FrameHeader {
    /// Decodes a header from the start of `buf`.
    ///
    /// Returns the header and its length in bytes, or `None` if `buf` ends inside the
    /// header: nothing is consumed, call again with more bytes. Only the length field
    /// can make a header invalid on its own (its high bit, or a longer form than the
    /// length needs); the rules that depend on context (reserved bits, opcodes,
    /// masking by role) are the connection's.
    ///
    /// ```
    /// use tidings_ws::frame::{FrameHeader, HeaderError, OpCode};
    ///
    /// // RFC 6455 §5.7: a single-frame unmasked text message "Hello".
    /// let bytes = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    /// let Some((header, len)) = FrameHeader::decode(&bytes)? else { panic!() };
    /// assert_eq!((header.opcode, header.payload_len, len), (OpCode::TEXT, 5, 2));
    /// assert_eq!(FrameHeader::decode(&bytes[..1])?, None);
    /// // Five bytes announced in the 16-bit form: §5.2 asks for the 7-bit one.
    /// assert_eq!(FrameHeader::decode(&[0x81, 126, 0, 5]), Err(HeaderError::NonMinimalLength));
    /// # Ok::<(), HeaderError>(())
    /// ```
    #[inline]
    pub fn decode(buf: &[u8]) -> Result<Option<(Self, usize)>, HeaderError> {
        let &[b0, b1, ref rest @ ..] = buf else {
            return Ok(None);
        };
        let masked = b1 & 0x80 != 0;
        // §5.2: "If 126, the following 2 bytes interpreted as a 16-bit unsigned integer
        // are the payload length. If 127, the following 8 bytes interpreted as a 64-bit
        // unsigned integer (the most significant bit MUST be 0) are the payload length.
        // [...] the minimal number of bytes MUST be used to encode the length".
        let (payload_len, len_bytes) = match b1 & 0x7F {
            n @ 0..126 => (u64::from(n), 0),
            126 => match rest {
                [a, b, ..] => match u16::from_be_bytes([*a, *b]) {
                    0..126 => return Err(HeaderError::NonMinimalLength),
                    n => (u64::from(n), 2),
                },
                _ => return Ok(None),
            },
            _ => match rest.first_chunk::<8>() {
                Some(n) => match u64::from_be_bytes(*n) {
                    0..0x1_0000 => return Err(HeaderError::NonMinimalLength),
                    n if n >> 63 != 0 => return Err(HeaderError::LengthHighBitSet),
                    n => (n, 8),
                },
                None => return Ok(None),
            },
        };
        let mut len = 2 + len_bytes;
        let mask = if masked {
            match rest[len_bytes..].first_chunk::<4>() {
                Some(key) => {
                    len += 4;
                    Some(MaskingKey(*key))
                }
                None => return Ok(None),
            }
        } else {
            None
        };
        let header = Self {
            fin: b0 & 0x80 != 0,
            rsv: (b0 >> 4) & 0x07,
            opcode: OpCode::from_bits(b0),
            mask,
            payload_len,
        };
        Ok(Some((header, len)))
    }

    /// The number of bytes [`encode`](Self::encode) writes: 2 to 14.
    pub const fn encoded_len(&self) -> usize {
        let len = match self.payload_len {
            0..=125 => 2,
            126..=0xFFFF => 4,
            _ => 10,
        };
        if self.mask.is_some() { len + 4 } else { len }
    }

    /// Appends the header to `buf`, choosing the shortest length form as §5.2
    /// requires ("the minimal number of bytes MUST be used").
    ///
    /// A `payload_len` of 2^63 or more cannot be represented; it is written with the
    /// high bit cleared, which no [`crate::Connection`] ever asks for.
    ///
    /// Each form is written as a fixed-size piece from registers, not copied out of a
    /// stack array with a run-time length: that copy is a `memcpy` call whose load
    /// straddles the array's separate byte stores, which stalls store-to-load
    /// forwarding.
    #[inline]
    pub fn encode(&self, buf: &mut impl BufMut) {
        let b0 = (u8::from(self.fin) << 7) | ((self.rsv & 0x07) << 4) | self.opcode.bits();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        match self.payload_len {
            len @ 0..=125 => buf.put_slice(&[b0, mask_bit | len as u8]),
            len @ 126..=0xFFFF => {
                let [hi, lo] = (len as u16).to_be_bytes();
                buf.put_slice(&[b0, mask_bit | 126, hi, lo]);
            }
            len => {
                let l = (len & (u64::MAX >> 1)).to_be_bytes();
                buf.put_slice(&[
                    b0,
                    mask_bit | 127,
                    l[0],
                    l[1],
                    l[2],
                    l[3],
                    l[4],
                    l[5],
                    l[6],
                    l[7],
                ]);
            }
        }
        if let Some(MaskingKey(key)) = self.mask {
            buf.put_slice(&key);
        }
    }

    /// Writes the header into a fixed array, returning its length: the plain form,
    /// kept as the oracle [`encode`](Self::encode) is tested against.
    #[cfg(test)]
    pub(crate) fn encode_array(&self, out: &mut [u8; MAX_HEADER_LEN]) -> usize {
        out[0] = (u8::from(self.fin) << 7) | ((self.rsv & 0x07) << 4) | self.opcode.bits();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut n = match self.payload_len {
            len @ 0..=125 => {
                out[1] = mask_bit | len as u8;
                2
            }
            len @ 126..=0xFFFF => {
                out[1] = mask_bit | 126;
                out[2..4].copy_from_slice(&(len as u16).to_be_bytes());
                4
            }
            len => {
                out[1] = mask_bit | 127;
                out[2..10].copy_from_slice(&(len & (u64::MAX >> 1)).to_be_bytes());
                10
            }
        };
        if let Some(MaskingKey(key)) = self.mask {
            out[n..n + 4].copy_from_slice(&key);
            n += 4;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use super::*;

    fn header(fin: bool, opcode: OpCode, mask: Option<[u8; 4]>, len: u64) -> FrameHeader {
        FrameHeader {
            fin,
            rsv: 0,
            opcode,
            mask: mask.map(MaskingKey),
            payload_len: len,
        }
    }

    /// RFC 6455 §5.7 headers, plus the length-form boundaries, checked both ways.
    #[test]
    fn vectors_both_ways() {
        let key = Some([0x37, 0xfa, 0x21, 0x3d]);
        let cases: &[(&str, &[u8], FrameHeader)] = &[
            (
                "5.7 unmasked Hello",
                &[0x81, 0x05],
                header(true, OpCode::TEXT, None, 5),
            ),
            (
                "5.7 masked Hello",
                &[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d],
                header(true, OpCode::TEXT, key, 5),
            ),
            (
                "5.7 fragment 1",
                &[0x01, 0x03],
                header(false, OpCode::TEXT, None, 3),
            ),
            (
                "5.7 fragment 2",
                &[0x80, 0x02],
                header(true, OpCode::CONTINUATION, None, 2),
            ),
            (
                "5.7 unmasked ping",
                &[0x89, 0x05],
                header(true, OpCode::PING, None, 5),
            ),
            (
                "5.7 masked pong",
                &[0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d],
                header(true, OpCode::PONG, key, 5),
            ),
            (
                "5.7 256 bytes",
                &[0x82, 0x7E, 0x01, 0x00],
                header(true, OpCode::BINARY, None, 256),
            ),
            (
                "5.7 64 KiB",
                &[0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00],
                header(true, OpCode::BINARY, None, 65536),
            ),
            (
                "7-bit max",
                &[0x82, 125],
                header(true, OpCode::BINARY, None, 125),
            ),
            (
                "16-bit min",
                &[0x82, 126, 0, 126],
                header(true, OpCode::BINARY, None, 126),
            ),
            (
                "16-bit max",
                &[0x82, 126, 0xFF, 0xFF],
                header(true, OpCode::BINARY, None, 0xFFFF),
            ),
            (
                "63-bit max",
                &[0x82, 127, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
                header(true, OpCode::BINARY, None, u64::MAX >> 1),
            ),
        ];
        for (name, bytes, value) in cases {
            assert_eq!(
                FrameHeader::decode(bytes),
                Ok(Some((*value, bytes.len()))),
                "decode {name}"
            );
            let mut out = Vec::new();
            value.encode(&mut out);
            assert_eq!(&out[..], *bytes, "encode {name}");
            assert_eq!(value.encoded_len(), bytes.len(), "encoded_len {name}");
            for cut in 0..bytes.len() {
                assert_eq!(
                    FrameHeader::decode(&bytes[..cut]),
                    Ok(None),
                    "{name} @{cut}"
                );
            }
        }
    }

    /// `encode` (fixed-size pieces) and `encode_array` (one array) write the same
    /// bytes for every length form, mask, FIN and RSV, and both agree with
    /// `encoded_len`.
    #[test]
    fn encode_forms_agree() {
        let lens = [
            0,
            1,
            125,
            126,
            127,
            0xFFFF,
            0x1_0000,
            u64::MAX >> 1,
            u64::MAX,
        ];
        for len in lens {
            for mask in [None, Some(MaskingKey([1, 2, 3, 4]))] {
                for (fin, rsv) in [(true, 0), (false, 0b100), (true, 0b111)] {
                    let h = FrameHeader {
                        fin,
                        rsv,
                        opcode: OpCode::BINARY,
                        mask,
                        payload_len: len,
                    };
                    let mut out = Vec::new();
                    h.encode(&mut out);
                    let mut arr = [0u8; MAX_HEADER_LEN];
                    let n = h.encode_array(&mut arr);
                    assert_eq!(&out[..], &arr[..n], "{h:?}");
                    assert_eq!(out.len(), h.encoded_len(), "{h:?}");
                }
            }
        }
    }

    #[test]
    fn length_high_bit_is_an_error() {
        let bytes = [0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            FrameHeader::decode(&bytes),
            Err(HeaderError::LengthHighBitSet)
        );
    }

    /// §5.2: "the minimal number of bytes MUST be used to encode the length". Each
    /// longer form just under its own range is refused, masked or not, as soon as the
    /// length field is whole (before the masking key); the shortest lengths of each
    /// form are in `vectors_both_ways`.
    #[test]
    fn non_minimal_lengths_are_errors() {
        let cases: &[&[u8]] = &[
            &[0x82, 126, 0, 0],
            &[0x82, 126, 0, 5],
            &[0x82, 0xFE, 0, 125, 1, 2, 3, 4],
            &[0x82, 127, 0, 0, 0, 0, 0, 0, 0, 0],
            &[0x82, 127, 0, 0, 0, 0, 0, 0, 0, 125],
            &[0x82, 127, 0, 0, 0, 0, 0, 0, 0, 126],
            &[0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF],
            &[0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 1, 2, 3, 4],
        ];
        for bytes in cases {
            assert_eq!(
                FrameHeader::decode(bytes),
                Err(HeaderError::NonMinimalLength),
                "{bytes:02x?}"
            );
        }
    }

    #[test]
    fn reserved_bits_and_opcodes_decode() {
        let Ok(Some((h, 2))) = FrameHeader::decode(&[0x73, 0x00]) else {
            panic!("should decode");
        };
        assert_eq!((h.fin, h.rsv, h.opcode.bits()), (false, 0b111, 3));
        assert!(h.opcode.is_reserved() && !h.opcode.is_control());
        assert!(OpCode::from_bits(0xB).is_reserved() && OpCode::from_bits(0xB).is_control());
        for op in [
            OpCode::CONTINUATION,
            OpCode::TEXT,
            OpCode::BINARY,
            OpCode::CLOSE,
        ] {
            assert!(!op.is_reserved());
        }
    }
}
