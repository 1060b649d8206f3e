//! What people see: a folder's listing as text, JSON or the page (`listing.rs`, `render.rs`),
//! the page's assets (`assets.rs`, `assets/`), escaping for HTML, URLs and JSON
//! (`escape.rs`), and the page a browser gets for an error (`error_page.rs`).

pub mod assets;
pub mod error_page;
pub mod escape;
pub mod listing;
pub mod render;
