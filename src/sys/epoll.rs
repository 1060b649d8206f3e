//! `epoll(7)` (Linux): sockets armed one-shot for readability, each with a token, for the
//! poller's Linux backend.

use super::timeout_ms;
use std::ffi::c_int;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

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
    pub const EPOLLOUT: u32 = 0x4;
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

    /// Arms `fd` for one event carrying `token`: readability (data, the peer's close), or with
    /// `write` writability (room in the send buffer); an error or hang-up ends either wait.
    /// Added if new to this instance, re-armed if it was added before.
    ///
    /// # Errors
    /// `epoll_ctl`'s error (a closed descriptor, out of memory).
    pub fn arm_once(&self, fd: RawFd, token: u64, known: bool, write: bool) -> io::Result<()> {
        use epoll_ffi::*;
        let events = if write {
            EPOLLOUT | EPOLLONESHOT
        } else {
            EPOLLIN | EPOLLRDHUP | EPOLLONESHOT
        };
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::net::UnixStream;

    #[cfg(target_os = "linux")]
    #[test]
    fn epoll_reports_a_full_socket_when_it_has_room_again() {
        use std::io::Read;
        let ep = Epoll::new().unwrap();
        let (mut a, mut b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let chunk = [0u8; 4096];
        let mut filled = 0;
        while a.write(&chunk).is_ok() {
            filled += chunk.len();
        }
        let mut events = [EpollEvent::EMPTY; 4];
        ep.arm_once(a.as_raw_fd(), 5, false, true).unwrap();
        assert_eq!(
            ep.wait(&mut events, Some(Duration::ZERO)).unwrap(),
            0,
            "full"
        );
        let mut sink = vec![0u8; filled];
        b.read_exact(&mut sink).unwrap();
        assert_eq!(
            ep.wait(&mut events, Some(Duration::from_secs(5))).unwrap(),
            1
        );
        assert_eq!(events[0].token(), 5);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn epoll_reports_a_readable_socket_once_per_arming() {
        let ep = Epoll::new().unwrap();
        let (mut a, b) = UnixStream::pair().unwrap();
        let mut events = [EpollEvent::EMPTY; 4];
        ep.arm_once(b.as_raw_fd(), 42, false, false).unwrap();
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
        ep.arm_once(b.as_raw_fd(), 43, false, false).unwrap();
        assert_eq!(ep.wait(&mut events, Some(Duration::ZERO)).unwrap(), 1);
        assert_eq!(events[0].token(), 43);
        // A peer's close is an event too.
        let (c, d) = UnixStream::pair().unwrap();
        ep.arm_once(d.as_raw_fd(), 7, true, false).unwrap();
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
}
