#!/usr/bin/python3
"""End to end: two http-server instances on one folder, each in its own PID namespace, nginx
in front of them with TLS and HTTP/2 (a copy of deploy/nginx.conf), and writers and readers
through nginx while B is SIGKILLed twice and A SIGTERMed once, each started again.

Run by tests/e2e/run.sh, which installs nginx and openssl and builds the release binary.
Python's standard library only. Environment:
  HTTP_SERVER_BIN   the server binary (default target/release/http-server)
  E2E_DURATION      seconds of load (default 20)
  E2E_SEED          seed of the clients' choices (default: the clock; printed)
  E2E_RESTART_GAP   seconds from a SIGKILL of B to its start again (default 1)
  E2E_KEEP          where the logs and the nginx configuration are copied at the end
                    (default target/e2e; empty: nowhere)

It passes when: every GET got a complete recorded version, or a 404 before any PUT of the
name was acknowledged; every PUT answered 2xx is readable at the end as that version or a later
one; no GET or PUT failed except ones in flight on B at a SIGKILL (nginx retries the others;
A's SIGTERM costs nothing, since with --drain-idle A keeps its idle connections until nginx
has closed them itself); no temporary upload file is left once
everything has stopped; the instances' logs show the clients' own addresses; A exits 0 after
SIGTERM; the systemd units pass systemd-analyze verify.

Clean-up timing: an instance removes at start-up a temporary upload file whose owner is
provably gone; for a file of another PID namespace (a killed instance's: every restart is a
new namespace, though the kernel may reuse a dead one's inode for it) that means "nobody holds
its lock and it is more than 5 s old". B is started
again E2E_RESTART_GAP (1 s) after each kill; A's restart, 6 s after the first kill, removes
what that kill left, and one short run of A (the sweep), 5.5 s after the last kill once
everything has stopped, removes what the last one left. The summary says how many each
removed.
"""

import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from clients import Clients, Registry, Stats
from params import (ATTACKER_SOURCE, BIN, CLEANUP_AGE, CURL_SOURCE, DOMAIN, DRAIN_IDLE, DURATION,
                    HARD_DEADLINE, KEEP,
                    PROXY_ADDR, READERS_CURL, READERS_PY, REJOIN, REQUEST_TIMEOUT, RESTART_GAP,
                    SEED, WRITERS_CURL, WRITERS_PY, free_port, log)
from procs import Instance, Nginx, make_certificate, nginx_config, verify_units
import report


class Checks:
    def __init__(self):
        self.results = []

    def __call__(self, name, ok, detail=""):
        self.results.append((name, bool(ok)))
        log(f"{'PASS' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}")

    def failed(self):
        return [name for name, ok in self.results if not ok]


class Run:
    """The folders, the processes and the timeline of one run."""

    def __init__(self, check):
        self.check = check
        self.tmp = tempfile.mkdtemp(prefix="http-server-e2e-")
        # nginx's workers (www-data) reach their temporary folders through these.
        os.chmod(self.tmp, 0o755)
        self.dirs = {}
        for d in ("shared", "logs", "tls", "nginx"):
            self.dirs[d] = os.path.join(self.tmp, d)
            os.makedirs(self.dirs[d])
            os.chmod(self.dirs[d], 0o755)
        self.instances, self.nginx = [], None
        self.events = []  # (monotonic time, what)
        self.t_start = None

    def event(self, what):
        self.events.append((time.monotonic(), what))

    def start(self):
        helptext = subprocess.run([BIN, "--help"], capture_output=True, text=True).stdout
        has_trust, has_allow = "--trust-proxy" in helptext, "--allow-host" in helptext
        self.has_trust = has_trust
        flags = (["--trust-proxy", PROXY_ADDR] if has_trust else []) + \
                (["--allow-host", DOMAIN] if has_allow else []) + \
                ["--drain-idle", str(DRAIN_IDLE)]
        # A user, as a deployment reachable from the internet has (deploy/http-server@.service):
        # without credentials a client gets 401, and the failed-login limit can be checked.
        self.credentials = None
        if "--auth " in helptext:
            self.credentials = ("e2e", f"pw-{random.getrandbits(64):016x}")
            flags += ["--auth", ":".join(self.credentials)]
        log(f"seed {SEED}, {DURATION:g} s of load; instance flags: "
            f"{' '.join(flags).replace(self.credentials[1], '***') if self.credentials else ' '.join(flags)}")
        self.check("the binary has --trust-proxy, --allow-host and --auth",
                   has_trust and has_allow and self.credentials is not None,
                   "" if has_trust and has_allow and self.credentials else "missing in this build")

        self.cert, key = make_certificate(self.dirs["tls"])
        port_a, port_b, self.https, self.http_port = (free_port() for _ in range(4))
        self.port_b = port_b
        conf = nginx_config(self.dirs["nginx"], self.https, self.http_port, port_a, port_b,
                            self.cert, key)
        self.a = Instance("A", port_a, self.dirs["shared"], self.dirs["logs"], flags)
        self.b = Instance("B", port_b, self.dirs["shared"], self.dirs["logs"], flags)
        self.instances = [self.a, self.b]
        self.a.start()
        self.b.start()
        self.nginx = Nginx(conf, self.dirs["nginx"], self.https)
        self.nginx.start()
        log(f"nginx up: https :{self.https} (HTTP/2), http :{self.http_port}; "
            f"instances A :{port_a}, B :{port_b}")

    def check_edges(self, clients):
        """What the configuration does before any request reaches an instance."""
        r = subprocess.run(["curl", "-sS", "-o", os.devnull, "-w", "%{http_code} %{redirect_url}",
                            "--interface", CURL_SOURCE, "--max-time", "5", "--resolve",
                            f"{DOMAIN}:{self.http_port}:127.0.0.1",
                            f"http://{DOMAIN}:{self.http_port}/files/x"],
                           capture_output=True, text=True, timeout=10)
        self.check("port 80 redirects to https", r.stdout.startswith("308 https://"),
                   r.stdout.strip())
        rc, code, _, _, err = clients.curl(["-H", "Host: other.example.net"],
                                           clients.url("/files/"), os.devnull)
        self.check("a Host other than server_name gets 421 from nginx", code == 421,
                   f"curl exit {rc}, {code} {err}")
        r = subprocess.run(["curl", "-sS", "-o", os.devnull, "--cacert", self.cert,
                            "--max-time", "5", f"https://127.0.0.1:{self.https}/"],
                           capture_output=True, text=True, timeout=10)
        self.check("TLS without the server's name is refused in the handshake",
                   r.returncode != 0, r.stderr.strip()[:90])
        # 4 GiB + 1 declared: nginx refuses it before reading a byte, as --max-upload would.
        rc, code, _, _, err = clients.curl(["--http1.1", "-X", "PUT", "--data-binary", "",
                                            "-H", "Content-Length: 4294967297"],
                                           clients.url("/files/huge"), os.devnull)
        self.check("an upload declared over 4 GiB gets 413 from nginx", code == 413,
                   f"curl exit {rc}, {code} {err}")
        health = os.path.join(self.tmp, "health")
        rc, code, _, _, err = clients.curl([], clients.url("/health"), health, login=False)
        with open(health, "rb") as f:
            body = f.read()
        self.check("GET /health through nginx is 200 ok", rc == 0 and code == 200,
                   f"curl exit {rc}, {code} {body[:20]!r}")
        if self.credentials:
            self.check_login_limit(clients)

    def check_login_limit(self, clients):
        """The failed-login limit counts the client nginx forwarded for: wrong passwords from
        127.0.0.7 get it 429, while a client at 127.0.0.6 is still served. (Were the instances
        counting nginx's 127.0.0.1, every client would be blocked.)"""
        rc, code, _, _, err = clients.curl([], clients.url("/files/"), os.devnull,
                                           source=ATTACKER_SOURCE, login=False)
        self.check("no credentials: 401 through nginx", code == 401, f"curl exit {rc}, {code} {err}")
        codes = []
        for _ in range(30):
            rc, code, _, _, _ = clients.curl(["-u", "e2e:wrong"], clients.url("/files/"),
                                             os.devnull, source=ATTACKER_SOURCE, login=False)
            codes.append(code)
        _, fine, _, _ = clients.exchange(None, "GET", "/files/?id=limit")
        self.check("wrong passwords from 127.0.0.7 get 429, 127.0.0.6 is still served",
                   429 in codes and fine == 200,
                   f"127.0.0.7: {codes.count(401)} x 401 then {codes.count(429)} x 429; "
                   f"127.0.0.6: {fine}")

    # -- the load and the restarts

    def at(self, fraction, after=0.0):
        delay = max(self.t_start + fraction * DURATION, after) - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def kill(self, inst):
        inst.signal(signal.SIGKILL)
        self.event(f"SIGKILL {inst.name}")
        log(f"{inst.name} SIGKILLed (unshare exit {inst.wait(5)})")

    def restart(self, inst):
        inst.start()
        self.event(f"{inst.name} started")

    def chaos(self, errors):
        # Each stop waits until the other instance has been back for REJOIN seconds, longer
        # than nginx's fail_timeout (2 s): while nginx counts every instance failed it answers
        # 502 at once, even to instances that are up again.
        try:
            self.at(0.15)
            self.kill(self.b)
            time.sleep(RESTART_GAP)
            self.restart(self.b)
            self.at(0.45, after=self.events[-1][0] + REJOIN)
            self.a.signal(signal.SIGTERM)
            self.event("SIGTERM A")
            rc = self.a.wait(20)
            self.event(f"A exited {rc}")
            log(f"A SIGTERMed: exit {rc}")
            if rc != 0:
                errors.append(f"A exited {rc} after SIGTERM, not 0")
            self.restart(self.a)
            self.at(0.7, after=self.events[-1][0] + REJOIN)
            self.kill(self.b)
            time.sleep(RESTART_GAP)
            self.restart(self.b)
        except Exception as e:  # reported as a failed check
            errors.append(f"{type(e).__name__}: {e}")

    def load(self, clients, stop):
        threads = clients.threads([("c", WRITERS_CURL), ("p", WRITERS_PY)],
                                  [("c", READERS_CURL), ("p", READERS_PY)])
        errors = []
        chaos = threading.Thread(target=self.chaos, args=(errors,), daemon=True)
        self.t_start = time.monotonic()
        for t in threads + [chaos]:
            t.start()
        self.at(1.0)
        chaos.join(RESTART_GAP + REJOIN + 30)  # a short E2E_DURATION still ends its restarts
        stop.set()
        for t in threads:
            t.join(REQUEST_TIMEOUT + 10)
        self.load_s = time.monotonic() - self.t_start
        log(f"load stopped after {self.load_s:.1f} s")
        self.check("restarts: B SIGKILLed twice, A SIGTERMed (exit 0), each started again",
                   not errors and not chaos.is_alive(), "; ".join(errors))

    # -- the end

    def check_final_state(self, clients, registry):
        """Every acknowledged PUT is readable as that version or a later one: a version that
        may have been renamed into place after it, because its own PUT was not acknowledged
        before that one was sent."""
        bad, names = [], 0
        for name in registry.versions:
            acked = registry.acked(name)
            if not acked:
                continue
            names += 1
            status, sha = clients.final_state(name)
            found = registry.matches(name, sha) if status == 200 else []

            def older_than(f):
                return [v.number for v in acked if v is not f and f.end() <= v.sent]

            if not found:
                bad.append(f"{name}: {status}, no recorded version")
            elif all(older_than(f) for f in found):
                f = found[-1]
                bad.append(f"{name}: v{f.number}, older than acknowledged v{max(older_than(f))}")
        self.check("every acknowledged PUT readable at the end, as that version or a later one",
                   names > 0 and not bad, f"{names} names" + ("; " + "; ".join(bad[:5]) if bad else ""))

    def stop_and_sweep(self):
        self.nginx.stop()
        codes = []
        for inst in self.instances:
            inst.signal(signal.SIGTERM)
            codes.append(inst.wait(20))
        self.check("A and B exit 0 on the final SIGTERM", codes == [0, 0], f"exit codes {codes}")
        self.before_sweep = len(report.leftover_uploads(self.dirs["shared"]))
        last_kill = max((t for t, what in self.events if what.startswith("SIGKILL")), default=0)
        wait = last_kill + CLEANUP_AGE - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self.sweep_after = time.monotonic() - last_kill
        self.a.start()
        self.a.signal(signal.SIGTERM)
        rc = self.a.wait(20)
        self.check("the sweep (a short run of A) exits 0", rc == 0, f"exit {rc}")
        left = report.leftover_uploads(self.dirs["shared"])
        self.after_sweep = len(left)
        self.check("no temporary upload file left once everything stopped", not left,
                   f"{self.before_sweep} before the sweep, {len(left)} after"
                   + (": " + ", ".join(os.path.relpath(p, self.dirs["shared"]) for p in left[:4])
                      if left else ""))

    def check_logs(self, stats):
        seen, wrong = report.client_addresses([p for i in self.instances for p in i.logs])
        self.check("the instances' logs name the clients (127.0.0.5 curl, 127.0.0.6 Python)",
                   self.has_trust and not wrong and seen["c"] > 0 and seen["p"] > 0,
                   f"{seen['c']} curl and {seen['p']} Python request lines"
                   + ("; wrong: " + " | ".join(wrong[:2]) if wrong else "")
                   + ("" if self.has_trust else "; this build has no --trust-proxy"))
        # A GET or PUT may fail only when it was in flight on B at a SIGKILL: nginx's log says
        # it went to B, the kill falls within the request, and the failure is one of transport
        # (cut, reset, 502), never a wrong body or a wrong 404. A's SIGTERM may cost nothing:
        # with --drain-idle longer than nginx's keepalive_timeout, A keeps its idle connections
        # until nginx has closed them, so no request meets one being closed (docs/deployment.md, "Behind
        # nginx"). Anything else fails the run.
        nginx_log = report.read_nginx_log(os.path.join(self.dirs["nginx"], "http-server.access.log"))
        addr = {i.name: f"127.0.0.1:{i.port}" for i in self.instances}

        def during(row, what):
            return any(row["t0"] - 0.05 <= t <= row["t1"] + 0.05 for t, w in self.events if w == what)

        excused, unexcused = {}, []
        for row in stats.rows:
            if row["fail"] is None:
                continue
            status, tried = nginx_log.get(row["id"], (None, []))
            transport = not row["fail"].startswith(("body is", "404", "not HTTP/2"))
            if transport and addr["B"] in tried and during(row, "SIGKILL B"):
                excused[row["id"]] = "in flight on B at its SIGKILL"
            else:
                unexcused.append(row)
        for method, why in (("GET", "ones in flight on B at a SIGKILL"),
                            ("PUT", "ones in flight on B at a SIGKILL")):
            rows = [r for r in stats.rows if r["kind"].startswith(method) and r["fail"]]
            bad = [r for r in unexcused if r["kind"].startswith(method)]
            self.check(f"no {method} failed but {why}", not bad,
                       f"{len(rows) - len(bad)} excused, {len(bad)} not" + (
                           ": " + "; ".join(f"{r['kind']} {r['id']} {r['fail']}" for r in bad[:6])
                           if bad else ""))
        kinds = {r["kind"] for r in stats.rows if r["fail"] is None}
        self.check("GET and PUT each ran over HTTP/2 and HTTP/1.1",
                   kinds >= {"GET h2", "GET h1", "PUT h2", "PUT h1"}, f"{len(stats.rows)} requests")
        self.retried = sum(1 for _, tried in nginx_log.values() if len(tried) > 1)
        self.retried_ok = sum(1 for st, tried in nginx_log.values() if len(tried) > 1 and st < 500)
        return excused

    def keep_logs(self):
        if not KEEP:
            return
        shutil.rmtree(KEEP, ignore_errors=True)
        os.makedirs(KEEP)
        for d in (self.dirs["logs"], self.dirs["nginx"]):
            for f in os.listdir(d):
                if f.endswith((".log", ".conf")):
                    shutil.copy(os.path.join(d, f), KEEP)

    def cleanup(self):
        if self.nginx is not None:
            self.nginx.kill()
        for inst in self.instances:
            inst.stop_hard()
        try:
            self.keep_logs()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


def main():
    check = Checks()

    def deadline(_sig, _frame):
        raise TimeoutError(f"the run passed its hard deadline of {HARD_DEADLINE:g} s")

    def terminated(_sig, _frame):
        raise SystemExit("e2e: SIGTERM, stopping what it started")  # the finally below runs

    signal.signal(signal.SIGALRM, deadline)
    signal.signal(signal.SIGTERM, terminated)
    signal.alarm(int(HARD_DEADLINE))
    began = time.monotonic()
    run = Run(check)
    stop = threading.Event()
    try:
        ok, detail = verify_units(os.path.join(run.tmp, "units"))
        check("systemd-analyze verify deploy/*.service", ok, detail)
        run.start()
        registry, stats = Registry(), Stats()
        clients = Clients(run.https, run.cert, registry, stats, run.tmp, stop, run.credentials)
        run.check_edges(clients)
        run.load(clients, stop)
        run.check_final_state(clients, registry)
        run.stop_and_sweep()
        excused = run.check_logs(stats)
        report.summary({
            "load_s": run.load_s, "total_s": time.monotonic() - began,
            "retried": run.retried, "retried_ok": run.retried_ok,
            "stale_retries": clients.stale_retries,
            "events": [(t - run.t_start, what) for t, what in run.events],
            "cleanups": {i.name: report.startup_cleanups(i.logs) for i in run.instances},
            "before_sweep": run.before_sweep, "after_sweep": run.after_sweep,
            "sweep_after": run.sweep_after,
            "namespaces": [f"{i.name}: {', '.join(i.namespaces)}" for i in run.instances],
        }, stats, excused)
    except Exception as e:
        check("the run itself", False, f"{type(e).__name__}: {e}")
    finally:
        signal.alarm(0)
        stop.set()
        run.cleanup()
    failed = check.failed()
    print()
    print(f"e2e: {len(check.results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
