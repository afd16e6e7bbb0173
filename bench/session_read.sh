#!/usr/bin/env bash
# Session-read benchmark of idv. Run from the repo root: bash bench/session_read.sh
#
# Builds the release binary, installs wrk and oha when missing, starts `idv serve` (SQLite +
# local folder) on a free loopback port in a temporary folder, seeds sessions, then measures
# on that one server: /api/health peak req/s, GET /api/sessions/{id} peak req/s with ApiKey
# and with Basic, p50/p99 at half the ApiKey peak, and the server's peak RSS. Prints a report
# with PASS/MISS per target and keeps it, with the raw tool output, in bench/out/.
# See bench/README.md. Knobs (environment): BENCH_SESSIONS (10000), BENCH_DURATION (seconds,
# 20), BENCH_CONNECTIONS (32), BENCH_THREADS (2), BENCH_SEED_WORKERS (8), BENCH_PERF (1: also a
# CPU profile of the server during one more ApiKey run, with perf).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BENCH="$ROOT/bench"

SESSIONS=${BENCH_SESSIONS:-10000}
DURATION=${BENCH_DURATION:-20}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
THREADS=${BENCH_THREADS:-2}
SEED_WORKERS=${BENCH_SEED_WORKERS:-8}
OHA_FALLBACK_VERSION=1.16.0 # known to build with rustc 1.95

START_TS=$(date +%s)
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT="$BENCH/out/session_read-$STAMP"
mkdir -p "$OUT"

say() { printf '\n== %s\n' "$*"; }
die() { printf 'session_read.sh: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- cleanup: never leave the server
WORK=""
SERVER_PID=""
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.2
        done
        if kill -0 "$SERVER_PID" 2>/dev/null; then
            echo "server $SERVER_PID did not stop on SIGTERM in 10 s; killing it" >&2
            kill -KILL "$SERVER_PID" 2>/dev/null || true
        fi
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [[ -n "$WORK" && -d "$WORK" ]]; then
        [[ -f "$WORK/server.log" ]] && cp "$WORK/server.log" "$OUT/server.log" 2>/dev/null || true
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- 1. build
say "building the release binary"
cargo build --release -p idv
TARGET_DIR=${CARGO_TARGET_DIR:-target}
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
BIN="$TARGET_DIR/release/idv"
[[ -x "$BIN" ]] || die "no binary at $BIN after the build"

# ---------------------------------------------------------------- 2. load tools
SUDO=""
if [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null; then SUDO="sudo"; fi
if ! command -v wrk >/dev/null; then
    say "installing wrk (apt-get)"
    $SUDO apt-get install -y wrk || { $SUDO apt-get update && $SUDO apt-get install -y wrk; }
fi
export PATH="$PATH:${CARGO_HOME:-$HOME/.cargo}/bin"
if ! command -v oha >/dev/null; then
    say "installing oha (cargo install; takes about ten minutes on 2 cores)"
    cargo install oha --locked || cargo install oha --locked --version "$OHA_FALLBACK_VERSION"
fi
command -v wrk >/dev/null || die "wrk is not installed"
command -v oha >/dev/null || die "oha is not installed"
command -v curl >/dev/null || die "curl is needed"
command -v python3 >/dev/null || die "python3 is needed"
# oha's JSON flag: -j in older releases, --output-format json in newer ones.
if oha --help 2>&1 | grep -q -- '--output-format'; then OHA_JSON=(--output-format json); else OHA_JSON=(-j); fi

# ---------------------------------------------------------------- 3. start the server
# How busy the machine is without us (other builds, the hypervisor), over 3 s.
BG0=$(head -1 /proc/stat | cut -d' ' -f3-)
sleep 3
BG1=$(head -1 /proc/stat | cut -d' ' -f3-)
BACKGROUND=$(awk -v b="$BG0" -v a="$BG1" -v t="$(getconf CLK_TCK)" 'BEGIN {
    split(b, B, " "); split(a, A, " ")
    busy = (A[1] - B[1] + A[2] - B[2] + A[3] - B[3] + A[6] - B[6] + A[7] - B[7]) / t
    idle = (A[4] - B[4] + A[5] - B[5]) / t; steal = (A[8] - B[8]) / t; all = busy + idle + steal
    printf "%.2f cores busy, %.1f%% stolen", busy / 3, (all > 0 ? 100 * steal / all : 0) }')
echo "before the server starts, the machine has $BACKGROUND (over 3 s)"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/idv-bench.XXXXXX")
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
ADMIN_PW="bench-$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
BASE="http://127.0.0.1:$PORT"

# setpriv --pdeathsig: should this script itself be killed outright (no trap runs), the server
# still gets SIGTERM.
PDEATH=()
if command -v setpriv >/dev/null && setpriv --help 2>&1 | grep -q -- --pdeathsig; then PDEATH=(setpriv --pdeathsig TERM); fi

say "starting idv serve on $BASE (working folder $WORK)"
# wrk sends far more than the default rate limits (1000 reads a minute per key and address):
# rate limits are off for the benchmark (RATELIMIT__ENABLED=false).
(
    cd "$WORK"
    exec "${PDEATH[@]}" env \
        IDV_CONFIG__SERVICES__API__HOST=127.0.0.1 \
        IDV_CONFIG__SERVICES__API__PORT="$PORT" \
        IDV_CONFIG__STORAGE__FS__PATH="$WORK/data" \
        IDV_CONFIG__DATABASE__URL="sqlite://$WORK/idv.db" \
        IDV_ADMIN_PASSWORD="$ADMIN_PW" \
        IDV_CONFIG__RATELIMIT__ENABLED=false \
        "$BIN" serve
) >"$WORK/server.log" 2>&1 &
SERVER_PID=$!

for i in $(seq 1 300); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        cat "$WORK/server.log" >&2
        die "the server exited during start-up (log above)"
    fi
    if curl -fsS -o /dev/null "$BASE/api/health" 2>/dev/null; then break; fi
    [[ $i -eq 300 ]] && { cat "$WORK/server.log" >&2; die "no answer from $BASE/api/health in 30 s"; }
    sleep 0.1
done
echo "server pid $SERVER_PID is up"

# Memory of the server after each phase: "phase VmRSS_kB VmHWM_kB" lines in rss.txt.
rss_snap() {
    awk -v p="$1" '/^VmRSS:/ {r=$2} /^VmHWM:/ {h=$2} END {print p, r, h}' "/proc/$SERVER_PID/status" >>"$OUT/rss.txt"
}
rss_snap started

server_alive() {
    kill -0 "$SERVER_PID" 2>/dev/null && return 0
    local rc=0 how
    wait "$SERVER_PID" 2>/dev/null || rc=$?
    SERVER_PID=""
    if ((rc > 128)); then how="killed by signal $((rc - 128)) ($(kill -l $((rc - 128)) 2>/dev/null || echo '?'))"; else how="exit status $rc"; fi
    tail -50 "$WORK/server.log" >&2
    die "the server died $1: $how; last log lines above"
}

# ---------------------------------------------------------------- 4. seed
say "seeding $SESSIONS sessions (10 properties, 3 files each) with $SEED_WORKERS workers"
python3 "$BENCH/seed.py" --base "$BASE" --admin-password "$ADMIN_PW" \
    --workflow "$BENCH/bench_workflow.yaml" --sessions "$SESSIONS" --workers "$SEED_WORKERS" \
    --out "$OUT/seed" || { server_alive "while seeding"; die "seeding failed (see above)"; }
server_alive "after seeding"
rss_snap seeded
TOKEN=$(cat "$OUT/seed/token")
rm -f "$OUT/seed/token" # a secret of a throw-away server, but no need to keep it
IDS="$OUT/seed/ids.txt"
sed "s#^#$BASE/api/sessions/#" "$IDS" >"$WORK/urls.txt"
BASIC="Basic $(printf 'admin:%s' "$ADMIN_PW" | base64 -w0)"

# ---------------------------------------------------------------- 5. measure
CLK_TCK=$(getconf CLK_TCK)
# A CPU snapshot: the server's ticks (user+system), then the machine's /proc/stat cpu fields.
cpu_snap() {
    printf '%s %s\n' "$(awk '{print $14 + $15}' "/proc/$SERVER_PID/stat")" "$(head -1 /proc/stat | cut -d' ' -f3-)"
}
CPU_ENTRIES=()
record_cpu() { # name snapshot_before seconds
    local after
    after=$(cpu_snap)
    CPU_ENTRIES+=("$(awk -v name="$1" -v b="$2" -v a="$after" -v d="$3" -v t="$CLK_TCK" 'BEGIN {
        split(b, B, " "); split(a, A, " ")
        srv = (A[1] - B[1]) / t
        busy = (A[2] - B[2] + A[3] - B[3] + A[4] - B[4] + A[7] - B[7] + A[8] - B[8]) / t
        idle = (A[5] - B[5] + A[6] - B[6]) / t
        steal = (A[9] - B[9]) / t
        all = busy + idle + steal
        printf "\"%s\": {\"server_cpu_seconds\": %.2f, \"server_cores\": %.3f, \"machine_busy_cores\": %.3f, \"steal_pct\": %.2f}",
            name, srv, srv / d, busy / d, (all > 0 ? 100 * steal / all : 0)
    }')")
}

run_wrk() { # name auth-header-or-empty ids-file-or-empty url
    local name=$1 auth=$2 ids=$3 url=$4 before
    local -a hdr=(-H "Accept: application/json")
    [[ -n "$auth" ]] && hdr+=(-H "Authorization: $auth")
    before=$(cpu_snap)
    BENCH_IDS="$ids" wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s --latency \
        -s "$BENCH/wrk_bench.lua" "${hdr[@]}" "$url" | tee "$OUT/$name.wrk.txt"
    record_cpu "$name" "$before" "$DURATION"
    server_alive "during the $name run"
    rss_snap "$name"
}

say "(warm-up) 3 s of session reads, not measured"
BENCH_IDS="$IDS" wrk -t"$THREADS" -c"$CONNECTIONS" -d3s -s "$BENCH/wrk_bench.lua" \
    -H "Authorization: ApiKey $TOKEN" "$BASE" >/dev/null

say "(a) GET /api/health, ${DURATION} s, $THREADS threads, $CONNECTIONS connections"
run_wrk health "" "" "$BASE/api/health"

say "(b) GET /api/sessions/{id} with ApiKey, ${DURATION} s, cycling over $(wc -l <"$IDS") ids"
run_wrk apikey "ApiKey $TOKEN" "$IDS" "$BASE"

say "(c) GET /api/sessions/{id} with Basic admin, ${DURATION} s"
run_wrk basic "$BASIC" "$IDS" "$BASE"

APIKEY_RPS=$(python3 -c '
import json, sys
for line in open(sys.argv[1]):
    if line.startswith("BENCH_RESULT "):
        r = json.loads(line[13:]); print(max(1, int(r["requests"] / (r["duration_us"] / 1e6) / 2)))' "$OUT/apikey.wrk.txt")

say "(d) ApiKey session reads at $APIKEY_RPS req/s (half of b) for ${DURATION} s, oha --latency-correction"
before=$(cpu_snap)
oha -z "${DURATION}s" -q "$APIKEY_RPS" --latency-correction --no-tui "${OHA_JSON[@]}" \
    -c "$CONNECTIONS" -H "Authorization: ApiKey $TOKEN" -H "Accept: application/json" \
    --urls-from-file "$WORK/urls.txt" >"$OUT/latency.oha.json"
record_cpu latency "$before" "$DURATION"
(IFS=,; printf '{%s}\n' "${CPU_ENTRIES[*]}") >"$OUT/cpu.json"
server_alive "during the latency run"
rss_snap latency

# (e) peak RSS of the server over the whole run.
awk '/^VmHWM:/ {print $2}' "/proc/$SERVER_PID/status" >"$OUT/vmhwm_kb"

# Optional (BENCH_PERF=1): a CPU profile of the server during one more ApiKey run (not one of
# the measured runs), by function and by thread.
if [[ "${BENCH_PERF:-0}" == 1 ]]; then
    say "(profile) ApiKey session reads under perf record for 10 s"
    perf record -q -F 499 -g -o "$OUT/perf.data" -p "$SERVER_PID" -- sleep 10 2>/dev/null &
    PERF_PID=$!
    BENCH_IDS="$IDS" wrk -t"$THREADS" -c"$CONNECTIONS" -d10s -s "$BENCH/wrk_bench.lua" \
        -H "Authorization: ApiKey $TOKEN" "$BASE" >/dev/null
    wait "$PERF_PID" || true
    perf report -i "$OUT/perf.data" --no-children --stdio --percent-limit 0.5 --sort dso,symbol -g none \
        >"$OUT/perf-self.txt" 2>/dev/null || true
    perf report -i "$OUT/perf.data" --no-children --stdio --percent-limit 0.3 --sort comm,symbol -g none \
        >"$OUT/perf-threads.txt" 2>/dev/null || true
    echo "profile: $OUT/perf-self.txt, $OUT/perf-threads.txt"
fi

# ---------------------------------------------------------------- 6. report
python3 - "$OUT/meta.json" <<EOF
import json, subprocess, sys
def sh(c):
    try:
        return subprocess.run(c, shell=True, capture_output=True, text=True).stdout.strip()
    except Exception:
        return "?"
meta = {
    "date": sh("date -u +%Y-%m-%dT%H:%M:%SZ"),
    "commit": sh("git -C '$ROOT' rev-parse --short HEAD") + (" + uncommitted changes" if sh("git -C '$ROOT' status --porcelain --untracked-files=no") else ""),
    "binary": "$BIN",
    "cores": int(sh("nproc") or 0),
    "mem": sh("awk '/MemTotal/ {printf \"%.0f GiB\", \$2/1048576}' /proc/meminfo"),
    "cpu": sh("awk -F': ' '/model name/ {print \$2; exit}' /proc/cpuinfo"),
    "wrk": sh("wrk -v 2>&1 | head -1 | cut -d' ' -f1-2"),
    "oha": sh("oha --version"),
    "port": $PORT,
    "threads": $THREADS,
    "connections": $CONNECTIONS,
    "duration": "${DURATION} s",
    "latency_rate": $APIKEY_RPS,
    "ids": int(sh("wc -l < '$IDS'") or 0),
    "background": "$BACKGROUND",
}
json.dump(meta, open(sys.argv[1], "w"), indent=2)
EOF

say "report"
python3 "$BENCH/report.py" "$OUT" | tee "$OUT/report.txt"
cp "$OUT/report.txt" "$BENCH/out/session_read.txt"
echo
echo "total time $(( $(date +%s) - START_TS )) s; report in $OUT/report.txt (and bench/out/session_read.txt)"
