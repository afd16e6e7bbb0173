# Shared by the benchmarks that start `idv serve` and a load generator (session_flow.sh,
# search.sh): messages, and a cleanup that never leaves a server, a load generator, a profiler,
# a benchmark database or a temporary folder behind. Source it after setting OUT (where the
# server logs are kept) and PG_BASE; it sets the EXIT/INT/TERM traps.

say() { printf '\n== %s\n' "$*"; }
die() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; exit 1; }

# What cleanup() stops or removes; each script sets them as it goes.
WORK=""
SERVER_PID=""
PG_DB=""
LOADGEN_PID=""
PERF_PID=""
BACKEND=""

stop_server() {
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
    SERVER_PID=""
}

drop_db() {
    if [[ -n "$PG_DB" ]]; then
        psql "$PG_BASE/postgres" -v ON_ERROR_STOP=1 -qc "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" >/dev/null ||
            echo "could not drop database $PG_DB" >&2
        PG_DB=""
    fi
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    for p in "$LOADGEN_PID" "$PERF_PID"; do
        if [[ -n "$p" ]]; then
            kill -TERM "$p" 2>/dev/null || true
            wait "$p" 2>/dev/null || true
        fi
    done
    stop_server
    drop_db
    if [[ -n "$WORK" && -d "$WORK" ]]; then
        for f in "$WORK"/*.server.log; do [[ -f "$f" ]] && cp "$f" "$OUT/" 2>/dev/null; done
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Returns when the server still runs; otherwise shows its last log lines and stops the script
# saying when (`$1`) and how it ended.
server_alive() {
    kill -0 "$SERVER_PID" 2>/dev/null && return 0
    local rc=0 how
    wait "$SERVER_PID" 2>/dev/null || rc=$?
    SERVER_PID=""
    if ((rc > 128)); then how="killed by signal $((rc - 128))"; else how="exit status $rc"; fi
    tail -50 "$WORK/$BACKEND.server.log" >&2
    die "the $BACKEND server died $1: $how; last log lines above"
}
