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

/// Builds the owned head of a request; the target is the path and query.
fn request_head<B>(request: &http::Request<B>, minor: u8) -> RequestHead {
    let mut headers = owned(request.headers());
    let method = headers.push(request.method().as_str().as_bytes());
    let target = request.uri().path_and_query().map_or("/", |p| p.as_str());
    let target = headers.push(target.as_bytes());
    // HTTP/1.1 servers keep Host as a header; if it only lives in the URI
    // (absolute-form, or HTTP/2 `:authority`), make it one.
    if headers.view().get("Host").is_none() {
        if let Some(authority) = request.uri().authority() {
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
    /// WebSocket signal at all is refused with [`RequestError::Upgrade`];
    /// an HTTP/2 request with [`RequestError::HttpVersion`] (use
    /// [`ExtendedConnect`]).
    pub fn from_http<B>(request: &http::Request<B>) -> Result<Self, Error> {
        let minor = match request.version() {
            Version::HTTP_09 | Version::HTTP_10 => 0,
            Version::HTTP_11 => 1,
            _ => return Err(RequestError::HttpVersion.into()),
        };
        match server::validate(request_head(request, minor))? {
            Request::Upgrade(upgrade) => Ok(upgrade),
            Request::Plain(_) => Err(RequestError::Upgrade.into()),
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
    /// The rejection as an `http::Response` with its body.
    pub fn to_http(&self) -> Result<http::Response<Vec<u8>>, LocalError> {
        let (_, headers, body) = self.parts();
        let mut response = http::Response::new(body.to_vec());
        *response.status_mut() =
            StatusCode::from_u16(self.status()).map_err(|_| LocalError::Status)?;
        let map = response.headers_mut();
        map.insert(http::header::CONNECTION, HeaderValue::from_static("close"));
        map.insert(http::header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        append_lines(map, headers)?;
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
        let scheme = if uri.is_secure() { "https" } else { "http" };
        let text = alloc::format!("{scheme}://{}{}", uri.host_header(), uri.resource_name());
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
    pub fn from_http<B>(request: &http::Request<B>, protocol: Option<&str>) -> Result<Self, Error> {
        if request.method() != Method::CONNECT {
            return Err(RequestError::MethodNotGet.into());
        }
        if !protocol.is_some_and(|p| p.eq_ignore_ascii_case(PROTOCOL)) {
            return Err(RequestError::Upgrade.into());
        }
        let head = request_head(request, 1);
        let version = request
            .headers()
            .get_all(http::header::SEC_WEBSOCKET_VERSION);
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
            RequestError::Upgrade.into()
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
