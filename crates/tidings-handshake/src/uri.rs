//! WebSocket URIs (RFC 6455 §3), just enough to write a request and to tell
//! the caller where to connect.
//!
//! ```text
//! ws-URI = "ws:" "//" host [ ":" port ] path [ "?" query ]
//! wss-URI = "wss:" "//" host [ ":" port ] path [ "?" query ]
//! ```
//!
//! This is not a general URI library: it accepts exactly the shapes above,
//! refuses userinfo and fragments, and refuses any byte that is not visible
//! ASCII, so nothing taken from a URI can break a request line or a header
//! line. A full RFC 3986 parser would be a dependency for no gain here.

use alloc::string::String;
use core::fmt;

use crate::error::UriError;

/// A parsed `ws://` or `wss://` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsUri {
    secure: bool,
    /// The host as written in the URI (IPv6 literals keep their brackets).
    host: String,
    port: u16,
    explicit_port: bool,
    resource_name: String,
}

impl WsUri {
    /// Parses `uri`, e.g. `wss://example.com:8443/chat?room=1`.
    pub fn parse(uri: &str) -> Result<Self, UriError> {
        if !uri.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(UriError::Character);
        }
        let (scheme, rest) = uri.split_once("://").ok_or(UriError::Scheme)?;
        // §3: "The port component is OPTIONAL; the default for "ws" is port
        // 80, while the default for "wss" is port 443."
        let (secure, default_port) = if scheme.eq_ignore_ascii_case("ws") {
            (false, 80)
        } else if scheme.eq_ignore_ascii_case("wss") {
            (true, 443)
        } else {
            return Err(UriError::Scheme);
        };
        // §3: "Fragment identifiers are meaningless in the context of
        // WebSocket URIs and MUST NOT be used on these URIs."
        if rest.contains('#') {
            return Err(UriError::Fragment);
        }
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, resource) = rest.split_at(split);
        if authority.contains('@') {
            return Err(UriError::Userinfo);
        }

        // host = IP-literal / IPv4address / reg-name
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (inside, after) = v6.split_once(']').ok_or(UriError::Host)?;
            let ok = !inside.is_empty()
                && inside
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
            if !ok {
                return Err(UriError::Host);
            }
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or(UriError::Port)?),
            };
            (&authority[..inside.len() + 2], port)
        } else {
            let (host, port) = match authority.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            };
            // reg-name = *( unreserved / pct-encoded / sub-delims )
            let ok = !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=".contains(&b));
            if !ok {
                return Err(UriError::Host);
            }
            (host, port)
        };
        let (port, explicit_port) = match port {
            // RFC 3986 §3.2.3: an empty port is the same as no port.
            None | Some("") => (default_port, false),
            Some(p) if p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => {
                (p.parse().map_err(|_| UriError::Port)?, true)
            }
            Some(_) => return Err(UriError::Port),
        };

        // §3: "the resource name ... "/" if the path component is empty",
        // followed by "?" and the query component if non-empty.
        let mut resource_name = String::new();
        if !resource.starts_with('/') {
            resource_name.push('/');
        }
        resource_name.push_str(resource);
        Ok(Self {
            secure,
            host: host.into(),
            port,
            explicit_port,
            resource_name,
        })
    }

    /// `true` for `wss://`: the caller must run TLS before the handshake.
    #[must_use]
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// The host to connect to, without the brackets of an IPv6 literal
    /// (`::1`, not `[::1]`), ready for name resolution or `SocketAddr`.
    #[must_use]
    pub fn host(&self) -> &str {
        self.host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(&self.host)
    }

    /// The port to connect to: the one written, or 80 for `ws`, 443 for `wss`.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Path and query, e.g. `/chat?room=1`: the request-target.
    #[must_use]
    pub fn resource_name(&self) -> &str {
        &self.resource_name
    }

    /// The `Host` header value. RFC 6455 §4.1 item 4: "the /host/ [...]
    /// followed by ":" and the /port/ if the port is non-default" (the
    /// default for the scheme is omitted even when written explicitly).
    #[must_use]
    pub fn host_header(&self) -> String {
        let default = if self.secure { 443 } else { 80 };
        if self.port == default {
            self.host.clone()
        } else {
            alloc::format!("{}:{}", self.host, self.port)
        }
    }

    /// Whether the URI spelled out a port.
    #[must_use]
    pub fn has_explicit_port(&self) -> bool {
        self.explicit_port
    }

    /// The origin of this resource over HTTP/2, scheme, host and port:
    /// `https://host[:port]` for `wss`, `http://host[:port]` for `ws`, the port
    /// left out when it is the scheme's default (443 and 80 alike). RFC 8441 §5:
    /// "The scheme of the target URI [...] MUST be "https" for "wss"-schemed
    /// WebSockets and "http" for "ws"-schemed WebSockets."
    #[must_use]
    pub fn http_origin(&self) -> String {
        let scheme = if self.secure { "https" } else { "http" };
        alloc::format!("{scheme}://{}", self.host_header())
    }
}

impl fmt::Display for WsUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.secure { "wss" } else { "ws" };
        write!(f, "{scheme}://{}{}", self.host_header(), self.resource_name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (uri, secure, host, port, Host header, resource name)
    const GOOD: &[(&str, bool, &str, u16, &str, &str)] = &[
        (
            "ws://example.com",
            false,
            "example.com",
            80,
            "example.com",
            "/",
        ),
        (
            "wss://example.com/chat",
            true,
            "example.com",
            443,
            "example.com",
            "/chat",
        ),
        (
            "ws://example.com:8080/a?b=c",
            false,
            "example.com",
            8080,
            "example.com:8080",
            "/a?b=c",
        ),
        (
            "wss://example.com:443/",
            true,
            "example.com",
            443,
            "example.com",
            "/",
        ),
        (
            "ws://example.com?x",
            false,
            "example.com",
            80,
            "example.com",
            "/?x",
        ),
        ("WS://h:/", false, "h", 80, "h", "/"),
        ("ws://[::1]:9001/", false, "::1", 9001, "[::1]:9001", "/"),
        (
            "wss://[2001:db8::7]/x",
            true,
            "2001:db8::7",
            443,
            "[2001:db8::7]",
            "/x",
        ),
        (
            "ws://127.0.0.1:0",
            false,
            "127.0.0.1",
            0,
            "127.0.0.1:0",
            "/",
        ),
    ];

    #[test]
    fn rfc6455_section_3_uris() {
        for &(text, secure, host, port, host_header, resource) in GOOD {
            let uri = WsUri::parse(text).unwrap();
            assert_eq!(uri.is_secure(), secure, "{text}");
            assert_eq!(uri.host(), host, "{text}");
            assert_eq!(uri.port(), port, "{text}");
            assert_eq!(uri.host_header(), host_header, "{text}");
            assert_eq!(uri.resource_name(), resource, "{text}");
        }
    }

    /// RFC 8441 §5: `wss` is `https`'s, `ws` is `http`'s; the default port is the
    /// same for both, so it stays left out.
    #[test]
    fn rfc8441_section_5_http_origin() {
        for (text, origin) in [
            ("ws://example.com/chat", "http://example.com"),
            ("wss://example.com/chat?room=1", "https://example.com"),
            ("wss://example.com:443/", "https://example.com"),
            ("ws://example.com:8080/", "http://example.com:8080"),
            ("wss://[::1]:9443/", "https://[::1]:9443"),
        ] {
            assert_eq!(WsUri::parse(text).unwrap().http_origin(), origin, "{text}");
        }
    }

    #[test]
    fn refused_uris() {
        for (text, err) in [
            ("http://example.com/", UriError::Scheme),
            ("example.com/", UriError::Scheme),
            ("ws://example.com/#frag", UriError::Fragment),
            ("ws://user:pw@example.com/", UriError::Userinfo),
            ("ws:///path", UriError::Host),
            ("ws://[::1/", UriError::Host),
            ("ws://[zz]/", UriError::Host),
            ("ws://exa<mple/", UriError::Host),
            ("ws://example.com:65536/", UriError::Port),
            ("ws://example.com:8x/", UriError::Port),
            ("ws://[::1]x/", UriError::Port),
            ("ws://example.com/a b", UriError::Character),
            ("ws://example.com/\r\nX: y", UriError::Character),
            ("ws://exämple.com/", UriError::Character),
        ] {
            assert_eq!(WsUri::parse(text), Err(err), "{text}");
        }
    }
}
