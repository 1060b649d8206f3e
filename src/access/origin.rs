//! Checks against other web sites, which act through a visitor's browser.
//!
//! - DNS rebinding: a page on `attacker.example` makes its name resolve to 127.0.0.1, and its
//!   script then reads and writes this server as if same-origin. The browser still sends
//!   `Host: attacker.example`, so a server that answers only for names it knows is safe:
//!   [`host_is_allowed`].
//! - Cross-site writes: a page elsewhere sends a form or a `fetch` (a `text/plain` POST needs no
//!   CORS preflight) with the visitor's credentials. Browsers say where a request comes from
//!   (`Sec-Fetch-Site`, and `Origin` on every write): [`check_cross_site`].
//!
//! Out of scope: who the user is (`basic`, `users`).

use crate::http::Headers;
use std::net::IpAddr;

/// Whether `host` (a `Host` value: a name or an address, with or without a port) is one that
/// this server answers for.
///
/// Always: loopback names (`localhost` and names under it, RFC 6761 §6.3) and loopback
/// addresses, and the names in `allowed` (compared without case and port). While the server
/// listens on loopback only, nothing else. On other addresses, any IP address too (no DNS is
/// involved, so nothing to rebind), and any name at all if `allowed` is empty (the user has
/// not said which names are the server's).
pub fn host_is_allowed(host: &[u8], loopback_only: bool, allowed: &[String]) -> bool {
    let Some((name, _port)) = split_host_port(host) else {
        return false;
    };
    if let Some(ip) = parse_ip(name) {
        return ip.is_loopback() || !loopback_only;
    }
    let name = name.strip_suffix(b".").unwrap_or(name);
    let is = |n: &[u8], want: &[u8]| n.eq_ignore_ascii_case(want);
    let under_localhost = name.len() > 10
        && name
            .get(name.len() - 10..)
            .is_some_and(|tail| is(tail, b".localhost"));
    if is(name, b"localhost") || under_localhost {
        return true;
    }
    if allowed.iter().any(|a| is(name, a.as_bytes())) {
        return true;
    }
    !loopback_only && allowed.is_empty()
}

/// The name (or bracketed IPv6 address, brackets kept) and port of a `Host` value or of an
/// origin's authority; `None` when malformed.
fn split_host_port(host: &[u8]) -> Option<(&[u8], Option<u16>)> {
    let (name, port) = if host.first() == Some(&b'[') {
        let end = host.iter().position(|&b| b == b']')?;
        let (name, rest) = host.split_at(end + 1);
        match rest {
            [] => (name, None),
            [b':', port @ ..] => (name, Some(port)),
            _ => return None,
        }
    } else {
        match host.iter().rposition(|&b| b == b':') {
            Some(i) => (host.get(..i)?, Some(host.get(i + 1..)?)),
            None => (host, None),
        }
    };
    if name.is_empty()
        || !name.iter().all(|&b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'[' | b']' | b':')
        })
    {
        return None;
    }
    let port = match port {
        None => None,
        Some(p) if !p.is_empty() && p.len() <= 5 && p.iter().all(u8::is_ascii_digit) => {
            Some(std::str::from_utf8(p).ok()?.parse().ok()?)
        }
        Some(_) => return None,
    };
    Some((name, port))
}

fn parse_ip(name: &[u8]) -> Option<IpAddr> {
    let text = std::str::from_utf8(name).ok()?;
    match text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        Some(v6) => v6.parse().ok(),
        None => text.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4),
    }
}

/// Refuses a write that a browser says comes from another site: `Sec-Fetch-Site` of
/// `cross-site` or `same-site` (another port or subdomain is another origin), or an `Origin`
/// whose scheme, host and port are not this request's (`https` is whether the client spoke
/// TLS, as a trusted proxy says). Clients that send neither (curl, scripts) pass.
///
/// # Errors
/// The reason, for a 403.
pub fn check_cross_site(headers: &Headers, https: bool) -> Result<(), &'static str> {
    if let Some(site) = headers.get("sec-fetch-site") {
        if site.eq_ignore_ascii_case(b"cross-site") || site.eq_ignore_ascii_case(b"same-site") {
            return Err("a write from another web site (Sec-Fetch-Site)");
        }
    }
    let Some(origin) = headers.get("origin") else {
        return Ok(());
    };
    let host = headers.get("host").unwrap_or_default();
    if same_origin(origin, host, https) {
        Ok(())
    } else {
        Err("a write from another web site (Origin is not this server)")
    }
}

/// Whether `origin` (`scheme://host[:port]`, RFC 6454) names this server as reached with
/// `host` over `https` or plain HTTP. `null` (a sandboxed frame, a file) never does.
fn same_origin(origin: &[u8], host: &[u8], https: bool) -> bool {
    let (scheme, default_port, authority) = if let Some(rest) = strip_ci(origin, b"https://") {
        ("https", 443, rest)
    } else if let Some(rest) = strip_ci(origin, b"http://") {
        ("http", 80, rest)
    } else {
        return false;
    };
    if (scheme == "https") != https {
        return false;
    }
    let ours_default = if https { 443 } else { 80 };
    match (split_host_port(authority), split_host_port(host)) {
        (Some((o_name, o_port)), Some((h_name, h_port))) => {
            o_name.eq_ignore_ascii_case(h_name)
                && o_port.unwrap_or(default_port) == h_port.unwrap_or(ours_default)
        }
        _ => false,
    }
}

fn strip_ci<'a>(s: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| s.get(prefix.len()..))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::parse::parse_for_test;

    fn allowed(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn host_names_on_loopback() {
        let none = allowed(&[]);
        let files = allowed(&["files.example.org"]);
        let cases: &[(&str, &[String], bool)] = &[
            ("localhost", &none, true),
            ("localhost:4221", &none, true),
            ("LOCALHOST:4221", &none, true),
            ("localhost.:4221", &none, true),
            ("app.localhost:8080", &none, true),
            ("127.0.0.1:4221", &none, true),
            ("127.0.0.2", &none, true),
            ("[::1]:4221", &none, true),
            ("[::1]", &none, true),
            ("attacker.example", &none, false),
            ("attacker.example:4221", &none, false),
            ("evillocalhost", &none, false),
            ("localhost.attacker.example", &none, false),
            ("10.0.0.5:4221", &none, false),
            ("[2001:db8::1]", &none, false),
            ("files.example.org", &files, true),
            ("FILES.example.org:443", &files, true),
            ("other.example.org", &files, false),
            ("", &none, false),
            (":4221", &none, false),
            ("localhost:", &none, false),
            ("localhost:99999x", &none, false),
            ("local host", &none, false),
            ("[::1", &none, false),
        ];
        for (host, names, want) in cases {
            assert_eq!(
                host_is_allowed(host.as_bytes(), true, names),
                *want,
                "{host}"
            );
        }
    }

    #[test]
    fn host_names_on_other_addresses() {
        let none = allowed(&[]);
        let files = allowed(&["files.example.org"]);
        let cases: &[(&str, &[String], bool)] = &[
            // No --allow-host: the user has not said which names are the server's.
            ("anything.example", &none, true),
            ("192.168.1.5:4221", &none, true),
            // With it, names are restricted; addresses cannot be rebound.
            ("files.example.org", &files, true),
            ("attacker.example", &files, false),
            ("192.168.1.5:4221", &files, true),
            ("[fe80::1]:4221", &files, true),
            ("localhost:4221", &files, true),
        ];
        for (host, names, want) in cases {
            assert_eq!(
                host_is_allowed(host.as_bytes(), false, names),
                *want,
                "{host}"
            );
        }
    }

    fn headers(fields: &str) -> Headers {
        parse_for_test(&format!("PUT /files/x HTTP/1.1\r\n{fields}\r\n")).headers
    }

    #[test]
    fn cross_site_writes() {
        let cases: &[(&str, bool, bool)] = &[
            // curl and the CodeCrafters checker send neither header.
            ("Host: localhost:4221\r\n", false, true),
            ("Host: localhost:4221\r\nOrigin: http://localhost:4221\r\n", false, true),
            ("Host: localhost:4221\r\nOrigin: HTTP://LOCALHOST:4221\r\n", false, true),
            ("Host: localhost\r\nOrigin: http://localhost:80\r\n", false, true),
            ("Host: files.example.org\r\nOrigin: https://files.example.org\r\n", true, true),
            ("Host: localhost:4221\r\nSec-Fetch-Site: same-origin\r\n", false, true),
            ("Host: localhost:4221\r\nSec-Fetch-Site: none\r\n", false, true),
            ("Host: localhost:4221\r\nOrigin: http://evil.example\r\n", false, false),
            ("Host: localhost:4221\r\nOrigin: http://localhost:8080\r\n", false, false),
            ("Host: localhost:4221\r\nOrigin: https://localhost:4221\r\n", false, false),
            ("Host: files.example.org\r\nOrigin: http://files.example.org\r\n", true, false),
            ("Host: localhost:4221\r\nOrigin: null\r\n", false, false),
            ("Host: localhost:4221\r\nOrigin: http://localhost:4221.evil\r\n", false, false),
            ("Host: localhost:4221\r\nSec-Fetch-Site: cross-site\r\n", false, false),
            ("Host: localhost:4221\r\nSec-Fetch-Site: same-site\r\n", false, false),
            (
                "Host: localhost:4221\r\nSec-Fetch-Site: same-origin\r\nOrigin: http://evil.example\r\n",
                false,
                false,
            ),
        ];
        for (fields, https, want) in cases {
            assert_eq!(
                check_cross_site(&headers(fields), *https).is_ok(),
                *want,
                "{fields:?} https={https}"
            );
        }
    }
}
