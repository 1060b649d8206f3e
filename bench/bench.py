#!/usr/bin/env python3
"""Side-by-side benchmark of this server and nginx on loopback. Run it through bench/run.sh,
which builds the release binary and installs wrk and nginx if they are missing.

Both servers are pinned to CPU 0 and wrk to CPU 1. Each scenario runs for both servers in
alternation, ROUNDS times; the table gives medians, min..max, the median of the per-round
ratios ours/nginx, and requests per server CPU-second (wrk saturates near 70k req/s on one core,
so where both servers reach that, CPU per request is the comparison that still means something).

Latency: oha (cargo install oha --locked; bench/run.sh installs it when missing) sends a fixed
rate with --latency-correction (so a stall counts against every request it delays, not only the
one that met it), for each LATENCY scenario; the table gives p50/p99/p99.9 per server (medians
over rounds) and their ratios. wrk's p99 at saturation is in the throughput table.

Environment: ROUNDS (default 3), DURATION seconds per run (default 5), SCENARIOS (comma list,
default all, throughput and latency names alike), OUT (a file to write the table to as well),
OURS_BIN (a binary to measure instead of this checkout's release build),
IDLE_SECS (default 10, the idle-connections probe).
"""
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OURS_PORT, NGINX_PORT = 18080, 18081
ROUNDS = int(os.environ.get("ROUNDS", "3"))
DURATION = int(os.environ.get("DURATION", "5"))
SERVER_CPU, CLIENT_CPU = "0", "1"

NGINX_CONF = """
worker_processes 1;
worker_rlimit_nofile 65536;
error_log {tmp}/nginx-error.log error;
pid {tmp}/nginx.pid;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    sendfile on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    keepalive_timeout 15s;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    gzip on;
    gzip_comp_level 1;
    gzip_min_length 1;
    gzip_types text/plain application/octet-stream;
    server {{
        listen 127.0.0.1:{port};
        default_type text/plain;
        location ~ ^/echo/(.*)$ {{ return 200 $1; }}
        location = / {{ return 200; }}
        location /files/ {{
            alias {data}/;
            default_type application/octet-stream;
            dav_methods PUT;
            create_full_put_path off;
            client_max_body_size 0;
        }}
    }}
}}
"""

ECHO_1K = "a" * 1024

# name -> (wrk arguments after the URL's server part, path, lua body or None)
SCENARIOS = {
    "echo keep-alive": (["-t1", "-c50"], "/echo/abc", None),
    "echo Connection: close": (["-t1", "-c50", "-H", "Connection: close"], "/echo/abc", None),
    "echo 1 KiB gzip": (["-t1", "-c50", "-H", "Accept-Encoding: gzip"], "/echo/" + ECHO_1K, None),
    "file 1 KiB": (["-t1", "-c50"], "/files/1k", None),
    "file 1 MiB": (["-t1", "-c50"], "/files/1m", None),
    "download 100 MiB (1 client)": (["-t1", "-c1"], "/files/100m", None),
    "upload 1 MiB (PUT)": (["-t1", "-c50"], "/files/up", "put"),
    "1000 keep-alive": (["-t1", "-c1000", "--timeout", "2s"], "/echo/abc", None),
}

# name -> (requests per second, connections, path), run with oha at that fixed rate.
LATENCY = {
    f"{path_name} {rate // 1000}k/s c{conns}": (rate, conns, path)
    for path_name, path in [("echo", "/echo/abc"), ("file 1 KiB", "/files/1k")]
    for rate in (10_000, 30_000)
    for conns in (50, 1000)
}
IDLE_SECS = int(os.environ.get("IDLE_SECS", "10"))


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def cpu_seconds(pids):
    total = 0.0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def peak_rss_kib(pids):
    peak = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
    return peak


def wait_port(port, deadline=10.0):
    import socket

    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on port {port}")


class Server:
    def __init__(self, name, port, argv, worker_pids):
        self.name, self.port, self.argv, self.worker_pids = name, port, argv, worker_pids
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            ["taskset", "-c", SERVER_CPU] + self.argv,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(self.port)
        time.sleep(0.2)

    def pids(self):
        return self.worker_pids(self.proc.pid)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM if self.name == "ours" else signal.SIGQUIT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def nginx_workers(master_pid):
    out = subprocess.run(
        ["ps", "--ppid", str(master_pid), "-o", "pid="], capture_output=True, text=True
    ).stdout
    return [int(p) for p in out.split()] or [master_pid]


WRK_P99 = re.compile(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", re.M)
TIME_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}
WRK_RATE = re.compile(r"Requests/sec:\s+([\d.]+)")
WRK_BYTES = re.compile(r"Transfer/sec:\s+([\d.]+)(\w+)")
WRK_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
WRK_NON2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
UNITS = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}


def wrk(server, args, path, lua, tmp):
    cmd = ["taskset", "-c", CLIENT_CPU, "wrk", f"-d{DURATION}s", "--latency"] + args
    if lua:
        script = os.path.join(tmp, "put.lua")
        with open(script, "w") as f:
            f.write('wrk.method = "PUT"\nwrk.body = string.rep("x", 1048576)\n')
        cmd += ["-s", script]
    cmd.append(f"http://127.0.0.1:{server.port}{path}")
    pids = server.pids()
    cpu0 = cpu_seconds(pids)
    out = run(cmd).stdout
    cpu = cpu_seconds(pids) - cpu0
    rate = float(WRK_RATE.search(out).group(1))
    m = WRK_BYTES.search(out)
    mib_s = float(m.group(1)) * UNITS.get(m.group(2), 1) / (1 << 20) if m else 0.0
    errors = sum(int(x) for x in WRK_ERRORS.search(out).groups()) if WRK_ERRORS.search(out) else 0
    non2xx = int(WRK_NON2XX.search(out).group(1)) if WRK_NON2XX.search(out) else 0
    p99 = WRK_P99.search(out)
    return {
        "p99_ms": float(p99.group(1)) * TIME_UNITS[p99.group(2)] if p99 else float("nan"),
        "rate": rate,
        "mib_s": mib_s,
        "cpu": cpu,
        "per_cpu_s": rate * DURATION / cpu if cpu > 0 else float("inf"),
        "errors": errors,
        "non2xx": non2xx,
        "rss_kib": peak_rss_kib(pids),
    }


def oha(server, rate, conns, path):
    cmd = ["taskset", "-c", CLIENT_CPU, "oha", "-z", f"{DURATION}s", "-q", str(rate), "-c", str(conns),
           "--latency-correction", "--no-tui", "--output-format", "json",
           f"http://127.0.0.1:{server.port}{path}"]
    d = json.loads(run(cmd).stdout)
    p = d["latencyPercentiles"]
    codes = d.get("statusCodeDistribution", {})
    errors = sum(v for k, v in d.get("errorDistribution", {}).items() if "deadline" not in k)
    return {
        "p50": p["p50"] * 1e3, "p99": p["p99"] * 1e3, "p999": p["p99.9"] * 1e3,
        "rate": d["summary"]["requestsPerSec"],
        "errors": errors + sum(v for k, v in codes.items() if k != "200"),
    }


def fairness(server, n, idle=0):
    cmd = ["taskset", "-c", CLIENT_CPU, sys.executable, os.path.join(ROOT, "bench", "fairness.py"),
           "127.0.0.1", str(server.port), str(n)]
    if idle:
        cmd += ["--idle", str(idle), "--pid", ",".join(str(p) for p in server.pids())]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout
    return dict(kv.split("=") for kv in out.split())


def fmt_range(values, f="{:.0f}"):
    return f"{f.format(statistics.median(values))} ({f.format(min(values))}..{f.format(max(values))})"


def main():
    wanted = os.environ.get("SCENARIOS")
    names = [n for n in SCENARIOS if not wanted or n in wanted.split(",")]
    lat_names = [n for n in LATENCY if not wanted or n in wanted.split(",")]
    tmp = tempfile.mkdtemp(prefix="http-bench-")
    data = os.path.join(tmp, "data")
    os.makedirs(data)
    # nginx's worker runs as an unprivileged user: it must read the files and write uploads.
    os.chmod(tmp, 0o755)
    os.chmod(data, 0o777)
    for name, size in [("1k", 1024), ("1m", 1 << 20), ("100m", 100 << 20)]:
        with open(os.path.join(data, name), "wb") as f:
            f.write(os.urandom(size))
    for d in ["body", "proxy", "fastcgi", "uwsgi", "scgi"]:
        os.makedirs(os.path.join(tmp, d))
        os.chmod(os.path.join(tmp, d), 0o777)
    for name in os.listdir(data):
        os.chmod(os.path.join(data, name), 0o644)
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(tmp=tmp, port=NGINX_PORT, data=data))
    # OURS_BIN: another build of ours (an older commit, say) to measure with the same harness.
    binary = os.environ.get("OURS_BIN") or os.path.join(ROOT, "target", "release", "http-server")
    ours = Server("ours", OURS_PORT,
                  [binary, "--port", str(OURS_PORT), "--directory", data, "--quiet"],
                  lambda pid: [pid])
    nginx = Server("nginx", NGINX_PORT,
                   [shutil.which("nginx") or "/usr/sbin/nginx", "-c", conf, "-p", tmp,
                    "-g", "daemon off; master_process on;"],
                   nginx_workers)
    results = {n: {"ours": [], "nginx": []} for n in names}
    lat = {n: {"ours": [], "nginx": []} for n in lat_names}
    try:
        for s in (ours, nginx):
            s.start()
        for r in range(ROUNDS):
            for name in names:
                args, path, lua = SCENARIOS[name]
                order = (ours, nginx) if r % 2 == 0 else (nginx, ours)
                for s in order:
                    results[name][s.name].append(wrk(s, args, path, lua, tmp))
                print(f"round {r + 1}/{ROUNDS} {name}: ours {results[name]['ours'][-1]['rate']:.0f}"
                      f" nginx {results[name]['nginx'][-1]['rate']:.0f} req/s", file=sys.stderr)
            for name in lat_names:
                rate, conns, path = LATENCY[name]
                order = (ours, nginx) if r % 2 == 0 else (nginx, ours)
                for s in order:
                    lat[name][s.name].append(oha(s, rate, conns, path))
                o, g = lat[name]["ours"][-1], lat[name]["nginx"][-1]
                print(f"round {r + 1}/{ROUNDS} {name}: p50/p99 ours {o['p50']:.3f}/{o['p99']:.3f} ms"
                      f" nginx {g['p50']:.3f}/{g['p99']:.3f} ms", file=sys.stderr)
        fair = {s.name: [fairness(s, 50), fairness(s, 1000, idle=IDLE_SECS)] for s in (ours, nginx)}
    finally:
        for s in (ours, nginx):
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    lines = []
    cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
                         capture_output=True, text=True).stdout.strip()
    lines.append(f"Machine: {os.cpu_count()} cores ({cpu}); {ROUNDS} rounds of {DURATION}s; "
                 f"servers on CPU {SERVER_CPU}, wrk on CPU {CLIENT_CPU}.")
    lines.append("")
    lines.append("| scenario | ours req/s | nginx req/s | ratio | ours req/CPU-s | nginx req/CPU-s | ratio | p99 ms ours / nginx (ratio) | MiB/s ours / nginx | errors ours / nginx | peak RSS ours / nginx |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for name in names:
        o, g = results[name]["ours"], results[name]["nginx"]
        ratio = statistics.median(a["rate"] / b["rate"] for a, b in zip(o, g))
        cpu_ratio = statistics.median(a["per_cpu_s"] / b["per_cpu_s"] for a, b in zip(o, g))
        lines.append(
            f"| {name} | {fmt_range([x['rate'] for x in o])} | {fmt_range([x['rate'] for x in g])} | "
            f"{ratio:.2f}x | {fmt_range([x['per_cpu_s'] for x in o])} | {fmt_range([x['per_cpu_s'] for x in g])} | "
            f"{cpu_ratio:.2f}x | {statistics.median(x['p99_ms'] for x in o):.2f} / {statistics.median(x['p99_ms'] for x in g):.2f} "
            f"({statistics.median(a['p99_ms'] / b['p99_ms'] for a, b in zip(o, g)):.2f}x) | "
            f"{statistics.median(x['mib_s'] for x in o):.0f} / {statistics.median(x['mib_s'] for x in g):.0f} | "
            f"{sum(x['errors'] + x['non2xx'] for x in o)} / {sum(x['errors'] + x['non2xx'] for x in g)} | "
            f"{max(x['rss_kib'] for x in o) / 1024:.1f} / {max(x['rss_kib'] for x in g) / 1024:.1f} MiB |"
        )
    if lat_names:
        lines.append("")
        lines.append("| fixed rate (oha, latency-corrected) | ours p50 / p99 / p99.9 ms | nginx p50 / p99 / p99.9 ms | p50 ratio | p99 ratio | achieved req/s ours / nginx | errors ours / nginx |")
        lines.append("|---|---|---|---|---|---|---|")
        for name in lat_names:
            o, g = lat[name]["ours"], lat[name]["nginx"]
            med = lambda xs, k: statistics.median(x[k] for x in xs)
            r50 = statistics.median(a["p50"] / b["p50"] for a, b in zip(o, g))
            r99 = statistics.median(a["p99"] / b["p99"] for a, b in zip(o, g))
            spread = lambda xs, k: f"{min(x[k] for x in xs):.2f}..{max(x[k] for x in xs):.2f}"
            lines.append(
                f"| {name} | {med(o, 'p50'):.3f} / {med(o, 'p99'):.3f} ({spread(o, 'p99')}) / {med(o, 'p999'):.2f} | "
                f"{med(g, 'p50'):.3f} / {med(g, 'p99'):.3f} ({spread(g, 'p99')}) / {med(g, 'p999'):.2f} | "
                f"{r50:.2f}x | {r99:.2f}x | {med(o, 'rate'):.0f} / {med(g, 'rate'):.0f} | "
                f"{sum(x['errors'] for x in o)} / {sum(x['errors'] for x in g)} |")
    lines.append("")
    lines.append("| fairness probe | ours | nginx |")
    lines.append("|---|---|---|")
    for i, label in enumerate(["50 connections", "1000 connections"]):
        o, g = fair["ours"][i], fair["nginx"][i]
        lines.append(f"| {label}: answered, slowest first answer | {o.get('answered')}/{o.get('connections')}, "
                     f"{o.get('slowest_first_answer_s')} s | {g.get('answered')}/{g.get('connections')}, "
                     f"{g.get('slowest_first_answer_s')} s |")
    o, g = fair["ours"][1], fair["nginx"][1]
    lines.append(f"| 1000 idle keep-alive connections for {o.get('idle_secs')} s: server CPU | "
                 f"{o.get('server_cpu_s')} s | {g.get('server_cpu_s')} s |")
    table = "\n".join(lines)
    print(table)
    if os.environ.get("OUT"):
        with open(os.environ["OUT"], "w") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()
