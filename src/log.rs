//! Log lines to stderr, each with a UTC timestamp. A line is formatted first and written with a
//! single `write_all`, so lines from different workers never interleave and the lock on stderr
//! is held only for that one write.

use crate::http::date::format_log_time;
use std::fmt;
use std::io::Write;
use std::time::SystemTime;

/// Where log lines go, and which ones are wanted.
#[derive(Debug, Clone, Copy)]
pub struct Logger {
    /// Leave out per-connection and per-request lines.
    pub quiet: bool,
}

impl Logger {
    /// Always written: start-up, shutdown, errors.
    pub fn info(&self, args: fmt::Arguments<'_>) {
        write_line(args);
    }

    /// Per-connection and per-request lines; not written under `--quiet`.
    pub fn access(&self, args: fmt::Arguments<'_>) {
        if !self.quiet {
            write_line(args);
        }
    }
}

fn write_line(args: fmt::Arguments<'_>) {
    let line = format!("{} {args}\n", format_log_time(SystemTime::now()));
    // Nothing sensible can be done if stderr is gone.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}
