//! The path under `/files/` as the client wrote it, checked and decoded into plain components.
//!
//! Each `/`-separated component is percent-decoded once and must then be one plain name: not
//! empty, not `.` or `..`, no `/`, `\`, NUL or other control bytes, at most `MAX_NAME_BYTES`.
//! Splitting happens before decoding, so `%2f` never separates components: it decodes to a `/`
//! inside a name, which is refused. A trailing slash says "a folder" (`a/b/`).
//!
//! Out of scope: what the path names on disk, links and the root check (`fsroot.rs`).

use crate::http::error::Error;
use crate::http::uri::percent_decode;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// Longest name of one component, in bytes (NAME_MAX on Linux).
pub const MAX_NAME_BYTES: usize = 255;
/// Most components in a path under `/files/` (`a/b/c` has 3).
pub const MAX_PATH_COMPONENTS: usize = 32;
/// Longest decoded path under `/files/`, separators included (PATH_MAX on Linux is 4096).
pub const MAX_PATH_BYTES: usize = 4096;
/// Temporary upload files are named `UPLOAD_PREFIX…UPLOAD_SUFFIX`. Every name with this prefix
/// is the server's own (those files, and WebDAV's lock table): never served nor listed.
pub const UPLOAD_PREFIX: &str = ".http-server-upload-";
pub const UPLOAD_SUFFIX: &str = ".part";

/// A checked path under `/files/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePath {
    /// The decoded components, outermost first; empty for `/files/` itself.
    pub parts: Vec<OsString>,
    /// The path ended in `/` (or was empty): the client means a folder.
    pub is_dir: bool,
}

impl FilePath {
    /// The path relative to the root, for joining.
    pub fn relative(&self) -> PathBuf {
        self.parts.iter().collect()
    }

    /// Whether this is `/files/` itself.
    pub fn is_root(&self) -> bool {
        self.parts.is_empty()
    }

    /// The last component, if any.
    pub fn name(&self) -> Option<&OsStr> {
        self.parts.last().map(OsString::as_os_str)
    }

    /// The URL of this path, every component percent-encoded, with a trailing slash when
    /// `as_dir` (for `Location`, breadcrumbs and links: always ASCII).
    pub fn url(&self, as_dir: bool) -> String {
        let mut url = String::from("/files/");
        for (i, part) in self.parts.iter().enumerate() {
            if i > 0 {
                url.push('/');
            }
            crate::app::page::escape::push_url_component(&mut url, part.as_bytes());
        }
        if as_dir && !self.parts.is_empty() {
            url.push('/');
        }
        url
    }
}

/// Whether a name is one of this server's temporary upload files.
pub fn is_upload_name(name: &[u8]) -> bool {
    name.starts_with(UPLOAD_PREFIX.as_bytes())
}

/// Checks and decodes the still-encoded path after `/files/`.
///
/// # Errors
/// 400 for a component that is not a plain name, for more than `MAX_PATH_COMPONENTS`
/// components or more than `MAX_PATH_BYTES` bytes; 404 for an empty component in the middle
/// (`a//b`: never a different file) and for a temporary upload name.
pub fn parse_file_path(raw: &[u8]) -> Result<FilePath, Error> {
    let (body, is_dir) = match raw.strip_suffix(b"/") {
        Some(body) => (body, true),
        None => (raw, raw.is_empty()),
    };
    if body.is_empty() {
        // `/files/` itself; `/files//` has an empty component: never the same folder.
        return if raw.is_empty() {
            Ok(FilePath {
                parts: Vec::new(),
                is_dir: true,
            })
        } else {
            Err(Error::NotFound)
        };
    }
    let mut parts = Vec::new();
    let mut total = 0usize;
    for raw_part in body.split(|&b| b == b'/') {
        if parts.len() == MAX_PATH_COMPONENTS {
            return Err(Error::BadRequest("path has too many components"));
        }
        let name = check_component(raw_part)?;
        total = total.saturating_add(name.len() + 1);
        if total > MAX_PATH_BYTES {
            return Err(Error::BadRequest("path too long"));
        }
        parts.push(OsString::from(OsStr::from_bytes(&name)));
    }
    Ok(FilePath { parts, is_dir })
}

/// Decodes one component and checks that it is a plain name.
fn check_component(raw: &[u8]) -> Result<Vec<u8>, Error> {
    if raw.is_empty() {
        return Err(Error::NotFound);
    }
    let name = percent_decode(raw)?;
    if name.len() > MAX_NAME_BYTES {
        return Err(Error::BadRequest("file name too long"));
    }
    if name.is_empty() || name == b"." || name == b".." {
        return Err(Error::BadRequest("invalid file name"));
    }
    if name
        .iter()
        .any(|&b| b == b'/' || b == b'\\' || b < 0x20 || b == 0x7f)
    {
        return Err(Error::BadRequest("invalid file name"));
    }
    if is_upload_name(&name) {
        return Err(Error::NotFound);
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Status;

    fn parts(p: &FilePath) -> Vec<String> {
        p.parts
            .iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn decodes_plain_paths() {
        let cases: &[(&str, &[&str], bool)] = &[
            ("", &[], true),
            ("a.txt", &["a.txt"], false),
            ("a/b/c.txt", &["a", "b", "c.txt"], false),
            ("a/b/", &["a", "b"], true),
            ("with%20space", &["with space"], false),
            ("%2e%2e%2e", &["..."], false),
            ("..a/.hidden", &["..a", ".hidden"], false),
            ("caf%C3%A9/", &["caf\u{e9}"], true),
            ("a%252fb", &["a%2fb"], false),
        ];
        for (raw, want, is_dir) in cases {
            let p = parse_file_path(raw.as_bytes()).unwrap();
            assert_eq!(parts(&p), *want, "{raw}");
            assert_eq!(p.is_dir, *is_dir, "{raw}");
        }
    }

    #[test]
    fn refuses_every_component_that_is_not_a_plain_name() {
        let long = "a".repeat(MAX_NAME_BYTES + 1);
        let bad_long = format!("x/{long}");
        for raw in [
            "..",
            ".",
            "a/../b",
            "a/./b",
            "%2e%2e",
            "%2E%2E/x",
            "..%2f",
            "%2F",
            "a%2fb",
            "%2fetc%2fpasswd",
            "a%5cb",
            "..%5c..",
            "a%00b",
            "%00",
            "a%0ab",
            "a%7f",
            "%",
            "%zz",
            &long,
            &bad_long,
        ] {
            let e = parse_file_path(raw.as_bytes()).unwrap_err();
            assert_eq!(e.status(), Status::BAD_REQUEST, "{raw}");
        }
    }

    #[test]
    fn empty_components_and_temporary_names_are_404() {
        let reserved = format!("a/{UPLOAD_PREFIX}1-2{UPLOAD_SUFFIX}");
        for raw in ["a//b", "/", "//", "/a", "a//", reserved.as_str()] {
            let e = parse_file_path(raw.as_bytes()).unwrap_err();
            assert_eq!(e.status(), Status::NOT_FOUND, "{raw}");
        }
    }

    #[test]
    fn limits_components_and_bytes() {
        let deepest = vec!["d"; MAX_PATH_COMPONENTS].join("/");
        assert!(parse_file_path(deepest.as_bytes()).is_ok());
        let too_deep = format!("{deepest}/d");
        assert_eq!(
            parse_file_path(too_deep.as_bytes()).unwrap_err().status(),
            Status::BAD_REQUEST
        );
        // 16 components of 255 bytes: 4096 bytes with their separators, the most allowed.
        let name = "n".repeat(MAX_NAME_BYTES);
        let longest = vec![name.as_str(); 16].join("/");
        assert_eq!(longest.len() + 1, MAX_PATH_BYTES);
        assert!(parse_file_path(longest.as_bytes()).is_ok());
        let too_long = format!("{longest}/n");
        assert_eq!(
            parse_file_path(too_long.as_bytes()).unwrap_err().status(),
            Status::BAD_REQUEST
        );
    }

    #[test]
    fn builds_urls_from_components() {
        let p = parse_file_path("a%20b/%23x%3F".as_bytes()).unwrap();
        assert_eq!(p.url(false), "/files/a%20b/%23x%3F");
        assert_eq!(p.url(true), "/files/a%20b/%23x%3F/");
        assert_eq!(parse_file_path(b"").unwrap().url(true), "/files/");
    }
}
