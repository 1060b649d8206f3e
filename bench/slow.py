#!/usr/bin/env python3
"""Slow clients against this server and nginx in one run (issue 18: no worker waits on the
network). Run it through bench/run.sh (SCENARIOS=slow), which builds, installs and raises the
open-file limit; or directly after that: python3 bench/slow.py.

Two parts, each with a fresh server per run (so its peak RSS, VmHWM, is the run's own):

transfers: N downloads of a 100 MiB file and N uploads (PUT, Content-Length 100 000 000), each
  paced at 100 KB/s by bench/slow_transfers.py (one process, non-blocking sockets), for
  SLOW_SECS. After RAMP_SECS, two oha runs at a fixed rate with --latency-correction probe
  /echo/x and /files/1k (PROBE_RATE req/s each, for PROBE_SECS, -t PROBE_TIMEOUT): p50, p99,
  the slowest, and how many failed or timed out. The server's VmRSS is sampled every 0.25 s.
slowhttptest: `slowhttptest -X` (slow read of /files/100m) and `-B` (slow PUT body to
  /files/x), SHT_CONNS connections for SHT_SECS each, while a probe opens a connection and asks
  for /echo/x once a second (each waits up to 10 s): how many were answered within 1 s, and the
  slowest.

The server is pinned to CPU 0; everything else (this script, the clients, oha, slowhttptest)
to CPU 1. Traffic goes to 127.0.0.1 only; every run is bounded in time and closes its sockets.

Environment: N (comma list, default "100,1000"), OLD_N (N for OLD_BIN, default N), OLD_BIN
(the build before the change, measured as "old"), OURS_BIN, SERVERS (comma list of ours, old,
nginx; default all that are available), PARTS (transfers,slowread,slowbody; default all),
SLOW_SECS (30), RAMP_SECS (4), PROBE_SECS (20), PROBE_RATE (100), PROBE_TIMEOUT (5),
SHT_CONNS (1000), SHT_SECS (30), OUT (write the tables there too), THREADS_OURS (a --threads
for ours).
"""
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (servers, nginx's configuration, RSS)
from peers import status_kib  # noqa: E402  (one /proc/PID/status field over processes)

env = os.environ.get
NS = [int(x) for x in env("N", "100,1000").split(",")]
OLD_NS = [int(x) for x in env("OLD_N", env("N", "100,1000")).split(",")]
PARTS = env("PARTS", "transfers,slowread,slowbody").split(",")
SLOW_SECS = float(env("SLOW_SECS", "30"))
RAMP_SECS = float(env("RAMP_SECS", "4"))
PROBE_SECS = int(env("PROBE_SECS", "20"))
PROBE_RATE = int(env("PROBE_RATE", "100"))
PROBE_TIMEOUT = int(env("PROBE_TIMEOUT", "5"))
SHT_CONNS = int(env("SHT_CONNS", "1000"))
SHT_SECS = int(env("SHT_SECS", "30"))
HERE = os.path.dirname(os.path.abspath(__file__))


class RssSampler(threading.Thread):
    """The server's VmRSS every 0.25 s (summed over nginx's workers); keeps the largest."""

    def __init__(self, server):
        super().__init__(daemon=True)
        self.server, self.peak, self.halt = server, 0, threading.Event()

    def run(self):
        while not self.halt.wait(0.25):
            self.peak = max(self.peak, status_kib(self.server.pids(), "VmRSS"))


def oha_probe(port, path):
    cmd = ["oha", "-z", f"{PROBE_SECS}s", "-q", str(PROBE_RATE), "-c", "20", "-t", f"{PROBE_TIMEOUT}s",
           "--latency-correction", "--no-tui", "--output-format", "json",
           f"http://127.0.0.1:{port}{path}"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def oha_result(proc):
    out, err = proc.communicate(timeout=PROBE_SECS + PROBE_TIMEOUT + 30)
    d = json.loads(out)
    p = d["latencyPercentiles"]
    codes = d.get("statusCodeDistribution", {})
    errs = d.get("errorDistribution", {})
    # Requests still in flight when -z ends are cut off ("aborted due to deadline"): not failures.
    failed = sum(v for k, v in errs.items() if "deadline" not in k)
    ok = codes.get("200", 0)
    ms = lambda v: v * 1e3 if v is not None else float("nan")
    # A server that stops answering leaves its requests in flight until -t or the deadline: count
    # against what the fixed rate should have sent, not only what oha saw fail.
    return {"p50": ms(p.get("p50")), "p99": ms(p.get("p99")), "max": ms(d["summary"].get("slowest")),
            "ok": ok, "expected": PROBE_RATE * PROBE_SECS,
            "failed": failed + sum(v for k, v in codes.items() if k != "200"), "errors": errs}


def transfers(server, n):
    load = os.getloadavg()[0]
    server.start()
    rss = RssSampler(server)
    rss.start()
    try:
        clients = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "slow_transfers.py"), "127.0.0.1", str(server.port),
             str(n), str(n), str(SLOW_SECS)], stdout=subprocess.PIPE, text=True)
        time.sleep(RAMP_SECS)
        probes = [oha_probe(server.port, "/echo/x"), oha_probe(server.port, "/files/1k")]
        echo, file = (oha_result(p) for p in probes)
        # Upload bytes the server took (kernel buffers alone can hold seconds of a slow body):
        # what sits in its temporary files just before the clients close.
        time.sleep(max(0.0, SLOW_SECS - RAMP_SECS - PROBE_SECS - 1.5))
        on_disk = disk_bytes(server)
        out, _ = clients.communicate(timeout=SLOW_SECS + 30)
        slow = json.loads(out)
    finally:
        rss.halt.set()
        hwm = status_kib(server.pids(), "VmHWM")
        server.stop()
    return {"echo": echo, "file": file, "slow": slow, "rss_peak_kib": rss.peak, "hwm_kib": hwm,
            "upload_mib_on_disk": round(on_disk / (1 << 20), 1), "load": load}


def disk_bytes(server):
    """Bytes in the files the uploads write to: ours in the data folder (temporary names),
    nginx in its client_body_temp_path; the fixtures are left out."""
    data = server.argv[server.argv.index("--directory") + 1] if "--directory" in server.argv else None
    roots = [data] if data else [os.path.join(server.argv[server.argv.index("-p") + 1], "body")]
    total = 0
    for root in roots:
        for d, _, files in os.walk(root):
            for f in files:
                if d == root and f in ("1k", "1m", "100m"):
                    continue
                try:
                    total += os.stat(os.path.join(d, f)).st_size
                except OSError:
                    pass
    return total


def probe_once(port, results, t):
    start = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(f"GET /echo/x HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        ok = data.startswith(b"HTTP/1.1 200") and data.endswith(b"x")
        results.append((t, time.monotonic() - start if ok else None))
    except OSError:
        results.append((t, None))


SHT_CONNECTED = re.compile(r"connected:\s+(\d+)")
SHT_AVAILABLE = re.compile(r"service available:\s+(\w+)")


def slowhttptest(server, mode):
    url = f"http://127.0.0.1:{server.port}"
    common = ["slowhttptest", "-c", str(SHT_CONNS), "-r", "500", "-l", str(SHT_SECS), "-p", "3"]
    if mode == "slowread":
        # Read 32 bytes a second through a 512..1024-byte window.
        cmd = common + ["-X", "-w", "512", "-y", "1024", "-n", "1", "-z", "32", "-k", "1",
                        "-u", f"{url}/files/100m"]
    else:
        # 10 bytes of body every 2 s out of a declared 100 MB (the body timeouts are 10 s ours,
        # 60 s nginx's, both reset by progress).
        cmd = common + ["-B", "-i", "2", "-x", "10", "-s", "100000000", "-t", "PUT",
                        "-u", f"{url}/files/x"]
    load = os.getloadavg()[0]
    server.start()
    rss = RssSampler(server)
    rss.start()
    probes, threads = [], []
    try:
        sht = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        t0 = time.monotonic()
        # Probes start once slowhttptest has had 3 s to open its connections (at 500 a second).
        time.sleep(3)
        for i in range(SHT_SECS - 3):
            th = threading.Thread(target=probe_once, args=(server.port, probes, i), daemon=True)
            th.start()
            threads.append(th)
            time.sleep(max(0.0, t0 + 3 + i + 1 - time.monotonic()))
        out, _ = sht.communicate(timeout=SHT_SECS + 60)
        out = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", out)
        for th in threads:
            th.join(timeout=12)
    finally:
        rss.halt.set()
        hwm = status_kib(server.pids(), "VmHWM")
        server.stop()
    times = [t for _, t in probes]
    answered = [t for t in times if t is not None]
    return {
        "probes": len(times),
        "within_1s": sum(1 for t in answered if t <= 1.0),
        "answered": len(answered),
        "worst_s": max(answered) if answered else None,
        # When the slowest answer came: seconds after slowhttptest started.
        "worst_at_s": max(((t, i) for i, t in probes if t is not None), default=(0, -3))[1] + 3,
        "sht_connected_max": max((int(x) for x in SHT_CONNECTED.findall(out)), default=0),
        "sht_unavailable_s": sum(1 for x in SHT_AVAILABLE.findall(out) if x == "NO"),
        "rss_peak_kib": rss.peak, "hwm_kib": hwm, "load": load,
    }


def main():
    os.sched_setaffinity(0, {int(bench.CLIENT_CPU)})
    tmp = tempfile.mkdtemp(prefix="http-slow-")
    data, conf = bench.prepare(tmp)
    binary = env("OURS_BIN") or os.path.join(bench.ROOT, "target", "release", "http-server")
    extra = ["--threads", env("THREADS_OURS")] if env("THREADS_OURS") else []
    servers = [bench.ours_server("ours", binary, bench.OURS_PORT, data, extra)]
    if env("OLD_BIN"):
        servers.append(bench.ours_server("old", env("OLD_BIN"), bench.OLD_PORT, data))
    servers.append(bench.nginx_server(tmp, conf))
    if env("SERVERS"):
        servers = [s for s in servers if s.name in env("SERVERS").split(",")]
    results = []
    try:
        if "transfers" in PARTS:
            for i in range(max(len(NS), len(OLD_NS))):
                for s in servers:
                    ns = OLD_NS if s.name == "old" else NS
                    if i >= len(ns):
                        continue
                    r = transfers(s, ns[i])
                    results.append(("transfers", s.name, ns[i], r))
                    print(f"transfers N={ns[i]} {s.name}: {json.dumps(r)}", file=sys.stderr, flush=True)
        for part in ("slowread", "slowbody"):
            if part in PARTS:
                for s in servers:
                    r = slowhttptest(s, part)
                    results.append((part, s.name, SHT_CONNS, r))
                    print(f"{part} {s.name}: {json.dumps(r)}", file=sys.stderr, flush=True)
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(render(results))


def num(v, f="{:.2f}"):
    return "-" if v != v else f.format(v)  # NaN: nothing was answered


def render(results):
    lines = [f"Machine: {os.cpu_count()} cores; server on CPU {bench.SERVER_CPU}, clients on CPU "
             f"{bench.CLIENT_CPU}. Transfers {SLOW_SECS:.0f} s, probes {PROBE_RATE} req/s each for "
             f"{PROBE_SECS} s (oha -t {PROBE_TIMEOUT}s, latency-corrected)."]
    tr = [r for r in results if r[0] == "transfers"]
    if tr:
        lines += ["", "| N down + N up | server | /echo/x p50 / p99 / max ms | answered of scheduled (failed) | "
                  "/files/1k p50 / p99 / max ms | answered of scheduled (failed) | p99 vs nginx (echo, 1k) | "
                  "downloads: open at the end, median KB/s | uploads: open at the end, median KB/s | "
                  "upload MiB on the server's disk near the end | peak RSS MiB (sampled / VmHWM) | load avg at start |",
                  "|---" * 12 + "|"]
        ref = {n: r for _, name, n, r in tr if name == "nginx"}
        for _, name, n, r in tr:
            e, f, sl = r["echo"], r["file"], r["slow"]
            g = ref.get(n)
            vs = (f"{e['p99'] / g['echo']['p99']:.2f}x, {f['p99'] / g['file']['p99']:.2f}x"
                  if g and name != "nginx" else "")
            d, u = sl.get("down", {}), sl.get("up", {})
            lines.append(
                f"| {n} + {n} | {name} | {num(e['p50'])} / {num(e['p99'])} / {num(e['max'], '{:.0f}')} | "
                f"{e['ok']} of {e['expected']} ({e['failed']}) | "
                f"{num(f['p50'])} / {num(f['p99'])} / {num(f['max'], '{:.0f}')} | "
                f"{f['ok']} of {f['expected']} ({f['failed']}) | {vs} | {d.get('open_to_the_end')}/{n}, "
                f"{d.get('kb_s_median')} | {u.get('open_to_the_end')}/{n}, {u.get('kb_s_median')} | "
                f"{r['upload_mib_on_disk']} | {r['rss_peak_kib'] / 1024:.1f} / {r['hwm_kib'] / 1024:.1f} | "
                f"{r['load']:.1f} |")
    sh = [r for r in results if r[0] != "transfers"]
    if sh:
        lines += ["", f"| slowhttptest, {SHT_CONNS} connections, {SHT_SECS} s | server | "
                  "probes answered within 1 s | answered at all | slowest probe s (sent at second) | "
                  "slowhttptest: most connected, seconds 'unavailable' | peak RSS MiB (sampled / VmHWM) | "
                  "load avg at start |", "|---" * 8 + "|"]
        for part, name, _, r in sh:
            worst = f"{r['worst_s']:.3f} ({r['worst_at_s']})" if r["worst_s"] is not None else "-"
            label = "-X slow read /files/100m" if part == "slowread" else "-B slow PUT body"
            lines.append(
                f"| {label} | {name} | {r['within_1s']} of {r['probes']} | {r['answered']} | {worst} | "
                f"{r['sht_connected_max']}, {r['sht_unavailable_s']} | "
                f"{r['rss_peak_kib'] / 1024:.1f} / {r['hwm_kib'] / 1024:.1f} | {r['load']:.1f} |")
    table = "\n".join(lines)
    if env("OUT"):
        with open(env("OUT"), "w") as f:
            f.write(table + "\n")
    return table


if __name__ == "__main__":
    main()
