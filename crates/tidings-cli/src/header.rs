//! `-H 'Name: value'` and `--protocol NAME`, checked by clap's parser before any
//! library sees them, the same way for `ws` and `sse`: a mistake is bad usage
//! (status 2) named for the option that holds it (not blamed on the URL), whatever
//! the library's own checks say.
//!
//! The rules are HTTP's (RFC 9110), kept to what every server reads alike:
//!
//! ```text
//! field-name  = token                      ; §5.1
//! token       = 1*tchar                    ; §5.6.2
//! field-value = *( VCHAR / SP / HTAB )     ; §5.5, less obs-text: "Newly defined
//!                                          ; fields SHOULD limit their values to
//!                                          ; US-ASCII octets"
//! ```
//!
//! Leading and trailing spaces and tabs around the value (`OWS`) are not part of it.

/// A `-H`/`--header` argument (`Name: value`) split into its name and value, or
/// what is wrong with it.
pub(crate) fn parse(header: &str) -> Result<(String, String), String> {
    let Some((name, value)) = header.split_once(':') else {
        return Err("expected 'Name: value'".to_owned());
    };
    let (name, value) = (name.trim_matches(is_ows), value.trim_matches(is_ows));
    if !is_token(name) {
        return Err(format!(
            "the name {name:?} is not an HTTP token (letters, digits and !#$%&'*+-.^_`|~)"
        ));
    }
    if let Some(c) = value.chars().find(|&c| !is_value_char(c)) {
        return Err(format!(
            "the value may hold visible ASCII, spaces and tabs only, not {c:?} (encode it \
             first, with percent-encoding or base64)"
        ));
    }
    Ok((name.to_owned(), value.to_owned()))
}

/// `token = 1*tchar` (RFC 9110 §5.6.2): a header name, and a WebSocket subprotocol
/// name (RFC 6455 §4.1 asks for "characters in the range U+0021 to U+007E not
/// including separator characters", which is the same set).
pub(crate) fn is_token(s: &str) -> bool {
    // tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
    //         "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A `--protocol NAME` argument: a token (clap reports the error, status 2).
pub(crate) fn protocol(name: &str) -> Result<String, String> {
    if is_token(name) {
        Ok(name.to_owned())
    } else {
        Err("a subprotocol name is an HTTP token: letters, digits and !#$%&'*+-.^_`|~".to_owned())
    }
}

/// `VCHAR / SP / HTAB`.
fn is_value_char(c: char) -> bool {
    c == ' ' || c == '\t' || c.is_ascii_graphic()
}

/// `OWS = *( SP / HTAB )`.
fn is_ows(c: char) -> bool {
    c == ' ' || c == '\t'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_headers_are_split_and_trimmed() {
        let ok = |name: &str, value: &str| Ok((name.to_owned(), value.to_owned()));
        assert_eq!(parse("X-A: b c"), ok("X-A", "b c"));
        assert_eq!(parse("X-A:\tb\t "), ok("X-A", "b"));
        assert_eq!(parse("X-A:"), ok("X-A", ""));
        assert_eq!(
            parse("Authorization: Bearer a:b=="),
            ok("Authorization", "Bearer a:b==")
        );
    }

    #[test]
    fn bad_headers_name_the_part_at_fault() {
        let no_colon = parse("X-A b").unwrap_err();
        assert!(no_colon.contains("expected 'Name: value'"), "{no_colon}");
        for name in ["", "X A", "X\u{e9}", "X(A)"] {
            let e = parse(&format!("{name}: b")).unwrap_err();
            assert!(e.contains("not an HTTP token"), "{name:?}: {e}");
        }
        for value in ["\u{e9}", "a\u{7f}", "a\u{0}b", "a\rb"] {
            let e = parse(&format!("X: {value}")).unwrap_err();
            assert!(e.contains("the value"), "{value:?}: {e}");
        }
    }

    #[test]
    fn protocols_are_tokens() {
        assert_eq!(protocol("chat.v1"), Ok("chat.v1".to_owned()));
        assert!(protocol("").is_err());
        assert!(protocol("a b").is_err());
        assert!(protocol("a,b").is_err());
    }
}
