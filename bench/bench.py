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
default all, throughput and latency names alike), LATENCY_DURATION (seconds of each oha run,
default DURATION), OUT (a file to write the table to as well),
OURS_BIN (a binary to measure instead of this checkout's release build),
OLD_BIN (another build, say the commit before a change, measured as a third server "old" in the
same alternation), THREADS (comma list: this build again with --threads N, as "ours tN"),
IDLE_SECS (default 10, the idle-connections probe), FAIRNESS=0 (skip the fairness probes).

Every server runs in every round; the order rotates from round to round. Each row gives the
median (min..max) over rounds, and the ratio to nginx as the median of the per-round ratios
(min..max of those ratios).
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
OURS_PORT, NGINX_PORT, OLD_PORT = 18080, 18081, 18082
ROUNDS = int(os.environ.get("ROUNDS", "3"))
DURATION = int(os.environ.get("DURATION", "5"))
LATENCY_DURATION = int(os.environ.get("LATENCY_DURATION", str(DURATION)))
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
        location /files/big/ {{ alias {data}/big/; autoindex on; }}
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
    # A folder of 1000 files as a browser asks for it: our page, nginx's autoindex.
    "listing 1000 (HTML)": (["-t1", "-c50", "-H", "Accept: text/html"], "/files/big/", None),
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
        import socket

        # Another server on our port (another checkout's benchmark, say) would answer in our
        # place: refuse to start rather than measure it.
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
            raise SystemExit(f"port {self.port} is already in use: not starting {self.name}")
        except OSError:
            pass
        self.proc = subprocess.Popen(
            ["taskset", "-c", SERVER_CPU] + self.argv,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(self.port)
        time.sleep(0.2)
        if self.proc.poll() is not None:
            raise SystemExit(f"{self.name} exited with status {self.proc.returncode}")

    def pids(self):
        return self.worker_pids(self.proc.pid)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT if self.name == "nginx" else signal.SIGTERM)
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
    cmd = ["taskset", "-c", CLIENT_CPU, "oha", "-z", f"{LATENCY_DURATION}s", "-q", str(rate), "-c", str(conns),
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


def prepare(tmp, nginx_port=NGINX_PORT):
    """Writes the test files (1k, 1m, 100m) and nginx's configuration under tmp; returns the
    data folder and the configuration's path."""
    data = os.path.join(tmp, "data")
    os.makedirs(data)
    # nginx's worker runs as an unprivileged user: it must read the files and write uploads.
    os.chmod(tmp, 0o755)
    os.chmod(data, 0o777)
    for name, size in [("1k", 1024), ("1m", 1 << 20), ("100m", 100 << 20)]:
        with open(os.path.join(data, name), "wb") as f:
            f.write(os.urandom(size))
        os.chmod(os.path.join(data, name), 0o644)
    big = os.path.join(data, "big")
    os.makedirs(big)
    os.chmod(big, 0o755)
    for i in range(1000):
        path = os.path.join(big, f"file-{i:04d}.txt")
        with open(path, "wb") as f:
            f.write(b"x" * (i % 5000))
        os.chmod(path, 0o644)
    for d in ["body", "proxy", "fastcgi", "uwsgi", "scgi"]:
        os.makedirs(os.path.join(tmp, d))
        os.chmod(os.path.join(tmp, d), 0o777)
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(tmp=tmp, port=nginx_port, data=data))
    return data, conf


def ours_server(name, binary, port, data, extra=()):
    return Server(name, port, [binary, "--port", str(port), "--directory", data, "--quiet", *extra],
                  lambda pid: [pid])


def nginx_server(tmp, conf, port=NGINX_PORT):
    return Server("nginx", port, [shutil.which("nginx") or "/usr/sbin/nginx", "-c", conf, "-p", tmp,
                                  "-g", "daemon off; master_process on;"], nginx_workers)


def servers_from_env(tmp, data, conf):
    """ours (OURS_BIN or this checkout's release build), ours tN for each of THREADS, old
    (OLD_BIN), and nginx last (the reference of every ratio)."""
    binary = os.environ.get("OURS_BIN") or os.path.join(ROOT, "target", "release", "http-server")
    servers = [ours_server("ours", binary, OURS_PORT, data)]
    for i, t in enumerate(x for x in os.environ.get("THREADS", "").split(",") if x):
        servers.append(ours_server(f"ours t{t}", binary, 18083 + i, data, ["--threads", t]))
    if os.environ.get("OLD_BIN"):
        servers.append(ours_server("old", os.environ["OLD_BIN"], OLD_PORT, data))
    servers.append(nginx_server(tmp, conf))
    return servers


def ratio_cell(mine, ref, key):
    rs = [a[key] / b[key] for a, b in zip(mine, ref) if b[key]]
    return f"{statistics.median(rs):.2f}x ({min(rs):.2f}..{max(rs):.2f})" if rs else "-"


def main():
    wanted = os.environ.get("SCENARIOS")
    names = [n for n in SCENARIOS if not wanted or n in wanted.split(",")]
    lat_names = [n for n in LATENCY if not wanted or n in wanted.split(",")]
    tmp = tempfile.mkdtemp(prefix="http-bench-")
    data, conf = prepare(tmp)
    servers = servers_from_env(tmp, data, conf)
    results = {n: {s.name: [] for s in servers} for n in names}
    lat = {n: {s.name: [] for s in servers} for n in lat_names}
    fair = {}
    load_before = os.getloadavg()[0]
    try:
        for s in servers:
            s.start()
        for r in range(ROUNDS):
            order = servers[r % len(servers):] + servers[:r % len(servers)]
            for name in names:
                args, path, lua = SCENARIOS[name]
                for s in order:
                    results[name][s.name].append(wrk(s, args, path, lua, tmp))
                print(f"round {r + 1}/{ROUNDS} {name}: " + ", ".join(
                    f"{s.name} {results[name][s.name][-1]['rate']:.0f}" for s in servers) + " req/s",
                    file=sys.stderr)
            for name in lat_names:
                rate, conns, path = LATENCY[name]
                for s in order:
                    lat[name][s.name].append(oha(s, rate, conns, path))
                print(f"round {r + 1}/{ROUNDS} {name}: p50/p99 ms " + ", ".join(
                    f"{s.name} {lat[name][s.name][-1]['p50']:.3f}/{lat[name][s.name][-1]['p99']:.3f}"
                    for s in servers), file=sys.stderr)
        if os.environ.get("FAIRNESS", "1") != "0":
            fair = {s.name: [fairness(s, 50), fairness(s, 1000, idle=IDLE_SECS)] for s in servers}
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    ref = "nginx"
    load_after = os.getloadavg()[0]
    lines = []
    cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
                         capture_output=True, text=True).stdout.strip()
    lines.append(f"Machine: {os.cpu_count()} cores ({cpu}); {ROUNDS} rounds of {DURATION}s; "
                 f"servers on CPU {SERVER_CPU}, wrk and oha on CPU {CLIENT_CPU}; load average "
                 f"{load_before:.1f} before, {load_after:.1f} after (other work on the machine shows here).")
    if names:
        lines.append("")
        lines.append("| scenario | server | req/s | vs nginx | req/CPU-s | vs nginx | p99 ms | p99 vs nginx | MiB/s | errors | peak RSS MiB |")
        lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
        for name in names:
            g = results[name][ref]
            for s in servers:
                o = results[name][s.name]
                lines.append(
                    f"| {name} | {s.name} | {fmt_range([x['rate'] for x in o])} | {ratio_cell(o, g, 'rate')} | "
                    f"{fmt_range([x['per_cpu_s'] for x in o])} | {ratio_cell(o, g, 'per_cpu_s')} | "
                    f"{fmt_range([x['p99_ms'] for x in o], '{:.2f}')} | {ratio_cell(o, g, 'p99_ms')} | "
                    f"{statistics.median(x['mib_s'] for x in o):.0f} | "
                    f"{sum(x['errors'] + x['non2xx'] for x in o)} | "
                    f"{max(x['rss_kib'] for x in o) / 1024:.1f} |")
    if lat_names:
        lines.append("")
        lines.append("| fixed rate (oha, latency-corrected) | server | p50 ms | p99 ms | p99.9 ms | p50 vs nginx | p99 vs nginx | achieved req/s | errors |")
        lines.append("|---|---|---|---|---|---|---|---|---|")
        for name in lat_names:
            g = lat[name][ref]
            for s in servers:
                o = lat[name][s.name]
                lines.append(
                    f"| {name} | {s.name} | {fmt_range([x['p50'] for x in o], '{:.3f}')} | "
                    f"{fmt_range([x['p99'] for x in o], '{:.3f}')} | "
                    f"{statistics.median(x['p999'] for x in o):.2f} | {ratio_cell(o, g, 'p50')} | "
                    f"{ratio_cell(o, g, 'p99')} | {statistics.median(x['rate'] for x in o):.0f} | "
                    f"{sum(x['errors'] for x in o)} |")
    if fair:
        lines.append("")
        lines.append("| fairness probe | " + " | ".join(s.name for s in servers) + " |")
        lines.append("|---" * (len(servers) + 1) + "|")
        for i, label in enumerate(["50 connections", "1000 connections"]):
            lines.append(f"| {label}: answered, slowest first answer | " + " | ".join(
                f"{fair[s.name][i].get('answered')}/{fair[s.name][i].get('connections')}, "
                f"{fair[s.name][i].get('slowest_first_answer_s')} s" for s in servers) + " |")
        lines.append(f"| 1000 idle keep-alive connections for {IDLE_SECS} s: server CPU | " + " | ".join(
            f"{fair[s.name][1].get('server_cpu_s')} s" for s in servers) + " |")
    table = "\n".join(lines)
    print(table)
    if os.environ.get("OUT"):
        with open(os.environ["OUT"], "w") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()
