//! Temporary upload files: their names, which say who owns them, the registry of this process's
//! live ones (for a shutdown that cuts them), and the start-up clean-up of dead ones, which also
//! takes the temporary folders of copies (`tree.rs`) that a killed process left.
//!
//! A temporary file is `PREFIX{host}-{pid}-{n}SUFFIX`. `host` tells apart the machines and
//! containers that may share one folder (an NFS mount, a volume): on Linux it is the boot id
//! (`/proc/sys/kernel/random/boot_id`, 32 hex digits without dashes) and the inode of the PID
//! namespace (`/proc/self/ns/pid`), so two containers on one host, with their own PID 1s, differ.
//! A process id means something only beside the same `host`.
//!
//! Each upload also holds an exclusive `flock` on its temporary file while it writes it; the
//! kernel (or, on NFS, the lock manager) releases it when the writer dies, however it dies. So
//! the start-up clean-up decides, for each temporary file:
//! - locked by someone: an upload in progress, kept (whatever its name or age says);
//! - same `host`, and its process is not running (or is this process, which has no uploads
//!   yet when the clean-up runs at start-up): dead, removed;
//! - not locked, and untouched for `UNLOCKED_GRACE`: its writer is gone (on any host), removed;
//! - older than `--stale-upload-age` (a day by default) where the lock says nothing (a file
//!   system without locks, or a name of the older form `PREFIX{pid}-{n}SUFFIX`, which had no
//!   host and no lock): removed;
//! - anything else: kept, and counted in the log.
//!
//! A folder cannot be locked the same way everywhere (on NFS `flock` becomes a POSIX lock,
//! which needs a file open for writing), so a copy's temporary folder, which has a temporary
//! name too, holds a lock file, [`COPY_LOCK_NAME`], locked while the copy fills the folder and
//! removed before the folder takes its final name. The clean-up tests that file's lock and
//! judges the folder as above; a folder without one (a copy about to land, or a folder set
//! aside to be removed) is judged by its name and age alone, as where locks say nothing.
//!
//! Out of scope: writing uploads (`store.rs`) and keeping these names out of listings and URLs
//! (`paths.rs`).

use crate::app::store::paths::{is_upload_name, MAX_PATH_COMPONENTS, UPLOAD_PREFIX, UPLOAD_SUFFIX};
#[cfg(test)]
use crate::config::DEFAULT_STALE_UPLOAD_AGE;
use std::fs;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, SystemTime};

/// Most folders the start-up clean-up looks into, so that a huge tree cannot stall the start.
pub const MAX_CLEANUP_DIRS: usize = 10_000;

/// How long an unlocked temporary file must have been untouched before the clean-up calls it
/// dead. It covers the instant between creating the file and locking it, with room for clocks
/// that differ between the machines sharing a network folder (the file's time is the file
/// server's, the age is measured on ours).
pub const UNLOCKED_GRACE: Duration = Duration::from_secs(5);

/// How many times (1 ms apart) an upload tries to lock its new file (a clean-up that is testing
/// the lock holds it for a moment, longer on a network file system) before it goes on without.
const LOCK_TRIES: u32 = 1000;

/// The file inside a copy's temporary folder that the copy holds locked while it fills the
/// folder. A temporary name itself, so a copy never copies it nor a GET serves it, but not one
/// of an upload's form.
pub const COPY_LOCK_NAME: &str = ".http-server-upload-copying";

/// The host part of names where procfs does not say who this host is.
const UNKNOWN_HOST: &str = "unknown";

static UPLOAD_COUNTER: AtomicU64 = AtomicU64::new(0);

/// This machine's (or container's) part of an owner: see the module doc. `unknown` where
/// procfs does not say (then only age removes this process's files after a crash).
pub fn host_identity() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        let boot = fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .map(|s| s.trim().replace('-', ""))
            .unwrap_or_default();
        let ns = fs::read_link("/proc/self/ns/pid")
            .map(|p| {
                p.to_string_lossy()
                    .chars()
                    .filter(char::is_ascii_digit)
                    .collect::<String>()
            })
            .unwrap_or_default();
        let valid = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric());
        if valid(&boot) && valid(&ns) {
            format!("{boot}.{ns}")
        } else {
            UNKNOWN_HOST.to_string()
        }
    })
}

/// A new temporary file name for an upload of this process.
pub fn temp_name() -> String {
    format!(
        "{UPLOAD_PREFIX}{}-{}-{}{UPLOAD_SUFFIX}",
        host_identity(),
        std::process::id(),
        UPLOAD_COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Who wrote a temporary file, from its name.
#[derive(Debug, PartialEq, Eq)]
struct Owner<'a> {
    /// `None` for names of the older form, which had no host part.
    host: Option<&'a [u8]>,
    pid: u32,
}

fn owner_of(name: &[u8]) -> Option<Owner<'_>> {
    let middle = name
        .strip_prefix(UPLOAD_PREFIX.as_bytes())?
        .strip_suffix(UPLOAD_SUFFIX.as_bytes())?;
    let parts: Vec<&[u8]> = middle.split(|&b| b == b'-').collect();
    let number = |b: &[u8]| std::str::from_utf8(b).ok()?.parse::<u32>().ok();
    match parts.as_slice() {
        [host, pid, n] => {
            number(n)?;
            Some(Owner {
                host: Some(host),
                pid: number(pid)?,
            })
        }
        [pid, n] => {
            number(n)?;
            Some(Owner {
                host: None,
                pid: number(pid)?,
            })
        }
        _ => None,
    }
}

/// Whether a process with this id is alive in our PID namespace (it has a /proc entry).
fn is_running(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

/// What the clean-up does with one temporary file.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Remove,
    /// Alive, or another owner's and not old enough: left alone.
    Keep,
}

/// What the lock on a temporary file says about its writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lock {
    /// Someone holds it: the upload is in progress.
    Held,
    /// Nobody holds it.
    Free,
    /// The file system cannot say (no lock support, or the file could not be opened).
    Unknown,
}

fn judge(owner: &Owner<'_>, lock: Lock, age: Duration, max_age: Duration, ours: &[u8]) -> Verdict {
    if lock == Lock::Held {
        return Verdict::Keep;
    }
    // A host that could not tell who it is ("unknown") is nobody's same host.
    let same_host = owner.host == Some(ours) && ours != UNKNOWN_HOST.as_bytes();
    // This process has no uploads yet when the clean-up runs (at start-up), so a file under
    // its own id is a dead predecessor's: a restarted container's init is PID 1 again.
    if same_host && (owner.pid == std::process::id() || !is_running(owner.pid)) {
        return Verdict::Remove;
    }
    // Names of the older form were never locked: a free lock says nothing about them.
    if lock == Lock::Free && owner.host.is_some() && age > UNLOCKED_GRACE {
        return Verdict::Remove;
    }
    if age > max_age {
        return Verdict::Remove;
    }
    Verdict::Keep
}

/// Tests the lock of the file at `path`. While the lock is taken here (`Free`), the returned
/// file holds it, so that a writer cannot start on the file between the test and the removal.
fn test_lock(path: &Path) -> (Lock, Option<fs::File>) {
    // Opened for writing too (nothing is written): NFSv4 grants an exclusive lock only on a
    // file open for writing.
    let Ok(file) = fs::OpenOptions::new().read(true).write(true).open(path) else {
        return (Lock::Unknown, None);
    };
    match crate::sys::try_lock_exclusive(file.as_fd()) {
        Ok(true) => (Lock::Free, Some(file)),
        Ok(false) => (Lock::Held, None),
        Err(_) => (Lock::Unknown, None),
    }
}

/// What the start-up clean-up did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Cleanup {
    pub removed: usize,
    /// Temporary files and folders left alone: uploads and copies in progress here, or other
    /// owners' not yet old.
    pub kept: usize,
}

/// Removes temporary upload files and copies' temporary folders under `root` that are provably
/// dead (see the module doc), in every folder (links are not followed; at most
/// `MAX_CLEANUP_DIRS` folders are visited).
///
/// # Errors
/// When the root cannot be listed.
pub fn remove_stale_uploads(root: &Path, max_age: Duration) -> io::Result<Cleanup> {
    remove_stale_uploads_within(root, max_age, MAX_CLEANUP_DIRS)
}

fn remove_stale_uploads_within(
    root: &Path,
    max_age: Duration,
    max_dirs: usize,
) -> io::Result<Cleanup> {
    let ours = host_identity().as_bytes();
    let now = SystemTime::now();
    let mut done = Cleanup::default();
    let mut folders = vec![(root.to_path_buf(), 0usize)];
    let mut visited = 0;
    while let Some((folder, depth)) = folders.pop() {
        visited += 1;
        if visited > max_dirs {
            break;
        }
        let entries = match fs::read_dir(&folder) {
            Ok(entries) => entries,
            Err(e) if depth == 0 => return Err(e),
            Err(_) => continue,
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() && depth < MAX_PATH_COMPONENTS && !is_upload_name(name.as_bytes()) {
                folders.push((entry.path(), depth + 1));
                continue;
            }
            let Some(owner) = owner_of(name.as_bytes()) else {
                continue;
            };
            let path = entry.path();
            // A file is its own lock; a copy's folder has its lock file inside.
            let lock_path = if kind.is_file() {
                path.clone()
            } else if kind.is_dir() {
                path.join(COPY_LOCK_NAME)
            } else {
                continue;
            };
            let age = fs::symlink_metadata(&lock_path)
                .or_else(|_| entry.metadata())
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .unwrap_or_default();
            let (lock, held) = test_lock(&lock_path);
            let removed = match judge(&owner, lock, age, max_age, ours) {
                Verdict::Remove if kind.is_dir() => {
                    // Closed first: on NFS a removed file that is still open becomes a
                    // `.nfs*` file, which would keep its folder.
                    drop(held);
                    fs::remove_dir_all(&path).is_ok()
                }
                Verdict::Remove => fs::remove_file(&path).is_ok(),
                Verdict::Keep => false,
            };
            if removed {
                done.removed += 1;
            } else {
                done.kept += 1;
            }
        }
    }
    Ok(done)
}

/// Locks the new temporary `file` (an upload's, or a copy's lock file) for as long as it stays
/// open, waiting out a clean-up that is testing the lock. Where the file system cannot lock,
/// it goes on without (the clean-up then knows the file by its name and age only).
pub fn hold_lock(file: &fs::File) {
    for _ in 0..LOCK_TRIES {
        match crate::sys::try_lock_exclusive(file.as_fd()) {
            Ok(false) => std::thread::sleep(Duration::from_millis(1)),
            Ok(true) | Err(_) => break,
        }
    }
}

/// The temporary files of uploads in progress in this process, so that a shutdown that cuts
/// them can remove them (the workers writing them do not unwind when the process exits).
static LIVE_UPLOADS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn live_uploads() -> MutexGuard<'static, Vec<PathBuf>> {
    LIVE_UPLOADS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A temporary upload file: removed when dropped, unless it was renamed into place.
pub struct TempFile {
    pub path: PathBuf,
    pub armed: bool,
}

impl TempFile {
    /// Registers a temporary file just created at `path` and opened as `file`, and locks it for
    /// as long as `file` stays open ([`hold_lock`]).
    pub fn new(path: PathBuf, file: &fs::File) -> TempFile {
        hold_lock(file);
        live_uploads().push(path.clone());
        TempFile { path, armed: true }
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_file(&self.path);
        }
        let mut live = live_uploads();
        if let Some(i) = live.iter().position(|p| *p == self.path) {
            live.swap_remove(i);
        }
    }
}

/// Removes the temporary files of this process's uploads still in progress; returns how many.
/// For a shutdown that cuts them: their uploads were not acknowledged, and the files they would
/// have replaced are untouched. (The paths go through the open folder handles of the workers
/// still writing them, which stay open until the process exits.)
pub fn remove_live_uploads() -> usize {
    let live = live_uploads();
    live.iter().filter(|p| fs::remove_file(p).is_ok()).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = DEFAULT_STALE_UPLOAD_AGE;

    #[test]
    fn a_temporary_name_carries_this_host_and_process() {
        let name = temp_name();
        let owner = owner_of(name.as_bytes()).unwrap();
        assert_eq!(owner.pid, std::process::id());
        assert_eq!(owner.host, Some(host_identity().as_bytes()));
        if cfg!(target_os = "linux") {
            // 32 hex digits of boot id, a dot, the namespace inode.
            let (boot, ns) = host_identity().split_once('.').unwrap();
            assert_eq!(boot.len(), 32, "{boot}");
            assert!(ns.parse::<u64>().is_ok(), "{ns}");
        }
        assert!(is_upload_name(name.as_bytes()));
    }

    #[test]
    fn reads_owners_of_both_name_forms() {
        let new = format!("{UPLOAD_PREFIX}abc.123-77-5{UPLOAD_SUFFIX}");
        assert_eq!(
            owner_of(new.as_bytes()),
            Some(Owner {
                host: Some(b"abc.123"),
                pid: 77
            })
        );
        let old = format!("{UPLOAD_PREFIX}1234-7{UPLOAD_SUFFIX}");
        assert_eq!(
            owner_of(old.as_bytes()),
            Some(Owner {
                host: None,
                pid: 1234
            })
        );
        for bad in ["x-7", "1-2-3-4", "h-x-1", "h-1-x", ""] {
            let name = format!("{UPLOAD_PREFIX}{bad}{UPLOAD_SUFFIX}");
            assert_eq!(owner_of(name.as_bytes()), None, "{bad}");
        }
        assert_eq!(owner_of(b"notes.part"), None);
    }

    #[test]
    fn keeps_a_live_upload_of_another_namespace() {
        // The reported bug: instance B saw A's file, found no process with A's PID in its own
        // PID namespace, and deleted a live upload. Another host part is never judged by PID.
        let ours = host_identity().as_bytes();
        let dead_pid = 4_999_999;
        let theirs = Owner {
            host: Some(b"0123456789abcdef0123456789abcdef.4026531836x"),
            pid: dead_pid,
        };
        let young = Duration::ZERO;
        let quiet = UNLOCKED_GRACE * 2;
        for lock in [Lock::Held, Lock::Free, Lock::Unknown] {
            assert_eq!(
                judge(&theirs, lock, young, DAY, ours),
                Verdict::Keep,
                "{lock:?}"
            );
        }
        // Locked: in progress, however old.
        assert_eq!(
            judge(&theirs, Lock::Held, DAY * 2, DAY, ours),
            Verdict::Keep
        );
        // Free and untouched for a while: its writer died (a SIGKILL, a crashed machine).
        assert_eq!(
            judge(&theirs, Lock::Free, quiet, DAY, ours),
            Verdict::Remove
        );
        // Where locks say nothing, age decides.
        assert_eq!(
            judge(&theirs, Lock::Unknown, quiet, DAY, ours),
            Verdict::Keep
        );
        assert_eq!(
            judge(&theirs, Lock::Unknown, DAY * 2, DAY, ours),
            Verdict::Remove
        );
        // Ours, with a dead process: provably stale, unless someone holds its lock.
        let ours_dead = Owner {
            host: Some(ours),
            pid: dead_pid,
        };
        for lock in [Lock::Free, Lock::Unknown] {
            assert_eq!(judge(&ours_dead, lock, young, DAY, ours), Verdict::Remove);
        }
        assert_eq!(
            judge(&ours_dead, Lock::Held, young, DAY, ours),
            Verdict::Keep
        );
        // Another live process of this host (pid 1 always runs), young: kept.
        let ours_alive = Owner {
            host: Some(ours),
            pid: 1,
        };
        assert_eq!(
            judge(&ours_alive, Lock::Free, young, DAY, ours),
            Verdict::Keep
        );
        // This process's own id, unlocked: a dead predecessor's (a restarted PID 1).
        let ours_again = Owner {
            host: Some(ours),
            pid: std::process::id(),
        };
        assert_eq!(
            judge(&ours_again, Lock::Free, young, DAY, ours),
            Verdict::Remove
        );
        assert_eq!(
            judge(&ours_again, Lock::Held, young, DAY, ours),
            Verdict::Keep
        );
        // The older form, without a host or a lock: only age.
        let old = Owner {
            host: None,
            pid: dead_pid,
        };
        assert_eq!(judge(&old, Lock::Free, quiet, DAY, ours), Verdict::Keep);
        assert_eq!(judge(&old, Lock::Free, DAY * 2, DAY, ours), Verdict::Remove);
    }

    #[test]
    fn the_lock_of_an_open_upload_is_seen_by_another_open_file() {
        let path = std::env::temp_dir().join(format!("uploads-lock-{}", std::process::id()));
        let file = fs::File::create(&path).unwrap();
        let tmp = TempFile::new(path.clone(), &file);
        assert_eq!(test_lock(&path).0, Lock::Held);
        drop(file);
        let (lock, held) = test_lock(&path);
        assert_eq!(lock, Lock::Free);
        // While the clean-up holds the lock, a writer cannot take it.
        let again = fs::File::open(&path).unwrap();
        assert!(!crate::sys::try_lock_exclusive(again.as_fd()).unwrap());
        drop(held);
        drop(tmp);
        assert!(
            !path.exists(),
            "an armed temporary file is removed when dropped"
        );
    }

    #[test]
    fn cleanup_removes_only_what_is_provably_dead_and_visits_subfolders_up_to_its_bound() {
        let root = std::env::temp_dir().join(format!("uploads-cleanup-{}", std::process::id()));
        let ours_dead = format!(
            "{UPLOAD_PREFIX}{}-4999999-1{UPLOAD_SUFFIX}",
            host_identity()
        );
        let foreign = format!("{UPLOAD_PREFIX}otherhost.1-4999999-1{UPLOAD_SUFFIX}");
        let old_foreign = format!("{UPLOAD_PREFIX}otherhost.1-4999999-2{UPLOAD_SUFFIX}");
        for sub in ["a", "a/b"] {
            fs::create_dir_all(root.join(sub)).unwrap();
        }
        for folder in ["", "a", "a/b"] {
            fs::write(root.join(folder).join(&ours_dead), b"x").unwrap();
        }
        fs::write(root.join(&foreign), b"x").unwrap();
        let f = fs::File::options()
            .write(true)
            .create(true)
            .truncate(true)
            .open(root.join(&old_foreign))
            .unwrap();
        f.set_modified(SystemTime::now() - DAY * 2).unwrap();
        // Two folders visited: the root and `a`; `a/b` is past the bound.
        let done = remove_stale_uploads_within(&root, DAY, 2).unwrap();
        assert_eq!(
            done,
            Cleanup {
                removed: 3,
                kept: 1
            }
        );
        assert!(root.join(&foreign).exists(), "another owner's live upload");
        assert!(!root.join(&old_foreign).exists());
        assert!(root.join("a/b").join(&ours_dead).exists());
        let done = remove_stale_uploads_within(&root, DAY, MAX_CLEANUP_DIRS).unwrap();
        assert_eq!(
            done,
            Cleanup {
                removed: 1,
                kept: 1
            }
        );
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn cleanup_judges_a_copy_folder_by_the_lock_file_inside() {
        let root = std::env::temp_dir().join(format!("uploads-copies-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let ago = |secs| SystemTime::now() - Duration::from_secs(secs);
        // Folders of another host: only the lock file (or, without one, age) can say.
        let copy = |n: u32, lock_age: Option<u64>| {
            let name = format!("{UPLOAD_PREFIX}otherhost.1-4999999-{n}{UPLOAD_SUFFIX}");
            let folder = root.join("sub").join(name);
            fs::create_dir_all(folder.join("inner")).unwrap();
            fs::write(folder.join("inner/half"), b"half a copy").unwrap();
            if let Some(secs) = lock_age {
                let lock = fs::File::create(folder.join(COPY_LOCK_NAME)).unwrap();
                lock.set_modified(ago(secs)).unwrap();
            }
            folder
        };
        let dead = copy(1, Some(60));
        let live = copy(2, Some(60));
        let held = fs::File::open(live.join(COPY_LOCK_NAME)).unwrap();
        assert!(crate::sys::try_lock_exclusive(held.as_fd()).unwrap());
        // Made an instant ago, not yet locked.
        let starting = copy(3, Some(0));
        // No lock file, and touched now: a copy about to land.
        let landing = copy(4, None);
        // No lock file, and untouched for longer than the age limit.
        let forgotten = copy(5, None);
        fs::File::open(&forgotten)
            .unwrap()
            .set_modified(ago(DAY.as_secs() * 2))
            .unwrap();
        // This host's, its process gone, with or without a lock file.
        let ours = root.join(format!(
            "{UPLOAD_PREFIX}{}-4999999-6{UPLOAD_SUFFIX}",
            host_identity()
        ));
        fs::create_dir_all(&ours).unwrap();
        let done = remove_stale_uploads(&root, DAY).unwrap();
        assert_eq!(
            done,
            Cleanup {
                removed: 3,
                kept: 3
            }
        );
        for gone in [&dead, &forgotten, &ours] {
            assert!(!gone.exists(), "{}", gone.display());
        }
        for kept in [&live, &starting, &landing] {
            assert!(kept.join("inner/half").exists(), "{}", kept.display());
        }
        // Unlocked, the live one is dead too.
        drop(held);
        assert_eq!(remove_stale_uploads(&root, DAY).unwrap().removed, 1);
        assert!(!live.exists());
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn the_copy_lock_is_a_temporary_name_but_no_upload() {
        assert!(is_upload_name(COPY_LOCK_NAME.as_bytes()));
        assert_eq!(owner_of(COPY_LOCK_NAME.as_bytes()), None);
    }
}
