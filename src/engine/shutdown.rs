//! Graceful shutdown on SIGTERM or SIGINT. The signals are blocked in every thread (the mask is
//! set before the first thread starts, and threads inherit it) and taken by one thread with
//! `sigwait`, so nothing runs inside a signal handler.
//!
//! The first signal drains the server (`Stopper::drain`): the listener closes, idle connections
//! close, requests in progress are answered with `Connection: close`, uploads in progress may
//! finish until `--shutdown-timeout`. Then `cleanup` removes what cut uploads left, a log line
//! says what was drained and what was cut, and the process exits 0. A second signal exits at
//! once (status 1), after the same cleanup; files being replaced by cut uploads are untouched.
//!
//! Out of scope: the drain itself (`server.rs`), and what the cleanup removes (the application).

use crate::engine::server::{DrainReport, Server};
use crate::log::Logger;
use crate::sys::{Signal, TerminationSignals};
use std::io;
use std::thread;

/// The exit status after a second signal cut the drain short.
pub const EXIT_ON_SECOND_SIGNAL: i32 = 1;

/// Serves until a termination signal, then drains and returns. `signals` must have been blocked
/// before any thread was started. `cleanup` runs once the drain is over (or on a second signal)
/// and returns what it did, for the log.
///
/// # Errors
/// As for [`Server::run`], or if the signal thread cannot be started.
pub fn serve_until_signalled(
    server: Server,
    signals: TerminationSignals,
    cleanup: fn() -> Option<String>,
) -> io::Result<()> {
    let stopper = server.stopper()?;
    let log = Logger {
        quiet: server.config().quiet,
    };
    let timeout = server.config().shutdown_timeout;
    thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let Ok(first) = signals.wait() else { return };
            log.info(format_args!(
                "{}: draining (up to {:.1} s; a second signal exits at once)",
                name(first),
                timeout.as_secs_f64()
            ));
            stopper.drain();
            let Ok(second) = signals.wait() else { return };
            log.info(format_args!("{}: exiting now", name(second)));
            if let Some(done) = cleanup() {
                log.info(format_args!("{done}"));
            }
            std::process::exit(EXIT_ON_SECOND_SIGNAL);
        })?;
    let report = server.run()?;
    log.info(format_args!("{}", describe(&report)));
    if let Some(done) = cleanup() {
        log.info(format_args!("{done}"));
    }
    Ok(())
}

fn name(signal: Signal) -> &'static str {
    match signal {
        Signal::Terminate => "SIGTERM",
        Signal::Interrupt => "SIGINT",
    }
}

/// The closing log line.
pub fn describe(r: &DrainReport) -> String {
    let mut line = format!(
        "stopped after a {:.3} s drain: {} request(s) answered, {} idle connection(s) closed",
        r.took.as_secs_f64(),
        r.requests,
        r.idle_closed
    );
    if r.cut > 0 {
        line.push_str(&format!(
            ", {} connection(s) cut at the shutdown timeout ({} in the middle of an upload)",
            r.cut, r.cut_in_body
        ));
    } else {
        line.push_str(", nothing cut");
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_closing_line_says_what_was_drained_and_cut() {
        let mut r = DrainReport {
            requests: 2,
            idle_closed: 3,
            cut: 0,
            cut_in_body: 0,
            took: Duration::from_millis(12),
        };
        assert_eq!(
            describe(&r),
            "stopped after a 0.012 s drain: 2 request(s) answered, 3 idle connection(s) closed, nothing cut"
        );
        r.cut = 1;
        r.cut_in_body = 1;
        assert!(describe(&r).ends_with(
            ", 1 connection(s) cut at the shutdown timeout (1 in the middle of an upload)"
        ));
    }
}
