//! `Sec-WebSocket-Extensions` offers and answers (RFC 6455 §9.1).
//!
//! Extensions are negotiated here but implemented elsewhere (tidings-ws
//! implements permessage-deflate from these values), so this module only
//! turns the header grammar into plain data and back, keeping the order of
//! extensions and of their parameters: RFC 6455 §9.1 makes the order of
//! offers a preference order, and RFC 7692 lets a client offer the same
//! extension twice with different parameters.
//!
//! ```text
//! Sec-WebSocket-Extensions = extension-list
//! extension-list = 1#extension
//! extension = extension-token *( ";" extension-param )
//! extension-token = registered-token
//! registered-token = token
//! extension-param = token [ "=" (token | quoted-string) ]
//!     ;When using the quoted-string syntax variant, the value
//!     ;after quoted-string unescaping MUST conform to the
//!     ;'token' ABNF.
//! ```
//!
//! Every value is stored unescaped, and because it must then be a token it is
//! always written back as a token. Values are owned `String`s: extension
//! headers are rare and short, and quoted-string unescaping cannot borrow.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use bytes::BufMut;

use crate::error::LocalError;
use crate::head::{is_tchar, is_token};

/// One extension in an offer or an answer: a name and ordered parameters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Extension {
    name: String,
    params: Vec<ExtensionParam>,
}

/// One `extension-param`: a name and an optional value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExtensionParam {
    name: String,
    value: Option<String>,
}

impl Extension {
    /// An extension with no parameters. `name` must be a token.
    pub fn new(name: &str) -> Result<Self, LocalError> {
        if !is_token(name.as_bytes()) {
            return Err(LocalError::Extension);
        }
        Ok(Self {
            name: name.into(),
            params: Vec::new(),
        })
    }

    /// Appends a parameter, e.g. `("client_max_window_bits", None)` or
    /// `("server_max_window_bits", Some("10"))`. Both must be tokens.
    pub fn with_param(mut self, name: &str, value: Option<&str>) -> Result<Self, LocalError> {
        let value_ok = value.is_none_or(|v| is_token(v.as_bytes()));
        if !is_token(name.as_bytes()) || !value_ok {
            return Err(LocalError::Extension);
        }
        self.params.push(ExtensionParam {
            name: name.into(),
            value: value.map(String::from),
        });
        Ok(self)
    }

    /// An extension this crate writes itself; `name` is a token.
    pub(crate) fn from_parts(name: &str, params: Vec<ExtensionParam>) -> Self {
        debug_assert!(is_token(name.as_bytes()));
        Self {
            name: name.into(),
            params,
        }
    }

    /// The extension's name, e.g. `permessage-deflate`.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The parameters, in the order written.
    #[must_use]
    pub fn params(&self) -> &[ExtensionParam] {
        &self.params
    }

    /// Parses every `Sec-WebSocket-Extensions` value of a head, in order,
    /// into one list. `None` if any value breaks the §9.1 grammar.
    pub fn parse_all<'v>(values: impl IntoIterator<Item = &'v [u8]>) -> Option<Vec<Self>> {
        let mut out = Vec::new();
        for value in values {
            parse_list(value, &mut out)?;
        }
        Some(out)
    }

    /// Writes the wire form, e.g. `permessage-deflate; client_max_window_bits`.
    pub(crate) fn put(&self, buf: &mut impl BufMut) {
        buf.put_slice(self.name.as_bytes());
        for p in &self.params {
            buf.put_slice(b"; ");
            buf.put_slice(p.name.as_bytes());
            if let Some(v) = &p.value {
                buf.put_u8(b'=');
                buf.put_slice(v.as_bytes());
            }
        }
    }
}

impl ExtensionParam {
    /// A parameter this crate writes itself; `name` and `value` are tokens.
    pub(crate) fn new(name: &str, value: Option<String>) -> Self {
        debug_assert!(is_token(name.as_bytes()));
        debug_assert!(value.as_ref().is_none_or(|v| is_token(v.as_bytes())));
        Self {
            name: name.into(),
            value,
        }
    }

    /// The parameter's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The parameter's value, unescaped, if it has one.
    #[must_use]
    pub fn value(&self) -> Option<&str> {
        self.value.as_deref()
    }
}

impl fmt::Display for Extension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        for p in &self.params {
            write!(f, "; {}", p.name)?;
            if let Some(v) = &p.value {
                write!(f, "={v}")?;
            }
        }
        Ok(())
    }
}

/// Writes `a, b; x=1` for a whole list.
pub(crate) fn put_list(buf: &mut impl BufMut, list: &[Extension]) {
    for (i, ext) in list.iter().enumerate() {
        if i > 0 {
            buf.put_slice(b", ");
        }
        ext.put(buf);
    }
}

/// A cursor over one header value.
struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    fn bump(&mut self) {
        self.rest = self.rest.get(1..).unwrap_or(&[]);
    }

    /// `OWS`; also accepted around `;` and `=` (RFC 9110's `BWS`).
    fn skip_ows(&mut self) {
        while let Some(b' ' | b'\t') = self.peek() {
            self.bump();
        }
    }

    /// `token`, or `None` if there is none here.
    fn token(&mut self) -> Option<&'a [u8]> {
        let n = self.rest.iter().take_while(|&&b| is_tchar(b)).count();
        let (token, rest) = self.rest.split_at(n);
        self.rest = rest;
        (n > 0).then_some(token)
    }

    /// `quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE`, unescaped;
    /// the opening quote is already consumed. §9.1 requires the unescaped
    /// value to be a token, so anything else (including an escaped space) is
    /// refused here.
    fn quoted(&mut self) -> Option<String> {
        let mut out = String::new();
        loop {
            let b = self.peek()?;
            self.bump();
            let c = match b {
                b'"' => break,
                // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
                b'\\' => {
                    let c = self.peek()?;
                    self.bump();
                    c
                }
                c => c,
            };
            if !is_tchar(c) {
                return None;
            }
            out.push(char::from(c));
        }
        (!out.is_empty()).then_some(out)
    }
}

/// Appends the extensions in one header value to `out`.
fn parse_list(value: &[u8], out: &mut Vec<Extension>) -> Option<()> {
    let mut cur = Cursor { rest: value };
    loop {
        // 1#extension: empty elements between commas are allowed.
        cur.skip_ows();
        match cur.peek() {
            None => return Some(()),
            Some(b',') => {
                cur.bump();
                continue;
            }
            Some(_) => {}
        }
        let name = cur.token()?;
        let mut ext = Extension {
            name: ascii(name),
            params: Vec::new(),
        };
        loop {
            cur.skip_ows();
            if cur.peek() != Some(b';') {
                break;
            }
            cur.bump();
            cur.skip_ows();
            let name = ascii(cur.token()?);
            cur.skip_ows();
            let value = if cur.peek() == Some(b'=') {
                cur.bump();
                cur.skip_ows();
                if cur.peek() == Some(b'"') {
                    cur.bump();
                    Some(cur.quoted()?)
                } else {
                    Some(ascii(cur.token()?))
                }
            } else {
                None
            };
            ext.params.push(ExtensionParam { name, value });
        }
        out.push(ext);
        match cur.peek() {
            None => return Some(()),
            Some(b',') => cur.bump(),
            Some(_) => return None,
        }
    }
}

/// A token as a `String` (tokens are ASCII).
fn ascii(token: &[u8]) -> String {
    token.iter().map(|&b| char::from(b)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn parse(v: &str) -> Option<Vec<Extension>> {
        Extension::parse_all([v.as_bytes()])
    }

    #[test]
    fn rfc7692_offer_keeps_order_and_parameters() {
        let got = parse(
            "permessage-deflate; client_max_window_bits; server_max_window_bits=10, \
             permessage-deflate;client_max_window_bits",
        )
        .unwrap();
        let want = [
            Extension::new("permessage-deflate")
                .and_then(|e| e.with_param("client_max_window_bits", None))
                .and_then(|e| e.with_param("server_max_window_bits", Some("10")))
                .unwrap(),
            Extension::new("permessage-deflate")
                .and_then(|e| e.with_param("client_max_window_bits", None))
                .unwrap(),
        ];
        assert_eq!(got, want);
        assert_eq!(
            want[0].to_string(),
            "permessage-deflate; client_max_window_bits; server_max_window_bits=10"
        );
    }

    #[test]
    fn quoted_values_are_unescaped() {
        let got = parse(r#"foo; a="10"; b = "x\y" ,, bar"#).unwrap();
        assert_eq!(got[0].params()[0].value(), Some("10"));
        assert_eq!(got[0].params()[1].name(), "b");
        assert_eq!(got[0].params()[1].value(), Some("xy"));
        assert_eq!(got[1].name(), "bar");
        assert_eq!(parse(" , ").unwrap(), []);
    }

    #[test]
    fn grammar_violations_are_refused() {
        for bad in [
            "foo;",
            "foo; =1",
            "foo; a=",
            "foo; a=\"\"",
            "foo; a=\"1 2\"",
            "foo; a=\"unterminated",
            "foo bar",
            "foo; a=1 b",
            "\"foo\"",
            "foo; a=\"x\\",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn local_values_must_be_tokens() {
        assert_eq!(Extension::new("a b"), Err(LocalError::Extension));
        assert!(
            Extension::new("x")
                .unwrap()
                .with_param("p", Some("a\r\n"))
                .is_err()
        );
    }
}
