use super::*;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;

struct Tree {
    dir: PathBuf,
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const LONG: &str =
    "a-folder-with-a-rather-long-name-so-that-the-whole-path-passes-what-ustar-holds";

/// A folder with text (compresses), random bytes (does not), an empty file, a photo by name, a
/// folder, a long path and non-ASCII names; and the plan of it.
fn tree(tag: &str) -> (Tree, Vec<Entry>) {
    let dir = std::env::temp_dir().join(format!("archive-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join(LONG).join("and-deeper")).unwrap();
    let mut random = Vec::with_capacity(200_000);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while random.len() < 200_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        random.extend_from_slice(&x.to_le_bytes());
    }
    let files: Vec<(String, Vec<u8>)> = vec![
        (
            "notes.txt".into(),
            "hello archive\n".repeat(10_000).into_bytes(),
        ),
        ("random.bin".into(), random),
        ("empty".into(), Vec::new()),
        ("photo.jpg".into(), b"not really a jpeg".repeat(100)),
        (
            "日本語 ファイル.txt".into(),
            "名前\n".repeat(500).into_bytes(),
        ),
        (
            format!("{LONG}/and-deeper/{}.txt", "n".repeat(90)),
            b"deep".to_vec(),
        ),
    ];
    let mut entries = vec![
        Entry {
            name: format!("{LONG}/").into_bytes(),
            is_dir: true,
            size: 0,
            mtime: 1_700_000_000,
            stored: true,
        },
        Entry {
            name: format!("{LONG}/and-deeper/").into_bytes(),
            is_dir: true,
            size: 0,
            mtime: 1_700_000_000,
            stored: true,
        },
    ];
    for (name, body) in files {
        std::fs::write(dir.join(&name), &body).unwrap();
        entries.push(Entry {
            stored: name.ends_with(".jpg") || body.len() < 1024,
            name: name.into_bytes(),
            is_dir: false,
            size: body.len() as u64,
            mtime: 1_700_000_000,
        });
    }
    (Tree { dir }, entries)
}

fn opener(dir: &Path) -> Opener {
    let dir = dir.to_path_buf();
    Box::new(move |name: &[u8]| File::open(dir.join(String::from_utf8_lossy(name).as_ref())))
}

/// The whole archive, asking for each block twice (as a send that found the socket full
/// does): the same bytes both times.
fn make(format: Format, tree: &Tree, entries: &[Entry]) -> io::Result<Vec<u8>> {
    let mut s = ArchiveStream::new(format, entries.to_vec(), opener(&tree.dir), None);
    let mut all = Vec::new();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    loop {
        s.block(&mut a)?;
        s.block(&mut b)?;
        assert_eq!(a, b, "a block made again is the same");
        if a.is_empty() {
            return Ok(all);
        }
        all.extend_from_slice(&a);
        s.advance();
    }
}

/// Runs Python's own reader over the archive: it lists every member with its bytes' SHA-256,
/// which must be the files'.
fn python_check(format: Format, archive: &[u8], tree: &Tree, entries: &[Entry]) {
    let path = tree.dir.with_extension(format.extension());
    std::fs::write(&path, archive).unwrap();
    let script = r#"
import hashlib, sys, tarfile, zipfile
path, kind = sys.argv[1], sys.argv[2]
if kind == "zip":
    z = zipfile.ZipFile(path)
    assert z.testzip() is None
    for i in z.infolist():
        print(i.filename, hashlib.sha256(z.read(i)).hexdigest() if not i.is_dir() else "dir")
else:
    t = tarfile.open(path, "r:gz" if kind == "tar.gz" else "r:")
    for m in t.getmembers():
        print(m.name + ("/" if m.isdir() else ""), hashlib.sha256(t.extractfile(m).read()).hexdigest() if m.isfile() else "dir")
"#;
    let out = Command::new("python3")
        .args(["-c", script, path.to_str().unwrap(), format.extension()])
        .output();
    let _ = std::fs::remove_file(&path);
    let Ok(out) = out else {
        eprintln!("skipped: no python3");
        return;
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = String::from_utf8(out.stdout).unwrap();
    let mut want = String::new();
    for e in entries {
        let name = String::from_utf8_lossy(&e.name);
        if e.is_dir {
            want.push_str(&format!("{name} dir\n"));
        } else {
            let body = std::fs::read(tree.dir.join(name.as_ref())).unwrap();
            want.push_str(&format!("{name} {}\n", sha256_hex(&body)));
        }
    }
    assert_eq!(listed, want);
}

fn sha256_hex(data: &[u8]) -> String {
    crate::access::crypto::sha256::sha256(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn tar_reads_back_whole_and_has_the_length_it_said() {
    let (tree, entries) = tree("tar");
    let archive = make(Format::Tar, &tree, &entries).unwrap();
    assert_eq!(length(Format::Tar, &entries), Some(archive.len() as u64));
    python_check(Format::Tar, &archive, &tree, &entries);
}

#[test]
fn tar_gz_reads_back_whole() {
    let (tree, entries) = tree("tgz");
    let archive = make(Format::TarGz, &tree, &entries).unwrap();
    assert_eq!(length(Format::TarGz, &entries), None);
    python_check(Format::TarGz, &archive, &tree, &entries);
}

#[test]
fn zip_reads_back_whole_and_unzip_finds_nothing_wrong() {
    let (tree, entries) = tree("zip");
    let archive = make(Format::Zip, &tree, &entries).unwrap();
    assert_eq!(
        length(Format::Zip, &entries),
        None,
        "some entries are deflated"
    );
    python_check(Format::Zip, &archive, &tree, &entries);
    // Text deflates, random bytes are stored.
    assert!(archive.len() < 200_000 + 100_000, "{}", archive.len());
    let path = tree.dir.with_extension("unzip.zip");
    std::fs::write(&path, &archive).unwrap();
    let out = Command::new("unzip").arg("-t").arg(&path).output();
    let _ = std::fs::remove_file(&path);
    match out {
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "{text}");
            assert!(text.contains("No errors detected"), "{text}");
        }
        Err(_) => eprintln!("skipped: no unzip"),
    }
}

#[test]
fn a_zip_of_stored_entries_has_the_length_it_said() {
    let (tree, mut entries) = tree("zip-stored");
    for e in &mut entries {
        e.stored = true;
    }
    let archive = make(Format::Zip, &tree, &entries).unwrap();
    assert_eq!(length(Format::Zip, &entries), Some(archive.len() as u64));
    python_check(Format::Zip, &archive, &tree, &entries);
}

#[test]
fn a_file_that_changes_breaks_the_download() {
    for format in [Format::Zip, Format::Tar, Format::TarGz] {
        let (tree, entries) = tree("changed");
        // Another size than planned: refused when it is opened.
        std::fs::write(tree.dir.join("notes.txt"), b"shorter").unwrap();
        let e = make(format, &tree, &entries).unwrap_err();
        assert!(e.to_string().contains("notes.txt changed"), "{e}");
    }
}

#[test]
fn past_65_535_entries_a_zip_has_zip64_end_records() {
    let (tree, _) = tree("zip64");
    let entries: Vec<Entry> = (0..70_000)
        .map(|i| Entry {
            name: format!("d{i}/").into_bytes(),
            is_dir: true,
            size: 0,
            mtime: 1_700_000_000,
            stored: true,
        })
        .collect();
    let archive = make(Format::Zip, &tree, &entries).unwrap();
    assert_eq!(length(Format::Zip, &entries), Some(archive.len() as u64));
    let zip64_end = 0x0606_4b50u32.to_le_bytes();
    assert!(archive.windows(4).any(|w| w == zip64_end));
    let path = tree.dir.with_extension("many.zip");
    std::fs::write(&path, &archive).unwrap();
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); print(len(z.infolist()))",
            path.to_str().unwrap(),
        ])
        .output();
    let _ = std::fs::remove_file(&path);
    match out {
        Ok(out) => assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "70000"),
        Err(_) => eprintln!("skipped: no python3"),
    }
}

#[test]
fn a_file_changed_while_it_is_read_breaks_the_download() {
    let (tree, entries) = tree("changing");
    let mut s = ArchiveStream::new(Format::Tar, entries.clone(), opener(&tree.dir), None);
    let mut block = Vec::new();
    let mut failed = None;
    for _ in 0..1000 {
        match s.block(&mut block) {
            Err(e) => {
                failed = Some(e);
                break;
            }
            Ok(()) if block.is_empty() => break,
            Ok(()) => {}
        }
        // Once the big random file is being read, it is rewritten (same size, new time).
        if matches!(s.step, Step::Data { index, at } if at > 0 && entries[index].name == b"random.bin")
        {
            let path = tree.dir.join("random.bin");
            let body = std::fs::read(&path).unwrap();
            let f = std::fs::File::options().write(true).open(&path).unwrap();
            f.write_all_at(&body[..10], 0).unwrap();
            f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1))
                .unwrap();
        }
        s.advance();
    }
    let e = failed.expect("the archive went on with a changed file");
    assert!(e.to_string().contains("random.bin changed"), "{e}");
}
