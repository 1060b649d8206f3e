"""The processes of the end-to-end test and their files: instances in PID namespaces, nginx
from a copy of deploy/nginx.conf, the certificate, and the check of the systemd units.

An instance runs in its own PID namespace (`unshare --pid --fork --mount-proc`), as on another
host or in another container. The server is the namespace's init (PID 1 inside): unshare forks
and the child execs the server. The test signals the server by its PID outside the namespace,
read from /proc/UNSHARE_PID/task/UNSHARE_PID/children. SIGKILL from an ancestor namespace
always reaches an init; SIGTERM does too, because the server blocks SIGTERM and takes it with
sigwait (a blocked signal is queued, not dropped as an unhandled one would be for an init).
unshare exits with the server's exit status, which is how the test sees "exit 0".
"""

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import time

from params import BIN, DOMAIN, NGINX_CONF, UNITS, UPSTREAM_KEEPALIVE, log


class Instance:
    def __init__(self, name, port, shared, logdir, flags):
        self.name, self.port, self.shared, self.logdir, self.flags = name, port, shared, logdir, flags
        self.proc = None  # the unshare process
        self.pid = None  # the server's PID outside its namespace
        self.logs = []  # one per run
        self.namespaces = []  # the PID namespace of each run, as /proc/PID/ns/pid names it

    def start(self):
        path = os.path.join(self.logdir, f"{self.name}-{len(self.logs) + 1}.log")
        self.logs.append(path)
        cmd = ["unshare", "--pid", "--fork", "--mount-proc", BIN, "--directory", self.shared,
               "--port", str(self.port), "--bind", "127.0.0.1"] + self.flags
        with open(path, "wb") as out:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        self.pid = self._find_server()
        self._wait_ready()
        try:
            ns = os.readlink(f"/proc/{self.pid}/ns/pid")
        except OSError:
            ns = "?"
        self.namespaces.append(ns)
        log(f"{self.name} up (run {len(self.logs)}, pid {self.pid} outside, 1 inside, {ns}) "
            f"on :{self.port}")

    def _find_server(self):
        children = f"/proc/{self.proc.pid}/task/{self.proc.pid}/children"
        real = os.path.realpath(BIN)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                with open(children) as f:
                    pids = f.read().split()
                # The child is unshare until it execs the server.
                if pids and os.path.realpath(f"/proc/{pids[0]}/exe") == real:
                    return int(pids[0])
            except OSError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.01)
        raise RuntimeError(f"{self.name}: the server did not start under unshare ({self.logs[-1]})")

    def _wait_ready(self):
        # Ready is an answer on the port: /health where the binary has it (404 where not).
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} at start")
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/health")
                r = c.getresponse()
                r.read()
                c.close()
                if r.status in (200, 404):
                    return
            except OSError:
                pass
            time.sleep(0.02)
        raise RuntimeError(f"{self.name} not ready in 10 s")

    def signal(self, sig):
        os.kill(self.pid, sig)

    def wait(self, timeout):
        """unshare's exit status (the server's), or None if still running after `timeout`."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop_hard(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.kill(self.pid, signal.SIGKILL)
        except OSError:
            pass
        if self.wait(5) is None:
            self.proc.kill()
            self.proc.wait(5)


class Nginx:
    def __init__(self, conf, folder, port):
        self.conf, self.folder, self.port = conf, folder, port
        self.proc = None

    def start(self):
        with open(os.path.join(self.folder, "stderr.log"), "wb") as err:
            # -e: the error log before the configuration is read; daemon off: the test holds
            # the master's PID.
            self.proc = subprocess.Popen(
                ["nginx", "-c", self.conf, "-e", os.path.join(self.folder, "startup.log"),
                 "-g", "daemon off;"], stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        deadline = time.monotonic() + 10
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited with {self.proc.returncode}: see its logs")
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("nginx did not listen in 10 s")
                time.sleep(0.02)

    def stop(self):
        """Graceful (SIGQUIT: finish what is in progress), else as `kill`."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGQUIT)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self):
        """A fast stop (SIGTERM: the master stops its workers and exits), else SIGKILL to the
        master and to each worker: a SIGKILLed master leaves its workers running."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as f:
                workers = [int(p) for p in f.read().split()]
        except OSError:
            workers = []
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            for pid in workers + [self.proc.pid]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            self.proc.wait(5)


def make_certificate(tls):
    key, cert = os.path.join(tls, "privkey.pem"), os.path.join(tls, "fullchain.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", f"/CN={DOMAIN}",
         "-addext", f"subjectAltName=DNS:{DOMAIN}"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
    return cert, key


def nginx_config(folder, https, http_port, port_a, port_b, cert, key):
    """deploy/nginx.conf with its addresses and paths replaced. Each replacement must match
    exactly as often as expected, so that the file and the test cannot drift apart."""
    with open(NGINX_CONF) as f:
        text = f.read()
    edits = [
        ("listen 443 ", f"listen 127.0.0.1:{https} ", 2),
        ("listen 80 ", f"listen 127.0.0.1:{http_port} ", 1),
        ("server 127.0.0.1:4221 ", f"server 127.0.0.1:{port_a} ", 1),
        ("server 127.0.0.1:4222 ", f"server 127.0.0.1:{port_b} ", 1),
        ("/etc/ssl/http-server/fullchain.pem", cert, 1),
        ("/etc/ssl/http-server/privkey.pem", key, 1),
        ("/run/nginx-http-server.pid", os.path.join(folder, "nginx.pid"), 1),
        ("/var/log/nginx/", folder + "/", 2),
        ("/var/lib/nginx/", folder + "/", 2),
        # The instances keep idle connections open on SIGTERM for longer than nginx keeps
        # them (--drain-idle, params.DRAIN_IDLE): shorter here, so that A's drain takes 3 s.
        ("keepalive_timeout 10s;", f"keepalive_timeout {UPSTREAM_KEEPALIVE}s;", 1),
    ]
    for old, new, count in edits:
        found = text.count(old)
        if found != count:
            raise RuntimeError(f"deploy/nginx.conf: expected {count} of {old!r}, found {found}")
        text = text.replace(old, new)
    # IPv6 listeners: loopback only here, and not every CI machine has IPv6.
    text, n = re.subn(r"^\s*listen \[::\]:\d+[^\n]*\n", "", text, flags=re.M)
    if n != 3:
        raise RuntimeError(f"deploy/nginx.conf: expected 3 IPv6 listen lines, found {n}")
    path = os.path.join(folder, "nginx.conf")
    with open(path, "w") as f:
        f.write(text)
    return path


def verify_units(folder):
    """systemd-analyze verify on copies of the units whose ExecStart names the built binary
    (verify insists that the program exists). Any message at all counts as a failure: verify
    exits 0 on an unknown key, with a warning."""
    if shutil.which("systemd-analyze") is None:
        return True, "skipped: no systemd-analyze"
    os.makedirs(folder)
    problems, scores = [], []
    for unit in UNITS:
        with open(unit) as f:
            text = f.read()
        name = os.path.basename(unit)
        if text.count("ExecStart=/usr/local/bin/http-server ") != 1:
            problems.append(f"{name}: ExecStart must name /usr/local/bin/http-server once")
            continue
        text = text.replace("ExecStart=/usr/local/bin/http-server ",
                            f"ExecStart={os.path.realpath(BIN)} ")
        copy = os.path.join(folder, name)
        with open(copy, "w") as f:
            f.write(text)
        # A template is verified through an instance of it.
        target = copy.replace("@.service", "@4222.service")
        r = subprocess.run(["systemd-analyze", "verify", target], capture_output=True,
                           text=True, timeout=60)
        msg = (r.stdout + r.stderr).strip()
        if r.returncode != 0 or msg:
            problems.append(f"{os.path.basename(target)}: exit {r.returncode}: {msg}")
            continue
        # How exposed systemd thinks the service is (0 best, 10 worst): for the summary.
        r = subprocess.run(["systemd-analyze", "security", "--offline=yes", target],
                           capture_output=True, text=True, timeout=60)
        m = re.search(r"Overall exposure level for \S+: ([\d.]+)", r.stdout + r.stderr)
        scores.append(f"{os.path.basename(target)} exposure {m.group(1) if m else '?'}")
    if problems:
        return False, "; ".join(problems)
    return True, ", ".join(scores)
