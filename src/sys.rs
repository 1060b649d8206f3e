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
//! - `recv(2)` with `MSG_DONTWAIT`: a read that does not wait, on a socket that otherwise
//!   blocks (std sets non-blocking mode only for every call on the socket at once, which would
//!   cost two `ioctl`s per switch).
//! - `setsockopt(2)` for `TCP_DEFER_ACCEPT` (Linux), and `listen(2)` again for a longer accept
//!   queue than std's 128, neither of which std offers.
//!
//! Platforms: Linux (x86_64, aarch64; glibc or musl) and macOS. The structure layouts and
//! constants below are those of these platforms' C headers; each is cited where it differs.
//!
//! Out of scope: anything std already offers safely (sockets, files, timeouts).

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

/// `sigset_t`: 1024 bits on Linux (glibc and musl), 32 bits on macOS. Only `sigemptyset` and
/// `sigaddset` look inside it.
#[cfg(target_os = "linux")]
#[repr(C)]
struct SigSetT([u64; 16]);
#[cfg(target_os = "macos")]
#[repr(C)]
struct SigSetT(u32);

// <signal.h>
#[cfg(target_os = "linux")]
const SIG_BLOCK: c_int = 0;
#[cfg(target_os = "macos")]
const SIG_BLOCK: c_int = 1;
const SIGINT: c_int = 2;
const SIGTERM: c_int = 15;

// <sys/socket.h>
#[cfg(target_os = "linux")]
const MSG_DONTWAIT: c_int = 0x40;
#[cfg(target_os = "macos")]
const MSG_DONTWAIT: c_int = 0x80;

#[cfg(target_os = "linux")]
const IPPROTO_TCP: c_int = 6;
#[cfg(target_os = "linux")]
const TCP_DEFER_ACCEPT: c_int = 9;

extern "C" {
    fn poll(fds: *mut PollFd, nfds: NfdsT, timeout: c_int) -> c_int;
    fn recv(fd: c_int, buf: *mut c_void, len: usize, flags: c_int) -> isize;
    fn listen(fd: c_int, backlog: c_int) -> c_int;
    fn sigemptyset(set: *mut SigSetT) -> c_int;
    fn sigaddset(set: *mut SigSetT, signum: c_int) -> c_int;
    fn pthread_sigmask(how: c_int, set: *const SigSetT, old: *mut SigSetT) -> c_int;
    fn sigwait(set: *const SigSetT, sig: *mut c_int) -> c_int;
    #[cfg(target_os = "linux")]
    fn sendfile(out_fd: c_int, in_fd: c_int, offset: *mut i64, count: usize) -> isize;
    #[cfg(target_os = "linux")]
    fn setsockopt(fd: c_int, level: c_int, name: c_int, value: *const c_void, len: u32) -> c_int;
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

/// An epoll instance (Linux): sockets registered one-shot for readability, each with a token.
#[cfg(target_os = "linux")]
pub struct Epoll {
    fd: std::os::fd::OwnedFd,
}

/// One event from [`Epoll::wait`]: `struct epoll_event`, packed on x86_64 as in the kernel's
/// uapi header (`EPOLL_PACKED`), naturally aligned elsewhere.
#[cfg(target_os = "linux")]
#[cfg_attr(target_arch = "x86_64", repr(C, packed))]
#[cfg_attr(not(target_arch = "x86_64"), repr(C))]
#[derive(Clone, Copy)]
pub struct EpollEvent {
    events: u32,
    data: u64,
}

#[cfg(target_os = "linux")]
impl EpollEvent {
    /// An event slot for [`Epoll::wait`] to fill.
    pub const EMPTY: EpollEvent = EpollEvent { events: 0, data: 0 };

    /// The token the descriptor was registered with.
    pub fn token(&self) -> u64 {
        self.data
    }
}

#[cfg(target_os = "linux")]
mod epoll_ffi {
    use super::{c_int, EpollEvent};
    pub const EPOLL_CLOEXEC: c_int = 0o2_000_000;
    pub const EPOLL_CTL_ADD: c_int = 1;
    pub const EPOLL_CTL_MOD: c_int = 3;
    pub const EPOLLIN: u32 = 0x1;
    pub const EPOLLRDHUP: u32 = 0x2000;
    pub const EPOLLONESHOT: u32 = 1 << 30;
    pub const EEXIST: i32 = 17;
    pub const ENOENT: i32 = 2;
    extern "C" {
        pub fn epoll_create1(flags: c_int) -> c_int;
        pub fn epoll_ctl(epfd: c_int, op: c_int, fd: c_int, event: *mut EpollEvent) -> c_int;
        pub fn epoll_wait(
            epfd: c_int,
            events: *mut EpollEvent,
            maxevents: c_int,
            timeout: c_int,
        ) -> c_int;
    }
}

#[cfg(target_os = "linux")]
impl Epoll {
    /// A new epoll instance (close-on-exec).
    ///
    /// # Errors
    /// `epoll_create1`'s error (out of descriptors or memory).
    pub fn new() -> io::Result<Epoll> {
        use std::os::fd::FromRawFd;
        // SAFETY: epoll_create1 takes no pointers; a valid flag is passed.
        let fd = unsafe { epoll_ffi::epoll_create1(epoll_ffi::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by epoll_create1, is open, and is owned by nobody
        // else: the OwnedFd becomes its only owner and closes it once.
        let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
        Ok(Epoll { fd })
    }

    fn ctl(&self, op: c_int, fd: RawFd, events: u32, token: u64) -> io::Result<()> {
        let mut ev = EpollEvent {
            events,
            data: token,
        };
        // SAFETY: `ev` is a valid epoll_event on this frame for the whole call; epoll_ctl
        // only reads it. Both descriptors are plain integers to the kernel: a closed one is
        // an error (EBADF), never memory unsafety.
        let rc = unsafe { epoll_ffi::epoll_ctl(self.fd.as_raw_fd(), op, fd, &mut ev) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Arms `fd` for one readability event (data, the peer's close, or an error) carrying
    /// `token`: added if new to this instance, re-armed if it was added before.
    ///
    /// # Errors
    /// `epoll_ctl`'s error (a closed descriptor, out of memory).
    pub fn arm_once(&self, fd: RawFd, token: u64, known: bool) -> io::Result<()> {
        use epoll_ffi::*;
        let events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
        let (first, second) = if known {
            (EPOLL_CTL_MOD, EPOLL_CTL_ADD)
        } else {
            (EPOLL_CTL_ADD, EPOLL_CTL_MOD)
        };
        match self.ctl(first, fd, events, token) {
            // Told wrong about whether the descriptor is registered (a closed descriptor's
            // number reused, say): the other operation is the right one.
            Err(e) if matches!(e.raw_os_error(), Some(EEXIST) | Some(ENOENT)) => {
                self.ctl(second, fd, events, token)
            }
            r => r,
        }
    }

    /// Adds `fd` for readability, level-triggered, for as long as it stays open (a wake-up
    /// socket).
    ///
    /// # Errors
    /// `epoll_ctl`'s error.
    pub fn add_level(&self, fd: RawFd, token: u64) -> io::Result<()> {
        self.ctl(epoll_ffi::EPOLL_CTL_ADD, fd, epoll_ffi::EPOLLIN, token)
    }

    /// Waits up to `timeout` (`None`: for ever) for events; returns how many were written to
    /// the front of `events`. An interrupted wait returns 0.
    ///
    /// # Errors
    /// `epoll_wait`'s error.
    pub fn wait(&self, events: &mut [EpollEvent], timeout: Option<Duration>) -> io::Result<usize> {
        let max = c_int::try_from(events.len()).unwrap_or(c_int::MAX);
        // SAFETY: `events` is a writable array of at least `max` epoll_events borrowed for
        // the call; the kernel writes at most `max` of them.
        let n = unsafe {
            epoll_ffi::epoll_wait(
                self.fd.as_raw_fd(),
                events.as_mut_ptr(),
                max,
                timeout_ms(timeout),
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::Interrupted => Ok(0),
                _ => Err(e),
            };
        }
        Ok(usize::try_from(n).unwrap_or(0))
    }
}

/// A termination signal taken by [`TerminationSignals::wait`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Terminate,
    Interrupt,
}

/// SIGTERM and SIGINT, blocked in the calling thread and every thread it starts afterwards, so
/// that one thread takes them with [`TerminationSignals::wait`].
pub struct TerminationSignals {
    set: SigSetT,
}

impl TerminationSignals {
    /// Blocks SIGTERM and SIGINT in this thread. Call it before starting any thread: threads
    /// inherit the mask, and a signal is delivered to any thread that does not block it.
    ///
    /// # Errors
    /// If the mask cannot be set (it can only fail for an invalid argument).
    pub fn block() -> io::Result<TerminationSignals> {
        let mut set = SigSetT::empty();
        // SAFETY: `set` is a valid `sigset_t`-sized value owned by this frame; sigemptyset
        // and sigaddset write only inside it, and the signal numbers are valid.
        let ok = unsafe {
            sigemptyset(&mut set) == 0
                && sigaddset(&mut set, SIGTERM) == 0
                && sigaddset(&mut set, SIGINT) == 0
        };
        if !ok {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `set` was initialised above; a null old-set pointer is allowed and means
        // "do not report the previous mask".
        let rc = unsafe { pthread_sigmask(SIG_BLOCK, &set, std::ptr::null_mut()) };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        Ok(TerminationSignals { set })
    }

    /// Waits for SIGTERM or SIGINT and returns which came. Signals that arrive while nobody
    /// waits stay pending (blocked) and are returned by the next call.
    ///
    /// # Errors
    /// `sigwait`'s error, which it reports only for an invalid set.
    pub fn wait(&self) -> io::Result<Signal> {
        loop {
            let mut sig: c_int = 0;
            // SAFETY: `self.set` is an initialised signal set that lives as long as `self`,
            // and `sig` is a valid place for sigwait to store the signal number.
            let rc = unsafe { sigwait(&self.set, &mut sig) };
            match (rc, sig) {
                (0, SIGTERM) => return Ok(Signal::Terminate),
                (0, SIGINT) => return Ok(Signal::Interrupt),
                (0, _) => continue,
                (rc, _) if rc == EINTR => continue,
                (rc, _) => return Err(io::Error::from_raw_os_error(rc)),
            }
        }
    }
}

const EINTR: c_int = 4;

impl SigSetT {
    fn empty() -> SigSetT {
        #[cfg(target_os = "linux")]
        return SigSetT([0; 16]);
        #[cfg(target_os = "macos")]
        return SigSetT(0);
    }
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

    #[test]
    fn blocking_the_termination_signals_succeeds_and_wait_does_not_return_by_itself() {
        // Blocks SIGTERM and SIGINT in a thread of this test's own. No signal is sent here:
        // one raised at the test process could reach another test thread that does not block
        // it and end the whole run. tests/shutdown.rs sends real signals to the server binary,
        // which is where sigwait's delivery is checked.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let signals = TerminationSignals::block().unwrap();
            tx.send(()).unwrap();
            let got = signals.wait().unwrap();
            tx.send(()).unwrap();
            got
        });
        rx.recv().unwrap();
        assert!(rx.recv_timeout(Duration::from_millis(20)).is_err());
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

    #[cfg(target_os = "linux")]
    #[test]
    fn epoll_reports_a_readable_socket_once_per_arming() {
        let ep = Epoll::new().unwrap();
        let (mut a, b) = UnixStream::pair().unwrap();
        let mut events = [EpollEvent::EMPTY; 4];
        ep.arm_once(b.as_raw_fd(), 42, false).unwrap();
        assert_eq!(ep.wait(&mut events, Some(Duration::ZERO)).unwrap(), 0);
        a.write_all(b"x").unwrap();
        assert_eq!(
            ep.wait(&mut events, Some(Duration::from_secs(5))).unwrap(),
            1
        );
        assert_eq!(events[0].token(), 42);
        // One-shot: the unread byte does not report again until re-armed.
        assert_eq!(ep.wait(&mut events, Some(Duration::ZERO)).unwrap(), 0);
        // Re-armed, with "added before" wrong on purpose: the fallback still arms it.
        ep.arm_once(b.as_raw_fd(), 43, false).unwrap();
        assert_eq!(ep.wait(&mut events, Some(Duration::ZERO)).unwrap(), 1);
        assert_eq!(events[0].token(), 43);
        // A peer's close is an event too.
        let (c, d) = UnixStream::pair().unwrap();
        ep.arm_once(d.as_raw_fd(), 7, true).unwrap();
        drop(c);
        assert_eq!(
            ep.wait(&mut events, Some(Duration::from_secs(5))).unwrap(),
            1
        );
        assert_eq!(events[0].token(), 7);
        // Level-triggered: reported while readable.
        let (mut e, f) = UnixStream::pair().unwrap();
        ep.add_level(f.as_raw_fd(), 9).unwrap();
        e.write_all(b"y").unwrap();
        for _ in 0..2 {
            assert_eq!(
                ep.wait(&mut events, Some(Duration::from_secs(5))).unwrap(),
                1
            );
            assert_eq!(events[0].token(), 9);
        }
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
