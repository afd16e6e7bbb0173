#!/usr/bin/env bash
# Capture page benchmark of idv. Run from the repo root: bash bench/capture.sh
#
# Starts the release binary on SQLite with the example KYC workflow, then in headless Chromium
# (Debian's chromium and chromium-driver, as the browser tests use; 360x640 phone viewport)
# opens BENCH_ROUNDS deeplinks and times, from the page's own performance marks:
#   open    navigation start → the first step painted and ready for input (target < 300 ms)
#   submit  the click on the first step's button → the next step painted (target < 150 ms)
#   floor   the same page opened without a link (same HTML, CSS and JS, no API call), the
#           ceiling of what the page can do on this machine in this run.
# Also the page's weight: its HTML and every asset, raw and gzipped (target < 100 KB gzipped).
# Prints a report and keeps it in bench/out/capture-<UTC timestamp>/.
#
# Knobs (environment): BENCH_ROUNDS (20), IDV_CHROMEDRIVER (/usr/bin/chromedriver).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BENCH="$ROOT/bench"
ROUNDS=${BENCH_ROUNDS:-20}
CHROMEDRIVER=${IDV_CHROMEDRIVER:-/usr/bin/chromedriver}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT="$BENCH/out/capture-$STAMP"
mkdir -p "$OUT"
PG_BASE=""
source "$BENCH/lib.sh"

[[ -x "$CHROMEDRIVER" ]] || die "no chromedriver at $CHROMEDRIVER: run bash scripts/test.sh (it installs chromium and chromium-driver) or set IDV_CHROMEDRIVER"
command -v python3 >/dev/null || die "python3 is needed"
command -v curl >/dev/null || die "curl is needed"

TARGET_DIR=${CARGO_TARGET_DIR:-target}
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
say "building the release binary"
cargo build --release -p idv
BIN="$TARGET_DIR/release/idv"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/idv-bench-capture.XXXXXX")
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
export IDV_CONFIG__STORAGE__FS__PATH="$WORK/data"
export IDV_CONFIG__DATABASE__URL="sqlite://$WORK/data/idv.db"
export IDV_CONFIG__SERVICES__API__HOST=127.0.0.1
export IDV_CONFIG__SERVICES__API__PORT=$PORT
export IDV_CONFIG__BASEURL=$BASE
export IDV_CONFIG__RATELIMIT__ENABLED=false
say "starting the server on $BASE"
(cd "$WORK" && exec "$BIN" serve) > "$WORK/sqlite.server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do curl -sf "$BASE/api/health" >/dev/null && break; sleep 0.1; done
curl -sf "$BASE/api/health" >/dev/null || die "the server did not start (see $OUT)"
KEY=$(cd "$WORK" && "$BIN" apikey create --name bench --permissions "deeplink:write" | awk '/Key:/ {print $2}')
(cd "$WORK" && "$BIN" workflow apply "$ROOT/examples/kyc/workflow.yaml" "$ROOT/examples/kyc/locale.yaml" >/dev/null)

say "timing $ROUNDS rounds in Chromium"
python3 "$BENCH/capture_page.py" "$BASE" "$KEY" 6a1f3c2e-8d4b-4f7a-b0c9-5e2d1a7f3b84 "$ROUNDS" "$CHROMEDRIVER" > "$OUT/timings.json"

# The page's weight: the HTML and each asset as the server sends it.
ASSETS=$(sed -n 's/^    "\([^"]*\)" => .*/\1/p' crates/idv-server/src/web/capture/mod.rs)
curl -sf "$BASE/mobile" -o "$WORK/page.html"
RAW=$(stat -c %s "$WORK/page.html"); GZ=$(gzip -9c "$WORK/page.html" | wc -c)
for a in $ASSETS; do
    curl -sf "$BASE/static/capture/$a" -o "$WORK/asset"
    RAW=$((RAW + $(stat -c %s "$WORK/asset"))); GZ=$((GZ + $(gzip -9c "$WORK/asset" | wc -c)))
done

python3 - "$OUT/timings.json" "$RAW" "$GZ" "$(git rev-parse --short HEAD)" <<'PY' | tee "$OUT/report.txt"
import json, sys, statistics
t = json.load(open(sys.argv[1])); raw, gz, rev = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def q(xs, p):
    xs = sorted(xs); return xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))]
print(f"capture page, commit {rev}, {len(t['open'])} rounds, headless Chromium 360x640, loopback")
print(f"{'':28}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'target':>9}")
for name, label, target in [("floor", "floor (page, no API call)", None), ("open", "open link → first step", 300), ("submit", "submit → next step painted", 150)]:
    xs = t[name]
    print(f"{label:28}{statistics.median(xs):9.1f}{q(xs, .95):9.1f}{max(xs):9.1f}{(str(target) if target else '-'):>9}")
verdict = all(q(t[n], .95) < lim for n, lim in [("open", 300), ("submit", 150)])
print(f"page weight: {raw / 1024:.1f} KB raw, {gz / 1024:.1f} KB gzipped (target < 100 KB gzipped)")
print("targets met at p95" if verdict and gz < 100 * 1024 else "a target is missed")
PY
