#!/usr/bin/env python3
"""Creates N Pre-Fill flows for the validate benchmark and prints their correlation ids.

    make_flows.py --base http://127.0.0.1:18080 --token TOKEN --count 80000
"""
import argparse
import http.client
import json
import sys
import threading
import urllib.parse


def worker(base, token, count, out, lock):
    u = urllib.parse.urlparse(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    body = json.dumps({"flowType": "mobile", "phoneNumber": "2015550101"})
    headers = {"content-type": "application/json", "authorization": f"Bearer {token}"}
    ids = []
    for _ in range(count):
        conn.request("POST", "/v3/start", body, headers)
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            sys.exit(f"/v3/start answered {resp.status}: {data[:200]!r}")
        ids.append(json.loads(data)["correlationId"])
    with lock:
        out.extend(ids)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--base", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--count", type=int, default=80000)
    p.add_argument("--workers", type=int, default=8)
    a = p.parse_args()
    out, lock = [], threading.Lock()
    per = a.count // a.workers
    ts = [threading.Thread(target=worker, args=(a.base, a.token, per, out, lock)) for _ in range(a.workers)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print("\n".join(out))


if __name__ == "__main__":
    main()
