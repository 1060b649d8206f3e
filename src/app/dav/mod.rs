//! WebDAV (RFC 4918): the XML of its request and response bodies (`xml.rs`), the headers it
//! adds (`headers.rs`) and properties as `PROPFIND` gives them (`props.rs`).

pub mod headers;
pub mod props;
pub mod xml;
