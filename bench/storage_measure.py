#!/usr/bin/env python3
"""Measures one running idv server for bench/storage.sh. Standard library only.

Reads the sessions bench/seed.py made (GET /api/sessions/{id}, then each session's first
file's bytes) with worker threads over keep-alive connections, then streams one upload of
--upload-mib MiB to a fresh session (chunked, generated on the fly) while it samples the
server's resident memory (VmRSS) and reads its peak (VmHWM) from /proc. Prints one JSON line.
"""

import argparse
import http.client
import json
import threading
import time
import urllib.parse


def proc_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def conn(host, port):
    return http.client.HTTPConnection(host, port, timeout=600)


def timed_reads(host, port, paths, auth, workers):
    """Requests every path once across `workers` threads; answers req/s."""
    lock = threading.Lock()
    todo = list(paths)
    errors = []

    def work():
        c = conn(host, port)
        while True:
            with lock:
                if not todo or errors:
                    return
                path = todo.pop()
            c.request("GET", path, headers={"Authorization": auth})
            r = c.getresponse()
            r.read()
            if r.status != 200:
                with lock:
                    errors.append(f"GET {path}: {r.status}")

    t0 = time.monotonic()
    threads = [threading.Thread(target=work) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    if errors:
        raise SystemExit("; ".join(errors[:3]))
    return round(len(paths) / elapsed, 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--base", required=True)
    ap.add_argument("--seeded", required=True, help="seed.py's --out folder")
    ap.add_argument("--pid", type=int, required=True, help="the server's process id")
    ap.add_argument("--workflow-id", required=True)
    ap.add_argument("--upload-mib", type=int, default=1024)
    ap.add_argument("--workers", type=int, default=8)
    a = ap.parse_args()
    u = urllib.parse.urlsplit(a.base)
    host, port = u.hostname, u.port
    token = open(f"{a.seeded}/token").read().strip()
    auth = f"ApiKey {token}"
    ids = [l.strip() for l in open(f"{a.seeded}/ids.txt") if l.strip()]
    seed = json.load(open(f"{a.seeded}/seed.json"))

    # Reads: the session containers (the database only), then one file each (the store).
    read_rps = timed_reads(host, port, [f"/api/sessions/{i}" for i in ids], auth, a.workers)
    c = conn(host, port)
    files = []
    for i in ids:
        c.request("GET", f"/api/sessions/{i}", headers={"Authorization": auth})
        s = json.loads(c.getresponse().read())
        url = urllib.parse.urlsplit(s["files"][0]["url"])
        files.append(url.path)
    file_rps = timed_reads(host, port, files, auth, a.workers)

    # One large upload, streamed, the server's memory watched.
    c.request("POST", f"/api/sessions?workflowId={a.workflow_id}", body="{}",
              headers={"Authorization": auth, "Content-Type": "application/json"})
    r = c.getresponse()
    sid = json.loads(r.read())["id"]
    rss_before = proc_kib(a.pid, "VmRSS")
    peak = [rss_before]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], proc_kib(a.pid, "VmRSS"))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    chunk = bytes(range(256)) * 4096  # 1 MiB

    def body():
        for _ in range(a.upload_mib):
            yield chunk

    t0 = time.monotonic()
    up = conn(host, port)
    up.request("POST", f"/api/sessions/{sid}/step/COLLECT?type=file&name=big.bin", body=body(),
               headers={"Authorization": auth, "Content-Type": "application/octet-stream"},
               encode_chunked=True)
    r = up.getresponse()
    answer = r.read()
    upload_s = time.monotonic() - t0
    done.set()
    sampler.join()
    if r.status != 200:
        raise SystemExit(f"the upload answered {r.status}: {answer[:300]!r}")
    print(json.dumps({
        "create_step_with_files_rps": seed["requests_per_second"],
        "sessions": len(ids),
        "session_read_rps": read_rps,
        "file_read_rps": file_rps,
        "upload_mib": a.upload_mib,
        "upload_mib_per_s": round(a.upload_mib / upload_s, 1),
        "rss_before_upload_mib": round(rss_before / 1024, 1),
        "rss_peak_during_upload_mib": round(peak[0] / 1024, 1),
    }))


if __name__ == "__main__":
    main()
