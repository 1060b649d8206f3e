//! Log lines to stderr, each with a UTC timestamp.
//!
//! A line is built in a buffer of the calling thread's (kept between lines, so logging does not
//! allocate once warm) and written with one `write` to a duplicate of the stderr descriptor. So
//! lines from different workers never interleave, and no user-space lock is shared: std's
//! stderr handle would make every worker take one lock per line.

use crate::calendar::write_log_time;
use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::fs::File;
use std::io::{self, Write};
use std::sync::OnceLock;
use std::time::SystemTime;

/// Lines longer than this do not keep their buffer's memory after they are written.
const KEPT_LINE_CAPACITY: usize = 4096;

/// Where log lines go, and which ones are wanted.
#[derive(Debug, Clone, Copy)]
pub struct Logger {
    /// Leave out per-connection and per-request lines.
    pub quiet: bool,
}

impl Logger {
    /// Always written: start-up, shutdown, errors.
    pub fn info(&self, args: fmt::Arguments<'_>) {
        write_line(|line| {
            let _ = line.write_fmt(args);
        });
    }

    /// Per-connection and per-request lines; not written under `--quiet`.
    pub fn access(&self, args: fmt::Arguments<'_>) {
        if !self.quiet {
            self.info(args);
        }
    }

    /// Like [`Logger::access`], for a line built by `build` (which is not called under
    /// `--quiet`, so a quiet server formats nothing).
    pub fn access_with(&self, build: impl FnOnce(&mut String)) {
        if !self.quiet {
            write_line(build);
        }
    }
}

thread_local! {
    static LINE: RefCell<String> = const { RefCell::new(String::new()) };
}

/// A second descriptor for stderr, written without std's lock. `None` if it cannot be had.
fn stderr_file() -> Option<&'static File> {
    static FILE: OnceLock<Option<File>> = OnceLock::new();
    FILE.get_or_init(|| {
        #[cfg(unix)]
        {
            use std::os::fd::AsFd;
            io::stderr()
                .as_fd()
                .try_clone_to_owned()
                .ok()
                .map(File::from)
        }
        #[cfg(not(unix))]
        {
            None
        }
    })
    .as_ref()
}

/// Lets go of a buffer that a long line made large, so that one such line costs no memory after.
fn release_if_large(line: &mut String) {
    if line.capacity() > KEPT_LINE_CAPACITY {
        *line = String::new();
    }
}

fn write_line(build: impl FnOnce(&mut String)) {
    let mut spare = String::new();
    let write = |line: &mut String| {
        line.clear();
        write_log_time(SystemTime::now(), line);
        line.push(' ');
        build(line);
        line.push('\n');
        // Nothing sensible can be done if stderr is gone.
        let _ = match stderr_file() {
            Some(mut f) => f.write_all(line.as_bytes()),
            None => io::stderr().lock().write_all(line.as_bytes()),
        };
        release_if_large(line);
    };
    // A line logged while one is being built on this thread (from a Display impl, say) gets a
    // buffer of its own.
    LINE.with(|cell| match cell.try_borrow_mut() {
        Ok(mut line) => write(&mut line),
        Err(_) => write(&mut spare),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_buffer_is_kept_up_to_its_limit_and_no_further() {
        let mut small = String::with_capacity(KEPT_LINE_CAPACITY);
        release_if_large(&mut small);
        assert!(small.capacity() >= KEPT_LINE_CAPACITY);
        let mut large = String::with_capacity(KEPT_LINE_CAPACITY + 1);
        release_if_large(&mut large);
        assert_eq!(large.capacity(), 0);
    }
}
