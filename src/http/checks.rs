//! The checks on a parsed head that routing does not make: Host, body framing and Expect, and
//! whether the client wants the connection kept. Pure functions of the head.

use super::body::{self, Framing};
use super::parse::Head;
use super::Version;
use crate::http::error::Error;

/// The checks on a head that routing does not make: Host (RFC 9112 §3.2), body framing, and
/// Expect (RFC 9110 §10.1.1). Returns the framing and whether the client awaits 100 Continue.
pub fn check_head(head: &Head) -> Result<(Framing, bool), Error> {
    if head.version == Version::Http11 {
        let mut hosts = head.headers.get_all("host");
        match (hosts.next(), hosts.next()) {
            (Some(host), None) if is_valid_host(host) => {}
            (Some(_), None) => return Err(Error::BadRequest("invalid Host")),
            (None, _) => return Err(Error::BadRequest("missing Host")),
            (Some(_), Some(_)) => return Err(Error::BadRequest("more than one Host")),
        }
    }
    let framing = body::framing(head)?;
    // An HTTP/1.0 client cannot expect 100 Continue; the field is ignored there.
    let mut expect_continue = false;
    if head.version == Version::Http11 && head.headers.get("expect").is_some() {
        for e in head.headers.list("expect") {
            if !e.eq_ignore_ascii_case(b"100-continue") {
                return Err(Error::ExpectationFailed);
            }
            expect_continue = true;
        }
    }
    Ok((framing, expect_continue))
}

/// uri-host [ ":" port ] in the characters RFC 3986 allows (reg-name, IP literals, IPv4).
fn is_valid_host(host: &[u8]) -> bool {
    host.iter()
        .all(|&b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:[]%".contains(&b))
}

/// HTTP/1.1 persists unless the client says close; HTTP/1.0 only if it says keep-alive
/// (RFC 9112 §9.3).
pub fn wants_keep_alive(head: &Head) -> bool {
    let close = head.headers.has_token("connection", "close");
    match head.version {
        Version::Http11 => !close,
        Version::Http10 => !close && head.headers.has_token("connection", "keep-alive"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::parse::parse_for_test as head;

    /// The framing and 100-continue wish a head passes with, or the status it fails with.
    type Checked = Result<(Framing, bool), u16>;

    #[test]
    fn checks_host_framing_and_expect() {
        let cases: &[(&str, Checked)] = &[
            (
                "GET / HTTP/1.1\r\nHost: a:1\r\n\r\n",
                Ok((Framing::None, false)),
            ),
            (
                "GET / HTTP/1.1\r\nHost:\r\n\r\n",
                Ok((Framing::None, false)),
            ),
            (
                "GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
                Ok((Framing::None, false)),
            ),
            ("GET / HTTP/1.0\r\n\r\n", Ok((Framing::None, false))),
            ("GET / HTTP/1.1\r\n\r\n", Err(400)),
            ("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", Err(400)),
            ("GET / HTTP/1.1\r\nHost: a@b\r\n\r\n", Err(400)),
            (
                "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-Continue\r\n\r\n",
                Ok((Framing::Length(3), true)),
            ),
            (
                "PUT / HTTP/1.0\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n",
                Ok((Framing::Length(3), false)),
            ),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue, x\r\n\r\n",
                Err(417),
            ),
        ];
        for (raw, want) in cases {
            assert_eq!(
                &check_head(&head(raw)).map_err(|e| e.status().0),
                want,
                "{raw:?}"
            );
        }
    }

    #[test]
    fn keep_alive_follows_version_and_connection() {
        for (raw, want) in [
            ("GET / HTTP/1.1\r\n\r\n", true),
            ("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false),
            (
                "GET / HTTP/1.1\r\nConnection: keep-alive, CLOSE\r\n\r\n",
                false,
            ),
            ("GET / HTTP/1.0\r\n\r\n", false),
            ("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true),
        ] {
            assert_eq!(wants_keep_alive(&head(raw)), want, "{raw:?}");
        }
    }
}
