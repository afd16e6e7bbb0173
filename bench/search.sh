#!/usr/bin/env bash
# Session search benchmark of idv. Run from the repo root: bash bench/search.sh
#
# For each backend (SQLite, then PostgreSQL in a fresh database that the script creates and
# drops): loads general_kyc.yaml with `idv workflow apply` (which also creates the schema),
# seeds BENCH_SESSIONS sessions straight into the database with one SQL statement
# (bench/sql/seed_sessions_<backend>.sql: 4 workflows, 6 statuses, one session a second,
# FULL_NAME / DOCUMENT_NUMBER / AGE properties), runs ANALYZE, creates Regula's view with
# `idv view create` (namespace active-views-3, fields status, properties
# FULL_NAME,DOCUMENT_NUMBER,AGE), starts the release binary and measures with bench/loadgen
# (the closed-loop generator of session_flow.sh), all with Basic auth as Regula's load test:
#   (1) GET /api/health, the ceiling;
#   (2) POST /api/sessions/search?limit=100, status + workflow + createdAt range: req/s, p50, p99;
#   (3) the view path: GET the namespace's views, POST the first view's value as the search
#       body (?limit=BENCH_VIEW_LIMIT), GET every session returned: paths/s, p50, p99.
# Prints the figures beside the ceiling and keeps the report and the raw results in
# bench/out/search-<UTC timestamp>/ (and the report in bench/out/search.txt). See
# bench/README.md.
#
# Knobs (environment): BENCH_SESSIONS (1000000; 20000 for a quick run), BENCH_BACKENDS
# ("sqlite postgres"), BENCH_CONCURRENCY (16), BENCH_DURATION (seconds per run, 15),
# BENCH_WARMUP (seconds, 3), BENCH_VIEW_LIMIT (100), BENCH_PG (postgres://postgres@127.0.0.1:5432).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BENCH="$ROOT/bench"

SESSIONS=${BENCH_SESSIONS:-1000000}
BACKENDS=${BENCH_BACKENDS:-sqlite postgres}
CONCURRENCY=${BENCH_CONCURRENCY:-16}
DURATION=${BENCH_DURATION:-15}
WARMUP=${BENCH_WARMUP:-3}
VIEW_LIMIT=${BENCH_VIEW_LIMIT:-100}
PG_BASE=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
WORKFLOW_ID=edda0192-b890-11ef-a348-17da751a6a22
# Regula's General KYC, the workflow the figures were measured with: IDV_REGULA_DIR, or
# ../shared/regula beside the checkout.
REGULA=${IDV_REGULA_DIR:-$(cd "$ROOT/.." && pwd)/shared/regula}
WORKFLOW_YAML=${BENCH_WORKFLOW_YAML:-$REGULA/general_kyc.yaml}
LOCALE_YAML=${BENCH_LOCALE_YAML:-$REGULA/general_kyc_locale.yaml}

START_TS=$(date +%s)
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT="$BENCH/out/search-$STAMP"
mkdir -p "$OUT"

# say, die, cleanup on exit, server_alive.
source "$BENCH/lib.sh"

[[ -f "$WORKFLOW_YAML" ]] || die "no workflow file at $WORKFLOW_YAML (set BENCH_WORKFLOW_YAML)"
[[ -f "$LOCALE_YAML" ]] || die "no locale file at $LOCALE_YAML (set BENCH_LOCALE_YAML)"
[[ "$SESSIONS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_SESSIONS must be a positive integer"
command -v curl >/dev/null || die "curl is needed"
command -v python3 >/dev/null || die "python3 is needed"
for b in $BACKENDS; do
    case "$b" in
        sqlite) command -v sqlite3 >/dev/null || die "sqlite3 is needed to seed the SQLite database" ;;
        postgres) command -v psql >/dev/null || die "psql is needed for the postgres backend" ;;
        *) die "unknown backend $b (sqlite or postgres)" ;;
    esac
done


# ---------------------------------------------------------------- 1. build
TARGET_DIR=${CARGO_TARGET_DIR:-target}
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
say "building the release binary and the load generator"
cargo build --release -p idv
BIN="$TARGET_DIR/release/idv"
[[ -x "$BIN" ]] || die "no binary at $BIN after the build"
CARGO_TARGET_DIR="$TARGET_DIR" cargo build --release --locked --manifest-path "$BENCH/loadgen/Cargo.toml"
LOADGEN="$TARGET_DIR/release/idv-loadgen"
[[ -x "$LOADGEN" ]] || die "no load generator at $LOADGEN after the build"

# ---------------------------------------------------------------- 2. helpers
WORK=$(mktemp -d "${TMPDIR:-/tmp}/idv-bench-search.XXXXXX")
ADMIN_PW="bench-$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
BASIC="Basic $(printf 'admin:%s' "$ADMIN_PW" | base64 -w0)"
CLK_TCK=$(getconf CLK_TCK)
PDEATH=()
if command -v setpriv >/dev/null && setpriv --help 2>&1 | grep -q -- --pdeathsig; then PDEATH=(setpriv --pdeathsig TERM); fi

# Sessions are created one a second, ending now; the search asks for status 1 of the main
# workflow in the middle tenth of that span (about 1.7 % of all sessions match).
T0=$(($(date +%s) * 1000 - SESSIONS * 1000))
FROM=$((T0 + SESSIONS * 450))
UNTIL=$((T0 + SESSIONS * 550))
python3 - "$WORK/search.json" "$WORKFLOW_ID" "$FROM" "$UNTIL" <<'PY'
import json, sys
path, wf, lo, hi = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
json.dump({"workflows": [wf], "columns": [{"type": "property", "name": "FULL_NAME"}],
           "filter": {"op": "$and", "groups": [{"op": "$and", "conditions": [
               {"field": "workflow.id", "op": "$in", "value": [wf]},
               {"field": "status", "op": "$eq", "value": 1},
               {"field": "createdAt", "op": "$gte", "value": lo},
               {"field": "createdAt", "op": "$lt", "value": hi}]}]}}, open(path, "w"))
PY


# The seed SQL with its placeholders filled in.

prepare() { # backend: database, workflow, seeded sessions, the view
    BACKEND=$1
    DATA="$WORK/$BACKEND-data"
    mkdir -p "$DATA"
    case "$BACKEND" in
        sqlite) DB_URL="sqlite://$DATA/idv.db" ;;
        postgres)
            PG_DB="idv_bench_search_$(date +%s)_$$"
            psql "$PG_BASE/postgres" -v ON_ERROR_STOP=1 -qc "CREATE DATABASE \"$PG_DB\"" >/dev/null ||
                { PG_DB=""; die "could not create a database at $PG_BASE (set BENCH_PG)"; }
            DB_URL="$PG_BASE/$PG_DB"
            ;;
    esac
    export IDV_CONFIG__DATABASE__URL="$DB_URL" IDV_CONFIG__STORAGE__FS__PATH="$DATA"
    say "[$BACKEND] loading general_kyc.yaml (creates the schema)"
    (cd "$DATA" && "$BIN" workflow apply "$WORKFLOW_YAML" "$LOCALE_YAML")
    say "[$BACKEND] seeding $SESSIONS sessions straight into the database"
    seed_sessions
    (cd "$DATA" && "$BIN" view create --key general-kyc-key --namespace active-views-3 \
        --title 'General KYC' --workflows "$WORKFLOW_ID" --fields status \
        --properties FULL_NAME,DOCUMENT_NUMBER,AGE) >"$OUT/$BACKEND.view.json"
    unset IDV_CONFIG__DATABASE__URL IDV_CONFIG__STORAGE__FS__PATH
}


# One search by hand, so a broken query is shown plainly before any load runs.
smoke() {
    local code
    code=$(curl -sS -o "$WORK/answer" -w '%{http_code}' -X POST "$BASE/api/sessions/search?limit=100" \
        -H "Authorization: $BASIC" -H 'Content-Type: application/json' -H 'Accept: application/json' \
        --data-binary "@$WORK/search.json")
    [[ "$code" == 200 ]] || { cat "$WORK/answer" >&2; echo >&2; die "the search answered $code (above)"; }
    python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
n = len(r["items"])
print("  the search answers %d sessions of %s%s" % (n, r["total"], "+" if r.get("totalCapped") else ""))
if n == 0:
    sys.exit("the search found nothing: the seed or the query is wrong")' "$WORK/answer" || die "smoke search failed"
}

loadgen() { # name mode [extra args...]
    local name=$1 mode=$2
    shift 2
    local -a db=()
    [[ -n "$PG_DB" ]] && db=(--db-match "$PG_DB")
    "$LOADGEN" --base "$BASE" --mode "$mode" --concurrency "$CONCURRENCY" --warmup "$WARMUP" \
        --duration "$DURATION" --server-pid "$SERVER_PID" --clk-tck "$CLK_TCK" \
        --auth "$BASIC" "${db[@]}" "$@" >"$OUT/$BACKEND.$name.json" &
    LOADGEN_PID=$!
    wait "$LOADGEN_PID" ||
        { LOADGEN_PID=""; server_alive "during the $name run"; die "the load generator failed in the $name run"; }
    LOADGEN_PID=""
    server_alive "during the $name run"
    python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
lat = "  ".join("%s p50 %.2f ms p99 %.2f ms" % (k, v["p50_us"] / 1e3, v["p99_us"] / 1e3) for k, v in r["latency"].items())
cpu, d = r["cpu"], r["duration_s"]
db = ", database %.2f" % (cpu["db"]["cpu_s"] / d) if cpu.get("db") else ""
print("  %-8s %9.1f /s  %s  errors %d  (cores: server %.2f%s, load generator %.2f)" % (
    sys.argv[2], r["per_s"], lat, r["error_total"], (cpu["server_cpu_s"] or 0) / d, db,
    (cpu["loadgen_cpu_s"] or 0) / d))
for s in r["error_samples"]:
    print("    error:", s)' "$OUT/$BACKEND.$name.json" "$name"
}

# ---------------------------------------------------------------- 3. measure each backend
for b in $BACKENDS; do
    prepare "$b"
    serve_release
    smoke
    say "[$BACKEND] ${DURATION} s each at concurrency $CONCURRENCY (after ${WARMUP} s of warm-up)"
    loadgen health get --path /api/health
    loadgen search search --path /api/sessions/search?limit=100 --body-file "$WORK/search.json"
    loadgen view view-search --namespace active-views-3 --search-limit "$VIEW_LIMIT"
    stop_server
    drop_db
done

# ---------------------------------------------------------------- 4. report
say "report"
python3 - "$OUT" "$SESSIONS" "$CONCURRENCY" "$DURATION" "$VIEW_LIMIT" "$BACKENDS" <<'PY' | tee "$OUT/report.txt"
import json, os, subprocess, sys
out, sessions, conc, dur, view_limit, backends = sys.argv[1:7]
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True).stdout.strip()
print("idv session search, %s sessions per backend, concurrency %s, %s s per run, commit %s%s, %s cores"
      % (format(int(sessions), ","), conc, dur, commit, " + uncommitted changes" if dirty else "", os.cpu_count()))
print()
print("%-9s %-44s %10s %9s %9s %9s" % ("backend", "figure", "per s", "p50 ms", "p99 ms", "of health"))
for b in backends.split():
    def load(name):
        return json.load(open(os.path.join(out, "%s.%s.json" % (b, name))))
    health, search, view = load("health"), load("search"), load("view")
    seed = open(os.path.join(out, b + ".seed_s")).read().strip()
    ceiling = health["per_s"] or 1
    rows = [
        ("GET /api/health (ceiling)", health, health["latency"]["get"]),
        ("search status+workflow+range, limit 100", search, search["latency"]["search"]),
        ("view → search (limit %s) → GET each: paths" % view_limit, view, view["latency"]["path"]),
    ]
    for label, r, lat in rows:
        print("%-9s %-44s %10.1f %9.2f %9.2f %8.1f%%" % (b, label, r["per_s"], lat["p50_us"] / 1e3,
              lat["p99_us"] / 1e3, 100.0 * r["per_s"] / ceiling))
    v = view["latency"]
    print("%-9s   in the path: view p50 %.2f ms, search p50 %.2f / p99 %.2f ms, each GET p50 %.2f / p99 %.2f ms; seeding took %s s"
          % ("", v["view"]["p50_us"] / 1e3, v["search"]["p50_us"] / 1e3, v["search"]["p99_us"] / 1e3,
             v["get"]["p50_us"] / 1e3, v["get"]["p99_us"] / 1e3, seed))
    errors = health["error_total"] + search["error_total"] + view["error_total"]
    if errors:
        print("%-9s   ERRORS during the runs: %d (see %s)" % ("", errors, out))
PY
cp "$OUT/report.txt" "$BENCH/out/search.txt"
echo
echo "total time $(( $(date +%s) - START_TS )) s; report in $OUT/report.txt (and bench/out/search.txt)"
