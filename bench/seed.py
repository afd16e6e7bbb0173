#!/usr/bin/env python3
"""Seeds an idv server for bench/session_read.sh. Standard library only.

Loads the bench workflow, mints an API key, then creates N sessions, each with two raw file
uploads and one data submission (10 values -> 10 properties, the JSON stored as a third file,
session moved to its final step). Worker threads each keep one HTTP/1.1 keep-alive connection.

Writes into --out: token (the API key), ids.txt (one session id a line), seed.json (timings).
Exits non-zero when any request fails, after printing the first failures (request and answer).
"""

import argparse
import base64
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse

STEP = "COLLECT"


class Failure(Exception):
    pass


class Client:
    """One keep-alive connection; reconnects once when the server closed it."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.conn = None

    def request(self, method, path, body=None, headers=None, expect=200):
        headers = dict(headers or {})
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                resp = self.conn.getresponse()
                data = resp.read()
            except (http.client.HTTPException, ConnectionError, OSError) as e:
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    raise Failure(f"{method} {path}: connection error: {e!r}")
                continue
            if resp.getheader("connection", "").lower() == "close":
                self.conn.close()
                self.conn = None
            if resp.status != expect:
                shown = body if isinstance(body, str) else (body[:80] if body else b"")
                raise Failure(
                    f"{method} {path} (body {len(body or b'')} bytes: {shown!r}) -> "
                    f"HTTP {resp.status}: {data[:600].decode('utf-8', 'replace')}"
                )
            ctype = resp.getheader("content-type", "")
            return json.loads(data) if "json" in ctype and data else data
        raise AssertionError("unreachable")


def step_values(i):
    """The 10 values of session i: str/int/decimal/bool mixed, matching bench_workflow.yaml."""
    return {
        "p0": f"name-{i}",
        "p1": i,
        "p2": round(i / 7.0, 4),
        "p3": i % 2 == 0,
        "p4": f"doc-{i:08d}",
        "p5": i * 3 + 1,
        "p6": 0.5 + (i % 100) / 200.0,
        "p7": i % 3 == 0,
        "p8": "nationality-" + "xyz"[i % 3],
        "p9": 1900 + i % 120,
    }


def seed_one(client, api_auth, workflow_id, i):
    hdr = {"Authorization": api_auth, "Accept": "application/json"}
    s = client.request(
        "POST",
        f"/api/sessions?workflowId={urllib.parse.quote(workflow_id)}",
        body=json.dumps({"metadata": {"externalUserId": f"bench-{i}"}}),
        headers={**hdr, "Content-Type": "application/json"},
    )
    sid = s["id"]
    for n in (0, 1):
        blob = bytes(((i + n + k) % 251) for k in range(300 + 37 * n))
        client.request(
            "POST",
            f"/api/sessions/{sid}/step/{STEP}?type=file&name={'ab'[n]}.bin",
            body=blob,
            headers={**hdr, "Content-Type": "application/octet-stream"},
        )
    client.request(
        "POST",
        f"/api/sessions/{sid}/step/{STEP}?type=data",
        body=json.dumps(step_values(i)),
        headers={**hdr, "Content-Type": "application/json"},
    )
    return sid


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--base", required=True, help="http://127.0.0.1:PORT")
    ap.add_argument("--admin-password", required=True)
    ap.add_argument("--workflow", required=True, help="workflow YAML file")
    ap.add_argument("--sessions", type=int, default=10000)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--out", required=True, help="folder for token, ids.txt, seed.json")
    a = ap.parse_args()

    u = urllib.parse.urlsplit(a.base)
    host, port = u.hostname, u.port
    basic = "Basic " + base64.b64encode(f"admin:{a.admin_password}".encode()).decode()
    admin = Client(host, port)

    with open(a.workflow, "rb") as f:
        wf = admin.request(
            "POST", "/api/workflows", body=f.read(),
            headers={"Authorization": basic, "Content-Type": "application/yaml", "Accept": "application/json"},
        )
    workflow_id = wf["id"]
    key = admin.request(
        "POST", "/api/apikey",
        body=json.dumps({"name": "bench", "permissions": ["session_all:read", "session_all:write"]}),
        headers={"Authorization": basic, "Content-Type": "application/json", "Accept": "application/json"},
    )
    token = key["token"]
    api_auth = f"ApiKey {token}"

    ids = [None] * a.sessions
    failures = []
    lock = threading.Lock()
    next_i = [0]
    done = [0]

    def worker():
        c = Client(host, port)
        while True:
            with lock:
                if failures or next_i[0] >= a.sessions:
                    return
                i = next_i[0]
                next_i[0] += 1
            try:
                ids[i] = seed_one(c, api_auth, workflow_id, i)
            except Exception as e:  # noqa: BLE001 - report whatever broke, stop the others
                with lock:
                    failures.append(f"session #{i}: {e}")
                return
            with lock:
                done[0] += 1

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(a.workers)]
    for t in threads:
        t.start()
    last = t0
    while any(t.is_alive() for t in threads):
        time.sleep(0.5)
        now = time.monotonic()
        if now - last >= 10:
            last = now
            print(f"  seeded {done[0]}/{a.sessions} sessions ({now - t0:.0f} s)", flush=True)
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0

    if failures:
        print(f"SEEDING FAILED after {done[0]} sessions:", file=sys.stderr)
        for f in failures[:5]:
            print("  " + f, file=sys.stderr)
        sys.exit(1)

    # Check one seeded session has what the benchmark claims to read.
    sample = admin.request("GET", f"/api/sessions/{ids[-1]}", headers={"Authorization": api_auth, "Accept": "application/json"})
    n_props = len(sample.get("properties") or {})
    n_files = len(sample.get("files") or [])
    body_len = len(json.dumps(sample))

    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "token"), "w") as f:
        f.write(token)
    with open(os.path.join(a.out, "ids.txt"), "w") as f:
        f.write("\n".join(ids) + "\n")
    requests = a.sessions * 4
    info = {
        "sessions": a.sessions,
        "workers": a.workers,
        "requests": requests,
        "seconds": round(elapsed, 2),
        "requests_per_second": round(requests / elapsed, 1),
        "workflow_id": workflow_id,
        "sample_session": ids[-1],
        "sample_properties": n_props,
        "sample_files": n_files,
        "sample_current_step": sample.get("currentStep"),
        "sample_json_bytes": body_len,
    }
    with open(os.path.join(a.out, "seed.json"), "w") as f:
        json.dump(info, f, indent=2)
    print(
        f"seeded {a.sessions} sessions ({requests} requests, {a.workers} workers) in {elapsed:.1f} s "
        f"= {requests / elapsed:.0f} req/s; sample session: {n_props} properties, {n_files} files, "
        f"step {sample.get('currentStep')}, {body_len} bytes of JSON"
    )
    if n_props < 10 or n_files < 3:
        print(f"SEEDING CHECK FAILED: sample session {ids[-1]} has {n_props} properties and {n_files} files "
              f"(expected >= 10 and >= 3): {json.dumps(sample)[:1500]}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
