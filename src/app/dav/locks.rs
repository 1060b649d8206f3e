//! WebDAV's write locks (RFC 4918 §6, §7): the table of locks this process granted, exclusive
//! or shared, on one resource (`Depth: 0`) or a folder and all below it (`infinity`), each
//! with a timeout. The table is bounded ([`MAX_LOCKS`]); expired locks are dropped whenever it
//! is looked at.
//!
//! Locks live in this process's memory: they end with it (a client then finds its token
//! unknown and locks again, as after a timeout), and two instances serving one folder do not
//! see each other's locks. A lock only restricts: its token is never a credential, and a write
//! that presents one still needs the user's write right.
//!
//! Out of scope: the LOCK and UNLOCK methods and the checks on writes (`lockmethods.rs`).

use super::xml::{Element, Name, DAV};
use crate::app::store::paths::FilePath;
use crate::http::error::Error;
use std::collections::hash_map::RandomState;
use std::ffi::OsString;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Most locks held at once; past it a new LOCK is answered 503.
pub const MAX_LOCKS: usize = 4096;

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
    pub expires: Instant,
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

    /// The lock as a `DAV:activelock` element (RFC 4918 §14.1).
    pub fn activelock(&self) -> Element {
        // Rounded up: a lock just granted for N seconds says N.
        let left = self.expires.saturating_duration_since(Instant::now());
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

/// The locks this process holds.
#[derive(Debug, Default)]
pub struct LockTable {
    locks: Mutex<Vec<Lock>>,
}

impl LockTable {
    pub fn new() -> LockTable {
        LockTable::default()
    }

    /// The table without its expired locks.
    fn live(&self) -> MutexGuard<'_, Vec<Lock>> {
        let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        locks.retain(|l| l.expires > now);
        locks
    }

    pub fn is_empty(&self) -> bool {
        self.live().is_empty()
    }

    /// The locks that apply to `parts`, and with `below`, those on anything under it too.
    pub fn affecting(&self, parts: &[OsString], below: bool) -> Vec<Lock> {
        self.live()
            .iter()
            .filter(|l| l.covers(parts) || (below && l.root.starts_with(parts)))
            .cloned()
            .collect()
    }

    /// The locks taken on `parts` itself.
    pub fn on(&self, parts: &[OsString]) -> Vec<Lock> {
        self.live()
            .iter()
            .filter(|l| l.root.as_slice() == parts)
            .cloned()
            .collect()
    }

    /// Whether the lock `token` is live and applies to `parts`.
    pub fn token_covers(&self, token: &str, parts: &[OsString]) -> bool {
        self.live()
            .iter()
            .any(|l| l.token == token && l.covers(parts))
    }

    /// Adds `lock` unless one it conflicts with is held (RFC 4918 §6.1, §7: an exclusive lock
    /// shares with none, a shared one with other shared ones). `Ok(false)`: a conflict.
    ///
    /// # Errors
    /// 503 when the table is full.
    pub fn try_add(&self, lock: Lock) -> Result<bool, Error> {
        let mut locks = self.live();
        let overlaps = |l: &Lock| l.covers(&lock.root) || lock.covers(&l.root);
        if locks
            .iter()
            .any(|l| overlaps(l) && (l.exclusive || lock.exclusive))
        {
            return Ok(false);
        }
        if locks.len() >= MAX_LOCKS {
            return Err(Error::Busy {
                retry_after: 60,
                why: "too many locks are held",
            });
        }
        locks.push(lock);
        Ok(true)
    }

    /// Gives the lock `token`, which must apply to `parts`, a new timeout.
    pub fn refresh(&self, token: &str, parts: &[OsString], seconds: u64) -> Option<Lock> {
        let mut locks = self.live();
        let lock = locks
            .iter_mut()
            .find(|l| l.token == token && l.covers(parts))?;
        lock.seconds = seconds;
        lock.expires = Instant::now() + Duration::from_secs(seconds);
        Some(lock.clone())
    }

    /// Removes the lock `token` if it applies to `parts`; whether it did.
    pub fn remove(&self, token: &str, parts: &[OsString]) -> bool {
        let mut locks = self.live();
        let before = locks.len();
        locks.retain(|l| !(l.token == token && l.covers(parts)));
        locks.len() != before
    }

    /// Drops the locks on `parts` and below (the resource was deleted or moved away).
    pub fn drop_under(&self, parts: &[OsString]) {
        self.live().retain(|l| !l.root.starts_with(parts));
    }
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
            expires: Instant::now() + Duration::from_secs(60),
        }
    }

    fn parts(p: &[&str]) -> Vec<OsString> {
        p.iter().map(OsString::from).collect()
    }

    #[test]
    fn exclusive_locks_conflict_shared_ones_share() {
        let t = LockTable::new();
        assert!(t.try_add(lock(&["a"], true, false)).unwrap());
        assert!(t.try_add(lock(&["a", "b"], false, false)).unwrap());
        assert!(!t.try_add(lock(&["a", "b"], false, true)).unwrap());
        assert!(!t.try_add(lock(&[], true, true)).unwrap());
        assert!(t.try_add(lock(&["c"], false, true)).unwrap());
        assert_eq!(t.affecting(&parts(&["a", "b", "x"]), false).len(), 1);
        assert_eq!(t.affecting(&parts(&["a"]), true).len(), 2);
        t.drop_under(&parts(&["a"]));
        assert_eq!(t.affecting(&parts(&[]), true).len(), 1);
    }

    #[test]
    fn expired_locks_are_gone_and_tokens_differ() {
        let t = LockTable::new();
        let mut l = lock(&["a"], false, true);
        l.expires = Instant::now();
        assert!(t.try_add(l).unwrap());
        assert!(t.is_empty());
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), "urn:uuid:".len() + 36, "{a}");
    }
}
