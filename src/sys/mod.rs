//! The only `unsafe` in the crate: hand-written declarations of the few C library functions that
//! std links but does not expose, each behind a safe function.
//!
//! - `poll(2)`: readiness of sockets, for waits on one socket with a deadline, and the
//!   poller's portable backend.
//! - `epoll(7)` (Linux): the poller's backend there, where a worker registers a socket itself
//!   (no wake-up of the poller thread) and a wait costs O(ready), not O(parked).
//! - `pthread_sigmask(3)` and `sigwait(3)`: SIGTERM and SIGINT are blocked in every thread and
//!   taken by one thread that waits for them, so no work ever runs inside a signal handler.
//! - `sendfile(2)` (Linux): file bytes go from the page cache to the socket without a copy
//!   through user space.
//! - `recv(2)` with `MSG_DONTWAIT`: a read that does not wait, whatever mode the socket is in
//!   (connections are non-blocking anyway; tests use it on blocking ones).
//! - `getrlimit(2)`/`setrlimit(2)` (`rlimit.rs`): the open-descriptor limit, raised at start-up
//!   so that thousands of slow transfers fit.
//! - `fgetxattr(2)` and its siblings (`xattr.rs`, Linux): extended attributes, where WebDAV's
//!   dead properties are kept beside their file.
//! - `flock(2)` (`flock.rs`): an upload's temporary file is locked while it is written, so that
//!   other servers sharing the folder can tell it from one whose writer died; WebDAV's lock
//!   table, a file shared by the servers of one folder, is read and rewritten under it.
//! - `setsockopt(2)` for `TCP_DEFER_ACCEPT` (Linux), and `listen(2)` again for a longer accept
//!   queue than std's 128, neither of which std offers.
//! - `openat2(2)`, `statx(2)`, `getdents64(2)` and `mkdirat(2)` (`dirfd.rs`, Linux): paths
//!   resolved by the kernel beneath the served folder's descriptor, a listing read and
//!   stat'ed through the folder's descriptor, and birth times (WebDAV's `creationdate`).
//! - The `O_NONBLOCK` and `O_NOFOLLOW` open flags (constants, no call), which std has no
//!   names for: file reads open with the first so that a FIFO never holds a worker; the lock
//!   table opens with both.
//!
//! Platforms: Linux (x86_64, aarch64; glibc or musl) and macOS. The structure layouts and
//! constants below are those of these platforms' C headers; each is cited where it differs.
//!
//! Out of scope: anything std already offers safely (sockets, files, timeouts).
//!
//! This file has `poll`, `recv`, `sendfile`, `setsockopt` and `listen`; `dirfd.rs`,
//! `epoll.rs`, `flock.rs`, `rlimit.rs`, `signal.rs` and `xattr.rs` have the rest.

pub mod dirfd;
#[cfg(target_os = "linux")]
mod epoll;
mod flock;
mod rlimit;
mod signal;
pub mod xattr;

#[cfg(target_os = "linux")]
pub use epoll::{Epoll, EpollEvent};
pub use flock::{try_lock, try_lock_exclusive};
pub use rlimit::{open_file_limits, raise_open_file_limit};
pub use signal::{Signal, TerminationSignals};

use std::ffi::{c_int, c_short, c_void};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

// <poll.h>: the same values on Linux and macOS.
const POLLIN: c_short = 0x1;
const POLLOUT: c_short = 0x4;
const POLLERR: c_short = 0x8;
const POLLHUP: c_short = 0x10;
const POLLNVAL: c_short = 0x20;

#[cfg(target_os = "linux")]
type NfdsT = std::ffi::c_ulong;
#[cfg(target_os = "macos")]
type NfdsT = std::ffi::c_uint;

// <sys/socket.h>
#[cfg(target_os = "linux")]
const MSG_DONTWAIT: c_int = 0x40;
#[cfg(target_os = "macos")]
const MSG_DONTWAIT: c_int = 0x80;

/// `O_NONBLOCK` of <fcntl.h>, for `OpenOptionsExt::custom_flags`: opening a FIFO with it
/// returns at once instead of waiting for a writer (on regular files and folders it changes
/// nothing).
#[cfg(target_os = "linux")]
pub const O_NONBLOCK: c_int = 0o4000;
#[cfg(target_os = "macos")]
pub const O_NONBLOCK: c_int = 0x0004;

/// `O_NOFOLLOW` of <fcntl.h>: the open fails (`ELOOP`) when the last component is a symbolic
/// link, for files the server writes by a fixed name. It differs between Linux's
/// architectures (as `O_DIRECTORY` does).
#[cfg(all(target_os = "linux", not(target_arch = "aarch64")))]
pub const O_NOFOLLOW: c_int = 0o400_000;
#[cfg(all(target_os = "linux", target_arch = "aarch64"))]
pub const O_NOFOLLOW: c_int = 0o100_000;
#[cfg(target_os = "macos")]
pub const O_NOFOLLOW: c_int = 0x0100;

#[cfg(target_os = "linux")]
const IPPROTO_TCP: c_int = 6;
#[cfg(target_os = "linux")]
const TCP_DEFER_ACCEPT: c_int = 9;

extern "C" {
    fn poll(fds: *mut PollFd, nfds: NfdsT, timeout: c_int) -> c_int;
    fn recv(fd: c_int, buf: *mut c_void, len: usize, flags: c_int) -> isize;
    fn listen(fd: c_int, backlog: c_int) -> c_int;
    #[cfg(target_os = "linux")]
    fn sendfile(out_fd: c_int, in_fd: c_int, offset: *mut i64, count: usize) -> isize;
    #[cfg(target_os = "linux")]
    fn setsockopt(fd: c_int, level: c_int, name: c_int, value: *const c_void, len: u32) -> c_int;
    #[cfg(target_os = "linux")]
    fn ioctl(fd: c_int, request: std::ffi::c_ulong, ...) -> c_int;
}

/// `SIOCOUTQ` (`TIOCOUTQ`, linux/sockios.h): for a TCP socket, the bytes written that the peer
/// has not yet acknowledged.
#[cfg(target_os = "linux")]
const SIOCOUTQ: std::ffi::c_ulong = 0x5411;

/// Bytes written to a TCP socket that its peer has not acknowledged yet (Linux: `SIOCOUTQ`).
/// A client that reads keeps shrinking it, even while the kernel, short of memory for sockets,
/// takes no new bytes from the server. Elsewhere: `Unsupported`.
///
/// # Errors
/// `ioctl`'s error.
#[cfg(target_os = "linux")]
pub fn unacked_bytes(socket: BorrowedFd<'_>) -> io::Result<u64> {
    let mut queued: c_int = 0;
    // SAFETY: SIOCOUTQ writes one c_int through the pointer, which points at `queued`, alive
    // for the call; the descriptor is open for the borrow.
    let rc = unsafe { ioctl(socket.as_raw_fd(), SIOCOUTQ, &mut queued as *mut c_int) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(u64::try_from(queued).unwrap_or(0))
}

#[cfg(not(target_os = "linux"))]
pub fn unacked_bytes(_socket: BorrowedFd<'_>) -> io::Result<u64> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "SIOCOUTQ is Linux's",
    ))
}

/// One entry of a `poll` set: `struct pollfd`, the same layout on every supported platform.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct PollFd {
    fd: c_int,
    events: c_short,
    revents: c_short,
}

impl PollFd {
    /// Waits for `fd` to be readable (or closed, or in error).
    pub fn readable(fd: RawFd) -> PollFd {
        PollFd {
            fd,
            events: POLLIN,
            revents: 0,
        }
    }

    /// Waits for `fd` to take more bytes (or be closed, or in error).
    pub fn writable(fd: RawFd) -> PollFd {
        PollFd {
            fd,
            events: POLLOUT,
            revents: 0,
        }
    }

    /// The descriptor this entry watches.
    pub fn fd(&self) -> RawFd {
        self.fd
    }

    /// Whether the last `poll` found anything to act on: the readiness asked for, a hang-up, an
    /// error, or a descriptor that is not open (each of which a read or write then reports).
    pub fn is_ready(&self) -> bool {
        self.revents & (self.events | POLLERR | POLLHUP | POLLNVAL) != 0
    }
}

/// A timeout in whole milliseconds for `poll`, rounded up so that a wait never ends before its
/// deadline; `None` waits for ever.
fn timeout_ms(timeout: Option<Duration>) -> c_int {
    match timeout {
        None => -1,
        Some(d) => {
            let ms = d.as_nanos().div_ceil(1_000_000);
            c_int::try_from(ms).unwrap_or(c_int::MAX)
        }
    }
}

/// Waits until an entry of `fds` is ready or `timeout` passes; returns how many are ready (0 on
/// timeout). A signal that interrupts the wait counts as a timeout with nothing ready: callers
/// loop on their own deadlines.
///
/// # Errors
/// `poll`'s own failure (out of memory, or more descriptors than the process may have).
pub fn poll_fds(fds: &mut [PollFd], timeout: Option<Duration>) -> io::Result<usize> {
    let len = NfdsT::try_from(fds.len()).map_err(|_| io::Error::other("too many descriptors"))?;
    for fd in fds.iter_mut() {
        fd.revents = 0;
    }
    // SAFETY: `fds` is a valid, writable array of `len` `struct pollfd`s (`PollFd` is
    // `repr(C)` with the same fields), borrowed for the whole call; poll writes only `revents`.
    let n = unsafe { poll(fds.as_mut_ptr(), len, timeout_ms(timeout)) };
    if n < 0 {
        let e = io::Error::last_os_error();
        return match e.kind() {
            io::ErrorKind::Interrupted => Ok(0),
            _ => Err(e),
        };
    }
    Ok(usize::try_from(n).unwrap_or(0))
}

/// Waits until `fd` is readable (`write == false`) or writable, or `timeout` passes. Returns
/// whether it is ready.
///
/// # Errors
/// As for [`poll_fds`].
pub fn wait_fd(fd: BorrowedFd<'_>, write: bool, timeout: Duration) -> io::Result<bool> {
    let raw = fd.as_raw_fd();
    let mut set = [if write {
        PollFd::writable(raw)
    } else {
        PollFd::readable(raw)
    }];
    Ok(poll_fds(&mut set, Some(timeout))? > 0 && set[0].is_ready())
}

/// Reads what has arrived on the socket `fd` into `buf`, without waiting, whatever the socket's
/// mode. `WouldBlock` means nothing has; `Ok(0)`, that the peer closed (or `buf` is empty).
///
/// # Errors
/// `recv`'s error.
pub fn recv_now(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is a valid, writable region of `buf.len()` bytes borrowed for the call;
    // recv writes at most that many bytes into it. The descriptor is open for the borrow.
    let n = unsafe {
        recv(
            fd.as_raw_fd(),
            buf.as_mut_ptr().cast::<c_void>(),
            buf.len(),
            MSG_DONTWAIT,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(usize::try_from(n).unwrap_or(0))
}

/// Whether [`send_file`] can work on this platform.
pub const HAS_SENDFILE: bool = cfg!(target_os = "linux");

/// Sends up to `count` bytes of `file` from `*offset` to the socket `to`, and advances `*offset`
/// by what was sent. Returns the number of bytes sent: 0 when the file ended. A non-blocking
/// socket whose buffer is full gives `WouldBlock`.
///
/// # Errors
/// `sendfile`'s error; `Unsupported` on platforms without it ([`HAS_SENDFILE`]).
#[cfg(target_os = "linux")]
pub fn send_file(
    to: BorrowedFd<'_>,
    file: BorrowedFd<'_>,
    offset: &mut u64,
    count: usize,
) -> io::Result<usize> {
    let mut off = i64::try_from(*offset).map_err(|_| io::Error::other("offset too large"))?;
    // Linux sends at most 0x7ffff000 bytes per call whatever is asked.
    let count = count.min(0x7fff_f000);
    // SAFETY: both descriptors are open for the duration of the borrow; `off` is a valid i64
    // that sendfile reads and updates; `count` bytes are read from the file by the kernel,
    // not from our memory.
    let n = unsafe { sendfile(to.as_raw_fd(), file.as_raw_fd(), &mut off, count) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    *offset = u64::try_from(off).unwrap_or(*offset);
    Ok(usize::try_from(n).unwrap_or(0))
}

/// See the Linux version; elsewhere the caller copies.
///
/// # Errors
/// Always `Unsupported`.
#[cfg(not(target_os = "linux"))]
pub fn send_file(
    _to: BorrowedFd<'_>,
    _file: BorrowedFd<'_>,
    _offset: &mut u64,
    _count: usize,
) -> io::Result<usize> {
    Err(io::ErrorKind::Unsupported.into())
}

/// Sets the length of a listening socket's queue of connections not yet accepted (calling
/// `listen(2)` again on it, which Linux and macOS allow; the kernel caps it at `somaxconn`).
///
/// # Errors
/// `listen`'s error.
pub fn set_backlog(listener: BorrowedFd<'_>, backlog: u32) -> io::Result<()> {
    let backlog = c_int::try_from(backlog).unwrap_or(c_int::MAX);
    // SAFETY: listen takes no pointers; the descriptor is open for the borrow.
    let rc = unsafe { listen(listener.as_raw_fd(), backlog) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Asks the kernel to hand a new connection to `accept` only once its first bytes have arrived,
/// waiting up to `seconds` for them (Linux `TCP_DEFER_ACCEPT`, tcp(7)). Elsewhere it does
/// nothing and returns `Ok(false)`.
///
/// # Errors
/// `setsockopt`'s error.
#[cfg(target_os = "linux")]
pub fn set_defer_accept(listener: BorrowedFd<'_>, seconds: u32) -> io::Result<bool> {
    let value = c_int::try_from(seconds).unwrap_or(c_int::MAX);
    // SAFETY: the descriptor is open for the borrow; `value` is a c_int that lives across the
    // call, and its exact size is passed.
    let rc = unsafe {
        setsockopt(
            listener.as_raw_fd(),
            IPPROTO_TCP,
            TCP_DEFER_ACCEPT,
            (&value as *const c_int).cast::<c_void>(),
            std::mem::size_of::<c_int>() as u32,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(true)
}

/// See the Linux version.
///
/// # Errors
/// None.
#[cfg(not(target_os = "linux"))]
pub fn set_defer_accept(_listener: BorrowedFd<'_>, _seconds: u32) -> io::Result<bool> {
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn unacked_bytes_shrink_as_the_peer_reads() {
        use std::io::{Read, Write};
        use std::os::fd::AsFd;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        assert_eq!(unacked_bytes(server.as_fd()).unwrap(), 0);
        // Write until the socket is full: the client reads nothing, so bytes wait.
        server.set_nonblocking(true).unwrap();
        let chunk = [7u8; 64 * 1024];
        let mut sent = 0usize;
        loop {
            match server.write(&chunk) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
        let before = unacked_bytes(server.as_fd()).unwrap();
        assert!(before > 0, "nothing waits after {sent} bytes");
        // The client reads all of it: what waited is taken and acknowledged.
        let mut got = vec![0u8; sent];
        client.read_exact(&mut got).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while unacked_bytes(server.as_fd()).unwrap() >= before {
            assert!(
                std::time::Instant::now() < deadline,
                "the count never shrank"
            );
            std::thread::yield_now();
        }
    }
    use std::io::{Read, Seek, Write};
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;
    use std::time::Instant;

    #[test]
    fn poll_reports_readable_only_once_bytes_arrive() {
        let (mut a, b) = UnixStream::pair().unwrap();
        let mut set = [PollFd::readable(b.as_raw_fd())];
        assert_eq!(
            poll_fds(&mut set, Some(Duration::from_millis(1))).unwrap(),
            0
        );
        assert!(!set[0].is_ready());
        a.write_all(b"x").unwrap();
        assert_eq!(poll_fds(&mut set, Some(Duration::ZERO)).unwrap(), 1);
        assert!(set[0].is_ready());
        assert_eq!(set[0].fd(), b.as_raw_fd());
    }

    #[test]
    fn poll_reports_a_hang_up_as_ready() {
        let (a, b) = UnixStream::pair().unwrap();
        drop(a);
        let mut set = [PollFd::readable(b.as_raw_fd())];
        assert_eq!(poll_fds(&mut set, Some(Duration::ZERO)).unwrap(), 1);
        assert!(set[0].is_ready());
    }

    #[test]
    fn poll_waits_at_least_its_timeout() {
        let (_a, b) = UnixStream::pair().unwrap();
        let started = Instant::now();
        assert!(!wait_fd(b.as_fd(), false, Duration::from_micros(2500)).unwrap());
        // Rounded up to whole milliseconds, never down.
        assert!(started.elapsed() >= Duration::from_micros(2500));
        assert_eq!(timeout_ms(Some(Duration::from_micros(1))), 1);
        assert_eq!(timeout_ms(Some(Duration::ZERO)), 0);
        assert_eq!(timeout_ms(Some(Duration::from_secs(u64::MAX))), c_int::MAX);
        assert_eq!(timeout_ms(None), -1);
    }

    #[test]
    fn recv_now_does_not_wait_on_a_blocking_socket() {
        let (mut a, b) = UnixStream::pair().unwrap();
        b.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let started = Instant::now();
        let mut buf = [0u8; 8];
        let e = recv_now(b.as_fd(), &mut buf).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        assert!(started.elapsed() < Duration::from_secs(5));
        a.write_all(b"abc").unwrap();
        assert_eq!(recv_now(b.as_fd(), &mut buf).unwrap(), 3);
        assert_eq!(&buf[..3], b"abc");
        drop(a);
        assert_eq!(recv_now(b.as_fd(), &mut buf).unwrap(), 0);
    }

    #[test]
    fn a_socket_with_room_is_writable() {
        let (a, _b) = UnixStream::pair().unwrap();
        assert!(wait_fd(a.as_fd(), true, Duration::ZERO).unwrap());
    }

    #[test]
    fn an_empty_set_just_sleeps() {
        assert_eq!(
            poll_fds(&mut [], Some(Duration::from_millis(1))).unwrap(),
            0
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn send_file_copies_a_range_to_a_socket() {
        let path = std::env::temp_dir().join(format!("sys-sendfile-{}", std::process::id()));
        let mut f = std::fs::File::create(&path).unwrap();
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        f.write_all(&data).unwrap();
        let mut f = std::fs::File::open(&path).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            client.read_to_end(&mut got).unwrap();
            got
        });
        let mut offset = 1000u64;
        let mut left = 150_000usize;
        while left > 0 {
            let n = send_file(server.as_fd(), f.as_fd(), &mut offset, left).unwrap();
            assert!(n > 0);
            left -= n;
        }
        assert_eq!(offset, 151_000);
        // The file's own position is untouched: sendfile used our offset.
        assert_eq!(f.stream_position().unwrap(), 0);
        // At the end of the file: 0.
        let mut end = data.len() as u64;
        assert_eq!(
            send_file(server.as_fd(), f.as_fd(), &mut end, 10).unwrap(),
            0
        );
        drop(server);
        assert_eq!(reader.join().unwrap(), &data[1000..151_000]);
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn a_listener_takes_a_longer_backlog() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        set_backlog(listener.as_fd(), 1000).unwrap();
        // Still listening: a client connects and is accepted.
        let _c = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        listener.accept().unwrap();
        let (a, _b) = UnixStream::pair().unwrap();
        assert!(set_backlog(a.as_fd(), 10).is_err());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn defer_accept_is_accepted_by_a_listener() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        assert!(set_defer_accept(listener.as_fd(), 1).unwrap());
        let (a, _b) = UnixStream::pair().unwrap();
        assert!(set_defer_accept(a.as_fd(), 1).is_err());
    }
}
