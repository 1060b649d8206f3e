//! What a checked path names inside `--directory`, opened so that nothing outside it can be
//! reached, whatever links the tree holds or gains during a request.
//!
//! Policy on symbolic links: reading follows a link, to a file or to a folder, only when what
//! it resolves to lies inside the root (any depth); anything else is 404. Writing never goes
//! through a link: a folder on the path that is a link is refused, and a link as the last
//! component is replaced or removed itself, never its target.
//!
//! How it is checked: the path is resolved (`canonicalize`) and must lie under the root; the
//! file is opened without waiting (`O_NONBLOCK`) and its handle stat'ed (open-then-fstat, so a
//! FIFO swapped in is refused, not served, and never holds the worker); then, on Linux, the path of the open descriptor is read back from procfs
//! (`/proc/self/fd/N`) and must still lie under the root, so a component swapped for a link
//! between the checks cannot lead outside. Folders are then used only through their open
//! descriptor (`/proc/self/fd/N/name`), so a folder renamed or replaced after it was checked
//! changes nothing. Elsewhere (macOS) the procfs steps are skipped and only the device and inode
//! comparison of open-then-fstat remains; that leaves a window for a swapped link.
//!
//! Out of scope: decoding the URL (`paths.rs`), what is done with the file (`files.rs`,
//! `store.rs`, `listing.rs`).

use crate::app::paths::{is_upload_name, FilePath};
use crate::http::error::Error;
use std::ffi::OsStr;
use std::fs::{self, File, Metadata};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

/// Times [`resolve`] opens a name that is being replaced before it answers 503: each retry
/// follows a rename that landed within microseconds, so a few always suffice in practice.
pub const MAX_OPEN_ATTEMPTS: u32 = 8;

/// Maps a file-system error to the answer it deserves.
pub fn fs_error(e: io::Error) -> Error {
    match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory | io::ErrorKind::IsADirectory => {
            Error::NotFound
        }
        io::ErrorKind::PermissionDenied => Error::Forbidden("permission denied"),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => Error::InsufficientStorage,
        io::ErrorKind::DirectoryNotEmpty => Error::Conflict("the folder is not empty"),
        _ => Error::Io(e),
    }
}

/// Whether two stats describe the same file.
pub fn same_file(a: &Metadata, b: &Metadata) -> bool {
    a.dev() == b.dev() && a.ino() == b.ino()
}

/// Whether `path` (absolute, with no links) lies at or under `root` and passes through no
/// temporary upload file.
pub fn is_inside(root: &Path, path: &Path) -> bool {
    path.strip_prefix(root).is_ok_and(|rest| {
        rest.components().all(|c| match c {
            Component::Normal(name) => !is_upload_name(name.as_bytes()),
            _ => false,
        })
    })
}

/// The real path of an open file. On Linux, from procfs; where there is none, `expected`.
///
/// # Errors
/// 500 when procfs cannot be read (the server then refuses rather than serve unchecked).
#[cfg(target_os = "linux")]
fn opened_path(file: &File, _expected: &Path) -> Result<PathBuf, Error> {
    use std::os::fd::AsRawFd;
    fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())).map_err(|e| {
        Error::Io(io::Error::new(
            e.kind(),
            format!("cannot check an open file's path in /proc: {e}"),
        ))
    })
}

#[cfg(not(target_os = "linux"))]
fn opened_path(_file: &File, expected: &Path) -> Result<PathBuf, Error> {
    Ok(expected.to_path_buf())
}

/// A folder inside the root, open, and used only through its descriptor.
#[derive(Debug)]
pub struct OpenDir {
    file: File,
    real: PathBuf,
}

impl OpenDir {
    /// Another handle on the same folder (a duplicated descriptor).
    ///
    /// # Errors
    /// When no descriptor is left.
    pub fn try_clone(&self) -> io::Result<OpenDir> {
        Ok(OpenDir {
            file: self.file.try_clone()?,
            real: self.real.clone(),
        })
    }

    /// Opens the root itself.
    ///
    /// # Errors
    /// 404 if it is gone or no longer the folder it was, 500 if procfs cannot be read.
    pub fn open_root(root: &Path) -> Result<OpenDir, Error> {
        let file = open_without_waiting(root).map_err(fs_error)?;
        if !file.metadata().map_err(fs_error)?.is_dir() {
            return Err(Error::NotFound);
        }
        let real = opened_path(&file, root)?;
        if real != root {
            return Err(Error::NotFound);
        }
        Ok(OpenDir { file, real })
    }

    /// The path of `name` inside this very folder: through the descriptor on Linux, so that
    /// what the folder's path names now does not matter.
    pub fn child(&self, name: &OsStr) -> PathBuf {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            PathBuf::from(format!("/proc/self/fd/{}", self.file.as_raw_fd())).join(name)
        }
        #[cfg(not(target_os = "linux"))]
        {
            self.real.join(name)
        }
    }

    /// The path to list this folder's entries through (see [`OpenDir::child`]).
    pub fn listing_path(&self) -> PathBuf {
        self.child(OsStr::new(""))
    }

    /// The folder's real path.
    pub fn real(&self) -> &Path {
        &self.real
    }

    /// The folder's stat.
    ///
    /// # Errors
    /// The file system's error.
    pub fn metadata(&self) -> Result<Metadata, Error> {
        self.file.metadata().map_err(fs_error)
    }

    /// Makes changes to this folder's entries durable (after a rename or a new folder).
    pub fn sync(&self) {
        // Some file systems refuse fsync on a directory; the data itself is synced already.
        let _ = self.file.sync_all();
    }

    /// Opens the folder `name` in this one, refusing a link or anything swapped in for one.
    ///
    /// # Errors
    /// 404 when absent or replaced during the check, 409 when it is not a folder.
    pub fn open_child_dir(&self, name: &OsStr) -> Result<OpenDir, Error> {
        let file = open_without_waiting(&self.child(name)).map_err(fs_error)?;
        if !file.metadata().map_err(fs_error)?.is_dir() {
            return Err(Error::Conflict("a file on the path is not a folder"));
        }
        let expected = self.real.join(name);
        let real = opened_path(&file, &expected)?;
        // Equal, not merely inside: this proves no link was followed on the way.
        if real != expected {
            return Err(Error::NotFound);
        }
        Ok(OpenDir { file, real })
    }
}

/// What a path names, opened for reading.
#[derive(Debug)]
pub enum Resolved {
    /// A regular file, with the stat of its open handle.
    File { file: File, meta: Metadata },
    /// A folder.
    Dir(OpenDir),
}

/// Opens what `path` names under `root` for reading, following links only as the policy
/// allows (see the module doc).
///
/// # Errors
/// 404 when absent, outside the root, or neither a regular file nor a folder; 403 when not
/// readable; 503 when it was replaced during each of [`MAX_OPEN_ATTEMPTS`] opens; 500 for
/// other failures.
pub fn resolve(root: &Path, path: &FilePath) -> Result<Resolved, Error> {
    // A file renamed over the name between the stat and the open (an upload landing, here or
    // on another instance) makes the two differ: the name was never missing, so look again.
    for _ in 0..MAX_OPEN_ATTEMPTS {
        if let Some(resolved) = try_resolve(root, path)? {
            return Ok(resolved);
        }
    }
    Err(Error::Busy {
        retry_after: 1,
        why: "the file kept being replaced while it was opened",
    })
}

/// One attempt of [`resolve`]: `None` when what the path names changed between the checks.
fn try_resolve(root: &Path, path: &FilePath) -> Result<Option<Resolved>, Error> {
    let canonical = fs::canonicalize(root.join(path.relative())).map_err(fs_error)?;
    if !is_inside(root, &canonical) {
        return Err(Error::NotFound);
    }
    // Checked on the path first, so that a FIFO or a device is never opened (that could block).
    let expected = fs::metadata(&canonical).map_err(fs_error)?;
    if !expected.is_file() && !expected.is_dir() {
        return Err(Error::NotFound);
    }
    let file = open_without_waiting(&canonical).map_err(fs_error)?;
    let meta = file.metadata().map_err(fs_error)?;
    if !same_file(&meta, &expected) {
        return Ok(None);
    }
    let real = opened_path(&file, &canonical)?;
    if !is_inside(root, &real) {
        return Err(Error::NotFound);
    }
    if meta.is_dir() {
        Ok(Some(Resolved::Dir(OpenDir { file, real })))
    } else {
        Ok(Some(Resolved::File { file, meta }))
    }
}

/// Opens `path` for reading without ever waiting: a FIFO swapped in for the file after the
/// stat opens at once (and is then refused by the fstat) instead of holding the worker until
/// some writer comes.
fn open_without_waiting(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(crate::sys::O_NONBLOCK)
        .open(path)
}

/// Opens the folder that holds `parts` (all but the last component of a path) for writing,
/// creating missing folders when `create`. Only real folders are walked, never links.
///
/// # Errors
/// 403 for a link on the path, 409 for a file on the path, 404 when a folder is missing and
/// not created, and the file system's errors.
pub fn open_parent(
    root: &Path,
    parts: &[std::ffi::OsString],
    create: bool,
) -> Result<OpenDir, Error> {
    open_parent_noting(root, parts, create, &mut Vec::new())
}

/// [`open_parent`], noting in `created` the folders it made, outermost first, each as its
/// parent (held open) and its name, so that a write that then fails can remove them again.
///
/// # Errors
/// As for [`open_parent`].
pub fn open_parent_noting(
    root: &Path,
    parts: &[std::ffi::OsString],
    create: bool,
    created: &mut Vec<(OpenDir, std::ffi::OsString)>,
) -> Result<OpenDir, Error> {
    let mut dir = OpenDir::open_root(root)?;
    for part in parts {
        let path = dir.child(part);
        match fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => {}
            Ok(m) if m.file_type().is_symlink() => {
                return Err(Error::Forbidden(
                    "a folder on the path is a symbolic link, and writes never follow links",
                ))
            }
            Ok(_) => return Err(Error::Conflict("a file on the path is not a folder")),
            Err(e) if e.kind() == io::ErrorKind::NotFound && create => {
                match fs::create_dir(&path) {
                    Ok(()) => {
                        dir.sync();
                        if let Ok(parent) = dir.try_clone() {
                            created.push((parent, part.clone()));
                        }
                    }
                    // Another request made it first: fine, it is checked when opened below.
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(fs_error(e)),
                }
            }
            Err(e) => return Err(fs_error(e)),
        }
        dir = dir.open_child_dir(part)?;
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_opens_without_waiting_for_a_writer() {
        let dir = std::env::temp_dir().join(format!("fsroot-fifo-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("pipe");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !made.is_ok_and(|s| s.success()) {
            return; // no mkfifo here: nothing to check
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let path = fifo.clone();
        std::thread::spawn(move || {
            let opened = open_without_waiting(&path).map(|f| f.metadata().map(|m| m.is_file()));
            let _ = tx.send(opened.is_ok());
        });
        // A plain open would wait here for a writer that never comes.
        let opened = rx.recv_timeout(std::time::Duration::from_secs(10));
        let _ = fs::remove_dir_all(&dir);
        assert_eq!(opened, Ok(true), "the open of a FIFO waited");
    }

    #[test]
    fn knows_what_lies_inside() {
        let root = Path::new("/srv/files");
        let cases = [
            ("/srv/files", true),
            ("/srv/files/a/b.txt", true),
            ("/srv/filesx", false),
            ("/srv", false),
            ("/etc/passwd", false),
            ("/srv/files/.http-server-upload-1-2.part", false),
            ("/srv/files/a/.http-server-upload-1-2.part/x", false),
            ("/srv/files/.hidden", true),
        ];
        for (path, want) in cases {
            assert_eq!(is_inside(root, Path::new(path)), want, "{path}");
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn reads_the_path_of_an_open_file_from_procfs() {
        let dir = std::env::temp_dir().canonicalize().unwrap();
        let path = dir.join(format!("fsroot-test-{}", std::process::id()));
        fs::write(&path, b"x").unwrap();
        let file = File::open(&path).unwrap();
        assert_eq!(opened_path(&file, Path::new("/")).unwrap(), path);
        fs::remove_file(&path).unwrap();
    }
}
