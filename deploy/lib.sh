# Shared by deploy/dev.sh and bench/http_bench.sh (sourced, not run):
# packages from Debian, and private PostgreSQL clusters.  The caller sets
# ROOT (the project folder) and defines say and die first.

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    die "need root to run: $*"; fi
}

# install_packages NAME...: apt-get installs those not installed yet; then
# PGBIN is the newest PostgreSQL's bin folder.
install_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  # Debian's package starts a system cluster on 5432; ours are private and need none of it.
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -x "$PGBIN/initdb" ] || die "PostgreSQL server binaries not found under /usr/lib/postgresql"
}

# PostgreSQL refuses to run as root: as root, the cluster belongs to the
# 'postgres' account that Debian's package creates; otherwise to the caller.
pg_as() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Where clusters live: .pgdata/ in the project, unless the project sits in a
# folder the postgres account cannot reach (a home folder of mode 700, when
# running as root); then a folder of /var/tmp named after the project.
pg_root() {
  local root="$ROOT/.pgdata"
  mkdir -p "$root"
  if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$root" 2>/dev/null; then
    root="/var/tmp/arcollect-$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)"
    mkdir -p "$root"
    chmod 755 "$root"
    say "the postgres account cannot reach $ROOT; clusters go to $root"
  fi
  printf '%s' "$root"
}

# start_cluster DIR PORT [extra postgres options]: initdb when new, then
# start on 127.0.0.1:PORT.  Returns 1 (starting nothing) when a server
# already runs in DIR, 0 when it started one.
start_cluster() {
  local dir=$1 port=$2; shift 2
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$dir"
    runuser -u postgres -- test -x "$dir" || die "the postgres account cannot reach $dir; move the project to a folder others can traverse"
  fi
  if [ ! -f "$dir/PG_VERSION" ]; then
    say "initdb $dir"
    pg_as "$PGBIN/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir.initdb.log" 2>&1 \
      || { cat "$dir.initdb.log" >&2; die "initdb failed"; }
  fi
  if pg_as "$PGBIN/pg_ctl" -D "$dir" status >/dev/null 2>&1; then return 1; fi
  say "starting PostgreSQL on 127.0.0.1:$port"
  pg_as "$PGBIN/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories= $*" start >/dev/null \
    || { tail -n 20 "$dir/server.log" >&2; die "PostgreSQL did not start (is port $port taken?)"; }
  return 0
}

stop_cluster() {
  local dir=$1
  [ -f "$dir/PG_VERSION" ] && pg_as "$PGBIN/pg_ctl" -D "$dir" -m fast -w -t 60 stop >/dev/null 2>&1 || true
}
