//! An answer going out, after the first write filled the socket: each turn sends what the
//! socket takes, then parks with the [`Outbound`] (the rest of the head, the rest of an
//! in-memory body, or an open file and an offset, or a block stream's position: see
//! `http/response.rs`) until the socket can take more. Also what follows an answer (`after`),
//! lingering before a close, and the access log line, written once the answer has gone.
//!
//! Out of scope: deciding the answer (`serve.rs`), the bytes themselves (`http/response.rs`).

use super::serve::Request;
use super::{Conn, Flow, Phase, LINGER_TIMEOUT, MAX_LINGER_BYTES};
use crate::buf::{with_copy_buf, with_scratch};
use crate::engine::socket::Socket;
use crate::http::escape_for_log;
use crate::http::handler::Who;
use crate::http::parse::Head;
use crate::http::response::{Outgoing, Sink};
use crate::http::Status;
use std::fs::File;
use std::io::{self, IoSlice, Read, Write};
use std::time::Instant;

/// An answer being sent: what a connection parked in the middle of one keeps.
pub(super) struct Outbound {
    pub log: Logged,
    pub status: Status,
    pub out: Outgoing<'static>,
    /// `out.written()` when the deadline was last moved on.
    pub written: u64,
    /// The bytes the client had not yet acknowledged when the send last parked (`None` where
    /// that cannot be read): the client taking them is progress too, even while the kernel,
    /// short of socket memory, takes no new bytes from us.
    pub unacked: Option<u64>,
    pub after: After,
    /// When the connection is given up on if the client takes nothing more (moved on by every
    /// write that goes through).
    pub deadline: Instant,
}

/// The socket, with a bound on the bytes one turn may send: past it, writes say `WouldBlock`
/// and `spent` is set, so the send stops there and the connection gives its worker back.
pub(super) struct Metered<'a> {
    pub socket: &'a mut Socket,
    pub left: &'a mut u64,
    pub spent: bool,
}

impl Metered<'_> {
    /// How much of `want` bytes this turn may still send; `WouldBlock` when nothing.
    fn allow(&mut self, want: u64) -> io::Result<u64> {
        if *self.left == 0 {
            self.spent = true;
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(want.min(*self.left))
    }

    fn count(&mut self, n: usize) -> usize {
        *self.left = self.left.saturating_sub(n as u64);
        n
    }
}

impl Write for Metered<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let allowed = usize::try_from(self.allow(buf.len() as u64)?).unwrap_or(usize::MAX);
        let n = self.socket.write(buf.get(..allowed).unwrap_or_default())?;
        Ok(self.count(n))
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let total: u64 = bufs.iter().map(|b| b.len() as u64).sum();
        if self.allow(total)? < total {
            // Near the end of the turn's share: one slice at a time, cut to what is left.
            let first = bufs
                .iter()
                .find(|b| !b.is_empty())
                .map_or(&[][..], |b| &b[..]);
            return self.write(first);
        }
        let n = self.socket.write_vectored(bufs)?;
        Ok(self.count(n))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Sink for Metered<'_> {
    fn send_file(&mut self, file: &File, offset: u64, len: u64) -> io::Result<Option<u64>> {
        let allowed = self.allow(len)?;
        let sent = self.socket.send_file(file, offset, allowed)?;
        if let Some(n) = sent {
            self.count(usize::try_from(n).unwrap_or(usize::MAX));
        }
        Ok(sent)
    }
}

/// What the access log says of an answer once it has gone.
pub(super) enum Logged {
    /// The answer to a request.
    Request(Request),
    /// An answer to an error found before a request could be read whole.
    Early { note: String },
}

/// What follows an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum After {
    /// The next request.
    Next,
    /// Close now.
    Close,
    /// Close after lingering: request bytes were left unread.
    Linger,
}

impl Conn {
    /// Sends what the socket takes now; parks when it is full, goes on when all is sent.
    pub(super) fn continue_send(&mut self, mut outbound: Box<Outbound>) -> Flow {
        let mut metered = Metered {
            socket: &mut self.socket,
            left: &mut self.turn_left,
            spent: false,
        };
        let sent = with_scratch(|scratch| outbound.out.resume(&mut metered, scratch));
        if metered.spent && sent.is_ok() && !outbound.out.is_done() {
            outbound.written = outbound.out.written();
            outbound.deadline = Instant::now() + self.shared.config.write_timeout;
            self.phase = Phase::Send(outbound);
            return Flow::Yield;
        }
        let Outbound {
            log, status, out, ..
        } = match sent {
            Ok(()) if !outbound.out.is_done() => {
                let now = Instant::now();
                let unacked = self.socket.unacked_bytes();
                if outbound.out.written() > outbound.written {
                    outbound.written = outbound.out.written();
                    outbound.deadline = now + self.shared.config.write_timeout;
                } else if now >= outbound.deadline
                    && matches!((unacked, outbound.unacked), (Some(n), Some(before)) if n < before)
                {
                    // Nothing new went in, but the client took some of what was queued.
                    outbound.deadline = now + self.shared.config.write_timeout;
                } else if now >= outbound.deadline {
                    // The client took nothing for the whole send timeout.
                    let Outbound {
                        log, status, out, ..
                    } = *outbound;
                    self.log_done(log, status, out.sent());
                    return Flow::Close;
                }
                outbound.unacked = unacked;
                self.phase = Phase::Send(outbound);
                return Flow::Park;
            }
            Ok(()) => {
                let after = outbound.after;
                let done = *outbound;
                self.log_done(done.log, done.status, done.out.sent());
                return self.after(after);
            }
            Err(_) => *outbound,
        };
        // The client has gone, or the file failed under us: the answer is cut.
        self.log_done(log, status, out.sent());
        Flow::Close
    }

    /// Sets what follows an answer.
    pub(super) fn after(&mut self, after: After) -> Flow {
        match after {
            After::Next => {
                self.idle_deadline = Instant::now() + self.shared.config.idle_timeout;
                self.buf.shrink_if_idle();
                self.phase = Phase::Head;
                Flow::Go
            }
            After::Close => Flow::Close,
            After::Linger => {
                self.socket.shutdown_write();
                self.phase = Phase::Linger {
                    until: Instant::now() + LINGER_TIMEOUT,
                    read: 0,
                };
                Flow::Go
            }
        }
    }

    /// Reads and drops what the client still sends, for a short while, so that closing with
    /// unread data does not reset the connection before the client reads our answer.
    pub(super) fn linger(&mut self, until: Instant, mut read: u64) -> Flow {
        let socket = &mut self.socket;
        let open = with_copy_buf(|sink| loop {
            match socket.read(sink) {
                Ok(0) => return false,
                Ok(n) => {
                    read += n as u64;
                    if read >= MAX_LINGER_BYTES {
                        return false;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(_) => return false,
            }
        });
        if !open || Instant::now() >= until {
            return Flow::Close;
        }
        self.phase = Phase::Linger { until, read };
        Flow::Park
    }

    /// Writes the log line of an answer that has gone (or been cut), and keeps the request
    /// head's buffers for the next one.
    pub(super) fn log_done(&mut self, log: Logged, status: Status, sent: u64) {
        match log {
            Logged::Request(req) => {
                self.log_request(&req.head, &req.who, status, sent, req.started);
                self.spare.reclaim(req.head);
            }
            Logged::Early { note } => self.shared.log.access(format_args!(
                "{} - - {} {} ({note})",
                self.peer, status.0, sent
            )),
        }
    }

    pub(super) fn log_request(
        &self,
        head: &Head,
        who: &Who,
        status: Status,
        sent: u64,
        started: Instant,
    ) {
        self.shared.log.access_with(|line| {
            use std::fmt::Write;
            // Writing to a String cannot fail. Behind a trusted proxy the line starts with the
            // client it forwarded for; the proxy's own address is in the connection lines.
            let _ = match who.client {
                Some(client) => write!(line, "{client} "),
                None => write!(line, "{} ", self.peer),
            };
            if let Some(user) = &who.user {
                line.push_str("user=");
                escape_user_for_log(user.as_bytes(), line);
                line.push(' ');
            }
            line.push('"');
            escape_for_log(head.method_token(), line);
            line.push(' ');
            escape_for_log(head.target(), line);
            let _ = write!(
                line,
                "\" {} {sent}B {:.3}ms",
                status.0,
                started.elapsed().as_secs_f64() * 1000.0
            );
        });
    }
}

/// A user name as one log field: bytes other than letters, digits and `.`, `_`, `-`, `@` are
/// written as `\xNN`, so that a name cannot contain a space, a quote or a line break.
fn escape_user_for_log(name: &[u8], out: &mut String) {
    use std::fmt::Write;
    for &b in name.iter().take(MAX_LOGGED_USER_BYTES) {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@') {
            out.push(char::from(b));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    if name.len() > MAX_LOGGED_USER_BYTES {
        out.push_str("...");
    }
}

/// Longest user name written whole to the log.
const MAX_LOGGED_USER_BYTES: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_are_one_safe_log_field() {
        let cases: &[(&[u8], &str)] = &[
            (b"alice", "alice"),
            (b"a.b_c-d@e", "a.b_c-d@e"),
            (b"a b", "a\\x20b"),
            (b"x\"\n", "x\\x22\\x0a"),
            ("\u{e9}".as_bytes(), "\\xc3\\xa9"),
        ];
        for (name, want) in cases {
            let mut out = String::new();
            escape_user_for_log(name, &mut out);
            assert_eq!(out, *want);
        }
        let mut out = String::new();
        escape_user_for_log(&[b'a'; 100], &mut out);
        assert_eq!(out.len(), MAX_LOGGED_USER_BYTES + 3);
    }
}
