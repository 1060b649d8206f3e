#!/usr/bin/env python3
"""Slow-client probe: SLOW clients that send one header byte per second and SILENT clients that
connect and send nothing, more of them than the server has workers; meanwhile a normal client
makes a request every 0.2 s. Reports the normal client's slowest answer, then its answer time
once the slow clients are gone.

  slow_clients.py HOST PORT [SLOW] [SILENT] [SECONDS]      (defaults: 50 50 6)

Bounded: it runs SECONDS and then closes everything.
"""
import socket
import sys
import threading
import time

host, port = sys.argv[1], int(sys.argv[2])
slow_n = int(sys.argv[3]) if len(sys.argv) > 3 else 50
silent_n = int(sys.argv[4]) if len(sys.argv) > 4 else 50
seconds = float(sys.argv[5]) if len(sys.argv) > 5 else 6.0
stop = time.monotonic() + seconds


def timed_request():
    t = time.monotonic()
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(f"GET /echo/ok HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"ok"), data
    return time.monotonic() - t


def drip(s):
    head = f"GET /echo/slow HTTP/1.1\r\nHost: {host}\r\nX-Pad: {'p' * 64}\r\n\r\n".encode()
    for b in head:
        if time.monotonic() > stop:
            return
        try:
            s.sendall(bytes([b]))
        except OSError:
            return  # the server gave up on us (408): as it should
        time.sleep(1.0)


silent = [socket.create_connection((host, port)) for _ in range(silent_n)]
slow = [socket.create_connection((host, port)) for _ in range(slow_n)]
threads = [threading.Thread(target=drip, args=(s,), daemon=True) for s in slow]
for t in threads:
    t.start()
time.sleep(0.5)
worst = 0.0
count = 0
while time.monotonic() < stop:
    worst = max(worst, timed_request())
    count += 1
    time.sleep(0.2)
for s in silent + slow:
    s.close()
time.sleep(0.5)
after = max(timed_request() for _ in range(20))
print(f"slow={slow_n} silent={silent_n} normal_requests={count} "
      f"slowest_normal_answer_s={worst:.3f} slowest_after_s={after:.3f}")
