#!/usr/bin/env bash
# Webhook delivery benchmark of idv. Run from the repo root: bash bench/webhooks.sh
#
# Events per second from session changes to acknowledged deliveries, and the lag from the
# change to its delivery, on SQLite and on a fresh PostgreSQL database. Sessions are driven as
# in session_flow.sh (general_kyc.yaml: create, then ONBOARDING; Basic auth), which makes two
# events per session (session.created, session.step_completed). The receiver is
# bench/loadgen's idv-hook-sink on loopback: it answers 200 at once and notes each event's
# arrival; lag = arrival - the event's createdAt (stamped just before the change commits).
#
# For each backend, on one server:
#   1. ceiling: GET /api/health, and the session flow with no webhook endpoint;
#   2. live: one endpoint selecting every event; the same flow. Sessions/s beside (1), events
#      delivered per second while the flow runs, and the lag p50/p99 (at this concurrency the
#      flow makes events faster than they are delivered, so the lag is mostly queueing); then
#      the flow at concurrency BENCH_LIGHT_CONCURRENCY (2), which the deliveries keep up with:
#      the lag of the path itself;
#   3. drain: the delivery workers off (services.webhooks.enabled=false) while the flow makes a
#      backlog, then a restart with them on: how fast the backlog is delivered.
#
# Knobs (environment): BENCH_BACKENDS ("sqlite postgres"), BENCH_CONCURRENCY (16),
# BENCH_LIGHT_CONCURRENCY (2), BENCH_DURATION (seconds per run, 10), BENCH_WARMUP (3), BENCH_PG
# (postgres://postgres@127.0.0.1:5432), BENCH_PERF (1: also a CPU profile of the server during one
# more flow run with the endpoint, not one of the measured runs; BENCH_PERF_KEEP=1 keeps
# perf.data).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BENCH="$ROOT/bench"

BACKENDS=${BENCH_BACKENDS:-sqlite postgres}
CONC=${BENCH_CONCURRENCY:-16}
LIGHT=${BENCH_LIGHT_CONCURRENCY:-2}
DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-3}
LG_THREADS=1
PG_BASE=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
PERF=${BENCH_PERF:-0}
WORKFLOW_ID=edda0192-b890-11ef-a348-17da751a6a22
# Regula's General KYC, the workflow the figures were measured with: IDV_REGULA_DIR, or
# ../shared/regula beside the checkout.
REGULA=${IDV_REGULA_DIR:-$(cd "$ROOT/.." && pwd)/shared/regula}
WORKFLOW_YAML=${BENCH_WORKFLOW_YAML:-$REGULA/general_kyc.yaml}
LOCALE_YAML=${BENCH_LOCALE_YAML:-$REGULA/general_kyc_locale.yaml}

START_TS=$(date +%s)
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT="$BENCH/out/webhooks-$STAMP"
mkdir -p "$OUT"

source "$BENCH/lib.sh"

[[ -f "$WORKFLOW_YAML" ]] || die "no workflow file at $WORKFLOW_YAML (set BENCH_WORKFLOW_YAML)"
command -v curl >/dev/null || die "curl is needed"
command -v python3 >/dev/null || die "python3 is needed"
if [[ "$PERF" == 1 ]]; then command -v perf >/dev/null || die "BENCH_PERF=1 needs perf"; fi

say "building the release binary, the load generator and the webhook receiver"
TARGET_DIR=${CARGO_TARGET_DIR:-target}
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
cargo build --release -p idv
BIN="$TARGET_DIR/release/idv"
CARGO_TARGET_DIR="$TARGET_DIR" cargo build --release --locked --manifest-path "$BENCH/loadgen/Cargo.toml"
LOADGEN="$TARGET_DIR/release/idv-loadgen"
SINK="$TARGET_DIR/release/idv-hook-sink"
[[ -x "$LOADGEN" && -x "$SINK" ]] || die "the load generator or the receiver did not build"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/idv-bench-hooks.XXXXXX")
ADMIN_PW="bench-$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
BASIC="Basic $(printf 'admin:%s' "$ADMIN_PW" | base64 -w0)"
CLK_TCK=$(getconf CLK_TCK)
PDEATH=()
if command -v setpriv >/dev/null && setpriv --help 2>&1 | grep -q -- --pdeathsig; then PDEATH=(setpriv --pdeathsig TERM); fi
SINK_PID=""
trap 'if [[ -n "$SINK_PID" ]]; then kill "$SINK_PID" 2>/dev/null || true; fi; cleanup' EXIT

source "$BENCH/flow_lib.sh"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

# Starts the receiver on a new port; its JSON result goes to $OUT/$BACKEND.$1.sink.json.
start_sink() { # name [port: the last one, so the endpoint's URL stays right]
    SINK_PORT=${2:-$(free_port)}
    "$SINK" --port "$SINK_PORT" --idle 3 --max-wait 600 >"$OUT/$BACKEND.$1.sink.json" &
    SINK_PID=$!
    sleep 0.2
}

wait_sink() {
    wait "$SINK_PID" || die "the receiver failed"
    SINK_PID=""
}

create_endpoint() {
    local code
    code=$(curl -sS -o "$WORK/answer" -w '%{http_code}' -X POST "$BASE/api/webhooks" \
        -H "Authorization: $BASIC" -H 'Content-Type: application/json' \
        -d "{\"url\": \"http://127.0.0.1:$SINK_PORT/hook\", \"events\": [\"*\"]}")
    [[ "$code" == 201 ]] || { cat "$WORK/answer" >&2; die "creating the endpoint answered $code"; }
    python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["id"])' "$WORK/answer"
}

show_sink() { # name
    python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
print("  %-8s %7d events (%d sessions) in %.1f s: %8.0f events/s delivered; lag p50 %d ms, p90 %d ms, p99 %d ms, max %d ms; duplicates %d, out of order %d" % (
    sys.argv[2], r["unique"], r["sessions"], r["span_s"], r["events_per_s"], r["lag_ms"]["p50"], r["lag_ms"]["p90"],
    r["lag_ms"]["p99"], r["lag_ms"]["max"], r["duplicates"], r["out_of_order"]))' "$OUT/$BACKEND.$1.sink.json" "$1"
}

# How the attempts went so far: "<status or error> <count>" lines, straight from the database.
attempt_summary() { # name
    local q="SELECT coalesce(CAST(status_code AS TEXT), substr(error, 1, 60)) AS outcome, count(*) FROM webhook_attempts GROUP BY 1 ORDER BY 2 DESC"
    if [[ "$BACKEND" == sqlite ]]; then
        python3 -c 'import sqlite3, sys; [print("    attempts:", *r) for r in sqlite3.connect(sys.argv[1]).execute(sys.argv[2])]' \
            "$WORK/sqlite-data/idv.db" "$q" | tee "$OUT/$BACKEND.$1.attempts.txt"
    else
        psql "$PG_BASE/$PG_DB" -Atqc "$q" | sed 's/^/    attempts: /' | tee "$OUT/$BACKEND.$1.attempts.txt"
    fi
}

# Webhook deliveries go to the receiver on loopback.
SERVER_ENV=(IDV_CONFIG__OUTBOUND__ALLOWPRIVATEADDRESSES=true)

for b in $BACKENDS; do
    start_server "$b"
    post_admin /api/workflows application/yaml "$WORKFLOW_YAML"
    post_admin /api/translations application/yaml "$LOCALE_YAML"
    smoke
    say "[$BACKEND] 1. ceiling: GET /api/health, then the flow with no endpoint (${DURATION} s at concurrency $CONC)"
    loadgen health get "$CONC" "$WARMUP"
    loadgen flow-plain flow "$CONC" $((WARMUP * 2))

    say "[$BACKEND] 2. live: one endpoint taking every event, the same flow"
    start_sink live
    create_endpoint >/dev/null
    loadgen flow-hooked flow "$CONC" "$WARMUP"
    wait_sink
    show_sink live
    attempt_summary live
    if [[ "$PERF" == 1 ]]; then
        start_sink profiled "$SINK_PORT"
        perf_profile flow-profiled "$CONC"
        wait_sink
    fi
    start_sink light "$SINK_PORT"
    loadgen flow-light flow "$LIGHT" "$WARMUP"
    wait_sink
    show_sink light

    say "[$BACKEND] 3. drain: a backlog made with the delivery workers off, then delivered"
    stop_server
    SERVER_ENV=(IDV_CONFIG__OUTBOUND__ALLOWPRIVATEADDRESSES=true IDV_CONFIG__SERVICES__WEBHOOKS__ENABLED=false)
    start_server "$b" again
    loadgen flow-backlog flow "$CONC" "$WARMUP"
    stop_server
    SERVER_ENV=(IDV_CONFIG__OUTBOUND__ALLOWPRIVATEADDRESSES=true)
    start_sink drain "$SINK_PORT"
    start_server "$b" again
    wait_sink
    show_sink drain
    attempt_summary drain
    awk '/^VmHWM:/ {print "  peak RSS of the draining server: " int($2 / 1024) " MB"}' "/proc/$SERVER_PID/status"
    stop_server
    drop_db
done

echo
echo "total time $(( $(date +%s) - START_TS )) s; raw results in $OUT"
