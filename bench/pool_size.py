#!/usr/bin/env python3
"""How the worker pool's size (--threads) changes throughput, CPU per request and fairness.

Runs this server alone (pinned to CPU 0, wrk to CPU 1, as in bench.py) with each pool size in
THREADS, over ROUNDS rounds, in alternation, and prints medians. Needs what bench/run.sh
installs and builds; run it after that script once, from the repository root:

  THREADS=2,4,8,16,32 ROUNDS=2 DURATION=4 python3 bench/pool_size.py

Scenarios: echo keep-alive (-c50), echo with Connection: close (-c50), 1000 keep-alive
connections, uploads of 1 MiB with fsync
(-c50, where a worker blocks on the disk), and the fairness probe with 1000 connections.
SCENARIOS (comma list of the names above) picks some. Pool sizes below 4 turn some of the
1000 connections away (the default --max-connections is 256 per worker).
"""
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the helpers and the pinning of bench.py)

THREADS = [int(t) for t in os.environ.get("THREADS", "2,4,8,16,32").split(",")]
SCENARIOS = {
    "echo keep-alive -c50": (["-t1", "-c50"], "/echo/abc", None),
    "echo Connection: close -c50": (["-t1", "-c50", "-H", "Connection: close"], "/echo/abc", None),
    "1000 keep-alive": (["-t1", "-c1000", "--timeout", "2s"], "/echo/abc", None),
    "upload 1 MiB -c50": (["-t1", "-c50"], "/files/up", "put"),
}
if os.environ.get("SCENARIOS"):
    SCENARIOS = {k: v for k, v in SCENARIOS.items() if k in os.environ["SCENARIOS"].split(",")}


def main():
    binary = os.path.join(bench.ROOT, "target", "release", "http-server")
    results = {(t, name): [] for t in THREADS for name in list(SCENARIOS) + ["fairness"]}
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data")
        os.mkdir(data)
        for r in range(bench.ROUNDS):
            for t in THREADS:
                server = bench.Server(
                    "ours",
                    bench.OURS_PORT,
                    [binary, "--port", str(bench.OURS_PORT), "--directory", data, "--quiet",
                     "--threads", str(t)],
                    lambda pid: [pid],
                )
                server.start()
                try:
                    for name, (args, path, lua) in SCENARIOS.items():
                        got = bench.wrk(server, args, path, lua, tmp)
                        results[(t, name)].append(got)
                        print(f"round {r + 1} threads {t} {name}: {got['rate']:.0f} req/s, "
                              f"{1e6 / got['per_cpu_s']:.1f} us CPU/req, {got['errors']} errors",
                              flush=True)
                    results[(t, "fairness")].append(bench.fairness(server, 1000))
                finally:
                    server.stop()
    print()
    print("| threads | " + " | ".join(f"{n}: req/s, us CPU/req" for n in SCENARIOS)
          + " | 1000 conns: answered, slowest first answer |")
    print("|---" * (len(SCENARIOS) + 2) + "|")
    for t in THREADS:
        cells = []
        for name in SCENARIOS:
            runs = results[(t, name)]
            rate = statistics.median(x["rate"] for x in runs)
            us = statistics.median(1e6 / x["per_cpu_s"] for x in runs)
            cells.append(f"{rate:.0f}, {us:.1f}")
        fair = results[(t, "fairness")]
        answered = min(int(f["answered"]) for f in fair)
        slowest = max(float(f["slowest_first_answer_s"]) for f in fair)
        cells.append(f"{answered}/1000, {slowest:.3f} s")
        print(f"| {t} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
