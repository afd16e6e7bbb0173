#!/usr/bin/env bash
# Fuzzes the HTTP API with schemathesis over the server's own OpenAPI document
# (GET /api/openapi.json), on SQLite and then on a fresh PostgreSQL database, with an API key
# holding every permission. Fails on any 5xx the operation does not document, on any answer
# whose body does not match the schema the document gives for its route and status
# (response_schema_conformance; error answers match the error body), on a server that died or
# panicked, and on schemathesis errors. Used by scripts/test.sh; runs alone too:
#
#   bash scripts/api_fuzz.sh                 # both backends
#   IDV_FUZZ_BACKENDS=sqlite bash scripts/api_fuzz.sh
#
# Settings (environment): IDV_FUZZ_BACKENDS ("sqlite postgres"), IDV_FUZZ_MAX_TIME (seconds of
# schemathesis per backend, 75), IDV_FUZZ_MAX_EXAMPLES (cases per operation and phase, 25),
# IDV_FUZZ_WORKERS (2), IDV_FUZZ_SEED (random unless set; printed either way), IDV_TEST_CACHE
# (where the schemathesis virtualenv lives, ~/.cache/idv-test), IDV_TEST_PG_URL (a database URL
# on the server that gets the scratch database, postgres://postgres@127.0.0.1:5432/postgres).
#
# What the run is given: the server's document plus, from scripts/api_fuzz/prepare.py, real
# records to start from, the query parameters the document does not declare yet and links for
# the stateful phase; the /drapi and /faceapi gateways relay to a loopback stand-in
# (scripts/api_fuzz/standin.py); webhook sending is off, so no fuzzed URL is called.
# Left out, on purpose: GET /api/events/stream, a Server-Sent Events stream that stays open by
# design (every request would end in the client's timeout). Nothing else: the fuzzer's own key
# and the admin user are never an example or a link target (those are records prepare.py made),
# and no generated id reaches them, so DELETE /api/apikey/{id} and
# DELETE /api/security/users/{id} cannot remove them.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

st_version=4.32.5
cache=${IDV_TEST_CACHE:-$HOME/.cache/idv-test}
venv=$cache/schemathesis-$st_version
backends=${IDV_FUZZ_BACKENDS:-sqlite postgres}
max_time=${IDV_FUZZ_MAX_TIME:-75}
max_examples=${IDV_FUZZ_MAX_EXAMPLES:-25}
workers=${IDV_FUZZ_WORKERS:-2}
pg_admin_url=${IDV_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
password='api-fuzz-admin-password'

# schemathesis, pinned, in a virtualenv of its own outside the clone; `installed` marks a
# finished install (an interrupted one is started over).
if [ ! -f "$venv/installed" ]; then
  echo "api fuzz: installing schemathesis $st_version into $venv"
  if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    apt-get update -qq && apt-get install -y -qq python3 python3-venv >/dev/null
  fi
  rm -rf "$venv"
  mkdir -p "$cache"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$st_version"
  touch "$venv/installed"
fi

cargo build --bin idv
bin=${CARGO_TARGET_DIR:-$root/target}/debug/idv

work=$(mktemp -d)
server_pid=
standin_pid=
pg_db=
# Ends what a backend's run started (after a failure half-way too).
stop_processes() {
  if [ -n "$server_pid" ]; then
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
  fi
  if [ -n "$standin_pid" ]; then
    kill "$standin_pid" 2>/dev/null || true
    wait "$standin_pid" 2>/dev/null || true
    standin_pid=
  fi
}
cleanup() {
  stop_processes
  if [ -n "$pg_db" ]; then
    psql -q "$pg_admin_url" -c "DROP DATABASE IF EXISTS \"$pg_db\" WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# Waits up to $2 seconds for command $1 (a string) to succeed.
wait_until() {
  local deadline=$((SECONDS + $2))
  until eval "$1"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}

summary=()
failed=0

# Runs one backend: $1 a name, $2 the database URL.
fuzz_backend() {
  local name=$1 db_url=$2 dir=$work/$1
  mkdir -p "$dir/data/workflows"
  cp scripts/api_fuzz/workflow.yaml "$dir/data/workflows/api-fuzz.yaml"
  export IDV_CONFIG__DATABASE__URL=$db_url
  export IDV_CONFIG__STORAGE__FS__PATH=$dir/data
  export IDV_CONFIG__SERVICES__API__HOST=127.0.0.1
  export IDV_CONFIG__SERVICES__API__PORT=0
  export IDV_CONFIG__RATELIMIT__ENABLED=false
  # Webhook endpoints may point at the stand-in on loopback; nothing is delivered (sending is
  # off), so no fuzzed URL is ever called.
  export IDV_CONFIG__OUTBOUND__ALLOWPRIVATEADDRESSES=true
  export IDV_CONFIG__SERVICES__WEBHOOKS__ENABLED=false
  export IDV_ADMIN_PASSWORD=$password

  # The gateways relay to a stand-in on loopback, so their relay code is fuzzed too.
  "$venv/bin/python" scripts/api_fuzz/standin.py >"$dir/standin.log" 2>&1 &
  standin_pid=$!
  wait_until "grep -qs '^listening on ' '$dir/standin.log'" 30 || { echo "api fuzz [$name]: the stand-in did not start" >&2; return 1; }
  local standin_url
  standin_url=http://127.0.0.1:$(sed -n 's/^listening on //p' "$dir/standin.log")
  export IDV_CONFIG__SERVICES__DOCREADER__ENABLED=true
  export IDV_CONFIG__SERVICES__DOCREADER__URL=$standin_url
  export IDV_CONFIG__SERVICES__FACEAPI__ENABLED=true
  export IDV_CONFIG__SERVICES__FACEAPI__URL=$standin_url

  local started=$SECONDS
  "$bin" serve >"$dir/stdout.log" 2>"$dir/server.log" &
  server_pid=$!
  if ! wait_until "grep -qs '^idv listening on ' '$dir/stdout.log' || ! kill -0 $server_pid 2>/dev/null" 120 ||
    ! kill -0 "$server_pid" 2>/dev/null; then
    echo "api fuzz [$name]: the server did not start; its log:" >&2
    tail -n 40 "$dir/server.log" >&2
    return 1
  fi
  local url
  url=$(sed -n 's/^idv listening on //p' "$dir/stdout.log" | head -n1)

  # A key holding every permission, made offline against the same database.
  local key
  key=$("$bin" apikey create --name api-fuzz --permissions '*' 2>"$dir/apikey.log" | awk '/Key:/ {print $2}')
  [ -n "$key" ] || { echo "api fuzz [$name]: could not create the API key:" >&2; cat "$dir/apikey.log" >&2; return 1; }
  local wf
  wf=$(curl -sf "$url/api/workflows" -H "authorization: ApiKey $key")
  if ! grep -q '5c1d2e3f-0a0b-4c0d-8e0f-00000000f022' <<<"$wf"; then
    echo "api fuzz [$name]: the fuzz workflow did not load: $wf" >&2
    return 1
  fi

  # The document to run over: the server's own plus real records to start from, the query
  # parameters it does not declare, and links for the stateful phase (see prepare.py).
  "$venv/bin/python" scripts/api_fuzz/prepare.py "$url" "$key" 5c1d2e3f-0a0b-4c0d-8e0f-00000000f022 \
    "$standin_url/hook" "$dir/openapi.json"

  local seed_args=()
  [ -n "${IDV_FUZZ_SEED:-}" ] && seed_args=(--seed "$IDV_FUZZ_SEED")
  local st_status=0
  echo "api fuzz [$name]: schemathesis $st_version on $url (at most ${max_time}s, $max_examples examples per operation)"
  # Run from the scratch folder: schemathesis keeps its replay data in .schemathesis/ there.
  (cd "$dir" && SCHEMATHESIS_HOOKS=hooks PYTHONPATH="$root/scripts/api_fuzz" IDV_FUZZ_TALLY="$dir/tally" \
    "$venv/bin/schemathesis" run "$dir/openapi.json" --url "$url" \
    --header "Authorization: ApiKey $key" \
    --checks no_undocumented_server_error,response_schema_conformance \
    --exclude-path /api/events/stream \
    --phases examples,coverage,fuzzing,stateful \
    --max-examples "$max_examples" \
    --max-time "$max_time" \
    --workers "$workers" \
    --request-timeout 30 \
    --suppress-health-check all \
    --no-color \
    "${seed_args[@]}" \
    >"$dir/schemathesis.log" 2>&1) || st_status=$?

  # The server must have lived through it, without a panic.
  local alive=yes panics
  kill -0 "$server_pid" 2>/dev/null || alive=no
  panics=$(grep -c 'panicked' "$dir/server.log" || true)
  if [ "$alive" = yes ]; then
    kill -TERM "$server_pid"
    wait_until "! kill -0 $server_pid 2>/dev/null" 60 || kill -KILL "$server_pid" 2>/dev/null || true
  fi
  wait "$server_pid" 2>/dev/null || true
  server_pid=
  stop_processes

  # Figures: requests and their outcomes by status class, from the hooks' tally.
  local requests classes fivexx
  requests=$(wc -l <"$dir/tally" 2>/dev/null || echo 0)
  classes=$(awk '{c[substr($3, 1, 1) "xx"]++} END {for (k in c) printf "%s %s, ", k, c[k]}' "$dir/tally" 2>/dev/null | sed 's/, $//')
  fivexx=$(awk '$3 >= 500 {print $1, $2, $3}' "$dir/tally" 2>/dev/null | sort | uniq -c | sort -rn)
  echo "api fuzz [$name]: schemathesis said:"
  awk '/=+ FAILURES =+/ {skip = 1} /=+ SUMMARY =+/ {skip = 0} !skip' "$dir/schemathesis.log" | sed 's/^/  /'
  echo "api fuzz [$name]: $requests requests in $((SECONDS - started)) s; by status: ${classes:-none}"
  [ -z "$fivexx" ] || { echo "api fuzz [$name]: 5xx answers (documented ones pass):"; echo "$fivexx" | sed 's/^/  /'; }
  echo "api fuzz [$name]: server alive at the end: $alive; panics in its log: $panics"

  local ok=yes
  if [ "$st_status" -ne 0 ]; then
    ok=no
    echo "api fuzz [$name]: schemathesis exited $st_status; its full output:" >&2
    cat "$dir/schemathesis.log" >&2
  fi
  if [ "$alive" != yes ] || [ "$panics" != 0 ]; then
    ok=no
    echo "api fuzz [$name]: the server died or panicked; the end of its log:" >&2
    grep -n -A5 'panicked' "$dir/server.log" | head -n 60 >&2 || true
    tail -n 40 "$dir/server.log" >&2
  fi
  summary+=("$name: $requests requests (${classes:-none}), $([ "$ok" = yes ] && echo ok || echo FAILED)")
  [ "$ok" = yes ]
}

for backend in $backends; do
  case $backend in
    sqlite)
      mkdir -p "$work/sqlite/data"
      fuzz_backend sqlite "sqlite://$work/sqlite/data/idv.db" || failed=1
      stop_processes
      ;;
    postgres)
      pg_db=idv_fuzz_$$_$RANDOM
      psql -q "$pg_admin_url" -c "CREATE DATABASE \"$pg_db\"" >/dev/null
      fuzz_backend postgres "${pg_admin_url%/*}/$pg_db" || failed=1
      stop_processes
      psql -q "$pg_admin_url" -c "DROP DATABASE IF EXISTS \"$pg_db\" WITH (FORCE)" >/dev/null
      pg_db=
      ;;
    *)
      echo "api fuzz: unknown backend $backend (sqlite or postgres)" >&2
      exit 2
      ;;
  esac
done

echo
for line in "${summary[@]}"; do echo "api fuzz: $line"; done
exit "$failed"
