//! Percent-encoding of request targets (RFC 3986 §2.1): checking it and decoding it, once.
//!
//! Out of scope: what a decoded path means (the application's router and file store decide).

use crate::http::error::Error;
use crate::http::scan::find;

/// Whether every `%` is followed by two hex digits (RFC 3986 §2.1).
pub fn is_valid_percent_encoding(s: &[u8]) -> bool {
    // Most paths have no escape at all: one fast search settles them.
    let Some(first) = find(s, b'%') else {
        return true;
    };
    let s = s.get(first..).unwrap_or_default();
    s.iter().enumerate().all(|(i, &b)| {
        b != b'%'
            || (s.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && s.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    })
}

/// Decodes `%XX` escapes (RFC 3986 §2.1). `+` stays `+`: that is form encoding, not URI syntax.
///
/// # Errors
/// 400 for a `%` not followed by two hex digits.
pub fn percent_decode(s: &[u8]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        if b == b'%' {
            let hex = |j: usize| s.get(j).and_then(|&c| (c as char).to_digit(16));
            match (hex(i + 1), hex(i + 2)) {
                (Some(hi), Some(lo)) => out.push((hi * 16 + lo) as u8),
                _ => return Err(Error::BadRequest("invalid percent-encoding")),
            }
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    Ok(out)
}

/// The value of `key` in a request target's query, decoded as an HTML form sends it (`+` is a
/// space, then percent-decoding); `None` when the query has no such key. The first of several
/// wins.
///
/// # Errors
/// 400 for invalid percent-encoding in the value.
pub fn query_value(target: &[u8], key: &str) -> Option<Result<Vec<u8>, Error>> {
    let start = target.iter().position(|&b| b == b'?')? + 1;
    let query = target.get(start..)?;
    let query = query.split(|&b| b == b'#').next().unwrap_or_default();
    query.split(|&b| b == b'&').find_map(|pair| {
        let (k, v) = match pair.iter().position(|&b| b == b'=') {
            Some(eq) => (pair.get(..eq)?, pair.get(eq + 1..)?),
            None => (pair, &b""[..]),
        };
        (k == key.as_bytes()).then(|| {
            let spaced: Vec<u8> = v
                .iter()
                .map(|&b| if b == b'+' { b' ' } else { b })
                .collect();
            percent_decode(&spaced)
        })
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_form_values_from_the_query() {
        let t = b"/files/?q=caf%C3%A9+au+lait&format=json&empty&q=second";
        assert_eq!(
            query_value(t, "q").unwrap().unwrap(),
            "café au lait".as_bytes()
        );
        assert_eq!(query_value(t, "format").unwrap().unwrap(), b"json");
        assert_eq!(query_value(t, "empty").unwrap().unwrap(), b"");
        assert!(query_value(t, "none").is_none());
        assert!(query_value(b"/files/", "q").is_none());
        assert!(query_value(b"/files/?q=%zz", "q").unwrap().is_err());
        assert!(query_value(b"/f?a=1#q=2", "q").is_none());
    }

    use super::*;

    #[test]
    fn decodes_percent_escapes() {
        assert_eq!(percent_decode(b"a%20b%2Fc%2f").unwrap(), b"a b/c/");
        assert_eq!(percent_decode(b"100%25+1").unwrap(), b"100%+1");
        assert_eq!(percent_decode(b"%e2%82%ac").unwrap(), "\u{20ac}".as_bytes());
        for bad in [&b"%"[..], b"%2", b"%zz", b"a%g0"] {
            assert!(percent_decode(bad).is_err());
        }
    }
}
