"""Reading the end-to-end test's logs and folder, and its summary table."""

import os
import re

from params import CURL_SOURCE, MIB, PYTHON_SOURCE, SEED, UPLOAD_RE


def read_nginx_log(path):
    """Request id -> (status, [instances tried, in order]) from nginx's access log."""
    out = {}
    pat = re.compile(r'"\S+ /\S*\?id=(\S+) [^"]*" (\d+) .* upstream="([^"]*)"')
    with open(path, errors="replace") as f:
        for line in f:
            m = pat.search(line)
            if m:
                # "a, b" for a retry; "a : b" after an internal redirect.
                tried = [u for u in re.split(r"\s*[,:]\s+", m.group(3)) if u and u != "-"]
                out[m.group(1)] = (int(m.group(2)), tried)
    return out


def client_addresses(logs):
    """Every request line of an instance that carries one of the clients' ids must start with
    that client's own address (127.0.0.5 for curl, 127.0.0.6 for Python), not the proxy's
    ip:port. Returns the lines seen per client and up to five wrong ones."""
    pat = re.compile(r'^\S+ (\S+) (?:user=\S+ )?"(?:GET|PUT) /files/\S*\?id=([cp])')
    seen, wrong = {"c": 0, "p": 0}, []
    for path in logs:
        with open(path, errors="replace") as f:
            for line in f:
                m = pat.match(line)
                if not m:
                    continue
                addr = re.sub(r":\d+$", "", m.group(1)).strip("[]")
                seen[m.group(2)] += 1
                if addr != (CURL_SOURCE if m.group(2) == "c" else PYTHON_SOURCE) and len(wrong) < 5:
                    wrong.append(line.strip())
    return seen, wrong


def startup_cleanups(logs):
    """(removed, left) at each start-up, from the instance's line about unfinished uploads."""
    out = []
    for path in logs:
        with open(path, errors="replace") as f:
            text = f.read()
        m = re.search(r"removed (\d+) unfinished upload file\(s\)[^\n]*?left (\d+)", text)
        out.append((int(m.group(1)), int(m.group(2))) if m else (0, 0))
    return out


def leftover_uploads(shared):
    found = []
    for folder, _dirs, files in os.walk(shared):
        found += [os.path.join(folder, f) for f in files if UPLOAD_RE.match(f)]
    return found


def percentile(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def summary(run, stats, excused):
    """`excused`: request id -> why its failure is allowed."""
    kinds = ["GET h2", "GET h1", "PUT h2", "PUT h1", "GET", "PUT"]
    print()
    print(f"## e2e summary (seed {SEED}, {run['load_s']:.1f} s of load, "
          f"{run['total_s']:.1f} s in all)")
    print()
    print("| requests | sent | ok | of which 404 (allowed) | failed | of which excused "
          "| MiB up | MiB down | p50 ms | p99 ms |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for k in kinds:
        rows = [r for r in stats.rows if r["kind"] == k or r["kind"].startswith(k + " ")]
        ok = [r for r in rows if r["fail"] is None]
        up = sum(r["bytes"] for r in ok if r["kind"].startswith("PUT")) / MIB
        down = sum(r["bytes"] for r in ok if r["kind"].startswith("GET")) / MIB
        ms = [r["ms"] for r in ok]
        label = k if " " in k else f"all {k}"
        print(f"| {label} | {len(rows)} | {len(ok)} | {sum(1 for r in ok if r['status'] == 404)} "
              f"| {len(rows) - len(ok)} | {sum(1 for r in rows if r['id'] in excused)} "
              f"| {up:.1f} | {down:.1f} | {percentile(ms, 50):.1f} | {percentile(ms, 99):.1f} |")
    print()
    fails = {}
    for r in stats.rows:
        if r["fail"] is not None:
            key = (r["kind"], r["fail"], excused.get(r["id"], "NOT excused"))
            fails[key] = fails.get(key, 0) + 1
    print("| failure | excused because | count |")
    print("|---|---|---|")
    for (kind, what, ex), n in sorted(fails.items()):
        print(f"| {kind}: {what} | {ex} | {n} |")
    if not fails:
        print("| none | | 0 |")
    print()
    print(f"nginx retried {run['retried']} request(s) on the other instance; "
          f"{run['retried_ok']} of them then succeeded. Python clients sent {run['stale_retries']} "
          "request(s) again on a new connection after a kept-alive one was found closed.")
    print("Events: " + ", ".join(f"{what} at {t:.1f} s" for t, what in run["events"]))
    for name, runs in run["cleanups"].items():
        print(f"Start-up clean-up of {name}, run by run (removed, left): {runs}")
    print(f"Temporary upload files: {run['before_sweep']} left when A and B had stopped; the sweep "
          f"(one short run of A, {run['sweep_after']:.1f} s after the last SIGKILL) left "
          f"{run['after_sweep']}.")
    print("PID namespaces by run: " + "; ".join(run["namespaces"]))
