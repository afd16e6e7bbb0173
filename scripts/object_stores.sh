#!/usr/bin/env bash
# Object stores for the storage tests and benchmarks, on free loopback ports: an S3-compatible
# server (moto, from PyPI) and Azurite (Azure Blob, from the npm registry), each installed once
# into a cache folder.
#
#   eval "$(scripts/object_stores.sh start)"   # starts both, prints the export lines
#   scripts/object_stores.sh stop              # stops what start started
#
# Sourced (as scripts/test.sh does), it defines object_stores_start / object_stores_stop;
# object_stores_start exports the variables itself:
#   IDV_TEST_S3_URL        http://127.0.0.1:<port> (any access key and secret are accepted)
#   IDV_TEST_S3_SERVER     the S3 server's program (tests start their own to stop it mid-upload)
#   IDV_TEST_AZURITE_URL   http://127.0.0.1:<port>/devstoreaccount1 (Azurite's blob endpoint)

os_cache="${XDG_CACHE_HOME:-$HOME/.cache}/idv-test"
os_moto_version=5.2.5
os_azurite_version=3.37.0
os_state="$os_cache/object-stores.pids"

# moto's server in its own virtual environment.
object_stores_install() {
  mkdir -p "$os_cache"
  if ! "$os_cache/moto/bin/python" -c "import moto, flask; assert moto.__version__ == '$os_moto_version'" 2>/dev/null; then
    python3 -m venv "$os_cache/moto" >&2 || {
      apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null && python3 -m venv "$os_cache/moto" >&2
    }
    "$os_cache/moto/bin/pip" install -q "moto[server]==$os_moto_version" >&2
  fi
  if [ ! -x "$os_cache/azurite/node_modules/.bin/azurite-blob" ] \
    || ! grep -q "\"version\": \"$os_azurite_version\"" "$os_cache/azurite/node_modules/azurite/package.json"; then
    command -v npm >/dev/null 2>&1 || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null; }
    mkdir -p "$os_cache/azurite"
    npm install --prefix "$os_cache/azurite" --no-audit --no-fund --silent "azurite@$os_azurite_version" >&2
  fi
}

os_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

os_wait() {
  local url=$1 name=$2
  for _ in $(seq 1 150); do
    if curl -s -o /dev/null "$url"; then return 0; fi
    sleep 0.1
  done
  echo "$name did not start at $url" >&2
  return 1
}

object_stores_start() {
  object_stores_install
  local s3_port az_port az_dir
  s3_port=$(os_free_port)
  "$os_cache/moto/bin/moto_server" -H 127.0.0.1 -p "$s3_port" >"$os_cache/moto.log" 2>&1 &
  echo "$!" >"$os_state"
  az_port=$(os_free_port)
  az_dir=$(mktemp -d "${TMPDIR:-/tmp}/idv-azurite.XXXXXX")
  echo "$az_dir" >"$os_state.dir"
  "$os_cache/azurite/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 --blobPort "$az_port" \
    --location "$az_dir" --silent --skipApiVersionCheck >"$os_cache/azurite.log" 2>&1 &
  echo "$!" >>"$os_state"
  os_wait "http://127.0.0.1:$s3_port/" "the S3 server (moto)"
  os_wait "http://127.0.0.1:$az_port/devstoreaccount1?comp=list" "Azurite"
  export IDV_TEST_S3_URL="http://127.0.0.1:$s3_port"
  export IDV_TEST_S3_SERVER="$os_cache/moto/bin/moto_server"
  export IDV_TEST_AZURITE_URL="http://127.0.0.1:$az_port/devstoreaccount1"
}

object_stores_stop() {
  [ -f "$os_state" ] || return 0
  local pid
  while read -r pid; do
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    # Azurite may not have acted on the first signal yet: ask once more, then insist.
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done <"$os_state"
  rm -f "$os_state"
  if [ -f "$os_state.dir" ]; then
    rm -rf "$(cat "$os_state.dir")"
    rm -f "$os_state.dir"
  fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  case "${1:-}" in
    start)
      object_stores_start
      echo "export IDV_TEST_S3_URL=$IDV_TEST_S3_URL"
      echo "export IDV_TEST_S3_SERVER=$IDV_TEST_S3_SERVER"
      echo "export IDV_TEST_AZURITE_URL=$IDV_TEST_AZURITE_URL"
      ;;
    stop) object_stores_stop ;;
    install) object_stores_install ;;
    *)
      echo "usage: eval \"\$($0 start)\" | $0 stop | $0 install" >&2
      exit 2
      ;;
  esac
fi
