"""SQLite's data directory fills up under a running vouch.

The data directory is a small tmpfs (mounted here, so this runs as root, as CI does).
The test creates sessions, fills the file system to the last byte with a filler file
while a client keeps writing, then frees it, and checks:

1. while the disk is full, every write that fails answers 503 JSON
   (`{"error", "code": "unavailable"}`, Retry-After), never a 500 and never a hang;
   reads keep working and the log names the cause (SQLITE_FULL);
2. once space is freed, writes succeed again without restarting vouch (a transaction
   whose COMMIT failed must not leave a poisoned connection in the pool);
3. after a clean stop, `PRAGMA integrity_check` says ok and every session whose create
   was answered 2xx is stored, with nothing half-written.

Python 3.11 standard library only. VOUCH_BIN names the binary.
"""
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

VOUCH = os.environ["VOUCH_BIN"]
SIZE = "16m"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    def __init__(self, base, key):
        self.base, self.key = base, key

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.key}")
        req.add_header("Content-Type", "application/json")
        t0 = time.monotonic()
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, raw, headers = r.status, r.read(), r.headers
        except urllib.error.HTTPError as e:
            status, raw, headers = e.code, e.read(), e.headers
        took = time.monotonic() - t0
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = {"unparsed": raw[:200].decode(errors="replace")}
        return status, parsed, headers, took


def main():
    if os.geteuid() != 0:
        print("disk_full: needs root to mount a tmpfs (CI runs as root)", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="vouch-diskfull."))
    mnt = work / "mnt"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", str(mnt)], check=True)
    server = None
    ok = False
    try:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("VOUCH_")}
        env.update(
            VOUCH_DATA_DIR=str(mnt / "data"),
            VOUCH_LISTEN=f"127.0.0.1:{port}",
            VOUCH_MODELS_DIR=str(work / "no-models"),  # analysis is not under test
            RUST_LOG="warn",
        )

        def cli(*args):
            out = subprocess.run([VOUCH, *args], env=env, check=True, capture_output=True, text=True)
            return json.loads(out.stdout)

        org = cli("org", "create", "--name", "disk")["orgId"]
        key = cli("key", "create", "--org", org, "--name", "k", "--rate-limit", "1000000")["apiKey"]
        log_path = work / "serve.log"
        server = subprocess.Popen([VOUCH, "serve"], env=env, stdout=open(log_path, "wb"), stderr=subprocess.STDOUT)
        c = Client(f"http://127.0.0.1:{port}", key)
        end = time.monotonic() + 60
        while True:
            try:
                if c.call("GET", "/readyz")[0] == 200:
                    break
            except OSError:
                pass
            assert server.poll() is None, f"vouch exited: {log_path.read_text()[-2000:]}"
            assert time.monotonic() < end, "vouch did not become ready"
            time.sleep(0.1)

        answered = []  # session ids whose create was answered 2xx

        def create(ref):
            s, b, h, took = c.call("POST", "/api/v1/verify", {"externalRef": ref})
            if s in (200, 201):
                answered.append(b["sessionId"])
            return s, b, h, took

        for i in range(100):
            s, b, _, _ = create(f"before-{i}")
            assert s in (200, 201), f"create before filling: {s} {b}"

        # Fill the file system to the last byte.
        subprocess.run(["dd", "if=/dev/zero", f"of={mnt}/filler", "bs=64k"], capture_output=True)
        st = os.statvfs(mnt)
        assert st.f_bavail == 0, f"{st.f_bavail} blocks still free"

        statuses, bad, slow = Counter(), [], []
        for i in range(300):
            s, b, h, took = create(f"full-{i}")
            statuses[s] += 1
            if s not in (200, 201):
                if s != 503 or (b or {}).get("code") != "unavailable" or not h.get("Retry-After"):
                    bad.append((s, b))
            if took > 5:
                slow.append(took)
        assert not bad, f"answers other than 2xx or 503 unavailable while full: {bad[:3]}"
        assert statuses[503] >= 250, f"the full disk hardly showed: {dict(statuses)}"
        assert not slow, f"{len(slow)} requests took over 5 s"
        s, b, _, _ = c.call("GET", f"/api/v1/verify/{answered[0]}")
        assert s == 200 and b["status"] == "PENDING", f"read while full: {s} {b}"
        assert server.poll() is None, "vouch died on a full disk"
        logged = "SQLITE_FULL" in log_path.read_text(errors="replace")
        assert logged, "the log does not name the cause (SQLITE_FULL)"
        full = dict(statuses)

        os.remove(mnt / "filler")
        after = Counter()
        for i in range(100):
            s, b, _, _ = create(f"after-{i}")
            after[s] += 1
        assert after == Counter({201: 100}) or after[200] + after[201] == 100, (
            f"writes after freeing space: {dict(after)} (no restart allowed)"
        )

        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        server = None
        db_path = mnt / "data" / "vouch.db"
        db = sqlite3.connect(db_path)
        integrity = db.execute("PRAGMA integrity_check").fetchall()
        assert integrity == [("ok",)], f"integrity_check: {integrity}"
        stored = {r[0] for r in db.execute("SELECT id FROM verification_sessions")}
        missing = [sid for sid in answered if sid not in stored]
        assert not missing, f"{len(missing)} answered sessions not stored: {missing[:3]}"
        # Only answered creates are stored: a failed commit left nothing behind.
        assert len(stored) == len(answered), f"{len(stored)} stored, {len(answered)} answered"
        db.close()
        print(
            f"PASS disk full: 100 creates, then the {SIZE} data dir filled: {full} over 300 creates "
            f"(503 unavailable, cause logged); after freeing: {dict(after)} without a restart; "
            f"integrity ok, {len(stored)} sessions stored = {len(answered)} answered"
        )
        ok = True
    except AssertionError as e:
        print(f"FAIL disk full: {e}", flush=True)
    finally:
        if server is not None:
            server.kill()
            server.wait()
        subprocess.run(["umount", "-l", str(mnt)], check=False)
        if ok:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"logs kept in {work}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
