//! `flock(2)`: an exclusive advisory lock on an open file, held until the descriptor closes.
//! An upload holds one on its temporary file, so that any process, in any PID namespace or on
//! any machine sharing the folder, can tell a live upload (locked) from a dead one (its owner
//! has gone, and the kernel released the lock with it). On NFS, Linux turns `flock` into a POSIX
//! byte-range lock over the whole file, which the server side arbitrates (NLM or NFSv4).
//!
//! WebDAV's lock table (`app::dav::locks`), one file shared by every instance serving a folder,
//! is read under a shared lock and rewritten under an exclusive one.
//!
//! Out of scope: what the locks mean for uploads (`app::uploads`) and WebDAV.

use std::ffi::c_int;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

// <sys/file.h>: the same values on Linux and macOS.
const LOCK_SH: c_int = 1;
const LOCK_EX: c_int = 2;
const LOCK_NB: c_int = 4;

extern "C" {
    fn flock(fd: c_int, operation: c_int) -> c_int;
}

/// Takes an exclusive lock on the open file without waiting. `Ok(false)`: another open file
/// (of this or any process) holds a lock on it. The lock is released when every descriptor of
/// this open file is closed.
///
/// # Errors
/// The call's error: `ENOLCK` where the file system cannot lock (an NFS mount without a lock
/// manager), `EBADF`, `EINTR`.
pub fn try_lock_exclusive(file: BorrowedFd<'_>) -> io::Result<bool> {
    try_lock(file, true)
}

/// Takes a shared (`exclusive == false`) or exclusive lock on the open file without waiting.
/// `Ok(false)`: another open file holds a conflicting one. Each `open` makes its own open file,
/// so two threads of one process exclude each other too.
///
/// # Errors
/// As for [`try_lock_exclusive`].
pub fn try_lock(file: BorrowedFd<'_>, exclusive: bool) -> io::Result<bool> {
    let operation = if exclusive { LOCK_EX } else { LOCK_SH };
    // SAFETY: `flock` takes a descriptor and a flag word and touches no memory of ours; the
    // descriptor is valid for the call, since `file` borrows it from an open file.
    let r = unsafe { flock(file.as_raw_fd(), operation | LOCK_NB) };
    if r == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    if e.kind() == io::ErrorKind::WouldBlock {
        Ok(false)
    } else {
        Err(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;
    use std::os::fd::AsFd;

    #[test]
    fn a_lock_excludes_other_open_files_until_closed() {
        let path = std::env::temp_dir().join(format!("flock-test-{}", std::process::id()));
        let first = File::create(&path).unwrap();
        assert!(try_lock_exclusive(first.as_fd()).unwrap());
        // Locking again through the same open file is allowed (flock locks belong to it).
        assert!(try_lock_exclusive(first.as_fd()).unwrap());
        let second = File::open(&path).unwrap();
        assert!(!try_lock_exclusive(second.as_fd()).unwrap());
        drop(first);
        assert!(try_lock_exclusive(second.as_fd()).unwrap());
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn shared_locks_share_and_exclude_exclusive_ones() {
        let path = std::env::temp_dir().join(format!("flock-shared-{}", std::process::id()));
        let a = File::create(&path).unwrap();
        let b = File::open(&path).unwrap();
        assert!(try_lock(a.as_fd(), false).unwrap());
        assert!(try_lock(b.as_fd(), false).unwrap());
        // Two shared holders: an exclusive try fails until both are gone.
        let c = File::open(&path).unwrap();
        assert!(!try_lock_exclusive(c.as_fd()).unwrap());
        drop((a, b));
        assert!(try_lock(c.as_fd(), true).unwrap());
        let d = File::open(&path).unwrap();
        assert!(!try_lock(d.as_fd(), false).unwrap());
        drop(c);
        std::fs::remove_file(&path).unwrap();
    }
}
