//! What a checked path names inside `--directory`, opened so that nothing outside it can be
//! reached, whatever links the tree holds or gains during a request.
//!
//! Policy on symbolic links: reading follows a link, to a file or to a folder, only when what
//! it resolves to lies inside the root (any depth) and passes through no temporary upload
//! name; anything else is 404. Writing never goes through a link: a folder on the path that is
//! a link is refused, and a link as the last component is replaced or removed itself, never
//! its target.
//!
//! How it is checked. The root folder is opened once, for the server's life ([`Root`]). On
//! Linux 5.6 and later a path is then opened with one `openat2(2)` beneath that descriptor,
//! with `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS`, without waiting
//! (`O_NONBLOCK`), and its handle stat'ed: the kernel guarantees that nothing outside was
//! reached and that no link was followed, so the components are exactly the client's, which
//! `paths.rs` has already checked (no `..`, no temporary upload name). A path with a link in it
//! fails that open (`ELOOP`) and takes the checked walk below, which decides whether the link
//! may be followed: links are rare, and a link is where a temporary upload name could hide
//! (a link to one, or through a folder of that name), which only the walk's real path shows.
//!
//! The checked walk (every path where `openat2` is missing or filtered, and paths with links):
//! the path is resolved (`canonicalize`) and must lie under the root and pass through no
//! temporary upload name; the file is opened without waiting and its handle stat'ed
//! (open-then-fstat, so a FIFO swapped in is refused, not served, and never holds the worker);
//! then, on Linux, the path of the open descriptor is read back from procfs
//! (`/proc/self/fd/N`) and must still lie under the root, so a component swapped for a link
//! between the checks cannot lead outside. Elsewhere (macOS) the procfs steps are skipped and
//! only the device and inode comparison of open-then-fstat remains; that leaves a window for a
//! swapped link. `Config::force_path_walk` forces the walk for every path, so that tests run
//! both.
//!
//! Folders are then used only through their open descriptor (`/proc/self/fd/N/name`, or the
//! descriptor itself for listings and new folders), so a folder renamed or replaced after it
//! was checked changes nothing.
//!
//! Out of scope: decoding the URL (`paths.rs`), what is done with the file (`files.rs`,
//! `store.rs`, `listing.rs`).

use crate::app::store::paths::{is_upload_name, FilePath};
use crate::http::error::Error;
use crate::sys::dirfd;
use std::ffi::{CString, OsStr, OsString};
use std::fs::{self, File, Metadata};
use std::io;
use std::os::fd::AsFd;
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

/// The served folder: its canonical path, and, where the kernel can resolve paths beneath a
/// descriptor (`openat2`), that folder held open for the server's life. A root renamed while
/// the server runs is still the one served then; the checked walk goes by the path instead.
#[derive(Debug, Clone)]
pub struct Root {
    path: PathBuf,
    dir: Option<std::sync::Arc<File>>,
}

/// How a file is opened for reading: `O_NONBLOCK` so that a FIFO or device opens at once and is
/// refused by the fstat instead of holding the worker, `O_NOCTTY` so that a terminal never
/// becomes ours.
const READ_FLAGS: std::ffi::c_int = dirfd::O_RDONLY | dirfd::O_NONBLOCK | dirfd::O_NOCTTY;

impl Root {
    /// Opens the folder at `path` (already canonical) and checks once whether `openat2` works
    /// here; where it does not (an old kernel, a seccomp filter, macOS), or when `force_walk`,
    /// every path takes the checked walk.
    ///
    /// # Errors
    /// When the folder cannot be opened.
    pub fn open(path: &Path, force_walk: bool) -> io::Result<Root> {
        let mut root = Root {
            path: path.to_path_buf(),
            dir: None,
        };
        if force_walk || !dirfd::HAS_DIRFD {
            return Ok(root);
        }
        let dir = open_without_waiting(path)?;
        let resolve = dirfd::RESOLVE_BENEATH | dirfd::RESOLVE_NO_MAGICLINKS;
        match dirfd::open_beneath(dir.as_fd(), c".", READ_FLAGS | dirfd::O_DIRECTORY, resolve) {
            Ok(_) => root.dir = Some(std::sync::Arc::new(dir)),
            Err(e) if dirfd::is_unavailable(&e) => {}
            Err(e) => return Err(e),
        }
        Ok(root)
    }

    /// The folder's canonical path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether paths are opened beneath the held descriptor (else by the checked walk).
    pub fn is_beneath(&self) -> bool {
        self.dir.is_some()
    }
}

/// `parts` joined with `/` as a C string, `.` for none.
///
/// # Errors
/// 404 for a NUL inside a name (which `paths.rs` never lets through).
fn relative_c_path(parts: &[OsString]) -> Result<CString, Error> {
    if parts.is_empty() {
        return Ok(c".".to_owned());
    }
    let mut bytes = Vec::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            bytes.push(b'/');
        }
        bytes.extend_from_slice(part.as_bytes());
    }
    CString::new(bytes).map_err(|_| Error::NotFound)
}

/// What one `openat2` beneath the root gave.
enum Beneath {
    Opened(Resolved),
    /// The path holds a link: the checked walk decides.
    HasLink,
    /// A rename raced the lookup (`EAGAIN`): look again.
    Again,
}

/// Opens `path` beneath the held root with one `openat2` that follows no link, then one fstat.
fn open_beneath(root: &Root, dir: &File, path: &FilePath) -> Result<Beneath, Error> {
    const EXDEV: i32 = 18;
    const ELOOP: i32 = 40;
    const EAGAIN: i32 = 11;
    let rel = relative_c_path(&path.parts)?;
    let resolve =
        dirfd::RESOLVE_BENEATH | dirfd::RESOLVE_NO_MAGICLINKS | dirfd::RESOLVE_NO_SYMLINKS;
    let file = match dirfd::open_beneath(dir.as_fd(), &rel, READ_FLAGS, resolve) {
        Ok(file) => file,
        Err(e) => {
            return match e.raw_os_error() {
                Some(ELOOP | EXDEV) => Ok(Beneath::HasLink),
                Some(EAGAIN) => Ok(Beneath::Again),
                _ => Err(fs_error(e)),
            }
        }
    };
    let meta = file.metadata().map_err(fs_error)?;
    if meta.is_file() {
        Ok(Beneath::Opened(Resolved::File { file, meta }))
    } else if meta.is_dir() {
        let real = root.path.join(path.relative());
        Ok(Beneath::Opened(Resolved::Dir(OpenDir { file, real })))
    } else {
        // FIFOs, sockets, devices: never served.
        Err(Error::NotFound)
    }
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

    /// The folder's descriptor, for calls relative to it (a listing's reads and stats).
    pub fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.file.as_fd()
    }

    /// Moves the descriptor's reading position back to the folder's first entry.
    ///
    /// # Errors
    /// The file system's error.
    pub fn rewind(&self) -> io::Result<()> {
        use std::io::Seek;
        (&self.file).seek(io::SeekFrom::Start(0)).map(|_| ())
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
pub fn resolve(root: &Root, path: &FilePath) -> Result<Resolved, Error> {
    // A file renamed over the name between the walk's stat and its open (an upload landing,
    // here or on another instance) makes the two differ, and a rename can race openat2 too:
    // the name was never missing, so look again.
    for _ in 0..MAX_OPEN_ATTEMPTS {
        let attempt = match &root.dir {
            Some(dir) => match open_beneath(root, dir, path)? {
                Beneath::Opened(resolved) => Some(resolved),
                Beneath::HasLink => try_resolve(&root.path, path)?,
                Beneath::Again => None,
            },
            None => try_resolve(&root.path, path)?,
        };
        if let Some(resolved) = attempt {
            return Ok(resolved);
        }
    }
    Err(Error::Busy {
        retry_after: 1,
        why: "the file kept being replaced while it was opened",
    })
}

/// One attempt of the checked walk (see the module doc): `None` when what the path names
/// changed between the checks.
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
pub fn open_parent(root: &Root, parts: &[OsString], create: bool) -> Result<OpenDir, Error> {
    open_parent_noting(root, parts, create, &mut Vec::new())
}

/// [`open_parent`], noting in `created` the folders it made, outermost first, each as its
/// parent (held open) and its name, so that a write that then fails can remove them again.
///
/// # Errors
/// As for [`open_parent`].
pub fn open_parent_noting(
    root: &Root,
    parts: &[OsString],
    create: bool,
    created: &mut Vec<(OpenDir, OsString)>,
) -> Result<OpenDir, Error> {
    match &root.dir {
        Some(dir) => open_parent_beneath(root, dir, parts, create, created),
        None => walk_parent(&root.path, parts, create, created),
    }
}

/// How folders are opened for writing beneath the root: no link at all, not even the last.
const WRITE_RESOLVE: u64 =
    dirfd::RESOLVE_BENEATH | dirfd::RESOLVE_NO_MAGICLINKS | dirfd::RESOLVE_NO_SYMLINKS;

/// What a failed open of a folder on a write's path means.
fn parent_error(e: io::Error) -> Error {
    const ELOOP: i32 = 40;
    const ENOTDIR: i32 = 20;
    const EAGAIN: i32 = 11;
    match e.raw_os_error() {
        Some(ELOOP) => Error::Forbidden(
            "a folder on the path is a symbolic link, and writes never follow links",
        ),
        Some(ENOTDIR) => Error::Conflict("a file on the path is not a folder"),
        Some(EAGAIN) => Error::Busy {
            retry_after: 1,
            why: "a folder on the path was being renamed",
        },
        _ => fs_error(e),
    }
}

/// [`open_parent_noting`] beneath the held root: one `openat2` when every folder is there,
/// else one folder at a time, each made (`mkdirat`) where missing and opened from its parent's
/// descriptor, never through a link.
fn open_parent_beneath(
    root: &Root,
    dir: &File,
    parts: &[OsString],
    create: bool,
    created: &mut Vec<(OpenDir, OsString)>,
) -> Result<OpenDir, Error> {
    let flags = READ_FLAGS | dirfd::O_DIRECTORY;
    let rel = relative_c_path(parts)?;
    let real = root.path.join(parts.iter().collect::<PathBuf>());
    match dirfd::open_beneath(dir.as_fd(), &rel, flags, WRITE_RESOLVE) {
        Ok(file) => return Ok(OpenDir { file, real }),
        Err(e) if e.kind() == io::ErrorKind::NotFound && create => {}
        Err(e) => return Err(parent_error(e)),
    }
    let mut cur = OpenDir {
        file: dir.try_clone().map_err(fs_error)?,
        real: root.path.clone(),
    };
    for part in parts {
        let name = CString::new(part.as_bytes()).map_err(|_| Error::NotFound)?;
        let file = match dirfd::open_beneath(cur.file.as_fd(), &name, flags, WRITE_RESOLVE) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                match dirfd::make_dir_at(cur.file.as_fd(), &name) {
                    Ok(()) => {
                        cur.sync();
                        if let Ok(parent) = cur.try_clone() {
                            created.push((parent, part.clone()));
                        }
                    }
                    // Another request made it first (or a link has the name: refused below).
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(fs_error(e)),
                }
                dirfd::open_beneath(cur.file.as_fd(), &name, flags, WRITE_RESOLVE)
                    .map_err(parent_error)?
            }
            Err(e) => return Err(parent_error(e)),
        };
        cur = OpenDir {
            file,
            real: cur.real.join(part),
        };
    }
    Ok(cur)
}

/// [`open_parent_noting`] by the checked walk (see the module doc).
fn walk_parent(
    root: &Path,
    parts: &[OsString],
    create: bool,
    created: &mut Vec<(OpenDir, OsString)>,
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
