//! Answering one request on a connection: check the head, run the handler with a body reader,
//! decide keep-alive (with the drain's rule), write the answer, and log it; and the answers for
//! errors found before routing, with the linger that lets the client read them.
//!
//! Out of scope: reading towards the next head and where the connection goes next (`mod.rs`).

use super::{catching, Conn, LINGER_TIMEOUT, MAX_LINGER_BYTES};
use crate::buf::with_scratch;
use crate::config::MAX_DRAIN_BYTES;
use crate::engine::shared::Exchange;
use crate::http::body::{BodyReader, Framing};
use crate::http::checks::{check_head, wants_keep_alive};
use crate::http::date::{format_http_date, unix_seconds};
use crate::http::error::Error;
use crate::http::parse::Head;
use crate::http::response::{write_response, WriteOptions};
use crate::http::{escape_for_log, Method, Status, Version};
use std::io::{self, Read};
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

impl Conn {
    /// Answers one request. Returns whether the connection stays open.
    pub(super) fn serve(&mut self, head: &Head) -> bool {
        let started = Instant::now();
        self.requests += 1;
        let (framing, expect_continue) = match check_head(head) {
            Ok(v) => v,
            Err(e) => {
                self.answer_error(Some(head), e);
                return false;
            }
        };
        let shared = Arc::clone(&self.shared);
        let config = &shared.config;
        let has_body = framing != Framing::None;
        if has_body {
            self.socket.set_read_timeout(config.body_read_timeout);
            shared.in_body.fetch_add(1, Ordering::Relaxed);
        }
        let mut body = BodyReader::new(
            &mut self.buf,
            &mut self.socket,
            framing,
            expect_continue,
            config.max_head_bytes + 1,
            config.max_head_bytes,
        );
        let mut exchange = Exchange {
            config,
            peer: self.peer,
            draining: shared.is_draining(),
            client: None,
            user: None,
        };
        // A panic is a bug, but it must cost only this request: answer 500 and close.
        let outcome = catching(|| (shared.handler)(&mut exchange, head, &mut body));
        let (client, user) = (exchange.client, exchange.user);
        let who = Who {
            client,
            user: user.as_deref(),
        };
        let (resp, mut keep_alive) = match outcome {
            Some(Ok(resp)) => (resp, true),
            Some(Err(e)) if !e.can_answer() => {
                self.end_body(has_body);
                self.log_request(head, &who, e.status(), 0, started);
                return false;
            }
            Some(Err(e)) => {
                if matches!(e, Error::Io(_) | Error::InsufficientStorage) {
                    // Our side failed, not the client: say why, whatever --quiet says.
                    let mut target = String::new();
                    escape_for_log(head.target(), &mut target);
                    let message = e.message();
                    match who.client {
                        Some(client) => shared
                            .log
                            .info(format_args!("{client} error on {target}: {message}")),
                        None => shared
                            .log
                            .info(format_args!("{} error on {target}: {message}", self.peer)),
                    }
                }
                (e.response(), !e.closes_connection())
            }
            None => {
                shared.log.info(format_args!(
                    "{} panic while handling a request; answered 500",
                    self.peer
                ));
                let e = Error::Io(io::Error::other("panic"));
                (e.response(), false)
            }
        };
        keep_alive = keep_alive && wants_keep_alive(head);
        // The next request starts after this body: read the rest of a short one, else close.
        let body_done = if keep_alive {
            body.discard_rest(MAX_DRAIN_BYTES)
        } else {
            body.is_finished()
        };
        self.end_body(has_body);
        keep_alive = keep_alive && body_done;
        if shared.is_draining() {
            shared.drained_requests.fetch_add(1, Ordering::Relaxed);
            // Draining: this is the connection's last answer, unless the client has already
            // sent (part of) its next request, which is then answered too.
            if self.buf.is_empty() {
                let _ = self
                    .socket
                    .try_fill(&mut self.buf, config.max_head_bytes + 1);
            }
            keep_alive = keep_alive && !self.buf.is_empty();
        }
        let status = resp.status;
        let date = config
            .send_date
            .then(|| format_http_date(unix_seconds(SystemTime::now())));
        let opts = WriteOptions {
            head_only: head.method == Method::Head,
            version: head.version,
            keep_alive,
            date: date.as_deref(),
        };
        let socket = &mut self.socket;
        let written = with_scratch(|scratch| write_response(socket, scratch, resp, &opts));
        let (sent, still_open) = written.unwrap_or((0, false));
        self.log_request(head, &who, status, sent, started);
        if !still_open {
            if !body_done {
                self.linger();
            }
            return false;
        }
        self.idle_deadline = Instant::now() + config.idle_timeout;
        self.buf.shrink_if_idle();
        true
    }

    /// Uncounts a request body once it has been read (or given up on).
    fn end_body(&self, has_body: bool) {
        if has_body {
            self.shared.in_body.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Writes the answer for an error that happened before or instead of routing.
    /// The connection closes after it.
    pub(super) fn answer_error(&mut self, head: Option<&Head>, e: Error) {
        let started = Instant::now();
        let status = e.status();
        let opts = WriteOptions {
            head_only: head.is_some_and(|h| h.method == Method::Head),
            version: head.map_or(Version::Http11, |h| h.version),
            keep_alive: false,
            date: None,
        };
        let socket = &mut self.socket;
        let sent = with_scratch(|scratch| write_response(socket, scratch, e.response(), &opts))
            .map_or(0, |(n, _)| n);
        match head {
            Some(h) => self.log_request(h, &Who::default(), status, sent, started),
            None => self.shared.log.access(format_args!(
                "{} - - {} {} ({})",
                self.peer,
                status.0,
                sent,
                e.message()
            )),
        }
        if matches!(e, Error::Timeout) {
            // A client too slow to send its head is not worth a worker's wait: just close.
            self.socket.shutdown_write();
        } else {
            self.linger();
        }
    }

    /// Stops sending and reads what the client still sends, for a short while, so that closing
    /// with unread data does not reset the connection before the client reads our answer.
    fn linger(&mut self) {
        self.socket.shutdown_write();
        self.socket.set_read_timeout(LINGER_TIMEOUT);
        let deadline = Instant::now() + LINGER_TIMEOUT;
        let mut sink = [0u8; 8192];
        let mut total = 0u64;
        while Instant::now() < deadline && total < MAX_LINGER_BYTES {
            match self.socket.read(&mut sink) {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n as u64,
            }
        }
    }

    fn log_request(&self, head: &Head, who: &Who<'_>, status: Status, sent: u64, started: Instant) {
        self.shared.log.access_with(|line| {
            use std::fmt::Write;
            // Writing to a String cannot fail. Behind a trusted proxy the line starts with the
            // client it forwarded for; the proxy's own address is in the connection lines.
            let _ = match who.client {
                Some(client) => write!(line, "{client} "),
                None => write!(line, "{} ", self.peer),
            };
            if let Some(user) = who.user {
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

/// Who made a request, as the handler found out, for its log line.
#[derive(Default)]
struct Who<'a> {
    client: Option<IpAddr>,
    user: Option<&'a str>,
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
