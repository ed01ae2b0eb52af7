#!/usr/bin/env bash
# bench/http_bench.sh: the HTTP API on the sweep benchmark's book, beside
# pgbench running the equivalent SQL on the same cluster in the same run.
# Run by hand, never as a test (bench/README.md, "http_bench").
#
#   bench/http_bench.sh [-d SECONDS] [--warmup SECONDS] [--only NAME,...]
#                       [--reuse] [--reload] [--keep-cluster]
#
# 1. installs what is missing (wrk, PostgreSQL with pgbench, the build's
#    packages), builds the release build build-bench/;
# 2. starts a private PostgreSQL cluster (.pgdata/bench, port 54339 unless
#    ARC_BENCH_PG_PORT; PostgreSQL's default settings) or uses it if running;
# 3. the book: database arcbook_http, loaded by sweep_bench --load-only
#    and swept once through the server (POST /v1/scheduler/runs), made once
#    and kept (--reload makes it again); each run serves a copy of it,
#    arcbench_http (--reuse serves the previous run's copy as it is);
# 4. creates an API key, starts the release arcollectd serve with no
#    scheduler, webhook or import thread, waits for /readyz;
# 5. each path: a warm-up, then wrk -t2 -c32 -d SECONDS, then its pgbench
#    equivalent for as long with as many clients;
# 6. arcollectd's RSS under wrk -c256;
# 7. prints the table (also in build-bench/http_bench/results.md) and stops
#    what it started.  Traffic goes to 127.0.0.1 only.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

SECONDS_RUN=10
WARMUP=3
CONNS=32
ONLY=""
REUSE=0
RELOAD=0
KEEP_CLUSTER=0
PG_PORT=${ARC_BENCH_PG_PORT:-54339}
TPCB_SCALE=${ARC_BENCH_TPCB_SCALE:-32}
BOOK=arcbook_http
RUNDB=arcbench_http
TPCB=pgbench_tpcb
BDIR=build-bench
OUT=$BDIR/http_bench

usage() {
  sed -n '2,/^set /{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}" >&2
  cat >&2 <<'EOF'
Names for --only: get-invoice worklist-assignee worklist invoices-customer
invoices-rare invoices-common payments-customer call-logs-customer
events-customer post-payment post-call-log rss
EOF
  exit 2
}

while [ $# -gt 0 ]; do
  case "$1" in
    -d|--duration) SECONDS_RUN=${2:?}; shift 2 ;;
    --warmup) WARMUP=${2:?}; shift 2 ;;
    --only) ONLY=",${2:?},"; shift 2 ;;
    --reuse) REUSE=1; shift ;;
    --reload) RELOAD=1; shift ;;
    --keep-cluster) KEEP_CLUSTER=1; shift ;;
    -h|--help) usage ;;
    *) echo "http_bench: unknown argument $1" >&2; usage ;;
  esac
done
[[ "$SECONDS_RUN" =~ ^[1-9][0-9]*$ && "$WARMUP" =~ ^[0-9]+$ ]] || { echo "http_bench: -d and --warmup take whole seconds" >&2; exit 2; }

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'http_bench: %s\n' "$*" >&2; exit 1; }
want() { [ -z "$ONLY" ] || [[ "$ONLY" == *",$1,"* ]]; }

PACKAGES=(build-essential pkg-config meson ninja-build python3 python3-yaml curl
          libmicrohttpd-dev libjansson-dev libpq-dev libssl-dev libcmocka-dev libcurl4-openssl-dev libicu-dev
          postgresql postgresql-contrib wrk)

# as_root, install_packages, pg_as, free_port, pg_root, start_cluster, stop_cluster
# shellcheck source=deploy/lib.sh
. "$ROOT/deploy/lib.sh"

install_missing() {
  install_packages "${PACKAGES[@]}"
  [ -x "$PGBIN/pgbench" ] || die "pgbench not found in $PGBIN"
}

PGDIR=""
STARTED_CLUSTER=0
SERVER_PID=""
SAMPLER_PID=""

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  local _
  for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [ -n "$SAMPLER_PID" ] && { kill "$SAMPLER_PID" 2>/dev/null || true; wait "$SAMPLER_PID" 2>/dev/null || true; }
  stop_server
  if [ "$STARTED_CLUSTER" = 1 ] && [ "$KEEP_CLUSTER" = 0 ]; then
    say "stopping PostgreSQL"
    stop_cluster "$PGDIR"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The benchmark's cluster, PostgreSQL's default settings (only where it
# listens is set); one already running there is used and left running.
start_bench_cluster() {
  PGDIR="$(pg_root)/bench"
  if start_cluster "$PGDIR" "$PG_PORT"; then
    STARTED_CLUSTER=1
  else
    say "PostgreSQL already running in $PGDIR: using it (left running)"
  fi
}

conninfo() { printf 'host=127.0.0.1 port=%s user=postgres dbname=%s' "$PG_PORT" "$1"; }
sql() { local db=$1; shift; psql "$(conninfo "$db")" -v ON_ERROR_STOP=1 -qAtX "$@"; }
db_exists() { [ "$(sql postgres -c "SELECT 1 FROM pg_database WHERE datname = '$1'")" = 1 ]; }

# start_server DB: arcollectd serve on a free port, no background threads.
start_server() {
  ARC_PORT=$(free_port)
  BASE="http://127.0.0.1:$ARC_PORT"
  DATABASE_URL="$(conninfo "$1")" ARC_PORT=$ARC_PORT ARC_SCHEDULER_INTERVAL_S=0 ARC_WEBHOOK_INTERVAL_MS=0 \
    ARC_IMPORT_POLL_S=0 ARC_SHUTDOWN_GRACE_S=5 \
    "$BDIR/arcollectd" serve >>"$OUT/arcollectd.log" 2>&1 &
  SERVER_PID=$!
  local _
  for _ in $(seq 1 300); do
    curl -fsS -o /dev/null --max-time 2 "$BASE/readyz" 2>/dev/null && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || { tail -n 20 "$OUT/arcollectd.log" >&2; die "arcollectd exited"; }
    sleep 0.1
  done
  die "arcollectd did not answer /readyz within 30 s"
}

new_key() {
  DATABASE_URL="$(conninfo "$1")" "$BDIR/arcollectd" create-api-key --role admin --name http-bench \
    --actor bench@example.com 2>>"$OUT/arcollectd.log"
}

# The book: loaded once, swept once through the server, analysed, kept.
prepare_book() {
  if [ "$RELOAD" = 1 ] && db_exists "$BOOK"; then
    say "--reload: dropping $BOOK"
    sql postgres -c "DROP DATABASE $BOOK WITH (FORCE)"
  fi
  if db_exists "$BOOK" && [ "$(sql "$BOOK" -c "SELECT count(*) FROM customers" 2>/dev/null)" != 100000 ]; then
    say "$BOOK is incomplete: loading it again"
    sql postgres -c "DROP DATABASE $BOOK WITH (FORCE)"
  fi
  if ! db_exists "$BOOK"; then
    sql postgres -c "CREATE DATABASE $BOOK"
    say "loading the book into $BOOK (sweep_bench --load-only, about a minute; log in $OUT/load.log)"
    DATABASE_URL="$(conninfo "$BOOK")" timeout 1800 nice "$BDIR/bench/sweep_bench" --load-only >"$OUT/load.log" 2>&1 \
      || { tail -n 20 "$OUT/load.log" >&2; die "the load failed"; }
    tail -n 1 "$OUT/load.log" >&2
  fi
  # Migrations newer than the book (an index, say) are applied to it once,
  # not to each copy; migrate also reloads the SQL code of this checkout.
  DATABASE_URL="$(conninfo "$BOOK")" "$BDIR/arcollectd" migrate >>"$OUT/arcollectd.log" 2>&1 \
    || die "migrate failed (see $OUT/arcollectd.log)"
  # Swept through the server the first time (a full sweep), and again when
  # the worklist's order is not kept for today: a later day, or SQL code
  # that migrate just reloaded (follow_ups.sql).  A server does the same at
  # its start; this one runs without its scheduler, so the worklist is
  # measured as collectors read it, in the kept order.
  if [ "$(sql "$BOOK" -c "SELECT count(*) FROM scheduler_runs WHERE finished_at IS NOT NULL")" = 0 ] \
     || [ "$(sql "$BOOK" -c "SELECT preferred_on IS DISTINCT FROM current_date FROM worklist_order")" = t ]; then
    local key t0
    key=$(new_key "$BOOK")
    start_server "$BOOK"
    say "a sweep of $BOOK through the server (POST /v1/scheduler/runs)"
    t0=$(date +%s)
    curl -fsS -o "$OUT/sweep.json" --max-time 1800 -X POST "$BASE/v1/scheduler/runs" \
      -H "Authorization: Bearer $key" -H 'Content-Type: application/json' -d '{}' \
      || { cat "$OUT/sweep.json" >&2 2>/dev/null; die "the sweep failed"; }
    say "swept in $(( $(date +%s) - t0 )) s: $(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("created", sum(d["created"].values()))' "$OUT/sweep.json")"
    stop_server
    sql "$BOOK" -c "DELETE FROM api_keys WHERE name = 'http-bench'" -c "VACUUM ANALYZE" -c "CHECKPOINT"
  fi
}

# Each run serves a fresh copy of the book, so earlier runs' POSTs do not pile up.
prepare_run_db() {
  if [ "$REUSE" = 1 ] && db_exists "$RUNDB"; then
    say "--reuse: serving $RUNDB as the last run left it"
  else
    local t0
    t0=$(date +%s)
    sql postgres -c "DROP DATABASE IF EXISTS $RUNDB WITH (FORCE)" \
                 -c "CREATE DATABASE $RUNDB TEMPLATE $BOOK STRATEGY FILE_COPY"
    say "copied $BOOK to $RUNDB in $(( $(date +%s) - t0 )) s"
  fi
  # A --reuse'd copy may be older than the book.
  DATABASE_URL="$(conninfo "$RUNDB")" "$BDIR/arcollectd" migrate >>"$OUT/arcollectd.log" 2>&1 \
    || die "migrate failed (see $OUT/arcollectd.log)"
  sql "$RUNDB" -c "DELETE FROM api_keys WHERE name = 'http-bench'"
}

# TPC-B in a database of its own on the same cluster, scale = clients
# (fewer branches than clients would make the clients queue on them).
prepare_tpcb() {
  if db_exists "$TPCB" && [ "$(sql "$TPCB" -c "SELECT count(*) FROM pgbench_branches" 2>/dev/null)" = "$TPCB_SCALE" ]; then
    return 0
  fi
  sql postgres -c "DROP DATABASE IF EXISTS $TPCB WITH (FORCE)" -c "CREATE DATABASE $TPCB"
  say "pgbench -i -s $TPCB_SCALE into $TPCB"
  timeout 1800 "$PGBIN/pgbench" -h 127.0.0.1 -p "$PG_PORT" -U postgres -i -q -s "$TPCB_SCALE" "$TPCB" >"$OUT/pgbench_init.log" 2>&1 \
    || { tail "$OUT/pgbench_init.log" >&2; die "pgbench -i failed"; }
}

# --- measuring -------------------------------------------------------------

# Waits (at most 60 s) until no statement runs in the benchmark's
# databases: a slow path's requests outlive wrk, whose connections close
# at the end, and would otherwise run into the next measurement.
wait_idle() {
  local _ n
  for _ in $(seq 1 300); do
    n=$(sql postgres -c "SELECT count(*) FROM pg_stat_activity WHERE datname IN ('$RUNDB', '$TPCB') AND state = 'active'")
    [ "$n" = 0 ] && return 0
    sleep 0.2
  done
  say "still $n statements running after 60 s; measuring anyway"
}

# The machine is shared: "busy elsewhere" is the share of its CPUs that
# went to processes other than ours (this script's children, arcollectd,
# the cluster) over a measurement.  cpu_snap SHELL_PID prints the CPU ticks of the
# machine, busy, and ours, and the clock's; elsewhere SNAP1 SNAP2 the share.
cpu_snap() {
  python3 - "$1" "${SERVER_PID:-0}" "$PGDIR/postmaster.pid" <<'PY'
import os, sys
def ticks(pid, children):
    try:
        f = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    # utime stime cutime cstime are the 12th to 15th fields after the name
    return int(f[11]) + int(f[12]) + (int(f[13]) + int(f[14]) if children else 0)
cpu = [int(x) for x in open("/proc/stat").readline().split()[1:9]]
busy = sum(cpu) - cpu[3] - cpu[4]
ours = ticks(sys.argv[1], True) + ticks(sys.argv[2], False)
try:
    pm = open(sys.argv[3]).readline().strip()
    ours += ticks(pm, True)
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                st = open("/proc/%s/stat" % p).read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if st[1] == pm:
                ours += ticks(p, False)
except OSError:
    pass
up = float(open("/proc/uptime").read().split()[0]) * os.sysconf("SC_CLK_TCK")
print(busy, ours, int(up))
PY
}
elsewhere() {
  # shellcheck disable=SC2086 # each snapshot is three numbers
  python3 -c 'import os, sys
b1, o1, u1, b2, o2, u2 = map(int, sys.argv[1:])
print("%.0f%%" % max(0, 100.0 * ((b2 - b1) - (o2 - o1)) / max(1, (u2 - u1) * os.cpu_count())))' $1 $2
}

# wrk_run CONNS SECONDS MODE PATH: prints the script's ARCBENCH line and
# busy_elsewhere=.
wrk_run() {
  local conns=$1 secs=$2 mode=$3 path=$4
  wait_idle
  local snap me=$BASHPID
  snap=$(cpu_snap "$me")
  ARC_KEY=$KEY ARC_MODE=$mode ARC_PATH=$path ARC_ID_MIN=$ID_MIN ARC_ID_MAX=$ID_MAX ARC_IDS=${IDS_FILE:-} \
    ARC_DAY=$DAY timeout $((secs + 60)) wrk -t2 -c"$conns" -d"${secs}s" --timeout 30s \
    -s "$ROOT/bench/http_bench.lua" "$BASE" >"$OUT/wrk.out" 2>&1 || { cat "$OUT/wrk.out" >&2; die "wrk failed"; }
  local line
  line=$(grep '^ARCBENCH ' "$OUT/wrk.out") || { cat "$OUT/wrk.out" >&2; die "wrk printed no result"; }
  echo "$line busy_elsewhere=$(elsewhere "$snap" "$(cpu_snap "$me")")"
}

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }

# pgbench_run DB SCRIPT|tpcb SECONDS: prints "tps latency_ms busy_elsewhere".
pgbench_run() {
  local db=$1 script=$2 secs=$3 args=()
  if [ "$script" = tpcb ]; then args=(-b tpcb-like); else args=(-n -f "$script"); fi
  wait_idle
  local snap me=$BASHPID
  snap=$(cpu_snap "$me")
  timeout $((secs + 120)) "$PGBIN/pgbench" -h 127.0.0.1 -p "$PG_PORT" -U postgres -M prepared -c "$CONNS" -j 2 \
    -T "$secs" "${args[@]}" "$db" >"$OUT/pgbench.out" 2>&1 || { cat "$OUT/pgbench.out" >&2; die "pgbench failed"; }
  local tps lat
  tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$OUT/pgbench.out")
  lat=$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' "$OUT/pgbench.out")
  [ -n "$tps" ] || { cat "$OUT/pgbench.out" >&2; die "pgbench printed no tps"; }
  printf '%.0f %s %s\n' "$tps" "$lat" "$(elsewhere "$snap" "$(cpu_snap "$me")")"
}

ROWS=()
# row CELL...: a line of the results table (Markdown), also shown as it is made.
row() {
  local line="|" cell
  for cell in "$@"; do line+=" $cell |"; done
  ROWS+=("$line")
  printf '%s\n' "$line" >&2
}

# check METHOD PATH [BODY]: one request by curl; fails on a status other than 2xx.
check() {
  local code
  code=$(curl -sS --max-time 60 -o "$OUT/check.json" -w '%{http_code}' -X "$1" "$BASE$2" -H "Authorization: Bearer $KEY" \
    ${3:+-H 'Content-Type: application/json' -d "$3"})
  [[ "$code" == 2* ]] || { cat "$OUT/check.json" >&2; echo >&2; die "$1 $2 answered $code"; }
}

# http_case NAME LABEL MODE PATH P99_TARGET_MS: warm-up, then measured;
# sets RES to the ARCBENCH line.
http_case() {
  local name=$1 label=$2 mode=$3 path=$4
  say "$label: warm-up ${WARMUP} s, then wrk -t2 -c$CONNS -d${SECONDS_RUN}s"
  [ "$WARMUP" = 0 ] || wrk_run "$CONNS" "$WARMUP" "$mode" "$path" >/dev/null
  RES=$(wrk_run "$CONNS" "$SECONDS_RUN" "$mode" "$path")
  echo "$name $RES" >>"$OUT/raw.txt"
  local bad
  bad=$(( $(field non2xx "$RES") + $(field errors "$RES") ))
  [ "$bad" = 0 ] || say "$label: $bad requests failed or answered >= 400 (see $OUT/arcollectd.log)"
}

# pg_case NAME SCRIPT: warm-up, then measured; sets PG to "tps latency".
pg_case() {
  say "  pgbench $1: warm-up ${WARMUP} s, then -c$CONNS -T$SECONDS_RUN -M prepared"
  [ "$WARMUP" = 0 ] || pgbench_run "$3" "$2" "$WARMUP" >/dev/null
  PG=$(pgbench_run "$3" "$2" "$SECONDS_RUN")
  echo "$1 pgbench $PG" >>"$OUT/raw.txt"
}

ratio() { python3 -c 'import sys; print("%.2f" % (float(sys.argv[1]) / float(sys.argv[2])))' "$1" "$2"; }
ge() { python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= float(sys.argv[2]) else 1)' "$1" "$2"; }
met() { if "$@"; then echo met; else echo "**not met**"; fi; }
fails() { local n=$(( $(field non2xx "$1") + $(field errors "$1") )); [ "$n" = 0 ] && echo 0 || echo "**$n**"; }

# A path with a p99 target only.
latency_case() {
  local name=$1 label=$2 mode=$3 path=$4 target=$5
  want "$name" || return 0
  if [ "$mode" = get ]; then check GET "$path"; else check GET "${path//\{id\}/$CHECK_CUSTOMER}"; fi
  http_case "$name" "$label" "$mode" "$path"
  if [ "$(field requests "$RES")" = 0 ]; then
    row "$label" 0 "0" "—" "—" "$(fails "$RES")" "— (no request finished in $SECONDS_RUN s)" "" "" \
        "p99 < $target ms" "**not met**" "$(field busy_elsewhere "$RES")"
    return 0
  fi
  local p99
  p99=$(field p99_ms "$RES")
  row "$label" "$(field rps "$RES")" "$(field requests "$RES")" "$(field p50_ms "$RES")" "$p99" "$(fails "$RES")" \
      "—" "" "" "p99 < $target ms" "$(met ge "$target" "$p99")" "$(field busy_elsewhere "$RES")"
}

# A path beside pgbench (PG: "tps latency busy_elsewhere"): the ratio is
# req/s over the pgbench tps.
ratio_case() {
  local label=$1 pglabel=$2 target=$4 tps lat busy r
  read -r tps lat busy <<<"$3"
  r=$(ratio "$(field rps "$RES")" "$tps")
  row "$label" "$(field rps "$RES")" "$(field requests "$RES")" "$(field p50_ms "$RES")" "$(field p99_ms "$RES")" \
      "$(fails "$RES")" "$pglabel" "$tps" "$r" "${target:+≥ $target×}" "${target:+$(met ge "$r" "$target")}" \
      "$(field busy_elsewhere "$RES") / $busy"
}

main() {
  mkdir -p "$OUT"
  : >"$OUT/arcollectd.log"
  : >"$OUT/raw.txt"
  install_missing
  if [ ! -f "$BDIR/build.ninja" ]; then
    say "meson setup $BDIR --buildtype=release"
    meson setup "$BDIR" --buildtype=release >/dev/null
  fi
  python3 -c 'import json, sys; sys.exit(not any(o["name"] == "buildtype" and o["value"] == "release"
               for o in json.load(open(sys.argv[1]))))' "$BDIR/meson-info/intro-buildoptions.json" \
    || die "$BDIR is not a release build (meson configure $BDIR --buildtype=release)"
  ninja -C "$BDIR" arcollectd bench/sweep_bench >/dev/null || ninja -C "$BDIR" arcollectd bench/sweep_bench
  start_bench_cluster
  prepare_book
  prepare_run_db
  want post-payment || want post-call-log && prepare_tpcb

  # What the requests draw from, read from the book.
  read -r ID_MIN ID_MAX <<<"$(sql "$RUNDB" -F ' ' -c "SELECT min(id), max(id) FROM invoices")"
  read -r CUS_MIN CUS_MAX <<<"$(sql "$RUNDB" -F ' ' -c "SELECT min(id), max(id) FROM customers")"
  # The server's today: its sessions' TimeZone is ARC_TIMEZONE, UTC by default.
  DAY=$(sql "$RUNDB" -c "SELECT (now() AT TIME ZONE 'UTC')::date")
  # The busiest collector: the longest worklist of the 40.
  COLLECTOR=$(sql "$RUNDB" -c "SELECT assignee FROM follow_ups WHERE status = 'open' AND due_on <= current_date
                                 AND assignee LIKE 'collector%' GROUP BY assignee ORDER BY count(*) DESC, assignee LIMIT 1")
  [ -n "$COLLECTOR" ] || die "no open follow-up is assigned to a collector: did the sweep run?"
  # Customers with open invoices, and the currency they owe in.
  sql "$RUNDB" -F ' ' -c "SELECT DISTINCT customer_id, currency FROM invoices WHERE status = 'open'" >"$OUT/open_customers.txt"
  CHECK_CUSTOMER=$(( (CUS_MIN + CUS_MAX) / 2 ))

  KEY=$(new_key "$RUNDB")
  start_server "$RUNDB"
  say "arcollectd (pid $SERVER_PID) on $BASE, database $RUNDB; invoices $ID_MIN..$ID_MAX, customers $CUS_MIN..$CUS_MAX"

  # The pgbench scripts: the same statements as the server, random ids alike.
  cat >"$OUT/invoice_columns.sql" <<EOF
\set id random($ID_MIN, $ID_MAX)
SELECT i.*, EXISTS (SELECT 1 FROM disputes d WHERE d.invoice_id = i.id AND d.status = 'open') FROM invoices i WHERE i.id = :id;
EOF
  cat >"$OUT/invoice_fields.sql" <<EOF
\set id random($ID_MIN, $ID_MAX)
SELECT i.id, i.version, d.* FROM invoices i CROSS JOIN LATERAL arc_invoice_fields(i) d WHERE i.id = :id;
EOF
  cat >"$OUT/invoice_json.sql" <<EOF
\set id random($ID_MIN, $ID_MAX)
SELECT i.id, i.version, arc_invoice_json(i)::text FROM invoices i WHERE i.id = :id;
EOF

  local t_start
  t_start=$(date +%s)
  row "path" "req/s" "requests" "p50 ms" "p99 ms" "failed" "pgbench equivalent" "tps" "ratio" "target" "met" \
      "busy elsewhere ¹"
  ROWS+=("|---|--:|--:|--:|--:|--:|---|--:|--:|---|---|--:|")

  IDS_FILE=""
  if want get-invoice; then
    check GET "/v1/invoices/$ID_MIN"
    http_case get-invoice "GET /v1/invoices/{id}" id "/v1/invoices/{id}"
    local get_res=$RES
    pg_case invoice-columns "$OUT/invoice_columns.sql" "$RUNDB"
    ratio_case "GET /v1/invoices/{id}" "row + dispute check as columns" "$PG" 0.5
    pg_case invoice-fields "$OUT/invoice_fields.sql" "$RUNDB"
    RES=$get_res ratio_case '″' "the server's statement, \`arc_invoice_fields(i)\` (reference)" "$PG" ""
    pg_case invoice-json "$OUT/invoice_json.sql" "$RUNDB"
    RES=$get_res ratio_case '″' "the document as JSON in SQL, \`arc_invoice_json(i)::text\` (reference)" "$PG" ""
  fi

  latency_case worklist-assignee "GET /v1/follow-ups?assignee=$COLLECTOR&limit=50" get \
    "/v1/follow-ups?assignee=$COLLECTOR&limit=50" 25
  latency_case worklist "GET /v1/follow-ups?limit=50" get "/v1/follow-ups?limit=50" 50
  ID_MIN=$CUS_MIN ID_MAX=$CUS_MAX latency_case invoices-customer "GET /v1/invoices?customer_id={random}" id \
    "/v1/invoices?customer_id={id}" 15
  latency_case invoices-rare "GET /v1/invoices?status=written_off (none in the book)" get "/v1/invoices?status=written_off" 15
  latency_case invoices-common "GET /v1/invoices?status=open" get "/v1/invoices?status=open" 15
  ID_MIN=$CUS_MIN ID_MAX=$CUS_MAX latency_case payments-customer "GET /v1/payments?customer_id={random}" id \
    "/v1/payments?customer_id={id}" 15
  ID_MIN=$CUS_MIN ID_MAX=$CUS_MAX latency_case call-logs-customer "GET /v1/call-logs?customer_id={random}" id \
    "/v1/call-logs?customer_id={id}" 15
  ID_MIN=$CUS_MIN ID_MAX=$CUS_MAX latency_case events-customer "GET /v1/events?customer_id={random}" id \
    "/v1/events?customer_id={id}" 15

  IDS_FILE=$OUT/open_customers.txt
  local c cur
  read -r c cur <"$IDS_FILE"
  if want post-payment; then
    check POST /v1/payments "{\"customer_id\":\"$c\",\"amount\":1,\"currency\":\"$cur\",\"received_on\":\"$DAY\",\"method\":\"ach\"}"
    http_case post-payment "POST /v1/payments (auto-allocated)" payment /v1/payments
    pg_case tpcb-1 tpcb "$TPCB"
    ratio_case "POST /v1/payments (auto-allocated)" "TPC-B (scale $TPCB_SCALE)" "$PG" 0.25
  fi
  if want post-call-log; then
    check POST /v1/call-logs "{\"customer_id\":\"$c\",\"channel\":\"phone\",\"direction\":\"outbound\",\"outcome\":\"no_answer\",\"contact_name\":\"Accounts payable\"}"
    http_case post-call-log "POST /v1/call-logs" call /v1/call-logs
    pg_case tpcb-2 tpcb "$TPCB"
    ratio_case "POST /v1/call-logs" "TPC-B (scale $TPCB_SCALE)" "$PG" 0.4
  fi
  IDS_FILE=""

  if want rss; then
    local idle peak=0 hwm
    idle=$(awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status")
    say "RSS: wrk -t2 -c256 -d${SECONDS_RUN}s on GET /v1/invoices/{id}, VmRSS sampled every 0.1 s"
    ( while kill -0 "$SERVER_PID" 2>/dev/null; do
        awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status" 2>/dev/null; sleep 0.1; done ) >"$OUT/rss.txt" &
    SAMPLER_PID=$!
    RES=$(wrk_run 256 "$SECONDS_RUN" id "/v1/invoices/{id}")
    kill "$SAMPLER_PID" 2>/dev/null || true; wait "$SAMPLER_PID" 2>/dev/null || true; SAMPLER_PID=""
    echo "rss $RES" >>"$OUT/raw.txt"
    peak=$(sort -n "$OUT/rss.txt" | tail -n 1)
    hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$SERVER_PID/status")
    local mib
    mib=$(python3 -c 'import sys; print("%.1f" % (int(sys.argv[1]) / 1024))' "$peak")
    row "RSS at 256 connections (GET /v1/invoices/{id})" "$(field rps "$RES")" "$(field requests "$RES")" \
        "$(field p50_ms "$RES")" \
        "$(field p99_ms "$RES")" "$(fails "$RES")" \
        "— (peak VmRSS $mib MiB; idle $((idle / 1024)) MiB; VmHWM $((hwm / 1024)) MiB)" "" "" "< 64 MiB" \
        "$(met ge 65536 "$peak")" "$(field busy_elsewhere "$RES")"
  fi
  stop_server

  {
    echo
    echo "http_bench $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src migrations || echo ' (modified)'),"
    echo "$(nproc) cores, $(sql postgres -c "SELECT 'PostgreSQL ' || current_setting('server_version') || ', shared_buffers ' || current_setting('shared_buffers')"),"
    echo "wrk -t2 -c$CONNS -d${SECONDS_RUN}s after ${WARMUP} s of warm-up; pgbench -c$CONNS -j2 -T$SECONDS_RUN -M prepared; measured in $(( $(date +%s) - t_start )) s"
    echo
    printf '%s\n' "${ROWS[@]}"
    echo
    echo "¹ The share of the machine's CPUs that other processes took during the wrk run (/ the pgbench run)."
  } | tee "$OUT/results.md"
}

main
