"""What the end-to-end test runs with: paths, names, addresses, counts and times."""

import os
import re
import socket
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("HTTP_SERVER_BIN", os.path.join(ROOT, "target/release/http-server"))
NGINX_CONF = os.path.join(ROOT, "deploy/nginx.conf")
UNITS = [os.path.join(ROOT, "deploy", u) for u in ("http-server.service", "http-server@.service")]
DURATION = float(os.environ.get("E2E_DURATION", "20"))
SEED = int(os.environ.get("E2E_SEED", str(int(time.time()))))
KEEP = os.environ.get("E2E_KEEP", os.path.join(ROOT, "target/e2e"))

DOMAIN = "files.example.com"  # server_name in deploy/nginx.conf, --allow-host of the instances
CURL_SOURCE = "127.0.0.5"  # the HTTP/2 clients (curl) connect from here
PYTHON_SOURCE = "127.0.0.6"  # the HTTP/1.1 clients (http.client) from here
ATTACKER_SOURCE = "127.0.0.7"  # the wrong passwords of the failed-login check
PROXY_ADDR = "127.0.0.1"  # nginx reaches the instances from here: their --trust-proxy

# Seconds from a SIGKILL to the start again. Short, as a supervisor restarts a crashed
# container: the new instance then meets the dead one's temporary files younger than 5 s.
RESTART_GAP = float(os.environ.get("E2E_RESTART_GAP", "1"))
# nginx's upstream keepalive_timeout in the test's copy of deploy/nginx.conf, and the instances'
# --drain-idle, longer: on SIGTERM an instance keeps its idle connections until nginx has closed
# them itself, so that no request of nginx's meets a connection being closed.
UPSTREAM_KEEPALIVE = 2
DRAIN_IDLE = 3
REJOIN = 3.0  # seconds an instance is back before the other one stops (nginx fail_timeout 2 s)
CLEANUP_AGE = 5.5  # a dead instance's unlocked temporary file goes once older than 5 s

NAMES = [f"top{i:02d}.bin" for i in range(10)] + [f"deep/er/f{i:02d}.dat" for i in range(10)]
WRITERS_CURL, WRITERS_PY = 2, 2
READERS_CURL, READERS_PY = 4, 4
REQUEST_TIMEOUT = 30  # per request: curl --max-time, and the socket timeout of http.client
HARD_DEADLINE = DURATION + 90  # the whole run, whatever happens (SIGALRM)

UPLOAD_RE = re.compile(r"^\.http-server-upload-.*\.part$")
MIB = 1024 * 1024


def log(msg):
    print(f"[e2e {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
