//! WebDAV (RFC 4918), class 1, on the same tree as `/files/`: the XML of its request and
//! response bodies (`xml.rs`, `answer.rs`), the headers it adds (`headers.rs`), properties as
//! `PROPFIND` gives them (`props.rs`, `propfind.rs`), dead properties and `PROPPATCH`
//! (`dead.rs`, `proppatch.rs`), and `MKCOL`, `COPY`, `MOVE` (`methods.rs`). `DELETE` of a
//! folder with what it holds is the store's, for every client (`file_handlers.rs`).
//!
//! Not served yet: `LOCK` and `UNLOCK` (class 2): they are answered 501, and `OPTIONS` says
//! `DAV: 1` only.

pub mod answer;
pub mod dead;
pub mod headers;
pub mod methods;
pub mod propfind;
pub mod proppatch;
pub mod props;
pub mod xml;
