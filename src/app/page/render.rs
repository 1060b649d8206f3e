//! A folder listing in each of its formats: text (one name a line, folders with a trailing
//! `/`), JSON (`[{"name", "type", "size", "modified"}]`) and the HTML page (the template in
//! `assets/listing.html`, filled with rows that are escaped here and nowhere else).
//!
//! Every name is escaped for where it goes: HTML text and attributes, and URLs (each path
//! component percent-encoded from the name's exact bytes). Out of scope: reading the folder
//! (`listing.rs`), the page's script and style (`assets/`).

use crate::app::page::assets;
use crate::app::page::escape::{push_html, push_html_name, push_json_string, push_url_component};
use crate::app::page::listing::{Entry, Listing};
use crate::app::store::paths::FilePath;
use crate::calendar::write_log_time;
use std::fmt::Write;
use std::os::unix::ffi::OsStrExt;
use std::time::{SystemTime, UNIX_EPOCH};

/// What the person looking at a listing may do, for the page to show only that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewer {
    pub can_write: bool,
    /// Anonymous, where logging in would allow more (the page links to `/_login`).
    pub offer_login: bool,
    /// Folders may be downloaded as one archive (the page offers it).
    pub archives: bool,
}

/// A listing's format, chosen by `Accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Html,
    Json,
}

impl Format {
    /// The format's part of the ETag (each format is its own representation).
    pub fn tag(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Html => "html",
            Format::Json => "json",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; charset=utf-8",
            Format::Html => "text/html; charset=utf-8",
            Format::Json => "application/json",
        }
    }
}

/// Renders `listing` of the folder `path` in `format`.
/// A search's text, and why it stopped early, if it did (the listing then holds its matches,
/// named by their path from the folder).
#[derive(Debug, Clone)]
pub struct Search {
    pub text: String,
    pub cut: Option<&'static str>,
}

pub fn render(
    format: Format,
    path: &FilePath,
    listing: &Listing,
    viewer: Viewer,
    search: Option<&Search>,
) -> String {
    match format {
        Format::Text => text(listing),
        Format::Json => json(listing),
        Format::Html => html(path, listing, viewer, search),
    }
}

fn text(listing: &Listing) -> String {
    let mut out = String::new();
    for e in &listing.entries {
        // A name with a line break would read as two entries: control characters become '?'.
        let name = String::from_utf8_lossy(&e.name);
        out.extend(name.chars().map(|c| if c.is_control() { '?' } else { c }));
        if e.is_dir {
            out.push('/');
        }
        out.push('\n');
    }
    out
}

fn json(listing: &Listing) -> String {
    let mut out = String::from("[");
    for (i, e) in listing.entries.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"name\":");
        push_json_string(&mut out, &String::from_utf8_lossy(&e.name));
        let kind = if e.is_dir { "dir" } else { "file" };
        let _ = write!(
            out,
            ",\"type\":\"{kind}\",\"size\":{},\"modified\":",
            e.size
        );
        push_json_string(&mut out, &rfc3339(e.modified));
        out.push('}');
    }
    out.push(']');
    out
}

/// `2026-11-23T20:58:19Z` (RFC 3339, UTC, whole seconds).
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut out = String::new();
    write_log_time(UNIX_EPOCH + std::time::Duration::from_secs(secs), &mut out);
    // The log form has milliseconds (always .000 here): drop them.
    out.truncate(19);
    out.push('Z');
    out
}

/// Sizes as people read them: `999 B`, `1.5 KiB`, `20.0 MiB`, `512 GiB`.
pub fn human_size(bytes: u64) -> String {
    let mut out = String::new();
    push_human_size(&mut out, bytes);
    out
}

/// Appends [`human_size`].
fn push_human_size(out: &mut String, bytes: u64) {
    const UNITS: &[&str] = &["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        push_u64(out, bytes);
        out.push_str(" B");
        return;
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let name = UNITS.get(unit).copied().unwrap_or("EiB");
    // Writing to a String cannot fail.
    let _ = if value < 100.0 {
        write!(out, "{value:.1} {name}")
    } else {
        write!(out, "{value:.0} {name}")
    };
}

/// The breadcrumbs of a folder: a link per ancestor, the folder itself as plain text.
fn breadcrumbs(path: &FilePath) -> String {
    let mut out = String::new();
    let mut url = String::from("/files/");
    let last = path.parts.len();
    if last == 0 {
        out.push_str("<span aria-current=\"page\">files</span>");
        return out;
    }
    out.push_str("<a href=\"/files/\">files</a>");
    for (i, part) in path.parts.iter().enumerate() {
        push_url_component(&mut url, part.as_bytes());
        url.push('/');
        out.push_str("<span class=\"sep\" aria-hidden=\"true\">/</span>");
        if i + 1 == last {
            out.push_str("<span aria-current=\"page\">");
            push_html_name(&mut out, part.as_bytes());
            out.push_str("</span>");
        } else {
            let _ = write!(out, "<a href=\"{url}\">");
            push_html_name(&mut out, part.as_bytes());
            out.push_str("</a>");
        }
    }
    out
}

/// Appends `n` in decimal.
fn push_u64(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        if let Some(d) = digits.get_mut(at) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || at == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    out.push_str(std::str::from_utf8(digits.get(at..).unwrap_or_default()).unwrap_or_default());
}

/// Appends `n` in decimal, zero-padded to two digits.
fn push_2(out: &mut String, n: u64) {
    if n < 10 {
        out.push('0');
    }
    push_u64(out, n);
}

/// What a row shows of a time, computed once per day for the rows of one page (entries of a
/// folder often share their day, and finding the date walks the calendar).
#[derive(Default)]
struct Clock {
    day: Option<(u64, (u64, u64, u64))>,
}

impl Clock {
    /// Appends `2026-11-23T20:58:19Z` ([`rfc3339`]) for `secs`.
    fn push_rfc3339(&mut self, out: &mut String, secs: u64) {
        let start = out.len();
        let days = secs / 86_400;
        let (y, m, d) = match self.day {
            Some((cached, ymd)) if cached == days => ymd,
            _ => {
                let ymd = crate::calendar::civil_from_days(days);
                self.day = Some((days, ymd));
                ymd
            }
        };
        if y < 10 {
            out.push_str("000");
        } else if y < 100 {
            out.push_str("00");
        } else if y < 1000 {
            out.push('0');
        }
        push_u64(out, y);
        out.push('-');
        push_2(out, m);
        out.push('-');
        push_2(out, d);
        out.push('T');
        let rem = secs % 86_400;
        push_2(out, rem / 3600);
        out.push(':');
        push_2(out, rem % 3600 / 60);
        out.push(':');
        push_2(out, rem % 60);
        // As `rfc3339` does: 19 characters, then the zone (a year past 9999 loses a digit).
        out.truncate(start + 19);
        out.push('Z');
    }
}

/// Scratch strings reused from row to row.
#[derive(Default)]
struct RowScratch {
    url: String,
    name: String,
    when: String,
    clock: Clock,
}

fn row(out: &mut String, folder_url: &str, e: &Entry, scratch: &mut RowScratch) {
    let RowScratch {
        url,
        name,
        when,
        clock,
    } = scratch;
    url.clear();
    url.push_str(folder_url);
    // A search's matches are named by their path from the folder: each part is encoded.
    for (i, part) in e.name.split(|&b| b == b'/').enumerate() {
        if i > 0 {
            url.push('/');
        }
        push_url_component(url, part);
    }
    if e.is_dir {
        url.push('/');
    }
    name.clear();
    push_html_name(name, &e.name);
    let secs = e
        .modified
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    when.clear();
    clock.push_rfc3339(when, secs);
    let kind = if e.is_dir { "dir" } else { "file" };
    out.push_str("<tr data-type=\"");
    out.push_str(kind);
    out.push_str("\" data-name=\"");
    out.push_str(name);
    out.push_str("\" data-size=\"");
    push_u64(out, e.size);
    out.push_str("\" data-mtime=\"");
    push_u64(out, secs);
    out.push_str("\"><td class=\"name\"><a class=\"entry ");
    out.push_str(kind);
    out.push_str("\" href=\"");
    out.push_str(url);
    out.push_str("\">");
    out.push_str(name);
    out.push_str(if e.is_dir { "/</a></td>" } else { "</a></td>" });
    if e.is_dir {
        out.push_str("<td class=\"size\">&mdash;</td>");
    } else {
        out.push_str("<td class=\"size\" title=\"");
        push_u64(out, e.size);
        out.push_str(" bytes\">");
        push_human_size(out, e.size);
        out.push_str("</td>");
    }
    out.push_str("<td class=\"mtime\"><time datetime=\"");
    out.push_str(when);
    out.push_str("\">");
    // `2026-11-23 20:58`: the date and the minute.
    for (i, part) in when.get(..16).unwrap_or_default().split('T').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(part);
    }
    // The actions cell stays empty: the script fills it from the row (see `listing.js`).
    out.push_str("</time></td><td class=\"actions\"></td></tr>");
}

/// The page's offer of the whole folder as one download (relative links: this folder).
const ARCHIVE_LINKS: &str = "<span class=\"archive\">Download this folder: \
     <a class=\"button\" href=\"?download=zip\" download>zip</a> \
     <a class=\"button\" href=\"?download=tar.gz\" download>tar.gz</a></span>";

fn html(path: &FilePath, listing: &Listing, viewer: Viewer, search: Option<&Search>) -> String {
    let folder_url = path.url(true);
    let can_write = viewer.can_write;
    // The title shows the decoded path, as people read it.
    let mut shown = String::from("/files/");
    for part in &path.parts {
        shown.push_str(&String::from_utf8_lossy(part.as_bytes()));
        shown.push('/');
    }
    let mut title = String::new();
    if let Some(search) = search {
        title.push_str("Search for \u{201c}");
        push_html(&mut title, &search.text);
        title.push_str("\u{201d} in ");
    } else {
        title.push_str("Index of ");
    }
    push_html(&mut title, &shown);
    // About 600 bytes a row: grown once, not row by row.
    let mut rows = String::with_capacity(listing.entries.len().saturating_mul(640));
    let mut scratch = RowScratch::default();
    for e in &listing.entries {
        row(&mut rows, &folder_url, e, &mut scratch);
    }
    if listing.entries.is_empty() {
        rows.push_str(if search.is_some() {
            "<tr class=\"empty\"><td colspan=\"4\">Nothing here or below has that in its name.</td></tr>"
        } else {
            "<tr class=\"empty\"><td colspan=\"4\">This folder is empty.</td></tr>"
        });
    }
    let mut query = String::new();
    let notice = if let Some(search) = search {
        push_html(&mut query, &search.text);
        let mut notice = format!(
            "<p class=\"notice\" id=\"search-notice\">Names holding \u{201c}{query}\u{201d} in this folder and below. \
             <a href=\"{}\">Back to the folder</a></p>",
            folder_url
        );
        if let Some(why) = search.cut {
            notice.push_str(&format!(
                "<p class=\"notice\" id=\"truncated\">The search stopped early ({why}): \
                 these are the matches it found; try more of the name.</p>"
            ));
        }
        notice
    } else if listing.is_truncated() {
        format!(
            "<p class=\"notice\" id=\"truncated\">This folder has {} entries; only the first {} are shown.</p>",
            listing.total,
            listing.entries.len()
        )
    } else {
        String::new()
    };
    let version = format!("{:016x}", assets::VERSION);
    // The link's target is our own folder URL, already percent-encoded; escaped for the
    // attribute all the same.
    let mut login = String::new();
    if viewer.offer_login {
        login.push_str("<a class=\"button login\" id=\"login\" href=\"/_login?to=");
        push_html(&mut login, &folder_url);
        login.push_str("\">Log in to change files</a>");
    }
    let count = match (listing.total, search.is_some()) {
        (1, false) => "1 entry".to_string(),
        (n, false) => format!("{n} entries"),
        (1, true) => "1 match".to_string(),
        (n, true) => format!("{n} matches"),
    };
    assets::fill(
        assets::LISTING_PAGE,
        &[
            ("title", &title),
            ("version", &version),
            ("can_write", if can_write { "true" } else { "false" }),
            ("crumbs", &breadcrumbs(path)),
            ("login", &login),
            ("notice", &notice),
            ("query", &query),
            ("archive", if viewer.archives { ARCHIVE_LINKS } else { "" }),
            ("rows", &rows),
            ("count", &count),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRITER: Viewer = Viewer {
        can_write: true,
        offer_login: false,
        archives: true,
    };
    const READER: Viewer = Viewer {
        can_write: false,
        offer_login: true,
        archives: true,
    };
    use crate::app::store::paths::parse_file_path;

    fn entry(name: &[u8], is_dir: bool, size: u64) -> Entry {
        Entry {
            name: name.to_vec(),
            is_dir,
            size,
            modified: UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000),
            created: None,
        }
    }

    /// The row as it was written before it was made faster (format! and a String per field):
    /// the page must stay byte for byte the same.
    fn reference_row(out: &mut String, folder_url: &str, e: &Entry) {
        let mut url = String::from(folder_url);
        push_url_component(&mut url, &e.name);
        if e.is_dir {
            url.push('/');
        }
        let mut name = String::new();
        push_html_name(&mut name, &e.name);
        let secs = e
            .modified
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let when = rfc3339(e.modified);
        let shown = when.get(..16).unwrap_or_default().replace('T', " ");
        let kind = if e.is_dir { "dir" } else { "file" };
        let _ = write!(
            out,
            "<tr data-type=\"{kind}\" data-name=\"{name}\" data-size=\"{}\" data-mtime=\"{secs}\">\
             <td class=\"name\"><a class=\"entry {kind}\" href=\"{url}\">{name}{}</a></td>",
            e.size,
            if e.is_dir { "/" } else { "" }
        );
        if e.is_dir {
            out.push_str("<td class=\"size\">&mdash;</td>");
        } else {
            let _ = write!(
                out,
                "<td class=\"size\" title=\"{} bytes\">{}</td>",
                e.size,
                human_size(e.size)
            );
        }
        let _ = write!(
            out,
            "<td class=\"mtime\"><time datetime=\"{when}\">{shown}</time></td>\
             <td class=\"actions\"></td></tr>"
        );
    }

    #[test]
    fn rows_are_byte_for_byte_what_they_were() {
        let at = |secs: u64, nanos: u32| UNIX_EPOCH + std::time::Duration::new(secs, nanos);
        let names: &[&[u8]] = &[
            b"a.txt",
            b"<img src=x onerror=alert(1)>&'\"",
            b"caf\xc3\xa9 \xff\xfe bad utf-8",
            b"#hash?.txt",
            b"",
        ];
        let times = [
            UNIX_EPOCH - std::time::Duration::from_secs(86_400 * 400),
            UNIX_EPOCH,
            at(59, 999_999_999),
            at(1_700_000_000, 5),
            at(1_700_000_001, 0),
            at(951_782_400, 0),     // 2000-02-29
            at(253_402_300_799, 0), // 9999-12-31T23:59:59
            at(253_402_300_800, 0), // 10000-01-01
        ];
        let sizes = [0, 9, 1023, 1024, 99 * 1024 * 1024, 150 * 1024, u64::MAX];
        let mut scratch = RowScratch::default();
        for name in names {
            for (i, modified) in times.iter().enumerate() {
                for (j, size) in sizes.iter().enumerate() {
                    let e = Entry {
                        name: name.to_vec(),
                        is_dir: (i + j) % 3 == 0,
                        size: *size,
                        modified: *modified,
                        created: None,
                    };
                    let (mut want, mut got) = (String::new(), String::new());
                    reference_row(&mut want, "/files/a%20b/", &e);
                    row(&mut got, "/files/a%20b/", &e, &mut scratch);
                    assert_eq!(got, want);
                }
            }
        }
    }

    #[test]
    fn writes_human_sizes() {
        let cases = [
            (0, "0 B"),
            (1023, "1023 B"),
            (1024, "1.0 KiB"),
            (1536, "1.5 KiB"),
            (150 * 1024, "150 KiB"),
            (20 * 1024 * 1024, "20.0 MiB"),
            (u64::MAX, "16.0 EiB"),
        ];
        for (n, want) in cases {
            assert_eq!(human_size(n), want, "{n}");
        }
    }

    #[test]
    fn formats_times_as_rfc3339() {
        let t = UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_000_987);
        assert_eq!(rfc3339(t), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn renders_text_and_json() {
        let listing = Listing {
            entries: vec![
                entry(b"sub", true, 0),
                entry(b"a\"b<c>", false, 5),
                entry(b"line\nbreak", false, 1),
            ],
            total: 3,
        };
        assert_eq!(text(&listing), "sub/\na\"b<c>\nline?break\n");
        assert_eq!(
            json(&listing),
            "[{\"name\":\"sub\",\"type\":\"dir\",\"size\":0,\"modified\":\"2023-11-14T22:13:20Z\"},\
             {\"name\":\"a\\\"b\\u003cc\\u003e\",\"type\":\"file\",\"size\":5,\"modified\":\"2023-11-14T22:13:20Z\"},\
             {\"name\":\"line\\nbreak\",\"type\":\"file\",\"size\":1,\"modified\":\"2023-11-14T22:13:20Z\"}]"
        );
    }

    #[test]
    fn html_escapes_every_name_for_text_and_urls() {
        let hostile: &[u8] = b"<img src=x onerror=alert(1)>.txt";
        let listing = Listing {
            entries: vec![entry(hostile, false, 3), entry(b"#hash?.txt", false, 1)],
            total: 2,
        };
        let path = parse_file_path(b"a%20b/").unwrap();
        let page = html(&path, &listing, WRITER, None);
        assert!(!page.contains("<img"), "{page}");
        assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;.txt"));
        assert!(
            page.contains("href=\"/files/a%20b/%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E.txt\"")
        );
        assert!(page.contains("href=\"/files/a%20b/%23hash%3F.txt\""));
        assert!(page.contains("<a href=\"/files/\">files</a>"));
        assert!(page.contains("data-can-write=\"true\""));
        assert!(!page.contains("{{"), "every placeholder filled");
        assert!(html(&path, &listing, READER, None).contains("data-can-write=\"false\""));
    }

    #[test]
    fn html_says_when_it_was_cut() {
        let listing = Listing {
            entries: vec![entry(b"a", false, 1)],
            total: 5,
        };
        let page = html(&parse_file_path(b"").unwrap(), &listing, WRITER, None);
        assert!(page.contains("only the first 1 are shown"), "{page}");
    }
}
