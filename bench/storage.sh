#!/usr/bin/env bash
# Files on an S3-compatible store against the local folder, in one run: the same release
# server (SQLite) is started twice, once with storage.type fs and once with storage.type s3
# (moto on loopback, started by scripts/object_stores.sh), and on each:
#   - create + step with files: bench/seed.py's sessions (start, two raw uploads, a data step)
#     per second of requests;
#   - session read: GET /api/sessions/{id} per second (the database only, for reference);
#   - file read: each session's first file's bytes per second (the store);
#   - one streamed upload of BENCH_UPLOAD_MIB MiB (1024): MiB/s and the server's peak resident
#     memory during it (memory stays flat when uploads stream).
# Figures are printed side by side and kept in bench/out/storage-<time>/.
#
# Knobs (environment): BENCH_SESSIONS (300), BENCH_UPLOAD_MIB (1024).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BENCH="$ROOT/bench"
SESSIONS=${BENCH_SESSIONS:-300}
UPLOAD_MIB=${BENCH_UPLOAD_MIB:-1024}
PG_BASE=""
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT="$BENCH/out/storage-$STAMP"
mkdir -p "$OUT"

# say, die, cleanup on exit, serve_release.
source "$BENCH/lib.sh"
source "$ROOT/scripts/object_stores.sh"
# Stop the stores too when the script ends, then lib.sh's own cleanup.
trap 'object_stores_stop; cleanup' EXIT

[[ "$SESSIONS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_SESSIONS must be a positive integer"
[[ "$UPLOAD_MIB" =~ ^[1-9][0-9]*$ ]] || die "BENCH_UPLOAD_MIB must be a positive integer"

TARGET_DIR=${CARGO_TARGET_DIR:-target}
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
say "building the release binary"
cargo build --release -p idv
BIN="$TARGET_DIR/release/idv"
[[ -x "$BIN" ]] || die "no binary at $BIN after the build"

say "starting the S3-compatible server"
object_stores_start
BUCKET="idv-bench-$STAMP"
BUCKET=$(echo "$BUCKET" | tr 'A-Z' 'a-z')
curl -fsS -X PUT "$IDV_TEST_S3_URL/$BUCKET" -o /dev/null || die "cannot create bucket $BUCKET"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/idv-bench-storage.XXXXXX")
ADMIN_PW="bench-$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
PDEATH=()
if command -v setpriv >/dev/null && setpriv --help 2>&1 | grep -q -- --pdeathsig; then PDEATH=(setpriv --pdeathsig TERM); fi
WORKFLOW_ID=$(sed -n 's/^id: //p' "$BENCH/bench_workflow.yaml")
# The large upload needs a body limit above it.
export IDV_CONFIG__SERVICES__API__MAXBODYSIZE="$((UPLOAD_MIB + 16))Mi"
export IDV_CONFIG__SERVICES__API__BODYREADTIMEOUT=600

run() { # fs | s3
    local kind=$1
    BACKEND=$kind
    DATA="$WORK/$kind-data"
    mkdir -p "$DATA"
    DB_URL="sqlite://$DATA/idv.db"
    if [[ "$kind" == s3 ]]; then
        export IDV_CONFIG__STORAGE__TYPE=s3
        export IDV_CONFIG__STORAGE__S3__ENDPOINT="$IDV_TEST_S3_URL"
        export IDV_CONFIG__STORAGE__S3__ACCESSKEY=bench
        export IDV_CONFIG__STORAGE__S3__ACCESSSECRET=bench-secret
        export IDV_CONFIG__STORAGE__S3__REGION=us-east-1
        export IDV_CONFIG__STORAGE__S3__SECURE=false
        export IDV_CONFIG__STORAGE__SESSIONS__LOCATION__BUCKET="$BUCKET"
    fi
    serve_release
    say "[$kind] seeding $SESSIONS sessions (create + two uploads + a data step each)"
    python3 "$BENCH/seed.py" --base "$BASE" --admin-password "$ADMIN_PW" \
        --workflow "$BENCH/bench_workflow.yaml" --sessions "$SESSIONS" --out "$WORK/$kind-seed" >/dev/null
    say "[$kind] reading, then one $UPLOAD_MIB MiB upload"
    python3 "$BENCH/storage_measure.py" --base "$BASE" --seeded "$WORK/$kind-seed" --pid "$SERVER_PID" \
        --workflow-id "$WORKFLOW_ID" --upload-mib "$UPLOAD_MIB" | tee "$OUT/$kind.json"
    server_alive "after the measurements"
    stop_server
    unset IDV_CONFIG__STORAGE__TYPE IDV_CONFIG__STORAGE__S3__ENDPOINT IDV_CONFIG__STORAGE__S3__ACCESSKEY \
        IDV_CONFIG__STORAGE__S3__ACCESSSECRET IDV_CONFIG__STORAGE__S3__REGION IDV_CONFIG__STORAGE__S3__SECURE \
        IDV_CONFIG__STORAGE__SESSIONS__LOCATION__BUCKET
}

run fs
run s3

say "figures (fs: local folder; s3: moto on loopback)"
python3 - "$OUT/fs.json" "$OUT/s3.json" <<'EOF'
import json, sys
fs, s3 = (json.load(open(p)) for p in sys.argv[1:3])
rows = [
    ("create + step with files (requests/s)", "create_step_with_files_rps"),
    ("session read (requests/s)", "session_read_rps"),
    ("file read (requests/s)", "file_read_rps"),
    (f"upload of {fs['upload_mib']} MiB (MiB/s)", "upload_mib_per_s"),
    ("server RSS before the upload (MiB)", "rss_before_upload_mib"),
    ("server peak RSS during the upload (MiB)", "rss_peak_during_upload_mib"),
]
print(f"{'':42} {'fs':>10} {'s3':>10}")
for label, key in rows:
    print(f"{label:42} {fs[key]:>10} {s3[key]:>10}")
EOF
echo "kept in $OUT"
