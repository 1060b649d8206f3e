//! The application: what the server does with a request once the engine has read it. It is
//! the engine's `Handler` (`router.rs`, which routes each request once and checks access), and
//! never touches a socket: a handler returns a `Response` for the engine to write, or, for an
//! upload, a `BodySink` that the engine feeds the body into as it arrives.
//!
//! Its rooms:
//! - `router.rs`, `handlers.rs` (`/`, `/echo`, `/user-agent`, `/health`, `/_login`) and
//!   `file_handlers.rs` (`/files`: GET, PUT, POST, DELETE and their preconditions);
//! - `store/`: the file store: paths, opening safely inside the root, downloads, atomic
//!   streamed writes, temporary upload files and their clean-up;
//! - `negotiate/`: what the request asks of the representation: `Accept`, gzip, conditional
//!   requests and ranges, content types;
//! - `page/`: what people see: listings as text, JSON or the page, the page's assets and
//!   escaping, error pages for browsers;
//! - `archive/`: a folder as one zip or tar download;
//! - `dav/`: WebDAV's XML, headers and properties.

pub mod archive;
pub mod dav;
pub mod file_handlers;
pub mod handlers;
pub mod negotiate;
pub mod page;
pub mod router;
pub mod store;

use crate::access::Access;
use crate::app::store::fsroot;
use crate::config::{Config, StoreConfig};

/// The application's state: the configuration, the access policy and its counters, and the
/// served folder, held open.
pub struct App {
    pub config: StoreConfig,
    pub access: Access,
    /// `--directory`, opened; `None` without one.
    pub root: Option<fsroot::Root>,
    /// WebDAV's write locks: a file in the served folder, shared with other instances.
    pub locks: std::sync::Arc<dav::locks::LockTable>,
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
            config: config.store(),
            access: Access::new(&config.access())?,
            locks: std::sync::Arc::new(dav::locks::LockTable::new(
                root.as_ref().map(fsroot::Root::path),
            )),
            root,
        })
    }
}
