#!/usr/bin/env python3
"""Latency of the portal's pages over one keep-alive connection (bench/portal.sh).

usage: portal_measure.py BASE ADMIN_PASSWORD SESSIONS WORKFLOW_ID REQUESTS OUT_JSON

Signs in to the portal as admin the way a browser does (GET / for the pre-login CSRF cookie and
the form's field, POST /portal/login for the session cookie), then sends each measured request
REQUESTS times, one after another, after 20 unmeasured ones, and records the time from sending
the request to having read the whole answer. Every answer must have the expected status. Pages
the server does not have (404: the sessions list or the session page not built in yet) are
replaced by the API route the page would call. Writes {name: {n, p50_ms, p99_ms, max_ms,
status, path}} to OUT_JSON and prints a line per request.
"""
import base64
import http.client
import json
import random
import re
import sys
import time
import urllib.parse

base, password, sessions, workflow, requests, out = sys.argv[1:7]
sessions, requests = int(sessions), int(requests)
url = urllib.parse.urlparse(base)
conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
basic = "Basic " + base64.b64encode(("admin:" + password).encode()).decode()


def send(method, path, headers=None, body=None):
    h = dict(headers or {})
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
        h.setdefault("Content-Type", "application/json")
    t0 = time.perf_counter()
    conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    data = r.read()
    return r.status, r.getheaders(), data, (time.perf_counter() - t0) * 1000.0


def cookie(headers, name):
    for k, v in headers:
        if k.lower() == "set-cookie" and v.startswith(name + "="):
            return v.split(";", 1)[0].split("=", 1)[1]
    return None


# Sign in as a browser does.
status, headers, page, _ = send("GET", "/")
pre = cookie(headers, "idv_portal_csrf")
field = re.search(rb'name="csrf" value="([^"]+)"', page)
if status != 200 or not pre or not field:
    sys.exit("GET / did not answer the sign-in page with a CSRF cookie and field (%d)" % status)
form = urllib.parse.urlencode({"username": "admin", "password": password, "csrf": field.group(1).decode()})
status, headers, body, _ = send("POST", "/portal/login", {
    "Content-Type": "application/x-www-form-urlencoded", "Cookie": "idv_portal_csrf=" + pre}, form)
session = cookie(headers, "idv_portal")
if status != 303 or not session:
    sys.exit("POST /portal/login answered %d without a session cookie: %s" % (status, body[:300]))
portal = {"Cookie": "idv_portal=" + session}
api = {"Authorization": basic, "Accept": "application/json"}
print("  signed in to the portal as admin")


def session_id():
    # An id bench/sql/seed_sessions_*.sql gives to a session of WORKFLOW_ID (n % 10 < 6; the
    # other three workflows are not loaded, and reading a session needs its workflow).
    while True:
        n = random.randrange(sessions)
        if n % 10 < 6:
            return "%024x" % (1099511627776 + n)


def status_filter(value):
    return {"filter": {"op": "$and", "groups": [{"op": "$and", "conditions": [
        {"field": "status", "op": "$eq", "value": value}]}]}}


workflow_filter = {"filter": {"op": "$and", "groups": [{"op": "$and", "conditions": [
    {"field": "workflow.id", "op": "$in", "value": [workflow]}]}]}}

# name, method, path (or a function giving one), headers, body, expected status, a stand-in
plan = [
    ("dashboard", "GET", "/", portal, None, 200, None),
    ("dashboard, 366 days", "GET", "/?from=%s" % time.strftime("%Y-%m-%d", time.gmtime(time.time() - 365 * 86400)),
     portal, None, 200, None),
    ("sessions list page", "GET", "/portal/sessions", portal, None, 200, [
        ("search, first page", "POST", "/api/sessions/search?limit=20", api, {}, 200),
        ("search, status 1", "POST", "/api/sessions/search?limit=20", api, status_filter(1), 200),
        ("search, one workflow", "POST", "/api/sessions/search?limit=20", api, workflow_filter, 200),
    ]),
    ("sessions list, status 1", "GET", "/portal/sessions?status=1", portal, None, 200, []),
    ("sessions list, workflow", "GET", "/portal/sessions?status=1&workflow=" + workflow, portal, None, 200, []),
    ("quick search, a session id", "GET", lambda: "/portal/sessions?q=" + session_id(), portal, None, 303, []),
    ("quick search, external user", "GET", "/portal/sessions?q=user-42", portal, None, 200, []),
    ("session page", "GET", lambda: "/portal/sessions/" + session_id(), portal, None, 200, [
        ("GET /api/sessions/{id}", "GET", lambda: "/api/sessions/" + session_id(), api, None, 200),
    ]),
]


def measure(name, method, path, headers, body, expect):
    times = []
    for i in range(20 + requests):
        p = path() if callable(path) else path
        status, _, data, ms = send(method, p, headers, body)
        if status != expect:
            sys.exit("%s: %s %s answered %d, not %d: %s" % (name, method, p, status, expect, data[:300]))
        if i >= 20:
            times.append(ms)
    times.sort()
    q = lambda f: times[min(len(times) - 1, int(round(f * (len(times) - 1))))]
    r = {"n": len(times), "p50_ms": q(0.50), "p99_ms": q(0.99), "max_ms": times[-1],
         "path": "%s %s" % (method, path() if callable(path) else path)}
    print("  %-28s n=%d  p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms" % (name, r["n"], r["p50_ms"], r["p99_ms"], r["max_ms"]))
    return r


results = {}
for name, method, path, headers, body, expect, stand_in in plan:
    p = path() if callable(path) else path
    status, _, _, _ = send(method, p, headers, body)
    if status == 404 and stand_in is not None:
        print("  %s: %s answers 404 (not in this build)%s" % (
            name, p, "; measuring the API route it calls instead" if stand_in else ""))
        for s in stand_in:
            results[s[0]] = measure(*s)
        continue
    results[name] = measure(name, method, path, headers, body, expect)
json.dump(results, open(out, "w"), indent=1)
