#!/usr/bin/env bash
# Checks-engine benchmark. Run from the repo root: bash bench/checks.sh
#
# Builds `idv-checks` (release), writes a synthetic document set with `idv-checks synth` (TD3
# passports and TD1 cards, clean and degraded, with a known MRZ), starts `idv-checks serve`
# pinned to one core (taskset -c 0) on a free loopback port, then posts every document to
# POST /api/process one at a time and reports: time per document (p50/p95/max, ms), MRZ
# accuracy (documents read with every check verified and the right data), documents reported
# verified with wrong data (must be 0), and the engine's peak RSS (VmHWM), each beside its
# ceiling. Needs the models (scripts/install_checks.sh). The report and the raw figures are kept
# in bench/out/. Knobs (environment): BENCH_DOCS (40), IDV_CHECKS_MODELS.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BENCH="$ROOT/bench"

DOCS=${BENCH_DOCS:-40}
MAX_MS_PER_DOC=300   # ceiling: one document on one core
MAX_RSS_MB=500       # ceiling: the engine's peak RSS

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT="$BENCH/out/checks-$STAMP"
mkdir -p "$OUT"

say() { printf '\n== %s\n' "$*"; }
die() { printf 'checks.sh: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- cleanup: never leave the engine
WORK=""
ENGINE_PID=""
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n "$ENGINE_PID" ]] && kill -0 "$ENGINE_PID" 2>/dev/null; then
        kill -TERM "$ENGINE_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$ENGINE_PID" 2>/dev/null || break
            sleep 0.2
        done
        kill -0 "$ENGINE_PID" 2>/dev/null && kill -KILL "$ENGINE_PID" 2>/dev/null || true
        wait "$ENGINE_PID" 2>/dev/null || true
    fi
    if [[ -n "$WORK" && -d "$WORK" ]]; then
        [[ -f "$WORK/engine.log" ]] && cp "$WORK/engine.log" "$OUT/engine.log" 2>/dev/null || true
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

command -v python3 >/dev/null || die "python3 is needed"
command -v taskset >/dev/null || die "taskset (util-linux) is needed"

# ---------------------------------------------------------------- 1. build
say "building idv-checks (release)"
cargo build --release -p idv-checks
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN="$TARGET/release/idv-checks"
[[ -x "$BIN" ]] || die "$BIN not found"

WORK=$(mktemp -d)

# ---------------------------------------------------------------- 2. the synthetic set
say "writing $DOCS synthetic documents"
"$BIN" synth --out "$WORK/set" --count "$DOCS"

# ---------------------------------------------------------------- 3. the engine, on one core
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
say "starting idv-checks serve on 127.0.0.1:$PORT (taskset -c 0)"
taskset -c 0 "$BIN" serve --port "$PORT" >"$WORK/engine.log" 2>&1 &
ENGINE_PID=$!
for _ in $(seq 1 300); do
    if python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$PORT/api/ping', timeout=1)" 2>/dev/null; then
        break
    fi
    kill -0 "$ENGINE_PID" 2>/dev/null || { cat "$WORK/engine.log" >&2; die "the engine exited"; }
    sleep 0.2
done

# ---------------------------------------------------------------- 4. one document at a time
say "posting each document to POST /api/process"
python3 - "$PORT" "$WORK/set" "$OUT/documents.jsonl" <<'PY'
import base64, json, sys, time, urllib.request

port, folder, out = sys.argv[1], sys.argv[2], sys.argv[3]
samples = json.load(open(f"{folder}/expected.json"))
with open(out, "w") as log:
    for s in samples:
        image = base64.b64encode(open(f"{folder}/{s['file']}", "rb").read()).decode()
        body = json.dumps({
            "processParam": {"scenario": "FullProcess"},
            "List": [{"ImageData": {"image": image}, "light": 6, "page_idx": 0}],
        }).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/process", data=body,
                                     headers={"Content-Type": "application/json"})
        started = time.perf_counter()
        with urllib.request.urlopen(req, timeout=120) as r:
            response = json.load(r)
        ms = (time.perf_counter() - started) * 1000
        containers = response["ContainerList"]["List"]
        status = next(c["Status"] for c in containers if c["result_type"] == 33)
        text = next((c["Text"] for c in containers if c["result_type"] == 36), None)
        mrz = None
        if text:
            mrz = next((f["value"] for f in text["fieldList"] if f["fieldType"] == 51), None)
        portrait = any(c["result_type"] == 37 for c in containers)
        log.write(json.dumps({
            "file": s["file"], "ms": round(ms, 1),
            "verified": status["detailsOptical"]["mrz"] == 1,
            "correct": mrz == "^".join(s["mrz"]),
            "portrait": portrait,
            "degradation": s["degradation"],
        }) + "\n")
PY

RSS_KB=$(awk '/VmHWM/ {print $2}' "/proc/$ENGINE_PID/status")

# ---------------------------------------------------------------- 5. report
python3 - "$OUT/documents.jsonl" "$RSS_KB" "$MAX_MS_PER_DOC" "$MAX_RSS_MB" <<'PY' | tee "$OUT/report.txt"
import json, sys

rows = [json.loads(l) for l in open(sys.argv[1])]
rss_mb = int(sys.argv[2]) / 1024
max_ms, max_rss = float(sys.argv[3]), float(sys.argv[4])
times = sorted(r["ms"] for r in rows)
pick = lambda q: times[min(len(times) - 1, int(q * len(times)))]
n = len(rows)
read = sum(1 for r in rows if r["verified"] and r["correct"])
wrong = sum(1 for r in rows if r["verified"] and not r["correct"])
portraits = sum(1 for r in rows if r["portrait"])
mark = lambda ok: "PASS" if ok else "MISS"
print(f"documents                      {n}")
print(f"time per document p50          {pick(0.50):8.1f} ms")
print(f"time per document p95          {pick(0.95):8.1f} ms   ceiling {max_ms:.0f} ms  {mark(pick(0.95) <= max_ms)}")
print(f"time per document max          {times[-1]:8.1f} ms")
print(f"MRZ read and verified          {read}/{n} ({read / n * 100:.1f} %)")
print(f"verified with wrong data       {wrong}   ceiling 0  {mark(wrong == 0)}")
print(f"portrait cropped               {portraits}/{n}")
print(f"engine peak RSS (VmHWM)        {rss_mb:8.1f} MB   ceiling {max_rss:.0f} MB  {mark(rss_mb <= max_rss)}")
PY

# ---------------------------------------------------------------- 6. face match
# ==== FACE MATCH SECTION ====
# The Face API figures (POST /api/match on the same engine) belong here: the engine still runs
# on $PORT (pid $ENGINE_PID) and the report folder is $OUT.
# ==== END FACE MATCH SECTION ====

say "report kept in $OUT"
