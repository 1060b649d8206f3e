//! A folder as one download: zip, tar or tar.gz, made as it is sent, never built in memory or on
//! disk first. The entries are planned before the first byte (names, sizes, times: what a
//! listing would show), which bounds them ([`MAX_ARCHIVE_ENTRIES`]) and gives tar, and zip
//! with stored entries only, their exact length; then [`ArchiveStream`] reads each file when
//! its turn comes, a block at a time.
//!
//! A file that is not what the plan says when it is opened (another size), or that changes
//! while it is read (its size or time moves), ends the download with an error: the client sees
//! a cut transfer, never a well-formed archive holding a torn file.
//!
//! Zip entries are deflated where it pays (the rule of gzip on files: not compressed formats,
//! not tiny files, and the first 16 KiB must shrink to 90%), each in independent blocks ended
//! by a sync flush, as the gzip stream of a file is; others are stored. tar.gz is the tar
//! stream gzipped the same way. So a stream parked between blocks holds the open file, its
//! offset and a few counters, plus the block being sent.
//!
//! Out of scope: choosing what goes in (the caller's plan) and opening files safely (the
//! caller's `Opener`).

pub mod folder;
pub mod tar;
pub mod zip;

use crate::app::negotiate::encoding::{self, read_full_at};
use crate::http::response::BlockStream;
use flate2::Crc;
use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;

/// Most entries (files and folders) in one archive: each costs its name and a few words until
/// the end (a zip's central directory lists them all). Past it the archive is refused.
pub const MAX_ARCHIVE_ENTRIES: usize = 100_000;
/// File bytes read per block.
const CHUNK: usize = 64 * 1024;
/// Files below this are stored in a zip, not deflated (as for gzip on files).
const MIN_DEFLATE_BYTES: u64 = 1024;
/// A file's first bytes are deflated as a probe: it is deflated only if they shrink to this
/// percentage or less.
const MAX_PROBE_PERCENT: usize = 90;

/// The archive formats offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Zip,
    Tar,
    TarGz,
}

impl Format {
    /// From the `download` query parameter's value.
    pub fn from_query(value: &[u8]) -> Option<Format> {
        match value {
            b"zip" => Some(Format::Zip),
            b"tar" => Some(Format::Tar),
            b"tar.gz" | b"tgz" => Some(Format::TarGz),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Zip => "zip",
            Format::Tar => "tar",
            Format::TarGz => "tar.gz",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Zip => "application/zip",
            Format::Tar => "application/x-tar",
            Format::TarGz => "application/gzip",
        }
    }
}

/// One planned entry: its path in the archive ('/'-separated, a folder's ending in '/'), its
/// size and modification time as seen when planned, and (for zip) whether it is stored
/// whatever its bytes (a compressed format, or tiny).
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: Vec<u8>,
    pub is_dir: bool,
    pub size: u64,
    pub mtime: u64,
    pub stored: bool,
}

/// Opens a planned file (by its archive path) for reading, as safely as any download.
pub type Opener = Box<dyn Fn(&[u8]) -> io::Result<File> + Send>;

/// The archive's exact length, where it is known before the first byte: tar, and zip when
/// every entry is stored.
pub fn length(format: Format, entries: &[Entry]) -> Option<u64> {
    match format {
        Format::Tar => Some(
            entries
                .iter()
                .map(|e| tar::header_len(&e.name, e.size) + tar::padded(e.size))
                .sum::<u64>()
                + tar::END.len() as u64,
        ),
        Format::Zip if entries.iter().all(|e| e.stored || e.is_dir) => Some(zip::stored_len(
            entries.iter().map(|e| (&e.name[..], e.size)),
        )),
        Format::Zip | Format::TarGz => None,
    }
}

/// Where the stream is.
enum Step {
    /// The next entry's header (its index).
    Header(usize),
    /// Reading the file of entry `index`, from `at`.
    Data {
        index: usize,
        at: u64,
    },
    /// After the data of entry `index`: tar padding, or the zip descriptor.
    After(usize),
    /// The zip central directory from record `index`, then the end.
    Central(usize),
    End,
    Done,
}

/// The file being read, and what it was when opened.
struct Open {
    file: File,
    size: u64,
    mtime: (i64, i64),
    crc: Crc,
    compressed: u64,
    method: u16,
    zip64: bool,
    offset: u64,
}

/// An archive made block by block as it is sent.
pub struct ArchiveStream {
    format: Format,
    entries: Vec<Entry>,
    open: Opener,
    step: Step,
    current: Option<Open>,
    /// Bytes of archive (before tar.gz's gzip) made so far: a zip record's offset.
    offset: u64,
    written: Vec<zip::Written>,
    central_len: u64,
    /// The block being sent, made once and kept until it has gone (a socket that fills up
    /// asks for it again).
    block: Vec<u8>,
    made: bool,
    /// tar.gz: the CRC and length of the tar bytes so far.
    gz_crc: Crc,
    gz_started: bool,
    /// tar.gz: the trailer has been made (what follows is the end).
    gz_finished: bool,
    /// The archive's length, where known before the first byte.
    len: Option<u64>,
    /// Held while the archive is being made (a bound on how many are made at once).
    _permit: Option<Box<dyn Send>>,
}

impl ArchiveStream {
    /// A stream of `entries` in `format`, opening files with `open`. `permit` is held until
    /// the stream is dropped.
    pub fn new(
        format: Format,
        entries: Vec<Entry>,
        open: Opener,
        permit: Option<Box<dyn Send>>,
    ) -> ArchiveStream {
        ArchiveStream {
            len: length(format, &entries),
            format,
            entries,
            open,
            step: Step::Header(0),
            current: None,
            offset: 0,
            written: Vec::new(),
            central_len: 0,
            block: Vec::new(),
            made: false,
            gz_crc: Crc::new(),
            gz_started: false,
            gz_finished: false,
            _permit: permit,
        }
    }

    /// Makes the next block of the archive proper (before tar.gz's gzip) into `out`; empty at
    /// the end.
    fn next_raw(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        while out.is_empty() {
            match self.step {
                Step::Header(i) => self.header(i, out)?,
                Step::Data { index, at } => self.data(index, at, out)?,
                Step::After(i) => self.after(i, out)?,
                Step::Central(i) => self.central(i, out),
                Step::End => {
                    self.end(out);
                    self.step = Step::Done;
                }
                Step::Done => return Ok(()),
            }
        }
        self.offset += out.len() as u64;
        Ok(())
    }

    fn header(&mut self, index: usize, out: &mut Vec<u8>) -> io::Result<()> {
        let Some(entry) = self.entries.get(index) else {
            self.step = if self.format == Format::Zip {
                Step::Central(0)
            } else {
                Step::End
            };
            return Ok(());
        };
        let mut open = None;
        if !entry.is_dir {
            let file = (self.open)(&entry.name)?;
            let meta = file.metadata()?;
            if meta.len() != entry.size {
                return Err(changed(&entry.name));
            }
            open = Some(Open {
                file,
                size: entry.size,
                mtime: (meta.mtime(), meta.mtime_nsec()),
                crc: Crc::new(),
                compressed: 0,
                method: zip::STORED,
                zip64: false,
                offset: self.offset,
            });
        }
        match self.format {
            Format::Tar | Format::TarGz => {
                out.extend_from_slice(&tar::header(
                    &entry.name,
                    entry.size,
                    entry.mtime,
                    entry.is_dir,
                ));
            }
            Format::Zip => {
                let zip64 = zip::needs_zip64(entry.size, self.offset);
                let method = match &open {
                    Some(o) if !entry.stored && worth_deflating(&o.file, o.size)? => zip::DEFLATED,
                    _ => zip::STORED,
                };
                if let Some(o) = &mut open {
                    o.method = method;
                    o.zip64 = zip64;
                }
                out.extend_from_slice(&zip::local_header(&entry.name, method, entry.mtime, zip64));
                if entry.is_dir {
                    self.written.push(zip::Written {
                        name: entry.name.clone(),
                        is_dir: true,
                        method,
                        mtime: entry.mtime,
                        crc: 0,
                        compressed: 0,
                        size: 0,
                        offset: self.offset,
                        zip64,
                    });
                }
            }
        }
        self.current = open;
        self.step = if entry.is_dir {
            match self.format {
                // A zip folder needs its descriptor too (its header said one follows).
                Format::Zip => Step::After(index),
                _ => Step::Header(index + 1),
            }
        } else {
            Step::Data { index, at: 0 }
        };
        Ok(())
    }

    fn data(&mut self, index: usize, at: u64, out: &mut Vec<u8>) -> io::Result<()> {
        let Some(open) = self.current.as_mut() else {
            self.step = Step::After(index);
            return Ok(());
        };
        let want = usize::try_from(open.size - at).unwrap_or(CHUNK).min(CHUNK);
        if want == 0 {
            if open.method == zip::DEFLATED {
                out.extend_from_slice(&encoding::FINAL_EMPTY_BLOCK);
                open.compressed += encoding::FINAL_EMPTY_BLOCK.len() as u64;
            }
            self.step = Step::After(index);
            return Ok(());
        }
        let mut buf = vec![0; want];
        let n = read_full_at(&open.file, &mut buf, at)?;
        if n < want {
            let name = self
                .entries
                .get(index)
                .map(|e| e.name.clone())
                .unwrap_or_default();
            return Err(changed(&name));
        }
        open.crc.update(&buf);
        if open.method == zip::DEFLATED {
            let before = out.len();
            encoding::deflate_block(&buf, out)?;
            open.compressed += (out.len() - before) as u64;
        } else {
            out.extend_from_slice(&buf);
            open.compressed += n as u64;
        }
        self.step = Step::Data {
            index,
            at: at + n as u64,
        };
        Ok(())
    }

    fn after(&mut self, index: usize, out: &mut Vec<u8>) -> io::Result<()> {
        let entry = self.entries.get(index);
        let name = entry.map(|e| e.name.clone()).unwrap_or_default();
        if let Some(open) = self.current.take() {
            // Read whole: was it the same file all along?
            let meta = open.file.metadata()?;
            if meta.len() != open.size || (meta.mtime(), meta.mtime_nsec()) != open.mtime {
                return Err(changed(&name));
            }
            match self.format {
                Format::Tar | Format::TarGz => {
                    let pad = tar::padded(open.size) - open.size;
                    out.resize(pad as usize, 0);
                }
                Format::Zip => {
                    let w = zip::Written {
                        name,
                        is_dir: false,
                        method: open.method,
                        mtime: entry.map_or(0, |e| e.mtime),
                        crc: open.crc.sum(),
                        compressed: open.compressed,
                        size: open.size,
                        offset: open.offset,
                        zip64: open.zip64,
                    };
                    out.extend_from_slice(&zip::descriptor(&w));
                    self.written.push(w);
                }
            }
        } else if let (Format::Zip, Some(w)) = (self.format, self.written.last()) {
            out.extend_from_slice(&zip::descriptor(w));
        }
        self.step = Step::Header(index + 1);
        // Tar padding may be nothing: the loop in `next_raw` goes on to the next header.
        Ok(())
    }

    fn central(&mut self, index: usize, out: &mut Vec<u8>) {
        let mut i = index;
        while let Some(w) = self.written.get(i) {
            let record = zip::central_record(w);
            self.central_len += record.len() as u64;
            out.extend_from_slice(&record);
            i += 1;
            if out.len() >= CHUNK {
                break;
            }
        }
        self.step = if i >= self.written.len() {
            Step::End
        } else {
            Step::Central(i)
        };
    }

    fn end(&mut self, out: &mut Vec<u8>) {
        match self.format {
            Format::Tar | Format::TarGz => out.extend_from_slice(&tar::END),
            Format::Zip => {
                let start = self.offset - self.central_len;
                out.extend_from_slice(&zip::end_records(
                    self.written.len(),
                    start,
                    self.central_len,
                ));
            }
        }
    }
}

impl BlockStream for ArchiveStream {
    fn block(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        if !self.made {
            let mut raw = Vec::new();
            if self.format != Format::TarGz {
                self.next_raw(&mut raw)?;
                self.block = raw;
            } else if !self.gz_finished {
                self.block.clear();
                if !self.gz_started {
                    self.block.extend_from_slice(&encoding::GZIP_HEADER);
                    self.gz_started = true;
                }
                self.next_raw(&mut raw)?;
                if raw.is_empty() {
                    self.block.extend_from_slice(&encoding::FINAL_EMPTY_BLOCK);
                    self.block
                        .extend_from_slice(&self.gz_crc.sum().to_le_bytes());
                    // ISIZE: the length modulo 2^32 (RFC 1952), as `amount` counts it.
                    self.block
                        .extend_from_slice(&self.gz_crc.amount().to_le_bytes());
                    self.gz_finished = true;
                } else {
                    self.gz_crc.update(&raw);
                    encoding::deflate_block(&raw, &mut self.block)?;
                }
            } else {
                self.block.clear();
            }
            self.made = true;
        }
        out.clear();
        out.extend_from_slice(&self.block);
        Ok(())
    }

    fn advance(&mut self) {
        self.made = false;
    }

    fn known_len(&self) -> Option<u64> {
        self.len
    }
}

/// Whether a file's first bytes shrink enough under deflate to deflate it all.
fn worth_deflating(file: &File, size: u64) -> io::Result<bool> {
    if size < MIN_DEFLATE_BYTES {
        return Ok(false);
    }
    let mut probe = vec![0; (size as usize).min(16 * 1024)];
    let n = read_full_at(file, &mut probe, 0)?;
    let probe = probe.get(..n).unwrap_or_default();
    let mut packed = Vec::new();
    encoding::deflate_block(probe, &mut packed)?;
    Ok(packed.len().saturating_mul(100) <= probe.len().saturating_mul(MAX_PROBE_PERCENT))
}

fn changed(name: &[u8]) -> io::Error {
    io::Error::other(format!(
        "{} changed while the archive was made",
        String::from_utf8_lossy(name)
    ))
}

#[cfg(test)]
mod tests;
