//! `getrlimit(2)` and `setrlimit(2)` for `RLIMIT_NOFILE`: how many descriptors the process may
//! hold. Every connection holds one, and a download or an upload in progress one or two more,
//! so the server raises its soft limit towards the hard one at start-up (as nginx's
//! `worker_rlimit_nofile` does) and sizes its connection limit from what it got.
//!
//! Out of scope: choosing the connection limit (`config.rs`).

use std::ffi::c_int;
use std::io;

/// `struct rlimit`: two `rlim_t`, 64-bit on the platforms this crate builds for.
#[repr(C)]
struct Rlimit {
    rlim_cur: u64,
    rlim_max: u64,
}

// <sys/resource.h>
#[cfg(target_os = "linux")]
const RLIMIT_NOFILE: c_int = 7;
#[cfg(target_os = "macos")]
const RLIMIT_NOFILE: c_int = 8;

extern "C" {
    fn getrlimit(resource: c_int, rlim: *mut Rlimit) -> c_int;
    fn setrlimit(resource: c_int, rlim: *const Rlimit) -> c_int;
}

fn get() -> io::Result<Rlimit> {
    let mut r = Rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `r` is a valid, writable `struct rlimit` on this frame for the whole call; the
    // kernel writes exactly that struct.
    if unsafe { getrlimit(RLIMIT_NOFILE, &mut r) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(r)
}

/// The soft and hard limits on open descriptors.
///
/// # Errors
/// `getrlimit`'s error (none expected).
pub fn open_file_limits() -> io::Result<(u64, u64)> {
    get().map(|r| (r.rlim_cur, r.rlim_max))
}

/// Raises the soft limit on open descriptors to `want`, or to the hard limit if that is lower
/// (never lowers it). Returns the soft limit in force afterwards.
///
/// # Errors
/// `getrlimit`'s or `setrlimit`'s error.
pub fn raise_open_file_limit(want: u64) -> io::Result<u64> {
    let r = get()?;
    let target = want.min(r.rlim_max);
    if target <= r.rlim_cur {
        return Ok(r.rlim_cur);
    }
    let new = Rlimit {
        rlim_cur: target,
        rlim_max: r.rlim_max,
    };
    // SAFETY: `new` is a valid `struct rlimit` on this frame for the whole call; the kernel
    // only reads it.
    if unsafe { setrlimit(RLIMIT_NOFILE, &new) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_is_raised_within_the_hard_one_and_never_lowered() {
        let (soft, hard) = open_file_limits().unwrap();
        assert!(soft <= hard);
        // Asking for less changes nothing.
        assert_eq!(raise_open_file_limit(soft.saturating_sub(1)).unwrap(), soft);
        assert_eq!(open_file_limits().unwrap().0, soft);
        // Asking for more than the hard limit gives the hard limit (a test process may keep it:
        // nothing else in the suite relies on a low limit).
        let got = raise_open_file_limit(u64::MAX).unwrap();
        assert_eq!(got, hard);
        assert_eq!(open_file_limits().unwrap(), (hard, hard));
    }
}
