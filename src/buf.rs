//! The connection's read buffer: bytes received but not yet used, with a hard cap on how much it
//! will hold. Bytes past the current request (a pipelined next request) stay here for the next
//! round of the connection loop.

use std::io::{self, Read};

/// Initial size of a connection's buffer; it grows, up to the cap given to `fill`, only when a
/// request head needs more.
pub const INITIAL_BUF_BYTES: usize = 4 * 1024;

/// A window `start..end` of received bytes inside a reusable allocation.
#[derive(Debug)]
pub struct ReadBuf {
    data: Vec<u8>,
    start: usize,
    end: usize,
}

impl Default for ReadBuf {
    fn default() -> Self {
        ReadBuf::new()
    }
}

impl ReadBuf {
    pub fn new() -> ReadBuf {
        ReadBuf {
            data: Vec::new(),
            start: 0,
            end: 0,
        }
    }

    /// The bytes received and not yet consumed.
    pub fn filled(&self) -> &[u8] {
        self.data.get(self.start..self.end).unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Marks the first `n` bytes as used.
    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Reads once from `r`, appending to the buffer, which never grows past `cap` bytes held.
    /// Returns the number of bytes read (0 at end of stream, or when the buffer is full).
    ///
    /// # Errors
    /// The read's error, unchanged (a timeout shows as `WouldBlock` or `TimedOut`).
    pub fn fill<R: Read>(&mut self, r: &mut R, cap: usize) -> io::Result<usize> {
        if self.len() >= cap {
            return Ok(0);
        }
        if self.start > 0 && self.end == self.data.len() {
            // Move the unread bytes to the front before growing.
            self.data.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.data.len() {
            let want = (self.data.len() * 2).clamp(INITIAL_BUF_BYTES, cap.max(INITIAL_BUF_BYTES));
            self.data.resize(want, 0);
        }
        let room = (cap - self.len()).min(self.data.len() - self.end);
        let spare = self
            .data
            .get_mut(self.end..self.end + room)
            .unwrap_or_default();
        let n = r.read(spare)?;
        self.end += n;
        Ok(n)
    }

    /// Appends bytes received elsewhere: the start of the next request, read together with
    /// the last piece of a body. (At most one read's worth: the caller bounds it.)
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 {
            self.data.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let end = self.end + bytes.len();
        if end > self.data.len() {
            self.data.resize(end, 0);
        }
        if let Some(room) = self.data.get_mut(self.end..end) {
            room.copy_from_slice(bytes);
            self.end = end;
        }
    }

    /// Gives back memory held by an empty buffer that grew past its initial size, so that idle
    /// connections stay small.
    pub fn shrink_if_idle(&mut self) {
        if self.is_empty() && self.data.len() > INITIAL_BUF_BYTES {
            self.data = Vec::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_unconsumed_bytes_across_fills() {
        let mut b = ReadBuf::new();
        let mut src: &[u8] = b"hello world";
        assert_eq!(b.fill(&mut src, 64).unwrap(), 11);
        b.consume(6);
        assert_eq!(b.filled(), b"world");
        let mut more: &[u8] = b"!";
        b.fill(&mut more, 64).unwrap();
        assert_eq!(b.filled(), b"world!");
        b.consume(100);
        assert!(b.is_empty());
    }

    #[test]
    fn pushed_bytes_follow_those_held() {
        let mut b = ReadBuf::new();
        let mut src: &[u8] = b"abcdef";
        b.fill(&mut src, 64).unwrap();
        b.consume(4);
        b.push(b"GET /");
        assert_eq!(b.filled(), b"efGET /");
        let mut empty = ReadBuf::new();
        empty.push(b"x");
        assert_eq!(empty.filled(), b"x");
    }

    #[test]
    fn never_holds_more_than_the_cap() {
        let mut b = ReadBuf::new();
        let big = vec![7u8; 100_000];
        let mut src: &[u8] = &big;
        while b.fill(&mut src, 10_000).unwrap() > 0 {}
        assert_eq!(b.len(), 10_000);
        b.consume(9_999);
        while b.fill(&mut src, 10_000).unwrap() > 0 {}
        assert_eq!(b.len(), 10_000);
    }
}

/// Size of each worker's buffer for copying file bodies to sockets and request bodies to files.
/// std's `io::copy` from a `File` to a `TcpStream` does not use `sendfile` on this toolchain
/// (strace shows 8 KiB read/sendto pairs), so the copy is ours. Chosen by measurement
/// (bench/run.sh, "file 1 MiB" at -c50, ours/nginx req/s): 32 KiB 0.97x, 64 KiB 1.09-1.27x,
/// 128 KiB 0.61x, 256 KiB 0.71x, 1 MiB 0.61x: a buffer that stays in the CPU's L2 cache wins.
pub const COPY_BUF_BYTES: usize = 64 * 1024;

thread_local! {
    static COPY_BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's copy buffer (`COPY_BUF_BYTES` long), allocated once per worker.
pub fn with_copy_buf<T>(f: impl FnOnce(&mut [u8]) -> T) -> T {
    COPY_BUF.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.len() < COPY_BUF_BYTES {
                buf.resize(COPY_BUF_BYTES, 0);
            }
            f(&mut buf)
        }
        // Only if `f` itself asked for the buffer again: give it one of its own.
        Err(_) => f(&mut vec![0u8; COPY_BUF_BYTES]),
    })
}

/// Copies up to `len` bytes from `from` to `to` through the thread's copy buffer. Returns the
/// bytes copied (less than `len` only if `from` ended first).
///
/// # Errors
/// The first read or write error.
pub fn copy_through<R: Read, W: io::Write>(from: &mut R, to: &mut W, len: u64) -> io::Result<u64> {
    with_copy_buf(|buf| {
        let mut left = len;
        while left > 0 {
            let want = left.min(buf.len() as u64) as usize;
            let n = match from.read(buf.get_mut(..want).unwrap_or_default()) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            to.write_all(buf.get(..n).unwrap_or_default())?;
            left -= n as u64;
        }
        Ok(len - left)
    })
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's buffer for building a response head (plus a small body). It is
/// per worker, not per connection, so a thousand idle connections do not each keep one.
pub fn with_scratch<T>(f: impl FnOnce(&mut Vec<u8>) -> T) -> T {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => f(&mut buf),
        Err(_) => f(&mut Vec::new()),
    })
}
