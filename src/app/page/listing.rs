//! Folder listings: reading a folder's entries within a fixed bound, their order (folders
//! first, then files, by name), a fingerprint for the weak ETag, and the answer to
//! `GET /files/{dir}/` in the format `Accept` asks for.
//!
//! Memory is bounded whatever the folder holds: at most `MAX_LISTING_ENTRIES` entries are kept
//! (the first ones in listing order, chosen with a bounded heap as the folder is read), and
//! the answer says when the rest were cut. Temporary upload files never appear; dot files only
//! with `--show-hidden`; links only when what they resolve to lies inside the root (the same
//! policy as for reading them).
//!
//! On Linux the folder is read and each kept entry stat'ed through the folder's descriptor
//! (`getdents64`, then `statx` of the name), not through a path per entry; elsewhere, or where
//! the root takes the checked walk (see `fsroot.rs`), through std's `read_dir` and a stat of
//! each entry's path. Both give the same listing.
//!
//! Out of scope: the formats themselves (`render.rs`).

use crate::app::negotiate::accept;
use crate::app::negotiate::conditional::{self, Validators};
use crate::app::negotiate::encoding;
use crate::app::page::assets;
use crate::app::page::render;
use crate::app::store::fsroot::{self, fs_error, is_inside, OpenDir, Root};
use crate::app::store::paths::{self, is_upload_name, FilePath};
use crate::config::StoreConfig;
use crate::http::error::Error;
use crate::http::parse::Head;
use crate::http::response::{BlockStream, Body, Response};
use crate::http::uri::query_value;
use crate::http::Method;
use crate::http::Status;
use crate::sys::dirfd::{self, Kind};
use std::collections::BinaryHeap;
use std::ffi::{CStr, OsStr};
use std::fs;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Most entries in one listing; past it the listing is cut (and says so).
pub const MAX_LISTING_ENTRIES: usize = 10_000;
/// Most entries a search (`?q=`) looks at, in the folder and below, before it stops.
pub const MAX_SEARCH_VISITED: usize = 50_000;
/// Longest a search runs before it stops (and says so).
pub const MAX_SEARCH_TIME: Duration = Duration::from_secs(2);
/// Longest search text.
pub const MAX_SEARCH_BYTES: usize = 256;

/// The formats a listing comes in, in the server's order of preference on a tie (so that
/// curl's `*/*` gets text).
const OFFERS: &[&str] = &["text/plain", "text/html", "application/json"];

/// One entry of a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The name's bytes as the file system holds them.
    pub name: Vec<u8>,
    pub is_dir: bool,
    /// Bytes, for files; 0 for folders.
    pub size: u64,
    pub modified: SystemTime,
    /// When it was made, where the file system keeps that (WebDAV's `creationdate`).
    pub created: Option<SystemTime>,
}

/// The entries of a folder, in listing order, at most `MAX_LISTING_ENTRIES`.
#[derive(Debug)]
pub struct Listing {
    pub entries: Vec<Entry>,
    /// How many entries the folder had in all (more than `entries.len()` when cut).
    pub total: usize,
}

impl Listing {
    pub fn is_truncated(&self) -> bool {
        self.total > self.entries.len()
    }

    /// A fingerprint of everything a listing shows, for its weak ETag: names, kinds, sizes,
    /// times and the total. (The folder's own mtime would miss a file changed in place.)
    pub fn fingerprint(&self) -> u64 {
        let mut h = Fnv::default();
        for e in &self.entries {
            h.write(&e.name);
            h.write(&[u8::from(e.is_dir)]);
            h.write(&e.size.to_le_bytes());
            h.write(&nanos(e.modified).to_le_bytes());
        }
        h.write(&(self.total as u64).to_le_bytes());
        h.0
    }

    /// The time of the latest change any entry shows, in seconds.
    pub fn latest_change(&self, folder: SystemTime) -> u64 {
        let latest = self
            .entries
            .iter()
            .map(|e| e.modified)
            .fold(folder, SystemTime::max);
        latest.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
    }
}

/// FNV-1a, 64 bits: small, fast, and stable across runs and builds (unlike `DefaultHasher`).
pub struct Fnv(pub u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    pub fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

fn nanos(t: SystemTime) -> u128 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

/// The order of a listing: folders first, then by name ignoring ASCII case, then by bytes.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct SortKey {
    is_file: bool,
    folded: Vec<u8>,
    name: Vec<u8>,
    /// Stat what it points to (names are unique, so this never decides the order).
    is_link: bool,
}

impl SortKey {
    fn new(name: &[u8], is_dir: bool, is_link: bool) -> SortKey {
        SortKey {
            is_file: !is_dir,
            folded: name.to_ascii_lowercase(),
            name: name.to_vec(),
            is_link,
        }
    }
}

/// Whether a name is left out of every listing: temporary uploads, and dot files unless shown.
fn is_left_out(name: &[u8], show_hidden: bool) -> bool {
    is_upload_name(name) || (!show_hidden && name.starts_with(b"."))
}

/// Whether the link `name` in `dir` is listed (what it resolves to lies inside `root`, as for
/// a GET) and, if so, whether it is a folder.
fn link_is_dir(dir: &OpenDir, name: &[u8], root: &Path) -> Option<bool> {
    match fs::canonicalize(dir.child(OsStr::from_bytes(name))) {
        Ok(target) if is_inside(root, &target) => match fs::metadata(&target) {
            Ok(m) if m.is_dir() || m.is_file() => Some(m.is_dir()),
            _ => None,
        },
        // Dangling, or outside: as absent as it is to a GET.
        _ => None,
    }
}

/// Keeps `key` among the first `cap` in listing order.
fn keep(heap: &mut BinaryHeap<SortKey>, key: SortKey, cap: usize) {
    heap.push(key);
    if heap.len() > cap {
        heap.pop(); // The last in listing order.
    }
}

/// A statx time as a `SystemTime`.
fn system_time(sec: i64, nsec: u32) -> SystemTime {
    let after = Duration::new(sec.unsigned_abs(), 0);
    let base = if sec >= 0 {
        UNIX_EPOCH.checked_add(after)
    } else {
        UNIX_EPOCH.checked_sub(after)
    };
    base.and_then(|t| t.checked_add(Duration::from_nanos(u64::from(nsec))))
        .unwrap_or(UNIX_EPOCH)
}

/// Reads the entries of `dir` (opened under `root`), keeping the first `cap` in listing order.
///
/// # Errors
/// 403 when the folder cannot be read, 500 for other failures.
pub fn read(dir: &OpenDir, root: &Root, show_hidden: bool, cap: usize) -> Result<Listing, Error> {
    if root.is_beneath() {
        match read_through_fd(dir, root.path(), show_hidden, cap) {
            Err(e) if dirfd::is_unavailable(&e) => {}
            done => return done.map_err(fs_error),
        }
    }
    read_by_path(dir, root.path(), show_hidden, cap)
}

/// [`read`] through the folder's descriptor: one `getdents64` per 32 KiB of names, then one
/// `statx` (not following links) per entry kept; links, which are rare, go by their path.
///
/// # Errors
/// The calls' errors (`Unsupported` and the like where they are missing: see
/// [`dirfd::is_unavailable`]).
fn read_through_fd(
    dir: &OpenDir,
    root: &Path,
    show_hidden: bool,
    cap: usize,
) -> std::io::Result<Listing> {
    let mut heap = BinaryHeap::new();
    let mut total = 0;
    let mut buf = Vec::new();
    let mut unknown = Vec::new();
    dir.rewind()?;
    dirfd::read_entries(dir.as_fd(), &mut buf, |name, kind| {
        if is_left_out(name, show_hidden) {
            return;
        }
        let key = match kind {
            Kind::File | Kind::Dir => SortKey::new(name, kind == Kind::Dir, false),
            Kind::Link => match link_is_dir(dir, name, root) {
                Some(is_dir) => SortKey::new(name, is_dir, true),
                None => return,
            },
            // The file system did not say: stat it once the folder is read.
            Kind::Unknown => {
                unknown.push(name.to_vec());
                return;
            }
            Kind::Other => return, // FIFOs, sockets, devices: never served, so never listed.
        };
        total += 1;
        keep(&mut heap, key, cap);
    })?;
    let mut c_name = Vec::new();
    for name in unknown {
        let Some(key) = key_for(dir, root, &name, Kind::Unknown, &mut c_name)? else {
            continue;
        };
        total += 1;
        keep(&mut heap, key, cap);
    }
    let entries = stat_kept(dir, heap.into_sorted_vec(), &mut total)?;
    Ok(Listing { entries, total })
}

/// The listing key of the entry `name` of `kind` (as getdents64 said; `Unknown` is stat'ed to
/// learn it); `None` for what is never listed (FIFOs, sockets, devices, links that lead
/// outside the root or nowhere, an entry gone meanwhile).
fn key_for(
    dir: &OpenDir,
    root: &Path,
    name: &[u8],
    kind: Kind,
    c_name: &mut Vec<u8>,
) -> std::io::Result<Option<SortKey>> {
    let kind = match kind {
        Kind::Unknown => match stat_name(dir, name, c_name)? {
            Some(st) => st.kind,
            None => return Ok(None),
        },
        kind => kind,
    };
    Ok(match kind {
        Kind::File | Kind::Dir => Some(SortKey::new(name, kind == Kind::Dir, false)),
        Kind::Link => link_is_dir(dir, name, root).map(|is_dir| SortKey::new(name, is_dir, true)),
        Kind::Unknown | Kind::Other => None,
    })
}

/// A folder's entries a batch at a time, in the order the file system keeps them (unsorted),
/// for an answer that needs no order and must not hold a big folder in memory (WebDAV's
/// `PROPFIND`): through the folder's descriptor it holds the names of one `getdents64` read
/// (32 KiB of records, whose buffer is freed once they are taken out) and the batch asked for. The rules of [`read`] hold: no
/// temporary or (unless shown) dot names, links only inside the root, at most `cap` entries.
pub struct EntryStream {
    source: Source,
}

enum Source {
    Fd {
        root: std::path::PathBuf,
        show_hidden: bool,
        /// Names read and not yet given, with their kinds.
        pending: std::collections::VecDeque<(Vec<u8>, Kind)>,
        at_end: bool,
        /// How many more entries may be given.
        left: usize,
    },
    /// Where the descriptor cannot be read that way (see [`dirfd::is_unavailable`]): the
    /// listing, read whole as for the page.
    Listed(std::vec::IntoIter<Entry>),
}

impl EntryStream {
    /// Starts reading the folder `dir`, opened under `root`.
    ///
    /// # Errors
    /// 403 when the folder cannot be read, 500 for other failures.
    pub fn start(
        dir: &OpenDir,
        root: &Root,
        show_hidden: bool,
        cap: usize,
    ) -> Result<EntryStream, Error> {
        if root.is_beneath() {
            let mut source = Source::Fd {
                root: root.path().to_path_buf(),
                show_hidden,
                pending: std::collections::VecDeque::new(),
                at_end: false,
                left: cap,
            };
            dir.rewind().map_err(fs_error)?;
            match fill(&mut source, dir) {
                Err(e) if dirfd::is_unavailable(&e) => {}
                done => return done.map(|()| EntryStream { source }).map_err(fs_error),
            }
        }
        let listing = read_by_path(dir, root.path(), show_hidden, cap)?;
        Ok(EntryStream {
            source: Source::Listed(listing.entries.into_iter()),
        })
    }

    /// Up to `n` more entries, each stat'ed now; none once the folder is done.
    ///
    /// # Errors
    /// The file system's.
    pub fn next_batch(&mut self, dir: &OpenDir, n: usize) -> std::io::Result<Vec<Entry>> {
        if let Source::Listed(rest) = &mut self.source {
            return Ok(rest.take(n).collect());
        }
        loop {
            let keys = self.next_keys(dir, n)?;
            if keys.is_empty() {
                return Ok(Vec::new());
            }
            let mut uncounted = keys.len();
            let entries = stat_kept(dir, keys, &mut uncounted)?;
            // All of them gone since they were read: on to the next ones.
            if !entries.is_empty() {
                return Ok(entries);
            }
        }
    }

    /// The keys of up to `n` more entries; none once the folder is done.
    fn next_keys(&mut self, dir: &OpenDir, n: usize) -> std::io::Result<Vec<SortKey>> {
        let mut keys = Vec::new();
        let mut c_name = Vec::new();
        while let Source::Fd {
            root,
            pending,
            at_end,
            left,
            ..
        } = &mut self.source
        {
            if keys.len() >= n || *left == 0 {
                break;
            }
            match pending.pop_front() {
                Some((name, kind)) => {
                    if let Some(key) = key_for(dir, root, &name, kind, &mut c_name)? {
                        keys.push(key);
                        *left -= 1;
                    }
                }
                None if *at_end => break,
                None => fill(&mut self.source, dir)?,
            }
        }
        Ok(keys)
    }
}

/// Reads the next names of the folder into a `Fd` source's pending ones. The buffer lives
/// only for the call: an answer waiting on a slow client holds the names alone.
fn fill(source: &mut Source, dir: &OpenDir) -> std::io::Result<()> {
    if let Source::Fd {
        show_hidden,
        pending,
        at_end,
        ..
    } = source
    {
        let mut buf = Vec::new();
        let more = dirfd::read_some_entries(dir.as_fd(), &mut buf, |name, kind| {
            if !is_left_out(name, *show_hidden) {
                pending.push_back((name.to_vec(), kind));
            }
        })?;
        *at_end = !more;
    }
    Ok(())
}

/// The entries kept for the listing, each stat'ed through the folder's descriptor (a link
/// through what it points to). One gone since the folder was read, or swapped for something
/// never listed, is left out (and no longer counted in `total`).
fn stat_kept(dir: &OpenDir, kept: Vec<SortKey>, total: &mut usize) -> std::io::Result<Vec<Entry>> {
    let mut c_name = Vec::new();
    let mut entries = Vec::with_capacity(kept.len());
    for key in kept {
        let found = if key.is_link {
            match fs::metadata(dir.child(OsStr::from_bytes(&key.name))) {
                Ok(m) if m.is_dir() || m.is_file() => Some((
                    m.is_dir(),
                    m.len(),
                    m.modified().unwrap_or(UNIX_EPOCH),
                    m.created().ok(),
                )),
                _ => None,
            }
        } else {
            match stat_name(dir, &key.name, &mut c_name)? {
                Some(st) if matches!(st.kind, Kind::File | Kind::Dir) => Some((
                    st.kind == Kind::Dir,
                    st.size,
                    system_time(st.mtime_sec, st.mtime_nsec),
                    st.btime.map(|(sec, nsec)| system_time(sec, nsec)),
                )),
                _ => None,
            }
        };
        let Some((is_dir, size, modified, created)) = found else {
            *total -= 1;
            continue;
        };
        entries.push(Entry {
            is_dir,
            size: if is_dir { 0 } else { size },
            modified,
            created,
            name: key.name,
        });
    }
    Ok(entries)
}

/// The stat of `name` in `dir` (`scratch` holds the name with its NUL); `None` when it is gone.
fn stat_name(
    dir: &OpenDir,
    name: &[u8],
    scratch: &mut Vec<u8>,
) -> std::io::Result<Option<dirfd::Stat>> {
    scratch.clear();
    scratch.extend_from_slice(name);
    scratch.push(0);
    // A name from getdents64 holds no NUL.
    let Ok(c_name) = CStr::from_bytes_with_nul(scratch) else {
        return Ok(None);
    };
    match dirfd::stat_at(dir.as_fd(), c_name) {
        Ok(st) => Ok(Some(st)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// [`read`] by paths: std's `read_dir` of the folder, and a stat of each entry kept.
///
/// # Errors
/// 403 when the folder cannot be read, 500 for other failures.
fn read_by_path(
    dir: &OpenDir,
    root: &Path,
    show_hidden: bool,
    cap: usize,
) -> Result<Listing, Error> {
    let mut heap = BinaryHeap::new();
    let mut total = 0;
    for entry in fs::read_dir(dir.listing_path()).map_err(fs_error)? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name();
        let name = name.as_bytes();
        if is_left_out(name, show_hidden) {
            continue;
        }
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let is_dir = if kind.is_symlink() {
            match link_is_dir(dir, name, root) {
                Some(is_dir) => is_dir,
                None => continue,
            }
        } else if kind.is_dir() || kind.is_file() {
            kind.is_dir()
        } else {
            continue; // FIFOs, sockets, devices: never served, so never listed.
        };
        total += 1;
        keep(
            &mut heap,
            SortKey::new(name, is_dir, kind.is_symlink()),
            cap,
        );
    }
    let mut entries = Vec::with_capacity(heap.len());
    for key in heap.into_sorted_vec() {
        let path = dir.child(OsStr::from_bytes(&key.name));
        // Gone since it was read: leave it out.
        let Ok(meta) = fs::metadata(&path) else {
            total -= 1;
            continue;
        };
        entries.push(Entry {
            is_dir: meta.is_dir(),
            size: if meta.is_dir() { 0 } else { meta.len() },
            modified: meta.modified().unwrap_or(UNIX_EPOCH),
            created: meta.created().ok(),
            name: key.name,
        });
    }
    Ok(Listing { entries, total })
}

/// Entries under the folder `base` whose name holds `text` (case-insensitive, by Unicode's
/// lower case), nearest first, named by their path from `base`; the same hiding rules as a
/// listing. Bounded: at most [`MAX_SEARCH_VISITED`] entries looked at, [`MAX_SEARCH_TIME`],
/// [`MAX_LISTING_ENTRIES`] found; the second value says why it stopped early, if it did.
///
/// # Errors
/// The store's errors for `base` (a folder below that cannot be read is passed over).
pub fn find(
    root: &Root,
    base: &FilePath,
    text: &str,
    show_hidden: bool,
) -> Result<(Listing, Option<&'static str>), Error> {
    let bounds = Bounds {
        visits: MAX_SEARCH_VISITED,
        matches: MAX_LISTING_ENTRIES,
        deadline: std::time::Instant::now() + MAX_SEARCH_TIME,
    };
    find_within(root, base, text, show_hidden, &bounds)
}

/// How far a search may go.
struct Bounds {
    visits: usize,
    matches: usize,
    deadline: std::time::Instant,
}

fn find_within(
    root: &Root,
    base: &FilePath,
    text: &str,
    show_hidden: bool,
    bounds: &Bounds,
) -> Result<(Listing, Option<&'static str>), Error> {
    let needle = text.to_lowercase();
    let mut found = Vec::new();
    let mut visited = 0;
    let mut queue = std::collections::VecDeque::from([(base.parts.clone(), Vec::new())]);
    let mut cut = None;
    'walk: while let Some((parts, prefix)) = queue.pop_front() {
        let folder = FilePath {
            parts: parts.clone(),
            is_dir: true,
        };
        let dir = match fsroot::resolve(root, &folder) {
            Ok(fsroot::Resolved::Dir(dir)) => dir,
            // The folder asked for must be there; one below that went meanwhile is skipped.
            Err(e) if parts.len() == base.parts.len() => return Err(e),
            _ => continue,
        };
        let Ok(listing) = read(&dir, root, show_hidden, MAX_LISTING_ENTRIES) else {
            continue;
        };
        for e in listing.entries {
            visited += 1;
            if visited > bounds.visits {
                cut = Some("too many entries looked at");
                break 'walk;
            }
            let mut name: Vec<u8> = prefix.clone();
            name.extend_from_slice(&e.name);
            if String::from_utf8_lossy(&e.name)
                .to_lowercase()
                .contains(&needle)
            {
                if found.len() >= bounds.matches {
                    cut = Some("too many matches");
                    break 'walk;
                }
                found.push(Entry {
                    name: name.clone(),
                    ..e.clone()
                });
            }
            if e.is_dir && parts.len() + 1 < paths::MAX_PATH_COMPONENTS {
                let mut deeper = parts.clone();
                deeper.push(std::ffi::OsString::from_vec(e.name));
                name.push(b'/');
                queue.push_back((deeper, name));
            }
        }
        if std::time::Instant::now() >= bounds.deadline {
            cut = Some("it took too long");
            break;
        }
    }
    let total = found.len();
    Ok((
        Listing {
            entries: found,
            total,
        },
        cut,
    ))
}

/// The listing's format: `?format=html|json|text` (so that a browser can open the JSON), else
/// by `Accept`.
///
/// # Errors
/// 400 for another `format`.
fn format_of(head: &Head) -> Result<render::Format, Error> {
    match query_value(head.target(), "format").transpose()?.as_deref() {
        Some(b"html") => return Ok(render::Format::Html),
        Some(b"json") => return Ok(render::Format::Json),
        Some(b"text") => return Ok(render::Format::Text),
        Some(_) => return Err(Error::BadRequest("format must be html, json or text")),
        None => {}
    }
    Ok(match accept::preferred(&head.headers, OFFERS) {
        Some(1) => render::Format::Html,
        Some(2) => render::Format::Json,
        // Anything else, including a client that accepts none of them, gets text.
        _ => render::Format::Text,
    })
}

/// Answers `GET|HEAD /files/{dir}/`: the listing as text, HTML or JSON by `Accept`, with a weak
/// ETag (304 on a match), `Vary: Accept`, and `Allow` saying which methods the folder takes
/// (the page hides what the user may not do).
///
/// # Errors
/// 403 or 500 when the folder cannot be read; 412 for a failed precondition.
pub fn list(
    config: &StoreConfig,
    viewer: render::Viewer,
    head: &Head,
    path: &FilePath,
    dir: &OpenDir,
    root: &Root,
) -> Result<Response<'static>, Error> {
    let format = format_of(head)?;
    let search = match query_value(head.target(), "q").transpose()? {
        Some(q) if q.len() > MAX_SEARCH_BYTES => {
            return Err(Error::BadRequest("the search text is too long"))
        }
        Some(q) => Some(String::from_utf8_lossy(&q).trim().to_string()),
        None => None,
    }
    .filter(|q| !q.is_empty());
    let (listing, search) = match search {
        Some(text) => {
            let (listing, cut) = find(root, path, &text, config.show_hidden)?;
            (listing, Some(render::Search { text, cut }))
        }
        None => (
            read(dir, root, config.show_hidden, MAX_LISTING_ENTRIES)?,
            None,
        ),
    };
    let can_write = viewer.can_write;
    let mut fingerprint = Fnv(listing.fingerprint());
    fingerprint.write(&[u8::from(can_write), u8::from(viewer.offer_login)]);
    if format == render::Format::Html {
        fingerprint.write(&assets::VERSION.to_le_bytes());
    }
    let folder_time = dir.metadata()?.modified().unwrap_or(UNIX_EPOCH);
    let v = Validators::weak(
        fingerprint.0,
        format.tag(),
        listing.latest_change(folder_time),
    );
    let mut resp = Response::new(Status::OK)
        .header("Content-Type", format.content_type())
        .header("Vary", "Accept, Accept-Encoding")
        .header("ETag", v.etag.clone())
        .header(
            "Allow",
            if can_write {
                crate::app::file_handlers::ALLOW_DIR
            } else {
                "GET, HEAD, OPTIONS, PROPFIND"
            },
        );
    if format == render::Format::Html {
        resp = resp.header("Content-Security-Policy", assets::PAGE_POLICY);
    }
    if listing.is_truncated() {
        resp = resp.header(
            "X-Listing-Truncated",
            format!("{} of {}", listing.entries.len(), listing.total),
        );
    }
    if let Some(render::Search { cut: Some(why), .. }) = &search {
        resp = resp.header("X-Search-Truncated", *why);
    }
    if conditional::not_modified(&head.headers, &v, true)? {
        resp.status = Status::NOT_MODIFIED;
        return Ok(resp);
    }
    let body = render::render(format, path, &listing, viewer, search.as_ref());
    let mut resp = resp.body(body.into());
    encoding::negotiate(&mut resp, &head.headers).map_err(Error::Io)?;
    if head.method != Method::Head {
        resp.body = counted(resp.body, config)?;
    }
    Ok(resp)
}

/// Listings up to this size are not counted against the budget of bytes in flight: they go
/// out in the first writes.
pub const COUNTED_LISTING_BYTES: usize = 64 * 1024;

/// A large listing's body, counted against `config`'s budget of listing bytes in flight
/// (`DEFAULT_MAX_LISTING_BYTES_IN_FLIGHT`) until it is sent or its connection ends.
///
/// # Errors
/// 503 when the budget has no room for it.
fn counted(body: Body<'static>, config: &StoreConfig) -> Result<Body<'static>, Error> {
    let Body::Bytes(bytes) = body else {
        return Ok(body);
    };
    if bytes.len() <= COUNTED_LISTING_BYTES {
        return Ok(Body::Bytes(bytes));
    }
    let reserved = Reserved::take(
        &config.listings_in_flight,
        bytes.len(),
        config.max_listing_bytes_in_flight,
    )
    .ok_or(Error::Busy {
        retry_after: 1,
        why: "too many large folder listings are being sent",
    })?;
    Ok(Body::Stream(Box::new(CountedBody {
        bytes,
        at: 0,
        _reserved: reserved,
    })))
}

/// Bytes taken from a budget, given back when dropped.
struct Reserved {
    budget: Arc<AtomicUsize>,
    bytes: usize,
}

impl Reserved {
    /// `bytes` from `budget`, if that leaves it at most `max`.
    fn take(budget: &Arc<AtomicUsize>, bytes: usize, max: usize) -> Option<Reserved> {
        budget
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|&n| n <= max)
            })
            .ok()?;
        Some(Reserved {
            budget: Arc::clone(budget),
            bytes,
        })
    }
}

impl Drop for Reserved {
    fn drop(&mut self) {
        self.budget.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

/// A listing sent from memory a block at a time, with its `Content-Length`, holding its bytes
/// of the budget until it is dropped.
struct CountedBody {
    bytes: Vec<u8>,
    at: usize,
    _reserved: Reserved,
}

/// Bytes a [`CountedBody`] gives at a time.
const COUNTED_BLOCK_BYTES: usize = 64 * 1024;

impl BlockStream for CountedBody {
    fn block(&mut self, out: &mut Vec<u8>) -> std::io::Result<()> {
        out.clear();
        let end = self.bytes.len().min(self.at + COUNTED_BLOCK_BYTES);
        out.extend_from_slice(self.bytes.get(self.at..end).unwrap_or_default());
        Ok(())
    }

    fn advance(&mut self) {
        self.at = self.bytes.len().min(self.at + COUNTED_BLOCK_BYTES);
    }

    fn known_len(&self) -> Option<u64> {
        Some(self.bytes.len() as u64)
    }
}

#[cfg(test)]
mod tests {

    /// A tree for searches: `a/Report.TXT`, `a/b/report-2.pdf`, `c/other.txt`, `ÉTÉ.txt`,
    /// `.hidden/report.txt` (in a temporary folder, removed by the guard).
    fn search_tree(tag: &str) -> (std::path::PathBuf, Root) {
        let dir = std::env::temp_dir().join(format!("search-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("a/b")).unwrap();
        fs::create_dir_all(dir.join("c")).unwrap();
        fs::create_dir_all(dir.join(".hidden")).unwrap();
        for f in [
            "a/Report.TXT",
            "a/b/report-2.pdf",
            "c/other.txt",
            "ÉTÉ.txt",
            ".hidden/report.txt",
        ] {
            fs::write(dir.join(f), b"x").unwrap();
        }
        let dir = dir.canonicalize().unwrap();
        let root = Root::open(&dir, false).unwrap();
        (dir, root)
    }

    fn names(listing: &Listing) -> Vec<String> {
        listing
            .entries
            .iter()
            .map(|e| String::from_utf8_lossy(&e.name).into_owned())
            .collect()
    }

    /// Every entry of `dir` as an `EntryStream` gives them, `batch` at a time.
    fn streamed(
        dir: &OpenDir,
        root: &Root,
        show_hidden: bool,
        cap: usize,
        batch: usize,
    ) -> Vec<(String, bool)> {
        let mut stream = EntryStream::start(dir, root, show_hidden, cap).unwrap();
        let mut all = Vec::new();
        loop {
            let got = stream.next_batch(dir, batch).unwrap();
            assert!(got.len() <= batch);
            if got.is_empty() {
                break;
            }
            all.extend(
                got.into_iter()
                    .map(|e| (String::from_utf8_lossy(&e.name).into_owned(), e.is_dir)),
            );
        }
        all.sort();
        all
    }

    #[test]
    fn a_streamed_folder_gives_what_its_listing_shows() {
        let (dir, _) = search_tree("stream");
        for i in 0..40 {
            fs::write(dir.join(format!("f{i:02}")), b"x").unwrap();
        }
        fs::write(dir.join(".http-server-upload-x-1-2.part"), b"x").unwrap();
        std::os::unix::fs::symlink("a", dir.join("inside")).unwrap();
        std::os::unix::fs::symlink("/etc", dir.join("outside")).unwrap();
        let _ = std::process::Command::new("mkfifo")
            .arg(dir.join("fifo"))
            .status();
        for walk in [false, true] {
            let root = Root::open(&dir, walk).unwrap();
            let open = OpenDir::open_root(&dir).unwrap();
            for show_hidden in [false, true] {
                let listed = read(&open, &root, show_hidden, MAX_LISTING_ENTRIES).unwrap();
                let mut want: Vec<(String, bool)> = listed
                    .entries
                    .iter()
                    .map(|e| (String::from_utf8_lossy(&e.name).into_owned(), e.is_dir))
                    .collect();
                want.sort();
                assert!(want.contains(&("inside".into(), true)), "{want:?}");
                let got = streamed(&open, &root, show_hidden, MAX_LISTING_ENTRIES, 7);
                assert_eq!(got, want, "walk {walk}, show_hidden {show_hidden}");
            }
            // The cap holds however the batches fall.
            assert_eq!(streamed(&open, &root, false, 10, 3).len(), 10);
            assert_eq!(streamed(&open, &root, false, 10, 64).len(), 10);
        }
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_budget_of_listing_bytes_holds_and_is_given_back() {
        let budget = Arc::new(AtomicUsize::new(0));
        let a = Reserved::take(&budget, 600, 1000).unwrap();
        assert!(Reserved::take(&budget, 401, 1000).is_none());
        let b = Reserved::take(&budget, 400, 1000).unwrap();
        assert_eq!(budget.load(Ordering::Acquire), 1000);
        drop(a);
        assert!(
            Reserved::take(&budget, usize::MAX, usize::MAX).is_none(),
            "no overflow"
        );
        drop(b);
        assert_eq!(budget.load(Ordering::Acquire), 0);
        // A counted body gives its bytes whole, a block at a time, then an empty block.
        let bytes: Vec<u8> = (0..150_000u32).map(|i| i as u8).collect();
        let mut body = CountedBody {
            bytes: bytes.clone(),
            at: 0,
            _reserved: Reserved::take(&budget, 150_000, 1 << 20).unwrap(),
        };
        assert_eq!(body.known_len(), Some(150_000));
        let (mut got, mut out) = (Vec::new(), Vec::new());
        loop {
            body.block(&mut out).unwrap();
            if out.is_empty() {
                break;
            }
            got.extend_from_slice(&out);
            body.advance();
        }
        assert_eq!(got, bytes);
        drop(body);
        assert_eq!(budget.load(Ordering::Acquire), 0);
    }

    #[test]
    fn searches_names_below_case_insensitively_nearest_first() {
        let (dir, root) = search_tree("find");
        let top = FilePath {
            parts: Vec::new(),
            is_dir: true,
        };
        let (found, cut) = find(&root, &top, "REPORT", false).unwrap();
        assert_eq!(names(&found), ["a/Report.TXT", "a/b/report-2.pdf"]);
        assert_eq!(cut, None);
        let (found, _) = find(&root, &top, "été", false).unwrap();
        assert_eq!(names(&found), ["ÉTÉ.txt"], "Unicode lower case");
        let (found, _) = find(&root, &top, "report", true).unwrap();
        assert_eq!(names(&found).len(), 3, "dot folders with --show-hidden");
        let (found, _) = find(&root, &top, "zzz", false).unwrap();
        assert!(found.entries.is_empty());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_search_stops_at_its_bounds_and_says_why() {
        let (dir, root) = search_tree("bounds");
        let top = FilePath {
            parts: Vec::new(),
            is_dir: true,
        };
        let far = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let bounds = Bounds {
            visits: 3,
            matches: 100,
            deadline: far,
        };
        let (_, cut) = find_within(&root, &top, "x", false, &bounds).unwrap();
        assert_eq!(cut, Some("too many entries looked at"));
        let bounds = Bounds {
            visits: 100,
            matches: 1,
            deadline: far,
        };
        let (found, cut) = find_within(&root, &top, "t", false, &bounds).unwrap();
        assert_eq!((found.entries.len(), cut), (1, Some("too many matches")));
        let past = std::time::Instant::now();
        let bounds = Bounds {
            visits: 100,
            matches: 100,
            deadline: past,
        };
        let (_, cut) = find_within(&root, &top, "t", false, &bounds).unwrap();
        assert_eq!(cut, Some("it took too long"));
        fs::remove_dir_all(dir).unwrap();
    }

    use super::*;

    #[test]
    fn orders_folders_first_then_names_ignoring_case() {
        let key = |is_file: bool, name: &str| SortKey::new(name.as_bytes(), !is_file, false);
        let mut keys = [
            key(true, "b.txt"),
            key(false, "Zeta"),
            key(true, "A.txt"),
            key(false, "alpha"),
            key(true, "a.txt"),
        ];
        keys.sort();
        let names: Vec<_> = keys
            .iter()
            .map(|k| String::from_utf8_lossy(&k.name).into_owned())
            .collect();
        assert_eq!(names, ["alpha", "Zeta", "A.txt", "a.txt", "b.txt"]);
    }

    #[test]
    fn fnv_matches_its_reference_values() {
        let cases: &[(&[u8], u64)] = &[
            (b"", 0xcbf2_9ce4_8422_2325),
            (b"a", 0xaf63_dc4c_8601_ec8c),
            (b"foobar", 0x8594_4171_f739_67e8),
        ];
        for (input, want) in cases {
            let mut h = Fnv::default();
            h.write(input);
            assert_eq!(h.0, *want);
        }
    }
}
