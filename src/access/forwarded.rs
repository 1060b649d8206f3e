//! Who the client is when the peer is a proxy: `X-Forwarded-For` and `X-Forwarded-Proto`, read
//! only from peers named with `--trust-proxy`. From any other peer they are ignored: anyone can
//! send them.
//!
//! Out of scope: what the address is used for (the log, the login limit).

use crate::config::Cidr;
use crate::http::Headers;
use std::net::IpAddr;

/// Most `X-Forwarded-For` entries looked at, from the right.
pub const MAX_FORWARDED_HOPS: usize = 16;

/// The client of a request and whether it spoke HTTPS (to the first proxy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    pub addr: IpAddr,
    /// Whether `addr` came from `X-Forwarded-For` (else it is the peer's).
    pub forwarded: bool,
    pub https: bool,
}

fn trusted(trust: &[Cidr], ip: IpAddr) -> bool {
    trust.iter().any(|c| c.contains(ip))
}

/// The client: for a trusted peer, the rightmost `X-Forwarded-For` entry that is not itself a
/// trusted proxy (entries to its left could have been written by the client); else the peer.
/// A malformed entry ends the walk: the last good address stands.
pub fn client(peer: IpAddr, headers: &Headers, trust: &[Cidr]) -> Client {
    let direct = Client {
        addr: peer,
        forwarded: false,
        https: false,
    };
    if !trusted(trust, peer) {
        return direct;
    }
    let mut addr = peer;
    let mut forwarded = false;
    // Several fields are one list, in order (RFC 9110 §5.3); walk it from the end. The last
    // MAX_FORWARDED_HOPS entries are kept in a ring as they pass (no allocation per request).
    let mut last: [&[u8]; MAX_FORWARDED_HOPS] = [&[]; MAX_FORWARDED_HOPS];
    let mut seen = 0usize;
    for entry in headers.list("x-forwarded-for") {
        if let Some(slot) = last.get_mut(seen % MAX_FORWARDED_HOPS) {
            *slot = entry;
        }
        seen += 1;
    }
    for back in 1..=seen.min(MAX_FORWARDED_HOPS) {
        let entry = last.get((seen - back) % MAX_FORWARDED_HOPS).copied();
        let Some(ip) = entry.and_then(parse_entry) else {
            break;
        };
        addr = ip;
        forwarded = true;
        if !trusted(trust, ip) {
            break;
        }
    }
    // The proto the first proxy saw: with several proxies, the leftmost value.
    let https = headers
        .list("x-forwarded-proto")
        .next()
        .is_some_and(|p| p.eq_ignore_ascii_case(b"https"));
    Client {
        addr,
        forwarded,
        https,
    }
}

/// One `X-Forwarded-For` entry: an address, maybe bracketed or with a port.
fn parse_entry(entry: &[u8]) -> Option<IpAddr> {
    let text = std::str::from_utf8(entry).ok()?.trim();
    if let Ok(ip) = text.parse() {
        return Some(ip);
    }
    if let Ok(sock) = text.parse::<std::net::SocketAddr>() {
        return Some(sock.ip());
    }
    text.strip_prefix('[')?.strip_suffix(']')?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::parse::parse_for_test;

    fn headers(fields: &str) -> Headers {
        parse_for_test(&format!("GET / HTTP/1.1\r\nHost: h\r\n{fields}\r\n")).headers
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_headers_count_only_from_trusted_peers() {
        let trust = [
            Cidr::parse("127.0.0.1").unwrap(),
            Cidr::parse("10.0.0.0/8").unwrap(),
        ];
        let cases: &[(&str, &str, &str, bool)] = &[
            // (peer, fields, client, https)
            (
                "127.0.0.1",
                "X-Forwarded-For: 203.0.113.7\r\n",
                "203.0.113.7",
                false,
            ),
            (
                "127.0.0.1",
                "X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\n",
                "203.0.113.7",
                true,
            ),
            // A client's own forged entry is to the left of the one the proxy wrote.
            (
                "127.0.0.1",
                "X-Forwarded-For: 1.1.1.1, 203.0.113.7\r\n",
                "203.0.113.7",
                false,
            ),
            // Trusted hops on the right are skipped.
            (
                "127.0.0.1",
                "X-Forwarded-For: 203.0.113.7, 10.1.2.3\r\n",
                "203.0.113.7",
                false,
            ),
            (
                "127.0.0.1",
                "X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-For: 10.1.2.3\r\n",
                "203.0.113.7",
                false,
            ),
            // Garbage on the right: the walk stops at the last good address.
            (
                "127.0.0.1",
                "X-Forwarded-For: 203.0.113.7, unknown\r\n",
                "127.0.0.1",
                false,
            ),
            (
                "127.0.0.1",
                "X-Forwarded-For: [2001:db8::1]:443\r\n",
                "2001:db8::1",
                false,
            ),
            (
                "127.0.0.1",
                "X-Forwarded-For: 198.51.100.2:5000\r\n",
                "198.51.100.2",
                false,
            ),
            ("127.0.0.1", "", "127.0.0.1", false),
            // From anyone else, ignored.
            (
                "192.0.2.1",
                "X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\n",
                "192.0.2.1",
                false,
            ),
        ];
        for (peer, fields, want, https) in cases {
            let c = client(ip(peer), &headers(fields), &trust);
            assert_eq!((c.addr, c.https), (ip(want), *https), "{peer} {fields:?}");
        }
        // All hops trusted: the leftmost stands.
        let c = client(
            ip("127.0.0.1"),
            &headers("X-Forwarded-For: 10.0.0.1, 10.0.0.2\r\n"),
            &trust,
        );
        assert_eq!(c.addr, ip("10.0.0.1"));
        // No --trust-proxy at all: never believed.
        let c = client(
            ip("127.0.0.1"),
            &headers("X-Forwarded-For: 203.0.113.7\r\n"),
            &[],
        );
        assert_eq!(c.addr, ip("127.0.0.1"));
    }

    #[test]
    fn a_long_forwarded_list_is_walked_only_so_far() {
        let trust = [Cidr::parse("0.0.0.0/0").unwrap()];
        let list: Vec<String> = (0..100).map(|i| format!("10.0.0.{i}")).collect();
        let fields = format!("X-Forwarded-For: {}\r\n", list.join(", "));
        let c = client(ip("127.0.0.1"), &headers(&fields), &trust);
        assert_eq!(c.addr, ip(&format!("10.0.0.{}", 100 - MAX_FORWARDED_HOPS)));
    }
}
