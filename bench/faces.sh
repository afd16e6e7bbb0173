#!/usr/bin/env bash
# Face checks of the native engine (idv-checks) on one core: the release engine is started
# pinned to core 0 (`taskset -c 0`, so it runs one job at a time) with the installed models, and
#   - POST /api/match with the two photos of the same person (faces/obama.jpg, obama2.jpg);
#   - POST /api/detect with one of them;
# are each called BENCH_FACE_CALLS times (30) one after the other, then
#   - POST /api/detect with a 6000 × 5000 picture without a face (30 million pixels: decoding,
#     and both detection passes), 5 times; The client-side time per call
# (p50, p95, max, ms) and the engine's peak resident memory (VmHWM) are printed beside the
# ceilings: 300 ms per face match on one core, 500 MB peak. Figures are kept in
# bench/out/faces-<time>/.
#
# Knobs (environment): BENCH_FACE_CALLS (30), IDV_CHECKS_MODELS (the models folder).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BENCH="$ROOT/bench"
CALLS=${BENCH_FACE_CALLS:-30}
PG_BASE=""
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT="$BENCH/out/faces-$STAMP"
mkdir -p "$OUT"

# say, die, cleanup on exit (stops the engine, removes WORK).
source "$BENCH/lib.sh"

[[ "$CALLS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_FACE_CALLS must be a positive integer"
command -v taskset >/dev/null || die "taskset (util-linux) is needed to pin the engine to one core"
MODELS=${IDV_CHECKS_MODELS:-${XDG_DATA_HOME:-$HOME/.local/share}/idv-checks/models}
for f in faces/obama.jpg faces/obama2.jpg dlib_face_recognition_resnet_model_v1.dat; do
    [[ -f "$MODELS/$f" ]] || die "no $MODELS/$f: run scripts/install_checks.sh first"
done

TARGET_DIR=${CARGO_TARGET_DIR:-target}
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
say "building the release engine"
cargo build --release -p idv-checks
BIN="$TARGET_DIR/release/idv-checks"
[[ -x "$BIN" ]] || die "no binary at $BIN after the build"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/idv-bench-faces.XXXXXX")
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
say "starting idv-checks on core 0 (port $PORT)"
IDV_CHECKS_LOG=warn taskset -c 0 "$BIN" serve --port "$PORT" --models "$MODELS" >"$WORK/engine.server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 150); do
    kill -0 "$SERVER_PID" 2>/dev/null || die "the engine stopped at start: $(tail -5 "$WORK/engine.server.log")"
    # A GET on a POST route answers 405 once the engine listens.
    [[ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/api/match" || true)" == 405 ]] && break
    sleep 0.2
done
[[ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/api/match" || true)" == 405 ]] || die "the engine did not start listening in 30 s"

say "timing $CALLS calls of each"
python3 - "$BASE" "$MODELS" "$CALLS" "$SERVER_PID" "$OUT/faces.json" <<'PY'
import base64, json, os, struct, sys, time, urllib.request, zlib

base, models, calls, pid, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]

def b64(name):
    with open(f"{models}/faces/{name}", "rb") as f:
        return base64.b64encode(f.read()).decode()

def post(path, body):
    req = urllib.request.Request(base + path, data=body, headers={"content-type": "application/json"})
    start = time.perf_counter()
    with urllib.request.urlopen(req, timeout=60) as r:
        answer = json.loads(r.read())
    return (time.perf_counter() - start) * 1000.0, answer

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(p / 100.0 * len(xs) + 0.5) - 1))]

def cpu_ms():
    """The engine's user + system CPU time so far, ms."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000.0 / os.sysconf("SC_CLK_TCK")

def vm(field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")

match = json.dumps({"images": [{"index": 0, "data": b64("obama.jpg"), "type": 1},
                               {"index": 1, "data": b64("obama2.jpg"), "type": 3}]}).encode()
detect = json.dumps({"image": b64("obama.jpg")}).encode()
def png(w, h):
    """A grey-gradient RGB PNG, w x h."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\0" + bytes([(y * 255 // h)] * (3 * w)) for y in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 6)) + chunk(b"IEND", b""))

large = json.dumps({"image": base64.b64encode(png(6000, 5000)).decode()}).encode()
figures = {}
for name, path, body, n, code in [("match", "/api/match", match, calls, 0),
                                  ("detect", "/api/detect", detect, calls, 0),
                                  ("detect_30mp_no_face", "/api/detect", large, 5, 2)]:
    _, first = post(path, body)  # warm-up, not counted
    if first.get("code") != code:
        sys.exit(f"{path} answered {str(first)[:300]}")
    cpu = cpu_ms()
    times = [post(path, body)[0] for _ in range(n)]
    cpu = (cpu_ms() - cpu) / n
    figures[name] = {"calls": n, "p50_ms": pct(times, 50), "p95_ms": pct(times, 95), "max_ms": max(times),
                     "engine_cpu_ms_per_call": cpu}
similarity = post("/api/match", match)[1]["results"][0]["similarity"]
figures["match_similarity"] = similarity
figures["peak_rss_mb"] = vm("VmHWM")
figures["rss_mb"] = vm("VmRSS")
with open(out, "w") as f:
    json.dump(figures, f, indent=2)

print(f"{'call':<28}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'CPU ms':>9}   ceiling")
for name, label, ceiling in [("match", "POST /api/match (2 faces)", "300 ms per face match, one core"),
                             ("detect", "POST /api/detect (1 face)", ""),
                             ("detect_30mp_no_face", "detect, 30 MP, no face", "")]:
    f = figures[name]
    print(f"{label:<28}{f['p50_ms']:>9.1f}{f['p95_ms']:>9.1f}{f['max_ms']:>9.1f}{f['engine_cpu_ms_per_call']:>9.1f}   {ceiling}")
print("(CPU ms: the engine's CPU time per call, the part of the wall time that other work on the core does not add to)")
print(f"engine peak resident memory (VmHWM): {figures['peak_rss_mb']:.0f} MB   ceiling 500 MB")
print(f"obama / obama2 similarity: {similarity:.3f}")
PY
kill -0 "$SERVER_PID" 2>/dev/null || die "the engine stopped during the measurements"
say "figures kept in $OUT/faces.json"
