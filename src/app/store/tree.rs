//! Whole folders at once, and copies: removing a folder with what is in it, copying a file or
//! a folder (with its extended attributes, where WebDAV keeps dead properties), and moving
//! either by rename. What lands at a destination is never seen half made: a copy is built under
//! a hidden temporary name in the destination's folder and renamed into place, and a folder
//! that is replaced is first renamed aside, then removed. While a folder is copied, a lock file
//! inside it is held, so that the start-up clean-up of any instance sharing the folder tells
//! this copy from one whose process was killed (`uploads.rs`).
//!
//! Links inside a folder are never followed: a removal removes the link, a copy leaves it out
//! (a relative link copied elsewhere could point outside the root). Temporary upload files are
//! neither copied nor counted, but a removal takes them with their folder.
//!
//! Out of scope: which paths may be used and what the answers say (the handlers), opening
//! paths inside the root (`fsroot.rs`).

use crate::app::store::fsroot::{fs_error, OpenDir};
use crate::app::store::paths::is_upload_name;
use crate::app::store::uploads::{self, TempFile, COPY_LOCK_NAME};
use crate::http::error::Error;
use crate::sys::xattr;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Deepest folder nesting a removal or a copy goes into (the tree on disk can be deeper than
/// any path a client may send; past this, the entry fails instead of the stack).
pub const MAX_TREE_DEPTH: usize = 64;
/// Most entries one copy makes: a copy is one request, and must end.
pub const MAX_COPY_ENTRIES: usize = 100_000;
/// Most failures a removal reports by name (the rest are counted in the first's reason).
pub const MAX_REPORTED_FAILURES: usize = 100;

/// An entry a removal could not remove: its path below the folder removed, and why.
#[derive(Debug)]
pub struct Failure {
    pub path: PathBuf,
    pub is_dir: bool,
    pub error: Error,
}

/// Removes the folder `name` in `parent` and everything in it, depth first. What could not be
/// removed is reported (paths relative to that folder); the folders holding it stay and are
/// not reported (RFC 4918 §9.6.1).
///
/// # Errors
/// When the folder itself cannot be opened.
pub fn remove_dir_all(parent: &OpenDir, name: &OsStr) -> Result<Vec<Failure>, Error> {
    let mut failures = Vec::new();
    let dir = parent.open_child_dir(name)?;
    let clean = remove_contents(&dir, Path::new(""), 0, &mut failures);
    if clean {
        if let Err(e) = fs::remove_dir(parent.child(name)) {
            note(&mut failures, PathBuf::new(), true, fs_error(e));
        }
    }
    parent.sync();
    Ok(failures)
}

fn note(failures: &mut Vec<Failure>, path: PathBuf, is_dir: bool, error: Error) {
    if failures.len() < MAX_REPORTED_FAILURES {
        failures.push(Failure {
            path,
            is_dir,
            error,
        });
    }
}

/// Removes what `dir` holds; whether all of it went.
fn remove_contents(dir: &OpenDir, at: &Path, depth: usize, failures: &mut Vec<Failure>) -> bool {
    let entries = match fs::read_dir(dir.listing_path()) {
        Ok(entries) => entries,
        Err(e) => {
            note(failures, at.to_path_buf(), true, fs_error(e));
            return false;
        }
    };
    let mut clean = true;
    for entry in entries {
        let Ok(entry) = entry else {
            clean = false;
            continue;
        };
        let name = entry.file_name();
        let path = at.join(&name);
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        let removed = if is_dir {
            if depth >= MAX_TREE_DEPTH {
                note(
                    failures,
                    path,
                    true,
                    Error::Forbidden("the folder is nested too deeply"),
                );
                clean = false;
                continue;
            }
            let inner = match dir.open_child_dir(&name) {
                Ok(inner) => inner,
                Err(e) => {
                    note(failures, path, true, e);
                    clean = false;
                    continue;
                }
            };
            if !remove_contents(&inner, &path, depth + 1, failures) {
                clean = false;
                continue;
            }
            fs::remove_dir(dir.child(&name))
        } else {
            fs::remove_file(dir.child(&name))
        };
        match removed {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                note(failures, path, is_dir, fs_error(e));
                clean = false;
            }
        }
    }
    clean
}

/// Copies the user extended attributes (WebDAV's dead properties among them) of one open file
/// to another. A file system without them has none to copy.
///
/// # Errors
/// The calls' errors, other than "not supported".
pub fn copy_attributes(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> Result<(), Error> {
    let names = match xattr::list(from) {
        Ok(names) => names,
        Err(e) if e.kind() == io::ErrorKind::Unsupported => return Ok(()),
        Err(e) => return Err(fs_error(e)),
    };
    for name in names.iter().filter(|n| n.as_bytes().starts_with(b"user.")) {
        if let Some(value) = xattr::get(from, name).map_err(fs_error)? {
            match xattr::set(to, name, &value) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Unsupported => return Ok(()),
                Err(e) => return Err(fs_error(e)),
            }
        }
    }
    Ok(())
}

/// Copies the open file `from` (its bytes, permissions and user attributes) to the new file
/// `to`, and syncs it.
fn copy_file_to(from: &mut File, to_path: &std::path::Path) -> Result<File, Error> {
    let mut to = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(to_path)
        .map_err(fs_error)?;
    io::copy(from, &mut to).map_err(fs_error)?;
    if let Ok(meta) = from.metadata() {
        let _ = to.set_permissions(meta.permissions());
    }
    copy_attributes(from.as_fd(), to.as_fd())?;
    to.sync_all().map_err(fs_error)?;
    Ok(to)
}

/// A copy being made under a temporary name in the destination's folder: removed if dropped
/// before it lands.
pub struct Staged {
    parent: OpenDir,
    name: OsString,
    is_dir: bool,
    /// A file's temporary name is locked while it is written, like an upload's.
    tmp: Option<TempFile>,
    landed: bool,
}

impl Drop for Staged {
    fn drop(&mut self) {
        if self.landed {
            return;
        }
        if self.is_dir {
            let _ = remove_dir_all(&self.parent, &self.name);
        } else if let Some(tmp) = &mut self.tmp {
            if fs::remove_file(&tmp.path).is_ok() {
                tmp.armed = false;
            }
        }
    }
}

/// Copies the open file `from` to a temporary name in `parent`.
///
/// # Errors
/// The file system's errors (507 when full).
pub fn stage_file(from: &mut File, parent: &OpenDir) -> Result<Staged, Error> {
    let name = OsString::from(uploads::temp_name());
    let path = parent.child(&name);
    let file = copy_file_to(from, &path)?;
    let tmp = TempFile::new(path, &file);
    Ok(Staged {
        parent: parent.try_clone().map_err(fs_error)?,
        name,
        is_dir: false,
        tmp: Some(tmp),
        landed: false,
    })
}

/// Copies the folder `from` to a temporary name in `parent`: only the folder itself (and its
/// attributes) when `deep` is false (COPY with `Depth: 0`), else everything in it.
///
/// # Errors
/// The file system's errors, and 403 past [`MAX_COPY_ENTRIES`] or [`MAX_TREE_DEPTH`]; nothing
/// is left behind.
pub fn stage_dir(from: &OpenDir, parent: &OpenDir, deep: bool) -> Result<Staged, Error> {
    let name = OsString::from(uploads::temp_name());
    fs::create_dir(parent.child(&name)).map_err(fs_error)?;
    let staged = Staged {
        parent: parent.try_clone().map_err(fs_error)?,
        name,
        is_dir: true,
        tmp: None,
        landed: false,
    };
    let to = parent.open_child_dir(&staged.name)?;
    // Dropped before `staged` on an early return: closed, then the folder removed.
    let lock = lock_copy(&to)?;
    if deep {
        copy_contents(from, &to, 0, &mut 0)?;
    }
    // Out before the folder lands, and before it takes the source's permissions, which may
    // forbid it. Removed while still locked, so that a clean-up never finds it unlocked; until
    // the folder lands (at once) its fresh time keeps it.
    fs::remove_file(to.child(OsStr::new(COPY_LOCK_NAME))).map_err(fs_error)?;
    to.sync();
    drop(lock);
    copy_folder_details(from, &to)?;
    Ok(staged)
}

/// Makes the lock file of a copy's new folder `to`, and locks it while it stays open.
fn lock_copy(to: &OpenDir) -> Result<File, Error> {
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(to.child(OsStr::new(COPY_LOCK_NAME)))
        .map_err(fs_error)?;
    uploads::hold_lock(&file);
    Ok(file)
}

/// Gives the folder `to` the attributes and permissions of `from`: once it is filled, since a
/// read-only folder could not be filled after.
fn copy_folder_details(from: &OpenDir, to: &OpenDir) -> Result<(), Error> {
    copy_attributes(from.as_fd(), to.as_fd())?;
    if let Ok(meta) = from.metadata() {
        let _ = fs::set_permissions(to.listing_path(), meta.permissions());
    }
    Ok(())
}

/// Copies what the folder `from` holds into the folder `to`, `depth` folders below the copy's
/// top, counting entries in `count`. Each folder made is synced; `to` is the caller's to sync.
fn copy_contents(
    from: &OpenDir,
    to: &OpenDir,
    depth: usize,
    count: &mut usize,
) -> Result<(), Error> {
    for entry in fs::read_dir(from.listing_path()).map_err(fs_error)? {
        let entry = entry.map_err(fs_error)?;
        let name = entry.file_name();
        if is_upload_name(name.as_bytes()) {
            continue;
        }
        *count += 1;
        if *count > MAX_COPY_ENTRIES {
            return Err(Error::Forbidden(
                "the folder holds too many entries to copy",
            ));
        }
        let kind = entry.file_type().map_err(fs_error)?;
        if kind.is_dir() {
            if depth >= MAX_TREE_DEPTH {
                return Err(Error::Forbidden("the folder is nested too deeply to copy"));
            }
            let inner = from.open_child_dir(&name)?;
            fs::create_dir(to.child(&name)).map_err(fs_error)?;
            let inner_to = to.open_child_dir(&name)?;
            copy_contents(&inner, &inner_to, depth + 1, count)?;
            inner_to.sync();
            copy_folder_details(&inner, &inner_to)?;
        } else if kind.is_file() {
            let mut file = File::open(from.child(&name)).map_err(fs_error)?;
            if file.metadata().map_err(fs_error)?.is_file() {
                copy_file_to(&mut file, &to.child(&name))?;
            }
        }
        // Links, FIFOs, sockets and devices are not copied.
    }
    Ok(())
}

impl Staged {
    /// Renames the copy to `name` in its folder; whether something was replaced. A folder
    /// there, or any entry where a folder lands, is first renamed aside and removed after.
    ///
    /// # Errors
    /// The renames' errors.
    pub fn land(mut self, name: &OsStr) -> Result<bool, Error> {
        let replaced = place(
            &self.parent,
            &self.parent.child(&self.name),
            name,
            self.is_dir,
        )?;
        self.landed = true;
        if let Some(tmp) = &mut self.tmp {
            tmp.armed = false;
        }
        Ok(replaced)
    }
}

/// Renames `from` to `name` in `parent`, replacing what is there; whether something was. A
/// file over a file is one rename (atomic); a folder on either side is first renamed aside.
///
/// # Errors
/// The renames' errors.
pub fn place(
    parent: &OpenDir,
    from: &std::path::Path,
    name: &OsStr,
    is_dir: bool,
) -> Result<bool, Error> {
    let target = parent.child(name);
    let existing = fs::symlink_metadata(&target).ok();
    let aside = match &existing {
        Some(m) if m.is_dir() || is_dir => {
            let aside = OsString::from(uploads::temp_name());
            fs::rename(&target, parent.child(&aside)).map_err(fs_error)?;
            Some((aside, m.is_dir()))
        }
        _ => None,
    };
    if let Err(e) = fs::rename(from, &target) {
        if let Some((aside, _)) = &aside {
            let _ = fs::rename(parent.child(aside), &target);
        }
        return Err(fs_error(e));
    }
    if let Some((aside, was_dir)) = aside {
        if was_dir {
            let _ = remove_dir_all(parent, &aside);
        } else {
            let _ = fs::remove_file(parent.child(&aside));
        }
    }
    parent.sync();
    Ok(existing.is_some())
}
