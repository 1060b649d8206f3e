//! Dead properties (RFC 4918 §4.2, set with `PROPPATCH`), kept in the resource's extended
//! attributes, one attribute per property: they survive a restart, travel with the file or
//! folder on a rename (`MOVE`), are copied with it (`COPY`, `tree.rs`), and are the same for
//! every instance serving the folder.
//!
//! An attribute is named `user.dav.{local}@{namespace}` (a local name cannot hold `@`), or
//! `user.dav.#{hash}` when that is longer than Linux's 255 bytes; its value is the property
//! element itself as XML, so the name read back always comes from the value.
//!
//! On a file system without extended attributes a resource simply has no dead properties, and
//! setting one fails with `Unsupported` (the caller answers 403 with the reason).
//!
//! Out of scope: which properties may be set (`proppatch.rs`).

use super::xml::{self, write_element, Element, Name};
use crate::app::page::listing::Fnv;
use crate::sys::xattr::{self, MAX_XATTR_VALUE_BYTES};
use std::ffi::CString;
use std::io;
use std::os::fd::BorrowedFd;

/// The prefix of every attribute this module owns.
pub const PREFIX: &str = "user.dav.";
/// Most dead properties read back for one resource (ext4 keeps all of a file's attributes in
/// one 4 KiB block anyway).
pub const MAX_DEAD_PROPS: usize = 256;
/// Longest attribute name Linux takes (`XATTR_NAME_MAX`).
const MAX_ATTR_NAME_BYTES: usize = 255;

/// The attribute that holds property `name`.
pub fn attr_name(name: &Name) -> CString {
    let plain = format!("{PREFIX}{}@{}", name.local, name.ns);
    let plain = if plain.len() <= MAX_ATTR_NAME_BYTES && !plain.contains('\0') {
        plain
    } else {
        let mut h = Fnv::default();
        h.write(name.ns.as_bytes());
        h.write(b"\0");
        h.write(name.local.as_bytes());
        format!("{PREFIX}#{:016x}", h.0)
    };
    // unwrap: a NUL was ruled out above, and the hashed form has none.
    CString::new(plain).unwrap_or_default()
}

/// The property as stored: the element as XML.
///
/// # Errors
/// `FileTooLarge` when it is longer than one attribute may be.
pub fn encode(prop: &Element) -> io::Result<Vec<u8>> {
    let mut out = String::new();
    write_element(prop, &mut out);
    if out.len() > MAX_XATTR_VALUE_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::FileTooLarge,
            "the property's value is larger than an extended attribute may hold",
        ));
    }
    Ok(out.into_bytes())
}

/// Every dead property of the open file or folder (none where there are no attributes).
///
/// # Errors
/// The calls' errors other than "not supported".
pub fn read_all(fd: BorrowedFd<'_>) -> io::Result<Vec<Element>> {
    let names = match xattr::list(fd) {
        Ok(names) => names,
        Err(e) if e.kind() == io::ErrorKind::Unsupported => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut props = Vec::new();
    for name in names
        .iter()
        .filter(|n| n.as_bytes().starts_with(PREFIX.as_bytes()))
        .take(MAX_DEAD_PROPS)
    {
        if let Some(value) = xattr::get(fd, name)? {
            // One not written by this module (or damaged) is left out, not an error.
            if let Ok(e) = xml::parse(&value) {
                props.push(e);
            }
        }
    }
    Ok(props)
}

/// The stored value of property `name`, as stored (for undoing a change).
///
/// # Errors
/// The call's errors.
pub fn get_raw(fd: BorrowedFd<'_>, name: &Name) -> io::Result<Option<Vec<u8>>> {
    match xattr::get(fd, &attr_name(name)) {
        Err(e) if e.kind() == io::ErrorKind::Unsupported => Ok(None),
        other => other,
    }
}

/// Stores `value` (from [`encode`]) as property `name`, or removes it (`None`).
///
/// # Errors
/// The call's errors (`Unsupported` without attributes, `ENOSPC`/`E2BIG` when full).
pub fn put_raw(fd: BorrowedFd<'_>, name: &Name, value: Option<&[u8]>) -> io::Result<()> {
    let attr = attr_name(name);
    match value {
        Some(v) => xattr::set(fd, &attr, v),
        None => match xattr::remove(fd, &attr) {
            Err(e) if e.kind() == io::ErrorKind::Unsupported => Ok(()),
            other => other.map(|_| ()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_attributes_plainly_or_by_hash() {
        let n = |ns: &str, local: &str| Name {
            ns: ns.into(),
            local: local.into(),
        };
        assert_eq!(
            attr_name(&n("http://example.com/ns", "author"))
                .to_str()
                .unwrap(),
            "user.dav.author@http://example.com/ns"
        );
        assert_eq!(attr_name(&n("", "x")).to_str().unwrap(), "user.dav.x@");
        let long = attr_name(&n(&"u".repeat(250), "x"));
        assert!(long.to_str().unwrap().starts_with("user.dav.#"));
        assert!(long.as_bytes().len() <= MAX_ATTR_NAME_BYTES);
        assert_ne!(long, attr_name(&n(&"u".repeat(251), "x")));
    }
}
