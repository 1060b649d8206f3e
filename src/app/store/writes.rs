//! Changing the file store: atomic uploads (a temporary file in the target's own folder, written
//! as the body arrives, synced, then renamed into place, or linked where nothing may be
//! replaced; preconditions checked again just before), new folders and deletes. Temporary files' names, their owners and their
//! clean-up are `uploads.rs`. Missing parent folders are created for uploads and new folders,
//! never through a link and never outside the root (`fsroot::open_parent`).
//!
//! Out of scope: reading (`files.rs`, `listing.rs`) and preconditions (`file_handlers.rs`).

use crate::app::store::fsroot::{fs_error, open_parent, open_parent_noting, OpenDir, Root};
use crate::app::store::paths::FilePath;
use crate::app::store::tree::{self, Failure};
use crate::app::store::uploads::{self, TempFile};
use crate::http::error::Error;
use crate::http::parse::Head;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Temporary names tried for one upload before giving up (each taken one is skipped).
const MAX_NAME_ATTEMPTS: u32 = 100;

/// What must still hold when an upload's body is complete, for it to land. Preconditions are
/// checked when the request comes, and again here: a big upload can take minutes, and a file
/// changed meanwhile (through this server, another one, or the disk) must not be lost.
pub enum Landing {
    /// Replace whatever has the name by then (no precondition).
    Anyway,
    /// Only if nothing has the name (`If-None-Match: *`): the file is linked into place, and
    /// link(2) fails on a taken name, so two such uploads cannot both land.
    OnlyIfAbsent,
    /// Only if this check of the request's head still passes just before the rename
    /// (`If-Match` and the rest).
    Checked(Recheck),
}

/// A check of the request's head, made again when the body has come.
pub type Recheck = Box<dyn Fn(&Head) -> Result<(), Error> + Send>;

/// Splits a path into its parent components and its last one.
pub fn split(path: &FilePath) -> Result<(&[std::ffi::OsString], &OsStr), Error> {
    match path.parts.split_last() {
        Some((name, parents)) => Ok((parents, name.as_os_str())),
        // The root itself: the router never sends it here.
        None => Err(Error::Forbidden("the root folder cannot be changed")),
    }
}

/// An upload in progress: the body streams into a temporary file in the target's folder as it
/// arrives ([`Upload::write`]), and [`Upload::finish`] syncs it and renames it over the target
/// (or links it, see [`Landing`]). An upload dropped before it lands removes its temporary
/// file and the folders it made, and the target is untouched.
pub struct Upload {
    dir: OpenDir,
    target: PathBuf,
    file: File,
    tmp: TempFile,
    landing: Landing,
    /// Missing parent folders this upload made, outermost first.
    created: Vec<(OpenDir, OsString)>,
    landed: bool,
}

impl Upload {
    /// Begins an upload to the file `path` names: makes missing parent folders and the
    /// temporary file. `declared` is the body's length if known.
    ///
    /// # Errors
    /// 413 when `declared` is past `max_bytes`, 409 when a folder has that name or a parent is
    /// a file, 403 for a link on the path or a folder that is not writable, and the file
    /// system's errors.
    pub fn begin(
        root: &Root,
        path: &FilePath,
        declared: Option<u64>,
        max_bytes: u64,
        landing: Landing,
    ) -> Result<Upload, Error> {
        if declared.is_some_and(|n| n > max_bytes) {
            return Err(Error::BodyTooLarge);
        }
        let mut created = Vec::new();
        let begun = begin_noting(root, path, &mut created);
        match begun {
            Ok((dir, target, tmp, file)) => Ok(Upload {
                dir,
                target,
                file,
                tmp,
                landing,
                created,
                landed: false,
            }),
            Err(e) => {
                remove_created(&created);
                Err(e)
            }
        }
    }

    /// Appends the next piece of the body.
    ///
    /// # Errors
    /// 507 when the disk is full, and the file system's other errors.
    pub fn write(&mut self, data: &[u8]) -> Result<(), Error> {
        self.file.write_all(data).map_err(fs_error)
    }

    /// The body is complete: syncs the file and gives it its name, if the landing condition
    /// still holds (`head` is the request's, for [`Landing::Checked`]). Returns whether a
    /// file was replaced.
    ///
    /// # Errors
    /// 412 when the condition no longer holds, 409 when a folder has taken the name, 507 when
    /// the disk is full, 500 when the rename fails.
    pub fn finish(mut self, head: &Head) -> Result<bool, Error> {
        self.file.sync_all().map_err(fs_error)?;
        let target = &self.target;
        match &self.landing {
            Landing::Anyway => {}
            Landing::Checked(check) => check(head)?,
            Landing::OnlyIfAbsent => {
                if link_into_place(&self.tmp.path, target)? {
                    self.land();
                    return Ok(false);
                }
                // No hard links on this file system: the look just below must do.
                if fs::symlink_metadata(target).is_ok() {
                    return Err(Error::PreconditionFailed);
                }
            }
        }
        // Looked at again: the name may have changed hands while the body came.
        let existed = match fs::symlink_metadata(target) {
            Ok(m) if m.is_dir() => return Err(Error::Conflict("a folder has that name")),
            Ok(_) => true,
            Err(_) => false,
        };
        // rename(2) replaces a link itself, never its target. The file stays open (and locked)
        // until it has its final name.
        fs::rename(&self.tmp.path, target).map_err(|e| match e.kind() {
            // Our own temporary file is gone (another process removed it): that is our
            // failure, not a missing resource, and the client must not read it as "no such
            // file".
            io::ErrorKind::NotFound => Error::Io(io::Error::new(
                e.kind(),
                "the temporary upload file vanished before it could be renamed into place",
            )),
            io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => Error::InsufficientStorage,
            // Whatever else stops the rename is ours too (500), never a 403 or 404.
            _ => Error::Io(io::Error::new(
                e.kind(),
                format!("the upload could not be renamed into place: {e}"),
            )),
        })?;
        self.land();
        Ok(existed)
    }

    /// The file has its final name: nothing is to be undone, and the rename is made durable.
    fn land(&mut self) {
        self.tmp.armed = false;
        self.landed = true;
        self.dir.sync();
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if !self.landed {
            // The temporary file first, so that the folders made for it are empty again.
            if self.tmp.armed && fs::remove_file(&self.tmp.path).is_ok() {
                self.tmp.armed = false;
            }
            remove_created(&self.created);
        }
    }
}

/// Removes the folders an upload made for itself, innermost first; one that another upload has
/// put something in meanwhile stays (remove_dir refuses), and so do those outside it.
fn remove_created(created: &[(OpenDir, OsString)]) {
    for (parent, name) in created.iter().rev() {
        if fs::remove_dir(parent.child(name)).is_err() {
            break;
        }
    }
}

/// Opens (making them where missing) the parents of `path`, and creates the temporary file.
fn begin_noting(
    root: &Root,
    path: &FilePath,
    created: &mut Vec<(OpenDir, OsString)>,
) -> Result<(OpenDir, PathBuf, TempFile, File), Error> {
    let (parents, name) = split(path)?;
    let dir = open_parent_noting(root, parents, true, created)?;
    let target = dir.child(name);
    // Refused before the body is read; looked at again before the file lands.
    if fs::symlink_metadata(&target).is_ok_and(|m| m.is_dir()) {
        return Err(Error::Conflict("a folder has that name"));
    }
    // A name can be taken by a file that a killed process left behind, if it had this
    // process's host, id and counter (a restarted container's init is PID 1 again, often in a
    // namespace with the same inode): then the next number.
    let mut attempt = 0;
    let (tmp_path, file) = loop {
        let tmp_path = dir.child(OsStr::new(&uploads::temp_name()));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp_path)
        {
            Ok(file) => break (tmp_path, file),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < MAX_NAME_ATTEMPTS => {
                attempt += 1;
            }
            // The folder went between opening it and now (a failed upload that had made it
            // removed it again): ours to fail, not "no such file".
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Error::Io(io::Error::new(
                    e.kind(),
                    "the folder was removed while the upload began; send it again",
                )))
            }
            Err(e) => return Err(fs_error(e)),
        }
    };
    // Locked while it is written, so that other servers on this folder know it is alive.
    let tmp = TempFile::new(tmp_path, &file);
    Ok((dir, target, tmp, file))
}

/// Gives the finished temporary file its final name only if nothing has that name: link(2)
/// fails on a taken one, atomically (on NFS too), then the temporary name goes. `Ok(false)`
/// when the file system has no hard links.
///
/// # Errors
/// 412 when the name is taken; the file system's other errors.
fn link_into_place(tmp: &Path, target: &Path) -> Result<bool, Error> {
    match fs::hard_link(tmp, target) {
        Ok(()) => {
            // The file is in place; a temporary name left by a failure here is a second name
            // of the same file, which the start-up clean-up removes.
            let _ = fs::remove_file(tmp);
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(Error::PreconditionFailed),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::Unsupported | io::ErrorKind::PermissionDenied
            ) =>
        {
            Ok(false)
        }
        Err(e) => Err(fs_error(e)),
    }
}

/// Creates the folder `path` names, and its missing parents. Returns whether it was created
/// (`false`: it was there already).
///
/// # Errors
/// 409 when a file has that name or a parent is a file, 403 for a link on the path, and the
/// file system's errors.
pub fn make_dir(root: &Root, path: &FilePath) -> Result<bool, Error> {
    let (parents, name) = split(path)?;
    let dir = open_parent(root, parents, true)?;
    match fs::create_dir(dir.child(name)) {
        Ok(()) => {
            dir.sync();
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            match fs::symlink_metadata(dir.child(name)) {
                Ok(m) if m.is_dir() => Ok(false),
                _ => Err(Error::Conflict("a file has that name")),
            }
        }
        Err(e) => Err(fs_error(e)),
    }
}

/// Removes the file, link or folder `path` names, a folder with everything in it (RFC 4918
/// §9.6.1; a link is removed, not followed). A path written as a folder (`a/`) must name one.
/// Returns what could not be removed inside a folder (empty: all of it went).
///
/// # Errors
/// 404 when absent, 403 when not allowed.
pub fn delete(root: &Root, path: &FilePath) -> Result<Vec<Failure>, Error> {
    let (parents, name) = split(path)?;
    let dir = open_parent(root, parents, false)?;
    let target = dir.child(name);
    let meta = fs::symlink_metadata(&target).map_err(fs_error)?;
    if meta.is_dir() {
        return tree::remove_dir_all(&dir, name);
    } else if path.is_dir {
        return Err(Error::NotFound);
    }
    fs::remove_file(&target).map_err(fs_error)?;
    dir.sync();
    Ok(Vec::new())
}
