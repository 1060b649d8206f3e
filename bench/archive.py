#!/usr/bin/env python3
"""Folder downloads as one archive (issue 17): ours against dufs and miniserve, side by side.
  usage: python3 bench/archive.py          (after `cargo build --release`)
     or: SCENARIOS=archive bench/run.sh    (builds first)

A 1 GiB folder of mixed files, DATA/mixed, is made once from SEED and kept (DATA/mixed.manifest
says what it holds; a folder that does not match is made again): large random files
(incompressible), many small text-like files (compressible: deflate at level 1 leaves about 35%), a few
hundred small random files, in a few subfolders, about 2 400 files in all (56% random bytes). Each server serves
DATA and sends DATA/mixed as zip and as tar.gz:

  ours       GET /files/mixed/?download=zip | ?download=tar.gz   (--quiet)
  dufs       GET /mixed?zip (dufs has no tar)                     (--allow-archive, no log)
  miniserve  GET /mixed/?download=zip | ?download=tar_gz          (--enable-zip --enable-tar-gz)

Each download gets a freshly started server (pinned to CPU 0), so its VmHWM is the download's
own: idle RSS (VmRSS before the request), peak RSS (the larger of VmHWM and VmRSS sampled every
20 ms during the download), the server's CPU seconds. The client is curl on CPU 1, discarding
the body: MB/s = bytes received / wall time (10^6 bytes), and the folder's 1 GiB / wall time
(what a user waits for: a server that compresses less sends more bytes in less time per byte).
Rounds alternate the servers (the order rotates every round), so load from other work on the
machine falls on all of them alike; the 1-minute load average is recorded with every download.

Before the rounds, each archive is downloaded once to a file and checked (VERIFY=0 skips):
`unzip -tq` (every CRC) or `tar -tvzf` (gzip's CRC), and its files counted and summed against
the folder.

Environment: DATA (default /work/peers/data), SEED (17), ROUNDS (3), SERVERS (ours,dufs,miniserve),
FORMATS (zip,tar.gz), VERIFY (1), MAX_LOAD (wait before each round, up to WAIT_SECS (120), for
the 1-minute load to fall below it; default 1.5), PEERS_BIN (/work/peers/bin), OURS_BIN, OUT
(write the tables there too), CHECK_SECS (1200, the longest a checked download may take),
CAP_SECS (120: a timed download still going then is cut, and counted as bytes received over
the time; its folder MB/s is estimated from the share of the checked archive it got),
CHECKS (which to check, e.g. "miniserve tar.gz,ours zip"; default all).
Traffic goes to 127.0.0.1 only; every server is ours to start and is stopped by its PID.
"""
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402

env = os.environ.get
DATA = env("DATA", "/work/peers/data")
SEED = int(env("SEED", "17"))
ROUNDS = int(env("ROUNDS", "3"))
SERVERS = env("SERVERS", "ours,dufs,miniserve").split(",")
FORMATS = env("FORMATS", "zip,tar.gz").split(",")
VERIFY = env("VERIFY", "1") != "0"
MAX_LOAD = float(env("MAX_LOAD", "1.5"))
WAIT_SECS = float(env("WAIT_SECS", "120"))
CHECK_SECS = env("CHECK_SECS", "1200")
CAP_SECS = float(env("CAP_SECS", "120"))
CHECKS = env("CHECKS")
TOTAL = 1 << 30
# Changes when make_mixed makes something else from the same seed.
LAYOUT = 2
MIB = 1 << 20

# (server, format) -> path under the server's root
PATHS = {
    ("ours", "zip"): "/mixed/?download=zip",
    ("ours", "tar.gz"): "/mixed/?download=tar.gz",
    ("dufs", "zip"): "/mixed?zip",
    ("miniserve", "zip"): "/mixed/?download=zip",
    ("miniserve", "tar.gz"): "/mixed/?download=tar_gz",
}


def make_mixed(folder):
    """The 1 GiB folder: 6 random files of 16-192 MiB in big/, 200 random files of 4-512 KiB in
    media/, then text files of 100 B-2 MiB (log-uniform, so most are small) spread over docs/,
    src/core/, src/util/ and logs/ until the total is exactly 1 GiB. Every name, size and byte
    comes from SEED; every modification time is 2026-01-01."""
    import math
    import random

    rng = random.Random(SEED)
    corpus = peers.text_corpus(SEED)
    files = []  # (relative path, size, kind)
    for i, mib in enumerate([192, 128, 96, 64, 32, 16]):
        files.append((f"big/blob-{i}.bin", mib * MIB, "random"))
    for i in range(200):
        files.append((f"media/img-{i:03d}.jpg", rng.randint(4096, MIB // 2), "random"))
    left = TOTAL - sum(f[1] for f in files)
    dirs = ["docs", "src/core", "src/util", "logs"]
    i = 0
    while left > 0:
        size = min(left, int(math.exp(rng.uniform(math.log(100), math.log(2 * MIB)))))
        if left - size < 100:
            size = left
        d = dirs[i % len(dirs)]
        ext = {"docs": "md", "src/core": "rs", "src/util": "rs", "logs": "log"}[d]
        files.append((f"{d}/f{i:05d}.{ext}", size, "text"))
        left -= size
        i += 1
    stamp = 1767225600  # 2026-01-01T00:00:00Z
    for rel, size, kind in files:
        path = os.path.join(folder, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            if kind == "random":
                n = size
                while n:
                    k = min(n, 16 * MIB)
                    f.write(rng.randbytes(k))
                    n -= k
            else:
                start = rng.randrange(0, len(corpus) - size)
                f.write(corpus[start:start + size])
        os.utime(path, (stamp, stamp))
    return {"layout": LAYOUT, "seed": SEED, "files": len(files), "bytes": TOTAL,
            "random_bytes": sum(f[1] for f in files if f[2] == "random"),
            "text_files": sum(1 for f in files if f[2] == "text")}


def ensure_data():
    folder = os.path.join(DATA, "mixed")
    manifest = os.path.join(DATA, "mixed.manifest")
    try:
        with open(manifest) as f:
            m = json.load(f)
        n, size = 0, 0
        for dirpath, _, names in os.walk(folder):
            for name in names:
                n += 1
                size += os.path.getsize(os.path.join(dirpath, name))
        if m.get("layout") == LAYOUT and m["seed"] == SEED and m["files"] == n and m["bytes"] == size:
            return m
    except (OSError, ValueError, KeyError):
        pass
    subprocess.run(["rm", "-rf", folder, manifest, CHECKS_FILE], check=True)
    print(f"making {folder} (1 GiB, seed {SEED})", file=sys.stderr)
    m = make_mixed(folder)
    with open(manifest, "w") as f:
        json.dump(m, f)
    return m


def make_server(name):
    if name == "ours":
        return peers.ours(DATA)
    if name == "dufs":
        return peers.dufs(DATA, "--allow-archive", "--log-format=")
    if name == "miniserve":
        return peers.miniserve(DATA, "--enable-zip", "--enable-tar-gz")
    raise SystemExit(f"unknown server {name}")


def curl(url, out="/dev/null", max_secs=CAP_SECS):
    cmd = ["taskset", "-c", peers.CLIENT_CPU, "curl", "-s", "--max-time", str(max_secs), "-o", out,
           "-w", "%{http_code} %{size_download} %{time_total}", url]
    code, size, secs = subprocess.run(cmd, capture_output=True, text=True).stdout.split()
    return int(code), int(size), float(secs)


def download(server, path):
    load = peers.load()
    server.start()
    try:
        pids = server.pids()
        idle = peers.status_kib(pids, "VmRSS")
        cpu0 = peers.cpu_seconds(pids)
        sampler = peers.RssSampler(server)
        sampler.start()
        code, size, secs = curl(server.url(path))
        sampled = sampler.stop()
        pids = server.pids()
        peak = max(sampled, peers.status_kib(pids, "VmHWM"))
        cpu = peers.cpu_seconds(pids) - cpu0
    finally:
        server.stop()
    # Cut at CAP_SECS: the share of the whole archive (its checked size) that came.
    cut = secs >= CAP_SECS - 0.5
    whole = ARCHIVE_BYTES.get((server.name, path)) if cut else size
    return {"code": code, "bytes": size, "secs": secs, "mb_s": size / secs / 1e6, "cut": cut,
            "folder_mb_s": TOTAL * size / whole / secs / 1e6 if whole else float("nan"), "idle_kib": idle, "peak_kib": peak, "cpu": cpu,
            "load": load}


# (server, path) -> bytes of the whole archive, from its check (kept in DATA/mixed.checks, so
# that a run with CHECKS leaving one out still knows it).
ARCHIVE_BYTES = {}
CHECKS_FILE = os.path.join(DATA, "mixed.checks")


def saved_checks():
    try:
        with open(CHECKS_FILE) as f:
            return {tuple(k.split(" ", 1)): v for k, v in json.load(f).items()}
    except (OSError, ValueError):
        return {}


def save_check(name, fmt, ok, text, size):
    checks = {f"{n} {f}": v for (n, f), v in saved_checks().items()}
    checks[f"{name} {fmt}"] = {"ok": ok, "text": text, "bytes": size,
                               "when": time.strftime("%Y-%m-%d %H:%M")}
    with open(CHECKS_FILE, "w") as f:
        json.dump(checks, f, indent=1)


def verify(server, fmt, path, manifest):
    """Downloads the archive to a file and reads it back: (ok, what was found)."""
    tmp = tempfile.mkdtemp(prefix="archive-check-", dir="/var/tmp")
    saved = os.path.join(tmp, "a." + fmt)
    server.start()
    try:
        code, size, _ = curl(server.url(path), saved, CHECK_SECS)
    finally:
        server.stop()
    try:
        if code != 200:
            return False, f"status {code}"
        ARCHIVE_BYTES[(server.name, path)] = size
        if fmt == "zip":
            t = subprocess.run(["unzip", "-tq", saved], capture_output=True, text=True)
            ok_tool = t.returncode == 0
            try:
                with zipfile.ZipFile(saved) as z:
                    infos = [i for i in z.infolist() if not i.is_dir()]
                    n, total = len(infos), sum(i.file_size for i in infos)
                    deflated = sum(1 for i in infos if i.compress_type == zipfile.ZIP_DEFLATED)
                how = f"{deflated} of {n} deflated"
            except (zipfile.BadZipFile, OSError) as e:
                n, total, how = 0, 0, f"zipfile: {e}"
            tool = "unzip -tq: " + ("no errors" if ok_tool else t.stdout.strip()[-200:])
        else:
            t = subprocess.run(["tar", "-tzf", saved], capture_output=True, text=True)
            ok_tool = t.returncode == 0
            tool = "tar -tzf: " + ("no errors" if ok_tool else t.stderr.strip()[-200:])
            n, total = 0, 0
            try:
                with tarfile.open(saved, "r:gz") as tf:
                    for member in tf:
                        if member.isfile():
                            n += 1
                            total += member.size
            except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
                tool += f"; tarfile: {e}"
            how = "gzip"
        ok = ok_tool and n == manifest["files"] and total == manifest["bytes"]
        return ok, (f"{'ok' if ok else 'FAILED'}: {n} files, {total} bytes "
                    f"(folder: {manifest['files']}, {manifest['bytes']}); {how}; {tool}; "
                    f"archive {size / MIB:.1f} MiB")
    finally:
        subprocess.run(["rm", "-rf", tmp])


def med(values, f="{:.0f}"):
    if f == "{:.0f}" and statistics.median(values) < 10:
        f = "{:.2f}"
    return f"{f.format(statistics.median(values))} ({f.format(min(values))}..{f.format(max(values))})"


def ratio(mine, theirs, key):
    rs = [a[key] / b[key] for a, b in zip(mine, theirs)]
    return f"{statistics.median(rs):.2f}x ({min(rs):.2f}..{max(rs):.2f})"


def main():
    os.sched_setaffinity(0, {int(peers.CLIENT_CPU)})
    manifest = ensure_data()
    names = [s for s in SERVERS if s == "ours" or peers.peer_bin(s)]
    for s in SERVERS:
        if s not in names:
            print(f"{s} is not installed (PEERS_BIN={peers.PEERS_BIN}): left out", file=sys.stderr)
    servers = {n: make_server(n) for n in names}
    cases = [(n, f) for f in FORMATS for n in names if (n, f) in PATHS]
    start_uptime = peers.uptime()
    checks = {}
    for (n, f), v in saved_checks().items():
        if (n, f) in PATHS:
            ARCHIVE_BYTES[(n, PATHS[(n, f)])] = v["bytes"]
            checks[(n, f)] = (v["ok"], v["text"] + f" (checked {v['when']})")
    if VERIFY:
        for n, f in cases:
            if CHECKS and f"{n} {f}" not in CHECKS.split(","):
                continue
            checks[(n, f)] = verify(servers[n], f, PATHS[(n, f)], manifest)
            save_check(n, f, *checks[(n, f)], ARCHIVE_BYTES.get((n, PATHS[(n, f)]), 0))
            print(f"check {n} {f}: {checks[(n, f)][1]}", file=sys.stderr)
    results = {c: [] for c in cases}
    loads = []
    try:
        for r in range(ROUNDS):
            loads.append(peers.wait_for_quiet(MAX_LOAD, WAIT_SECS))
            for f in FORMATS:
                order = names[r % len(names):] + names[:r % len(names)]
                for n in order:
                    if (n, f) not in PATHS:
                        continue
                    res = download(servers[n], PATHS[(n, f)])
                    results[(n, f)].append(res)
                    print(f"round {r + 1}/{ROUNDS} {f} {n}: status {res['code']}, "
                          f"{res['bytes'] / MIB:.0f} MiB in {res['secs']:.2f} s "
                          f"({res['mb_s']:.0f} MB/s), RSS {res['idle_kib'] / 1024:.1f} -> "
                          f"{res['peak_kib'] / 1024:.1f} MiB, CPU {res['cpu']:.1f} s, "
                          f"load {res['load']:.2f}", file=sys.stderr)
    finally:
        for s in servers.values():
            s.stop()

    cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
                         capture_output=True, text=True).stdout.strip()
    lines = [f"Machine: {os.cpu_count()} cores ({cpu}), shared with other sessions; servers on CPU "
             f"{peers.SERVER_CPU}, curl on CPU {peers.CLIENT_CPU}; {ROUNDS} rounds. Folder: "
             f"{manifest['files']} files, {manifest['bytes']} bytes ({manifest['random_bytes'] / MIB:.0f} "
             f"MiB random, {manifest['text_files']} text files), seed {manifest['seed']}.",
             f"At the start: `{start_uptime}`. 1-minute load at each round's start: "
             + ", ".join(f"{x:.2f}" for x in loads) + "; at the end "
             f"{peers.load():.2f}.", ""]
    if checks:
        lines += ["| archive | server | check |", "|---|---|---|"]
        lines += [f"| {f} | {n} | {checks[(n, f)][1]} |" for n, f in cases if (n, f) in checks]
        lines.append("")
    lines += ["| archive | server | status | MiB sent | MB/s sent | folder MB/s (1 GiB / time) | "
              "seconds | ours / this (MB/s sent) | ours / this (folder MB/s) | server CPU s | idle RSS MiB | peak RSS MiB | "
              "peak - idle MiB | load |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for n, f in cases:
        o = results[(n, f)]
        if not o:
            continue
        mine = results.get(("ours", f))
        rel = ratio(mine, o, "folder_mb_s") if mine and n != "ours" else "-"
        rel_sent = ratio(mine, o, "mb_s") if mine and n != "ours" else "-"
        lines.append(
            f"| {f} | {n} | {','.join(sorted({str(x['code']) for x in o}))}"
            f"{f', cut at {CAP_SECS:.0f} s' if any(x['cut'] for x in o) else ''} | "
            f"{statistics.median(x['bytes'] for x in o) / MIB:.0f} | {med([x['mb_s'] for x in o])} | "
            f"{med([x['folder_mb_s'] for x in o])} | {med([x['secs'] for x in o], '{:.2f}')} | {rel_sent} | {rel} | "
            f"{med([x['cpu'] for x in o], '{:.1f}')} | {med([x['idle_kib'] / 1024 for x in o], '{:.1f}')} | "
            f"{med([x['peak_kib'] / 1024 for x in o], '{:.1f}')} | "
            f"{med([(x['peak_kib'] - x['idle_kib']) / 1024 for x in o], '{:.1f}')} | "
            f"{med([x['load'] for x in o], '{:.2f}')} |")
    table = "\n".join(lines)
    print(table)
    if env("OUT"):
        with open(env("OUT"), "w") as fh:
            fh.write(table + "\n")
    if any(not ok for ok, _ in checks.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
