#!/usr/bin/env bash
# The front door.
#   deploy/dev.sh run    install what is missing, build, start a private PostgreSQL
#                        under .pgdata/, migrate, load demo data once, serve.
#   deploy/dev.sh test   the same set-up with a throwaway cluster and a sanitizer
#                        build, then every test, then the contract checks (Redocly
#                        lint, the HTTP tests again through a Prism validation
#                        proxy); ends with "N passed, N failed".
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

PACKAGES=(build-essential pkg-config meson ninja-build python3 python3-yaml curl
          libmicrohttpd-dev libjansson-dev libpq-dev libssl-dev libcmocka-dev libcurl4-openssl-dev libicu-dev
          postgresql postgresql-contrib)

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'dev.sh: %s\n' "$*" >&2; exit 1; }

# as_root, install_packages, pg_as, free_port, pg_root, start_cluster, stop_cluster
# shellcheck source=deploy/lib.sh
. "$ROOT/deploy/lib.sh"

install_missing() { install_packages "${PACKAGES[@]}"; }
# The tests also drive a real browser (tests/http/test_cors.c).
TEST_PACKAGES=(chromium clang libclang-rt-14-dev)

build() {
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$@" >/dev/null
  fi
  ninja -C "$dir" >/dev/null || ninja -C "$dir"
}

# The contract checks' tools, pinned by tools/contract/package-lock.json:
# Node.js and npm from Debian when the machine has none, then `npm ci` once
# per lock file (a stamp in node_modules remembers which).
contract_tools() {
  local need=()
  command -v node >/dev/null || need+=(nodejs)
  command -v npm >/dev/null || need+=(npm)
  if [ ${#need[@]} -gt 0 ]; then
    say "installing: ${need[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
  local dir="$ROOT/tools/contract" want
  want=$(sha256sum "$dir/package-lock.json" | cut -c1-64)
  if [ "$(cat "$dir/node_modules/.arc-lock" 2>/dev/null)" != "$want" ] ||
     [ ! -x "$dir/node_modules/.bin/redocly" ] || [ ! -x "$dir/node_modules/.bin/prism" ]; then
    say "npm ci in tools/contract (Redocly CLI, Prism; node $(node --version))"
    # No install scripts: neither tool needs one (core-js only prints a banner).
    (cd "$dir" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >&2) \
      || die "npm ci failed in tools/contract (ARC_CONTRACT=0 skips the contract checks)"
    echo "$want" > "$dir/node_modules/.arc-lock"
  fi
}

# Redocly CLI lints openapi/ with redocly.yaml's rules; 0 when no errors.
contract_lint() {
  say "contract_lint: redocly lint openapi/openapi.yaml"
  REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
    "$ROOT/tools/contract/node_modules/.bin/redocly" lint --format=stylish >&2
}

# A front end's typed client: openapi-typescript generates the types from
# openapi/, and tools/contract/typed_client.ts (event data read by type,
# without casts) must compile with tsc --strict; 0 when it does.  Run from
# tools/contract: in the root, openapi-typescript would read redocly.yaml.
contract_typed_client() {
  local out bin="$ROOT/tools/contract/node_modules/.bin"
  say "contract_typed_client: openapi-typescript, then tsc --strict tools/contract/typed_client.ts"
  mkdir -p "$1/contract"
  out=$(cd "$1/contract" && pwd)
  cp "$ROOT/tools/contract/typed_client.ts" "$out/"
  (cd "$ROOT/tools/contract" && "$bin/openapi-typescript" "$ROOT/openapi/openapi.yaml" -o "$out/api.d.ts" >&2) &&
    "$bin/tsc" --strict --noEmit --target es2022 --module es2022 --moduleResolution node "$out/typed_client.ts" >&2
}

cmd_run() {
  install_missing
  build build-run --buildtype=release
  local dir port=${ARC_PG_PORT:-54329}
  dir="$(pg_root)/run"
  start_cluster "$dir" "$port" || true # already running: use it
  local admin="host=127.0.0.1 port=$port user=postgres dbname=postgres"
  if [ "$(psql "$admin" -Atc "SELECT 1 FROM pg_database WHERE datname = 'arcollect'")" != 1 ]; then
    psql "$admin" -qc "CREATE DATABASE arcollect" >/dev/null
  fi
  export DATABASE_URL="host=127.0.0.1 port=$port user=postgres dbname=arcollect"
  export ARC_PORT=${ARC_PORT:-8080}
  # New migrations, then the SQL code files if any changed (docs/sql.md): an
  # edited function is picked up here, data kept.
  build-run/arcollectd migrate || { stop_cluster "$dir"
    die "migrate failed (above); a demo database made by an older arcollect can be recreated with: rm -rf '$dir'"; }
  mkdir -p .run
  local key
  key=$(cat .run/admin.key 2>/dev/null || true)
  if [ -z "$key" ] || [ "$(psql "$DATABASE_URL" -Atc "SELECT count(*) FROM api_keys WHERE key_id = '$(echo "$key" | cut -c5-20)' AND revoked_at IS NULL")" != 1 ]; then
    key=$(build-run/arcollectd create-api-key --role admin --name dev-admin --actor admin@example.com)
    (umask 077; echo "$key" > .run/admin.key)
  fi
  build-run/arcollectd serve &
  local pid=$!
  # Ctrl-C: stop the server (it drains in-flight requests), then the cluster; the data stays.
  trap "kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; stop_cluster '$dir'; exit 0" INT TERM
  for _ in $(seq 1 50); do curl -fsS "http://127.0.0.1:$ARC_PORT/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
  if [ "$(psql "$DATABASE_URL" -Atc "SELECT count(*) FROM customers")" = 0 ]; then
    say "loading demo data"
    if ! ARC_URL="http://127.0.0.1:$ARC_PORT" ARC_KEY="$key" bash deploy/demo.sh; then
      kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true
      stop_cluster "$dir"
      die "the demo data did not load (see above)"
    fi
  fi
  cat >&2 <<EOF

arcollect is serving on http://127.0.0.1:$ARC_PORT   (Ctrl-C stops it; data stays in $dir)
Admin key: $key

  export ARC=http://127.0.0.1:$ARC_PORT KEY=$key
  curl -s \$ARC/v1/customers -H "Authorization: Bearer \$KEY"
  curl -s \$ARC/v1/invoices?status=open -H "Authorization: Bearer \$KEY"
  curl -s \$ARC/openapi.json

EOF
  wait $pid || true
  stop_cluster "$dir"
}

# Each libFuzzer target (tests/fuzz, docs/fuzzing.md) for ARC_FUZZ_SECONDS
# (20) from its seed corpus, in a clang build of its own (build-fuzz), two at
# a time.  A crash fails the check; its input is kept in build-fuzz/crashes.
# Adds a "--check fuzz_<target> RC" pair per target to the array named $1.
fuzz_briefly() {
  local -n checks=$1
  local secs=${ARC_FUZZ_SECONDS:-20} bdir=build-fuzz
  if [ ! -f "$bdir/build.ninja" ]; then
    CC=clang meson setup "$bdir" -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
      --buildtype=debugoptimized >/dev/null
  fi
  local targets
  mapfile -t targets < <(sed -n 's/^fuzz_targets = //p' tests/meson.build | grep -o "'[a-z_]*'" | tr -d "'" |
                           sed 's/^/fuzz_/')
  ninja -C "$bdir" "${targets[@]/#/tests/}" >/dev/null || ninja -C "$bdir" "${targets[@]/#/tests/}"
  say "fuzzing: ${targets[*]}, $secs s each"
  mkdir -p "$bdir/crashes"
  local t pids=() names=()
  for t in "${targets[@]}"; do
    local work="$bdir/corpus/${t#fuzz_}"
    mkdir -p "$work"
    "$bdir/tests/$t" -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$bdir/crashes/$t-" \
      "$work" "tests/fuzz/corpus/${t#fuzz_}" >"$bdir/$t.log" 2>&1 &
    pids+=($!)
    names+=("$t")
    if [ ${#pids[@]} -eq 2 ]; then
      fuzz_reap checks pids names
    fi
  done
  fuzz_reap checks pids names
}

# Waits for the fuzzers in the arrays named $2 (pids) and $3 (names).
fuzz_reap() {
  local -n out=$1 ps=$2 ns=$3
  local i rc
  for i in "${!ps[@]}"; do
    rc=0
    wait "${ps[$i]}" || rc=$?
    say "${ns[$i]}: $(sed -n 's/^stat::number_of_executed_units: //p' "build-fuzz/${ns[$i]}.log") runs, exit $rc"
    [ "$rc" = 0 ] || tail -n 30 "build-fuzz/${ns[$i]}.log" >&2
    out+=(--check "${ns[$i]}" "$rc")
  done
  ps=()
  ns=()
}

cmd_test() {
  install_packages "${PACKAGES[@]}" "${TEST_PACKAGES[@]}"
  local contract=${ARC_CONTRACT:-1}
  [ "$contract" = 1 ] && contract_tools
  local bdir=build-test wrap=()
  if [ "${ARC_TEST_VALGRIND:-0}" = 1 ]; then
    # valgrind and the sanitizers do not mix: a plain build of its own.
    command -v valgrind >/dev/null || as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
    bdir=build-valgrind
    build "$bdir" -Dwerror=true --buildtype=debug
    wrap=(--wrap="valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite" --timeout-multiplier=10)
  else
    build "$bdir" -Db_sanitize=address,undefined -Db_lundef=false -Dwerror=true --buildtype=debug
  fi
  local dir port
  dir=$(mktemp -d "$(pg_root)/test.XXXXXX")
  port=$(free_port)
  trap "stop_cluster '$dir'; rm -rf '$dir' '$dir.initdb.log'" EXIT
  # Processes are killed in tests, never the machine: fsync can go.
  start_cluster "$dir" "$port" -c fsync=off -c full_page_writes=off -c max_connections=200
  export ARC_TEST_DATABASE_URL="host=127.0.0.1 port=$port user=postgres dbname=postgres"
  # How the restart test stops and starts this cluster (run with sh -c).
  local as=""
  [ "$(id -u)" -eq 0 ] && as="runuser -u postgres --"
  export ARC_TEST_PG_STOP="$as '$PGBIN/pg_ctl' -D '$dir' -m fast -w stop"
  export ARC_TEST_PG_START="$as '$PGBIN/pg_ctl' -D '$dir' -l '$dir/server.log' -w -t 60 -o '-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c fsync=off -c full_page_writes=off -c max_connections=200' start"
  local rc=0 t0 t1 t2 log summary=()
  t0=$(date +%s)
  meson test -C "$bdir" --print-errorlogs --num-processes "${ARC_TEST_JOBS:-2}" "${wrap[@]}" "$@" >&2 || rc=$?
  t1=$(date +%s)
  # meson names the log after the wrapper (testlog-valgrind.json): take the newest.
  log=$(ls -t "$bdir"/meson-logs/testlog*.json | head -n 1)
  summary=("$log")
  if [ "$contract" = 1 ]; then
    local lint=0
    contract_lint || lint=$?
    summary+=(--check contract_lint "$lint")
    [ "$lint" = 0 ] || rc=1
    local typed=0
    contract_typed_client "$bdir" || typed=$?
    summary+=(--check contract_typed_client "$typed")
    [ "$typed" = 0 ] || rc=1
    # The HTTP tests again, each program through its own Prism validation
    # proxy (tests/http/harness.c): every request and response they exchange
    # is checked against the contract. Not under valgrind (too slow there).
    if [ ${#wrap[@]} -eq 0 ]; then
      local pargs=("$@")
      if [ ${#pargs[@]} -eq 0 ]; then
        # Every HTTP program but those with nothing for Prism to see: they
        # drive a child arcollectd (cli, shutdown) or their own threads'
        # clients (concurrency) or raw sockets (connections), or stop
        # PostgreSQL under the server (db_restart).
        mapfile -t pargs < <(meson test -C "$bdir" --list --no-rebuild 2>/dev/null | sed -n 's|^.*:http / ||p' |
                               grep -Ev '^http_(cli|shutdown|concurrency|db_restart|sql_code|auth_cache|connections)$')
      fi
      say "the HTTP tests through Prism (contract mode): ${pargs[*]}"
      rm -f "$bdir/meson-logs/testlog-prism.json"
      ARC_TEST_PRISM="$ROOT/tools/contract/node_modules/.bin/prism" \
        meson test -C "$bdir" --no-rebuild --print-errorlogs --num-processes "${ARC_TEST_JOBS:-2}" \
        --logbase testlog-prism "${pargs[@]}" >&2 || rc=$?
      summary+=(--prefix "prism " "$bdir/meson-logs/testlog-prism.json")
      python3 "$ROOT/tools/contract/prism_stats.py" "$bdir/meson-logs/testlog-prism.json" >&2 || true
    fi
  fi
  t2=$(date +%s)
  # The fuzzers, on a whole run (not when named tests are asked for).
  local before=${#summary[@]}
  if [ $# -eq 0 ] && [ "${ARC_FUZZ:-1}" = 1 ]; then
    fuzz_briefly summary
    local i
    for ((i = before; i < ${#summary[@]}; i += 3)); do
      [ "${summary[$((i + 2))]}" = 0 ] || rc=1
    done
  fi
  local t3
  t3=$(date +%s)
  say "tests: $((t1 - t0)) s; contract checks: $((t2 - t1)) s; fuzzing: $((t3 - t2)) s"
  python3 "$ROOT/tools/test_summary.py" "${summary[@]}"
  return $rc
}

case "${1:-}" in
  run) shift; cmd_run "$@" ;;
  test) shift; cmd_test "$@" ;;
  *) echo "usage: deploy/dev.sh run|test [meson test arguments]" >&2; exit 2 ;;
esac
