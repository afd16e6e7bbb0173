"""Prepares the document schemathesis runs over, for scripts/api_fuzz.sh.

Usage: prepare.py URL KEY WORKFLOW_ID HOOK_URL OUT.json

Reads GET /api/openapi.json from the running server and writes it to OUT.json with three kinds
of additions, none of which removes or changes what the server documents:

- real records to start from: it creates a session, a user, an API key, a webhook, an asset
  and a view through the API, and gives each `{id}`-like path parameter the matching record's
  id as its `example` (the examples phase then reaches the handlers' logic, not only 404s;
  the other phases still generate their own values);
- the query parameters the route summaries name but the document does not declare
  (`workflowId` on session starts, `type` on step submissions), with examples;
- webhook URLs in request examples point at HOOK_URL (the loopback stand-in), so no example
  names a host outside this machine;
- OpenAPI links from each create operation to the operations on the record it made
  (`$response.body#/id`), so the stateful phase chains create -> read/change/delete.
"""

import json
import sys
import urllib.request

url, key, workflow_id, hook_url, out = sys.argv[1:6]


def call(method, path, body=None, content_type="application/json"):
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url + path, data=data, method=method)
    req.add_header("authorization", f"ApiKey {key}")
    req.add_header("accept", "application/json")
    if data is not None:
        req.add_header("content-type", content_type)
    with urllib.request.urlopen(req, timeout=30) as resp:
        text = resp.read()
    return json.loads(text) if text else None


doc = call("GET", "/api/openapi.json")

session = call("POST", f"/api/sessions?workflowId={workflow_id}", {"metadata": {"externalUserId": "fuzz"}, "locale": "en"})
user = call("POST", "/api/security/users", {"name": "fuzz-operator", "password": "a long fuzz password", "roles": ["verifier"]})
apikey = call("POST", "/api/apikey", {"name": "fuzz-extra", "permissions": ["session_all:read"]})
webhook = call("POST", "/api/webhooks", {"url": hook_url, "events": ["session.completed"]})
call("PUT", "/api/v1/assets/fuzz-logo.png", b"\x89PNG\r\n\x1a\nfuzz", "image/png")
call("POST", "/api/views/namespaces/fuzz/key/main", {"title": "Fuzz", "workflows": [workflow_id], "columns": []})

# Path parameter examples: (path prefix, parameter) -> value.
examples = {
    ("/api/sessions/", "id"): session["id"],
    ("/api/sessions/", "step"): "START",
    ("/api/security/users/", "id"): user["id"],
    ("/api/apikey/", "id"): apikey["id"],
    ("/api/webhooks/", "id"): webhook["id"],
    ("/api/workflows/", "id"): workflow_id,
    ("/api/v1/assets/", "assetId"): "fuzz-logo.png",
    ("/api/views/namespaces/", "namespace"): "fuzz",
    ("/api/views/namespaces/", "key"): "main",
}
query = {
    ("post", "/api/sessions"): [("workflowId", True, {"type": "string"}, workflow_id)],
    ("post", "/api/v1/deeplink"): [("workflowId", True, {"type": "string"}, workflow_id)],
    ("get", "/api/deeplink/qrcode"): [("workflowId", True, {"type": "string"}, workflow_id)],
    ("post", "/api/sessions/{id}/step/{step}"): [("type", False, {"type": "string", "enum": ["data", "file"]}, "data")],
}

paths = doc["paths"]
for path, ops in paths.items():
    for method, op in ops.items():
        params = op.setdefault("parameters", [])
        for p in params:
            if p.get("in") != "path":
                continue
            for (prefix, name), value in examples.items():
                if path.startswith(prefix) and p["name"] == name:
                    p["example"] = value
        for name, required, schema, example in query.get((method, path), []):
            params.append({"name": name, "in": "query", "required": required, "schema": schema, "example": example})
        if not params:
            del op["parameters"]

# Request examples name the loopback stand-in instead of example.com.
for ops in paths.values():
    for op in ops.values():
        media = op.get("requestBody", {}).get("content", {}).get("application/json", {})
        if isinstance(media.get("example"), dict) and "url" in media["example"]:
            media["example"]["url"] = hook_url

# Links: POST X (or POST X with a body making a record) -> every operation on X/{param}...
creates = {"/api/sessions", "/api/security/users", "/api/apikey", "/api/webhooks", "/api/security/roles"}
links_made = 0
for base in creates:
    op = paths.get(base, {}).get("post")
    if op is None:
        continue
    links = {}
    for path, ops in paths.items():
        if not path.startswith(base + "/{"):
            continue
        first = path[len(base) + 2 : path.index("}", len(base))]
        for method, target in ops.items():
            links[target["operationId"]] = {
                "operationId": target["operationId"],
                "parameters": {first: "$response.body#/id"},
            }
    # The create operation's success answer (200, or 201 where the route says Created).
    success = next((s for s in ("200", "201") if s in op["responses"]), None)
    if links and success:
        op["responses"][success]["links"] = links
        links_made += len(links)

with open(out, "w", encoding="utf-8") as f:
    json.dump(doc, f)
print(f"prepared: session {session['id']}, user {user['id']}, key {apikey['id']}, webhook {webhook['id']}; {links_made} links")
