#!/usr/bin/env bash
# One instance against two on one PostgreSQL. Run from the repo root: bash bench/instances.sh
#
# The session flow of session_flow.sh (general_kyc.yaml: create, then ONBOARDING; Basic auth)
# and GET /api/health, first against one `idv serve` on a fresh PostgreSQL database, then
# against two `idv serve` processes on that same database and the same files folder, each
# driven by its own load generator at half the concurrency (as a load balancer would share the
# clients). Prints sessions/s and requests/s of each run, the CPU each process used, and the
# ratio two/one.
#
# On a machine with few cores the ratio says how the instances contend for them (and for the
# database, on the same cores), not how idv scales across machines: report it as it is.
#
# Knobs (environment): BENCH_CONCURRENCY (32: in all, split between the instances),
# BENCH_DURATION (seconds per run, 10), BENCH_WARMUP (3), BENCH_PG
# (postgres://postgres@127.0.0.1:5432).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BENCH="$ROOT/bench"

CONC=${BENCH_CONCURRENCY:-32}
DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-3}
LG_THREADS=1
PG_BASE=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
WORKFLOW_ID=edda0192-b890-11ef-a348-17da751a6a22
# Regula's General KYC, the workflow the other flow figures were measured with: IDV_REGULA_DIR,
# or ../shared/regula beside the checkout.
REGULA=${IDV_REGULA_DIR:-$(cd "$ROOT/.." && pwd)/shared/regula}
WORKFLOW_YAML=${BENCH_WORKFLOW_YAML:-$REGULA/general_kyc.yaml}
LOCALE_YAML=${BENCH_LOCALE_YAML:-$REGULA/general_kyc_locale.yaml}

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT="$BENCH/out/instances-$STAMP"
mkdir -p "$OUT"

source "$BENCH/lib.sh"

[[ -f "$WORKFLOW_YAML" ]] || die "no workflow file at $WORKFLOW_YAML (set BENCH_WORKFLOW_YAML)"
command -v psql >/dev/null || die "psql is needed"
((CONC >= 2 && CONC % 2 == 0)) || die "BENCH_CONCURRENCY must be an even number from 2"

say "building the release binary and the load generator"
TARGET_DIR=${CARGO_TARGET_DIR:-target}
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
cargo build --release -p idv
BIN="$TARGET_DIR/release/idv"
CARGO_TARGET_DIR="$TARGET_DIR" cargo build --release --locked --manifest-path "$BENCH/loadgen/Cargo.toml"
LOADGEN="$TARGET_DIR/release/idv-loadgen"
[[ -x "$BIN" && -x "$LOADGEN" ]] || die "the binary or the load generator did not build"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/idv-bench-instances.XXXXXX")
ADMIN_PW="bench-$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
BASIC="Basic $(printf 'admin:%s' "$ADMIN_PW" | base64 -w0)"
CLK_TCK=$(getconf CLK_TCK)
PDEATH=()
if command -v setpriv >/dev/null && setpriv --help 2>&1 | grep -q -- --pdeathsig; then PDEATH=(setpriv --pdeathsig TERM); fi
# The first instance, while the second is the one lib.sh's cleanup knows (SERVER_PID).
FIRST_PID=""
LG2_PID=""
trap 'for p in "$LG2_PID" "$FIRST_PID"; do [[ -n "$p" ]] && kill -TERM "$p" 2>/dev/null; done; cleanup' EXIT

source "$BENCH/flow_lib.sh"

# Runs the load generator against each instance given (BASE:PID pairs) at once, each at
# concurrency $2 / instances; prints the sum and each one's share.
run() { # name mode conc base:pid...
    local name=$1 mode=$2 conc=$3
    shift 3
    local n=$# i=0 each=$((conc / $#)) pids=() files=()
    for target in "$@"; do
        local base=${target%%|*} pid=${target##*|} f="$OUT/$name-$n.$i.json"
        "$LOADGEN" --base "$base" --mode "$mode" --concurrency "$each" --warmup "$WARMUP" \
            --duration "$DURATION" --threads "$LG_THREADS" --server-pid "$pid" --clk-tck "$CLK_TCK" \
            --workflow "$WORKFLOW_ID" --auth "$BASIC" --db-match "$PG_DB" >"$f" &
        pids+=($!)
        files+=("$f")
        i=$((i + 1))
    done
    LG2_PID="${pids[*]}"
    for p in "${pids[@]}"; do wait "$p" || die "a load generator failed in the $name run"; done
    LG2_PID=""
    python3 - "$name" "$n" "${files[@]}" <<'EOF' | tee -a "$OUT/report.txt"
import json, sys
name, n, files = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
rs = [json.load(open(f)) for f in files]
total = sum(r["per_s"] for r in rs)
errors = sum(r["error_total"] for r in rs)
d = rs[0]["duration_s"]
servers = " + ".join("%.2f" % ((r["cpu"]["server_cpu_s"] or 0) / d) for r in rs)
db = (rs[0]["cpu"].get("db") or {}).get("cpu_s", 0) / d
p99 = max(v["p99_us"] for r in rs for v in r["latency"].values()) / 1e3
print("  %-22s %9.0f /s  (%s)  p99 %.1f ms  errors %d  cores: servers %s, database %.2f, machine %.2f" % (
    "%s, %d instance%s" % (name, n, "" if n == 1 else "s"), total,
    " + ".join("%.0f" % r["per_s"] for r in rs), p99, errors, servers, db,
    rs[0]["cpu"]["machine_busy_cores"] or 0))
json.dump({"name": name, "instances": n, "per_s": total}, open(sys.argv[3] + ".sum", "w"))
EOF
}

# ------------------------------------------------------------------ one instance
start_server postgres
post_admin /api/workflows application/yaml "$WORKFLOW_YAML"
post_admin /api/translations application/yaml "$LOCALE_YAML"
smoke
A_BASE=$BASE
say "one instance: GET /api/health, then the flow, concurrency $CONC, ${DURATION} s each"
run health get "$CONC" "$BASE|$SERVER_PID"
run flow flow "$CONC" "$BASE|$SERVER_PID"

# ------------------------------------------------------------------ two instances
FIRST_PID=$SERVER_PID
SERVER_PID=""
start_server postgres again
B_BASE=$BASE
say "two instances on one database: the same runs, concurrency $((CONC / 2)) on each"
run health get "$CONC" "$A_BASE|$FIRST_PID" "$B_BASE|$SERVER_PID"
run flow flow "$CONC" "$A_BASE|$FIRST_PID" "$B_BASE|$SERVER_PID"
kill -TERM "$FIRST_PID" 2>/dev/null || true
wait "$FIRST_PID" 2>/dev/null || true
FIRST_PID=""

say "two instances / one, same run (machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo))"
python3 - "$OUT" <<'EOF' | tee -a "$OUT/report.txt"
import glob, json, os, sys
sums = {}
for f in glob.glob(os.path.join(sys.argv[1], "*.json.sum")):
    s = json.load(open(f))
    sums[(s["name"], s["instances"])] = s["per_s"]
for name in ("health", "flow"):
    one, two = sums.get((name, 1)), sums.get((name, 2))
    if one and two:
        print("  %-8s one %9.0f /s   two %9.0f /s   ratio %.2f" % (name, one, two, two / one))
EOF
echo "report in $OUT/report.txt"
