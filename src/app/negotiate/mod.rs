//! What a request asks of the representation: the media type it prefers (`accept.rs`), gzip
//! (`encoding.rs`), conditional requests and ranges (`conditional.rs`), and the content type a
//! file is sent with (`mime.rs`).

pub mod accept;
pub mod conditional;
pub mod encoding;
pub mod mime;
