//! `http://` and `https://` URLs, just enough to dial, to write a request line and a
//! `Host` header, to follow a `Location`, and to tell two origins apart.
//!
//! ```text
//! http-URI  = "http"  "://" authority path-abempty [ "?" query ]   (RFC 9110 §4.2.1)
//! https-URI = "https" "://" authority path-abempty [ "?" query ]   (RFC 9110 §4.2.2)
//! authority = host [ ":" port ]     (no userinfo: RFC 9110 §4.2.4 deprecates it)
//! ```
//!
//! This is not a general URL library: it accepts exactly the shapes above, drops a
//! fragment (a client never sends it), and refuses any byte that is not visible ASCII,
//! so nothing taken from a URL can break a request line or a header line. The host
//! rules are those of `tidings-handshake`'s WebSocket URIs (RFC 6455 §3 borrows them
//! from RFC 3986 for `http`); the protocol crates do not depend on each other, so the
//! few lines are here again.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::String;
use core::fmt;

/// Why a URL was refused (inside [`LocalError::InvalidUrl`](crate::LocalError::InvalidUrl)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlError {
    /// The scheme is not `http` or `https`.
    Scheme,
    /// A `user:password@` part (browsers refuse these in `EventSource` URLs too).
    Userinfo,
    /// The host is empty or has characters a host cannot have.
    Host,
    /// The port is not a number in 0..=65535.
    Port,
    /// The URL contains a space, a control or a non-ASCII byte.
    Character,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Scheme => "scheme must be http or https",
            Self::Userinfo => "userinfo is not allowed",
            Self::Host => "invalid host",
            Self::Port => "invalid port",
            Self::Character => "space, control or non-ASCII character",
        })
    }
}

impl core::error::Error for UrlError {}

/// A parsed `http://` or `https://` URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Url {
    https: bool,
    /// The host as written (an IPv6 literal keeps its brackets).
    host: String,
    port: u16,
    /// Path and query, starting with `/`.
    target: String,
}

impl Url {
    /// Parses `url`, e.g. `http://127.0.0.1:8080/events?room=1`. A fragment is dropped.
    ///
    /// ```
    /// let url = tidings_sse::client::Url::parse("https://[::1]/events#top")?;
    /// assert_eq!((url.host(), url.port(), url.target()), ("::1", 443, "/events"));
    /// assert_eq!(url.host_header(), "[::1]");
    /// # Ok::<(), tidings_sse::client::UrlError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A [`UrlError`] for another scheme, a userinfo part, a bad host or port, or bytes
    /// that are not visible ASCII.
    pub fn parse(url: &str) -> Result<Self, UrlError> {
        let url = url.split_once('#').map_or(url, |(before, _)| before);
        if !url.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(UrlError::Character);
        }
        let (scheme, rest) = url.split_once("://").ok_or(UrlError::Scheme)?;
        let https = if scheme.eq_ignore_ascii_case("http") {
            false
        } else if scheme.eq_ignore_ascii_case("https") {
            true
        } else {
            return Err(UrlError::Scheme);
        };
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, target) = rest.split_at(split);
        if authority.contains('@') {
            return Err(UrlError::Userinfo);
        }
        // host = IP-literal / IPv4address / reg-name
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (inside, after) = v6.split_once(']').ok_or(UrlError::Host)?;
            let ok = !inside.is_empty()
                && inside
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
            if !ok {
                return Err(UrlError::Host);
            }
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or(UrlError::Port)?),
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
                return Err(UrlError::Host);
            }
            (host, port)
        };
        let port = match port {
            // RFC 3986 §3.2.3: an empty port is the same as no port.
            None | Some("") => default_port(https),
            Some(p) if p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse().map_err(|_| UrlError::Port)?
            }
            Some(_) => return Err(UrlError::Port),
        };
        // "If the target URI's path component is empty, the client MUST send "/" as
        // the path within the origin-form of request-target" (RFC 9112 §3.2.1).
        let mut path = String::with_capacity(target.len() + 1);
        if !target.starts_with('/') {
            path.push('/');
        }
        path.push_str(target);
        Ok(Self {
            https,
            host: host.to_ascii_lowercase(),
            port,
            target: path,
        })
    }

    /// `true` for `https://`: the connection must run TLS, with [`host`](Self::host)
    /// as the server name.
    #[must_use]
    pub fn is_https(&self) -> bool {
        self.https
    }

    /// The host to connect to, without the brackets of an IPv6 literal (`::1`, not
    /// `[::1]`), ready for name resolution. Registered names are lowercased.
    #[must_use]
    pub fn host(&self) -> &str {
        self.host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(&self.host)
    }

    /// The port to connect to: the one written, or 80 / 443.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Path and query: the request-target, e.g. `/events?room=1`.
    #[must_use]
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The `Host` header value: the host, and the port unless it is the scheme's
    /// default (RFC 9110 §7.2).
    #[must_use]
    pub fn host_header(&self) -> String {
        if self.port == default_port(self.https) {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// `true` when both URLs have the same origin: scheme, host and port (RFC 6454
    /// §5). Credentials do not follow a redirect to another origin.
    #[must_use]
    pub fn same_origin(&self, other: &Self) -> bool {
        self.https == other.https && self.port == other.port && self.host == other.host
    }

    /// Resolves a redirect's `Location` against this URL (RFC 9110 §10.2.2, RFC 3986
    /// §5.2): an absolute URL, a network-path reference (`//host/path`), an absolute
    /// path (`/path`), a query (`?q`) or a relative path (`path`, next to this URL's
    /// last segment), with `.` and `..` segments removed.
    ///
    /// ```
    /// use tidings_sse::client::Url;
    ///
    /// let base = Url::parse("http://h/a/b/c?q")?;
    /// assert_eq!(base.join("../d")?.to_string(), "http://h/a/d");
    /// assert_eq!(base.join("?r")?.to_string(), "http://h/a/b/c?r");
    /// assert_eq!(base.join("//other/x")?.to_string(), "http://other/x");
    /// # Ok::<(), tidings_sse::client::UrlError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A [`UrlError`] when the result is not a URL [`parse`](Self::parse) accepts.
    pub fn join(&self, location: &str) -> Result<Self, UrlError> {
        let location = location.trim_matches([' ', '\t']);
        let location = location
            .split_once('#')
            .map_or(location, |(before, _)| before);
        let scheme = if self.https { "https" } else { "http" };
        // scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), before any '/' or '?'.
        let first = location.find(['/', '?']).unwrap_or(location.len());
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
        let (base_path, _) = split_query(&self.target);
        let target = if location.is_empty() {
            // "an empty reference refers to the current document".
            self.target.clone()
        } else if location.starts_with('?') {
            format!("{base_path}{location}")
        } else {
            let (path, query) = split_query(location);
            let merged = if path.starts_with('/') {
                path.to_owned()
            } else {
                // Merge: everything up to the last '/' of the base path.
                let dir = base_path
                    .rfind('/')
                    .map_or("/", |slash| &base_path[..=slash]);
                format!("{dir}{path}")
            };
            let mut target = remove_dot_segments(&merged);
            if let Some(query) = query {
                target.push('?');
                target.push_str(query);
            }
            target
        };
        Self::parse(&format!("{scheme}://{}{target}", self.host_header()))
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        write!(f, "{scheme}://{}{}", self.host_header(), self.target)
    }
}

fn default_port(https: bool) -> u16 {
    if https { 443 } else { 80 }
}

/// `path?query` into the path and the query, if any.
fn split_query(target: &str) -> (&str, Option<&str>) {
    match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    }
}

/// RFC 3986 §5.2.4 "Remove Dot Segments", for a path that starts with `/`.
fn remove_dot_segments(path: &str) -> String {
    let mut out: alloc::vec::Vec<&str> = alloc::vec::Vec::new();
    let segments: alloc::vec::Vec<&str> = path.split('/').skip(1).collect();
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *segment {
            "." | ".." => {
                if *segment == ".." {
                    out.pop();
                }
                // A trailing "." or ".." leaves the path ending in '/'.
                if last {
                    out.push("");
                }
            }
            other => out.push(other),
        }
    }
    let mut result = String::with_capacity(path.len());
    for segment in out {
        result.push('/');
        result.push_str(segment);
    }
    if result.is_empty() {
        result.push('/');
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn parse() {
        let url = Url::parse("HTTP://Example.com:8080/a/b?c=d#frag").unwrap();
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
        assert_eq!(Url::parse("http://h?x").unwrap().target(), "/?x");
        assert_eq!(Url::parse("http://h:/").unwrap().port(), 80);
        assert_eq!(Url::parse("https://h:443/").unwrap().host_header(), "h");
        for (bad, error) in [
            ("ws://x/", UrlError::Scheme),
            ("x", UrlError::Scheme),
            ("ftp://x/", UrlError::Scheme),
            ("http://u@x/", UrlError::Userinfo),
            ("http:///p", UrlError::Host),
            ("http://[::1/", UrlError::Host),
            ("http://[zz]/", UrlError::Host),
            ("http://exa<mple/", UrlError::Host),
            ("http://x:99999/", UrlError::Port),
            ("http://x:8x/", UrlError::Port),
            ("http://[::1]x/", UrlError::Port),
            ("http://a b/", UrlError::Character),
            ("http://x/\r\nX: y", UrlError::Character),
            ("http://exämple/", UrlError::Character),
        ] {
            assert_eq!(Url::parse(bad), Err(error), "{bad}");
        }
    }

    #[test]
    fn origins() {
        let a = Url::parse("http://Host/a").unwrap();
        assert!(a.same_origin(&Url::parse("http://host:80/b?c").unwrap()));
        assert!(!a.same_origin(&Url::parse("https://host/a").unwrap()));
        assert!(!a.same_origin(&Url::parse("http://host:81/a").unwrap()));
        assert!(!a.same_origin(&Url::parse("http://other/a").unwrap()));
    }

    /// RFC 3986 §5.4.1 "Normal Examples", those a redirect can carry (no fragments,
    /// no other schemes), against its base `http://a/b/c/d;p?q`.
    #[test]
    fn join_rfc3986_5_4_1() {
        let base = Url::parse("http://a/b/c/d;p?q").unwrap();
        let cases = [
            ("g", "http://a/b/c/g"),
            ("./g", "http://a/b/c/g"),
            ("g/", "http://a/b/c/g/"),
            ("/g", "http://a/g"),
            ("//g", "http://g/"),
            ("?y", "http://a/b/c/d;p?y"),
            ("g?y", "http://a/b/c/g?y"),
            (";x", "http://a/b/c/;x"),
            ("g;x", "http://a/b/c/g;x"),
            ("", "http://a/b/c/d;p?q"),
            (".", "http://a/b/c/"),
            ("./", "http://a/b/c/"),
            ("..", "http://a/b/"),
            ("../", "http://a/b/"),
            ("../g", "http://a/b/g"),
            ("../..", "http://a/"),
            ("../../", "http://a/"),
            ("../../g", "http://a/g"),
            ("../../../g", "http://a/g"),
            ("g#s", "http://a/b/c/g"),
        ];
        for (location, want) in cases {
            assert_eq!(base.join(location).unwrap().to_string(), want, "{location}");
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
        let plain = Url::parse("https://h/").unwrap();
        assert_eq!(plain.join("x").unwrap().to_string(), "https://h/x");
        assert_eq!(plain.join("//o/").unwrap().to_string(), "https://o/");
        assert!(base.join("mailto:x").is_err());
        assert!(base.join("gopher://x/").is_err());
    }
}
