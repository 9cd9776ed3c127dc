//! Negotiating permessage-deflate (RFC 7692 §5 and §7.1).
//!
//! The extension itself (compressing and inflating messages) lives in
//! tidings-ws behind its `deflate` feature; this module only decides, from the
//! `Sec-WebSocket-Extensions` values, *which* permessage-deflate both ends
//! agreed on, and refuses what RFC 7692 says must be refused. It stays free of
//! any compression library, so the handshake crate stays small and `no_std`.
//!
//! The four parameters, and who they bind:
//!
//! | parameter                    | in an offer (client)                 | in a response (server)                 |
//! |------------------------------|--------------------------------------|----------------------------------------|
//! | `server_no_context_takeover` | "please reset your context"          | "I reset my context after each message" |
//! | `client_no_context_takeover` | "I will reset my context" (a hint)   | "you must reset your context"           |
//! | `server_max_window_bits=N`   | "use a window of at most 2^N"        | "my window is at most 2^N"              |
//! | `client_max_window_bits[=N]` | "you may limit my window" (`=N`: "mine is at most 2^N") | "your window must be at most 2^N" |
//!
//! A server that cannot accept an offer *declines* it (§5: "A server MUST
//! decline an extension negotiation offer for this extension if [...] the
//! negotiation offer contains an extension parameter not defined for use in an
//! offer, [...] an extension parameter with an invalid value, [...] multiple
//! extension parameters with the same name") and tries the next one in the
//! client's order of preference. A client that gets a response it did not ask
//! for _Fails the WebSocket Connection_ (§5, §7.1): that is
//! [`ResponseError::Deflate`](crate::ResponseError::Deflate).
//!
//! Window sizes are kept as the RFC's base-2 logarithms, 8 to 15. A
//! compressor built on zlib cannot write a raw deflate stream with an 8-bit
//! window; tidings-ws handles that by sending such a connection's messages
//! uncompressed, which RFC 7692 always allows, so 8 is accepted here.

use alloc::string::ToString;
use core::fmt;

use crate::extension::{Extension, ExtensionParam};

/// The extension's registered name.
pub const PERMESSAGE_DEFLATE: &str = "permessage-deflate";

const SERVER_NO_CONTEXT_TAKEOVER: &str = "server_no_context_takeover";
const CLIENT_NO_CONTEXT_TAKEOVER: &str = "client_no_context_takeover";
const SERVER_MAX_WINDOW_BITS: &str = "server_max_window_bits";
const CLIENT_MAX_WINDOW_BITS: &str = "client_max_window_bits";

/// The smallest and largest window sizes (base-2 logarithms), §7.1.2.
const WINDOW_BITS: core::ops::RangeInclusive<u8> = 8..=15;

/// What a client says about `client_max_window_bits` in an offer (§7.1.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ClientMaxWindowBits {
    /// Not in the offer: the server must not limit the client's window.
    Absent,
    /// The parameter without a value: the server may limit the client's
    /// window in its response. What browsers send.
    #[default]
    Supported,
    /// The parameter with a value: the client will use at most 2^N, and the
    /// server may ask for less.
    Limit(u8),
}

/// One permessage-deflate offer, as a client sends it (RFC 7692 §7.1).
///
/// The default is what browsers offer:
/// `permessage-deflate; client_max_window_bits`.
///
/// ```
/// use tidings_handshake::deflate::DeflateOffer;
///
/// let mut offer = DeflateOffer::default();
/// offer.server_max_window_bits = Some(10);
/// assert_eq!(
///     offer.to_extension().to_string(),
///     "permessage-deflate; server_max_window_bits=10; client_max_window_bits"
/// );
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DeflateOffer {
    /// Ask the server to reset its compression context after every message.
    pub server_no_context_takeover: bool,
    /// Promise to reset this client's context after every message.
    pub client_no_context_takeover: bool,
    /// Ask the server to compress with a window of at most 2^N (8..=15).
    pub server_max_window_bits: Option<u8>,
    /// Whether, and how, the client's own window may be limited.
    pub client_max_window_bits: ClientMaxWindowBits,
}

/// The permessage-deflate both ends agreed on.
///
/// Window sizes are always set: 15 where the negotiation said nothing.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeflateParams {
    /// The server resets its compression context after every message.
    pub server_no_context_takeover: bool,
    /// The client resets its compression context after every message.
    pub client_no_context_takeover: bool,
    /// The server compresses with a window of at most 2^N.
    pub server_max_window_bits: u8,
    /// The client compresses with a window of at most 2^N.
    pub client_max_window_bits: u8,
}

impl Default for DeflateParams {
    /// permessage-deflate with nothing negotiated: context takeover on both
    /// sides, 32 KiB windows.
    fn default() -> Self {
        Self {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        }
    }
}

/// What a server accepts and asks for (RFC 7692 §7.1), used by
/// [`negotiate`](Self::negotiate).
///
/// The default accepts any valid offer and asks for nothing, which costs the
/// most memory per connection (a 32 KiB window each way, kept between
/// messages); the fields trade compression ratio for memory.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeflatePolicy {
    /// Reset this server's context after every message, so nothing of the
    /// compressor has to be kept between messages.
    pub server_no_context_takeover: bool,
    /// Ask clients to reset their context after every message, so nothing of
    /// the decompressor has to be kept between messages.
    pub client_no_context_takeover: bool,
    /// The largest window this server compresses with (8..=15).
    pub server_max_window_bits: u8,
    /// The largest window clients may compress with (8..=15), asked of
    /// clients that offer `client_max_window_bits`; 15 asks for nothing.
    pub client_max_window_bits: u8,
}

impl Default for DeflatePolicy {
    fn default() -> Self {
        Self {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        }
    }
}

/// Why a permessage-deflate offer or response is refused (RFC 7692 §5, §7.1).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeflateError {
    /// A parameter RFC 7692 does not define (for this side).
    UnknownParameter,
    /// The same parameter twice.
    DuplicateParameter,
    /// A value where none belongs, none where one is required, or a window
    /// size that is not a decimal 8..=15 without leading zeros.
    InvalidValue,
    /// The response has `client_max_window_bits` but the offer did not.
    ClientWindowNotOffered,
    /// The response's window is larger than the offer allowed.
    WindowTooLarge,
    /// The offer asked for `server_no_context_takeover` and the response
    /// does not have it.
    MissingServerNoContextTakeover,
    /// The response names permessage-deflate more than once.
    Repeated,
}

impl fmt::Display for DeflateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::UnknownParameter => "unknown permessage-deflate parameter",
            Self::DuplicateParameter => "permessage-deflate parameter given twice",
            Self::InvalidValue => "invalid permessage-deflate parameter value",
            Self::ClientWindowNotOffered => {
                "client_max_window_bits in the response but not in the offer"
            }
            Self::WindowTooLarge => "permessage-deflate window larger than offered",
            Self::MissingServerNoContextTakeover => {
                "server_no_context_takeover was offered but not accepted"
            }
            Self::Repeated => "permessage-deflate accepted more than once",
        })
    }
}

impl core::error::Error for DeflateError {}

/// The four parameters as written, before checking them against anything.
#[derive(Debug, Default)]
struct Written {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<Option<u8>>,
    client_max_window_bits: Option<Option<u8>>,
}

impl Written {
    /// Reads an extension's parameters, refusing unknown and duplicate names
    /// and malformed values. Which parameters need a value depends on the
    /// side, so that is checked by the callers.
    fn read(extension: &Extension) -> Result<Self, DeflateError> {
        let mut written = Self::default();
        for param in extension.params() {
            let duplicate = match param.name() {
                SERVER_NO_CONTEXT_TAKEOVER => {
                    no_value(param)?;
                    core::mem::replace(&mut written.server_no_context_takeover, true)
                }
                CLIENT_NO_CONTEXT_TAKEOVER => {
                    no_value(param)?;
                    core::mem::replace(&mut written.client_no_context_takeover, true)
                }
                SERVER_MAX_WINDOW_BITS => written
                    .server_max_window_bits
                    .replace(window_bits(param)?)
                    .is_some(),
                CLIENT_MAX_WINDOW_BITS => written
                    .client_max_window_bits
                    .replace(window_bits(param)?)
                    .is_some(),
                _ => return Err(DeflateError::UnknownParameter),
            };
            if duplicate {
                return Err(DeflateError::DuplicateParameter);
            }
        }
        Ok(written)
    }
}

fn no_value(param: &ExtensionParam) -> Result<(), DeflateError> {
    match param.value() {
        None => Ok(()),
        Some(_) => Err(DeflateError::InvalidValue),
    }
}

/// §7.1.2.1: "The value MUST be a decimal integer without leading zeroes in
/// the range 8 to 15", or no value at all (allowed only for
/// `client_max_window_bits` in an offer; callers check).
fn window_bits(param: &ExtensionParam) -> Result<Option<u8>, DeflateError> {
    let Some(value) = param.value() else {
        return Ok(None);
    };
    match value.as_bytes() {
        [digit @ b'8'..=b'9'] => Ok(Some(digit - b'0')),
        [b'1', digit @ b'0'..=b'5'] => Ok(Some(10 + digit - b'0')),
        _ => Err(DeflateError::InvalidValue),
    }
}

impl DeflateOffer {
    /// The browser's offer with windows of at most 2^`server_bits` for the server's
    /// compression and 2^`client_bits` for the client's (8..=15). A window of 15 is
    /// the largest there is, so it asks for nothing: `server_max_window_bits` is
    /// left out, and `client_max_window_bits` goes without a value (RFC 7692 §7.1.2:
    /// the server may then limit the client's window); a smaller one is asked for.
    ///
    /// ```
    /// use tidings_handshake::deflate::{ClientMaxWindowBits, DeflateOffer};
    ///
    /// assert_eq!(DeflateOffer::with_windows(15, 15), DeflateOffer::default());
    /// let small = DeflateOffer::with_windows(10, 12);
    /// assert_eq!(small.server_max_window_bits, Some(10));
    /// assert_eq!(small.client_max_window_bits, ClientMaxWindowBits::Limit(12));
    /// ```
    #[must_use]
    pub fn with_windows(server_bits: u8, client_bits: u8) -> Self {
        Self {
            server_max_window_bits: (server_bits < 15).then_some(server_bits),
            client_max_window_bits: match client_bits {
                15.. => ClientMaxWindowBits::Supported,
                bits => ClientMaxWindowBits::Limit(bits),
            },
            ..Self::default()
        }
    }

    /// The offer as an extension, parameters in the RFC's order.
    #[must_use]
    pub fn to_extension(&self) -> Extension {
        let mut params = alloc::vec::Vec::new();
        if self.server_no_context_takeover {
            params.push(ExtensionParam::new(SERVER_NO_CONTEXT_TAKEOVER, None));
        }
        if self.client_no_context_takeover {
            params.push(ExtensionParam::new(CLIENT_NO_CONTEXT_TAKEOVER, None));
        }
        if let Some(bits) = self.server_max_window_bits {
            params.push(ExtensionParam::new(
                SERVER_MAX_WINDOW_BITS,
                Some(bits.to_string()),
            ));
        }
        match self.client_max_window_bits {
            ClientMaxWindowBits::Absent => {}
            ClientMaxWindowBits::Supported => {
                params.push(ExtensionParam::new(CLIENT_MAX_WINDOW_BITS, None));
            }
            ClientMaxWindowBits::Limit(bits) => params.push(ExtensionParam::new(
                CLIENT_MAX_WINDOW_BITS,
                Some(bits.to_string()),
            )),
        }
        Extension::from_parts(PERMESSAGE_DEFLATE, params)
    }

    /// Reads a client's offer (server side). Any error means the server
    /// declines this offer (§5) and tries the next one.
    pub fn from_extension(extension: &Extension) -> Result<Self, DeflateError> {
        if extension.name() != PERMESSAGE_DEFLATE {
            return Err(DeflateError::UnknownParameter);
        }
        let written = Written::read(extension)?;
        let server_max_window_bits = match written.server_max_window_bits {
            None => None,
            // §7.1.2.1: in an offer it has a value.
            Some(None) => return Err(DeflateError::InvalidValue),
            Some(Some(bits)) => Some(bits),
        };
        Ok(Self {
            server_no_context_takeover: written.server_no_context_takeover,
            client_no_context_takeover: written.client_no_context_takeover,
            server_max_window_bits,
            client_max_window_bits: match written.client_max_window_bits {
                None => ClientMaxWindowBits::Absent,
                Some(None) => ClientMaxWindowBits::Supported,
                Some(Some(bits)) => ClientMaxWindowBits::Limit(bits),
            },
        })
    }

    /// Checks a server's response against this offer (client side) and
    /// returns what was agreed, or why the client must fail the connection.
    pub fn check_response(&self, response: &Extension) -> Result<DeflateParams, DeflateError> {
        if response.name() != PERMESSAGE_DEFLATE {
            return Err(DeflateError::UnknownParameter);
        }
        let written = Written::read(response)?;
        // §7.1.1.1: "If a received extension negotiation offer includes the
        // server_no_context_takeover extension parameter, the server [...]
        // accepts the offer by including the extension parameter in the
        // response" (or declines the whole offer).
        if self.server_no_context_takeover && !written.server_no_context_takeover {
            return Err(DeflateError::MissingServerNoContextTakeover);
        }
        // §7.1.2.1: in a response it has a value, no larger than offered.
        let server_max_window_bits =
            match (written.server_max_window_bits, self.server_max_window_bits) {
                (Some(None), _) => return Err(DeflateError::InvalidValue),
                (None, None) => 15,
                (None, Some(_)) => return Err(DeflateError::WindowTooLarge),
                (Some(Some(bits)), Some(offered)) if bits > offered => {
                    return Err(DeflateError::WindowTooLarge);
                }
                (Some(Some(bits)), _) => bits,
            };
        // §7.1.2.2: "If a received extension negotiation offer doesn't have the
        // client_max_window_bits extension parameter, the corresponding
        // extension negotiation response to the offer MUST NOT include the
        // client_max_window_bits extension parameter." In a response it has a
        // value.
        let client_max_window_bits =
            match (written.client_max_window_bits, self.client_max_window_bits) {
                (Some(None), _) => return Err(DeflateError::InvalidValue),
                (Some(Some(_)), ClientMaxWindowBits::Absent) => {
                    return Err(DeflateError::ClientWindowNotOffered);
                }
                (Some(Some(bits)), ClientMaxWindowBits::Limit(offered)) if bits > offered => {
                    return Err(DeflateError::WindowTooLarge);
                }
                (Some(Some(bits)), _) => bits,
                (None, ClientMaxWindowBits::Limit(offered)) => offered,
                (None, _) => 15,
            };
        Ok(DeflateParams {
            server_no_context_takeover: written.server_no_context_takeover,
            client_no_context_takeover: written.client_no_context_takeover
                || self.client_no_context_takeover,
            server_max_window_bits,
            client_max_window_bits,
        })
    }
}

impl DeflatePolicy {
    /// Picks the first acceptable permessage-deflate offer among a request's
    /// extensions (the client's order is its preference, RFC 6455 §9.1) and
    /// returns the agreed parameters with the response to send, or `None` if
    /// there is no acceptable offer (then answer without the extension).
    ///
    /// ```
    /// use tidings_handshake::Extension;
    /// use tidings_handshake::deflate::DeflatePolicy;
    ///
    /// let offers = Extension::parse_all([
    ///     &b"permessage-deflate; foo, permessage-deflate; client_max_window_bits"[..],
    /// ])
    /// .unwrap();
    /// let mut policy = DeflatePolicy::default();
    /// policy.client_max_window_bits = 10;
    /// let (params, response) = policy.negotiate(&offers).expect("the second offer");
    /// assert_eq!(params.client_max_window_bits, 10);
    /// assert_eq!(response.to_string(), "permessage-deflate; client_max_window_bits=10");
    /// ```
    #[must_use]
    pub fn negotiate(&self, offers: &[Extension]) -> Option<(DeflateParams, Extension)> {
        offers
            .iter()
            .filter(|offer| offer.name() == PERMESSAGE_DEFLATE)
            .find_map(|offer| DeflateOffer::from_extension(offer).ok())
            .map(|offer| self.answer(&offer))
    }

    /// The response to one valid offer. Every offer is acceptable: a window
    /// limit only narrows what this server may use.
    fn answer(&self, offer: &DeflateOffer) -> (DeflateParams, Extension) {
        let clamp = |bits: u8| bits.clamp(*WINDOW_BITS.start(), *WINDOW_BITS.end());
        let mut params = DeflateParams {
            server_no_context_takeover: offer.server_no_context_takeover
                || self.server_no_context_takeover,
            client_no_context_takeover: offer.client_no_context_takeover
                || self.client_no_context_takeover,
            server_max_window_bits: clamp(self.server_max_window_bits)
                .min(offer.server_max_window_bits.unwrap_or(15)),
            client_max_window_bits: 15,
        };
        // Sent when offered (it must be answered) or when this server limits
        // itself (the client learns it may use a smaller inflate window).
        let server_window = (offer.server_max_window_bits.is_some()
            || params.server_max_window_bits < 15)
            .then_some(params.server_max_window_bits);
        let client_window = match offer.client_max_window_bits {
            ClientMaxWindowBits::Absent => None,
            ClientMaxWindowBits::Supported => {
                params.client_max_window_bits = clamp(self.client_max_window_bits);
                (params.client_max_window_bits < 15).then_some(params.client_max_window_bits)
            }
            ClientMaxWindowBits::Limit(offered) => {
                params.client_max_window_bits = clamp(self.client_max_window_bits).min(offered);
                (params.client_max_window_bits < offered).then_some(params.client_max_window_bits)
            }
        };
        let response = DeflateOffer {
            server_no_context_takeover: params.server_no_context_takeover,
            client_no_context_takeover: params.client_no_context_takeover,
            server_max_window_bits: server_window,
            client_max_window_bits: client_window
                .map_or(ClientMaxWindowBits::Absent, ClientMaxWindowBits::Limit),
        }
        .to_extension();
        (params, response)
    }
}

/// The client's side of the negotiation: `accepted` is what the server's
/// `Sec-WebSocket-Extensions` said, `offered` every extension the request
/// offered. `Ok(None)`: permessage-deflate is not in use.
///
/// A response is accepted if it fits any one of the permessage-deflate
/// offers; otherwise the error is the first offer's.
pub(crate) fn client_outcome(
    offered: &[Extension],
    accepted: &[Extension],
) -> Result<Option<DeflateParams>, DeflateError> {
    let mut responses = accepted.iter().filter(|e| e.name() == PERMESSAGE_DEFLATE);
    let Some(response) = responses.next() else {
        return Ok(None);
    };
    if responses.next().is_some() {
        return Err(DeflateError::Repeated);
    }
    let mut first_error = None;
    for offer in offered.iter().filter(|e| e.name() == PERMESSAGE_DEFLATE) {
        // An offer the caller wrote by hand that RFC 7692 would decline cannot
        // be what the server accepted.
        let Ok(offer) = DeflateOffer::from_extension(offer) else {
            continue;
        };
        match offer.check_response(response) {
            Ok(params) => return Ok(Some(params)),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or(DeflateError::UnknownParameter))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec::Vec;

    fn parse(header: &str) -> Vec<Extension> {
        Extension::parse_all([header.as_bytes()]).expect("valid header")
    }

    fn offer(header: &str) -> Result<DeflateOffer, DeflateError> {
        DeflateOffer::from_extension(&parse(header)[0])
    }

    /// Offers a server must decline (§5), each with its reason.
    #[test]
    fn invalid_offers_are_declined() {
        use DeflateError::*;
        for (header, error) in [
            ("permessage-deflate; foo", UnknownParameter),
            (
                "permessage-deflate; server_no_context_takeover=1",
                InvalidValue,
            ),
            (
                "permessage-deflate; client_no_context_takeover=x",
                InvalidValue,
            ),
            ("permessage-deflate; server_max_window_bits", InvalidValue),
            ("permessage-deflate; server_max_window_bits=7", InvalidValue),
            (
                "permessage-deflate; server_max_window_bits=16",
                InvalidValue,
            ),
            (
                "permessage-deflate; server_max_window_bits=010",
                InvalidValue,
            ),
            ("permessage-deflate; client_max_window_bits=0", InvalidValue),
            ("permessage-deflate; client_max_window_bits=a", InvalidValue),
            (
                "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
                DuplicateParameter,
            ),
            (
                "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
                DuplicateParameter,
            ),
        ] {
            assert_eq!(offer(header), Err(error), "{header}");
            assert_eq!(DeflatePolicy::default().negotiate(&parse(header)), None);
        }
    }

    #[test]
    fn offers_round_trip_through_the_header() {
        let all = DeflateOffer {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: Some(9),
            client_max_window_bits: ClientMaxWindowBits::Limit(12),
        };
        let header = all.to_extension().to_string();
        assert_eq!(
            header,
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=9; client_max_window_bits=12"
        );
        assert_eq!(offer(&header), Ok(all));
        // A quoted value is the same value (RFC 6455 §9.1).
        assert_eq!(
            offer("permessage-deflate; server_max_window_bits=\"9\"")
                .map(|o| o.server_max_window_bits),
            Ok(Some(9))
        );
        let browser = DeflateOffer::default();
        assert_eq!(
            browser.to_extension().to_string(),
            "permessage-deflate; client_max_window_bits"
        );
    }

    /// The server's answers: (offer, policy tweak, response, agreed params as
    /// `snct cnct sbits cbits`).
    #[test]
    fn server_answers() {
        type Tweak = fn(&mut DeflatePolicy);
        let none: Tweak = |_| {};
        // server_no_context_takeover, client_no_context_takeover, and the
        // server's and the client's window bits.
        type Agreed = (bool, bool, u8, u8);
        let cases: &[(&str, Tweak, &str, Agreed)] = &[
            (
                "permessage-deflate",
                none,
                "permessage-deflate",
                (false, false, 15, 15),
            ),
            (
                "permessage-deflate; client_max_window_bits",
                none,
                "permessage-deflate",
                (false, false, 15, 15),
            ),
            (
                "permessage-deflate; server_no_context_takeover",
                none,
                "permessage-deflate; server_no_context_takeover",
                (true, false, 15, 15),
            ),
            (
                "permessage-deflate; client_no_context_takeover",
                none,
                "permessage-deflate; client_no_context_takeover",
                (false, true, 15, 15),
            ),
            (
                "permessage-deflate; server_max_window_bits=10",
                none,
                "permessage-deflate; server_max_window_bits=10",
                (false, false, 10, 15),
            ),
            (
                "permessage-deflate; server_max_window_bits=12",
                |p| p.server_max_window_bits = 9,
                "permessage-deflate; server_max_window_bits=9",
                (false, false, 9, 15),
            ),
            (
                "permessage-deflate",
                |p| p.server_max_window_bits = 11,
                "permessage-deflate; server_max_window_bits=11",
                (false, false, 11, 15),
            ),
            (
                // Not offered: the client's window cannot be limited.
                "permessage-deflate",
                |p| p.client_max_window_bits = 9,
                "permessage-deflate",
                (false, false, 15, 15),
            ),
            (
                "permessage-deflate; client_max_window_bits",
                |p| p.client_max_window_bits = 9,
                "permessage-deflate; client_max_window_bits=9",
                (false, false, 15, 9),
            ),
            (
                "permessage-deflate; client_max_window_bits=10",
                none,
                "permessage-deflate",
                (false, false, 15, 10),
            ),
            (
                "permessage-deflate; client_max_window_bits=10",
                |p| p.client_max_window_bits = 12,
                "permessage-deflate",
                (false, false, 15, 10),
            ),
            (
                "permessage-deflate; client_max_window_bits=10",
                |p| p.client_max_window_bits = 8,
                "permessage-deflate; client_max_window_bits=8",
                (false, false, 15, 8),
            ),
            (
                "permessage-deflate",
                |p| {
                    p.server_no_context_takeover = true;
                    p.client_no_context_takeover = true;
                },
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
                (true, true, 15, 15),
            ),
        ];
        for (header, tweak, response, (snct, cnct, sbits, cbits)) in cases {
            let mut policy = DeflatePolicy::default();
            tweak(&mut policy);
            let (params, answer) = policy.negotiate(&parse(header)).expect(header);
            assert_eq!(answer.to_string(), *response, "{header}");
            assert_eq!(
                (
                    params.server_no_context_takeover,
                    params.client_no_context_takeover,
                    params.server_max_window_bits,
                    params.client_max_window_bits,
                ),
                (*snct, *cnct, *sbits, *cbits),
                "{header}"
            );
            // Whatever the server answers, the client that offered it agrees,
            // on the same parameters.
            assert_eq!(offer(header).unwrap().check_response(&answer), Ok(params));
        }
    }

    #[test]
    fn the_first_acceptable_offer_wins() {
        let offers = parse(
            "x-other, permessage-deflate; server_max_window_bits=99, \
             permessage-deflate; server_max_window_bits=10, permessage-deflate",
        );
        let (params, _) = DeflatePolicy::default().negotiate(&offers).unwrap();
        assert_eq!(params.server_max_window_bits, 10);
        assert_eq!(DeflatePolicy::default().negotiate(&parse("x-other")), None);
    }

    /// Responses a client must fail the connection on (§5, §7.1).
    #[test]
    fn invalid_responses_fail_the_client() {
        use DeflateError::*;
        let cases: &[(&str, &str, DeflateError)] = &[
            (
                "permessage-deflate",
                "permessage-deflate; x=1",
                UnknownParameter,
            ),
            (
                "permessage-deflate",
                "permessage-deflate; client_max_window_bits=10",
                ClientWindowNotOffered,
            ),
            (
                "permessage-deflate; client_max_window_bits",
                "permessage-deflate; client_max_window_bits",
                InvalidValue,
            ),
            (
                "permessage-deflate; client_max_window_bits=10",
                "permessage-deflate; client_max_window_bits=11",
                WindowTooLarge,
            ),
            (
                "permessage-deflate; server_max_window_bits=10",
                "permessage-deflate; server_max_window_bits=11",
                WindowTooLarge,
            ),
            (
                "permessage-deflate; server_max_window_bits=10",
                "permessage-deflate",
                WindowTooLarge,
            ),
            (
                "permessage-deflate",
                "permessage-deflate; server_max_window_bits",
                InvalidValue,
            ),
            (
                "permessage-deflate; server_no_context_takeover",
                "permessage-deflate",
                MissingServerNoContextTakeover,
            ),
            (
                "permessage-deflate",
                "permessage-deflate; server_no_context_takeover=yes",
                InvalidValue,
            ),
            (
                "permessage-deflate",
                "permessage-deflate, permessage-deflate",
                Repeated,
            ),
        ];
        for (offered, response, error) in cases {
            assert_eq!(
                client_outcome(&parse(offered), &parse(response)),
                Err(*error),
                "{offered} / {response}"
            );
        }
    }

    #[test]
    fn a_response_may_fit_any_offer() {
        let offered = parse(
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=9, \
             permessage-deflate",
        );
        // Fits the second offer only.
        let params = client_outcome(&offered, &parse("permessage-deflate"))
            .unwrap()
            .unwrap();
        assert_eq!(params, DeflateParams::default());
        // Not accepted at all.
        assert_eq!(client_outcome(&offered, &parse("x-other")), Ok(None));
        // A server may add what was not asked for (§7.1.1.1, §7.1.2.1).
        let params = client_outcome(
            &parse("permessage-deflate"),
            &parse("permessage-deflate; server_no_context_takeover; server_max_window_bits=8"),
        )
        .unwrap()
        .unwrap();
        assert!(params.server_no_context_takeover);
        assert_eq!(params.server_max_window_bits, 8);
    }
}
