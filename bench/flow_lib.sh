# The server and load-generator helpers of the benchmarks that drive general_kyc.yaml's first
# step (session_flow.sh, webhooks.sh). Source it after lib.sh, with BIN, LOADGEN, WORK, OUT,
# PG_BASE, ADMIN_PW, BASIC, WORKFLOW_ID, DURATION, LG_THREADS, CLK_TCK and PDEATH set.
# SERVER_ENV (an array of NAME=VALUE) adds settings to the next start_server.

SERVER_ENV=()

# "backend phase VmRSS_kB VmHWM_kB" lines in rss.txt.
rss_snap() {
    awk -v b="$BACKEND" -v p="$1" '/^VmRSS:/ {r=$2} /^VmHWM:/ {h=$2} END {print b, p, r, h}' \
        "/proc/$SERVER_PID/status" >>"$OUT/rss.txt"
}

start_server() { # backend [again: start on the data and database of the last start]
    BACKEND=$1
    local db_url data="$WORK/$BACKEND-data"
    mkdir -p "$data"
    case "$BACKEND" in
        sqlite) db_url="sqlite://$data/idv.db" ;;
        postgres) if [[ "${2:-}" == again && -n "$PG_DB" ]]; then db_url="$PG_BASE/$PG_DB"; else
            PG_DB="idv_bench_flow_$(date +%s)_$$"
            psql "$PG_BASE/postgres" -v ON_ERROR_STOP=1 -qc "CREATE DATABASE \"$PG_DB\"" >/dev/null ||
                { PG_DB=""; die "could not create a database at $PG_BASE (set BENCH_PG)"; }
            db_url="$PG_BASE/$PG_DB"
            fi ;;
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
            "${SERVER_ENV[@]}" \
            "$BIN" serve
    ) >>"$WORK/$BACKEND.server.log" 2>&1 &
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
perf_profile() { # run-name concurrency
    local data="$OUT/$BACKEND.perf.data"
    say "[$BACKEND] perf record during a flow run at concurrency $2"
    perf record -q -F 499 --call-graph dwarf,16384 -o "$data" -p "$SERVER_PID" -- sleep $((WARMUP + DURATION)) \
        2>"$OUT/$BACKEND.perf.log" &
    PERF_PID=$!
    loadgen "$1" flow "$2" "$WARMUP"
    wait "$PERF_PID" || true
    PERF_PID=""
    perf report -i "$data" --no-children --stdio --percent-limit 0.5 --sort dso,symbol -g none \
        >"$OUT/$BACKEND.perf-self.txt" 2>/dev/null || true
    # The same by thread: the SQLite writer's share is a limit of its own (one thread).
    perf report -i "$data" --no-children --stdio --percent-limit 0.3 --sort comm,symbol -g none \
        >"$OUT/$BACKEND.perf-threads.txt" 2>/dev/null || true
    perf script -i "$data" -F comm,tid,ip,sym 2>/dev/null | python3 "$BENCH/perf_breakdown.py" - \
        >"$OUT/$BACKEND.perf-breakdown.txt" || true
    # Hundreds of MB; the summaries are what is read (BENCH_PERF_KEEP=1 keeps it).
    [[ "${BENCH_PERF_KEEP:-0}" == 1 ]] || rm -f "$data"
    sed 's/^/  /' "$OUT/$BACKEND.perf-breakdown.txt"
    echo "  (self time by function: $OUT/$BACKEND.perf-self.txt; by thread: $OUT/$BACKEND.perf-threads.txt)"
}
