//! Who may read and who may write: users and their passwords, HTTP Basic credentials, the limit
//! on failed logins, and the checks against other web sites (cross-site writes, DNS rebinding).
//!
//! Out of scope: the HTTP answers themselves (`app::router` turns a decision into 401, 403, 421
//! or 429).

pub mod crypto;
