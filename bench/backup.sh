#!/usr/bin/env bash
# Backup, restore and migration of an embedded install (SQLite and a local folder): how long
# `idv backup` takes on a seeded install while the server runs, how the server answers
# `GET /api/health` meanwhile, how long `idv restore` (with its checks) and `idv migrate` to a
# fresh PostgreSQL database take. Prints one line of figures per step.
#
# Knobs (environment): BENCH_SESSIONS (5000 sessions of bench/bench_workflow.yaml, each with
# three files, seeded over HTTP by bench/seed.py), BENCH_PG (postgres://postgres@127.0.0.1:5432).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BENCH="$ROOT/bench"
SESSIONS=${BENCH_SESSIONS:-5000}
PG_BASE=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT="$BENCH/out/backup-$STAMP"
mkdir -p "$OUT"

# say, die, cleanup on exit, serve_release.
source "$BENCH/lib.sh"

[[ "$SESSIONS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_SESSIONS must be a positive integer"
command -v curl >/dev/null || die "curl is needed"
command -v python3 >/dev/null || die "python3 is needed"
command -v psql >/dev/null || die "psql is needed"

TARGET_DIR=${CARGO_TARGET_DIR:-target}
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
say "building the release binary"
cargo build --release -p idv
BIN="$TARGET_DIR/release/idv"
[[ -x "$BIN" ]] || die "no binary at $BIN after the build"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/idv-bench-backup.XXXXXX")
ADMIN_PW="bench-$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
PDEATH=()
if command -v setpriv >/dev/null && setpriv --help 2>&1 | grep -q -- --pdeathsig; then PDEATH=(setpriv --pdeathsig TERM); fi
BACKEND=sqlite
DATA="$WORK/data"
mkdir -p "$DATA"
DB_URL="sqlite://$DATA/idv.db"
serve_release

say "seeding $SESSIONS sessions over HTTP"
python3 "$BENCH/seed.py" --base "$BASE" --admin-password "$ADMIN_PW" \
    --workflow "$BENCH/bench_workflow.yaml" --sessions "$SESSIONS" --out "$WORK/seed" >/dev/null

idv_at() { # data folder, then the command's arguments
    local data=$1
    shift
    env IDV_CONFIG__STORAGE__FS__PATH="$data" IDV_CONFIG__DATABASE__URL="sqlite://$data/idv.db" "$BIN" "$@"
}
secs() { python3 -c "print(round($2 - $1, 2))"; }

say "idv backup while the server runs, GET /api/health sampled meanwhile"
: >"$WORK/health.ms"
(
    while :; do
        curl -s -o /dev/null -w '%{time_total}\n' "$BASE/api/health" >>"$WORK/health.ms" || true
        sleep 0.02
    done
) &
LOADGEN_PID=$!
t0=$(date +%s.%N)
idv_at "$DATA" backup "$WORK/backup" | tee "$OUT/backup.txt"
t1=$(date +%s.%N)
kill "$LOADGEN_PID" 2>/dev/null || true
wait "$LOADGEN_PID" 2>/dev/null || true
LOADGEN_PID=""
read -r P50 MAX N < <(python3 - "$WORK/health.ms" <<'PY'
import sys
v = sorted(float(x) * 1000 for x in open(sys.argv[1]) if x.strip())
print(f"{v[len(v)//2]:.1f}" if v else "-", f"{v[-1]:.1f}" if v else "-", len(v))
PY
)
BYTES=$(du -sb "$WORK/backup" | cut -f1)
echo "FIGURE backup: $SESSIONS sessions, $BYTES bytes in $(secs "$t0" "$t1") s; GET /api/health meanwhile: p50 $P50 ms, max $MAX ms ($N requests)" | tee -a "$OUT/figures.txt"
stop_server

say "idv restore into a new folder (with its checks)"
t0=$(date +%s.%N)
idv_at "$WORK/restored" restore "$WORK/backup" | tee "$OUT/restore.txt"
t1=$(date +%s.%N)
echo "FIGURE restore: $(secs "$t0" "$t1") s including integrity check, audit chain and every file's SHA-256" | tee -a "$OUT/figures.txt"

say "idv migrate to a fresh PostgreSQL database"
PG_DB="idv_bench_backup_$$"
psql "$PG_BASE/postgres" -v ON_ERROR_STOP=1 -qc "CREATE DATABASE \"$PG_DB\"" >/dev/null
printf 'database:\n  url: %s/%s\nstorage:\n  fs:\n    path: %s\n' "$PG_BASE" "$PG_DB" "$WORK/pgdata" >"$WORK/target.yaml"
t0=$(date +%s.%N)
idv_at "$DATA" migrate --to-config "$WORK/target.yaml" | tail -6 | tee "$OUT/migrate.txt"
t1=$(date +%s.%N)
echo "FIGURE migrate: $SESSIONS sessions to PostgreSQL in $(secs "$t0" "$t1") s including the checks" | tee -a "$OUT/figures.txt"

say "figures (also in $OUT/figures.txt)"
cat "$OUT/figures.txt"
