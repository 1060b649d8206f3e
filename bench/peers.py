#!/usr/bin/env python3
"""Shared by bench/archive.py and bench/dav.py: the peer servers (dufs, miniserve, Apache httpd
with mod_dav) beside ours, their memory, the machine's load, and test folders made from a seed.

Nothing here is installed into the repository: the peers come from PEERS_BIN (default
/work/peers/bin, filled by `cargo install dufs miniserve --locked --root /work/peers`) and from
Debian's packages (apache2, rclone, wrk). Every server is started by us, listens on 127.0.0.1
only, is pinned to SERVER_CPU, and is stopped by its own PID (Apache's children go with it).
"""
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (Server, wait_port)

ROOT = bench.ROOT
SERVER_CPU, CLIENT_CPU = bench.SERVER_CPU, bench.CLIENT_CPU
PEERS_BIN = os.environ.get("PEERS_BIN", "/work/peers/bin")
OURS_BIN = os.environ.get("OURS_BIN") or os.path.join(ROOT, "target", "release", "http-server")
# Ports of these scripts: apart from bench.py's (18080..) and big_file.sh's (18095).
PORTS = {"ours": 18110, "dufs": 18111, "miniserve": 18112, "apache": 18113}


def peer_bin(name):
    """The path of a peer's binary, or None when it is not installed."""
    for d in (PEERS_BIN, "/usr/sbin", "/usr/bin"):
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    return shutil.which(name)


def children(pid):
    out = subprocess.run(["ps", "--ppid", str(pid), "-o", "pid="], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def with_children(pid):
    return [pid] + children(pid)


def status_kib(pids, key):
    """The sum of one /proc/PID/status field (VmRSS, VmHWM) over pids, in KiB."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith(key + ":"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total


def cpu_seconds(pids):
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


class RssSampler(threading.Thread):
    """The server's VmRSS (summed over its processes) every `every` seconds; keeps the largest.
    The list of processes is refreshed every half second (Apache starts children on demand)."""

    def __init__(self, server, every=0.02):
        super().__init__(daemon=True)
        self.server, self.every, self.peak, self.halt = server, every, 0, threading.Event()
        self.pids = server.pids()

    def run(self):
        refreshed = time.monotonic()
        while not self.halt.wait(self.every):
            if time.monotonic() - refreshed > 0.5:
                self.pids, refreshed = self.server.pids(), time.monotonic()
            self.peak = max(self.peak, status_kib(self.pids, "VmRSS"))

    def stop(self):
        self.halt.set()
        self.join()
        return self.peak


def load():
    return os.getloadavg()[0]


def uptime():
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def wait_for_quiet(max_load, max_wait):
    """Waits up to max_wait seconds for the 1-minute load average to fall below max_load (the
    machine is shared); returns the load it starts at."""
    end = time.monotonic() + max_wait
    while load() >= max_load and time.monotonic() < end:
        time.sleep(5)
    return load()


class Server(bench.Server):
    """bench.Server with a URL prefix per server and SIGTERM to the parent (Apache's parent
    ends its children on SIGTERM)."""

    def __init__(self, name, argv, prefix, pids=with_children, env=None):
        super().__init__(name, PORTS[name], argv, pids)
        self.prefix, self.env = prefix, env

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{self.prefix}{path}"

    def start(self):
        import socket

        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
            raise SystemExit(f"port {self.port} is already in use: not starting {self.name}")
        except OSError:
            pass
        self.proc = subprocess.Popen(["taskset", "-c", SERVER_CPU] + self.argv,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        bench.wait_port(self.port)
        time.sleep(0.3)
        if self.proc.poll() is not None:
            raise SystemExit(f"{self.name} exited with status {self.proc.returncode}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def ours(data):
    return Server("ours", [OURS_BIN, "--directory", data, "--port", str(PORTS["ours"]), "--quiet"],
                  "/files", pids=lambda pid: [pid])


def dufs(data, *flags):
    return Server("dufs", [peer_bin("dufs"), data, "-b", "127.0.0.1", "-p", str(PORTS["dufs"]), *flags],
                  "", pids=lambda pid: [pid])


def miniserve(data, *flags):
    return Server("miniserve", [peer_bin("miniserve"), "-i", "127.0.0.1", "-p", str(PORTS["miniserve"]),
                                *flags, data], "", pids=lambda pid: [pid])


APACHE_CONF = """
ServerRoot /usr/lib/apache2
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile {tmp}/apache.pid
DefaultRuntimeDir {tmp}
ErrorLog {tmp}/error.log
LogLevel warn
LoadModule mpm_event_module modules/mod_mpm_event.so
LoadModule authz_core_module modules/mod_authz_core.so
LoadModule mime_module modules/mod_mime.so
LoadModule dav_module modules/mod_dav.so
LoadModule dav_fs_module modules/mod_dav_fs.so
User www-data
Group www-data
# Debian's mpm_event.conf, as installed.
StartServers 2
MinSpareThreads 25
MaxSpareThreads 75
ThreadLimit 64
ThreadsPerChild 25
MaxRequestWorkers 150
MaxConnectionsPerChild 0
# Keep-alive without a per-connection cap (Apache's default closes after 100 requests; nginx
# in bench.py has keepalive_requests 1000000).
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 15
TypesConfig /etc/mime.types
DavLockDB {tmp}/DavLock
DocumentRoot {data}
<Directory />
    AllowOverride None
    Require all denied
</Directory>
<Directory {data}>
    AllowOverride None
    Require all granted
    Dav On
</Directory>
"""


def apache(data, tmp):
    """Apache httpd 2.4 (Debian's apache2 binary and modules, our own configuration in tmp): the
    event MPM with Debian's settings, mod_dav and mod_dav_fs on data, no access log. Its
    children run as www-data, so data must be writable by that user for uploads."""
    conf = os.path.join(tmp, "apache.conf")
    with open(conf, "w") as f:
        f.write(APACHE_CONF.format(port=PORTS["apache"], tmp=tmp, data=data))
    os.chmod(tmp, 0o777)
    env = ["env", "APACHE_RUN_DIR=" + tmp, "APACHE_LOCK_DIR=" + tmp, "APACHE_LOG_DIR=" + tmp]
    return Server("apache", env + [peer_bin("apache2"), "-f", conf, "-DFOREGROUND"], "")


def make_files(folder, count, min_size, max_size, seed, text=True):
    """count files of min_size..max_size bytes in folder, the same for the same seed: text-ish
    (words from a small vocabulary, compressible) or random bytes."""
    os.makedirs(folder, exist_ok=True)
    rng = random.Random(seed)
    corpus = text_corpus(seed) if text else b""
    for i in range(count):
        size = rng.randint(min_size, max_size)
        if text:
            start = rng.randrange(0, len(corpus) - size)
            body = corpus[start:start + size]
        else:
            body = rng.randbytes(size)
        with open(os.path.join(folder, f"file-{i:05d}.{'txt' if text else 'bin'}"), "wb") as f:
            f.write(body)


_CORPUS = {}


def text_corpus(seed, size=8 << 20):
    """size bytes of text-like lines (words of a 2000-word vocabulary, Zipf-distributed), from
    the seed: deflate at level 1 shrinks it to about 35%, like prose or logs."""
    import itertools

    if seed not in _CORPUS:
        rng = random.Random(seed)
        letters = "etaoinshrdlucmfwypvbgkjqxz"
        weights = [12, 9, 8, 7, 7, 6, 6, 6, 5, 4, 4, 3, 3, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1]
        vocab = ["".join(rng.choices(letters, weights, k=rng.randint(2, 10))) for _ in range(2000)]
        cum = list(itertools.accumulate(1 / (r + 1) for r in range(len(vocab))))
        lines, n = [], 0
        while n < size + 1024 * 1024:
            words = rng.choices(vocab, cum_weights=cum, k=rng.randint(4, 14))
            line = " ".join(words) + f" {rng.randint(0, 999)}\n"
            lines.append(line)
            n += len(line)
        _CORPUS[seed] = "".join(lines).encode()
    return _CORPUS[seed]
