#!/usr/bin/env python3
"""Memory of PROPFIND answers that wait on their clients (issue 16: RSS flat in the folder's size).
  usage: python3 bench/dav_held.py [SERVER [FOLDER [N]]]   e.g. ours d10000 400
SERVER is ours, apache or dufs (bench/peers.py), FOLDER one of bench/dav.py's (DATA, default
/work/peers/data/dav; run bench/dav.py once first to make them). N connections (a 4 KiB
receive buffer each) each send one `PROPFIND` with `Depth: 1` and no body, then read nothing:
the server's RSS (summed over its processes) every 100 connections, 3 s after the last, and
2 s and 10 s after they all close (with its open descriptors, to tell held answers from memory
the allocator kept).
"""
import os
import shutil
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402

DATA = os.environ.get("DATA", "/work/peers/data/dav")


def main():
    name = sys.argv[1] if len(sys.argv) > 1 else "ours"
    folder = sys.argv[2] if len(sys.argv) > 2 else "d10000"
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 400
    tmp = tempfile.mkdtemp(prefix="dav-held-")
    server = {"ours": lambda: peers.ours(DATA), "apache": lambda: peers.apache(DATA, tmp),
              "dufs": lambda: peers.dufs(DATA, "--allow-all", "--log-format=")}[name]()
    server.start()
    socks = []

    def rss():
        return peers.status_kib(server.pids(), "VmRSS") / 1024

    def fds():
        return sum(len(os.listdir(f"/proc/{p}/fd")) for p in server.pids())

    try:
        print(f"{name} {folder}: idle {rss():.1f} MiB", flush=True)
        path = f"{server.prefix}/{folder}/"
        req = (f"PROPFIND {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nDepth: 1\r\n"
               "Content-Length: 0\r\n\r\n").encode()
        for i in range(n):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.settimeout(5)
            s.connect(("127.0.0.1", server.port))
            s.sendall(req)
            socks.append(s)
            if (i + 1) % 100 == 0:
                time.sleep(1)
                print(f"{i + 1} held: {rss():.1f} MiB", flush=True)
        time.sleep(3)
        print(f"3 s after the last: {rss():.1f} MiB, open descriptors {fds()}", flush=True)
        for s in socks:
            s.close()
        socks = []
        for wait, label in [(2, 2), (8, 10)]:
            time.sleep(wait)
            print(f"{label} s after closing: {rss():.1f} MiB, open descriptors {fds()}", flush=True)
    finally:
        for s in socks:
            s.close()
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
