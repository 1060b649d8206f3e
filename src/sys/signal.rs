//! SIGTERM and SIGINT without a signal handler: blocked in every thread with
//! `pthread_sigmask(3)` and taken by one thread with `sigwait(3)`.

use std::ffi::c_int;
use std::io;

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

extern "C" {
    fn sigemptyset(set: *mut SigSetT) -> c_int;
    fn sigaddset(set: *mut SigSetT, signum: c_int) -> c_int;
    fn pthread_sigmask(how: c_int, set: *const SigSetT, old: *mut SigSetT) -> c_int;
    fn sigwait(set: *const SigSetT, sig: *mut c_int) -> c_int;
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
}
