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
# BENCH_PERF (1: also record a CPU profile of the server with perf on each backend),
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
REGULA=$(cd "$ROOT/.." && pwd)/shared/regula
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
    (cd "$SRC" && CARGO_TARGET_DIR="$TARGET_DIR" cargo build --release -p idv) || die "the build of $REV failed"
else
    say "building the release binary and the load generator"
    cargo build --release -p idv
fi
BIN="$TARGET_DIR/release/idv"
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


# "backend phase VmRSS_kB VmHWM_kB" lines in rss.txt.
rss_snap() {
    awk -v b="$BACKEND" -v p="$1" '/^VmRSS:/ {r=$2} /^VmHWM:/ {h=$2} END {print b, p, r, h}' \
        "/proc/$SERVER_PID/status" >>"$OUT/rss.txt"
}

start_server() { # backend
    BACKEND=$1
    local db_url data="$WORK/$BACKEND-data"
    mkdir -p "$data"
    case "$BACKEND" in
        sqlite) db_url="sqlite://$data/idv.db" ;;
        postgres)
            PG_DB="idv_bench_flow_$(date +%s)_$$"
            psql "$PG_BASE/postgres" -v ON_ERROR_STOP=1 -qc "CREATE DATABASE \"$PG_DB\"" >/dev/null ||
                { PG_DB=""; die "could not create a database at $PG_BASE (set BENCH_PG)"; }
            db_url="$PG_BASE/$PG_DB"
            ;;
    esac
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
    BASE="http://127.0.0.1:$PORT"
    say "[$BACKEND] starting idv serve on $BASE"
    # The load generator sends far more than the default rate limits (100 writes a minute per
    # key): rate limits are off for the benchmark (RATELIMIT__ENABLED=false).
    (
        cd "$data"
        exec "${PDEATH[@]}" env \
            IDV_CONFIG__SERVICES__API__HOST=127.0.0.1 \
            IDV_CONFIG__SERVICES__API__PORT="$PORT" \
            IDV_CONFIG__STORAGE__FS__PATH="$data" \
            IDV_CONFIG__DATABASE__URL="$db_url" \
            IDV_ADMIN_PASSWORD="$ADMIN_PW" \
            IDV_CONFIG__RATELIMIT__ENABLED=false \
            "$BIN" serve
    ) >"$WORK/$BACKEND.server.log" 2>&1 &
    SERVER_PID=$!
    for i in $(seq 1 300); do
        server_alive "during start-up"
        if curl -fsS -o /dev/null "$BASE/api/health" 2>/dev/null; then break; fi
        [[ $i -eq 300 ]] && { cat "$WORK/$BACKEND.server.log" >&2; die "no answer from $BASE/api/health in 30 s"; }
        sleep 0.1
    done
    echo "server pid $SERVER_PID is up"
    rss_snap started
}

# POST a file as admin; dies with the server's answer unless it is 200.
post_admin() { # path content-type file
    local code
    code=$(curl -sS -o "$WORK/answer" -w '%{http_code}' -X POST "$BASE$1" \
        -H "Authorization: $BASIC" -H "Content-Type: $2" -H 'Accept: application/json' --data-binary "@$3")
    [[ "$code" == 200 ]] || { cat "$WORK/answer" >&2; echo >&2; die "POST $1 answered $code (above)"; }
}

# One session by hand, so a broken flow is shown plainly before any load runs.
smoke() {
    local code sid next
    code=$(curl -sS -o "$WORK/answer" -w '%{http_code}' -X POST "$BASE/api/sessions?workflowId=$WORKFLOW_ID" \
        -H "Authorization: $BASIC" -H 'Content-Type: application/json' -H 'Accept: application/json' \
        -d '{"locale": "en"}')
    [[ "$code" == 200 ]] || { cat "$WORK/answer" >&2; echo >&2; die "creating a session answered $code (above)"; }
    sid=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["id"])' "$WORK/answer")
    code=$(curl -sS -o "$WORK/answer" -w '%{http_code}' -X POST "$BASE/api/sessions/$sid/step/ONBOARDING?type=data" \
        -H "Authorization: $BASIC" -H 'Content-Type: application/json' -H 'Accept: application/json' \
        -d '{"continue": true}')
    next=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1])).get("id"))' "$WORK/answer" 2>/dev/null || echo '?')
    [[ "$code" == 200 && "$next" == PREPARE_DOCUMENT ]] ||
        { cat "$WORK/answer" >&2; echo >&2; die "submitting ONBOARDING answered $code with id $next, not PREPARE_DOCUMENT (above)"; }
    cp "$WORK/answer" "$OUT/$BACKEND.onboarding-answer.json"
}

loadgen() { # name mode concurrency warmup [extra args...]
    local name=$1 mode=$2 conc=$3 warm=$4
    shift 4
    # On PostgreSQL the load generator also adds up the CPU of this database's backends.
    local -a db=()
    [[ -n "$PG_DB" ]] && db=(--db-match "$PG_DB")
    # In the background and waited for, so that Ctrl-C or SIGTERM runs the cleanup at once
    # rather than after the run.
    "$LOADGEN" --base "$BASE" --mode "$mode" --concurrency "$conc" --warmup "$warm" \
        --duration "$DURATION" --threads "$LG_THREADS" --server-pid "$SERVER_PID" --clk-tck "$CLK_TCK" \
        --workflow "$WORKFLOW_ID" --auth "$BASIC" "${db[@]}" "$@" >"$OUT/$BACKEND.$name.json" &
    LOADGEN_PID=$!
    wait "$LOADGEN_PID" ||
        { LOADGEN_PID=""; server_alive "during the $name run"; die "the load generator failed in the $name run"; }
    LOADGEN_PID=""
    server_alive "during the $name run"
    rss_snap "$name"
    python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
lat = " ".join("%s p50 %.2f ms p99 %.2f ms" % (k, v["p50_us"] / 1e3, v["p99_us"] / 1e3) for k, v in r["latency"].items())
cpu, d = r["cpu"], r["duration_s"]
db = ", database %.2f" % (cpu["db"]["cpu_s"] / d) if cpu.get("db") else ""
print("  %-12s %8.0f /s  %s  errors %d  (cores: server %.2f%s, load generator %.2f, machine %.2f)" % (
    sys.argv[2], r["per_s"], lat, r["error_total"], (cpu["server_cpu_s"] or 0) / d, db,
    (cpu["loadgen_cpu_s"] or 0) / d, cpu["machine_busy_cores"] or 0))
for s in r["error_samples"]:
    print("    error:", s)' "$OUT/$BACKEND.$name.json" "$name"
}

# Optional: a CPU profile of the server during one more flow run (not one of the measured
# runs: perf's sampling slows the server a little).
profile() { # concurrency
    local data="$OUT/$BACKEND.perf.data"
    say "[$BACKEND] perf record during a flow run at concurrency $1"
    perf record -q -F 499 --call-graph dwarf,16384 -o "$data" -p "$SERVER_PID" -- sleep $((WARMUP + DURATION)) \
        2>"$OUT/$BACKEND.perf.log" &
    PERF_PID=$!
    loadgen "profiled-c$1" flow "$1" "$WARMUP"
    wait "$PERF_PID" || true
    PERF_PID=""
    perf report -i "$data" --no-children --stdio --percent-limit 0.5 --sort dso,symbol -g none \
        >"$OUT/$BACKEND.perf-self.txt" 2>/dev/null || true
    perf script -i "$data" -F comm,tid,ip,sym 2>/dev/null | python3 "$BENCH/perf_breakdown.py" - \
        >"$OUT/$BACKEND.perf-breakdown.txt" || true
    rm -f "$data" # hundreds of MB; the two summaries are what is read
    sed 's/^/  /' "$OUT/$BACKEND.perf-breakdown.txt"
    echo "  (self time by function: $OUT/$BACKEND.perf-self.txt)"
}

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
    if [[ "$PERF" == 1 ]]; then profile "$(echo "$CONCURRENCY" | awk '{print $NF}')"; fi
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
