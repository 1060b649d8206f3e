//! A small, careful HTTP/1.1 origin server: a blocking listener, a fixed worker pool with a
//! poller thread for idle connections, a hand-written incremental parser and a match-on-path
//! router.
//!
//! The layers, each using only those below it: `sys` (the only `unsafe`), `config`, `buf`, `calendar` and
//! `log`; `http` (the protocol); `engine` (accepting, the pool, connections, the poller) and
//! `app` (router, handlers, the file store). This file wires the application into the engine.
//!
//! `main.rs` turns argv into a [`Config`] and calls [`run`]. Tests call [`start`], which binds
//! (port 0 picks a free port) and returns a [`Handle`] with the bound address.

#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]
// Nothing from the network, the disk or argv may panic: no unwrap/expect, no indexing that can
// go out of bounds (use `get`), outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

pub mod access;
pub mod app;
pub mod buf;
pub mod calendar;
pub mod config;
pub mod engine;
pub mod http;
pub mod log;
#[allow(unsafe_code)]
pub mod sys;

pub use config::Config;
pub use engine::server::{Handle, Server};

use app::store::files;
use log::Logger;
use std::io;

/// Binds with the application's router, then removes the uploads and copies that a killed
/// process left behind.
///
/// # Errors
/// `InvalidInput` for a bad `--directory` or a bad user entry, and the bind error (address in
/// use, say).
pub fn bind(mut config: Config) -> io::Result<Server> {
    let invalid = |e| io::Error::new(io::ErrorKind::InvalidInput, e);
    // The application sees the folder as the server does: made canonical.
    config.check_directory().map_err(invalid)?;
    let app = app::App::new(&config).map_err(invalid)?;
    let notes = app.access.startup_notes();
    // The engine calls the application through `http::handler::Handler`: `App`'s is in
    // `app/router.rs`.
    let server = Server::bind_with_handler(config.engine(), Box::new(app))?;
    // Only once the port is ours: a second server that fails to bind must not touch the
    // uploads in progress of the one already running on this directory.
    let log = Logger {
        quiet: server.config().quiet,
    };
    for note in notes {
        log.info(format_args!("{note}"));
    }
    if let Some(dir) = &config.directory {
        match files::remove_stale_uploads(dir, config.stale_upload_age) {
            Ok(done) if done.removed == 0 && done.kept == 0 => {}
            Ok(done) => log.info(format_args!(
                "removed {} unfinished upload file(s) or copy folder(s) from {}; left {} in \
                 progress or not provably dead (see --stale-upload-age)",
                done.removed,
                dir.display(),
                done.kept
            )),
            Err(e) => log.info(format_args!("could not list {}: {e}", dir.display())),
        }
    }
    Ok(server)
}

/// Binds and serves until SIGTERM or SIGINT, then drains and returns.
///
/// # Errors
/// A bad `--directory` (`InvalidInput`), a bind failure, or a failure to set up signals.
pub fn run(config: Config) -> io::Result<()> {
    // Before any thread starts, so that every thread inherits the mask.
    let signals = sys::TerminationSignals::block()?;
    engine::shutdown::serve_until_signalled(bind(config)?, signals, remove_cut_uploads)
}

/// What a shutdown leaves to clean: the temporary files of uploads it cut.
fn remove_cut_uploads() -> Option<String> {
    match files::remove_live_uploads() {
        0 => None,
        n => Some(format!("removed {n} temporary file(s) of cut upload(s)")),
    }
}

/// Binds and serves on a background thread; the handle knows the bound address and stops the
/// server when dropped.
///
/// # Errors
/// As for [`bind`].
pub fn start(config: Config) -> io::Result<Handle> {
    bind(config)?.spawn()
}
