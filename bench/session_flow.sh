#!/usr/bin/env bash
# Session-flow benchmark of idv. Run from the repo root: bash bench/session_flow.sh
#
# The call pattern of Regula's load test: POST /api/sessions?workflowId=<general_kyc> with
# {"locale": "en"}, then POST /api/sessions/{id}/step/ONBOARDING?type=data with
# {"continue": true}, both with Basic auth (admin). One session = both answers 200 and the
# second answer's id PREPARE_DOCUMENT. For each backend (SQLite, then PostgreSQL in a fresh
# database that the script creates and drops) it starts the release binary, loads
# general_kyc.yaml and its locale over the API, measures GET /api/health as the ceiling and
# then sessions/s at each concurrency, with bench/loadgen (a small closed-loop generator that
# is not part of the workspace). Prints a report and keeps it, with the raw results, in
# bench/out/. See bench/README.md.
#
# Knobs (environment): BENCH_BACKENDS ("sqlite postgres"), BENCH_CONCURRENCY ("16 64"),
# BENCH_DURATION (seconds per run, 15), BENCH_WARMUP (seconds, 3), BENCH_LOADGEN_THREADS (1),
# BENCH_PG (postgres://postgres@127.0.0.1:5432), BENCH_TARGET (sessions/s on SQLite, 2000),
# BENCH_PERF (1: also record a CPU profile of the server with perf on each backend; BENCH_PERF_KEEP=1 keeps perf.data),
# BENCH_REV (a git revision such as HEAD: build that commit instead of the working tree).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BENCH="$ROOT/bench"

BACKENDS=${BENCH_BACKENDS:-sqlite postgres}
CONCURRENCY=${BENCH_CONCURRENCY:-16 64}
DURATION=${BENCH_DURATION:-15}
WARMUP=${BENCH_WARMUP:-3}
LG_THREADS=${BENCH_LOADGEN_THREADS:-1}
PG_BASE=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
TARGET=${BENCH_TARGET:-2000}
PERF=${BENCH_PERF:-0}
REV=${BENCH_REV:-}
BUILT=""
WORKFLOW_ID=edda0192-b890-11ef-a348-17da751a6a22
# Regula's General KYC, the workflow the figures were measured with: IDV_REGULA_DIR, or
# ../shared/regula beside the checkout.
REGULA=${IDV_REGULA_DIR:-$(cd "$ROOT/.." && pwd)/shared/regula}
WORKFLOW_YAML=${BENCH_WORKFLOW_YAML:-$REGULA/general_kyc.yaml}
LOCALE_YAML=${BENCH_LOCALE_YAML:-$REGULA/general_kyc_locale.yaml}

START_TS=$(date +%s)
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT="$BENCH/out/session_flow-$STAMP"
mkdir -p "$OUT"

# say, die, cleanup on exit, server_alive.
source "$BENCH/lib.sh"

[[ -f "$WORKFLOW_YAML" ]] || die "no workflow file at $WORKFLOW_YAML (set BENCH_WORKFLOW_YAML)"
[[ -f "$LOCALE_YAML" ]] || die "no locale file at $LOCALE_YAML (set BENCH_LOCALE_YAML)"
command -v curl >/dev/null || die "curl is needed"
command -v python3 >/dev/null || die "python3 is needed"
for b in $BACKENDS; do
    case "$b" in sqlite) ;; postgres) command -v psql >/dev/null || die "psql is needed for the postgres backend" ;;
        *) die "unknown backend $b (sqlite or postgres)" ;; esac
done
if [[ "$PERF" == 1 ]]; then command -v perf >/dev/null || die "BENCH_PERF=1 needs perf"; fi


# ---------------------------------------------------------------- 1. build
TARGET_DIR=${CARGO_TARGET_DIR:-target}
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
if [[ -n "$REV" ]]; then
    # A committed revision, exported into the target folder: the working tree may hold
    # someone's half-finished edit. Always the same folder, and only files whose content
    # changed are rewritten (rsync --checksum, no times copied), so cargo rebuilds only what a
    # new commit touched.
    BUILT=$(git -C "$ROOT" rev-parse --short "$REV^{commit}") || die "no revision $REV"
    command -v rsync >/dev/null || die "BENCH_REV needs rsync"
    SRC="$TARGET_DIR/bench-src"
    rm -rf "$SRC.new" && mkdir -p "$SRC.new" "$SRC"
    git -C "$ROOT" archive --format=tar "$BUILT" | tar -x -C "$SRC.new"
    rsync -r --checksum --delete "$SRC.new/" "$SRC/"
    rm -rf "$SRC.new"
    say "building the release binary of $REV ($BUILT) and the load generator"
    # A target folder of its own: cargo names the workspace's artifacts the same from either
    # tree, so one shared with the working tree's build would hand each the other's crates.
    (cd "$SRC" && CARGO_TARGET_DIR="$TARGET_DIR/bench-rev" cargo build --release -p idv) || die "the build of $REV failed"
    BIN="$TARGET_DIR/bench-rev/release/idv"
else
    say "building the release binary and the load generator"
    cargo build --release -p idv
    BIN="$TARGET_DIR/release/idv"
fi
[[ -x "$BIN" ]] || die "no binary at $BIN after the build"
# Its own workspace and lock file; built into the same target folder (one place to clean).
CARGO_TARGET_DIR="$TARGET_DIR" cargo build --release --locked --manifest-path "$BENCH/loadgen/Cargo.toml"
LOADGEN="$TARGET_DIR/release/idv-loadgen"
[[ -x "$LOADGEN" ]] || die "no load generator at $LOADGEN after the build"

# ---------------------------------------------------------------- 2. helpers
# How busy the machine is without us (other builds, the hypervisor), over 3 s.
BG0=$(head -1 /proc/stat | cut -d' ' -f3-)
sleep 3
BG1=$(head -1 /proc/stat | cut -d' ' -f3-)
BACKGROUND=$(awk -v b="$BG0" -v a="$BG1" -v t="$(getconf CLK_TCK)" 'BEGIN {
    split(b, B, " "); split(a, A, " ")
    busy = (A[1] - B[1] + A[2] - B[2] + A[3] - B[3] + A[6] - B[6] + A[7] - B[7]) / t
    idle = (A[4] - B[4] + A[5] - B[5]) / t; steal = (A[8] - B[8]) / t; all = busy + idle + steal
    printf "%.2f cores busy, %.1f%% stolen", busy / 3, (all > 0 ? 100 * steal / all : 0) }')
echo "before any server starts, the machine has $BACKGROUND (over 3 s)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/idv-bench-flow.XXXXXX")
ADMIN_PW="bench-$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
BASIC="Basic $(printf 'admin:%s' "$ADMIN_PW" | base64 -w0)"
CLK_TCK=$(getconf CLK_TCK)
PDEATH=()
if command -v setpriv >/dev/null && setpriv --help 2>&1 | grep -q -- --pdeathsig; then PDEATH=(setpriv --pdeathsig TERM); fi


# start_server, rss_snap, post_admin, smoke, loadgen.
source "$BENCH/flow_lib.sh"


# ---------------------------------------------------------------- 3. measure each backend
for b in $BACKENDS; do
    start_server "$b"
    post_admin /api/workflows application/yaml "$WORKFLOW_YAML"
    post_admin /api/translations application/yaml "$LOCALE_YAML"
    smoke
    rss_snap loaded
    first=1
    for c in $CONCURRENCY; do
        # The first flow run starts from a cold server: a longer unmeasured warm-up.
        warm=$WARMUP
        ((first)) && warm=$((WARMUP * 2))
        if ((first)); then
            say "[$BACKEND] GET /api/health, ${DURATION} s at concurrency $c (the ceiling)"
            loadgen "health-c$c" get "$c" "$WARMUP"
        fi
        say "[$BACKEND] create + ONBOARDING, ${DURATION} s at concurrency $c (after ${warm} s of warm-up)"
        loadgen "flow-c$c" flow "$c" "$warm"
        first=0
    done
    if [[ "$PERF" == 1 ]]; then c=$(echo "$CONCURRENCY" | awk '{print $NF}'); perf_profile "profiled-c$c" "$c"; fi
    awk '/^VmHWM:/ {print $2}' "/proc/$SERVER_PID/status" >"$OUT/$BACKEND.vmhwm_kb"
    if [[ "$BACKEND" == sqlite ]]; then
        du -sk "$WORK/$BACKEND-data" | cut -f1 >"$OUT/$BACKEND.disk_kb"
    else
        psql "$PG_BASE/$PG_DB" -Atqc "SELECT pg_database_size(current_database()) / 1024" >"$OUT/$BACKEND.disk_kb" || true
    fi
    stop_server
    drop_db
done

# ---------------------------------------------------------------- 4. report
python3 - "$OUT/meta.json" <<EOF
import json, subprocess, sys
def sh(c):
    try:
        return subprocess.run(c, shell=True, capture_output=True, text=True).stdout.strip()
    except Exception:
        return "?"
json.dump({
    "date": sh("date -u +%Y-%m-%dT%H:%M:%SZ"),
    "commit": "$BUILT" or (sh("git -C '$ROOT' rev-parse --short HEAD") + (" + uncommitted changes" if sh("git -C '$ROOT' status --porcelain --untracked-files=no") else "")),
    "binary": "$BIN",
    "cores": int(sh("nproc") or 0),
    "cpu": sh("awk -F': ' '/model name/ {print \$2; exit}' /proc/cpuinfo"),
    "backends": "$BACKENDS".split(),
    "concurrency": [int(c) for c in "$CONCURRENCY".split()],
    "duration_s": $DURATION,
    "warmup_s": $WARMUP,
    "loadgen_threads": $LG_THREADS,
    "target": $TARGET,
    "background": "$BACKGROUND",
}, open(sys.argv[1], "w"), indent=2)
EOF

say "report"
python3 "$BENCH/session_flow_report.py" "$OUT" | tee "$OUT/report.txt"
cp "$OUT/report.txt" "$BENCH/out/session_flow.txt"
echo
echo "total time $(( $(date +%s) - START_TS )) s; report in $OUT/report.txt (and bench/out/session_flow.txt)"
