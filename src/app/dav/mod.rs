//! WebDAV (RFC 4918): the XML of its request and response bodies (`xml.rs`) and the headers it
//! adds (`headers.rs`).

pub mod headers;
pub mod xml;
