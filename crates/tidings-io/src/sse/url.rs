//! `http://` and `https://` URLs, just enough to dial, to write a request line and a
//! `Host` header, and to follow a `Location`.
//!
//! The grammar after the scheme is the one of WebSocket URIs (RFC 6455 §3 borrows
//! it from RFC 3986 for `http`), so parsing is [`tidings_handshake::WsUri`]'s: the
//! same refusal of userinfo, control bytes and malformed hosts or ports, and no
//! second URL parser in the project. A fragment is dropped, as a client never sends
//! it.

use std::fmt;

use tidings_handshake::{UriError, WsUri};

use super::Error;

/// A parsed `http://` or `https://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    inner: WsUri,
}

impl Url {
    /// Parses `url`, e.g. `http://127.0.0.1:8080/events?room=1`.
    ///
    /// # Errors
    ///
    /// [`Error::Url`] for another scheme, a userinfo part, a bad host or port, or
    /// bytes that are not visible ASCII.
    pub fn parse(url: &str) -> Result<Self, Error> {
        let url = url.split_once('#').map_or(url, |(before, _)| before);
        let (scheme, rest) = url.split_once("://").ok_or(Error::Url(UriError::Scheme))?;
        let ws = if scheme.eq_ignore_ascii_case("http") {
            "ws"
        } else if scheme.eq_ignore_ascii_case("https") {
            "wss"
        } else {
            return Err(Error::Url(UriError::Scheme));
        };
        let inner = WsUri::parse(&format!("{ws}://{rest}")).map_err(Error::Url)?;
        Ok(Self { inner })
    }

    /// `true` for `https://`.
    #[must_use]
    pub fn is_https(&self) -> bool {
        self.inner.is_secure()
    }

    /// The host to dial (an IPv6 literal without brackets).
    #[must_use]
    pub fn host(&self) -> &str {
        self.inner.host()
    }

    /// The port to dial: the one written, or 80 / 443.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.inner.port()
    }

    /// Path and query: the request-target, e.g. `/events?room=1`.
    #[must_use]
    pub fn target(&self) -> &str {
        self.inner.resource_name()
    }

    /// The `Host` header value (the port only when not the scheme's default).
    #[must_use]
    pub fn host_header(&self) -> String {
        self.inner.host_header()
    }

    /// Resolves a redirect's `Location` against this URL (RFC 9110 §10.2.2, RFC 3986
    /// §5.2): an absolute URL, a network-path reference (`//host/path`), an absolute
    /// path (`/path`) or a relative path (`path`, next to this URL's last segment).
    pub(crate) fn join(&self, location: &str) -> Result<Self, Error> {
        let location = location.trim_matches([' ', '\t']);
        let scheme = if self.is_https() { "https" } else { "http" };
        // scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), before any '/', '?'.
        let first = location.find(['/', '?', '#']).unwrap_or(location.len());
        if let Some((scheme, _)) = location[..first].split_once(':') {
            let is_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
            if is_scheme {
                return Self::parse(location);
            }
        }
        if let Some(rest) = location.strip_prefix("//") {
            return Self::parse(&format!("{scheme}://{rest}"));
        }
        // The Host header form is the authority: host, and the port unless default.
        let authority = self.inner.host_header();
        let path = if location.starts_with('/') {
            location.to_owned()
        } else {
            // Merge: everything up to the last '/' of the base path (query removed).
            let base = self.target();
            let base = base.split_once('?').map_or(base, |(path, _)| path);
            let dir = base.rfind('/').map_or("/", |slash| &base[..=slash]);
            format!("{dir}{location}")
        };
        Self::parse(&format!("{scheme}://{authority}{path}"))
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.is_https() { "https" } else { "http" };
        write!(f, "{scheme}://{}{}", self.host_header(), self.target())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse() {
        let url = Url::parse("HTTP://example.com:8080/a/b?c=d#frag").unwrap();
        assert_eq!(
            (url.host(), url.port(), url.target()),
            ("example.com", 8080, "/a/b?c=d")
        );
        assert_eq!(url.to_string(), "http://example.com:8080/a/b?c=d");
        let url = Url::parse("https://[::1]").unwrap();
        assert_eq!(
            (url.host(), url.port(), url.target(), url.is_https()),
            ("::1", 443, "/", true)
        );
        for bad in [
            "ws://x/",
            "x",
            "http://u@x/",
            "http://x:99999/",
            "http://a b/",
            "ftp://x/",
        ] {
            assert!(matches!(Url::parse(bad), Err(Error::Url(_))), "{bad}");
        }
    }

    #[test]
    fn join() {
        let base = Url::parse("http://h:81/a/b?q").unwrap();
        let cases = [
            ("http://other/x", "http://other/x"),
            ("https://other:444/x", "https://other:444/x"),
            ("//other/y", "http://other/y"),
            ("/root", "http://h:81/root"),
            ("sib?z", "http://h:81/a/sib?z"),
            (" /t ", "http://h:81/t"),
        ];
        for (location, want) in cases {
            assert_eq!(base.join(location).unwrap().to_string(), want, "{location}");
        }
        let plain = Url::parse("http://h/").unwrap();
        assert_eq!(plain.join("x").unwrap().to_string(), "http://h/x");
        assert!(base.join("mailto:x").is_err());
        assert!(base.join("gopher://x/").is_err());
    }
}
