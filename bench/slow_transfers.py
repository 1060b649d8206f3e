#!/usr/bin/env python3
"""Paced slow transfers: DOWNLOADS connections fetch a big file and read it slowly, UPLOADS
connections PUT a body of Content-Length 100 000 000 and send it slowly, all from one process
and one loop over non-blocking sockets (no thread or process per client).

  slow_transfers.py HOST PORT DOWNLOADS UPLOADS SECONDS [--down PATH] [--up PREFIX]
                    [--chunk BYTES] [--interval SECS]

Every INTERVAL (default 0.1 s) each connection reads or sends at most CHUNK bytes (default
10 240), so 100 KB/s a connection at most. Downloads set a small SO_RCVBUF (16 KiB before the
kernel doubles it), so the server's socket buffer fills and its transfer has to wait. The
connections are opened 200 at a time (a long burst of SYNs would only measure the accept
backlog), each on its own phase of the interval so the load is spread evenly.

Bounded: after SECONDS everything is closed and one JSON line is printed: how many connected,
how many the server closed or reset early, bytes moved, the median and lowest achieved rate
per connection (KB/s over the time it was open), and the statuses seen.
"""
import argparse
import heapq
import json
import selectors
import socket
import statistics
import time

p = argparse.ArgumentParser()
p.add_argument("host")
p.add_argument("port", type=int)
p.add_argument("downloads", type=int)
p.add_argument("uploads", type=int)
p.add_argument("seconds", type=float)
p.add_argument("--down", default="/files/100m")
p.add_argument("--up", default="/files/slow-up-")
p.add_argument("--chunk", type=int, default=10240)
p.add_argument("--interval", type=float, default=0.1)
p.add_argument("--length", type=int, default=100_000_000)
a = p.parse_args()

CONNECT_BATCH, CONNECT_GAP_S = 200, 0.1
BODY = b"u" * a.chunk


class Conn:
    __slots__ = ("n", "i", "kind", "sock", "pending", "moved", "head", "state", "opened", "ended")

    def __init__(self, n, i, kind):
        self.n, self.i, self.kind = n, i, kind  # n: place in the list; i: among its kind
        self.sock = None
        self.pending = b""  # unsent bytes of this connection's request
        self.moved = 0  # body bytes read (download) or sent (upload)
        self.head = b""  # the first bytes of the response, for its status
        self.state = "new"  # new, connecting, open, closed (by the server), error, done
        self.opened = self.ended = None


def status(c):
    line = c.head.split(b"\r\n", 1)[0].split()
    return line[1].decode() if len(line) > 1 and c.head.startswith(b"HTTP/") else None


def end(c, state, now):
    c.state, c.ended = state, now
    try:
        c.sock.close()
    except OSError:
        pass


def start_connect(c, sel, now):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if c.kind == "down":
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    s.setblocking(False)
    s.connect_ex((a.host, a.port))
    c.sock, c.state = s, "connecting"
    sel.register(s, selectors.EVENT_WRITE, c)
    host = f"Host: {a.host}:{a.port}\r\n"
    if c.kind == "down":
        c.pending = f"GET {a.down} HTTP/1.1\r\n{host}\r\n".encode()
    else:
        c.pending = (f"PUT {a.up}{c.i} HTTP/1.1\r\n{host}Content-Length: {a.length}\r\n"
                     f"Content-Type: application/octet-stream\r\n\r\n").encode()


def turn(c, now):
    """One paced step: read at most a chunk (download) or send at most a chunk (upload)."""
    s = c.sock
    try:
        if c.pending:
            n = s.send(c.pending)
            c.pending = c.pending[n:]
        if c.kind == "down":
            got = 0
            while got < a.chunk:  # a chunk a turn, even when it arrives in pieces
                data = s.recv(a.chunk - got)
                if not data:
                    return end(c, "closed", now)
                if len(c.head) < 64:
                    c.head += data[: 64 - len(c.head)]
                got += len(data)
                c.moved += len(data)
        else:
            if not c.pending and c.moved < a.length:
                n = s.send(BODY[: min(a.chunk, a.length - c.moved)])
                c.moved += n
            # An early answer (413, 408, 503) or a close shows up here.
            try:
                data = s.recv(4096)
                if not data:
                    return end(c, "closed", now)
                c.head += data[: max(0, 64 - len(c.head))]
            except BlockingIOError:
                pass
    except BlockingIOError:
        pass
    except OSError:
        end(c, "error", now)


def main():
    sel = selectors.DefaultSelector()
    kinds = [(i, "down") for i in range(a.downloads)] + [(i, "up") for i in range(a.uploads)]
    conns = [Conn(n, i, kind) for n, (i, kind) in enumerate(kinds)]
    t0 = time.monotonic()
    stop = t0 + a.seconds
    due = []  # (time, index): the next paced turn of each open connection
    next_batch, started = t0, 0
    while True:
        now = time.monotonic()
        if now >= stop:
            break
        while started < len(conns) and now >= next_batch:
            for c in conns[started:started + CONNECT_BATCH]:
                start_connect(c, sel, now)
            started += CONNECT_BATCH
            next_batch += CONNECT_GAP_S
        while due and due[0][0] <= now:
            t, i = heapq.heappop(due)
            c = conns[i]
            if c.state != "open":
                continue
            turn(c, now)
            if c.state == "open":
                heapq.heappush(due, (t + a.interval, i))
        wait = min(due[0][0] if due else stop, next_batch if started < len(conns) else stop, stop)
        for key, _ in sel.select(max(0.0, wait - time.monotonic())):
            c = key.data
            sel.unregister(key.fileobj)
            now = time.monotonic()
            err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                end(c, "error", now)
                continue
            c.state, c.opened = "open", now
            # Spread the turns over the interval by index, so they do not all fall together.
            phase = (c.n * 7919 % 1000) / 1000 * a.interval
            heapq.heappush(due, (now + phase, c.n))
    now = time.monotonic()
    for c in conns:
        if c.state == "open":
            end(c, "done", now)
        elif c.state == "connecting":
            end(c, "error", now)
    sel.close()

    out = {"downloads": a.downloads, "uploads": a.uploads, "seconds": a.seconds}
    for kind in ("down", "up"):
        cs = [c for c in conns if c.kind == kind]
        if not cs:
            continue
        rates = [c.moved / 1000 / (c.ended - c.opened) for c in cs if c.opened and c.ended > c.opened]
        statuses = {}
        for c in cs:
            s = status(c)
            if s:
                statuses[s] = statuses.get(s, 0) + 1
        out[kind] = {
            "connected": sum(1 for c in cs if c.opened),
            "open_to_the_end": sum(1 for c in cs if c.state == "done"),
            "closed_by_server": sum(1 for c in cs if c.state == "closed"),
            "errors": sum(1 for c in cs if c.state == "error"),
            "mib": round(sum(c.moved for c in cs) / (1 << 20), 1),
            "kb_s_median": round(statistics.median(rates), 1) if rates else 0,
            "kb_s_min": round(min(rates), 1) if rates else 0,
            "statuses": statuses,
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
