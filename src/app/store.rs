//! Changing the file store: atomic uploads (a temporary file in the target's own folder, synced,
//! then renamed into place), new folders, deletes, and start-up cleanup of uploads that a killed
//! process left behind. Missing parent folders are created for uploads and new folders, never
//! through a link and never outside the root (`fsroot::open_parent`).
//!
//! Out of scope: reading (`files.rs`, `listing.rs`) and preconditions (`file_handlers.rs`).

use crate::app::fsroot::{fs_error, open_parent};
use crate::app::paths::{
    is_upload_name, FilePath, MAX_PATH_COMPONENTS, UPLOAD_PREFIX, UPLOAD_SUFFIX,
};
use crate::buf::with_copy_buf;
use crate::http::body::BodyReader;
use crate::http::error::Error;
use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

/// Most folders the start-up cleanup looks into, so that a huge tree cannot stall the start.
pub const MAX_CLEANUP_DIRS: usize = 10_000;

static UPLOAD_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Deletes a temporary upload file when dropped, unless it was renamed into place.
struct TempFile {
    path: std::path::PathBuf,
    armed: bool,
}

/// The temporary files of uploads in progress in this process, so that a shutdown that cuts
/// them can remove them (the workers writing them do not unwind when the process exits).
static LIVE_UPLOADS: Mutex<Vec<std::path::PathBuf>> = Mutex::new(Vec::new());

fn live_uploads() -> std::sync::MutexGuard<'static, Vec<std::path::PathBuf>> {
    LIVE_UPLOADS.lock().unwrap_or_else(PoisonError::into_inner)
}

impl TempFile {
    fn new(path: std::path::PathBuf) -> TempFile {
        live_uploads().push(path.clone());
        TempFile { path, armed: true }
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_file(&self.path);
        }
        let mut live = live_uploads();
        if let Some(i) = live.iter().position(|p| *p == self.path) {
            live.swap_remove(i);
        }
    }
}

/// Removes the temporary files of this process's uploads still in progress; returns how many.
/// For a shutdown that cuts them: their uploads were not acknowledged, and the files they would
/// have replaced are untouched. (The paths go through the open folder handles of the workers
/// still writing them, which stay open until the process exits.)
pub fn remove_live_uploads() -> usize {
    let live = live_uploads();
    live.iter().filter(|p| fs::remove_file(p).is_ok()).count()
}

/// Splits a path into its parent components and its last one.
fn split(path: &FilePath) -> Result<(&[std::ffi::OsString], &OsStr), Error> {
    match path.parts.split_last() {
        Some((name, parents)) => Ok((parents, name.as_os_str())),
        // The root itself: the router never sends it here.
        None => Err(Error::Forbidden("the root folder cannot be changed")),
    }
}

/// Stores a request body as the file `path` names, atomically: the body streams into a
/// temporary file in the target's folder, which is synced and then renamed over the target. On
/// any failure the temporary file is removed and the target is untouched. Missing parent
/// folders are created. Returns whether a file was replaced.
///
/// # Errors
/// 413 past `max_bytes` (before reading when the length is declared), 409 when a folder has
/// that name or a parent is a file, 403 for a link on the path or a folder that is not
/// writable, 507 when the disk is full, and the body's errors.
pub fn store<S: Read + Write>(
    root: &Path,
    path: &FilePath,
    body: &mut BodyReader<'_, S>,
    max_bytes: u64,
) -> Result<bool, Error> {
    if body.declared_len().is_some_and(|n| n > max_bytes) {
        return Err(Error::BodyTooLarge);
    }
    body.set_limit(max_bytes);
    let (parents, name) = split(path)?;
    let dir = open_parent(root, parents, true)?;
    let target = dir.child(name);
    let existed = match fs::symlink_metadata(&target) {
        Ok(m) if m.is_dir() => return Err(Error::Conflict("a folder has that name")),
        Ok(_) => true,
        Err(_) => false,
    };
    let tmp_name = format!(
        "{UPLOAD_PREFIX}{}-{}{UPLOAD_SUFFIX}",
        std::process::id(),
        UPLOAD_COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let tmp_path = dir.child(OsStr::new(&tmp_name));
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp_path)
        .map_err(fs_error)?;
    let mut tmp = TempFile::new(tmp_path);
    copy_body(body, &mut file)?;
    file.sync_all().map_err(fs_error)?;
    drop(file);
    // rename(2) replaces a link itself, never its target.
    fs::rename(&tmp.path, &target).map_err(fs_error)?;
    tmp.armed = false;
    // Make the rename itself durable.
    dir.sync();
    Ok(existed)
}

fn copy_body<S: Read + Write>(body: &mut BodyReader<'_, S>, file: &mut File) -> Result<(), Error> {
    with_copy_buf(|chunk| loop {
        let n = match body.read(chunk) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::from_body_io(e)),
        };
        file.write_all(chunk.get(..n).unwrap_or_default())
            .map_err(fs_error)?;
    })
}

/// Creates the folder `path` names, and its missing parents. Returns whether it was created
/// (`false`: it was there already).
///
/// # Errors
/// 409 when a file has that name or a parent is a file, 403 for a link on the path, and the
/// file system's errors.
pub fn make_dir(root: &Path, path: &FilePath) -> Result<bool, Error> {
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

/// Removes the file, link or empty folder `path` names (a link is removed, not followed). A
/// path written as a folder (`a/`) must name one.
///
/// # Errors
/// 404 when absent, 409 for a folder that is not empty, 403 when not allowed.
pub fn delete(root: &Path, path: &FilePath) -> Result<(), Error> {
    let (parents, name) = split(path)?;
    let dir = open_parent(root, parents, false)?;
    let target = dir.child(name);
    let meta = fs::symlink_metadata(&target).map_err(fs_error)?;
    if meta.is_dir() {
        fs::remove_dir(&target).map_err(fs_error)?;
    } else if path.is_dir {
        return Err(Error::NotFound);
    } else {
        fs::remove_file(&target).map_err(fs_error)?;
    }
    dir.sync();
    Ok(())
}

/// Removes temporary upload files that a killed process left under `root`, in every folder
/// (links are not followed; at most `MAX_CLEANUP_DIRS` folders are visited). Returns how many.
///
/// # Errors
/// When the root cannot be listed.
pub fn remove_stale_uploads(root: &Path) -> io::Result<usize> {
    remove_stale_uploads_within(root, MAX_CLEANUP_DIRS)
}

fn remove_stale_uploads_within(root: &Path, max_dirs: usize) -> io::Result<usize> {
    let mut removed = 0;
    let mut folders = vec![(root.to_path_buf(), 0usize)];
    let mut visited = 0;
    while let Some((folder, depth)) = folders.pop() {
        visited += 1;
        if visited > max_dirs {
            break;
        }
        let entries = match fs::read_dir(&folder) {
            Ok(entries) => entries,
            Err(e) if depth == 0 => return Err(e),
            Err(_) => continue,
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() && depth < MAX_PATH_COMPONENTS && !is_upload_name(name.as_bytes()) {
                folders.push((entry.path(), depth + 1));
                continue;
            }
            let Some(pid) = upload_owner(name.as_bytes()) else {
                continue;
            };
            // Another server may be running on this directory: its uploads are not stale.
            if is_running(pid) {
                continue;
            }
            if kind.is_file() && fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
    }
    Ok(removed)
}

/// The process id in a temporary upload's name (`PREFIX{pid}-{n}SUFFIX`), if it is one.
fn upload_owner(name: &[u8]) -> Option<u32> {
    let middle = name
        .strip_prefix(UPLOAD_PREFIX.as_bytes())?
        .strip_suffix(UPLOAD_SUFFIX.as_bytes())?;
    let pid = middle.split(|&b| b == b'-').next()?;
    std::str::from_utf8(pid).ok()?.parse().ok()
}

/// Whether a process with this id is alive (Linux: it has a /proc entry). Where /proc is
/// missing every owner looks gone, and its uploads are removed.
fn is_running(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleanup_visits_subfolders_up_to_its_bound() {
        let root = std::env::temp_dir().join(format!("store-cleanup-{}", std::process::id()));
        let stale = format!("{UPLOAD_PREFIX}4999999-1{UPLOAD_SUFFIX}");
        for sub in ["a", "a/b"] {
            fs::create_dir_all(root.join(sub)).unwrap();
        }
        for folder in ["", "a", "a/b"] {
            fs::write(root.join(folder).join(&stale), b"x").unwrap();
        }
        // Two folders visited: the root and `a`; `a/b` is past the bound.
        assert_eq!(remove_stale_uploads_within(&root, 2).unwrap(), 2);
        assert!(root.join("a/b").join(&stale).exists());
        assert_eq!(
            remove_stale_uploads_within(&root, MAX_CLEANUP_DIRS).unwrap(),
            1
        );
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn reads_the_owner_of_an_upload_from_its_name() {
        let name = format!("{UPLOAD_PREFIX}1234-7{UPLOAD_SUFFIX}");
        assert_eq!(upload_owner(name.as_bytes()), Some(1234));
        assert_eq!(upload_owner(b"notes.part"), None);
        let odd = format!("{UPLOAD_PREFIX}x-7{UPLOAD_SUFFIX}");
        assert_eq!(upload_owner(odd.as_bytes()), None);
        assert!(is_running(std::process::id()));
    }
}
