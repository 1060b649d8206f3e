//! Content types by file extension: a table of the common web, text, image, audio, video, font,
//! archive and document types, with `charset=utf-8` on text types, and whether a format is
//! compressed already (so gzip would only cost time). An unknown or missing extension is
//! `application/octet-stream`, as the CodeCrafters stage requires.
//!
//! Out of scope: sniffing content (never: `X-Content-Type-Options: nosniff` goes with every
//! file), and whether to gzip (`files.rs`).

/// The type of anything not in the table.
pub const DEFAULT_TYPE: &str = "application/octet-stream";

/// One row: extension (lowercase), `Content-Type` value, and whether it is compressed already.
type Row = (&'static str, &'static str, bool);

/// Sorted by extension, so that a lookup is a binary search (checked by a test).
const TYPES: &[Row] = &[
    ("7z", "application/x-7z-compressed", true),
    ("aac", "audio/aac", true),
    ("apk", "application/vnd.android.package-archive", true),
    ("avi", "video/x-msvideo", true),
    ("avif", "image/avif", true),
    ("bmp", "image/bmp", false),
    ("br", "application/octet-stream", true),
    ("bz2", "application/x-bzip2", true),
    ("c", "text/plain; charset=utf-8", false),
    ("cjs", "text/javascript; charset=utf-8", false),
    ("conf", "text/plain; charset=utf-8", false),
    ("cpp", "text/plain; charset=utf-8", false),
    ("css", "text/css; charset=utf-8", false),
    ("csv", "text/csv; charset=utf-8", false),
    ("deb", "application/vnd.debian.binary-package", true),
    ("doc", "application/msword", false),
    (
        "docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        true,
    ),
    ("epub", "application/epub+zip", true),
    ("flac", "audio/flac", true),
    ("gif", "image/gif", true),
    ("go", "text/plain; charset=utf-8", false),
    ("gz", "application/gzip", true),
    ("h", "text/plain; charset=utf-8", false),
    ("heic", "image/heic", true),
    ("htm", "text/html; charset=utf-8", false),
    ("html", "text/html; charset=utf-8", false),
    ("ico", "image/vnd.microsoft.icon", false),
    ("ics", "text/calendar; charset=utf-8", false),
    ("ini", "text/plain; charset=utf-8", false),
    ("jar", "application/java-archive", true),
    ("java", "text/plain; charset=utf-8", false),
    ("jpeg", "image/jpeg", true),
    ("jpg", "image/jpeg", true),
    ("js", "text/javascript; charset=utf-8", false),
    ("json", "application/json", false),
    ("jsonld", "application/ld+json", false),
    ("log", "text/plain; charset=utf-8", false),
    ("lz4", "application/octet-stream", true),
    ("m4a", "audio/mp4", true),
    ("m4v", "video/mp4", true),
    ("md", "text/markdown; charset=utf-8", false),
    ("mid", "audio/midi", false),
    ("mjs", "text/javascript; charset=utf-8", false),
    ("mkv", "video/x-matroska", true),
    ("mov", "video/quicktime", true),
    ("mp3", "audio/mpeg", true),
    ("mp4", "video/mp4", true),
    ("mpeg", "video/mpeg", true),
    (
        "odp",
        "application/vnd.oasis.opendocument.presentation",
        true,
    ),
    (
        "ods",
        "application/vnd.oasis.opendocument.spreadsheet",
        true,
    ),
    ("odt", "application/vnd.oasis.opendocument.text", true),
    ("oga", "audio/ogg", true),
    ("ogg", "audio/ogg", true),
    ("ogv", "video/ogg", true),
    ("opus", "audio/opus", true),
    ("otf", "font/otf", false),
    ("pdf", "application/pdf", true),
    ("png", "image/png", true),
    ("ppt", "application/vnd.ms-powerpoint", false),
    (
        "pptx",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        true,
    ),
    ("py", "text/plain; charset=utf-8", false),
    ("rar", "application/vnd.rar", true),
    ("rs", "text/plain; charset=utf-8", false),
    ("rtf", "application/rtf", false),
    ("sh", "text/plain; charset=utf-8", false),
    ("svg", "image/svg+xml", false),
    ("tar", "application/x-tar", false),
    ("tgz", "application/gzip", true),
    ("tif", "image/tiff", false),
    ("tiff", "image/tiff", false),
    ("toml", "text/plain; charset=utf-8", false),
    ("ts", "text/plain; charset=utf-8", false),
    ("tsv", "text/tab-separated-values; charset=utf-8", false),
    ("ttf", "font/ttf", false),
    ("txt", "text/plain; charset=utf-8", false),
    ("vtt", "text/vtt; charset=utf-8", false),
    ("wasm", "application/wasm", false),
    ("wav", "audio/wav", false),
    ("weba", "audio/webm", true),
    ("webm", "video/webm", true),
    ("webmanifest", "application/manifest+json", false),
    ("webp", "image/webp", true),
    ("woff", "font/woff", true),
    ("woff2", "font/woff2", true),
    ("xhtml", "application/xhtml+xml", false),
    ("xls", "application/vnd.ms-excel", false),
    (
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        true,
    ),
    ("xml", "application/xml", false),
    ("xz", "application/x-xz", true),
    ("yaml", "text/plain; charset=utf-8", false),
    ("yml", "text/plain; charset=utf-8", false),
    ("zip", "application/zip", true),
    ("zst", "application/zstd", true),
];

/// Longest extension in the table: longer ones are not looked up (no allocation for them).
const MAX_EXTENSION_BYTES: usize = 16;

/// What the table says about a file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileType {
    /// The `Content-Type` value.
    pub content_type: &'static str,
    /// The format is compressed already.
    pub is_compressed: bool,
}

/// The type of a file by the extension of its name (case-insensitive). A name without a dot,
/// or with one only at the start (`.bashrc`), has no extension.
pub fn file_type(name: &[u8]) -> FileType {
    let unknown = FileType {
        content_type: DEFAULT_TYPE,
        is_compressed: false,
    };
    let Some(dot) = name.iter().rposition(|&b| b == b'.').filter(|&i| i > 0) else {
        return unknown;
    };
    let ext = name.get(dot + 1..).unwrap_or_default();
    if ext.is_empty() || ext.len() > MAX_EXTENSION_BYTES {
        return unknown;
    }
    let mut lower = [0u8; MAX_EXTENSION_BYTES];
    let Some(slot) = lower.get_mut(..ext.len()) else {
        return unknown;
    };
    slot.copy_from_slice(ext);
    slot.make_ascii_lowercase();
    let ext: &[u8] = slot;
    match TYPES.binary_search_by(|(e, _, _)| e.as_bytes().cmp(ext)) {
        Ok(i) => TYPES
            .get(i)
            .map_or(unknown, |&(_, content_type, is_compressed)| FileType {
                content_type,
                is_compressed,
            }),
        Err(_) => unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_lowercase_and_unique() {
        for pair in TYPES.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{} before {}", pair[0].0, pair[1].0);
        }
        for (ext, ty, _) in TYPES {
            assert_eq!(ext.to_ascii_lowercase(), *ext);
            assert!(ext.len() <= MAX_EXTENSION_BYTES);
            // Every text type says its charset.
            assert_eq!(
                ty.starts_with("text/"),
                ty.ends_with("; charset=utf-8"),
                "{ty}"
            );
        }
    }

    #[test]
    fn looks_up_types_by_extension() {
        let cases: &[(&[u8], &str, bool)] = &[
            (b"index.html", "text/html; charset=utf-8", false),
            (b"INDEX.HTM", "text/html; charset=utf-8", false),
            (b"notes.txt", "text/plain; charset=utf-8", false),
            (b"photo.JPG", "image/jpeg", true),
            (b"a.tar.gz", "application/gzip", true),
            (b"drawing.svg", "image/svg+xml", false),
            (b"app.js", "text/javascript; charset=utf-8", false),
            (b"data.json", "application/json", false),
            (b"font.woff2", "font/woff2", true),
            (b"clip.mp4", "video/mp4", true),
            (b"song.mp3", "audio/mpeg", true),
            (b"doc.pdf", "application/pdf", true),
            (b"foo", DEFAULT_TYPE, false),
            (b".bashrc", DEFAULT_TYPE, false),
            (b"trailing.", DEFAULT_TYPE, false),
            (b"x.unknownext", DEFAULT_TYPE, false),
            (b"x.waytoolongextensionname", DEFAULT_TYPE, false),
            (b"gz", DEFAULT_TYPE, false),
            (b"bad\xff.txt", "text/plain; charset=utf-8", false),
        ];
        for (name, ty, packed) in cases {
            let got = file_type(name);
            assert_eq!(got.content_type, *ty, "{}", String::from_utf8_lossy(name));
            assert_eq!(
                got.is_compressed,
                *packed,
                "{}",
                String::from_utf8_lossy(name)
            );
        }
    }
}
