//! A connection's socket, in non-blocking mode: every read and write returns at once, with
//! `WouldBlock` when the socket has nothing to give or no room to take. This is how the engine
//! keeps its promise that no worker waits on the network: a connection that meets `WouldBlock`
//! goes to the poller, which hands it back when the socket is ready (or its deadline passes).
//! File bodies go out with `sendfile(2)` on Linux (`Sink::send_file`), also without waiting.
//!
//! Out of scope: deadlines (`conn` keeps them, the poller enforces them), the choice of
//! timeouts.

use crate::buf::ReadBuf;
use crate::http::response::Sink;
use crate::sys;
use std::fs::File;
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsFd, AsRawFd, RawFd};

/// A non-blocking TCP stream.
#[derive(Debug)]
pub struct Socket {
    stream: TcpStream,
    /// Whether file bodies may go out with `sendfile` (`--no-sendfile` turns it off).
    sendfile: bool,
}

impl Socket {
    /// Wraps an accepted stream, putting it in non-blocking mode (one system call per
    /// connection).
    ///
    /// # Errors
    /// If the mode cannot be set.
    pub fn new(stream: TcpStream) -> io::Result<Socket> {
        stream.set_nonblocking(true)?;
        Ok(Socket {
            stream,
            sendfile: sys::HAS_SENDFILE,
        })
    }

    /// Sends file bodies through the worker's copy buffer instead of `sendfile`.
    pub fn disable_sendfile(&mut self) {
        self.sendfile = false;
    }

    /// Reads what has arrived into `buf` (held to `cap` bytes). `WouldBlock` means nothing has;
    /// `Ok(0)`, that the client closed (or the buffer is full).
    ///
    /// # Errors
    /// The read's error, `WouldBlock` included.
    pub fn try_fill(&mut self, buf: &mut ReadBuf, cap: usize) -> io::Result<usize> {
        buf.fill(self, cap)
    }

    /// Bytes written that the client has not acknowledged yet, where the system says.
    pub fn unacked_bytes(&self) -> Option<u64> {
        sys::unacked_bytes(self.stream.as_fd()).ok()
    }

    /// Stops sending (FIN), keeping the read side open.
    pub fn shutdown_write(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}

impl AsRawFd for Socket {
    fn as_raw_fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }
}

impl Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        sys::recv_now(self.stream.as_fd(), buf)
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&self.stream).write(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (&self.stream).write_vectored(bufs)
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
        let want = usize::try_from(len).unwrap_or(usize::MAX);
        match sys::send_file(self.stream.as_fd(), file.as_fd(), &mut at, want) {
            Ok(n) => Ok(Some(n as u64)),
            // A file system that cannot do it (rare on Linux): let the caller copy.
            Err(e) if matches!(e.raw_os_error(), Some(code) if code == EINVAL || code == ENOSYS) => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

// errno values (asm-generic, the same on x86_64 and aarch64 Linux).
const EINVAL: i32 = 22;
const ENOSYS: i32 = 38;

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::time::Duration;

    fn pair() -> (Socket, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (Socket::new(server).unwrap(), client)
    }

    fn wait_readable(s: &Socket) {
        assert!(sys::wait_fd(s.stream.as_fd(), false, Duration::from_secs(5)).unwrap());
    }

    #[test]
    fn reads_never_wait() {
        let (mut s, mut client) = pair();
        let mut buf = ReadBuf::new();
        let e = s.try_fill(&mut buf, 100).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        client.write_all(b"abc").unwrap();
        wait_readable(&s);
        assert_eq!(s.try_fill(&mut buf, 100).unwrap(), 3);
        drop(client);
        wait_readable(&s);
        assert_eq!(s.try_fill(&mut buf, 100).unwrap(), 0);
    }

    #[test]
    fn a_write_to_a_client_that_does_not_read_stops_with_would_block() {
        let (mut s, _client) = pair();
        let chunk = vec![0u8; 1 << 20];
        let mut total = 0usize;
        let e = loop {
            match s.write(&chunk) {
                Ok(n) => total += n,
                Err(e) => break e,
            }
            assert!(total < 1 << 30, "never filled");
        };
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
    }

    #[test]
    fn send_file_sends_what_the_socket_takes_and_no_more() {
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
        let (start, end) = (10u64, 2_500_010u64);
        let mut at = start;
        if sys::HAS_SENDFILE {
            while at < end {
                match s.send_file(&file, at, end - at) {
                    Ok(Some(n)) => at += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        assert!(
                            sys::wait_fd(s.stream.as_fd(), true, Duration::from_secs(5)).unwrap()
                        );
                    }
                    other => panic!("{other:?}"),
                }
            }
        } else {
            assert_eq!(s.send_file(&file, at, end - at).unwrap(), None);
            s.stream.set_nonblocking(false).unwrap();
            s.stream.write_all(&data[10..2_500_010]).unwrap();
        }
        drop(s);
        assert_eq!(reader.join().unwrap(), &data[10..2_500_010]);
        let _ = std::fs::remove_file(path);
    }
}
