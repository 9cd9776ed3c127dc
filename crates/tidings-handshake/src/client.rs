//! The client side: write the opening handshake request, then read and check
//! the server's answer (RFC 6455 §4.1).
//!
//! The checks a client "MUST" make on a 101 answer are in
//! [`ClientHandshake::validate`], each next to its quoted text. A well-formed
//! answer with another status (a redirect, 401, 403...) is not a protocol
//! error: it comes back as [`Response::Rejected`] with its status and
//! headers, so the caller can follow a `Location` or ask for credentials.
//!
//! Call order on the client:
//!
//! 1. [`ClientBuilder::new`] with the URI, then options.
//! 2. Connect to [`WsUri::host`]:[`WsUri::port`] (with TLS if
//!    [`WsUri::is_secure`]), then [`ClientBuilder::send_request`] (or
//!    [`send_request_with`](ClientBuilder::send_request_with) and your own
//!    [`RandomSource`]) writes the request into your buffer.
//! 3. [`ClientHandshake::parse`] with each chunk read, until
//!    [`Status::Complete`] with `(response, consumed)`. On
//!    [`Response::Accepted`] the bytes of that last chunk after `consumed` are
//!    already WebSocket frames.
//!
//! The options fail with a [`LocalError`] when set; only the server's answer
//! can fail with an [`Error`].

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::ops::Range;

use bytes::BufMut;

use crate::Status;
use crate::deflate::{self, DeflateOffer, DeflateParams};
use crate::error::{Error, LocalError, ResponseError};
use crate::extension::{self, Extension};
use crate::head::{self, HeadReader, Headers, Limits, OwnedHeaders, Read, Single};
#[cfg(feature = "std")]
use crate::key::OsRandom;
use crate::key::{RandomSource, SecWebSocketAccept, SecWebSocketKey, VERSION};
use crate::uri::WsUri;

/// Headers the request writes itself.
const REQUEST_RESERVED: &[&str] = &[
    "Host",
    "Upgrade",
    "Connection",
    "Origin",
    "Sec-WebSocket-Key",
    "Sec-WebSocket-Version",
    "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Extensions",
    "Content-Length",
    "Transfer-Encoding",
];

/// The options of a client's opening handshake; every option is checked when
/// set, so sending cannot fail on them.
#[must_use = "a ClientBuilder does nothing until the request is sent"]
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    uri: WsUri,
    origin: Option<String>,
    protocols: Vec<String>,
    extensions: Vec<Extension>,
    /// Extra header lines, already serialized.
    headers: Vec<u8>,
    limits: Limits,
}

impl ClientBuilder {
    /// Starts a handshake for a `ws://` or `wss://` URI.
    pub fn new(uri: &str) -> Result<Self, LocalError> {
        let uri = WsUri::parse(uri)?;
        Ok(Self {
            uri,
            origin: None,
            protocols: Vec::new(),
            extensions: Vec::new(),
            headers: Vec::new(),
            limits: Limits::default(),
        })
    }

    /// The parsed URI: where to connect.
    #[must_use]
    pub fn uri(&self) -> &WsUri {
        &self.uri
    }

    /// Sends `Origin` (RFC 6455 §4.1 item 8: browsers must; other clients may).
    pub fn origin(mut self, origin: &str) -> Result<Self, LocalError> {
        head::check_value(origin.as_bytes())?;
        self.origin = Some(origin.into());
        Ok(self)
    }

    /// Offers a subprotocol; offers are sent in the order given, most
    /// preferred first. The name must be a token.
    pub fn protocol(mut self, name: &str) -> Result<Self, LocalError> {
        if !head::is_token(name.as_bytes()) {
            return Err(LocalError::Protocol);
        }
        self.protocols.push(name.into());
        Ok(self)
    }

    /// Offers an extension; offers are sent in the order given.
    pub fn extension(mut self, extension: Extension) -> Self {
        self.extensions.push(extension);
        self
    }

    /// Offers permessage-deflate (RFC 7692); several offers are sent in the
    /// order given, most preferred first. The server's answer is checked
    /// against them and comes back as [`Accepted::deflate`].
    pub fn deflate(self, offer: DeflateOffer) -> Self {
        self.extension(offer.to_extension())
    }

    /// Adds an extra header (e.g. `Authorization`). CR, LF and other controls
    /// in the value are refused, as are headers the handshake writes itself.
    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Result<Self, LocalError> {
        let value = value.as_ref();
        head::check_extra(name, value, REQUEST_RESERVED)?;
        head::put_field(&mut self.headers, name, value);
        Ok(self)
    }

    /// Limits on the response head (defaults: [`Limits::default`]).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Writes the request with a key from the operating system's generator
    /// ([`OsRandom`]), and returns the handshake waiting for the answer.
    ///
    /// # Panics
    ///
    /// If the operating system has no random generator (see [`OsRandom`]).
    #[cfg(feature = "std")]
    pub fn send_request(self, buf: &mut impl BufMut) -> ClientHandshake {
        self.send_request_with(&mut OsRandom, buf)
    }

    /// Writes the request with a key from `random`.
    pub fn send_request_with(
        self,
        random: &mut impl RandomSource,
        buf: &mut impl BufMut,
    ) -> ClientHandshake {
        self.send_request_with_key(SecWebSocketKey::generate(random), buf)
    }

    /// Writes the request with this exact key (for tests and replays; a real
    /// client must use a fresh random key per connection, RFC 6455 §4.1).
    pub fn send_request_with_key(
        self,
        key: SecWebSocketKey,
        buf: &mut impl BufMut,
    ) -> ClientHandshake {
        // RFC 6455 §4.1, the handshake "MUST be a valid HTTP request as
        // specified by [RFC2616]" with, in the order of the §1.2 example:
        buf.put_slice(b"GET ");
        buf.put_slice(self.uri.resource_name().as_bytes());
        buf.put_slice(b" HTTP/1.1\r\n");
        head::put_field(buf, "Host", self.uri.host_header().as_bytes());
        buf.put_slice(b"Upgrade: websocket\r\nConnection: Upgrade\r\n");
        head::put_field(buf, "Sec-WebSocket-Key", key.as_str().as_bytes());
        if let Some(origin) = &self.origin {
            head::put_field(buf, "Origin", origin.as_bytes());
        }
        if !self.protocols.is_empty() {
            buf.put_slice(b"Sec-WebSocket-Protocol: ");
            for (i, p) in self.protocols.iter().enumerate() {
                if i > 0 {
                    buf.put_slice(b", ");
                }
                buf.put_slice(p.as_bytes());
            }
            buf.put_slice(b"\r\n");
        }
        if !self.extensions.is_empty() {
            buf.put_slice(b"Sec-WebSocket-Extensions: ");
            extension::put_list(buf, &self.extensions);
            buf.put_slice(b"\r\n");
        }
        head::put_field(buf, "Sec-WebSocket-Version", VERSION.as_bytes());
        buf.put_slice(&self.headers);
        buf.put_slice(b"\r\n");
        self.into_handshake(key)
    }

    pub(crate) fn into_handshake(self, key: SecWebSocketKey) -> ClientHandshake {
        ClientHandshake {
            accept: key.accept(),
            key,
            builder: self,
            reader: HeadReader::default(),
            state: State::Reading,
        }
    }

    #[cfg(feature = "http")]
    pub(crate) fn parts(&self) -> (Option<&String>, &[String], &[Extension], &[u8]) {
        (
            self.origin.as_ref(),
            &self.protocols,
            &self.extensions,
            &self.headers,
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Reading,
    Done,
    Failed(Error),
}

/// A sent request waiting for the server's answer.
#[derive(Debug)]
pub struct ClientHandshake {
    key: SecWebSocketKey,
    accept: SecWebSocketAccept,
    builder: ClientBuilder,
    reader: HeadReader,
    state: State,
}

impl ClientHandshake {
    /// The key that was sent.
    #[must_use]
    pub fn key(&self) -> SecWebSocketKey {
        self.key
    }

    /// The URI the request was made for.
    #[must_use]
    pub fn uri(&self) -> &WsUri {
        &self.builder.uri
    }

    /// Feeds the next bytes received.
    ///
    /// Returns [`Status::Partial`] when every byte of `input` was taken and
    /// the head is not finished, or [`Status::Complete`] with
    /// `(response, consumed)`: the checked response and how many bytes of
    /// *this* `input` the head used; the rest, `input[consumed..]`, is the
    /// caller's (frames, after a 101). After an error it returns the same
    /// error forever.
    ///
    /// # Panics
    ///
    /// If called again after it returned [`Status::Complete`]: the bytes that
    /// follow a complete head are frames or a body, never more of the head, so
    /// feeding them here is a bug in the caller.
    pub fn parse(&mut self, input: &[u8]) -> Result<Status<(Response, usize)>, Error> {
        match &self.state {
            State::Reading => {}
            State::Done => panic!("ClientHandshake::parse called after the response was complete"),
            State::Failed(e) => return Err(e.clone()),
        }
        let result = self.parse_inner(input);
        match &result {
            Ok(Status::Complete(_)) => self.state = State::Done,
            Err(e) => self.state = State::Failed(e.clone()),
            Ok(Status::Partial) => {}
        }
        result
    }

    fn parse_inner(&mut self, input: &[u8]) -> Result<Status<(Response, usize)>, Error> {
        let mut done = 0;
        loop {
            let rest = input.get(done..).unwrap_or(&[]);
            match self.reader.read(rest, self.builder.limits.max_head_size) {
                Read::Partial => return Ok(Status::Partial),
                Read::TooLarge => return Err(ResponseError::HeadTooLarge.into()),
                Read::Complete { consumed } => {
                    done += consumed;
                    let buf = core::mem::take(&mut self.reader.buf);
                    match parse_head(buf, &self.builder.limits)? {
                        Ok(head) => {
                            let response = self.validate(head)?;
                            return Ok(Status::Complete((response, done)));
                        }
                        Err(buf) => {
                            self.reader.buf = buf;
                            self.reader.resume();
                        }
                    }
                }
            }
        }
    }

    /// Checks a complete response head against RFC 6455 §4.1.
    pub(crate) fn validate(&self, head: ResponseHead) -> Result<Response, ResponseError> {
        // "If the status code received from the server is not 101, the client
        // handles the response per HTTP [RFC2616] procedures."
        if head.status != 101 {
            return Ok(Response::Rejected(Rejected { head }));
        }
        if head.minor < 1 {
            return Err(ResponseError::HttpVersion);
        }
        let h = head.headers.view();

        // 1. "If the response lacks an |Upgrade| header field or the |Upgrade|
        //    header field contains a value that is not an ASCII
        //    case-insensitive match for the value "websocket", the client
        //    MUST _Fail the WebSocket Connection_."
        if !h.has_token("Upgrade", "websocket") {
            return Err(ResponseError::Upgrade);
        }

        // 2. "If the response lacks a |Connection| header field or the
        //    |Connection| header field doesn't contain a token that is an
        //    ASCII case-insensitive match for the value "Upgrade", the client
        //    MUST _Fail the WebSocket Connection_."
        if !h.has_token("Connection", "Upgrade") {
            return Err(ResponseError::Connection);
        }

        // 3. "If the response lacks a |Sec-WebSocket-Accept| header field or
        //    the |Sec-WebSocket-Accept| contains a value other than the
        //    base64-encoded SHA-1 of the concatenation of the
        //    |Sec-WebSocket-Key| (as a string, not base64-decoded) with the
        //    string "258EAFA5-E914-47DA-95CA-C5AB0DC85B11" [...] the client
        //    MUST _Fail the WebSocket Connection_."  §11.3.3: it "MUST NOT
        //    appear more than once in an HTTP response."
        match h.single("Sec-WebSocket-Accept") {
            Single::One(v) if self.accept.matches(v) => {}
            _ => return Err(ResponseError::Accept),
        }

        let negotiated = self.negotiated(&head)?;
        Ok(Response::Accepted(Accepted::new(head, negotiated)))
    }

    /// Items 4 and 5 of RFC 6455 §4.1: the extensions and subprotocol the
    /// server chose must be among those offered. Shared with the RFC 8441
    /// path, whose 200 answer carries them the same way.
    pub(crate) fn negotiated(&self, head: &ResponseHead) -> Result<Negotiated, ResponseError> {
        let h = head.headers.view();
        // 4. "If the response includes a |Sec-WebSocket-Extensions| header
        //    field and this header field indicates the use of an extension
        //    that was not present in the client's handshake [...] the client
        //    MUST _Fail the WebSocket Connection_."
        let extensions = Extension::parse_all(h.get_all("Sec-WebSocket-Extensions"))
            .ok_or(ResponseError::Extensions)?;
        let offered = &self.builder.extensions;
        if !extensions
            .iter()
            .all(|e| offered.iter().any(|o| o.name() == e.name()))
        {
            return Err(ResponseError::ExtensionNotOffered);
        }
        // RFC 7692 §7.1: the permessage-deflate response must fit an offer.
        let deflate =
            deflate::client_outcome(offered, &extensions).map_err(ResponseError::Deflate)?;

        // 5. "If the response includes a |Sec-WebSocket-Protocol| header field
        //    and this header field indicates the use of a subprotocol that was
        //    not present in the client's handshake [...] the client MUST
        //    _Fail the WebSocket Connection_."  The server answers with one
        //    value (§4.2.2 item 5.4), so a list is refused too.
        let protocol = match h.single("Sec-WebSocket-Protocol") {
            Single::Absent => None,
            Single::One(v) => {
                let v = head::trim_ows(v);
                if !self.builder.protocols.iter().any(|p| p.as_bytes() == v) {
                    return Err(ResponseError::ProtocolNotOffered);
                }
                Some(head::offset(&head.headers.buf, v))
            }
            Single::Many => return Err(ResponseError::ProtocolNotOffered),
        };
        Ok(Negotiated {
            protocol,
            extensions,
            deflate,
        })
    }
}

/// Runs httparse once over a complete head. `Ok(Err(buf))` hands the buffer
/// back if httparse wants more bytes.
fn parse_head(
    buf: Vec<u8>,
    limits: &Limits,
) -> Result<Result<ResponseHead, Vec<u8>>, ResponseError> {
    let mut slots = vec![httparse::EMPTY_HEADER; head::header_slots(limits)];
    let mut res = httparse::Response::new(&mut slots);
    let (status, reason, minor, fields) = match res.parse(&buf) {
        Ok(httparse::Status::Complete(_)) => {
            let (Some(status), Some(reason), Some(minor)) = (res.code, res.reason, res.version)
            else {
                return Err(ResponseError::Malformed);
            };
            let reason = head::offset(&buf, reason.as_bytes());
            (status, reason, minor, head::fields(&buf, res.headers))
        }
        Ok(httparse::Status::Partial) => return Ok(Err(buf)),
        Err(httparse::Error::TooManyHeaders) => return Err(ResponseError::TooManyHeaders),
        Err(_) => return Err(ResponseError::Malformed),
    };
    Ok(Ok(ResponseHead {
        headers: OwnedHeaders { buf, fields },
        status,
        reason,
        minor,
    }))
}

/// A parsed response head, owning its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResponseHead {
    pub(crate) headers: OwnedHeaders,
    pub(crate) status: u16,
    pub(crate) reason: Range<usize>,
    pub(crate) minor: u8,
}

/// The server's answer, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// A valid `101 Switching Protocols`: the connection speaks WebSocket now.
    Accepted(Accepted),
    /// A well-formed answer with another status: the server said no (or
    /// "look elsewhere"). The connection does not speak WebSocket.
    Rejected(Rejected),
}

/// A valid `101 Switching Protocols`, and what was negotiated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    head: ResponseHead,
    protocol: Option<Range<usize>>,
    extensions: Vec<Extension>,
    deflate: Option<DeflateParams>,
}

/// What a response agreed to, checked against the request.
#[derive(Debug)]
pub(crate) struct Negotiated {
    protocol: Option<Range<usize>>,
    extensions: Vec<Extension>,
    deflate: Option<DeflateParams>,
}

impl Accepted {
    pub(crate) fn new(head: ResponseHead, negotiated: Negotiated) -> Self {
        let Negotiated {
            protocol,
            extensions,
            deflate,
        } = negotiated;
        Self {
            head,
            protocol,
            extensions,
            deflate,
        }
    }

    /// The subprotocol the server chose, if any (always one that was offered).
    #[must_use]
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_ref().map(|r| self.head.headers.str(r))
    }

    /// The extensions the server accepted, in its order, with parameters.
    #[must_use]
    pub fn extensions(&self) -> &[Extension] {
        &self.extensions
    }

    /// The permessage-deflate the server accepted, checked against the
    /// offers (RFC 7692 §7.1), or `None` if it is not in use.
    #[must_use]
    pub fn deflate(&self) -> Option<DeflateParams> {
        self.deflate
    }

    /// Every header field of the answer.
    #[must_use]
    pub fn headers(&self) -> Headers<'_> {
        self.head.headers.view()
    }
}

/// A well-formed answer other than 101.
///
/// Only the head is read; a body, if any, is in the bytes after the head
/// (`input[consumed..]` of [`ClientHandshake::parse`]'s last input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    head: ResponseHead,
}

impl Rejected {
    #[cfg(feature = "http")]
    pub(crate) fn new(head: ResponseHead) -> Self {
        Self { head }
    }

    /// The status code, e.g. 403 or 302.
    #[must_use]
    pub fn status(&self) -> u16 {
        self.head.status
    }

    /// The reason phrase as sent (may be empty).
    #[must_use]
    pub fn reason(&self) -> &str {
        self.head.headers.str(&self.head.reason)
    }

    /// The `Location` of a redirect, if sent and UTF-8.
    #[must_use]
    pub fn location(&self) -> Option<&str> {
        self.headers()
            .get_str("Location")
            .map(|l| l.trim_matches([' ', '\t']))
    }

    /// Every header field of the answer.
    #[must_use]
    pub fn headers(&self) -> Headers<'_> {
        self.head.headers.view()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (Vec<u8>, ClientHandshake) {
        let mut out = Vec::new();
        let hs = ClientBuilder::new("ws://server.example.com/chat")
            .and_then(|b| b.origin("http://example.com"))
            .and_then(|b| b.protocol("chat"))
            .and_then(|b| b.protocol("superchat"))
            .unwrap()
            .send_request_with(
                &mut |b: &mut [u8]| b.copy_from_slice(b"the sample nonce"),
                &mut out,
            );
        (out, hs)
    }

    /// RFC 6455 §1.2, the client's handshake, byte for byte.
    #[test]
    fn rfc6455_section_1_2_request() {
        let (out, hs) = sample();
        assert_eq!(hs.key().as_str(), "dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(
            core::str::from_utf8(&out).unwrap(),
            "GET /chat HTTP/1.1\r\n\
             Host: server.example.com\r\n\
             Upgrade: websocket\r\n\
             Connection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Origin: http://example.com\r\n\
             Sec-WebSocket-Protocol: chat, superchat\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n"
        );
    }

    /// RFC 6455 §1.2, the server's handshake, with a frame right behind it.
    #[test]
    fn rfc6455_section_1_2_response() {
        let (_, mut hs) = sample();
        let input = b"HTTP/1.1 101 Switching Protocols\r\n\
            Upgrade: websocket\r\n\
            Connection: Upgrade\r\n\
            Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
            Sec-WebSocket-Protocol: chat\r\n\r\n\x81\x00";
        let Status::Complete((Response::Accepted(a), consumed)) = hs.parse(input).unwrap() else {
            panic!()
        };
        assert_eq!(a.protocol(), Some("chat"));
        assert_eq!(&input[consumed..], b"\x81\x00");
    }

    #[test]
    #[should_panic = "after the response was complete"]
    fn parsing_past_the_head_is_a_bug() {
        let (_, mut hs) = sample();
        let input = b"HTTP/1.1 403 Forbidden\r\n\r\n\x81\x00";
        let Status::Complete((_, consumed)) = hs.parse(input).unwrap() else {
            panic!()
        };
        let _ = hs.parse(&input[consumed..]);
    }

    #[test]
    fn a_failed_handshake_stays_failed() {
        let (_, mut hs) = sample();
        let err = hs.parse(b"HTTP/1.1 101 OK\r\n\r\n").unwrap_err();
        assert_eq!(err, ResponseError::Upgrade.into());
        assert_eq!(hs.parse(b"HTTP/1.1 403 Forbidden\r\n\r\n"), Err(err));
    }

    #[test]
    fn redirects_are_reported_not_failed() {
        let (_, mut hs) = sample();
        let input =
            b"HTTP/1.1 302 Found\r\nLocation: ws://other.example/\r\nContent-Length: 0\r\n\r\n";
        let Status::Complete((Response::Rejected(r), _)) = hs.parse(input).unwrap() else {
            panic!()
        };
        assert_eq!(
            (r.status(), r.reason(), r.location()),
            (302, "Found", Some("ws://other.example/"))
        );
    }

    #[test]
    fn extra_headers_refuse_line_breaks() {
        let b = ClientBuilder::new("ws://a/").unwrap();
        assert_eq!(
            b.clone().header("X", "1\r\nY: 2").unwrap_err(),
            LocalError::HeaderValue
        );
        assert_eq!(
            b.clone().header("Host", "b").unwrap_err(),
            LocalError::ReservedHeader
        );
        assert_eq!(
            b.clone().origin("a\nb").unwrap_err(),
            LocalError::HeaderValue
        );
        assert_eq!(b.protocol("a b").unwrap_err(), LocalError::Protocol);
        assert_eq!(
            ClientBuilder::new("http://a/").unwrap_err(),
            LocalError::Uri(crate::UriError::Scheme)
        );
    }
}
