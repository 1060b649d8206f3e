#!/usr/bin/env python3
"""Independent checks of the server's folder archives (standard library only).

Used by tests/archive/run.sh:

  check.py zip ARCHIVE SRC TOP        zipfile: testzip() is None, the names are exactly the
                                      expected ones, every file's bytes equal SRC's
  check.py tar ARCHIVE SRC TOP        tarfile (plain or gzipped): the same
  check.py listed LISTING SRC TOP     every expected name is on a line of LISTING (the output
                                      of `bsdtar -tvf`), and no dot file is
  check.py zipsize ARCHIVE NAME SIZE  zipfile: member NAME has file_size SIZE
  check.py zipcount ARCHIVE N         zipfile: len(namelist()) == N, testzip() is None
  check.py listsize LISTING NAME SIZE a line of LISTING (`bsdtar -tvf`) names NAME with SIZE
  check.py mkmany DIR N               makes N empty files in DIR

The expected names are what a listing shows: SRC's files and folders, depth first, without dot
files, each under TOP/ (folders with a trailing '/').
"""

import os
import sys
import tarfile
import zipfile


def expected(src, top):
    """{archive name: path on disk or None for a folder}, folders ending in '/'."""
    names = {top + "/": None}
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        rel = os.path.relpath(dirpath, src)
        prefix = top + "/" if rel == "." else top + "/" + rel.replace(os.sep, "/") + "/"
        for d in dirnames:
            names[prefix + d + "/"] = None
        for f in filenames:
            if not f.startswith("."):
                names[prefix + f] = os.path.join(dirpath, f)
    return names


def read(path):
    with open(path, "rb") as f:
        return f.read()


def compare_names(got, want):
    errors = []
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    if missing:
        errors.append(f"{len(missing)} missing, e.g. {missing[:5]!r}")
    if extra:
        errors.append(f"{len(extra)} unexpected, e.g. {extra[:5]!r}")
    return errors


def check_zip(archive, src, top):
    want = expected(src, top)
    errors = []
    with zipfile.ZipFile(archive) as z:
        bad = z.testzip()
        if bad is not None:
            errors.append(f"testzip: first bad member {bad!r}")
        infos = z.infolist()
        names = [i.filename for i in infos]
        if len(names) != len(set(names)):
            errors.append("duplicate names")
        errors += compare_names(names, want)
        for info in infos:
            path = want.get(info.filename)
            if info.filename in want and (path is None) != info.is_dir():
                errors.append(f"{info.filename!r}: folder/file mismatch")
                continue
            if path is None:
                continue
            data = z.read(info)
            disk = read(path)
            if data != disk:
                errors.append(f"{info.filename!r}: {len(data)} bytes differ from the file's {len(disk)}")
            if info.file_size != len(disk):
                errors.append(f"{info.filename!r}: file_size {info.file_size} != {len(disk)}")
    return errors, f"{len(names)} members, bytes equal"


def check_tar(archive, src, top):
    want = expected(src, top)
    errors = []
    with tarfile.open(archive, "r:*") as t:
        members = t.getmembers()
        # tarfile drops a folder's trailing '/'.
        names = [m.name + "/" if m.isdir() else m.name for m in members]
        if len(names) != len(set(names)):
            errors.append("duplicate names")
        errors += compare_names(names, want)
        for m, name in zip(members, names):
            if name not in want:
                continue
            path = want[name]
            if path is None:
                if not m.isdir():
                    errors.append(f"{name!r}: not a folder")
                continue
            if not m.isfile():
                errors.append(f"{name!r}: not a regular file (type {m.type!r})")
                continue
            data = t.extractfile(m).read()
            disk = read(path)
            if data != disk:
                errors.append(f"{name!r}: {len(data)} bytes differ from the file's {len(disk)}")
    return errors, f"{len(names)} members, bytes equal"


def check_listed(listing, src, top):
    want = expected(src, top)
    with open(listing, encoding="utf-8", errors="surrogateescape") as f:
        lines = [l.rstrip("\n") for l in f]
    # `bsdtar -tvf` ends each line with the name (a folder's with or without its '/').
    errors = []
    missing = []
    for name in want:
        bare = name.rstrip("/")
        if not any(l.endswith(" " + bare) or l.endswith(" " + bare + "/") for l in lines):
            missing.append(name)
    if missing:
        errors.append(f"{len(missing)} names not listed, e.g. {missing[:5]!r}")
    dots = [l for l in lines if "/." in l]
    if dots:
        errors.append(f"dot files listed: {dots[:5]!r}")
    if len(lines) != len(want):
        errors.append(f"{len(lines)} lines listed, {len(want)} expected")
    return errors, f"{len(lines)} entries listed, all expected names"


def check_zipsize(archive, name, size):
    with zipfile.ZipFile(archive) as z:
        info = z.getinfo(name)
        if info.file_size != int(size):
            return [f"{name!r}: file_size {info.file_size}, expected {size}"], ""
        return [], f"{name!r} file_size {info.file_size} (compressed {info.compress_size})"


def check_zipcount(archive, n):
    with zipfile.ZipFile(archive) as z:
        names = z.namelist()
        errors = []
        if len(names) != int(n):
            errors.append(f"{len(names)} members, expected {n}")
        bad = z.testzip()
        if bad is not None:
            errors.append(f"testzip: first bad member {bad!r}")
        return errors, f"len(namelist()) == {len(names)}, testzip() is None"


def check_listsize(listing, name, size):
    with open(listing, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            fields = line.split()
            if line.rstrip("\n").endswith(" " + name) and size in fields:
                return [], line.strip()
    return [f"no line names {name!r} with size {size}"], ""


def mkmany(d, n):
    os.makedirs(d, exist_ok=True)
    for i in range(int(n)):
        open(os.path.join(d, f"f{i:06d}"), "wb").close()
    return [], f"{n} empty files in {d}"


COMMANDS = {
    "zip": check_zip,
    "tar": check_tar,
    "listed": check_listed,
    "zipsize": check_zipsize,
    "zipcount": check_zipcount,
    "listsize": check_listsize,
    "mkmany": mkmany,
}


def main():
    cmd, *args = sys.argv[1:]
    try:
        errors, summary = COMMANDS[cmd](*args)
    except Exception as e:  # a reader that refuses the archive is a failure, with its reason
        errors, summary = [f"{type(e).__name__}: {e}"], ""
    for e in errors:
        print(e)
    if not errors:
        print(summary)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
