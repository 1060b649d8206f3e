//! A connection's socket: in blocking mode with the write timeout for sends, plus reads that
//! never wait (`recv` with `MSG_DONTWAIT`) and `poll`-bounded waits where a handler reads a body.
//!
//! Between requests the connection loop only reads without waiting (`try_fill`); an empty socket
//! goes to the poller. `Read` (request bodies, lingering) waits up to its own timeout with
//! `poll`; `Write` and `sendfile` block up to the write timeout (`SO_SNDTIMEO`, usually
//! inherited from the listener), then fail with `TimedOut`. Blocking mode costs no system call
//! per connection (non-blocking mode would cost one) and lets a large write sleep in the kernel
//! rather than loop through `poll`. File bodies go out with `sendfile(2)` on Linux
//! (`Sink::send_file`).
//!
//! Out of scope: deadlines across many reads (`conn.rs` keeps those), the choice of timeouts.

use crate::buf::ReadBuf;
use crate::http::response::Sink;
use crate::sys;
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::Duration;

/// A blocking TCP stream with the timeouts its reads and writes wait for.
#[derive(Debug)]
pub struct Socket {
    stream: TcpStream,
    /// Longest wait for bytes in `Read::read` (a request body, a linger).
    read_timeout: Duration,
    /// Whether file bodies may go out with `sendfile` (`--no-sendfile` turns it off).
    sendfile: bool,
}

/// Reads that do not wait, for `ReadBuf::fill`.
struct RecvNow<'a>(&'a TcpStream);

impl Read for RecvNow<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        sys::recv_now(self.0.as_fd(), buf)
    }
}

impl Socket {
    /// Wraps an accepted stream. Unless `preset` (inherited from the listener), sets the write
    /// timeout.
    ///
    /// # Errors
    /// If the timeout cannot be set.
    pub fn new(stream: TcpStream, write_timeout: Duration, preset: bool) -> io::Result<Socket> {
        if !preset {
            stream.set_write_timeout(Some(write_timeout))?;
        }
        Ok(Socket {
            stream,
            read_timeout: write_timeout,
            sendfile: sys::HAS_SENDFILE,
        })
    }

    /// Sends file bodies through the worker's copy buffer instead of `sendfile`.
    pub fn disable_sendfile(&mut self) {
        self.sendfile = false;
    }

    /// Sets how long `Read::read` waits for bytes.
    pub fn set_read_timeout(&mut self, timeout: Duration) {
        self.read_timeout = timeout;
    }

    /// Reads what has arrived into `buf` (held to `cap` bytes) without waiting. `WouldBlock`
    /// means nothing has; `Ok(0)`, that the client closed (or the buffer is full).
    ///
    /// # Errors
    /// The read's error, `WouldBlock` included.
    pub fn try_fill(&mut self, buf: &mut ReadBuf, cap: usize) -> io::Result<usize> {
        buf.fill(&mut RecvNow(&self.stream), cap)
    }

    /// Stops sending (FIN), keeping the read side open.
    pub fn shutdown_write(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    /// Waits until the socket is readable, up to the read timeout; `TimedOut` if it is not.
    fn wait_readable(&self) -> io::Result<()> {
        if sys::wait_fd(self.stream.as_fd(), false, self.read_timeout)? {
            Ok(())
        } else {
            Err(io::ErrorKind::TimedOut.into())
        }
    }
}

/// A blocking send that ran out of its `SO_SNDTIMEO` reports `WouldBlock`; callers see it as the
/// timeout it is.
fn as_timeout(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::WouldBlock {
        io::ErrorKind::TimedOut.into()
    } else {
        e
    }
}

impl AsRawFd for Socket {
    fn as_raw_fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }
}

impl Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match sys::recv_now(self.stream.as_fd(), buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.wait_readable()?,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => return r,
            }
        }
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            match (&self.stream).write(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => return r.map_err(as_timeout),
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Sink for Socket {
    fn send_file(&mut self, file: &File, offset: u64, len: u64) -> io::Result<Option<u64>> {
        if !self.sendfile {
            return Ok(None);
        }
        let mut at = offset;
        let end = offset.saturating_add(len);
        while at < end {
            let want = usize::try_from(end - at).unwrap_or(usize::MAX);
            match sys::send_file(self.stream.as_fd(), file.as_fd(), &mut at, want) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // A file system that cannot do it (rare on Linux): let the caller copy.
                Err(e)
                    if at == offset
                        && matches!(
                            e.raw_os_error(),
                            Some(code) if code == EINVAL || code == ENOSYS
                        ) =>
                {
                    return Ok(None);
                }
                Err(e) => return Err(as_timeout(e)),
            }
        }
        Ok(Some(at - offset))
    }
}

// errno values (asm-generic, the same on x86_64 and aarch64 Linux).
const EINVAL: i32 = 22;
const ENOSYS: i32 = 38;

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::time::Instant;

    fn pair() -> (Socket, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (
            Socket::new(server, Duration::from_millis(200), false).unwrap(),
            client,
        )
    }

    #[test]
    fn try_fill_never_waits() {
        let (mut s, mut client) = pair();
        let mut buf = ReadBuf::new();
        let e = s.try_fill(&mut buf, 100).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        client.write_all(b"abc").unwrap();
        // Loopback delivers at once, but give the kernel a moment without sleeping blindly.
        assert!(sys::wait_fd(s.stream.as_fd(), false, Duration::from_secs(5)).unwrap());
        assert_eq!(s.try_fill(&mut buf, 100).unwrap(), 3);
        drop(client);
        assert!(sys::wait_fd(s.stream.as_fd(), false, Duration::from_secs(5)).unwrap());
        assert_eq!(s.try_fill(&mut buf, 100).unwrap(), 0);
    }

    #[test]
    fn read_waits_up_to_its_timeout() {
        let (mut s, _client) = pair();
        s.set_read_timeout(Duration::from_millis(30));
        let started = Instant::now();
        let e = s.read(&mut [0u8; 8]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= Duration::from_millis(30));
    }

    #[test]
    fn a_write_to_a_client_that_does_not_read_times_out() {
        let (mut s, _client) = pair();
        let chunk = vec![0u8; 1 << 20];
        let started = Instant::now();
        let e = loop {
            if let Err(e) = s.write(&chunk) {
                break e;
            }
            assert!(started.elapsed() < Duration::from_secs(10), "never filled");
        };
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    }

    #[test]
    fn send_file_sends_the_range_asked_for() {
        let (mut s, mut client) = pair();
        let path = std::env::temp_dir().join(format!("socket-sendfile-{}", std::process::id()));
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let file = File::open(&path).unwrap();
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            client.read_to_end(&mut got).unwrap();
            got
        });
        let sent = s.send_file(&file, 10, 2_500_000).unwrap();
        if sys::HAS_SENDFILE {
            assert_eq!(sent, Some(2_500_000));
        } else {
            assert_eq!(sent, None);
            s.write_all(&data[10..2_500_010]).unwrap();
        }
        drop(s);
        assert_eq!(reader.join().unwrap(), &data[10..2_500_010]);
        let _ = std::fs::remove_file(path);
    }
}
