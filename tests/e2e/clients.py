"""The end-to-end test's clients, and the record of what they sent.

curl speaks HTTP/2 (one process per request), Python's http.client HTTP/1.1 (one kept-alive
connection per thread), both over TLS to nginx, checked against the generated certificate.
Every request carries `?id=` (the server ignores the query), by which nginx's log and the
instances' logs are matched to the client's own record.

A writer records a version (its SHA-256, as pending) before it sends the PUT, and marks it
acknowledged when a 2xx comes back. A reader's answer is right when it is 200 with a complete
body equal to some recorded version of the name, or 404 while no PUT of the name had been
acknowledged when the GET was sent.
"""

import base64
import hashlib
import http.client
import os
import random
import socket
import ssl
import subprocess
import threading
import time

from params import (CURL_SOURCE, DOMAIN, MIB, NAMES, PYTHON_SOURCE, REQUEST_TIMEOUT, SEED)


def body_size(rng):
    """0 B to 8 MiB, mostly small, as a file store sees them."""
    bucket = rng.choices(range(5), weights=[1, 3, 3, 2, 1])[0]
    if bucket == 0:
        return 0
    lo, hi = [(1, 4096), (4096, 256 * 1024), (256 * 1024, 2 * MIB), (2 * MIB, 8 * MIB)][bucket - 1]
    return rng.randint(lo, hi)


def curl_failure(rc, proto):
    if rc != 0:
        return f"curl exit {rc}"
    return None if proto == "2" else f"not HTTP/2 but {proto}"


class Version:
    __slots__ = ("number", "sha", "size", "sent", "acked")

    def __init__(self, number, sha, size, sent):
        self.number, self.sha, self.size, self.sent = number, sha, size, sent
        self.acked = None  # monotonic time the 2xx came back

    def end(self):
        """Until when this version may still be renamed into place: its 2xx, or forever
        (a PUT that failed may still have landed)."""
        return self.acked if self.acked is not None else float("inf")


class Registry:
    def __init__(self):
        self.lock = threading.Lock()
        self.versions = {n: [] for n in NAMES}

    def record(self, name, sha, size):
        with self.lock:
            v = Version(len(self.versions[name]) + 1, sha, size, time.monotonic())
            self.versions[name].append(v)
            return v

    def ack(self, v):
        with self.lock:
            v.acked = time.monotonic()

    def matches(self, name, sha):
        """Every version of the name with this content (all empty bodies match, for one)."""
        with self.lock:
            return [v for v in self.versions[name] if v.sha == sha]

    def acked_before(self, name, t):
        with self.lock:
            return any(v.acked is not None and v.acked < t for v in self.versions[name])

    def acked(self, name):
        with self.lock:
            return [v for v in self.versions[name] if v.acked is not None]


class Stats:
    """Every request's outcome: dicts with kind, id, name, t0, t1, status, fail (None or what
    went wrong), bytes (of the body, when it succeeded) and ms (latency through the proxy)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.rows = []

    def add(self, **row):
        with self.lock:
            self.rows.append(row)


class Clients:
    def __init__(self, https, ca, registry, stats, tmp, stop, credentials):
        self.https, self.ca, self.registry, self.stats, self.tmp, self.stop = \
            https, ca, registry, stats, tmp, stop
        self.credentials = credentials  # (user, password), or None where the server has no users
        self.headers = {}
        if credentials:
            token = base64.b64encode(":".join(credentials).encode()).decode()
            self.headers["Authorization"] = f"Basic {token}"
        self.ctx = ssl.create_default_context(cafile=ca)
        self.ctx.set_alpn_protocols(["http/1.1"])
        self.lock = threading.Lock()
        self.stale_retries = 0  # requests sent again after a kept-alive connection was closed

    def url(self, path):
        return f"https://{DOMAIN}:{self.https}{path}"

    def curl(self, args, url, out, source=CURL_SOURCE, login=True):
        """(exit code, status, HTTP version, seconds, stderr) of one curl request, with the
        test's user's credentials unless `login` is False."""
        cmd = ["curl", "-sS", "--http2", "--cacert", self.ca, "--interface", source,
               "--resolve", f"{DOMAIN}:{self.https}:127.0.0.1", "--max-time", str(REQUEST_TIMEOUT),
               "-o", out, "-w", "%{http_code} %{http_version} %{time_total}"]
        if login and self.credentials:
            cmd += ["-u", ":".join(self.credentials)]
        cmd += args + [url]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=REQUEST_TIMEOUT + 5)
        parts = r.stdout.split()
        code = int(parts[0]) if parts and parts[0].isdigit() else 0
        version = parts[1] if len(parts) > 1 else "?"
        seconds = float(parts[2]) if len(parts) > 2 else None
        return r.returncode, code, version, seconds, r.stderr.strip()

    def connection(self):
        c = http.client.HTTPSConnection(DOMAIN, self.https, context=self.ctx,
                                        timeout=REQUEST_TIMEOUT, source_address=(PYTHON_SOURCE, 0))
        # Connect to loopback, and keep DOMAIN for SNI, the certificate check and Host.
        c._create_connection = lambda addr, timeout, src: socket.create_connection(
            ("127.0.0.1", addr[1]), timeout, src)
        return c

    def exchange(self, conn, method, path, body=None):
        """One request, on the kept-alive connection if there is one: (connection to reuse or
        None, status, body, failure). A body short of its Content-Length raises IncompleteRead:
        a failure. Like any HTTP/1.1 client (RFC 9112 §9.3.1), a request that finds its kept-
        alive connection closed before a byte of the answer came is sent once more on a new
        connection: the server may close an idle connection at any time (here nginx, after a
        502 whose request body it had not read)."""
        for attempt in (1, 2):
            reused = conn is not None
            try:
                conn = conn or self.connection()
                conn.request(method, path, body=body, headers=self.headers)
                r = conn.getresponse()
                data = r.read()
                if r.will_close:
                    conn.close()
                    conn = None
                return conn, r.status, data, None
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as e:
                conn.close()
                conn = None
                if not reused or attempt == 2:
                    return None, 0, b"", type(e).__name__
                with self.lock:
                    self.stale_retries += 1
            except (OSError, http.client.HTTPException) as e:
                if conn:
                    conn.close()
                return None, 0, b"", type(e).__name__

    # -- writers

    def writer(self, kind, n):
        rng = random.Random(f"{SEED}-w-{kind}-{n}")
        body_file = os.path.join(self.tmp, f"put-{kind}{n}.bin")
        conn, seq = None, 0
        while not self.stop.is_set():
            seq += 1
            name = rng.choice(NAMES)
            size = body_size(rng)
            head = f"{name} {rng.getrandbits(64):016x}\n".encode()
            data = (head + rng.randbytes(max(0, size - len(head))))[:size]
            rid = f"{kind}w{n}-{seq}"
            path = f"/files/{name}?id={rid}"
            if kind == "c":
                with open(body_file, "wb") as f:
                    f.write(data)
            v = self.registry.record(name, hashlib.sha256(data).hexdigest(), len(data))
            t0 = time.monotonic()
            secs = None
            if kind == "c":
                rc, status, proto, secs, _err = self.curl(["-T", body_file], self.url(path),
                                                          os.devnull)
                fail = curl_failure(rc, proto)
            else:
                conn, status, _, fail = self.exchange(conn, "PUT", path, data)
            t1 = time.monotonic()
            if fail is None and 200 <= status < 300:
                self.registry.ack(v)
            elif fail is None:
                fail = f"HTTP {status}"
            self.stats.add(kind=f"PUT {'h2' if kind == 'c' else 'h1'}", id=rid, name=name, t0=t0,
                           t1=t1, status=status, fail=fail, bytes=0 if fail else len(data),
                           ms=1000 * (secs if secs is not None else t1 - t0))
        if conn:
            conn.close()

    # -- readers

    def judge(self, name, t0, status, body):
        """None when the answer is allowed, else what is wrong with it."""
        if status == 404:
            return "404 after a 2xx PUT" if self.registry.acked_before(name, t0) else None
        if status != 200:
            return f"HTTP {status}"
        if not self.registry.matches(name, hashlib.sha256(body).hexdigest()):
            return "body is no recorded version"
        return None

    def reader(self, kind, n):
        rng = random.Random(f"{SEED}-r-{kind}-{n}")
        out = os.path.join(self.tmp, f"get-{kind}{n}.bin")
        conn, seq = None, 0
        while not self.stop.is_set():
            seq += 1
            name = rng.choice(NAMES)
            rid = f"{kind}r{n}-{seq}"
            path = f"/files/{name}?id={rid}"
            t0 = time.monotonic()
            secs, body = None, b""
            if kind == "c":
                rc, status, proto, secs, _err = self.curl([], self.url(path), out)
                fail = curl_failure(rc, proto)
                if fail is None:
                    with open(out, "rb") as f:
                        body = f.read()
            else:
                conn, status, body, fail = self.exchange(conn, "GET", path)
            t1 = time.monotonic()
            if fail is None:
                fail = self.judge(name, t0, status, body)
            self.stats.add(kind=f"GET {'h2' if kind == 'c' else 'h1'}", id=rid, name=name, t0=t0,
                           t1=t1, status=status, fail=fail, bytes=0 if fail else len(body),
                           ms=1000 * (secs if secs is not None else t1 - t0))
        if conn:
            conn.close()

    def threads(self, writers, readers):
        out = []
        for kind, count in writers:
            out += [threading.Thread(target=self.writer, args=(kind, i), daemon=True)
                    for i in range(count)]
        for kind, count in readers:
            out += [threading.Thread(target=self.reader, args=(kind, i), daemon=True)
                    for i in range(count)]
        return out

    def final_state(self, name):
        """(status, SHA-256 of the body) of the name now."""
        _, status, body, fail = self.exchange(None, "GET", f"/files/{name}?id=final")
        return (status if fail is None else fail), hashlib.sha256(body).hexdigest()
