//! WebDAV (RFC 4918), classes 1 and 2, on the same tree as `/files/`: the XML of its request and
//! response bodies (`xml.rs`, `answer.rs`), the headers it adds (`headers.rs`), properties as
//! `PROPFIND` gives them (`props.rs`, `propfind.rs`), dead properties and `PROPPATCH`
//! (`dead.rs`, `proppatch.rs`), `MKCOL`, `COPY`, `MOVE` (`methods.rs`), and write locks with
//! `LOCK`, `UNLOCK` and the `If` header on every write (`locks.rs`, `lockmethods.rs`). `DELETE`
//! of a folder with what it holds is the store's, for every client (`file_handlers.rs`).

pub mod answer;
pub mod dead;
pub mod headers;
pub mod lockmethods;
pub mod locks;
pub mod methods;
pub mod propfind;
pub mod proppatch;
pub mod props;
pub mod xml;
