//! The server side: read a request head, decide whether it is a WebSocket
//! upgrade, and write the answer.
//!
//! RFC 6455 §4.2.1 lists what a valid opening handshake contains; each rule
//! is checked in [`validate`] next to its quoted text, and each failure maps
//! to the HTTP status the server must answer with ([`RequestError::status`]).
//!
//! A request without any WebSocket signal (no `Upgrade: websocket`, no
//! `Sec-WebSocket-Key`, no `Sec-WebSocket-Version`) is not an error: it comes
//! back as [`Request::Plain`], so one listening port can serve pages, SSE and
//! WebSocket. A request *with* such a signal must pass every rule.
//!
//! Call order on the server:
//!
//! 1. [`RequestParser::parse`] with each chunk read from the socket, until it
//!    returns [`Status::Complete`] with `(request, consumed)`; the bytes of
//!    that last chunk after `consumed` belong to whatever comes next (frames,
//!    or the body of a plain request).
//! 2. For [`Request::Upgrade`], [`UpgradeRequest::accept`], choose a
//!    subprotocol and extensions, and [`Accept::encode`] the 101 into your
//!    output buffer; or [`Rejection::new`] to refuse. A [`Request::Plain`] at
//!    an endpoint that speaks only WebSocket gets
//!    [`Rejection::upgrade_required`]; an upgrade at one that does not speak it,
//!    [`Rejection::upgrade_refused`].
//! 3. On an error, [`Rejection::from_error`] writes the matching 4xx answer;
//!    then close the connection.
//!
//! The parser fails with an [`Error`] (the client's fault); choosing what to
//! answer fails with a [`LocalError`] (this server's).

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::ops::Range;

use bytes::BufMut;

use crate::Status;
use crate::deflate::{DeflateParams, DeflatePolicy};
use crate::error::{Error, LocalError, RequestError};
use crate::extension::{self, Extension};
use crate::head::{self, HeadReader, Headers, Limits, OwnedHeaders, Read, Single};
use crate::key::{SecWebSocketKey, VERSION};

/// An incremental parser for request heads.
///
/// Feed it bytes as they arrive; each byte is looked at once, and the head is
/// parsed by httparse only when its final blank line has arrived, so total
/// work is linear however the input is split.
///
/// After [`Status::Complete`] the parser is ready for the next request head
/// (HTTP keep-alive for plain requests). After an error it returns the same
/// error forever: answer with [`Rejection::from_error`] and close.
#[derive(Debug, Default)]
pub struct RequestParser {
    limits: Limits,
    reader: HeadReader,
    failed: Option<Error>,
}

impl RequestParser {
    /// A parser with the default [`Limits`].
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A parser with custom limits.
    #[must_use]
    pub fn with_limits(limits: Limits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// The limits in force.
    #[must_use]
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Feeds the next bytes received.
    ///
    /// Returns [`Status::Partial`] when every byte of `input` was taken and
    /// the head is not finished, or [`Status::Complete`] with
    /// `(request, consumed)`: the request and how many bytes of *this* `input`
    /// the head used; `input[consumed..]` is left untouched for the caller.
    pub fn parse(&mut self, input: &[u8]) -> Result<Status<(Request, usize)>, Error> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let result = self.parse_inner(input);
        if let Err(e) = &result {
            self.failed = Some(e.clone());
        }
        result
    }

    fn parse_inner(&mut self, input: &[u8]) -> Result<Status<(Request, usize)>, Error> {
        let mut done = 0;
        loop {
            let rest = input.get(done..).unwrap_or(&[]);
            match self.reader.read(rest, self.limits.max_head_size) {
                Read::Partial => return Ok(Status::Partial),
                Read::TooLarge => return Err(RequestError::HeadTooLarge.into()),
                Read::Complete { consumed } => {
                    done += consumed;
                    let buf = core::mem::take(&mut self.reader.buf);
                    match parse_head(buf, &self.limits)? {
                        Ok(head) => {
                            self.reader = HeadReader::default();
                            let request = validate(head)?;
                            return Ok(Status::Complete((request, done)));
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
}

/// Runs httparse once over a complete head. `Ok(Err(buf))` hands the buffer
/// back if httparse wants more bytes.
fn parse_head(buf: Vec<u8>, limits: &Limits) -> Result<Result<RequestHead, Vec<u8>>, RequestError> {
    let mut slots = vec![httparse::EMPTY_HEADER; head::header_slots(limits)];
    let mut req = httparse::Request::new(&mut slots);
    let (method, target, minor, fields) = match req.parse(&buf) {
        Ok(httparse::Status::Complete(_)) => {
            let (Some(method), Some(target), Some(minor)) = (req.method, req.path, req.version)
            else {
                return Err(RequestError::Malformed);
            };
            (
                head::offset(&buf, method.as_bytes()),
                head::offset(&buf, target.as_bytes()),
                minor,
                head::fields(&buf, req.headers),
            )
        }
        Ok(httparse::Status::Partial) => return Ok(Err(buf)),
        Err(httparse::Error::TooManyHeaders) => return Err(RequestError::TooManyHeaders),
        Err(_) => return Err(RequestError::Malformed),
    };
    Ok(Ok(RequestHead {
        headers: OwnedHeaders { buf, fields },
        method,
        target,
        minor,
    }))
}

/// A parsed request head, owning its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestHead {
    pub(crate) headers: OwnedHeaders,
    pub(crate) method: Range<usize>,
    pub(crate) target: Range<usize>,
    /// The `x` in `HTTP/1.x`.
    pub(crate) minor: u8,
}

impl RequestHead {
    pub(crate) fn target(&self) -> &str {
        self.headers.str(&self.target)
    }

    /// Path and query of the target (RFC 6455 §3 "resource name").
    ///
    /// The request-target is normally origin-form (`/chat?room=1`); the
    /// absolute form (`http://host/chat`) is reduced to its path and query.
    pub(crate) fn resource_name(&self) -> &str {
        let target = self.target();
        if target.starts_with('/') {
            return target;
        }
        let after_scheme = target.find("://").map_or(target, |i| &target[i + 3..]);
        after_scheme
            .find(['/', '?'])
            .map_or("", |i| &after_scheme[i..])
    }

    pub(crate) fn path(&self) -> &str {
        let r = self.resource_name();
        match r.split_once('?').map_or(r, |(p, _)| p) {
            "" => "/",
            p => p,
        }
    }

    pub(crate) fn query(&self) -> Option<&str> {
        self.resource_name().split_once('?').map(|(_, q)| q)
    }
}

/// A complete request head: a WebSocket upgrade, or any other HTTP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// A valid WebSocket opening handshake (RFC 6455 §4.2.1).
    Upgrade(UpgradeRequest),
    /// A request with no WebSocket signal at all: serve it as plain HTTP.
    Plain(PlainRequest),
}

/// A request that is not a WebSocket handshake, e.g. a page or an SSE stream.
///
/// Only the head is parsed; a body, if any, is in the bytes after the head
/// (`input[consumed..]` of [`RequestParser::parse`]'s last input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainRequest {
    head: RequestHead,
}

impl PlainRequest {
    /// The method, e.g. `GET`.
    #[must_use]
    pub fn method(&self) -> &str {
        self.head.headers.str(&self.head.method)
    }

    /// The request-target exactly as sent.
    #[must_use]
    pub fn target(&self) -> &str {
        self.head.target()
    }

    /// The path of the target, `/` if empty.
    #[must_use]
    pub fn path(&self) -> &str {
        self.head.path()
    }

    /// The query of the target, without `?`.
    #[must_use]
    pub fn query(&self) -> Option<&str> {
        self.head.query()
    }

    /// The minor HTTP version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    #[must_use]
    pub fn minor_version(&self) -> u8 {
        self.head.minor
    }

    /// Every header field, in order.
    #[must_use]
    pub fn headers(&self) -> Headers<'_> {
        self.head.headers.view()
    }
}

/// A valid WebSocket opening handshake: what the application needs to decide
/// whether to accept it, and the key to answer it with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpgradeRequest {
    head: RequestHead,
    key: SecWebSocketKey,
    host: Range<usize>,
    origin: Option<Range<usize>>,
    /// Each offered subprotocol, as a range into the head's bytes.
    protocols: Vec<Range<usize>>,
    extensions: Vec<Extension>,
}

impl UpgradeRequest {
    /// The request-target exactly as sent, e.g. `/chat?room=1`.
    #[must_use]
    pub fn target(&self) -> &str {
        self.head.target()
    }

    /// The path, e.g. `/chat` (`/` if empty).
    #[must_use]
    pub fn path(&self) -> &str {
        self.head.path()
    }

    /// The query without `?`, e.g. `room=1`.
    #[must_use]
    pub fn query(&self) -> Option<&str> {
        self.head.query()
    }

    /// The `Host` header value.
    #[must_use]
    pub fn host(&self) -> &str {
        self.head.headers.str(&self.host)
    }

    /// The `Origin` header value, if sent (browsers always send it; RFC 6455
    /// §10.2 explains why a server should check it). `None` if absent or not
    /// UTF-8; the raw bytes are in [`headers`](Self::headers).
    #[must_use]
    pub fn origin(&self) -> Option<&str> {
        let range = self.origin.as_ref()?;
        core::str::from_utf8(self.head.headers.buf.get(range.clone())?).ok()
    }

    /// The subprotocols offered in `Sec-WebSocket-Protocol`, in the client's
    /// order of preference.
    pub fn protocols(&self) -> impl Iterator<Item = &str> + '_ {
        self.protocols.iter().map(|r| self.head.headers.str(r))
    }

    /// The extensions offered in `Sec-WebSocket-Extensions`, in order, with
    /// their parameters.
    #[must_use]
    pub fn extensions(&self) -> &[Extension] {
        &self.extensions
    }

    /// The client's `Sec-WebSocket-Key`.
    #[must_use]
    pub fn key(&self) -> SecWebSocketKey {
        self.key
    }

    /// Every header field, in order.
    #[must_use]
    pub fn headers(&self) -> Headers<'_> {
        self.head.headers.view()
    }

    /// Starts the `101 Switching Protocols` answer.
    pub fn accept(&self) -> Accept<'_> {
        Accept {
            request: self,
            protocol: None,
            extensions: Vec::new(),
            deflate: None,
            headers: Vec::new(),
        }
    }
}

/// Checks a complete head against RFC 6455 §4.2.1 and sorts it into
/// [`Request::Upgrade`] or [`Request::Plain`].
pub(crate) fn validate(head: RequestHead) -> Result<Request, RequestError> {
    let h = head.headers.view();
    let upgrade = h.has_token("Upgrade", "websocket");
    let signalled =
        upgrade || h.get("Sec-WebSocket-Key").is_some() || h.get("Sec-WebSocket-Version").is_some();
    if !signalled {
        return Ok(Request::Plain(PlainRequest { head }));
    }

    // 1. "An HTTP/1.1 or higher GET request, including a "Request-URI"".
    if head.headers.str(&head.method) != "GET" {
        return Err(RequestError::MethodNotGet);
    }
    if head.minor < 1 {
        return Err(RequestError::HttpVersion);
    }

    // 2. "A |Host| header field containing the server's authority."
    //    RFC 9112 §3.2: a server MUST answer 400 to a missing, repeated or
    //    invalid Host.
    let host = match h.single("Host") {
        Single::One(v) if valid_host(v) => v,
        _ => return Err(RequestError::Host),
    };
    let host = head::offset(&head.headers.buf, host);

    // 3. "An |Upgrade| header field containing the value "websocket",
    //    treated as an ASCII case-insensitive value."
    if !upgrade {
        return Err(RequestError::Upgrade);
    }

    // 4. "A |Connection| header field that includes the token "Upgrade",
    //    treated as an ASCII case-insensitive value."
    if !h.has_token("Connection", "Upgrade") {
        return Err(RequestError::Connection);
    }

    // 5. "A |Sec-WebSocket-Key| header field with a base64-encoded value
    //    that, when decoded, is 16 bytes in length."  §11.3.1: it "MUST NOT
    //    appear more than once in an HTTP request."
    let key = match h.single("Sec-WebSocket-Key") {
        Single::One(v) => SecWebSocketKey::parse(v).ok_or(RequestError::Key)?,
        Single::Many => return Err(RequestError::DuplicateKey),
        Single::Absent => return Err(RequestError::Key),
    };

    // 6. "A |Sec-WebSocket-Version| header field, with a value of 13."
    //    §4.4: otherwise answer 426 with the versions we speak.
    match h.single("Sec-WebSocket-Version") {
        Single::One(v) if head::trim_ows(v) == VERSION.as_bytes() => {}
        _ => return Err(RequestError::Version),
    }

    let Offers {
        origin,
        protocols,
        extensions,
    } = offers(&head)?;
    Ok(Request::Upgrade(UpgradeRequest {
        head,
        key,
        host,
        origin,
        protocols,
        extensions,
    }))
}

/// What the client offers, shared by HTTP/1.1 and RFC 8441 requests.
pub(crate) struct Offers {
    pub(crate) origin: Option<Range<usize>>,
    pub(crate) protocols: Vec<Range<usize>>,
    pub(crate) extensions: Vec<Extension>,
}

/// Items 7 to 9 of RFC 6455 §4.2.1, which RFC 8441 §5 keeps as they are.
pub(crate) fn offers(head: &RequestHead) -> Result<Offers, RequestError> {
    let h = head.headers.view();
    // 7. "Optionally, an |Origin| header field."
    let origin = h
        .get("Origin")
        .map(|v| head::offset(&head.headers.buf, head::trim_ows(v)));

    // 8. "Optionally, a |Sec-WebSocket-Protocol| header field, with a list of
    //    values indicating which protocols the client would like to speak,
    //    ordered by preference."  §4.1: "1#token".
    let mut protocols = Vec::new();
    for value in h.get_all("Sec-WebSocket-Protocol") {
        for token in head::list(value) {
            if !head::is_token(token) {
                return Err(RequestError::Protocol);
            }
            protocols.push(head::offset(&head.headers.buf, token));
        }
    }

    // 9. "Optionally, a |Sec-WebSocket-Extensions| header field, with a list
    //    of values indicating which extensions the client would like to
    //    speak."  Grammar in §9.1.
    let extensions = Extension::parse_all(h.get_all("Sec-WebSocket-Extensions"))
        .ok_or(RequestError::Extensions)?;

    Ok(Offers {
        origin,
        protocols,
        extensions,
    })
}

/// `Host = uri-host [ ":" port ]`: non-empty and free of whitespace and
/// non-ASCII; the exact authority check is the application's business.
fn valid_host(value: &[u8]) -> bool {
    let v = head::trim_ows(value);
    !v.is_empty() && v.iter().all(|b| b.is_ascii_graphic())
}

/// Headers the 101 answer writes itself.
const ACCEPT_RESERVED: &[&str] = &[
    "Upgrade",
    "Connection",
    "Sec-WebSocket-Accept",
    "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Extensions",
    "Content-Length",
    "Transfer-Encoding",
];

/// A `101 Switching Protocols` answer being put together (RFC 6455 §4.2.2).
///
/// Every choice is checked when made, so [`encode`](Self::encode) cannot fail.
#[must_use = "an Accept does nothing until it is encoded"]
#[derive(Debug, Clone)]
pub struct Accept<'r> {
    request: &'r UpgradeRequest,
    protocol: Option<Range<usize>>,
    extensions: Vec<Extension>,
    deflate: Option<DeflateParams>,
    /// Extra header lines, already serialized.
    headers: Vec<u8>,
}

impl<'r> Accept<'r> {
    /// Chooses a subprotocol. §4.2.2 item 5.4: "If the server does not wish
    /// to agree to one of the suggested subprotocols, it MUST NOT send back
    /// a |Sec-WebSocket-Protocol| header field", so it must be one offered.
    pub fn protocol(mut self, name: &str) -> Result<Self, LocalError> {
        let offered = self
            .request
            .protocols
            .iter()
            .find(|r| self.request.head.headers.str(r) == name);
        self.protocol = Some(offered.ok_or(LocalError::ProtocolNotOffered)?.clone());
        Ok(self)
    }

    /// Accepts an extension, with the parameters of the server's answer.
    /// Its name must be among the offered ones (§9.1: the server answers
    /// with "the extensions it will use" out of those offered).
    pub fn extension(mut self, extension: Extension) -> Result<Self, LocalError> {
        if !self
            .request
            .extensions
            .iter()
            .any(|e| e.name() == extension.name())
        {
            return Err(LocalError::ExtensionNotOffered);
        }
        self.extensions.push(extension);
        Ok(self)
    }

    /// Accepts the first permessage-deflate offer that `policy` can accept
    /// (RFC 7692 §5: invalid offers are declined and the next is tried), and
    /// writes its response; [`chosen_deflate`](Self::chosen_deflate) then says
    /// what was agreed. Without an acceptable offer the answer does not
    /// mention the extension.
    pub fn deflate(mut self, policy: &DeflatePolicy) -> Self {
        if self.deflate.is_none() {
            if let Some((params, response)) = policy.negotiate(&self.request.extensions) {
                self.extensions.push(response);
                self.deflate = Some(params);
            }
        }
        self
    }

    /// Adds an extra header (e.g. `Set-Cookie`). CR, LF and other controls in
    /// the value are refused, as are headers the handshake writes itself.
    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Result<Self, LocalError> {
        let value = value.as_ref();
        head::check_extra(name, value, ACCEPT_RESERVED)?;
        head::put_field(&mut self.headers, name, value);
        Ok(self)
    }

    /// The subprotocol chosen, if any.
    #[must_use]
    pub fn chosen_protocol(&self) -> Option<&'r str> {
        let request = self.request;
        self.protocol.as_ref().map(|r| request.head.headers.str(r))
    }

    /// The permessage-deflate agreed by [`deflate`](Self::deflate), if any.
    #[must_use]
    pub fn chosen_deflate(&self) -> Option<DeflateParams> {
        self.deflate
    }

    /// The extensions accepted, in order.
    #[must_use]
    pub fn chosen_extensions(&self) -> &[Extension] {
        &self.extensions
    }

    /// Appends the response head to `buf`:
    ///
    /// ```text
    /// HTTP/1.1 101 Switching Protocols
    /// Upgrade: websocket
    /// Connection: Upgrade
    /// Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
    /// Sec-WebSocket-Protocol: chat          (if chosen)
    /// Sec-WebSocket-Extensions: ...         (if any)
    /// <extra headers>
    /// ```
    pub fn encode(&self, buf: &mut impl BufMut) {
        buf.put_slice(b"HTTP/1.1 101 Switching Protocols\r\n");
        buf.put_slice(b"Upgrade: websocket\r\nConnection: Upgrade\r\n");
        head::put_field(
            buf,
            "Sec-WebSocket-Accept",
            self.request.key.accept().as_str().as_bytes(),
        );
        if let Some(p) = self.chosen_protocol() {
            head::put_field(buf, "Sec-WebSocket-Protocol", p.as_bytes());
        }
        if !self.extensions.is_empty() {
            buf.put_slice(b"Sec-WebSocket-Extensions: ");
            extension::put_list(buf, &self.extensions);
            buf.put_slice(b"\r\n");
        }
        buf.put_slice(&self.headers);
        buf.put_slice(b"\r\n");
    }
}

/// Headers a rejection writes itself.
const REJECT_RESERVED: &[&str] = &["Connection", "Content-Length", "Transfer-Encoding"];

/// A non-101 answer: status line, `Connection: close`, `Content-Length` and
/// an optional body. RFC 6455 §4.2.1: "the server MUST stop processing the
/// client's handshake and return an HTTP response with an appropriate error
/// code".
#[must_use = "a Rejection does nothing until it is encoded"]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    status: u16,
    reason: String,
    headers: Vec<u8>,
    body: Vec<u8>,
}

impl Rejection {
    /// A rejection with `status` in 300..=599 (a redirect is a valid way to
    /// refuse) and its standard reason phrase; no body.
    pub fn new(status: u16) -> Result<Self, LocalError> {
        if !(300..=599).contains(&status) {
            return Err(LocalError::Status);
        }
        Ok(Self {
            status,
            reason: reason(status).into(),
            headers: Vec::new(),
            body: Vec::new(),
        })
    }

    /// The answer to a failed handshake: [`Error::status`], a one-line
    /// plain-text body naming the broken rule, for 426 the header
    /// `Sec-WebSocket-Version: 13` (RFC 6455 §4.4) and for
    /// [`RequestError::NotWebSocket`] `Upgrade: websocket`, for 405 the `Allow`
    /// header naming the method that works.
    pub fn from_error(error: &Error) -> Self {
        let status = error.status();
        let mut headers = Vec::new();
        match error {
            // RFC 9110 §15.5.6: "The origin server MUST generate an Allow header
            // field in a 405 (Method Not Allowed) response".
            Error::Request(RequestError::MethodNotGet) => {
                head::put_field(&mut headers, "Allow", b"GET");
            }
            Error::Request(RequestError::MethodNotConnect) => {
                head::put_field(&mut headers, "Allow", b"CONNECT");
            }
            // RFC 9110 §15.5.22: "The server MUST send an Upgrade header field in
            // a 426 response"; `to_http_for` drops it on HTTP/2, where the field is
            // connection-specific (RFC 9113 §8.2.2).
            Error::Request(RequestError::NotWebSocket) => {
                head::put_field(&mut headers, "Upgrade", b"websocket");
            }
            _ => {}
        }
        if status == 426 {
            head::put_field(&mut headers, "Sec-WebSocket-Version", VERSION.as_bytes());
        }
        Self::text(status, headers, alloc::format!("{error}\n").into_bytes())
    }

    /// A rejection with `headers` and a plain-text `body`, its `Content-Type` added.
    fn text(status: u16, mut headers: Vec<u8>, body: Vec<u8>) -> Self {
        head::put_field(&mut headers, "Content-Type", b"text/plain; charset=utf-8");
        Self {
            status,
            reason: reason(status).into(),
            headers,
            body,
        }
    }

    /// The answer to a handshake this server got wrong while accepting it (the
    /// [`LocalError`] of [`Accept::protocol`] or [`Accept::extension`]: a choice
    /// the client did not offer): `500 Internal Server Error`, the fault being
    /// the server's, with the error as a one-line plain-text body.
    pub fn from_local_error(error: &LocalError) -> Self {
        Self::text(500, Vec::new(), alloc::format!("{error}\n").into_bytes())
    }

    /// The answer to a plain HTTP request at an endpoint that speaks only
    /// WebSocket: `426 Upgrade Required` with `Upgrade: websocket` (RFC 9110
    /// §15.5.22: "The server MUST send an Upgrade header field in a 426 response to
    /// indicate the required protocol(s)") and `Sec-WebSocket-Version: 13`.
    pub fn upgrade_required() -> Self {
        let mut headers = Vec::new();
        head::put_field(&mut headers, "Upgrade", b"websocket");
        head::put_field(&mut headers, "Sec-WebSocket-Version", VERSION.as_bytes());
        Self::text(
            426,
            headers,
            b"This endpoint speaks WebSocket only.\n".to_vec(),
        )
    }

    /// The answer to a WebSocket handshake at an endpoint that does not speak
    /// WebSocket (an event stream, a page): `400 Bad Request`. RFC 6455 §4.2.2: "If
    /// the requested service is not available, the server MUST send an appropriate
    /// HTTP error code [...] and abort the WebSocket handshake."
    pub fn upgrade_refused() -> Self {
        let body = b"This endpoint does not speak WebSocket.\n".to_vec();
        Self::text(400, Vec::new(), body)
    }

    /// Replaces the reason phrase. Control bytes are refused.
    pub fn reason(mut self, reason: &str) -> Result<Self, LocalError> {
        head::check_value(reason.as_bytes()).map_err(|_| LocalError::Status)?;
        self.reason = reason.into();
        Ok(self)
    }

    /// Adds a header, e.g. `Location` for a redirect. CR, LF and other
    /// controls in the value are refused, as are `Connection` and
    /// `Content-Length`, which the rejection writes itself.
    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Result<Self, LocalError> {
        let value = value.as_ref();
        head::check_extra(name, value, REJECT_RESERVED)?;
        head::put_field(&mut self.headers, name, value);
        Ok(self)
    }

    /// Sets the body; `Content-Length` follows it.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The status code.
    #[must_use]
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Appends the whole response, head and body, to `buf`.
    pub fn encode(&self, buf: &mut impl BufMut) {
        buf.put_slice(b"HTTP/1.1 ");
        head::put_decimal(buf, usize::from(self.status));
        buf.put_u8(b' ');
        buf.put_slice(self.reason.as_bytes());
        buf.put_slice(b"\r\nConnection: close\r\nContent-Length: ");
        head::put_decimal(buf, self.body.len());
        buf.put_slice(b"\r\n");
        buf.put_slice(&self.headers);
        buf.put_slice(b"\r\n");
        buf.put_slice(&self.body);
    }

    #[cfg(feature = "http")]
    pub(crate) fn parts(&self) -> (&str, &[u8], &[u8]) {
        (&self.reason, &self.headers, &self.body)
    }
}

/// The reason phrase of the statuses a handshake is likely to use.
fn reason(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\n\
        Host: server.example.com\r\n\
        Upgrade: websocket\r\n\
        Connection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Origin: http://example.com\r\n\
        Sec-WebSocket-Protocol: chat, superchat\r\n\
        Sec-WebSocket-Version: 13\r\n\r\n";

    fn parse_one(input: &[u8]) -> Result<Request, Error> {
        match RequestParser::new().parse(input)? {
            Status::Complete((request, _)) => Ok(request),
            Status::Partial => panic!("partial"),
        }
    }

    #[test]
    fn rfc6455_section_1_2_request() {
        let Request::Upgrade(req) = parse_one(RFC_REQUEST).unwrap() else {
            panic!()
        };
        assert_eq!(req.path(), "/chat");
        assert_eq!(req.host(), "server.example.com");
        assert_eq!(req.origin(), Some("http://example.com"));
        assert_eq!(req.protocols().collect::<Vec<_>>(), ["chat", "superchat"]);
        let mut out = Vec::new();
        req.accept().protocol("chat").unwrap().encode(&mut out);
        assert_eq!(
            out,
            b"HTTP/1.1 101 Switching Protocols\r\n\
              Upgrade: websocket\r\n\
              Connection: Upgrade\r\n\
              Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
              Sec-WebSocket-Protocol: chat\r\n\r\n"
        );
    }

    #[test]
    fn plain_requests_are_recognised() {
        let Request::Plain(req) =
            parse_one(b"GET /events?x=1 HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\n\r\n").unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (req.method(), req.path(), req.query()),
            ("GET", "/events", Some("x=1"))
        );
        assert_eq!(req.headers().get_str("host"), Some("a"));
    }

    #[test]
    fn bytes_after_the_head_are_left_alone() {
        let mut input = RFC_REQUEST.to_vec();
        input.extend_from_slice(b"\x81\x05hello");
        let mut parser = RequestParser::new();
        let Status::Complete((_, consumed)) = parser.parse(&input).unwrap() else {
            panic!()
        };
        assert_eq!(&input[consumed..], b"\x81\x05hello");
    }

    #[test]
    fn the_parser_is_reusable_after_complete_and_stuck_after_error() {
        let mut parser = RequestParser::new();
        let two = b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
        let Status::Complete((_, consumed)) = parser.parse(two).unwrap() else {
            panic!()
        };
        let Status::Complete((Request::Plain(b), _)) = parser.parse(&two[consumed..]).unwrap()
        else {
            panic!()
        };
        assert_eq!(b.path(), "/b");
        let err = parser
            .parse(b"POST / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n")
            .unwrap_err();
        assert_eq!(err.status(), 405);
        assert_eq!(parser.parse(b"GET / HTTP/1.1\r\n\r\n"), Err(err));
    }

    #[test]
    fn absolute_form_targets_reduce_to_the_resource_name() {
        let req = RFC_REQUEST.replace_first(b"/chat", b"http://server.example.com/chat?x");
        let Request::Upgrade(req) = parse_one(&req).unwrap() else {
            panic!()
        };
        assert_eq!((req.path(), req.query()), ("/chat", Some("x")));
    }

    #[test]
    fn accept_refuses_what_was_not_offered() {
        let Request::Upgrade(req) = parse_one(RFC_REQUEST).unwrap() else {
            panic!()
        };
        assert_eq!(
            req.accept().protocol("Chat").unwrap_err(),
            LocalError::ProtocolNotOffered
        );
        let ext = Extension::new("permessage-deflate").unwrap();
        assert_eq!(
            req.accept().extension(ext).unwrap_err(),
            LocalError::ExtensionNotOffered
        );
        assert_eq!(
            req.accept().header("X-A", "b\r\nX-Evil: 1").unwrap_err(),
            LocalError::HeaderValue
        );
        assert_eq!(
            req.accept()
                .header("sec-websocket-accept", "x")
                .unwrap_err(),
            LocalError::ReservedHeader
        );
    }

    #[test]
    fn rejections() {
        let mut out = Vec::new();
        Rejection::from_error(&RequestError::Version.into()).encode(&mut out);
        let text = core::str::from_utf8(&out).unwrap();
        assert!(text.starts_with("HTTP/1.1 426 Upgrade Required\r\nConnection: close\r\n"));
        assert!(text.contains("\r\nSec-WebSocket-Version: 13\r\n"));
        let body = "invalid WebSocket request: Sec-WebSocket-Version must be 13\n";
        assert!(text.contains(&alloc::format!("\r\nContent-Length: {}\r\n", body.len())));
        assert!(text.ends_with(&alloc::format!("\r\n\r\n{body}")));

        out.clear();
        Rejection::new(302)
            .unwrap()
            .header("Location", "/elsewhere")
            .unwrap()
            .encode(&mut out);
        assert_eq!(
            out,
            b"HTTP/1.1 302 Found\r\nConnection: close\r\nContent-Length: 0\r\n\
              Location: /elsewhere\r\n\r\n"
        );
        assert_eq!(Rejection::new(101).unwrap_err(), LocalError::Status);
        assert!(Rejection::new(403).unwrap().reason("No\r\n").is_err());

        out.clear();
        Rejection::upgrade_required().encode(&mut out);
        let text = core::str::from_utf8(&out).unwrap();
        assert!(text.starts_with("HTTP/1.1 426 Upgrade Required\r\n"));
        assert!(text.contains("\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"));
        out.clear();
        Rejection::upgrade_refused().encode(&mut out);
        assert!(out.starts_with(b"HTTP/1.1 400 Bad Request\r\n"));
        assert_eq!(Rejection::upgrade_refused().status(), 400);
        let local = Rejection::from_local_error(&LocalError::ProtocolNotOffered);
        assert_eq!(local.status(), 500);
    }

    trait ReplaceFirst {
        fn replace_first(&self, from: &[u8], to: &[u8]) -> Vec<u8>;
    }

    impl ReplaceFirst for [u8] {
        fn replace_first(&self, from: &[u8], to: &[u8]) -> Vec<u8> {
            let i = self.windows(from.len()).position(|w| w == from).unwrap();
            [&self[..i], to, &self[i + from.len()..]].concat()
        }
    }
}
