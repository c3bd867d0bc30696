"""vouch as many nodes on loopback: one throwaway PostgreSQL, three `vouch serve` nodes
sharing its URL and one VOUCH_MASTER_KEY (each with its own data directory), and nginx
in front of them (round robin, foreground, config, pid and logs in a temporary folder).

Checks, one line each, then a summary; exits non-zero on any failure and always stops
what it started:
1. a session created through one node is read and cancelled through the others (and
   through nginx);
2. a key's rate limit holds across nodes (PostgreSQL counts per clock minute);
3. each webhook event is delivered once, not once per node (three outbox workers);
4. housekeeping on three nodes expires each session once, one `verification.expired`;
5. the 1:N index stays consistent across nodes: a face enrolled through one node is
   recognised by the next verify on the others, also by a node whose index was already
   loaded (each node loads the templates added since its last one, by `seq`, before
   every search);
6. PostgreSQL stopped under load: every request fails fast with a 503 JSON error while
   it is down, and all nodes serve again within seconds of its return, without a
   restart; no answered session is lost;
7. a node killed with SIGKILL in the middle of a burst of creates through nginx loses
   no session whose create was answered 2xx.

Python 3.11 standard library only. VOUCH_BIN names the binary, NGINX the nginx binary.
"""
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

VOUCH = os.environ["VOUCH_BIN"]
NGINX = os.environ.get("NGINX", shutil.which("nginx") or "/usr/sbin/nginx")
ROOT = Path(__file__).resolve().parents[2]
PG_CLUSTER = ROOT / "scripts" / "pg-cluster.sh"
NODES = 3
WORKERS = 6  # client threads: the nodes share 2 cores in CI

# ---------------------------------------------------------------------------------
# Small runner

RESULTS = []


def check(name):
    def wrap(fn):
        def run():
            t0 = time.monotonic()
            try:
                detail = fn()
                RESULTS.append((name, True))
                print(f"PASS {name}: {detail} ({time.monotonic() - t0:.1f} s)", flush=True)
            except Exception as e:  # noqa: BLE001 - every failure is reported, then the next check runs
                RESULTS.append((name, False))
                print(f"FAIL {name}: {e} ({time.monotonic() - t0:.1f} s)", flush=True)
                if not isinstance(e, AssertionError):
                    traceback.print_exc()

        return run

    return wrap


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what, cond, timeout=30.0, step=0.1):
    end = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(step)


# ---------------------------------------------------------------------------------
# HTTP


def http(base, method, path, key=None, body=None, timeout=30):
    """(status, parsed JSON body or None, headers)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, raw, headers = r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        status, raw, headers = e.code, e.read(), e.headers
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
    return status, parsed, headers


# The eval photos beside the repository, else the stand-ins of scripts/fetch_test_data.py
# (two people only: no stranger, and bob's second photo is his first).
_EVAL = Path(os.environ["VOUCH_EVAL_DIR"]) if os.environ.get("VOUCH_EVAL_DIR") else ROOT.parent / "shared" / "eval"
if not _EVAL.is_dir():
    _EVAL = ROOT / "target" / "test-data" / "eval"
FACES = _EVAL / "faces"


def face(name):
    return "data:image/jpeg;base64," + base64.b64encode((FACES / name).read_bytes()).decode()


def biometric(base, key, path, body):
    """POST to the biometric API (x-api-key auth): (status, body, headers)."""
    data = json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method="POST")
    req.add_header("x-api-key", key)
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, json.loads(r.read()), r.headers
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null"), e.headers


def create(base, key, ref):
    return http(base, "POST", "/api/v1/verify", key, {"externalRef": ref})


# ---------------------------------------------------------------------------------
# Webhook sink: counts deliveries per webhook-id


class Sink:
    def __init__(self):
        self.lock = threading.Lock()
        self.deliveries = []  # (path, webhook-id, event, sessionId)
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {}
                with sink.lock:
                    sink.deliveries.append(
                        (self.path, self.headers.get("webhook-id"), body.get("event"), body.get("sessionId"))
                    )
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def at(self, path):
        with self.lock:
            return [d for d in self.deliveries if d[0] == path]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def exactly_once(deliveries, event, sessions):
    """Asserts one delivery of `event` per session and per webhook-id; returns counts."""
    ids = Counter(d[1] for d in deliveries)
    dup_ids = {k: n for k, n in ids.items() if n > 1}
    assert None not in ids, "a delivery without webhook-id"
    assert not dup_ids, f"webhook-ids delivered more than once: {dup_ids}"
    per_session = Counter(d[3] for d in deliveries if d[2] == event)
    missing = [s for s in sessions if per_session[s] == 0]
    twice = {s: n for s, n in per_session.items() if n > 1}
    other = Counter(d[2] for d in deliveries if d[2] != event)
    assert not missing, f"{len(missing)} sessions without {event}: {missing[:3]}"
    assert not twice, f"sessions with {event} more than once: {twice}"
    assert not other, f"unexpected events: {dict(other)}"
    assert set(per_session) == set(sessions), "events for sessions not created here"
    return len(deliveries), len(ids)


# ---------------------------------------------------------------------------------
# The cluster


class Cluster:
    def __init__(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="vouch-cluster."))
        # pg-cluster.sh hands its folder to the 'postgres' user when run as root: keep
        # it outside the private temporary folder.
        self.pg_dir = Path(tempfile.mkdtemp(prefix="vouch-cluster-pg."))
        self.pg_port = None
        self.procs = {}
        self.pg_started = False
        self.env = None
        self.node_urls = []
        self.lb = None

    # -- PostgreSQL, nodes, nginx

    def start(self, sink):
        self.pg_port = pg_port = free_port()
        url = subprocess.run(
            [str(PG_CLUSTER), "start", str(self.pg_dir), str(pg_port)],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
        self.pg_started = True
        env = {k: v for k, v in os.environ.items() if not k.startswith("VOUCH_")}
        env.update(
            VOUCH_DATABASE_URL=url,
            VOUCH_MASTER_KEY=base64.b64encode(os.urandom(32)).decode(),
            VOUCH_ALLOW_PRIVATE_WEBHOOKS="1",
            VOUCH_WEBHOOK_RETRY_BASE_MS="200",
            VOUCH_HOUSEKEEPING_INTERVAL_MS="300",
            VOUCH_MODELS_DIR=str(ROOT / "models"),  # the 1:N check enrols real faces
            VOUCH_DATA_DIR=str(self.tmp / "cli-data"),
            VOUCH_LOG_FORMAT="json",
            # The housekeeping job's "verification sessions expired" lines tell which node
            # expired what (check 4).
            RUST_LOG="warn,vouch_server::webhooks=info",
        )
        self.env = env
        self.sink = sink
        ports = [free_port() for _ in range(NODES)]
        for i, port in enumerate(ports, 1):
            node_env = dict(env, VOUCH_DATA_DIR=str(self.tmp / f"node{i}"), VOUCH_LISTEN=f"127.0.0.1:{port}")
            log = open(self.tmp / f"node{i}.log", "wb")
            self.procs[f"node{i}"] = subprocess.Popen(
                [VOUCH, "serve"], env=node_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
            self.node_urls.append(f"http://127.0.0.1:{port}")
        for i, base in enumerate(self.node_urls, 1):
            wait_until(f"node{i} ready", lambda b=base, n=i: self.alive(f"node{n}") and self.ready(b), timeout=60)
        lb_port = free_port()
        self.start_nginx(ports, lb_port)
        self.lb = f"http://127.0.0.1:{lb_port}"
        wait_until("nginx ready", lambda: self.alive("nginx") and self.ready(self.lb), timeout=20)

    def start_nginx(self, ports, lb_port):
        d = self.tmp / "nginx"
        d.mkdir()
        d.chmod(0o755)  # its workers run as 'nobody' when started as root
        servers = "\n".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=10s;" for p in ports)
        (d / "nginx.conf").write_text(
            f"""daemon off;
master_process on;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log {d}/access.log;
  client_body_temp_path {d}/client_body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  upstream vouch {{
{servers}
    keepalive 16;
  }}
  server {{
    listen 127.0.0.1:{lb_port};
    location / {{
      proxy_pass http://vouch;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      # A node that refuses the connection or times out: try the next one. A POST already
      # sent is not resent (nginx's default for non-idempotent requests).
      proxy_next_upstream error timeout;
      proxy_connect_timeout 2s;
      add_header X-Vouch-Upstream $upstream_addr always;
    }}
  }}
}}
"""
        )
        log = open(d / "stderr.log", "wb")
        self.procs["nginx"] = subprocess.Popen(
            [NGINX, "-p", str(d), "-c", str(d / "nginx.conf"), "-e", str(d / "error.log")],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def alive(self, name):
        p = self.procs[name]
        if p.poll() is not None:
            raise AssertionError(f"{name} exited with {p.returncode}; see {self.tmp}")
        return True

    @staticmethod
    def ready(base):
        try:
            return http(base, "GET", "/readyz", timeout=2)[0] == 200
        except OSError:
            return False

    def pg(self, action):
        """Stops ("down") or restarts ("up") PostgreSQL on the same data and port."""
        args = [str(PG_CLUSTER), action, str(self.pg_dir)] + ([str(self.pg_port)] if action == "up" else [])
        subprocess.run(args, check=True, capture_output=True)

    def kill9(self, name):
        os.kill(self.procs[name].pid, signal.SIGKILL)
        self.procs[name].wait()

    def stop(self, keep_logs):
        for name, p in self.procs.items():
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)  # each runs in its own session
                except ProcessLookupError:
                    pass
        for name, p in self.procs.items():
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        if self.pg_started:
            subprocess.run([str(PG_CLUSTER), "stop", str(self.pg_dir)], check=False)
        shutil.rmtree(self.pg_dir, ignore_errors=True)
        if keep_logs:
            print(f"logs kept in {self.tmp}", file=sys.stderr)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # -- CLI

    def cli(self, *args):
        out = subprocess.run([VOUCH, *args], env=self.env, check=True, capture_output=True, text=True)
        return json.loads(out.stdout)

    def org(self, name):
        return self.cli("org", "create", "--name", name)["orgId"]

    def key(self, org, name, rate_limit=100_000, webhook=None, ttl=None):
        args = ["key", "create", "--org", org, "--name", name, "--rate-limit", str(rate_limit)]
        if webhook:
            args += ["--webhook-url", self.sink.url + webhook]
        if ttl:
            args += ["--session-ttl-secs", str(ttl)]
        return self.cli(*args)["apiKey"]

    def node_of(self, headers):
        """Which node answered through nginx (1-based), from X-Vouch-Upstream."""
        up = (headers.get("X-Vouch-Upstream") or "").split(",")[-1].strip()
        for i, base in enumerate(self.node_urls, 1):
            if base.endswith(up) and up:
                return i
        return 0

    def expired_by_node(self):
        """Sessions each node's housekeeping expired, from its log."""
        counts = {}
        for i in range(1, NODES + 1):
            n = 0
            for line in (self.tmp / f"node{i}.log").read_text(errors="replace").splitlines():
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                fields = entry.get("fields", entry)  # flattened or not
                if fields.get("message") == "verification sessions expired":
                    n += int(fields.get("expired", 0))
            counts[i] = n
        return counts

    def delivered(self):
        """Webhook deliveries each live node made, from /metrics."""
        counts = {}
        for i, base in enumerate(self.node_urls, 1):
            if self.procs[f"node{i}"].poll() is not None:
                continue
            req = urllib.request.Request(base + "/metrics")
            with urllib.request.urlopen(req, timeout=5) as r:
                text = r.read().decode()
            counts[i] = sum(
                float(line.rsplit(" ", 1)[1])
                for line in text.splitlines()
                if line.startswith("vouch_webhook_attempts_total") and 'outcome="delivered"' in line
            )
        return {k: int(v) for k, v in counts.items()}


# ---------------------------------------------------------------------------------
# Checks


def main():
    sink = Sink()
    c = Cluster()
    started = time.monotonic()
    ok = False
    try:
        c.start(sink)
        print(
            f"cluster: PostgreSQL, nodes {', '.join(c.node_urls)}, nginx {c.lb} "
            f"(up in {time.monotonic() - started:.1f} s)",
            flush=True,
        )
        org = c.org("cluster")

        @check("1. session created on node 1, read on node 2, cancelled on node 3 (and via nginx)")
        def cross_node_session():
            key = c.key(org, "cross-node")
            n1, n2, n3 = c.node_urls
            s, b, _ = create(n1, key, "cross-1")
            assert s == 201 or s == 200, f"create on node 1: {s} {b}"
            sid = b["sessionId"]
            s, b, _ = http(n2, "GET", f"/api/v1/verify/{sid}", key)
            assert s == 200 and b["id"] == sid and b["status"] == "PENDING", f"read on node 2: {s} {b}"
            s, b, _ = http(n3, "POST", f"/api/v1/verify/{sid}/cancel", key)
            assert s == 200, f"cancel on node 3: {s} {b}"
            for i, base in enumerate(c.node_urls, 1):
                s, b, _ = http(base, "GET", f"/api/v1/verify/{sid}", key)
                assert s == 200 and b["status"] == "CANCELLED", f"read on node {i} after cancel: {s} {b}"
            s, _, _ = http(n1, "POST", f"/api/v1/verify/{sid}/cancel", key)
            assert s == 409, f"second cancel on node 1: {s}, want 409"
            # The same through nginx: three requests, three different nodes (round robin).
            s, b, h1 = create(c.lb, key, "cross-lb")
            assert s in (200, 201), f"create via nginx: {s} {b}"
            sid = b["sessionId"]
            s, b, h2 = http(c.lb, "GET", f"/api/v1/verify/{sid}", key)
            assert s == 200 and b["status"] == "PENDING", f"read via nginx: {s} {b}"
            s, b, h3 = http(c.lb, "POST", f"/api/v1/verify/{sid}/cancel", key)
            assert s == 200, f"cancel via nginx: {s} {b}"
            s, b, h4 = http(c.lb, "GET", f"/api/v1/verify/{sid}", key)
            assert s == 200 and b["status"] == "CANCELLED", f"read via nginx after cancel: {s} {b}"
            via = [c.node_of(h) for h in (h1, h2, h3, h4)]
            assert len(set(via[:3])) == 3, f"nginx did not spread the requests: nodes {via}"
            return f"direct 1→2→3 ok, second cancel 409; via nginx create/read/cancel/read on nodes {via}"

        @check("2. rate limit 100/min holds across nodes (150 requests via nginx)")
        def rate_limit():
            key = c.key(org, "limited", rate_limit=100)
            # PostgreSQL counts per clock minute (epoch ms floored to 60 s): keep the burst
            # inside one window.
            into = time.time() % 60
            if into > 45:
                time.sleep(60 - into + 0.3)
            t0 = time.time()
            window = t0 // 60

            def one(i):
                s, _, h = create(c.lb, key, f"rl-{i}")
                return s, c.node_of(h)

            with ThreadPoolExecutor(WORKERS) as pool:
                answers = list(pool.map(one, range(150)))
            t1 = time.time()
            assert t1 // 60 == window, "the burst crossed a clock minute; rerun"
            statuses = Counter(s for s, _ in answers)
            ok_nodes = Counter(n for s, n in answers if s in (200, 201))
            all_nodes = Counter(n for _, n in answers)
            assert statuses[201] + statuses[200] == 100, f"successes {dict(statuses)}, want 100"
            assert statuses[429] == 50, f"429s {dict(statuses)}, want 50"
            assert len(all_nodes) == NODES and 0 not in all_nodes, f"requests by node {dict(all_nodes)}"
            return (
                f"{statuses[201] + statuses[200]} created + {statuses[429]} × 429 in {t1 - t0:.1f} s; "
                f"requests by node {dict(sorted(all_nodes.items()))}, successes by node {dict(sorted(ok_nodes.items()))}"
            )

        @check("3. each webhook event delivered once, not once per node (40 created + cancelled)")
        def webhooks_once():
            key = c.key(org, "hooks", webhook="/c3")
            before = c.delivered()

            def one(i):
                s, b, _ = create(c.node_urls[i % NODES], key, f"wh-{i}")
                assert s in (200, 201), f"create {i}: {s} {b}"
                sid = b["sessionId"]
                s, b, _ = http(c.node_urls[(i + 1) % NODES], "POST", f"/api/v1/verify/{sid}/cancel", key)
                assert s == 200, f"cancel {i}: {s} {b}"
                return sid

            t0 = time.monotonic()
            with ThreadPoolExecutor(WORKERS) as pool:
                sessions = list(pool.map(one, range(40)))
            wait_until("40 cancelled webhooks", lambda: len(sink.at("/c3")) >= 40, timeout=30)
            took = time.monotonic() - t0
            time.sleep(2)  # room for a duplicate to show up
            n, ids = exactly_once(sink.at("/c3"), "verification.cancelled", sessions)
            after = c.delivered()
            by_node = {i: after[i] - before.get(i, 0) for i in after}
            assert sum(by_node.values()) == 40, f"deliveries by node (metrics) {by_node}, want 40 in all"
            return f"{n} deliveries, {ids} distinct webhook-ids, 40 sessions × 1 in {took:.1f} s; delivered by node {by_node}"

        @check("4. housekeeping on three nodes expires each session once (ttl 1 s, 30 sessions)")
        def expiry_once():
            key = c.key(org, "short", webhook="/c4", ttl=1)
            before = c.delivered()

            def one(i):
                s, b, _ = create(c.node_urls[i % NODES], key, f"exp-{i}")
                assert s in (200, 201), f"create {i}: {s} {b}"
                return b["sessionId"]

            t0 = time.monotonic()
            with ThreadPoolExecutor(WORKERS) as pool:
                sessions = list(pool.map(one, range(30)))
            # Nobody reads them: only the housekeeping sweeps can expire them.
            wait_until("30 expired webhooks", lambda: len(sink.at("/c4")) >= 30, timeout=30)
            took = time.monotonic() - t0
            time.sleep(2)
            n, ids = exactly_once(sink.at("/c4"), "verification.expired", sessions)
            for sid in sessions:
                s, b, _ = http(c.lb, "GET", f"/api/v1/verify/{sid}", key)
                assert s == 200 and b["status"] == "EXPIRED", f"read {sid}: {s} {b}"
            time.sleep(1)
            assert len(sink.at("/c4")) == n, "reading the expired sessions sent more webhooks"
            after = c.delivered()
            by_node = {i: after[i] - before.get(i, 0) for i in after}
            expired = c.expired_by_node()
            assert sum(expired.values()) == 30, f"housekeeping expired {expired} by node, want 30 in all"
            return (
                f"{n} deliveries, {ids} distinct webhook-ids, 30 sessions × 1 verification.expired "
                f"within {took:.1f} s of the first create; expired by node {expired}, "
                f"delivered by node {by_node}; all read back EXPIRED"
            )

        @check("5. 1:N index consistent across nodes (enrol on one, recognised on the others)")
        def gallery_across_nodes():
            gorg = c.org("cluster-faces")
            key = c.key(gorg, "faces")
            n1, n2, n3 = c.node_urls
            # pairs.txt: img1/img2 are one person, img8/img9 another; img24 is no one here.
            s, alice, _ = biometric(n1, key, "/api/enroll", {"image": face("img1.jpg"), "email": "alice@example.com"})
            assert s in (200, 201) and alice.get("enrolled") is True, f"enrol alice on node 1: {s} {alice}"
            seen = {}
            for i, base in ((2, n2), (3, n3)):
                s, b, _ = biometric(base, key, "/api/verify", {"image": face("img2.jpg")})
                assert s == 200 and b.get("verified") is True, f"verify alice on node {i}: {s} {b}"
                assert b["userId"] == alice["userId"], f"node {i} matched {b['userId']}, want {alice['userId']}"
                seen[i] = b.get("confidence")
            # Node 2's index is loaded now (alice only). Bob enrols through node 3.
            s, bob, _ = biometric(n3, key, "/api/enroll", {"image": face("img8.jpg"), "email": "bob@example.com"})
            assert s in (200, 201) and bob.get("enrolled") is True, f"enrol bob on node 3: {s} {bob}"
            bob_again = "img9.jpg" if (FACES / "img9.jpg").is_file() else "img5.jpg"
            for i, base in ((2, n2), (1, n1)):
                s, b, _ = biometric(base, key, "/api/verify", {"image": face(bob_again)})
                assert s == 200 and b["userId"] == bob["userId"], f"verify bob on node {i}: {s} {b}"
            stranger = (FACES / "img24.jpg").is_file()
            for i, base in enumerate(c.node_urls if stranger else [], 1):
                s, b, _ = biometric(base, key, "/api/verify", {"image": face("img24.jpg")})
                assert s == 422 and b.get("verified") is False, f"stranger on node {i}: {s} {b}"
            # Another organisation's verify on any node never sees these faces.
            other = c.key(c.org("cluster-faces-other"), "other")
            s, b, _ = biometric(n2, other, "/api/verify", {"image": face("img2.jpg")})
            assert s == 422, f"another organisation recognised alice: {s} {b}"
            return f"alice enrolled on node 1, recognised on nodes 2 and 3 (confidence {seen}); bob enrolled on 3, recognised on 2 (index already loaded) and 1; " + ("stranger 422 on all" if stranger else "no stranger photo (stand-ins)") + "; other org 422"

        @check("6. PostgreSQL stopped under load: fast 503 JSON, recovery without restarting vouch")
        def pg_restart():
            porg = c.org("cluster-pg")
            key = c.key(porg, "pg")
            stop = threading.Event()
            log = []  # (t, status, code, seconds, session id)
            lock = threading.Lock()

            def load(w):
                i = 0
                while not stop.is_set():
                    t0 = time.monotonic()
                    try:
                        s, b, _ = create(c.node_urls[(w + i) % NODES], key, f"pg-{w}-{i}")
                    except OSError as e:
                        s, b = f"error {e}", None
                    took = time.monotonic() - t0
                    with lock:
                        log.append((t0, s, (b or {}).get("code"), took, (b or {}).get("sessionId")))
                    i += 1

            threads = [threading.Thread(target=load, args=(w,)) for w in range(WORKERS)]
            for t in threads:
                t.start()
            try:
                time.sleep(1.5)
                t_down = time.monotonic()
                c.pg("down")
                time.sleep(4)
                ready_down = [c.ready(base) for base in c.node_urls]
                t_up = time.monotonic()
                c.pg("up")
                wait_until(
                    "every node ready again",
                    lambda: all(c.ready(base) for base in c.node_urls),
                    timeout=20,
                )
                back = time.monotonic() - t_up
                time.sleep(1.5)
            finally:
                stop.set()
                for t in threads:
                    t.join()
            before = [e for e in log if e[0] < t_down]
            # Requests begun a moment after the stop (the stop itself takes ~0.2 s).
            during = [e for e in log if t_down + 0.5 <= e[0] < t_up]
            after = [e for e in log if e[0] >= t_up + back]
            assert before and all(e[1] in (200, 201) for e in before), "errors before the stop"
            assert not any(ready_down), f"/readyz said ready while PostgreSQL was down: {ready_down}"
            bad = Counter((e[1], e[2]) for e in during if e[1] not in (200, 201, 503) or (e[1] == 503 and e[2] != "unavailable"))
            assert not bad, f"while down, answers other than 503 unavailable: {dict(bad)}"
            unavailable = [e for e in during if e[1] == 503]
            # How many requests fit in the 4 s depends on the machine (on 2 busy cores a
            # worker's request begun just before the stop can hold its thread for a while);
            # what matters is that those answered were fast 503s, so a handful suffices.
            assert len(unavailable) >= 5, f"only {len(unavailable)} answers while down"
            times = sorted(e[3] for e in unavailable)
            median = times[len(times) // 2]
            assert median < 0.25, f"503s are slow: median {median:.3f} s"
            assert after and all(e[1] in (200, 201) for e in after), (
                f"errors after recovery: {Counter(str(e[1]) for e in after if e[1] not in (200, 201))}"
            )
            lost = []
            for e in [e for e in log if e[1] in (200, 201)]:
                s, b, _ = http(c.lb, "GET", f"/api/v1/verify/{e[4]}", key)
                if s != 200:
                    lost.append((e[4], s))
            assert not lost, f"{len(lost)} answered sessions missing after the restart: {lost[:3]}"
            return (
                f"{len(before)} creates before; PostgreSQL down {t_up - t_down:.1f} s: {len(unavailable)} × 503 "
                f"unavailable (median {median * 1000:.0f} ms, slowest {times[-1]:.2f} s), /readyz 503 on all nodes; "
                f"all nodes ready {back:.1f} s after it came back, {len(after)} creates after, all 2xx; "
                f"every answered session read back"
            )

        @check("7. kill -9 a node during a burst of 240 creates via nginx: no answered session lost")
        def kill_node():
            korg = c.org("cluster-kill")
            key = c.key(korg, "burst")
            done = Counter()
            lock = threading.Lock()
            killed_at = []

            def one(i):
                try:
                    s, b, h = create(c.lb, key, f"kill-{i}")
                except OSError as e:
                    s, b, h = f"error {e}", None, {}
                with lock:
                    done["n"] += 1
                    if done["n"] == 80 and not killed_at:
                        c.kill9("node3")
                        killed_at.append(i)
                return i, s, (b or {}).get("sessionId"), c.node_of(h)

            t0 = time.monotonic()
            with ThreadPoolExecutor(WORKERS) as pool:
                answers = list(pool.map(one, range(240)))
            took = time.monotonic() - t0
            assert killed_at, "node 3 was not killed"
            ok = [a for a in answers if a[1] in (200, 201)]
            failed = [a for a in answers if a[1] not in (200, 201)]
            statuses = Counter(str(a[1]) for a in answers)
            # Every answered create exists, read back through nginx (two nodes left).
            lost = []
            for _, _, sid, _ in ok:
                s, b, _ = http(c.lb, "GET", f"/api/v1/verify/{sid}", key)
                if not (s == 200 and b["id"] == sid and b["status"] == "PENDING"):
                    lost.append((sid, s))
            assert not lost, f"{len(lost)} answered sessions missing: {lost[:3]}"
            # The list of the organisation: answered ones plus at most the failed ones
            # (a create can commit on the dying node before its answer is lost).
            s, b, _ = http(c.lb, "GET", "/api/v1/verify?limit=100", key)
            total = b["total"]
            assert len(ok) <= total <= len(ok) + len(failed), f"{total} sessions stored, {len(ok)} answered"
            # A node killed mid-request costs at most the requests in flight on it.
            assert len(failed) <= WORKERS, f"{len(failed)} creates failed: {dict(statuses)}"
            after = [a for a in answers if a[0] > killed_at[0] + 2 * WORKERS]
            assert after and all(a[1] in (200, 201) for a in after), "creates after the kill failed"
            late_nodes = Counter(a[3] for a in after)
            assert 3 not in late_nodes, f"nginx still sent to the dead node: {dict(late_nodes)}"
            return (
                f"{len(answers)} creates in {took:.1f} s, node 3 killed after 80: answers {dict(statuses)}; "
                f"all {len(ok)} answered sessions read back, {total} stored; "
                f"after the kill served by nodes {dict(sorted(late_nodes.items()))}"
            )

        checks = (cross_node_session, rate_limit, webhooks_once, expiry_once, gallery_across_nodes, pg_restart, kill_node)
        for fn in checks:
            fn()
        ok = all(passed for _, passed in RESULTS) and len(RESULTS) == len(checks)
    except Exception:  # noqa: BLE001 - setup failures
        traceback.print_exc()
    finally:
        c.stop(keep_logs=not ok)
        sink.stop()
    passed = sum(1 for _, p in RESULTS if p)
    print(f"{passed}/{len(RESULTS)} checks passed in {time.monotonic() - started:.1f} s", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())
