#!/usr/bin/env python3
"""Fairness and idle-cost probe for an HTTP/1.1 server on loopback.

  fairness.py HOST PORT N        open N persistent connections, send one request on each, and
                                 report how many got an answer and the slowest first answer.
  fairness.py HOST PORT N --idle SECS --pid PID
                                 then keep the N connections open and idle for SECS and report
                                 the server's CPU seconds (from /proc/PID/stat) over that time.

Bounded: every wait has a deadline; the program exits by itself.
"""
import os
import selectors
import socket
import sys
import time

DEADLINE_SECS = 10.0


def cpu_seconds(pid):
    """utime + stime of a process and its threads, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def main():
    host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    idle = float(sys.argv[sys.argv.index("--idle") + 1]) if "--idle" in sys.argv else 0.0
    pids = []
    if "--pid" in sys.argv:
        pids = [int(p) for p in sys.argv[sys.argv.index("--pid") + 1].split(",")]
    sel = selectors.DefaultSelector()
    socks = []
    for _ in range(n):
        s = socket.create_connection((host, port), timeout=DEADLINE_SECS)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        socks.append(s)
    request = f"GET /echo/abc HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    sent_at = {}
    for s in socks:
        s.sendall(request)
        sent_at[s.fileno()] = time.monotonic()
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, bytearray())
    answered = {}
    deadline = time.monotonic() + DEADLINE_SECS
    while len(answered) < n and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.1):
            s, buf = key.fileobj, key.data
            try:
                chunk = s.recv(65536)
            except BlockingIOError:
                continue
            if not chunk:
                sel.unregister(s)
                continue
            buf.extend(chunk)
            # The answer to /echo/abc ends with its 3-byte body after the head.
            if b"\r\n\r\n" in buf and buf.endswith(b"abc"):
                answered[s.fileno()] = time.monotonic() - sent_at[s.fileno()]
                sel.unregister(s)
    slowest = max(answered.values()) if answered else float("nan")
    print(f"connections={n} answered={len(answered)} slowest_first_answer_s={slowest:.3f}")
    if idle > 0 and pids:
        before = sum(cpu_seconds(p) for p in pids)
        time.sleep(idle)
        after = sum(cpu_seconds(p) for p in pids)
        print(f"idle_secs={idle:.1f} server_cpu_s={after - before:.3f}")
    for s in socks:
        s.close()
    return 0 if len(answered) == n else 1


if __name__ == "__main__":
    sys.exit(main())
