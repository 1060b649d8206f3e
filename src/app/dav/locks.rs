//! WebDAV's write locks (RFC 4918 §6, §7): exclusive or shared, on one resource (`Depth: 0`)
//! or a folder and all below it (`infinity`), each with a timeout.
//!
//! The table is a file in the served folder, [`LOCKS_FILE`] (a reserved name: never served,
//! listed, copied or archived), so every instance serving the folder sees the same locks and
//! they outlive a restart. Each request that needs the locks reads the file under a shared
//! `flock`; a `LOCK`, `UNLOCK` or a delete that ends locks rewrites it in place under an
//! exclusive one (never unlinked, so no writer can be left holding a file nobody reads). A
//! request tries for either lock for about a second (`LOCK_TRIES`), then answers 503: no
//! worker waits on whoever else holds it. The
//! last bytes read and their parse are kept, so a file that did not change is not parsed
//! again. Without a table file (no lock was ever taken here) a write costs one failed `open`.
//!
//! Bounds: [`MAX_LOCKS`] locks and [`MAX_LOCKS_FILE_BYTES`] bytes (past either a new `LOCK` is
//! answered 503), an owner of at most [`MAX_OWNER_BYTES`]. Expired locks are ignored when read
//! and dropped at the next rewrite. Times are wall-clock, as the instances share no other clock.
//! The file is not synced: a crash may lose locks (clients then find their tokens unknown and
//! lock again, as after a timeout), and a line left torn is skipped; lost locks are the only
//! harm, never a lost file. On a file system without `flock` the file is read and written
//! without it.
//!
//! A lock only restricts: its token is never a credential, and a write that presents one still
//! needs the user's write right.
//!
//! Out of scope: the LOCK and UNLOCK methods and the checks on writes (`lockmethods.rs`).

use super::xml::{self, write_element, Element, Name, DAV};
use crate::app::store::fsroot::fs_error;
use crate::app::store::paths::{parse_file_path, FilePath, UPLOAD_PREFIX};
use crate::http::error::Error;
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Most locks held at once; past it a new LOCK is answered 503.
pub const MAX_LOCKS: usize = 4096;
/// Largest the table file may grow; past it a new LOCK is answered 503.
pub const MAX_LOCKS_FILE_BYTES: usize = 1024 * 1024;
/// Longest `DAV:owner` a lock keeps, as XML; a longer one is refused with 400.
pub const MAX_OWNER_BYTES: usize = 4096;
/// The table's name in the root of the served folder. It starts with the reserved prefix of
/// the server's own files, so no request can name it and no listing shows it.
pub const LOCKS_FILE: &str = ".http-server-upload-locks";
/// The file's first line; a file without it (another version's) is read as no locks.
const FORMAT: &str = "http-server WebDAV locks 1\n";

/// One lock.
#[derive(Debug, Clone)]
pub struct Lock {
    /// `urn:uuid:...`.
    pub token: String,
    /// The path it was taken on (its lock root).
    pub root: Vec<OsString>,
    pub root_is_dir: bool,
    pub infinite: bool,
    pub exclusive: bool,
    /// The client's `DAV:owner`, given back as it came.
    pub owner: Option<Element>,
    pub seconds: u64,
    pub expires: SystemTime,
}

impl Lock {
    /// Whether this lock applies to `parts`: its root, or below it for a deep lock.
    pub fn covers(&self, parts: &[OsString]) -> bool {
        parts == self.root.as_slice() || (self.infinite && parts.starts_with(&self.root))
    }

    /// The lock root's URL.
    pub fn href(&self) -> String {
        FilePath {
            parts: self.root.clone(),
            is_dir: self.root_is_dir,
        }
        .url(self.root_is_dir)
    }

    /// Whether the lock still holds.
    fn live(&self, now: SystemTime) -> bool {
        self.expires > now
    }

    /// The lock as one line of the table file: tab-separated token, expiry (milliseconds since
    /// 1970), timeout, scope, depth, kind, root URL, owner XML (`%`, tab and line ends escaped).
    fn write_line(&self, out: &mut String) {
        let expires = self
            .expires
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let _ = write!(
            out,
            "{}\t{expires}\t{}\t{}\t{}\t{}\t{}\t",
            self.token,
            self.seconds,
            if self.exclusive { 'x' } else { 's' },
            if self.infinite { 'i' } else { '0' },
            if self.root_is_dir { 'd' } else { 'f' },
            self.href(),
        );
        if let Some(owner) = &self.owner {
            let mut xml = String::new();
            write_element(owner, &mut xml);
            for c in xml.chars() {
                match c {
                    '%' => out.push_str("%25"),
                    '\t' => out.push_str("%09"),
                    '\n' => out.push_str("%0A"),
                    '\r' => out.push_str("%0D"),
                    c => out.push(c),
                }
            }
        }
        out.push('\n');
    }

    /// A line written by [`Lock::write_line`]; `None` for one that is not (torn, or edited).
    fn read_line(line: &str) -> Option<Lock> {
        let mut f = line.split('\t');
        let token = f.next()?.to_string();
        let millis: u64 = f.next()?.parse().ok()?;
        let seconds = f.next()?.parse().ok()?;
        let exclusive = flag(f.next()?, "x", "s")?;
        let infinite = flag(f.next()?, "i", "0")?;
        let root_is_dir = flag(f.next()?, "d", "f")?;
        let root = parse_file_path(f.next()?.strip_prefix("/files/")?.as_bytes()).ok()?;
        let owner = match f.next()? {
            "" => None,
            escaped => Some(xml::parse(&unescape(escaped)?).ok()?),
        };
        if f.next().is_some() || !token.starts_with("urn:uuid:") {
            return None;
        }
        Some(Lock {
            token,
            root: root.parts,
            root_is_dir,
            infinite,
            exclusive,
            owner,
            seconds,
            expires: UNIX_EPOCH + Duration::from_millis(millis),
        })
    }

    /// The lock as a `DAV:activelock` element (RFC 4918 §14.1).
    pub fn activelock(&self) -> Element {
        // Rounded up: a lock just granted for N seconds says N.
        let left = self
            .expires
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        let seconds = left.as_secs() + u64::from(left.subsec_nanos() > 0);
        let mut children = vec![
            dav("locktype", "", vec![dav("write", "", vec![])]),
            dav(
                "lockscope",
                "",
                vec![dav(
                    if self.exclusive {
                        "exclusive"
                    } else {
                        "shared"
                    },
                    "",
                    vec![],
                )],
            ),
            dav(
                "depth",
                if self.infinite { "infinity" } else { "0" },
                vec![],
            ),
        ];
        if let Some(owner) = &self.owner {
            children.push(owner.clone());
        }
        children.push(dav("timeout", &format!("Second-{seconds}"), vec![]));
        children.push(dav("locktoken", "", vec![dav("href", &self.token, vec![])]));
        children.push(dav("lockroot", "", vec![dav("href", &self.href(), vec![])]));
        dav("activelock", "", children)
    }
}

/// An element in `DAV:`.
pub fn dav(local: &str, text: &str, children: Vec<Element>) -> Element {
    Element {
        name: Name {
            ns: DAV.into(),
            local: local.into(),
        },
        attrs: Vec::new(),
        children,
        text: text.into(),
    }
}

/// A new lock token: a version 4 style UUID from std's randomly keyed hasher, the time and a
/// counter (unique, and unguessable enough for a token that is no credential).
pub fn new_token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut words = [0u64; 2];
    for (i, w) in words.iter_mut().enumerate() {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(n);
        h.write_u128(now);
        h.write_usize(i);
        h.write_u32(std::process::id());
        *w = h.finish();
    }
    let [a, b] = words;
    format!(
        "urn:uuid:{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | (b >> 48) & 0x3fff,
        b & 0xffff_ffff_ffff
    )
}

/// A one-letter field: `yes`, `no`, or not a field of ours.
fn flag(field: &str, yes: &str, no: &str) -> Option<bool> {
    match field {
        f if f == yes => Some(true),
        f if f == no => Some(false),
        _ => None,
    }
}

/// Undoes the owner's escapes (`%25`, `%09`, `%0A`, `%0D`).
fn unescape(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b != b'%' {
            out.push(b);
            continue;
        }
        let hex = [bytes.next()?, bytes.next()?];
        out.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
    }
    Some(out)
}

/// The locks as the table file holds them.
fn encode(locks: &[Lock]) -> String {
    let mut out = String::from(FORMAT);
    for lock in locks {
        lock.write_line(&mut out);
    }
    out
}

/// The locks of a table file's bytes (the lines that read as locks).
fn decode(bytes: &[u8]) -> Vec<Lock> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Vec::new();
    };
    match text.strip_prefix(FORMAT) {
        Some(lines) => lines.lines().filter_map(Lock::read_line).collect(),
        None => Vec::new(),
    }
}

/// The table as it was read at one moment: what a request checks against. Only the locks
/// unexpired at that moment count.
#[derive(Debug)]
pub struct Locks {
    all: Arc<Parsed>,
    now: SystemTime,
}

/// The locks of the table file, and where each token is among them (an `If` header may name
/// a thousand tokens, and the table hold thousands of locks).
#[derive(Debug, Default)]
struct Parsed {
    locks: Vec<Lock>,
    by_token: HashMap<String, usize>,
}

impl Parsed {
    fn new(locks: Vec<Lock>) -> Parsed {
        let by_token = locks
            .iter()
            .enumerate()
            .map(|(i, l)| (l.token.clone(), i))
            .collect();
        Parsed { locks, by_token }
    }
}

impl Default for Locks {
    fn default() -> Locks {
        Locks {
            all: Arc::default(),
            now: SystemTime::now(),
        }
    }
}

impl Locks {
    fn live(&self) -> impl Iterator<Item = &Lock> {
        self.all.locks.iter().filter(|l| l.live(self.now))
    }

    pub fn is_empty(&self) -> bool {
        self.live().next().is_none()
    }

    /// The locks that apply to `parts`, and with `below`, those on anything under it too.
    pub fn affecting(&self, parts: &[OsString], below: bool) -> Vec<&Lock> {
        self.live()
            .filter(|l| l.covers(parts) || (below && l.root.starts_with(parts)))
            .collect()
    }

    /// The locks taken on `parts` itself.
    pub fn on(&self, parts: &[OsString]) -> Vec<&Lock> {
        self.live().filter(|l| l.root.as_slice() == parts).collect()
    }

    /// Whether the lock `token` is live and applies to `parts`.
    pub fn token_covers(&self, token: &str, parts: &[OsString]) -> bool {
        self.all
            .by_token
            .get(token)
            .and_then(|&i| self.all.locks.get(i))
            .is_some_and(|l| l.live(self.now) && l.covers(parts))
    }
}

/// The table file of one served folder, and the last bytes read from it with their parse.
#[derive(Debug)]
pub struct LockTable {
    /// `None` without a served folder: no locks, and none can be taken.
    file: Option<PathBuf>,
    /// [`MAX_LOCKS_FILE_BYTES`], but in tests.
    max_bytes: usize,
    last: Mutex<(Vec<u8>, Arc<Parsed>)>,
}

impl LockTable {
    /// The table of the folder `root` (`None`: no folder is served).
    pub fn new(root: Option<&Path>) -> LockTable {
        debug_assert!(LOCKS_FILE.starts_with(UPLOAD_PREFIX));
        LockTable {
            file: root.map(|r| r.join(LOCKS_FILE)),
            max_bytes: MAX_LOCKS_FILE_BYTES,
            last: Mutex::new((Vec::new(), Arc::default())),
        }
    }

    /// The locks in `bytes`, parsed unless they are the bytes parsed last time.
    fn parsed(&self, bytes: Vec<u8>) -> Arc<Parsed> {
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        if last.0 != bytes {
            let locks = Arc::new(Parsed::new(decode(&bytes)));
            *last = (bytes, locks);
        }
        Arc::clone(&last.1)
    }

    /// The unexpired locks now.
    ///
    /// # Errors
    /// The file system's, when the table exists and cannot be read (a write must not go on
    /// unchecked).
    pub fn snapshot(&self) -> Result<Locks, Error> {
        let Some(path) = &self.file else {
            return Ok(Locks::default());
        };
        let mut file = match open(path, false) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Locks::default()),
            Err(e) => return Err(fs_error(e)),
        };
        if file.metadata().map_err(fs_error)?.len() == 0 {
            return Ok(Locks::default());
        }
        wait_for_lock(&file, false)?;
        let bytes = read_bounded(&mut file)?;
        Ok(Locks {
            all: self.parsed(bytes),
            now: SystemTime::now(),
        })
    }

    /// Runs `change` on the unexpired locks under the file's exclusive lock and writes the
    /// result back when `change` returns `Ok((true, _))`.
    fn change<R>(
        &self,
        change: impl FnOnce(&mut Vec<Lock>) -> Result<(bool, R), Error>,
    ) -> Result<R, Error> {
        let path = self.file.as_ref().ok_or(Error::NotFound)?;
        let mut file = open(path, true).map_err(fs_error)?;
        wait_for_lock(&file, true)?;
        let before = read_bounded(&mut file)?;
        let now = SystemTime::now();
        let mut locks: Vec<Lock> = self
            .parsed(before)
            .locks
            .iter()
            .filter(|l| l.live(now))
            .cloned()
            .collect();
        let (changed, answer) = change(&mut locks)?;
        if !changed {
            return Ok(answer);
        }
        let after = if locks.is_empty() {
            String::new()
        } else {
            encode(&locks)
        };
        if after.len() > self.max_bytes {
            return Err(Error::Busy {
                retry_after: 60,
                why: "the lock table is full",
            });
        }
        file.write_all_at(after.as_bytes(), 0).map_err(fs_error)?;
        file.set_len(after.len() as u64).map_err(fs_error)?;
        self.parsed(after.into_bytes());
        Ok(answer)
    }

    /// Adds `lock` unless one it conflicts with is held (RFC 4918 §6.1, §7: an exclusive lock
    /// shares with none, a shared one with other shared ones). `Ok(false)`: a conflict.
    ///
    /// # Errors
    /// 503 when the table is full; the file system's.
    pub fn try_add(&self, lock: Lock) -> Result<bool, Error> {
        self.change(|locks| admit(locks, lock, MAX_LOCKS).map(|added| (added, added)))
    }

    /// Gives the lock `token`, which must apply to `parts`, a new timeout.
    ///
    /// # Errors
    /// The file system's.
    pub fn refresh(
        &self,
        token: &str,
        parts: &[OsString],
        seconds: u64,
    ) -> Result<Option<Lock>, Error> {
        self.change(|locks| {
            let Some(lock) = locks
                .iter_mut()
                .find(|l| l.token == token && l.covers(parts))
            else {
                return Ok((false, None));
            };
            lock.seconds = seconds;
            lock.expires = SystemTime::now() + Duration::from_secs(seconds);
            Ok((true, Some(lock.clone())))
        })
    }

    /// Removes the lock `token` if it applies to `parts`; whether it did.
    ///
    /// # Errors
    /// The file system's.
    pub fn remove(&self, token: &str, parts: &[OsString]) -> Result<bool, Error> {
        self.change(|locks| {
            let before = locks.len();
            locks.retain(|l| !(l.token == token && l.covers(parts)));
            let removed = locks.len() != before;
            Ok((removed, removed))
        })
    }

    /// Drops the locks on `parts` and below (the resource was deleted or moved away). The
    /// table is rewritten only when one of its locks is there.
    ///
    /// # Errors
    /// The file system's.
    pub fn drop_under(&self, parts: &[OsString]) -> Result<(), Error> {
        if self.snapshot()?.live().all(|l| !l.root.starts_with(parts)) {
            return Ok(());
        }
        self.change(|locks| {
            locks.retain(|l| !l.root.starts_with(parts));
            Ok((true, ()))
        })
    }
}

/// Adds `lock` to `locks` unless it conflicts with one of them; `Ok(false)`: a conflict.
///
/// # Errors
/// 503 when `locks` already has `max` locks.
fn admit(locks: &mut Vec<Lock>, lock: Lock, max: usize) -> Result<bool, Error> {
    let overlaps = |l: &Lock| l.covers(&lock.root) || lock.covers(&l.root);
    if locks
        .iter()
        .any(|l| overlaps(l) && (l.exclusive || lock.exclusive))
    {
        return Ok(false);
    }
    if locks.len() >= max {
        return Err(Error::Busy {
            retry_after: 60,
            why: "too many locks are held",
        });
    }
    locks.push(lock);
    Ok(true)
}

/// Opens the table file to read it, or to write it (made if missing). Never through a link,
/// never a FIFO or device (the open does not wait, and anything but a plain file is refused):
/// only a local user could put one there, but the server must neither hang nor write
/// elsewhere because of it.
fn open(path: &Path, write: bool) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(write)
        .create(write)
        .truncate(false)
        .custom_flags(crate::sys::O_NONBLOCK | crate::sys::O_NOFOLLOW)
        .open(path)?;
    if file.metadata()?.is_file() {
        Ok(file)
    } else {
        Err(io::Error::other("the lock table is not a plain file"))
    }
}

/// How many times (1 ms apart) a request tries for the table file's lock before it gives up
/// with 503. Another instance holds it only while it rewrites a small file; anything holding
/// it longer (a stuck process, a hung network file system) must not hold a worker with it.
const LOCK_TRIES: u32 = 1000;

/// Takes the table file's shared or exclusive lock, trying for about a second. Where the file
/// system has no locks (`ENOLCK`), the table is used without, as uploads do.
///
/// # Errors
/// 503 when someone else holds a conflicting lock all that time.
fn wait_for_lock(file: &File, exclusive: bool) -> Result<(), Error> {
    for _ in 0..LOCK_TRIES {
        match crate::sys::try_lock(file.as_fd(), exclusive) {
            Ok(false) => std::thread::sleep(Duration::from_millis(1)),
            Ok(true) | Err(_) => return Ok(()),
        }
    }
    Err(Error::Busy {
        retry_after: 1,
        why: "the WebDAV lock table is held by another process",
    })
}

/// The table file's bytes, at most [`MAX_LOCKS_FILE_BYTES`] (a longer file was not written
/// by us: its tail is ignored, and the lines cut are skipped).
fn read_bounded(file: &mut File) -> Result<Vec<u8>, Error> {
    let mut bytes = Vec::new();
    file.take(MAX_LOCKS_FILE_BYTES as u64)
        .read_to_end(&mut bytes)
        .map_err(fs_error)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock(root: &[&str], infinite: bool, exclusive: bool) -> Lock {
        Lock {
            token: new_token(),
            root: root.iter().map(OsString::from).collect(),
            root_is_dir: infinite,
            infinite,
            exclusive,
            owner: None,
            seconds: 60,
            expires: SystemTime::now() + Duration::from_secs(60),
        }
    }

    fn parts(p: &[&str]) -> Vec<OsString> {
        p.iter().map(OsString::from).collect()
    }

    /// A fresh folder for a table, removed when dropped.
    struct Folder(PathBuf);

    impl Folder {
        fn new(name: &str) -> Folder {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir().join(format!("locks-{name}-{}-{n}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            Folder(dir)
        }

        fn table(&self) -> LockTable {
            LockTable::new(Some(&self.0))
        }
    }

    impl Drop for Folder {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    static COUNTER: AtomicU64 = AtomicU64::new(0);

    #[test]
    fn exclusive_locks_conflict_shared_ones_share() {
        let dir = Folder::new("conflict");
        let t = dir.table();
        assert!(t.try_add(lock(&["a"], true, false)).unwrap());
        assert!(t.try_add(lock(&["a", "b"], false, false)).unwrap());
        assert!(!t.try_add(lock(&["a", "b"], false, true)).unwrap());
        assert!(!t.try_add(lock(&[], true, true)).unwrap());
        assert!(t.try_add(lock(&["c"], false, true)).unwrap());
        let now = t.snapshot().unwrap();
        assert_eq!(now.affecting(&parts(&["a", "b", "x"]), false).len(), 1);
        assert_eq!(now.affecting(&parts(&["a"]), true).len(), 2);
        t.drop_under(&parts(&["a"])).unwrap();
        assert_eq!(t.snapshot().unwrap().affecting(&parts(&[]), true).len(), 1);
    }

    #[test]
    fn two_tables_on_one_folder_see_the_same_locks() {
        let dir = Folder::new("shared");
        let (a, b) = (dir.table(), dir.table());
        let mut l = lock(&["doc name %.txt"], false, true);
        l.owner = Some(
            xml::parse(b"<D:owner xmlns:D='DAV:'>a\tb\nc%20 <x:y xmlns:x='urn:x'/></D:owner>")
                .unwrap(),
        );
        let token = l.token.clone();
        assert!(a.try_add(l.clone()).unwrap());
        let seen = b.snapshot().unwrap();
        assert!(seen.token_covers(&token, &parts(&["doc name %.txt"])));
        let got = seen.on(&parts(&["doc name %.txt"]))[0];
        assert_eq!(got.owner, l.owner, "the owner comes back as it went");
        assert!(got.exclusive && !got.infinite && !got.root_is_dir);
        // A conflicting lock through the other table is refused; a refresh is seen by the first.
        assert!(!b.try_add(lock(&[], true, false)).unwrap());
        assert!(b
            .refresh(&token, &parts(&["doc name %.txt"]), 600)
            .unwrap()
            .is_some());
        assert_eq!(
            a.snapshot().unwrap().on(&parts(&["doc name %.txt"]))[0].seconds,
            600
        );
        assert!(b.remove(&token, &parts(&["doc name %.txt"])).unwrap());
        assert!(a.snapshot().unwrap().is_empty());
        assert_eq!(std::fs::metadata(dir.0.join(LOCKS_FILE)).unwrap().len(), 0);
    }

    #[test]
    fn expired_and_torn_lines_are_gone_and_tokens_differ() {
        let dir = Folder::new("expired");
        let t = dir.table();
        let mut l = lock(&["a"], false, true);
        l.expires = SystemTime::now();
        assert!(t.try_add(l).unwrap());
        assert!(t.snapshot().unwrap().is_empty());
        let kept = lock(&["b"], true, false);
        let mut text = encode(std::slice::from_ref(&kept));
        text.push_str("urn:uuid:torn\t12");
        std::fs::write(dir.0.join(LOCKS_FILE), &text).unwrap();
        let now = t.snapshot().unwrap();
        let live: Vec<_> = now.live().collect();
        assert_eq!(live.len(), 1);
        assert_eq!(live[0].token, kept.token);
        // Another format's file reads as no locks.
        std::fs::write(dir.0.join(LOCKS_FILE), "something else\n").unwrap();
        assert!(t.snapshot().unwrap().is_empty());
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), "urn:uuid:".len() + 36, "{a}");
    }

    #[test]
    fn the_table_is_bounded_in_bytes() {
        let dir = Folder::new("bytes");
        let t = LockTable {
            max_bytes: 64 * 1024,
            ..dir.table()
        };
        let long = "n".repeat(250);
        let mut added = 0;
        loop {
            let name = format!("{added}-{long}");
            match t.try_add(lock(&[&name, &long, &long, &long], false, true)) {
                Ok(true) => added += 1,
                Err(Error::Busy { .. }) => break,
                other => panic!("{other:?}"),
            }
        }
        assert!(added > 10 && added < MAX_LOCKS, "{added}");
        let size = std::fs::metadata(dir.0.join(LOCKS_FILE)).unwrap().len();
        assert!(size <= 64 * 1024 && size > 60 * 1024, "{size}");
        assert_eq!(t.snapshot().unwrap().live().count(), added);
    }

    #[test]
    fn the_table_is_bounded_in_count() {
        let mut locks = Vec::new();
        assert!(admit(&mut locks, lock(&["a"], false, true), 2).unwrap());
        assert!(admit(&mut locks, lock(&["b"], false, true), 2).unwrap());
        assert!(matches!(
            admit(&mut locks, lock(&["c"], false, true), 2),
            Err(Error::Busy { .. })
        ));
        // A conflict is a conflict, full or not.
        assert!(!admit(&mut locks, lock(&["a"], false, false), 2).unwrap());
    }

    #[test]
    fn a_link_or_fifo_in_the_tables_place_is_refused_not_followed() {
        let dir = Folder::new("link");
        let target = dir.0.join("elsewhere");
        std::fs::write(&target, b"keep").unwrap();
        std::os::unix::fs::symlink(&target, dir.0.join(LOCKS_FILE)).unwrap();
        let t = dir.table();
        assert!(t.snapshot().is_err());
        assert!(t.try_add(lock(&["a"], false, true)).is_err());
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");
        std::fs::remove_file(dir.0.join(LOCKS_FILE)).unwrap();
        let made = std::process::Command::new("mkfifo")
            .arg(dir.0.join(LOCKS_FILE))
            .status()
            .is_ok_and(|s| s.success());
        if made {
            assert!(t.snapshot().is_err(), "a FIFO is refused at once");
            assert!(t.try_add(lock(&["a"], false, true)).is_err());
        }
    }

    #[test]
    fn a_table_held_elsewhere_is_503_not_a_wait_forever() {
        let dir = Folder::new("held");
        let t = dir.table();
        assert!(t.try_add(lock(&["a"], false, true)).unwrap());
        let other = File::open(dir.0.join(LOCKS_FILE)).unwrap();
        // A process forked by another test meanwhile may hold a copy of the table's descriptor
        // (and so its lock) until it execs: try until it has.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !crate::sys::try_lock(other.as_fd(), true).unwrap() {
            assert!(
                std::time::Instant::now() < deadline,
                "the table stayed locked"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(matches!(t.snapshot(), Err(Error::Busy { .. })));
        assert!(matches!(
            t.try_add(lock(&["b"], false, true)),
            Err(Error::Busy { .. })
        ));
        drop(other);
        assert_eq!(t.snapshot().unwrap().live().count(), 1);
    }

    #[test]
    fn without_a_folder_there_are_no_locks() {
        let t = LockTable::new(None);
        assert!(t.snapshot().unwrap().is_empty());
        assert!(t.try_add(lock(&["a"], false, true)).is_err());
    }
}
