//! Working inside a folder through its open descriptor (Linux, x86_64 and aarch64), so that a
//! path is resolved by the kernel in one call instead of a walk checked afterwards:
//!
//! - `openat2(2)` (Linux 5.6) with `RESOLVE_BENEATH` (nothing outside the folder, `..` and
//!   absolute links included), `RESOLVE_NO_MAGICLINKS` (no `/proc/self/fd/N`-style jumps) and,
//!   where links must not be followed at all, `RESOLVE_NO_SYMLINKS`. glibc may have no wrapper,
//!   so it goes through `syscall(2)`.
//! - `statx(2)` of a name in a folder, without following a link (a listing's entries), or of
//!   an open file itself; with the birth time where the file system keeps one.
//! - `getdents64(2)`: a folder's names and kinds, read from its descriptor.
//! - `mkdirat(2)`: a new folder in an open one.
//!
//! Out of scope: what may be opened (`app::fsroot`). Elsewhere (macOS, other architectures)
//! each call fails with `Unsupported`, and [`is_unavailable`] tells callers to use their
//! path-based fallback.

use std::ffi::{c_char, c_int, c_long, CStr};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd};

/// Stay inside the starting folder: `..` above it, an absolute link or a mount crossing that
/// leads out fails with `EXDEV`.
pub const RESOLVE_BENEATH: u64 = 0x08;
/// Follow no `/proc/self/fd/N`-style "magic" link.
pub const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
/// Follow no symbolic link at all, the last component included: `ELOOP` if one is met.
pub const RESOLVE_NO_SYMLINKS: u64 = 0x04;

// <fcntl.h> on Linux; O_DIRECTORY differs between the two architectures.
pub const O_RDONLY: c_int = 0;
pub const O_NOCTTY: c_int = 0o400;
pub const O_NONBLOCK: c_int = 0o4000;
pub const O_CLOEXEC: c_int = 0o2_000_000;
#[cfg(not(target_arch = "aarch64"))]
pub const O_DIRECTORY: c_int = 0o200_000;
#[cfg(target_arch = "aarch64")]
pub const O_DIRECTORY: c_int = 0o40_000;

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod nr {
    pub const OPENAT2: std::ffi::c_long = 437;
    pub const STATX: std::ffi::c_long = 332;
    pub const GETDENTS64: std::ffi::c_long = 217;
}
#[cfg(all(target_os = "linux", target_arch = "aarch64"))]
mod nr {
    pub const OPENAT2: std::ffi::c_long = 437;
    pub const STATX: std::ffi::c_long = 291;
    pub const GETDENTS64: std::ffi::c_long = 61;
}

/// Whether the calls of this file exist here (they still may be refused at run time: see
/// [`is_unavailable`]).
pub const HAS_DIRFD: bool = cfg!(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
));

extern "C" {
    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    fn syscall(number: c_long, ...) -> c_long;
    fn mkdirat(dirfd: c_int, path: *const c_char, mode: u32) -> c_int;
}

/// `struct open_how` of <linux/openat2.h>.
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

// <linux/stat.h>
const AT_SYMLINK_NOFOLLOW: c_int = 0x100;
const AT_EMPTY_PATH: c_int = 0x1000;
const STATX_TYPE: u32 = 0x1;
const STATX_MTIME: u32 = 0x40;
const STATX_SIZE: u32 = 0x200;
const STATX_BTIME: u32 = 0x800;
const S_IFMT: u16 = 0o170_000;

/// `struct statx_timestamp`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct StatxTime {
    sec: i64,
    nsec: u32,
    _reserved: i32,
}

/// `struct statx`: 256 bytes, the same on every architecture.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Statx {
    mask: u32,
    blksize: u32,
    attributes: u64,
    nlink: u32,
    uid: u32,
    gid: u32,
    mode: u16,
    _spare0: u16,
    ino: u64,
    size: u64,
    blocks: u64,
    attributes_mask: u64,
    atime: StatxTime,
    btime: StatxTime,
    ctime: StatxTime,
    mtime: StatxTime,
    _rest: [u64; 16],
}

/// What kind of file a name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Link,
    /// A FIFO, socket or device.
    Other,
    /// The file system did not say (`DT_UNKNOWN`): stat it.
    Unknown,
}

impl Kind {
    fn from_mode(mode: u16) -> Kind {
        match mode & S_IFMT {
            0o100_000 => Kind::File,
            0o040_000 => Kind::Dir,
            0o120_000 => Kind::Link,
            _ => Kind::Other,
        }
    }

    fn from_dirent_type(t: u8) -> Kind {
        match t {
            8 => Kind::File,
            4 => Kind::Dir,
            10 => Kind::Link,
            0 => Kind::Unknown,
            _ => Kind::Other,
        }
    }
}

/// What a listing needs of a file's stat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub kind: Kind,
    pub size: u64,
    /// Modification time: seconds and nanoseconds since the epoch (0 if the file system
    /// gives none).
    pub mtime_sec: i64,
    pub mtime_nsec: u32,
    /// Birth time, seconds and nanoseconds since the epoch: `None` where the file system does
    /// not keep one (statx leaves `STATX_BTIME` out of its answer).
    pub btime: Option<(i64, u32)>,
}

/// Whether `e` says the call is missing or forbidden here (an old kernel, a seccomp filter, an
/// unsupported platform), rather than anything about the file: then use the fallback.
pub fn is_unavailable(e: &io::Error) -> bool {
    const ENOSYS: i32 = 38;
    const EPERM: i32 = 1;
    const EINVAL: i32 = 22;
    e.kind() == io::ErrorKind::Unsupported
        || matches!(e.raw_os_error(), Some(ENOSYS | EPERM | EINVAL))
}

/// Opens `relative` (a relative path; `.` is the folder itself) inside the folder `dir` with
/// `openat2(2)`: `flags` are open(2)'s (`O_CLOEXEC` is added), `resolve` the `RESOLVE_*`
/// restrictions. Nothing is created (`mode` is 0).
///
/// # Errors
/// The call's error: `EXDEV` for a path that leads out of `dir` under `RESOLVE_BENEATH`,
/// `ELOOP` for a link under `RESOLVE_NO_SYMLINKS`, `EAGAIN` when a rename raced a `..` (try
/// again), `ENOENT`, `ENOTDIR`, `EACCES`; `ENOSYS`/`EPERM`/`EINVAL` or `Unsupported` where
/// openat2 is missing or filtered ([`is_unavailable`]).
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
pub fn open_beneath(
    dir: BorrowedFd<'_>,
    relative: &CStr,
    flags: c_int,
    resolve: u64,
) -> io::Result<File> {
    let how = OpenHow {
        flags: u64::from((flags | O_CLOEXEC).cast_unsigned()),
        mode: 0,
        resolve,
    };
    // SAFETY: openat2 reads the NUL-terminated path `relative` and `size_of::<OpenHow>()` bytes
    // of `how` (a repr(C) `struct open_how`), both alive across the call; the descriptor is
    // open for the borrow. Each argument is passed as a full `long`, as syscall(2) reads them.
    let fd = unsafe {
        syscall(
            nr::OPENAT2,
            c_long::from(dir.as_raw_fd()),
            relative.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = c_int::try_from(fd).map_err(|_| io::Error::other("descriptor out of range"))?;
    // SAFETY: the kernel just returned this descriptor to us, open, and nothing else owns it.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// See the Linux version.
///
/// # Errors
/// Always `Unsupported`.
#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
pub fn open_beneath(
    _dir: BorrowedFd<'_>,
    _relative: &CStr,
    _flags: c_int,
    _resolve: u64,
) -> io::Result<File> {
    Err(io::ErrorKind::Unsupported.into())
}

/// The stat of `name` in the folder `dir`, not following a link (a link is `Kind::Link`).
///
/// # Errors
/// The call's error (`ENOENT` for a name gone since it was listed); `Unsupported` elsewhere.
pub fn stat_at(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<Stat> {
    statx(dir, name, AT_SYMLINK_NOFOLLOW)
}

/// The stat of the open file `file` itself (a file or a folder).
///
/// # Errors
/// The call's error; `Unsupported` elsewhere.
pub fn stat_open(file: BorrowedFd<'_>) -> io::Result<Stat> {
    statx(file, c"", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)
}

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
fn statx(dir: BorrowedFd<'_>, name: &CStr, flags: c_int) -> io::Result<Stat> {
    let mut st = Statx::default();
    // SAFETY: statx reads the NUL-terminated `name` and writes one `struct statx` (256 bytes,
    // `Statx` is its repr(C) layout) into `st`, which lives across the call; the descriptor is
    // open for the borrow.
    let rc = unsafe {
        syscall(
            nr::STATX,
            c_long::from(dir.as_raw_fd()),
            name.as_ptr(),
            c_long::from(flags),
            c_long::from(STATX_TYPE | STATX_SIZE | STATX_MTIME | STATX_BTIME),
            &mut st as *mut Statx,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    let has_time = st.mask & STATX_MTIME != 0;
    Ok(Stat {
        kind: Kind::from_mode(st.mode),
        size: st.size,
        mtime_sec: if has_time { st.mtime.sec } else { 0 },
        mtime_nsec: if has_time { st.mtime.nsec } else { 0 },
        btime: (st.mask & STATX_BTIME != 0).then_some((st.btime.sec, st.btime.nsec)),
    })
}

#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
fn statx(_dir: BorrowedFd<'_>, _name: &CStr, _flags: c_int) -> io::Result<Stat> {
    Err(io::ErrorKind::Unsupported.into())
}

/// Calls `each` with the name and kind of every entry of the open folder `dir` (not `.` and
/// `..`), reading from the descriptor's current position (a fresh descriptor: the start)
/// through `buf`, which is grown to 32 KiB and can be reused.
///
/// # Errors
/// The call's error; `Unsupported` elsewhere.
pub fn read_entries(
    dir: BorrowedFd<'_>,
    buf: &mut Vec<u8>,
    mut each: impl FnMut(&[u8], Kind),
) -> io::Result<()> {
    while read_some_entries(dir, buf, &mut each)? {}
    Ok(())
}

/// As [`read_entries`], but one `getdents64` (up to 32 KiB of records) at a time, from where
/// the last call stopped: `Ok(false)` once the folder has no more.
///
/// # Errors
/// The call's error; `Unsupported` elsewhere.
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
pub fn read_some_entries(
    dir: BorrowedFd<'_>,
    buf: &mut Vec<u8>,
    mut each: impl FnMut(&[u8], Kind),
) -> io::Result<bool> {
    const BUF_BYTES: usize = 32 * 1024;
    buf.resize(BUF_BYTES, 0);
    loop {
        // SAFETY: the kernel writes at most `buf.len()` bytes of `struct linux_dirent64`
        // records into `buf`, a writable region of that size borrowed for the call.
        let n = unsafe {
            syscall(
                nr::GETDENTS64,
                c_long::from(dir.as_raw_fd()),
                buf.as_mut_ptr(),
                buf.len(),
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        let n = usize::try_from(n).unwrap_or(0);
        if n == 0 {
            return Ok(false);
        }
        parse_entries(buf.get(..n).unwrap_or_default(), &mut each);
        return Ok(true);
    }
}

/// See the Linux version.
///
/// # Errors
/// Always `Unsupported`.
#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
pub fn read_some_entries(
    _dir: BorrowedFd<'_>,
    _buf: &mut Vec<u8>,
    _each: impl FnMut(&[u8], Kind),
) -> io::Result<bool> {
    Err(io::ErrorKind::Unsupported.into())
}

/// Walks the `struct linux_dirent64` records in `bytes`: `d_ino` (8 bytes), `d_off` (8),
/// `d_reclen` (2), `d_type` (1), then the NUL-terminated name, padded to `d_reclen`.
#[cfg_attr(
    not(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    )),
    allow(dead_code)
)]
fn parse_entries(mut bytes: &[u8], each: &mut impl FnMut(&[u8], Kind)) {
    const NAME_AT: usize = 19;
    while let (Some(&lo), Some(&hi)) = (bytes.get(16), bytes.get(17)) {
        let len = usize::from(u16::from_ne_bytes([lo, hi]));
        let (Some(record), Some(rest)) = (bytes.get(..len), bytes.get(len..)) else {
            return;
        };
        if len <= NAME_AT {
            return; // A malformed record: stop rather than loop.
        }
        let kind = Kind::from_dirent_type(record.get(18).copied().unwrap_or(0));
        let field = record.get(NAME_AT..).unwrap_or_default();
        let name = field
            .iter()
            .position(|&b| b == 0)
            .and_then(|end| field.get(..end))
            .unwrap_or(field);
        if name != b"." && name != b".." {
            each(name, kind);
        }
        bytes = rest;
    }
}

/// Makes the folder `name` in the open folder `dir` (mode 0777 less the umask). A link of
/// that name is not followed: the call fails with `EEXIST`.
///
/// # Errors
/// The call's error (`EEXIST`, `ENOENT` when `dir` was removed, `EACCES`, `ENOSPC`).
pub fn make_dir_at(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<()> {
    // SAFETY: mkdirat reads the NUL-terminated `name`, alive across the call; the descriptor
    // is open for the borrow.
    let rc = unsafe { mkdirat(dir.as_raw_fd(), name.as_ptr(), 0o777) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(all(
    test,
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod tests {
    use super::*;
    use std::os::fd::AsFd;
    use std::os::unix::fs::symlink;
    use std::path::PathBuf;

    const READ: c_int = O_RDONLY | O_NONBLOCK | O_NOCTTY;
    const BENEATH: u64 = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;

    /// A folder `root` with `root/in/f` and `outside/secret` beside it.
    struct Tree {
        base: PathBuf,
        root: File,
    }

    impl Tree {
        fn new(tag: &str) -> Tree {
            let base = std::env::temp_dir().join(format!("dirfd-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&base);
            std::fs::create_dir_all(base.join("root/in")).unwrap();
            std::fs::create_dir_all(base.join("outside")).unwrap();
            std::fs::write(base.join("root/in/f"), b"inside").unwrap();
            std::fs::write(base.join("outside/secret"), b"SECRET").unwrap();
            let root = File::open(base.join("root")).unwrap();
            Tree { base, root }
        }

        fn root_path(&self) -> PathBuf {
            self.base.join("root")
        }

        fn open(&self, rel: &CStr, resolve: u64) -> io::Result<File> {
            open_beneath(self.root.as_fd(), rel, READ, resolve)
        }
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.base);
        }
    }

    /// Whether this kernel (or its seccomp filter) has openat2; the tests below need it.
    fn has_openat2(t: &Tree) -> bool {
        match t.open(c".", BENEATH) {
            Ok(_) => true,
            Err(e) if is_unavailable(&e) => false,
            Err(e) => panic!("probe: {e}"),
        }
    }

    fn read(mut f: File) -> Vec<u8> {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut f, &mut v).unwrap();
        v
    }

    #[test]
    fn beneath_refuses_dot_dot_and_absolute_links_out() {
        let t = Tree::new("escape");
        if !has_openat2(&t) {
            return;
        }
        symlink(t.base.join("outside"), t.root_path().join("abs")).unwrap();
        symlink("../outside/secret", t.root_path().join("rel")).unwrap();
        // An absolute link inside is refused too: the kernel cannot tell it leads back in.
        symlink(t.root_path().join("in/f"), t.root_path().join("abs_in")).unwrap();
        for rel in [
            c"../outside/secret",
            c"abs/secret",
            c"rel",
            c"in/../../outside/secret",
            c"abs_in",
        ] {
            let e = t.open(rel, BENEATH).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(18), "{rel:?}: {e}"); // EXDEV
        }
        assert!(t.open(c"/etc/passwd", BENEATH).is_err());
    }

    #[test]
    fn beneath_follows_links_that_stay_inside() {
        let t = Tree::new("inside");
        if !has_openat2(&t) {
            return;
        }
        symlink("in/f", t.root_path().join("flink")).unwrap();
        symlink("in", t.root_path().join("dlink")).unwrap();
        symlink("../in/f", t.root_path().join("in/up")).unwrap();
        for rel in [c"in/f", c"flink", c"dlink/f", c"in/up", c"in/../in/f"] {
            assert_eq!(read(t.open(rel, BENEATH).unwrap()), b"inside", "{rel:?}");
        }
        let dir = t.open(c".", BENEATH).unwrap();
        assert!(dir.metadata().unwrap().is_dir());
    }

    #[test]
    fn no_symlinks_refuses_every_link() {
        let t = Tree::new("nolinks");
        if !has_openat2(&t) {
            return;
        }
        symlink("in/f", t.root_path().join("flink")).unwrap();
        symlink("in", t.root_path().join("dlink")).unwrap();
        let strict = BENEATH | RESOLVE_NO_SYMLINKS;
        for rel in [c"flink", c"dlink/f", c"dlink"] {
            let e = t.open(rel, strict).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(40), "{rel:?}: {e}"); // ELOOP
        }
        assert_eq!(read(t.open(c"in/f", strict).unwrap()), b"inside");
        let e = t.open(c"in/missing", strict).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn magic_links_are_refused() {
        let t = Tree::new("magic");
        if !has_openat2(&t) {
            return;
        }
        // /proc/self/fd/N is a "magic" link to the open folder: followed, it would jump there.
        let fds = File::open("/proc/self/fd").unwrap();
        let rel = std::ffi::CString::new(format!("{}/in/f", t.root.as_raw_fd())).unwrap();
        let e = open_beneath(fds.as_fd(), &rel, READ, RESOLVE_NO_MAGICLINKS).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(40), "{e}"); // ELOOP
        assert_eq!(
            read(open_beneath(fds.as_fd(), &rel, READ, 0).unwrap()),
            b"inside"
        );
    }

    #[test]
    fn lists_names_and_kinds_and_stats_them_without_following_links() {
        let t = Tree::new("list");
        symlink("in/f", t.root_path().join("flink")).unwrap();
        std::fs::write(t.root_path().join("g"), b"12345").unwrap();
        let mut buf = Vec::new();
        let mut seen = Vec::new();
        let dir = File::open(t.root_path()).unwrap();
        read_entries(dir.as_fd(), &mut buf, |name, kind| {
            seen.push((String::from_utf8_lossy(name).into_owned(), kind));
        })
        .unwrap();
        seen.sort_by(|a, b| a.0.cmp(&b.0));
        let names: Vec<_> = seen.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["flink", "g", "in"]);
        for (name, kind) in &seen {
            let c = std::ffi::CString::new(name.as_str()).unwrap();
            let st = stat_at(dir.as_fd(), &c).unwrap();
            if *kind != Kind::Unknown {
                assert_eq!(st.kind, *kind, "{name}");
            }
        }
        let g = stat_at(dir.as_fd(), c"g").unwrap();
        assert_eq!((g.kind, g.size), (Kind::File, 5));
        let want = std::fs::metadata(t.root_path().join("g")).unwrap();
        let want = want
            .modified()
            .unwrap()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        assert_eq!(g.mtime_sec, want.as_secs() as i64);
        assert_eq!(g.mtime_nsec, want.subsec_nanos());
        assert_eq!(stat_at(dir.as_fd(), c"flink").unwrap().kind, Kind::Link);
        // The open file's own stat is the same, birth time included (std reads it through
        // statx too, where it has it).
        let open = File::open(t.root_path().join("g")).unwrap();
        assert_eq!(stat_open(open.as_fd()).unwrap(), g);
        let born = std::fs::metadata(t.root_path().join("g"))
            .unwrap()
            .created();
        if let Ok(born) = born {
            let born = born.duration_since(std::time::UNIX_EPOCH).unwrap();
            assert_eq!(g.btime, Some((born.as_secs() as i64, born.subsec_nanos())));
        }
        assert_eq!(stat_open(dir.as_fd()).unwrap().kind, Kind::Dir);
        assert_eq!(
            stat_at(dir.as_fd(), c"gone").unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
    }

    #[test]
    fn makes_a_folder_in_an_open_one_and_not_through_a_link() {
        let t = Tree::new("mkdir");
        make_dir_at(t.root.as_fd(), c"new").unwrap();
        assert!(t.root_path().join("new").is_dir());
        let e = make_dir_at(t.root.as_fd(), c"new").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        symlink(t.base.join("outside"), t.root_path().join("out")).unwrap();
        assert!(make_dir_at(t.root.as_fd(), c"out").is_err());
    }

    #[test]
    fn parses_records_and_stops_at_a_malformed_one() {
        let record = |name: &[u8], t: u8| {
            let len = (19 + name.len() + 1).div_ceil(8) * 8;
            let mut r = vec![0u8; len];
            r[16..18].copy_from_slice(&(len as u16).to_ne_bytes());
            r[18] = t;
            r[19..19 + name.len()].copy_from_slice(name);
            r
        };
        let mut bytes = record(b".", 4);
        bytes.extend(record(b"..", 4));
        bytes.extend(record(b"a", 8));
        bytes.extend(record(b"bb", 4));
        let mut zero = record(b"c", 8);
        zero[16] = 0;
        zero[17] = 0;
        bytes.extend(zero);
        bytes.extend(record(b"never", 8));
        let mut seen = Vec::new();
        parse_entries(&bytes, &mut |n: &[u8], k| seen.push((n.to_vec(), k)));
        assert_eq!(
            seen,
            [(b"a".to_vec(), Kind::File), (b"bb".to_vec(), Kind::Dir)]
        );
    }

    #[test]
    fn knows_when_to_fall_back() {
        assert!(is_unavailable(&io::Error::from_raw_os_error(38)));
        assert!(is_unavailable(&io::Error::from_raw_os_error(1)));
        assert!(is_unavailable(&io::ErrorKind::Unsupported.into()));
        assert!(!is_unavailable(&io::Error::from_raw_os_error(2)));
        assert!(!is_unavailable(&io::Error::from_raw_os_error(18)));
    }
}
