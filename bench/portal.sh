#!/usr/bin/env bash
# Portal page latency of idv over a large session table. Run from the repo root:
#   bash bench/portal.sh
#
# For each backend (SQLite by default; PostgreSQL too with BENCH_BACKENDS="sqlite postgres", in
# a fresh database the script creates and drops): loads the example workflows with
# `idv workflow apply` (which also creates the schema), seeds BENCH_SESSIONS sessions straight
# into the database with the search benchmark's SQL (bench/sql/seed_sessions_<backend>.sql: 4
# workflows, 6 statuses, one session a second ending now; the session counters are kept by the
# database's own triggers as the rows go in), runs ANALYZE, starts the release `idv serve`,
# signs in to the portal as a browser does (GET / for the CSRF cookie and field, POST
# /portal/login) and measures with bench/portal_measure.py, one request after another over one
# keep-alive connection, BENCH_REQUESTS times each after 20 unmeasured ones:
#   the dashboard `/` (the last 14 days, and the longest range, 366 days);
#   the sessions list `/portal/sessions` (or, when this build answers 404 there, the searches it
#   makes: POST /api/sessions/search first page, filtered by status, filtered by workflow);
#   a session's page `/portal/sessions/{id}` (or GET /api/sessions/{id}).
# Prints p50/p99 beside the targets and keeps the report and raw figures in
# bench/out/portal-<UTC timestamp>/ (the report also in bench/out/portal.txt). See bench/README.md.
#
# Knobs (environment): BENCH_SESSIONS (1000000), BENCH_BACKENDS ("sqlite"), BENCH_REQUESTS (300),
# BENCH_PG (postgres://postgres@127.0.0.1:5432).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BENCH="$ROOT/bench"

SESSIONS=${BENCH_SESSIONS:-1000000}
BACKENDS=${BENCH_BACKENDS:-sqlite}
REQUESTS=${BENCH_REQUESTS:-300}
PG_BASE=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
# The example KYC holds 60 % of the seeded sessions (their step, ONBOARDING, is its first).
WORKFLOW_ID=6a1f3c2e-8d4b-4f7a-b0c9-5e2d1a7f3b84

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT="$BENCH/out/portal-$STAMP"
mkdir -p "$OUT"

# say, die, cleanup on exit, server_alive.
source "$BENCH/lib.sh"

[[ "$SESSIONS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_SESSIONS must be a positive integer"
[[ "$REQUESTS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_REQUESTS must be a positive integer"
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
say "building the release binary"
cargo build --release -p idv
BIN="$TARGET_DIR/release/idv"
[[ -x "$BIN" ]] || die "no binary at $BIN after the build"

# ---------------------------------------------------------------- 2. helpers
WORK=$(mktemp -d "${TMPDIR:-/tmp}/idv-bench-portal.XXXXXX")
ADMIN_PW="bench-$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
PDEATH=()
if command -v setpriv >/dev/null && setpriv --help 2>&1 | grep -q -- --pdeathsig; then PDEATH=(setpriv --pdeathsig TERM); fi
T0=$(($(date +%s) * 1000 - SESSIONS * 1000))


prepare() { # backend
    BACKEND=$1
    DATA="$WORK/$BACKEND-data"
    mkdir -p "$DATA"
    case "$BACKEND" in
        sqlite) DB_URL="sqlite://$DATA/idv.db" ;;
        postgres)
            PG_DB="idv_bench_portal_$(date +%s)_$$"
            psql "$PG_BASE/postgres" -v ON_ERROR_STOP=1 -qc "CREATE DATABASE \"$PG_DB\"" >/dev/null ||
                { PG_DB=""; die "could not create a database at $PG_BASE (set BENCH_PG)"; }
            DB_URL="$PG_BASE/$PG_DB"
            ;;
    esac
    export IDV_CONFIG__DATABASE__URL="$DB_URL" IDV_CONFIG__STORAGE__FS__PATH="$DATA"
    say "[$BACKEND] loading the example workflows (creates the schema)"
    (cd "$DATA" && "$BIN" workflow apply "$ROOT/examples/kyc/workflow.yaml" "$ROOT/examples/kyc/locale.yaml" >/dev/null)
    (cd "$DATA" && "$BIN" workflow apply "$ROOT/examples/age_gate/workflow.yaml" "$ROOT/examples/age_gate/locale.yaml" >/dev/null)
    say "[$BACKEND] seeding $SESSIONS sessions straight into the database (the counters follow by trigger)"
    seed_sessions
    unset IDV_CONFIG__DATABASE__URL IDV_CONFIG__STORAGE__FS__PATH
}


# ---------------------------------------------------------------- 3. measure each backend
for b in $BACKENDS; do
    prepare "$b"
    serve_release
    say "[$BACKEND] $REQUESTS requests each, one at a time"
    python3 "$BENCH/portal_measure.py" "$BASE" "$ADMIN_PW" "$SESSIONS" "$WORKFLOW_ID" "$REQUESTS" \
        "$OUT/$BACKEND.json" || { server_alive "during the measurement"; die "the measurement failed"; }
    server_alive "during the measurement"
    stop_server
    drop_db
done

# ---------------------------------------------------------------- 4. report
say "report"
python3 - "$OUT" "$SESSIONS" "$REQUESTS" "$BACKENDS" <<'PY' | tee "$OUT/report.txt"
import json, os, subprocess, sys
out, sessions, requests, backends = sys.argv[1:5]
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True).stdout.strip()
print("idv portal pages, %s sessions per backend, %s requests each, one at a time, commit %s%s, %s cores"
      % (format(int(sessions), ","), requests, commit, " + uncommitted changes" if dirty else "", os.cpu_count()))
print("(time from sending the request to having read the whole answer, one keep-alive connection on 127.0.0.1)")
print()
# The target of each figure: (which percentile, limit in ms).
targets = {
    "dashboard": ("p99", 200), "dashboard, 366 days": ("p99", 200),
    "sessions list page": ("p99", 50), "sessions list, status 1": ("p99", 50),
    "sessions list, workflow": ("p99", 50),
    "search, first page": ("p99", 50), "search, status 1": ("p99", 50), "search, one workflow": ("p99", 50),
    "session page": ("p99", 20), "GET /api/sessions/{id}": ("p99", 20),
}
print("%-9s %-28s %9s %9s %9s  %s" % ("backend", "request", "p50 ms", "p99 ms", "max ms", "target"))
for b in backends.split():
    r = json.load(open(os.path.join(out, b + ".json")))
    seed = open(os.path.join(out, b + ".seed_s")).read().strip()
    for name, v in r.items():
        which, limit = targets.get(name, ("p99", None))
        verdict = ""
        if limit is not None:
            verdict = "%s < %d ms: %s" % (which, limit, "PASS" if v[which + "_ms"] < limit else "MISS")
        print("%-9s %-28s %9.2f %9.2f %9.2f  %s" % (b, name, v["p50_ms"], v["p99_ms"], v["max_ms"], verdict))
    print("%-9s seeding took %s s" % ("", seed))
PY
cp "$OUT/report.txt" "$BENCH/out/portal.txt"
echo
