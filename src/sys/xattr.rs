//! Extended attributes (`fgetxattr(2)`, `fsetxattr(2)`, `fremovexattr(2)`, `flistxattr(2)`),
//! on an open file: where WebDAV's dead properties are kept, beside the file they describe, so
//! that they survive a restart, travel with the file on a rename, and are the same for every
//! instance serving the folder.
//!
//! Linux only. Elsewhere, and on a file system without them (some FUSE and network file
//! systems; tmpfs before Linux 6.6 for the `user.` namespace), every call fails with
//! `ErrorKind::Unsupported`, and the caller says so.
//!
//! Out of scope: which names are used and what they hold (`app::dav`).

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::BorrowedFd;

/// Largest value Linux stores in one attribute (`XATTR_SIZE_MAX`).
pub const MAX_XATTR_VALUE_BYTES: usize = 64 * 1024;
/// Largest list of names read back (`XATTR_LIST_MAX`).
const MAX_XATTR_LIST_BYTES: usize = 64 * 1024;

#[cfg(target_os = "linux")]
mod linux {
    use std::ffi::{c_char, c_int, c_void};

    // <errno.h> on Linux: no such attribute, and no room in the buffer given.
    pub const ENODATA: i32 = 61;
    pub const ERANGE: i32 = 34;
    pub const EOPNOTSUPP: i32 = 95;

    extern "C" {
        pub fn fgetxattr(fd: c_int, name: *const c_char, value: *mut c_void, size: usize) -> isize;
        pub fn fsetxattr(
            fd: c_int,
            name: *const c_char,
            value: *const c_void,
            size: usize,
            flags: c_int,
        ) -> c_int;
        pub fn fremovexattr(fd: c_int, name: *const c_char) -> c_int;
        pub fn flistxattr(fd: c_int, list: *mut c_char, size: usize) -> isize;
    }
}

/// The error of the last call, with "not supported" as `ErrorKind::Unsupported`.
#[cfg(target_os = "linux")]
fn last_error() -> io::Error {
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(linux::EOPNOTSUPP) {
        return io::Error::new(
            io::ErrorKind::Unsupported,
            "this file system keeps no extended attributes",
        );
    }
    e
}

#[cfg(not(target_os = "linux"))]
fn unsupported() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "extended attributes are used on Linux only",
    )
}

/// The value of attribute `name` of the open file, or `None` when it has none.
///
/// # Errors
/// `Unsupported` where the file system has no extended attributes; the call's other errors.
#[cfg(target_os = "linux")]
pub fn get(file: BorrowedFd<'_>, name: &CStr) -> io::Result<Option<Vec<u8>>> {
    use std::os::fd::AsRawFd;
    let mut value = vec![0u8; 256];
    loop {
        // SAFETY: `name` is a NUL-terminated string that outlives the call; `value` is a
        // writable buffer of exactly `value.len()` bytes, and the kernel writes at most that
        // many; the descriptor is borrowed from an open file for the call.
        let n = unsafe {
            linux::fgetxattr(
                file.as_raw_fd(),
                name.as_ptr(),
                value.as_mut_ptr().cast(),
                value.len(),
            )
        };
        if let Ok(n) = usize::try_from(n) {
            value.truncate(n);
            return Ok(Some(value));
        }
        let e = last_error();
        match e.raw_os_error() {
            Some(linux::ENODATA) => return Ok(None),
            // It grew since the last look, or is larger than the first guess: try with room for
            // the largest value there can be.
            Some(linux::ERANGE) if value.len() < MAX_XATTR_VALUE_BYTES => {
                value.resize(MAX_XATTR_VALUE_BYTES, 0);
            }
            _ => return Err(e),
        }
    }
}

/// Sets attribute `name` of the open file to `value` (made or replaced).
///
/// # Errors
/// `Unsupported` where the file system has no extended attributes, `E2BIG`/`ENOSPC` for a
/// value it cannot hold; the call's other errors.
#[cfg(target_os = "linux")]
pub fn set(file: BorrowedFd<'_>, name: &CStr, value: &[u8]) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: `name` is NUL-terminated and `value` readable for `value.len()` bytes, both for
    // the length of the call; the descriptor is borrowed from an open file.
    let r = unsafe {
        linux::fsetxattr(
            file.as_raw_fd(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(last_error())
    }
}

/// Removes attribute `name` of the open file; `Ok(false)` when it had none.
///
/// # Errors
/// `Unsupported` where the file system has no extended attributes; the call's other errors.
#[cfg(target_os = "linux")]
pub fn remove(file: BorrowedFd<'_>, name: &CStr) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    // SAFETY: `name` is NUL-terminated for the call; the descriptor is borrowed from an open
    // file.
    let r = unsafe { linux::fremovexattr(file.as_raw_fd(), name.as_ptr()) };
    if r == 0 {
        return Ok(true);
    }
    let e = last_error();
    if e.raw_os_error() == Some(linux::ENODATA) {
        Ok(false)
    } else {
        Err(e)
    }
}

/// The names of the open file's attributes (in every namespace the process may see).
///
/// # Errors
/// `Unsupported` where the file system has no extended attributes; the call's other errors.
#[cfg(target_os = "linux")]
pub fn list(file: BorrowedFd<'_>) -> io::Result<Vec<CString>> {
    use std::os::fd::AsRawFd;
    let mut buf = vec![0u8; 1024];
    let n = loop {
        // SAFETY: `buf` is writable for `buf.len()` bytes and the kernel writes at most that
        // many; the descriptor is borrowed from an open file for the call.
        let n = unsafe { linux::flistxattr(file.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if let Ok(n) = usize::try_from(n) {
            break n;
        }
        let e = last_error();
        match e.raw_os_error() {
            Some(linux::ERANGE) if buf.len() < MAX_XATTR_LIST_BYTES => {
                buf.resize(MAX_XATTR_LIST_BYTES, 0);
            }
            _ => return Err(e),
        }
    };
    // The names, each ended by a NUL.
    Ok(buf
        .get(..n)
        .unwrap_or_default()
        .split(|&b| b == 0)
        .filter(|name| !name.is_empty())
        .filter_map(|name| CString::new(name).ok())
        .collect())
}

#[cfg(not(target_os = "linux"))]
pub fn get(_: BorrowedFd<'_>, _: &CStr) -> io::Result<Option<Vec<u8>>> {
    Err(unsupported())
}

#[cfg(not(target_os = "linux"))]
pub fn set(_: BorrowedFd<'_>, _: &CStr, _: &[u8]) -> io::Result<()> {
    Err(unsupported())
}

#[cfg(not(target_os = "linux"))]
pub fn remove(_: BorrowedFd<'_>, _: &CStr) -> io::Result<bool> {
    Err(unsupported())
}

#[cfg(not(target_os = "linux"))]
pub fn list(_: BorrowedFd<'_>) -> io::Result<Vec<CString>> {
    Err(unsupported())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::fs::File;
    use std::os::fd::AsFd;

    #[test]
    fn attributes_are_set_read_listed_and_removed() {
        let path = std::env::temp_dir().join(format!("xattr-test-{}", std::process::id()));
        let file = File::create(&path).unwrap();
        let fd = file.as_fd();
        let a = c"user.http-server.test.a";
        let b = c"user.http-server.test.b";
        match set(fd, a, b"first") {
            Err(e) if e.kind() == io::ErrorKind::Unsupported => {
                eprintln!("skipped: {e}");
                std::fs::remove_file(&path).unwrap();
                return;
            }
            r => r.unwrap(),
        }
        assert_eq!(get(fd, a).unwrap().as_deref(), Some(&b"first"[..]));
        assert_eq!(get(fd, b).unwrap(), None, "none yet");
        // A value larger than the first guess of the buffer is read whole. (ext4 keeps all of a
        // file's attributes in one block, 4 KiB, unless made with `ea_inode`: more is ENOSPC.)
        let big: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
        set(fd, b, &big).unwrap();
        assert_eq!(get(fd, b).unwrap(), Some(big));
        let names = list(fd).unwrap();
        assert!(names.iter().any(|n| n.as_c_str() == a), "{names:?}");
        assert!(names.iter().any(|n| n.as_c_str() == b), "{names:?}");
        assert!(remove(fd, a).unwrap());
        assert!(!remove(fd, a).unwrap(), "already gone");
        assert_eq!(get(fd, a).unwrap(), None);
        // They travel with the file on a rename (the inode keeps them).
        let moved = path.with_extension("moved");
        std::fs::rename(&path, &moved).unwrap();
        let reopened = File::open(&moved).unwrap();
        assert_eq!(
            get(reopened.as_fd(), b).unwrap().map(|v| v.len()),
            Some(3000)
        );
        std::fs::remove_file(&moved).unwrap();
    }

    #[test]
    fn a_value_past_the_limit_is_refused() {
        let path = std::env::temp_dir().join(format!("xattr-big-{}", std::process::id()));
        let file = File::create(&path).unwrap();
        let name = c"user.http-server.test.big";
        let r = set(file.as_fd(), name, &vec![0u8; MAX_XATTR_VALUE_BYTES + 1]);
        std::fs::remove_file(&path).unwrap();
        match r {
            Err(e) if e.kind() == io::ErrorKind::Unsupported => eprintln!("skipped: {e}"),
            r => assert!(r.is_err(), "a value of more than 64 KiB was stored"),
        }
    }
}
