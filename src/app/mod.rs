//! The application: what the server does with a request once the engine has read it. The router
//! picks a handler by path; handlers answer `/`, `/echo`, `/user-agent`, `/_assets` and `/files`
//! over the file store (paths, safe opening, downloads, uploads, listings and their page);
//! conditional requests and ranges, content types, and content negotiation sit beside them.
//!
//! It uses the protocol layer (`crate::http`) and never touches a socket: it is the engine's
//! `Handler` (`router.rs`); a handler returns a `Response` for the engine to write, or, for an
//! upload, a `BodySink` that the engine feeds the body into as it arrives.

pub mod accept;
pub mod archive;
pub mod assets;
pub mod conditional;
pub mod dav;
pub mod encoding;
pub mod error_page;
pub mod escape;
pub mod file_handlers;
pub mod files;
pub mod fsroot;
pub mod handlers;
pub mod listing;
pub mod mime;
pub mod paths;
pub mod render;
pub mod router;
pub mod store;
pub mod uploads;

use crate::access::Access;
use crate::config::Config;

/// The application's state: the configuration, the access policy and its counters, and the
/// served folder, held open.
pub struct App {
    pub config: Config,
    pub access: Access,
    /// `--directory`, opened; `None` without one.
    pub root: Option<fsroot::Root>,
}

impl App {
    /// Opens `--directory` (already made canonical by `Config::check_directory`).
    ///
    /// # Errors
    /// A message for the user (a bad user entry, a folder that cannot be opened).
    pub fn new(config: &Config) -> Result<App, String> {
        let root = match &config.directory {
            Some(dir) => Some(
                fsroot::Root::open(dir, config.force_path_walk)
                    .map_err(|e| format!("--directory {}: {e}", dir.display()))?,
            ),
            None => None,
        };
        Ok(App {
            config: config.clone(),
            access: Access::new(&config.access())?,
            root,
        })
    }
}
