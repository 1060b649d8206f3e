//! The file store: what `/files/{path}` names under `--directory` (`paths.rs`), opened so that
//! nothing outside can be reached (`fsroot.rs`), served (`files.rs`), written whole or not at
//! all (`writes.rs`), whole folders removed, copied and moved (`tree.rs`), and the temporary files of uploads, their owners and their clean-up
//! (`uploads.rs`).

pub mod files;
pub mod fsroot;
pub mod paths;
pub mod tree;
pub mod uploads;
pub mod writes;
