//! The request headers WebDAV adds (RFC 4918 §10): `If` (lock tokens and entity tags that a
//! write must present), `Depth`, `Overwrite`, `Timeout` and `Destination`, parsed strictly:
//! anything malformed is a 400 with the reason.
//!
//! Out of scope: what a parsed header means for a request (the WebDAV handlers and locks).

/// Most conditions in one `If` header, in all its lists (so at most as many lists). Most
/// clients send one or two; davfs2 sends one tagged list per lock it holds below a folder it
/// moves or deletes (a file copied in stays locked until it is uploaded, seconds later), so a
/// folder of fresh files needs as many. Checking a token scans the lock table: the cap keeps a
/// header to about a thousand scans, whatever `--max-head-bytes` allows.
pub const MAX_IF_CONDITIONS: usize = 1024;
/// Longest `Timeout` granted to a lock, whatever the client asks for (RFC 4918 §10.7 lets the
/// server choose): an abandoned lock is gone within the hour.
pub const MAX_LOCK_SECONDS: u64 = 3600;
/// The timeout of a lock whose request names none this server knows.
pub const DEFAULT_LOCK_SECONDS: u64 = 600;

/// One condition of an `If` list: a state token (a lock token) or an entity tag, maybe
/// negated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub not: bool,
    pub kind: ConditionKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConditionKind {
    /// `<urn:uuid:...>`: a lock token (or any URI; one no lock has never matches).
    Token(String),
    /// `["etag"]` or `[W/"etag"]`, as sent.
    ETag(String),
}

/// One list of an `If` header: all its conditions must hold, for the resource it is tagged
/// with (or, untagged, for the request's own resource).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfList {
    pub resource: Option<String>,
    pub conditions: Vec<Condition>,
}

/// Parses an `If` header (RFC 4918 §10.4): `(<token> ["etag"])`, `<resource> (Not <token>)`,
/// and so on. The header holds when any one of its lists does.
///
/// # Errors
/// The reason it is malformed (400).
pub fn parse_if(value: &[u8]) -> Result<Vec<IfList>, &'static str> {
    let text = std::str::from_utf8(value).map_err(|_| "the If header is not UTF-8")?;
    let mut rest = text.trim_start();
    let mut lists = Vec::new();
    let mut tagged: Option<bool> = None;
    let mut resource: Option<String> = None;
    let mut counted = 0;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('<') {
            // A resource tag: the lists after it are about that resource.
            if tagged == Some(false) {
                return Err("an If header mixes tagged and untagged lists");
            }
            tagged = Some(true);
            let (uri, after) = after
                .split_once('>')
                .ok_or("an If header's resource tag is not closed")?;
            if uri.is_empty() || uri.contains(char::is_whitespace) {
                return Err("an If header's resource tag is malformed");
            }
            resource = Some(uri.to_string());
            rest = after.trim_start();
            if !rest.starts_with('(') {
                return Err("an If header's resource tag has no list");
            }
            continue;
        }
        let after = rest
            .strip_prefix('(')
            .ok_or("an If header must be made of lists in parentheses")?;
        if tagged.is_none() {
            tagged = Some(false);
        }
        let (conditions, after) = parse_list(after, MAX_IF_CONDITIONS.saturating_sub(counted))?;
        counted += conditions.len();
        lists.push(IfList {
            resource: resource.clone(),
            conditions,
        });
        rest = after.trim_start();
    }
    if lists.is_empty() {
        return Err("an If header is empty");
    }
    Ok(lists)
}

/// The conditions of one list, after its `(`, at most `room` of them; returns them and what
/// follows its `)`.
fn parse_list(mut rest: &str, room: usize) -> Result<(Vec<Condition>, &str), &'static str> {
    let mut conditions = Vec::new();
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix(')') {
            if conditions.is_empty() {
                return Err("an If header has an empty list");
            }
            return Ok((conditions, after));
        }
        if conditions.len() >= room {
            return Err("an If header has too many conditions");
        }
        let not = match rest.get(..3) {
            Some(word) if word.eq_ignore_ascii_case("not") => {
                let after = rest.get(3..).unwrap_or_default();
                if !after.starts_with(char::is_whitespace) {
                    return Err("an If header's Not must be followed by a space");
                }
                rest = after.trim_start();
                true
            }
            _ => false,
        };
        let (kind, after) = if let Some(after) = rest.strip_prefix('<') {
            let (uri, after) = after
                .split_once('>')
                .ok_or("an If header's state token is not closed")?;
            if uri.is_empty() || uri.contains(char::is_whitespace) || !uri.contains(':') {
                return Err("an If header's state token is not an absolute URI");
            }
            (ConditionKind::Token(uri.to_string()), after)
        } else if let Some(after) = rest.strip_prefix('[') {
            let (tag, after) = after
                .split_once(']')
                .ok_or("an If header's entity tag is not closed")?;
            let opaque = tag.strip_prefix("W/").unwrap_or(tag);
            let quoted = opaque.len() >= 2 && opaque.starts_with('"') && opaque.ends_with('"');
            if !quoted
                || opaque
                    .get(1..opaque.len() - 1)
                    .is_some_and(|t| t.contains('"'))
            {
                return Err("an If header's entity tag is malformed");
            }
            (ConditionKind::ETag(tag.to_string()), after)
        } else {
            return Err("an If header's condition must be a <state token> or an [entity tag]");
        };
        conditions.push(Condition { not, kind });
        rest = after;
    }
}

/// `Depth` (RFC 4918 §10.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    Zero,
    One,
    Infinity,
}

/// Parses `Depth`; `None` when the request has none (each method has its own default).
///
/// # Errors
/// A value other than `0`, `1` or `infinity`.
pub fn parse_depth(value: Option<&[u8]>) -> Result<Option<Depth>, &'static str> {
    let Some(v) = value else {
        return Ok(None);
    };
    match v.trim_ascii() {
        b"0" => Ok(Some(Depth::Zero)),
        b"1" => Ok(Some(Depth::One)),
        v if v.eq_ignore_ascii_case(b"infinity") => Ok(Some(Depth::Infinity)),
        _ => Err("Depth must be 0, 1 or infinity"),
    }
}

/// Parses `Overwrite` (RFC 4918 §10.6): `T` (the default) or `F`.
///
/// # Errors
/// Any other value.
pub fn parse_overwrite(value: Option<&[u8]>) -> Result<bool, &'static str> {
    match value.map(<[u8]>::trim_ascii) {
        None | Some(b"T") => Ok(true),
        Some(b"F") => Ok(false),
        Some(_) => Err("Overwrite must be T or F"),
    }
}

/// The seconds a lock is granted for, from the request's `Timeout` (RFC 4918 §10.7): the first
/// entry of the list this server knows, `Second-N` (at least 1) or `Infinite`, capped at
/// [`MAX_LOCK_SECONDS`]; [`DEFAULT_LOCK_SECONDS`] when there is none.
pub fn lock_seconds(value: Option<&[u8]>) -> u64 {
    let Some(v) = value.and_then(|v| std::str::from_utf8(v).ok()) else {
        return DEFAULT_LOCK_SECONDS;
    };
    for part in v.split(',').map(str::trim) {
        let seconds = part
            .get(..7)
            .filter(|p| p.eq_ignore_ascii_case("second-"))
            .and_then(|_| part.get(7..))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(n) = seconds {
            return n.clamp(1, MAX_LOCK_SECONDS);
        }
        if part.eq_ignore_ascii_case("infinite") {
            return MAX_LOCK_SECONDS;
        }
    }
    DEFAULT_LOCK_SECONDS
}

/// What a `Destination` header (RFC 4918 §10.3) names: the path on this server, still
/// percent-encoded. An absolute URI must be this server's (`host` is the request's `Host`);
/// an absolute path is taken as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination<'a> {
    Here(&'a [u8]),
    /// Another server (RFC 4918 §9.8.5, §9.9.4: 502 Bad Gateway).
    Elsewhere,
}

/// Parses `Destination`.
///
/// # Errors
/// None given, or neither an absolute URI nor an absolute path (400).
pub fn parse_destination<'a>(
    value: Option<&'a [u8]>,
    host: Option<&[u8]>,
) -> Result<Destination<'a>, &'static str> {
    let v = value.ok_or("a Destination header is needed")?.trim_ascii();
    if v.first() == Some(&b'/') {
        return Ok(Destination::Here(v));
    }
    let lower_starts = |p: &[u8]| v.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p));
    let rest = if lower_starts(b"http://") {
        v.get(7..)
    } else if lower_starts(b"https://") {
        v.get(8..)
    } else {
        None
    }
    .ok_or("Destination must be an absolute URI or path")?;
    let end = rest
        .iter()
        .position(|&b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len());
    let authority = rest.get(..end).unwrap_or_default();
    let path = rest.get(end..).unwrap_or_default();
    if authority.is_empty() {
        return Err("Destination has no host");
    }
    let same = host.is_some_and(|h| h.eq_ignore_ascii_case(authority));
    if !same {
        return Ok(Destination::Elsewhere);
    }
    Ok(Destination::Here(if path.is_empty() { b"/" } else { path }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(t: &str) -> Condition {
        Condition {
            not: false,
            kind: ConditionKind::Token(t.into()),
        }
    }

    fn etag(t: &str) -> Condition {
        Condition {
            not: false,
            kind: ConditionKind::ETag(t.into()),
        }
    }

    #[test]
    fn parses_if_headers_of_rfc_4918() {
        // §10.4.6 to §10.4.10's examples, and what clients send.
        let lists = parse_if(
            b"(<urn:uuid:181d4fae-7d8c-11d0-a765-00a0c91e6bf2> [\"I am an ETag\"]) ([\"I am another ETag\"])",
        )
        .unwrap();
        assert_eq!(
            lists,
            [
                IfList {
                    resource: None,
                    conditions: vec![
                        token("urn:uuid:181d4fae-7d8c-11d0-a765-00a0c91e6bf2"),
                        etag("\"I am an ETag\"")
                    ]
                },
                IfList {
                    resource: None,
                    conditions: vec![etag("\"I am another ETag\"")]
                }
            ]
        );
        let lists = parse_if(b"(Not <urn:uuid:a> <urn:uuid:b>)").unwrap();
        assert_eq!(
            lists[0].conditions,
            [
                Condition {
                    not: true,
                    kind: ConditionKind::Token("urn:uuid:a".into())
                },
                token("urn:uuid:b")
            ]
        );
        let lists = parse_if(
            b"</resource1> (<urn:uuid:a> [W/\"A weak one\"]) (Not <DAV:no-lock>) </r2> ([\"x\"])",
        )
        .unwrap();
        assert_eq!(lists.len(), 3);
        assert_eq!(lists[0].resource.as_deref(), Some("/resource1"));
        assert_eq!(lists[1].resource.as_deref(), Some("/resource1"));
        assert_eq!(lists[2].resource.as_deref(), Some("/r2"));
        assert_eq!(lists[0].conditions[1], etag("W/\"A weak one\""));
        assert!(parse_if(b"  (<opaquelocktoken:x>)  ").is_ok());
        assert!(parse_if(b"(not\t<DAV:no-lock>)").unwrap()[0].conditions[0].not);
    }

    #[test]
    fn refuses_malformed_if_headers_at_every_cut() {
        let bad = [
            "",
            "(",
            "()",
            "(<urn:a>",
            "(<urn:a> x)",
            "(<no-scheme>)",
            "(<>)",
            "([abc])",
            "([\"a\"\"b\"])",
            "(Not<urn:a>)",
            "</r>",
            "</r> <urn:a>",
            "(<urn:a>) </r> (<urn:b>)",
            "</r> (<urn:a>) (<urn:b>) x",
            "<urn:a>",
        ];
        for v in bad {
            assert!(parse_if(v.as_bytes()).is_err(), "{v:?}");
        }
        // Every proper prefix of a good header is malformed (nothing half-read is taken).
        let good = "</a> (<urn:uuid:1> [\"e\"]) (Not [W/\"f\"])";
        assert!(parse_if(good.as_bytes()).is_ok());
        for cut in 0..good.len() {
            let prefix = &good[..cut];
            if prefix.trim_end().ends_with(')') {
                continue;
            }
            assert!(parse_if(prefix.as_bytes()).is_err(), "{prefix:?}");
        }
        // The cap counts conditions across lists: as many one-condition lists as it allows
        // pass (davfs2 sends one per lock), one more fails, in a list of its own or not.
        let most = "</a> (<urn:a>) ".repeat(MAX_IF_CONDITIONS);
        assert_eq!(parse_if(most.as_bytes()).unwrap().len(), MAX_IF_CONDITIONS);
        let many = "(<urn:a>)".repeat(MAX_IF_CONDITIONS + 1);
        let long = format!("({})", "<urn:a> ".repeat(MAX_IF_CONDITIONS + 1));
        let last = format!(
            "(<urn:a> <urn:b>){}",
            "(<urn:a>)".repeat(MAX_IF_CONDITIONS - 1)
        );
        for v in [many, long, last] {
            assert_eq!(
                parse_if(v.as_bytes()),
                Err("an If header has too many conditions")
            );
        }
    }

    #[test]
    fn parses_depth_overwrite_and_timeout() {
        assert_eq!(parse_depth(None), Ok(None));
        assert_eq!(parse_depth(Some(b"0")), Ok(Some(Depth::Zero)));
        assert_eq!(parse_depth(Some(b" 1 ")), Ok(Some(Depth::One)));
        assert_eq!(parse_depth(Some(b"Infinity")), Ok(Some(Depth::Infinity)));
        assert!(parse_depth(Some(b"2")).is_err());
        assert_eq!(parse_overwrite(None), Ok(true));
        assert_eq!(parse_overwrite(Some(b"F")), Ok(false));
        assert!(parse_overwrite(Some(b"f")).is_err());
        assert_eq!(lock_seconds(None), DEFAULT_LOCK_SECONDS);
        assert_eq!(lock_seconds(Some(b"Second-30")), 30);
        assert_eq!(
            lock_seconds(Some(b"Infinite, Second-4100000000")),
            MAX_LOCK_SECONDS
        );
        assert_eq!(lock_seconds(Some(b"Second-999999999999")), MAX_LOCK_SECONDS);
        assert_eq!(lock_seconds(Some(b"Second-0")), 1);
        assert_eq!(lock_seconds(Some(b"Week-1, second-20")), 20);
        assert_eq!(lock_seconds(Some(b"nonsense")), DEFAULT_LOCK_SECONDS);
    }

    #[test]
    fn parses_destinations() {
        let host = Some(&b"localhost:4221"[..]);
        let cases: [(&[u8], Result<Destination, &str>); 7] = [
            (b"/files/b", Ok(Destination::Here(b"/files/b"))),
            (
                b"http://localhost:4221/files/a%20b",
                Ok(Destination::Here(b"/files/a%20b")),
            ),
            (
                b"HTTPS://LOCALHOST:4221/files/x",
                Ok(Destination::Here(b"/files/x")),
            ),
            (
                b"http://elsewhere.example/files/x",
                Ok(Destination::Elsewhere),
            ),
            (b"http://localhost:4221", Ok(Destination::Here(b"/"))),
            (
                b"files/x",
                Err("Destination must be an absolute URI or path"),
            ),
            (b"http:///files/x", Err("Destination has no host")),
        ];
        for (value, want) in cases {
            assert_eq!(
                parse_destination(Some(value), host),
                want,
                "{}",
                String::from_utf8_lossy(value)
            );
        }
        assert!(parse_destination(None, host).is_err());
    }
}
