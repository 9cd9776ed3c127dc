//! Conversions to and from the [`http`](https://docs.rs/http) crate's types
//! (feature `http`), for servers and clients whose HTTP layer is someone
//! else's (hyper, h2, axum...).
//!
//! Two forms of the handshake are covered:
//!
//! * **HTTP/1.1 Upgrade** (RFC 6455 §4): [`UpgradeRequest::from_http`] runs
//!   exactly the checks of [`RequestParser`](crate::RequestParser) on an
//!   `http::Request`, [`Accept::to_http`] and [`Rejection::to_http`] build the
//!   answer; on the client, [`ClientBuilder::into_http`] and
//!   [`ClientHandshake::handle_http_response`].
//! * **Extended CONNECT over HTTP/2** (RFC 8441): [`ExtendedConnect`] on the
//!   server, [`ClientBuilder::into_extended_connect`] and
//!   [`ClientHandshake::handle_extended_connect_response`] on the client.
//! * **Either**, for a server that speaks both on one endpoint:
//!   [`WebSocketRequest::from_http`] picks the form by the request's version,
//!   [`WebSocketRequest::accept`] answers `101` or `200`, and
//!   [`Rejection::to_http_for`] writes a refusal that is valid for that
//!   version (no `Connection` or `Upgrade` fields on HTTP/2).
//!
//! ```text
//!   HTTP/1.1  GET + Upgrade: websocket + Sec-WebSocket-Key  ─► 101 + Sec-WebSocket-Accept
//!   HTTP/2    CONNECT + :protocol websocket (no key)        ─► 200
//!   HTTP/2    GET with Sec-WebSocket-* fields               ─► 405, Allow: CONNECT
//!   either    no WebSocket signal at all                    ─► 426 (+ Upgrade on h1)
//! ```
//!
//! # The `:protocol` pseudo-header
//!
//! RFC 8441 §4 adds a `:protocol` pseudo-header, which `http::Request` has
//! no place for: h2 carries it as `h2::ext::Protocol` and hyper as
//! `hyper::ext::Protocol`, both in the request's *extensions*. To avoid
//! depending on either, this module never reads or writes it itself:
//!
//! * server: pass its value to [`ExtendedConnect::from_http`] (e.g.
//!   `req.extensions().get::<h2::ext::Protocol>().map(|p| p.as_str())`);
//! * client: after [`ClientBuilder::into_extended_connect`], insert
//!   [`PROTOCOL`] the way your stack wants (e.g.
//!   `req.extensions_mut().insert(h2::ext::Protocol::from_static("websocket"))`).
//!
//! The conversions copy: an owned head is built from the `http` parts and
//! checked by the same functions the byte parsers use, so both paths apply
//! exactly the same rules.

use alloc::string::ToString;
use alloc::vec::Vec;
use core::ops::Range;

use http::header::{HeaderName, HeaderValue};
use http::{Method, StatusCode, Version};

use crate::client::{ClientHandshake, ResponseHead};
use crate::deflate::{DeflateParams, DeflatePolicy};
use crate::error::{Error, LocalError, RequestError, ResponseError};
use crate::extension::{self, Extension};
use crate::head::{Field, OwnedHeaders};
use crate::key::{RandomSource, SecWebSocketKey, VERSION};
use crate::server::{self, RequestHead};
use crate::{
    Accept, Accepted, ClientBuilder, Rejected, Rejection, Request, Response, UpgradeRequest,
};

/// The value of the `:protocol` pseudo-header for WebSocket (RFC 8441 §4,
/// registered in the "Hypertext Transfer Protocol (HTTP) Upgrade Token
/// Registry").
pub const PROTOCOL: &str = "websocket";

/// Copies an `http::HeaderMap` (and anything else) into an owned head.
fn owned(headers: &http::HeaderMap) -> OwnedHeaders {
    let mut out = OwnedHeaders::default();
    for (name, value) in headers {
        let name = out.push(name.as_str().as_bytes());
        let value = out.push(value.as_bytes());
        out.fields.push(Field { name, value });
    }
    out
}

/// The parts of a request head the checks read, from an `http::Request` or
/// its `Parts` (what an extractor sees).
#[derive(Clone, Copy)]
struct HttpHead<'a> {
    method: &'a Method,
    version: Version,
    uri: &'a http::Uri,
    headers: &'a http::HeaderMap,
}

impl<'a, B> From<&'a http::Request<B>> for HttpHead<'a> {
    fn from(request: &'a http::Request<B>) -> Self {
        Self {
            method: request.method(),
            version: request.version(),
            uri: request.uri(),
            headers: request.headers(),
        }
    }
}

impl<'a> From<&'a http::request::Parts> for HttpHead<'a> {
    fn from(parts: &'a http::request::Parts) -> Self {
        Self {
            method: &parts.method,
            version: parts.version,
            uri: &parts.uri,
            headers: &parts.headers,
        }
    }
}

/// Builds the owned head of a request; the target is the path and query.
fn request_head(request: HttpHead<'_>, minor: u8) -> RequestHead {
    let mut headers = owned(request.headers);
    let method = headers.push(request.method.as_str().as_bytes());
    let target = request.uri.path_and_query().map_or("/", |p| p.as_str());
    let target = headers.push(target.as_bytes());
    // HTTP/1.1 servers keep Host as a header; if it only lives in the URI
    // (absolute-form, or HTTP/2 `:authority`), make it one.
    if headers.view().get("Host").is_none() {
        if let Some(authority) = request.uri.authority() {
            let name = headers.push(b"host");
            let value = headers.push(authority.as_str().as_bytes());
            headers.fields.push(Field { name, value });
        }
    }
    RequestHead {
        headers,
        method,
        target,
        minor,
    }
}

fn header_value(bytes: &[u8]) -> Result<HeaderValue, LocalError> {
    HeaderValue::from_bytes(bytes).map_err(|_| LocalError::HeaderValue)
}

/// Splits serialized `name: value\r\n` lines (written by this crate, so
/// names are tokens and values are free of CR and LF) back into pairs.
fn append_lines(map: &mut http::HeaderMap, lines: &[u8]) -> Result<(), LocalError> {
    for line in lines.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = HeaderName::from_bytes(&line[..colon]).map_err(|_| LocalError::HeaderName)?;
        let value = line.get(colon + 2..).unwrap_or(&[]);
        map.append(name, header_value(value)?);
    }
    Ok(())
}

fn extensions_value(list: &[Extension]) -> Result<HeaderValue, LocalError> {
    let mut bytes = Vec::new();
    extension::put_list(&mut bytes, list);
    header_value(&bytes)
}

impl UpgradeRequest {
    /// Checks an HTTP/1.1 `http::Request` (e.g. from hyper's server) as
    /// [`RequestParser`](crate::RequestParser) checks bytes. A request with no
    /// WebSocket signal at all is refused with [`RequestError::NotWebSocket`]
    /// (426); an HTTP/2 request with [`RequestError::HttpVersion`] (use
    /// [`ExtendedConnect`], or [`WebSocketRequest`] for both).
    pub fn from_http<B>(request: &http::Request<B>) -> Result<Self, Error> {
        Self::from_head(request.into())
    }

    fn from_head(request: HttpHead<'_>) -> Result<Self, Error> {
        let minor = match request.version {
            Version::HTTP_09 | Version::HTTP_10 => 0,
            Version::HTTP_11 => 1,
            _ => return Err(RequestError::HttpVersion.into()),
        };
        match server::validate(request_head(request, minor))? {
            Request::Upgrade(upgrade) => Ok(upgrade),
            Request::Plain(_) => Err(RequestError::NotWebSocket.into()),
        }
    }
}

impl Accept<'_> {
    /// The `101 Switching Protocols` answer as an `http::Response`.
    pub fn to_http(&self) -> Result<http::Response<()>, LocalError> {
        let mut response = http::Response::new(());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let mut bytes = Vec::new();
        self.encode(&mut bytes);
        // Skip the status line; every other line is a header this crate wrote.
        let start = bytes.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1);
        append_lines(response.headers_mut(), &bytes[start..])?;
        Ok(response)
    }
}

impl Rejection {
    /// The rejection as an HTTP/1.1 `http::Response` with its body
    /// (`Connection: close` included): [`to_http_for`](Self::to_http_for)
    /// with `Version::HTTP_11`.
    pub fn to_http(&self) -> Result<http::Response<Vec<u8>>, LocalError> {
        self.to_http_for(Version::HTTP_11)
    }

    /// The rejection as an `http::Response` for a request of `version`.
    ///
    /// On HTTP/1.x it carries `Connection: close`. On HTTP/2 and later the
    /// connection-specific fields are left out, `Connection` and `Upgrade`
    /// (RFC 9113 §8.2.2: "An endpoint MUST NOT generate an HTTP/2 message
    /// containing connection-specific header fields"), since the refusal ends
    /// one stream and not the connection.
    pub fn to_http_for(&self, version: Version) -> Result<http::Response<Vec<u8>>, LocalError> {
        let (_, headers, body) = self.parts();
        let mut response = http::Response::new(body.to_vec());
        *response.status_mut() =
            StatusCode::from_u16(self.status()).map_err(|_| LocalError::Status)?;
        let map = response.headers_mut();
        map.insert(http::header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        append_lines(map, headers)?;
        if version >= Version::HTTP_2 {
            map.remove(http::header::CONNECTION);
            map.remove(http::header::UPGRADE);
        } else {
            map.insert(http::header::CONNECTION, HeaderValue::from_static("close"));
        }
        Ok(response)
    }
}

/// Sets the offer headers shared by both request forms.
fn put_offers(builder: &ClientBuilder, map: &mut http::HeaderMap) -> Result<(), LocalError> {
    let (origin, protocols, extensions, extra) = builder.parts();
    if let Some(origin) = origin {
        map.insert(http::header::ORIGIN, header_value(origin.as_bytes())?);
    }
    if !protocols.is_empty() {
        map.insert(
            http::header::SEC_WEBSOCKET_PROTOCOL,
            header_value(protocols.join(", ").as_bytes())?,
        );
    }
    if !extensions.is_empty() {
        map.insert(
            http::header::SEC_WEBSOCKET_EXTENSIONS,
            extensions_value(extensions)?,
        );
    }
    map.insert(
        http::header::SEC_WEBSOCKET_VERSION,
        HeaderValue::from_static(VERSION),
    );
    append_lines(map, extra)
}

impl ClientBuilder {
    /// The HTTP/1.1 request as an `http::Request` (URI `ws://...`), with a
    /// key from `random`, and the handshake waiting for the answer.
    pub fn into_http(
        self,
        random: &mut impl RandomSource,
    ) -> Result<(http::Request<()>, ClientHandshake), LocalError> {
        let key = SecWebSocketKey::generate(random);
        let mut request = http::Request::new(());
        *request.uri_mut() = http::Uri::try_from(self.uri().to_string())
            .map_err(|_| LocalError::Uri(crate::UriError::Host))?;
        *request.version_mut() = Version::HTTP_11;
        let map = request.headers_mut();
        map.insert(
            http::header::HOST,
            header_value(self.uri().host_header().as_bytes())?,
        );
        map.insert(http::header::UPGRADE, HeaderValue::from_static("websocket"));
        map.insert(
            http::header::CONNECTION,
            HeaderValue::from_static("Upgrade"),
        );
        map.insert(
            http::header::SEC_WEBSOCKET_KEY,
            header_value(key.as_str().as_bytes())?,
        );
        put_offers(&self, map)?;
        Ok((request, self.into_handshake(key)))
    }

    /// The RFC 8441 request: `CONNECT` over HTTP/2 with `:scheme` `https`
    /// (for `wss`) or `http`, `:authority` and `:path` from the URI, and
    /// `sec-websocket-version: 13`; no key, no `Upgrade`, no `Connection`.
    ///
    /// The caller must add `:protocol` = [`PROTOCOL`] (see the module docs).
    pub fn into_extended_connect(self) -> Result<(http::Request<()>, ClientHandshake), LocalError> {
        let uri = self.uri();
        let text = alloc::format!("{}{}", uri.http_origin(), uri.resource_name());
        let mut request = http::Request::new(());
        *request.method_mut() = Method::CONNECT;
        *request.uri_mut() =
            http::Uri::try_from(text).map_err(|_| LocalError::Uri(crate::UriError::Host))?;
        *request.version_mut() = Version::HTTP_2;
        put_offers(&self, request.headers_mut())?;
        // The key is never sent (RFC 8441 §5: "Sec-WebSocket-Key and
        // Sec-WebSocket-Accept header fields are not used").
        Ok((
            request,
            self.into_handshake(SecWebSocketKey::from_nonce([0; 16])),
        ))
    }
}

/// Builds the owned head of a response.
fn response_head<B>(response: &http::Response<B>) -> Result<ResponseHead, ResponseError> {
    let minor = match response.version() {
        Version::HTTP_09 | Version::HTTP_10 => 0,
        Version::HTTP_11 => 1,
        // Only meaningful for the RFC 8441 path, which ignores it.
        _ => 1,
    };
    let mut headers = owned(response.headers());
    let reason = response.status().canonical_reason().unwrap_or("");
    let reason = headers.push(reason.as_bytes());
    Ok(ResponseHead {
        headers,
        status: response.status().as_u16(),
        reason,
        minor,
    })
}

impl ClientHandshake {
    /// Checks an HTTP/1.1 answer given as an `http::Response`, exactly as
    /// [`parse`](Self::parse) checks bytes.
    pub fn handle_http_response<B>(
        &mut self,
        response: &http::Response<B>,
    ) -> Result<Response, Error> {
        if response.version() >= Version::HTTP_2 {
            return Err(ResponseError::HttpVersion.into());
        }
        Ok(self.validate(response_head(response)?)?)
    }

    /// Checks the answer to an RFC 8441 extended CONNECT: "a 2xx series
    /// status code" (§5) means the stream now carries WebSocket frames; the
    /// subprotocol and extensions must have been offered. Any other status
    /// is [`Response::Rejected`].
    pub fn handle_extended_connect_response<B>(
        &mut self,
        response: &http::Response<B>,
    ) -> Result<Response, Error> {
        let head = response_head(response)?;
        if !response.status().is_success() {
            return Ok(Response::Rejected(Rejected::new(head)));
        }
        let negotiated = self.negotiated(&head)?;
        Ok(Response::Accepted(Accepted::new(head, negotiated)))
    }
}

/// An RFC 8441 WebSocket request: an HTTP/2 (or HTTP/3, RFC 9220) stream
/// opened with extended CONNECT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtendedConnect {
    head: RequestHead,
    origin: Option<Range<usize>>,
    protocols: Vec<Range<usize>>,
    extensions: Vec<Extension>,
}

impl ExtendedConnect {
    /// Checks `request` against RFC 8441 §4 and §5. `protocol` is the
    /// `:protocol` pseudo-header's value, taken from wherever your HTTP/2
    /// stack keeps it (see the module docs); `None` if absent.
    ///
    /// "The :method pseudo-header field MUST be CONNECT", ":protocol" must be
    /// `websocket`, and `sec-websocket-version` must be 13; `Origin`,
    /// `sec-websocket-protocol` and `sec-websocket-extensions` are read as in
    /// RFC 6455.
    ///
    /// A method other than CONNECT is [`RequestError::MethodNotConnect`]
    /// (405); a missing `:protocol`, or another protocol than `websocket`, is
    /// [`RequestError::NotWebSocket`] (426).
    pub fn from_http<B>(request: &http::Request<B>, protocol: Option<&str>) -> Result<Self, Error> {
        Self::from_head(request.into(), protocol)
    }

    fn from_head(request: HttpHead<'_>, protocol: Option<&str>) -> Result<Self, Error> {
        if request.method != Method::CONNECT {
            return Err(RequestError::MethodNotConnect.into());
        }
        if !protocol.is_some_and(|p| p.eq_ignore_ascii_case(PROTOCOL)) {
            return Err(RequestError::NotWebSocket.into());
        }
        let head = request_head(request, 1);
        let version = request.headers.get_all(http::header::SEC_WEBSOCKET_VERSION);
        let mut version = version.iter();
        match (version.next(), version.next()) {
            (Some(v), None) if v.as_bytes() == VERSION.as_bytes() => {}
            _ => return Err(RequestError::Version.into()),
        }
        let offers = server::offers(&head)?;
        Ok(Self {
            head,
            origin: offers.origin,
            protocols: offers.protocols,
            extensions: offers.extensions,
        })
    }

    /// The path, e.g. `/chat`.
    #[must_use]
    pub fn path(&self) -> &str {
        self.head.path()
    }

    /// The query without `?`.
    #[must_use]
    pub fn query(&self) -> Option<&str> {
        self.head.query()
    }

    /// The `Origin` header value, if sent and UTF-8.
    #[must_use]
    pub fn origin(&self) -> Option<&str> {
        let range = self.origin.as_ref()?;
        core::str::from_utf8(self.head.headers.buf.get(range.clone())?).ok()
    }

    /// The subprotocols offered, most preferred first.
    pub fn protocols(&self) -> impl Iterator<Item = &str> + '_ {
        self.protocols.iter().map(|r| self.head.headers.str(r))
    }

    /// The extensions offered, in order.
    #[must_use]
    pub fn extensions(&self) -> &[Extension] {
        &self.extensions
    }

    /// Every header field (plus `host` from `:authority`).
    #[must_use]
    pub fn headers(&self) -> crate::Headers<'_> {
        self.head.headers.view()
    }

    /// The `200` answer (RFC 8441 §5: "a 2xx series status code"), with the
    /// chosen subprotocol and extensions, each of which must have been
    /// offered. Add other headers to the returned response directly.
    pub fn accept(
        &self,
        protocol: Option<&str>,
        extensions: &[Extension],
    ) -> Result<http::Response<()>, LocalError> {
        let mut response = http::Response::new(());
        let map = response.headers_mut();
        if let Some(p) = protocol {
            if !self.protocols().any(|o| o == p) {
                return Err(LocalError::ProtocolNotOffered);
            }
            map.insert(
                http::header::SEC_WEBSOCKET_PROTOCOL,
                header_value(p.as_bytes())?,
            );
        }
        if !extensions
            .iter()
            .all(|e| self.extensions.iter().any(|o| o.name() == e.name()))
        {
            return Err(LocalError::ExtensionNotOffered);
        }
        if !extensions.is_empty() {
            map.insert(
                http::header::SEC_WEBSOCKET_EXTENSIONS,
                extensions_value(extensions)?,
            );
        }
        Ok(response)
    }
}

/// A WebSocket request in either form: the HTTP/1.1 Upgrade (RFC 6455 §4) or
/// HTTP/2 extended CONNECT (RFC 8441), for a server whose endpoint takes both.
///
/// The form follows the request's version: HTTP/1.x requests are checked as
/// [`UpgradeRequest::from_http`] checks them, HTTP/2 and later as
/// [`ExtendedConnect::from_http`]. The getters and [`accept`](Self::accept)
/// are the same for both, so a handler does not care which it got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebSocketRequest {
    /// An HTTP/1.1 `GET` with `Upgrade: websocket`; answered `101`.
    Upgrade(UpgradeRequest),
    /// An HTTP/2 `CONNECT` with `:protocol websocket`; answered `200`.
    ExtendedConnect(ExtendedConnect),
}

impl WebSocketRequest {
    /// Checks `request` in the form its version calls for. `protocol` is the
    /// `:protocol` pseudo-header's value if any (see the module docs); it is
    /// ignored on HTTP/1.x.
    ///
    /// The errors of either form, and on HTTP/2: a request without
    /// `:protocol` that carries `Sec-WebSocket-*` or `Upgrade` fields is
    /// [`RequestError::MethodNotConnect`] (405: HTTP/1.1's form sent over
    /// HTTP/2), one without any WebSocket signal
    /// [`RequestError::NotWebSocket`] (426).
    pub fn from_http<B>(request: &http::Request<B>, protocol: Option<&str>) -> Result<Self, Error> {
        Self::from_head(request.into(), protocol)
    }

    /// [`from_http`](Self::from_http) on a request's parts (an extractor's
    /// view of the request).
    pub fn from_parts(parts: &http::request::Parts, protocol: Option<&str>) -> Result<Self, Error> {
        Self::from_head(parts.into(), protocol)
    }

    fn from_head(request: HttpHead<'_>, protocol: Option<&str>) -> Result<Self, Error> {
        if request.version < Version::HTTP_2 {
            return UpgradeRequest::from_head(request).map(Self::Upgrade);
        }
        if protocol.is_none() && request.method != Method::CONNECT {
            // RFC 8441 §4: on HTTP/2 the only way to a WebSocket is CONNECT.
            let h = request.headers;
            let signalled = h.contains_key(http::header::SEC_WEBSOCKET_KEY)
                || h.contains_key(http::header::SEC_WEBSOCKET_VERSION)
                || h.contains_key(http::header::UPGRADE);
            return Err(if signalled {
                RequestError::MethodNotConnect
            } else {
                RequestError::NotWebSocket
            }
            .into());
        }
        ExtendedConnect::from_head(request, protocol).map(Self::ExtendedConnect)
    }

    /// The version of the answer: HTTP/1.1 or HTTP/2 (what
    /// [`Rejection::to_http_for`] wants).
    #[must_use]
    pub fn version(&self) -> Version {
        match self {
            Self::Upgrade(_) => Version::HTTP_11,
            Self::ExtendedConnect(_) => Version::HTTP_2,
        }
    }

    /// The path, e.g. `/chat`.
    #[must_use]
    pub fn path(&self) -> &str {
        match self {
            Self::Upgrade(r) => r.path(),
            Self::ExtendedConnect(r) => r.path(),
        }
    }

    /// The query without `?`.
    #[must_use]
    pub fn query(&self) -> Option<&str> {
        match self {
            Self::Upgrade(r) => r.query(),
            Self::ExtendedConnect(r) => r.query(),
        }
    }

    /// The `Origin` header value, if sent and UTF-8.
    #[must_use]
    pub fn origin(&self) -> Option<&str> {
        match self {
            Self::Upgrade(r) => r.origin(),
            Self::ExtendedConnect(r) => r.origin(),
        }
    }

    /// The subprotocols offered, most preferred first.
    pub fn protocols(&self) -> impl Iterator<Item = &str> + '_ {
        let (a, b) = match self {
            Self::Upgrade(r) => (Some(r.protocols()), None),
            Self::ExtendedConnect(r) => (None, Some(r.protocols())),
        };
        a.into_iter().flatten().chain(b.into_iter().flatten())
    }

    /// The subprotocol to choose when the server speaks `supported`: the first one
    /// the client offers that is among them, since the client lists its offers
    /// "ordered by preference" (RFC 6455 §4.2.1, item 8); `None` when they have none in
    /// common (the handshake goes on without a subprotocol, §4.2.2).
    pub fn select_protocol<S: AsRef<str>>(&self, supported: &[S]) -> Option<&str> {
        let mut offered = self.protocols();
        offered.find(|offer| supported.iter().any(|ours| ours.as_ref() == *offer))
    }

    /// The extensions offered, in order.
    #[must_use]
    pub fn extensions(&self) -> &[Extension] {
        match self {
            Self::Upgrade(r) => r.extensions(),
            Self::ExtendedConnect(r) => r.extensions(),
        }
    }

    /// Every header field (on HTTP/2, plus `host` from `:authority`).
    #[must_use]
    pub fn headers(&self) -> crate::Headers<'_> {
        match self {
            Self::Upgrade(r) => r.headers(),
            Self::ExtendedConnect(r) => r.headers(),
        }
    }

    /// The answer that accepts the request: `101 Switching Protocols` with
    /// `Sec-WebSocket-Accept` on HTTP/1.1, `200` on HTTP/2, with `protocol`
    /// (which must have been offered) and, given a `deflate` policy, the first
    /// permessage-deflate offer it accepts (RFC 7692 §5), whose parameters
    /// come back with the response.
    pub fn accept(
        &self,
        protocol: Option<&str>,
        deflate: Option<&DeflatePolicy>,
    ) -> Result<(http::Response<()>, Option<DeflateParams>), LocalError> {
        match self {
            Self::Upgrade(r) => {
                let mut accept = r.accept();
                if let Some(p) = protocol {
                    accept = accept.protocol(p)?;
                }
                if let Some(policy) = deflate {
                    accept = accept.deflate(policy);
                }
                Ok((accept.to_http()?, accept.chosen_deflate()))
            }
            Self::ExtendedConnect(r) => {
                let agreed = deflate.and_then(|policy| policy.negotiate(r.extensions()));
                let (params, extensions) = match agreed {
                    Some((params, response)) => (Some(params), alloc::vec![response]),
                    None => (None, Vec::new()),
                };
                Ok((r.accept(protocol, &extensions)?, params))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Status;

    fn zero(buf: &mut [u8]) {
        buf.fill(0);
    }

    #[test]
    fn http_round_trip_both_ways() {
        let builder = ClientBuilder::new("ws://example.com:8080/chat?x=1")
            .and_then(|b| b.protocol("chat"))
            .and_then(|b| b.header("Authorization", "Bearer t"))
            .unwrap();
        let (request, mut client) = builder.into_http(&mut zero).unwrap();
        assert_eq!(request.headers()["host"], "example.com:8080");
        let upgrade = UpgradeRequest::from_http(&request).unwrap();
        assert_eq!((upgrade.path(), upgrade.query()), ("/chat", Some("x=1")));
        assert_eq!(upgrade.headers().get_str("authorization"), Some("Bearer t"));
        let response = upgrade
            .accept()
            .protocol("chat")
            .unwrap()
            .to_http()
            .unwrap();
        assert_eq!(response.status(), 101);
        let Response::Accepted(a) = client.handle_http_response(&response).unwrap() else {
            panic!()
        };
        assert_eq!(a.protocol(), Some("chat"));
    }

    #[test]
    fn http_and_bytes_agree() {
        let builder = ClientBuilder::new("ws://a/").unwrap();
        let (request, _) = builder.clone().into_http(&mut zero).unwrap();
        let mut bytes = Vec::new();
        let _ = builder.send_request_with(&mut zero, &mut bytes);
        let Status::Complete((Request::Upgrade(from_bytes), _)) =
            crate::RequestParser::new().parse(&bytes).unwrap()
        else {
            panic!()
        };
        let from_http = UpgradeRequest::from_http(&request).unwrap();
        assert_eq!(from_http.key(), from_bytes.key());
        let (mut a, mut b) = (Vec::new(), Vec::new());
        from_http.accept().encode(&mut a);
        from_bytes.accept().encode(&mut b);
        assert_eq!(a, b);
    }

    #[test]
    fn rfc8441_extended_connect() {
        let builder = ClientBuilder::new("wss://example.com/chat")
            .and_then(|b| b.protocol("chat"))
            .unwrap()
            .extension(Extension::new("permessage-deflate").unwrap());
        let (request, mut client) = builder.into_extended_connect().unwrap();
        assert_eq!(request.method(), Method::CONNECT);
        assert_eq!(request.uri().scheme_str(), Some("https"));
        assert!(request.headers().get("sec-websocket-key").is_none());
        assert_eq!(
            ExtendedConnect::from_http(&request, None).unwrap_err(),
            RequestError::NotWebSocket.into()
        );
        let server = ExtendedConnect::from_http(&request, Some(PROTOCOL)).unwrap();
        assert_eq!(server.path(), "/chat");
        assert_eq!(server.headers().get_str("host"), Some("example.com"));
        assert!(server.accept(Some("other"), &[]).is_err());
        let response = server.accept(Some("chat"), server.extensions()).unwrap();
        assert_eq!(response.status(), 200);
        let Response::Accepted(a) = client.handle_extended_connect_response(&response).unwrap()
        else {
            panic!()
        };
        assert_eq!(a.protocol(), Some("chat"));
        assert_eq!(a.extensions()[0].name(), "permessage-deflate");
    }

    #[test]
    fn rejection_to_http() {
        let r = Rejection::from_error(&RequestError::Version.into())
            .to_http()
            .unwrap();
        assert_eq!(r.status(), 426);
        assert_eq!(r.headers()["sec-websocket-version"], "13");
        assert_eq!(r.headers()["connection"], "close");
    }
}

/// [`WebSocketRequest`]: each rule of the two forms, and the answers.
#[cfg(test)]
mod either_form {
    use super::*;

    fn h2(method: Method, fields: &[(&str, &str)]) -> http::Request<()> {
        let mut request = http::Request::new(());
        *request.method_mut() = method;
        *request.version_mut() = Version::HTTP_2;
        *request.uri_mut() = http::Uri::from_static("https://example.com/chat?room=1");
        for (name, value) in fields {
            let name = HeaderName::from_bytes(name.as_bytes()).unwrap();
            request.headers_mut().append(name, value.parse().unwrap());
        }
        request
    }

    fn h1(method: Method, fields: &[(&str, &str)]) -> http::Request<()> {
        let mut request = h2(method, fields);
        *request.version_mut() = Version::HTTP_11;
        *request.uri_mut() = http::Uri::from_static("/chat?room=1");
        request
            .headers_mut()
            .insert("host", "example.com".parse().unwrap());
        request
    }

    const UPGRADE: &[(&str, &str)] = &[
        ("upgrade", "websocket"),
        ("connection", "Upgrade"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("sec-websocket-version", "13"),
        ("sec-websocket-protocol", "chat, superchat"),
        (
            "sec-websocket-extensions",
            "permessage-deflate; client_max_window_bits",
        ),
    ];
    const CONNECT: &[(&str, &str)] = &[
        ("sec-websocket-version", "13"),
        ("sec-websocket-protocol", "chat, superchat"),
        (
            "sec-websocket-extensions",
            "permessage-deflate; client_max_window_bits",
        ),
    ];

    fn error(request: &http::Request<()>, protocol: Option<&str>) -> RequestError {
        match WebSocketRequest::from_http(request, protocol) {
            Err(Error::Request(e)) => e,
            other => panic!("expected a request error, got {other:?}"),
        }
    }

    #[test]
    fn rfc6455_upgrade_answered_101() {
        let request = WebSocketRequest::from_http(&h1(Method::GET, UPGRADE), None).unwrap();
        assert!(matches!(request, WebSocketRequest::Upgrade(_)));
        assert_eq!(request.version(), Version::HTTP_11);
        assert_eq!((request.path(), request.query()), ("/chat", Some("room=1")));
        assert_eq!(
            request.protocols().collect::<Vec<_>>(),
            ["chat", "superchat"]
        );
        let (response, deflate) = request
            .accept(Some("chat"), Some(&DeflatePolicy::default()))
            .unwrap();
        assert_eq!(response.status(), 101);
        assert_eq!(
            response.headers()["sec-websocket-accept"],
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert_eq!(response.headers()["sec-websocket-protocol"], "chat");
        assert!(deflate.is_some());
        assert!(response.headers().contains_key("sec-websocket-extensions"));
    }

    #[test]
    fn rfc8441_connect_answered_200_without_key_or_upgrade() {
        let request = h2(Method::CONNECT, CONNECT);
        let request = WebSocketRequest::from_http(&request, Some("websocket")).unwrap();
        assert!(matches!(request, WebSocketRequest::ExtendedConnect(_)));
        assert_eq!(request.version(), Version::HTTP_2);
        assert_eq!(request.headers().get_str("host"), Some("example.com"));
        let (response, deflate) = request
            .accept(Some("superchat"), Some(&DeflatePolicy::default()))
            .unwrap();
        assert_eq!(response.status(), 200);
        for absent in ["sec-websocket-accept", "upgrade", "connection"] {
            assert!(!response.headers().contains_key(absent), "{absent}");
        }
        assert_eq!(response.headers()["sec-websocket-protocol"], "superchat");
        assert!(deflate.is_some());
        // Without a policy, no extension is agreed.
        let (response, deflate) = request.accept(None, None).unwrap();
        assert!(deflate.is_none() && response.headers().is_empty());
        assert_eq!(
            request.accept(Some("other"), None).unwrap_err(),
            LocalError::ProtocolNotOffered
        );
    }

    #[test]
    fn from_parts_is_from_http() {
        let request = h2(Method::CONNECT, CONNECT);
        let (parts, ()) = request.clone().into_parts();
        assert_eq!(
            WebSocketRequest::from_parts(&parts, Some("websocket")),
            WebSocketRequest::from_http(&request, Some("websocket"))
        );
    }

    /// RFC 8441 §4: ":method pseudo-header field MUST be CONNECT"; HTTP/1.1's
    /// form over HTTP/2 is 405 with `Allow: CONNECT`, and no
    /// connection-specific fields.
    #[test]
    fn rfc8441_4_h2_get_with_websocket_fields_is_405() {
        let e = error(&h2(Method::GET, UPGRADE), None);
        assert_eq!((e, e.status()), (RequestError::MethodNotConnect, 405));
        let response = Rejection::from_error(&e.into())
            .to_http_for(Version::HTTP_2)
            .unwrap();
        assert_eq!(response.status(), 405);
        assert_eq!(response.headers()["allow"], "CONNECT");
        assert!(!response.headers().contains_key("connection"));
        // ExtendedConnect alone says the same of any other method.
        let e = ExtendedConnect::from_http(&h2(Method::POST, CONNECT), Some("websocket"));
        assert_eq!(e.unwrap_err(), RequestError::MethodNotConnect.into());
    }

    /// RFC 6455 §4.2.1 item 1 over HTTP/1.1: 405 with `Allow: GET`.
    #[test]
    fn rfc6455_h1_post_is_405_allow_get() {
        let e = error(&h1(Method::POST, UPGRADE), None);
        assert_eq!(e, RequestError::MethodNotGet);
        let response = Rejection::from_error(&e.into()).to_http().unwrap();
        assert_eq!(response.status(), 405);
        assert_eq!(response.headers()["allow"], "GET");
        assert_eq!(response.headers()["connection"], "close");
    }

    /// No signal at all: 426, `Upgrade: websocket` on HTTP/1.1 (RFC 9110
    /// §15.5.22) but not on HTTP/2 (RFC 9113 §8.2.2).
    #[test]
    fn no_websocket_signal_is_426() {
        let e = error(&h1(Method::GET, &[]), None);
        assert_eq!((e, e.status()), (RequestError::NotWebSocket, 426));
        let response = Rejection::from_error(&e.into()).to_http().unwrap();
        assert_eq!(response.headers()["upgrade"], "websocket");
        assert_eq!(response.headers()["sec-websocket-version"], "13");
        for request in [h2(Method::GET, &[]), h2(Method::CONNECT, CONNECT)] {
            let e = error(&request, None);
            assert_eq!(e, RequestError::NotWebSocket);
            let response = Rejection::from_error(&e.into())
                .to_http_for(Version::HTTP_2)
                .unwrap();
            assert_eq!(response.status(), 426);
            assert!(!response.headers().contains_key("upgrade"));
            assert!(!response.headers().contains_key("connection"));
            assert_eq!(response.headers()["sec-websocket-version"], "13");
        }
        // Another `:protocol` than websocket.
        let e = error(&h2(Method::CONNECT, CONNECT), Some("webtransport"));
        assert_eq!(e, RequestError::NotWebSocket);
    }

    /// RFC 6455 §4.2.1, item 8: the offers are "ordered by preference", so the client's
    /// order chooses among the ones the server speaks, in either form.
    #[test]
    fn the_clients_preferred_protocol_is_selected() {
        let h1 = WebSocketRequest::from_http(&h1(Method::GET, UPGRADE), None).unwrap();
        let h2 = h2(Method::CONNECT, CONNECT);
        let h2 = WebSocketRequest::from_http(&h2, Some("websocket")).unwrap();
        for request in [h1, h2] {
            assert_eq!(
                request.select_protocol(&["superchat", "chat"]),
                Some("chat")
            );
            assert_eq!(request.select_protocol(&["superchat"]), Some("superchat"));
            assert_eq!(request.select_protocol(&["other"]), None);
            assert_eq!(request.select_protocol::<&str>(&[]), None);
        }
    }

    /// RFC 8441 §5 keeps `Sec-WebSocket-Version: 13` (426 otherwise) and the
    /// grammar of the offers (400).
    #[test]
    fn rfc8441_5_version_and_offers_still_checked() {
        let request = h2(Method::CONNECT, &[("sec-websocket-version", "8")]);
        assert_eq!(error(&request, Some("websocket")), RequestError::Version);
        let request = h2(
            Method::CONNECT,
            &[
                ("sec-websocket-version", "13"),
                ("sec-websocket-protocol", "a b"),
            ],
        );
        assert_eq!(error(&request, Some("websocket")), RequestError::Protocol);
    }
}
