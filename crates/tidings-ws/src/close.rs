//! Close codes and close frames (RFC 6455 §5.5.1, §7.4).
//!
//! The code space is open (IANA registers new codes; 3000-4999 belong to libraries and
//! applications), so [`CloseCode`] is a newtype with constants, and the rule for which
//! codes may appear on the wire is a method rather than a closed enum.

use core::fmt;

use crate::utf8::Utf8Bytes;

/// A close status code (RFC 6455 §7.4).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: the purpose for which the connection was established has been fulfilled.
    pub const NORMAL: Self = Self(1000);
    /// 1001: an endpoint is "going away" (server shutdown, browser navigating away).
    pub const GOING_AWAY: Self = Self(1001);
    /// 1002: the endpoint is terminating the connection due to a protocol error.
    pub const PROTOCOL_ERROR: Self = Self(1002);
    /// 1003: the endpoint received a type of data it cannot accept.
    pub const UNSUPPORTED_DATA: Self = Self(1003);
    /// 1005: no status code was present. Never sent; reported locally only.
    pub const NO_STATUS: Self = Self(1005);
    /// 1006: the connection closed abnormally, without a close frame. Never sent.
    pub const ABNORMAL: Self = Self(1006);
    /// 1007: data within a message was not consistent with its type (e.g. not UTF-8).
    pub const INVALID_PAYLOAD: Self = Self(1007);
    /// 1008: a message violated the endpoint's policy.
    pub const POLICY_VIOLATION: Self = Self(1008);
    /// 1009: a message was too big to process.
    pub const MESSAGE_TOO_BIG: Self = Self(1009);
    /// 1010: the client expected the server to negotiate an extension.
    pub const MANDATORY_EXTENSION: Self = Self(1010);
    /// 1011: the server met an unexpected condition.
    pub const INTERNAL_ERROR: Self = Self(1011);
    /// 1012: the service is restarting (IANA registry).
    pub const SERVICE_RESTART: Self = Self(1012);
    /// 1013: try again later (IANA registry).
    pub const TRY_AGAIN_LATER: Self = Self(1013);
    /// 1014: the server acted as a gateway and got a bad response (IANA registry).
    pub const BAD_GATEWAY: Self = Self(1014);
    /// 1015: the TLS handshake failed. Never sent.
    pub const TLS_HANDSHAKE: Self = Self(1015);

    /// Whether this code may appear in a close frame on the wire.
    ///
    /// §7.4.1 and the IANA registry allow 1000-1003 and 1007-1014; 1004 is reserved,
    /// 1005, 1006 and 1015 "MUST NOT be set as a status code in a Close control frame";
    /// 0-999 are unused, 1016-2999 are reserved for future RFCs; 3000-4999 are for
    /// libraries, frameworks and applications.
    pub const fn is_sendable(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

impl fmt::Debug for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CloseCode({})", self.0)
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        Self(code)
    }
}

/// The body of a close frame: a status code and a UTF-8 reason of at most 123 bytes.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CloseFrame {
    /// The status code.
    pub code: CloseCode,
    /// The reason, possibly empty.
    pub reason: Utf8Bytes,
}

/// The longest reason a close frame can carry: 125 bytes of control payload less the
/// two-byte code (§5.5).
pub const MAX_REASON_LEN: usize = 123;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sendable_codes() {
        let ok = [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999,
        ];
        let bad = [
            0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ];
        for c in ok {
            assert!(CloseCode(c).is_sendable(), "{c}");
        }
        for c in bad {
            assert!(!CloseCode(c).is_sendable(), "{c}");
        }
    }
}
