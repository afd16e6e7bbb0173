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

# Starts the release `idv serve` of $BIN for $BACKEND on a free loopback port, in $DATA with
# $DB_URL and $ADMIN_PW (log in $WORK/$BACKEND.server.log); sets PORT, BASE and SERVER_PID.
serve_release() {
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
    BASE="http://127.0.0.1:$PORT"
    say "[$BACKEND] starting idv serve on $BASE"
    # One credential drives the whole load, so rate limits (rateLimit, on by default) are off.
    (
        cd "$DATA"
        exec "${PDEATH[@]}" env \
            IDV_CONFIG__SERVICES__API__HOST=127.0.0.1 \
            IDV_CONFIG__SERVICES__API__PORT="$PORT" \
            IDV_CONFIG__STORAGE__FS__PATH="$DATA" \
            IDV_CONFIG__DATABASE__URL="$DB_URL" \
            IDV_CONFIG__RATELIMIT__ENABLED=false \
            IDV_ADMIN_PASSWORD="$ADMIN_PW" \
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
}

# The seed SQL of bench/sql/seed_sessions_<backend>.sql for $SESSIONS sessions: 4 workflows
# ($WORKFLOW_ID and three others), 6 statuses, one session a second from $T0.
seed_sql() { # backend
    sed -e "s/:wf0/'$WORKFLOW_ID'/g" -e "s/:wf/'bench-wf-'/g" -e "s/:t0/$T0/g" -e "s/:n/$SESSIONS/g" \
        "$BENCH/sql/seed_sessions_$1.sql"
}

# Seeds $SESSIONS sessions of $BACKEND straight into its database ($DATA/idv.db or $DB_URL),
# then ANALYZE; sets SEED_S (seconds) and writes it to $OUT/$BACKEND.seed_s. On PostgreSQL the
# session counters' trigger is off during the one big insert (it would append a counter row or
# two per session) and the counters are counted after it, one row per key.
seed_sessions() {
    local t0=$(date +%s.%N)
    case "$BACKEND" in
        sqlite)
            { echo "PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; BEGIN;"; seed_sql sqlite; echo "COMMIT; ANALYZE;"; } |
                sqlite3 -bail "$DATA/idv.db" >/dev/null
            ;;
        postgres)
            # The counter trigger (migrations 0013, 0014) is off during the insert and the
            # counters are counted after it, one row per key, as a compaction leaves them.
            { echo "BEGIN; ALTER TABLE sessions DISABLE TRIGGER session_counts;"; seed_sql postgres
              echo "ALTER TABLE sessions ENABLE TRIGGER session_counts;"
              echo "DELETE FROM session_day_counts; DELETE FROM session_step_counts;"
              echo "INSERT INTO session_day_counts (day, workflow_id, status, n)
                    SELECT created_at / 86400000, workflow_id, status, COUNT(*) FROM sessions
                    GROUP BY created_at / 86400000, workflow_id, status;
                    INSERT INTO session_step_counts (workflow_id, step, reached, here)
                    SELECT s.workflow_id, r.step, COUNT(*),
                           COUNT(*) FILTER (WHERE r.step = s.current_step)
                    FROM sessions AS s
                    CROSS JOIN LATERAL unnest(session_reached(s.steps, s.current_step)) AS r(step)
                    GROUP BY s.workflow_id, r.step;"
              echo "COMMIT;"; } | psql "$DB_URL" -v ON_ERROR_STOP=1 -q >/dev/null
            psql "$DB_URL" -v ON_ERROR_STOP=1 -qc "ANALYZE" >/dev/null
            ;;
    esac
    local t1=$(date +%s.%N)
    SEED_S=$(python3 -c "print(round($t1 - $t0, 1))")
    echo "seeded in $SEED_S s"
    echo "$SEED_S" >"$OUT/$BACKEND.seed_s"
}
