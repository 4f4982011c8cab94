#!/usr/bin/env bash
# A real Temporal cluster without Docker: PostgreSQL (Debian's package) and the Temporal server
# built from its Go module, in a folder this script owns.
#
#   scripts/cluster.sh up     [--address <ip>:<port>] [--dir <folder>] [--pg-port <port>]
#   scripts/cluster.sh down   [--dir <folder>]
#   scripts/cluster.sh status [--dir <folder>]
#   scripts/cluster.sh build
#
# up: builds the server once (cached under .tools/temporal-server/<version>/), makes the
# database and its schema, starts PostgreSQL and the server, creates the `default` namespace and
# registers our search attributes. Safe to run again. The folder (default ~/gt-cluster) holds the
# database, the logs, the pid files and the address in use; `down` stops both, data kept.
# build: only what `up` installs and builds once (PostgreSQL's package, the server), for a
# machine that prepares before it runs the cluster somewhere without network access.
# docker-compose.yml does the same with the same versions, config file and ports.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"

TEMPORAL_SERVER_VERSION=v1.32.2   # go.temporal.io/server: cmd/server and cmd/tools/sql
GO_TOOLCHAIN=go1.27.3             # the server's go.mod needs Go 1.26.10 or newer
PG_MAJOR=15                       # Debian's postgresql-15

usage() {
  echo "usage: scripts/cluster.sh up|down|status|build [--address <ip>:<port>] [--dir <folder>] [--pg-port <port>]" >&2
  exit 2
}
die() {
  echo "error: $1" >&2
  [ -n "${2:-}" ] && echo "hint: $2" >&2
  exit 1
}

cmd=${1:-}; [ $# -gt 0 ] && shift
case "$cmd" in up|down|status|build) ;; *) usage ;; esac
address="" dir="${GT_CLUSTER_DIR:-$HOME/gt-cluster}" pg_port=""
while [ $# -gt 0 ]; do
  case "$1" in
    --address) [ $# -ge 2 ] || usage; address=$2; shift 2 ;;
    --dir) [ $# -ge 2 ] || usage; dir=$2; shift 2 ;;
    --pg-port) [ $# -ge 2 ] || usage; pg_port=$2; shift 2 ;;
    *) echo "error: unknown argument: $1" >&2; usage ;;
  esac
done
# The services' membership ports (700 below) are kept in a smallint column: at most 32767.
check_port() {
  [ "$1" -ge 1724 ] && [ "$1" -le 33467 ] || die "the port of --address must be between 1724 and 33467 (got $1)" "the server also uses the 10 ports above it and the ones 700 below it, and stores those in a smallint"
}

# Bad input is refused before anything is made.
if [ -n "$address" ]; then
  [[ "$address" =~ ^([0-9]{1,3}(\.[0-9]{1,3}){3}):([0-9]{1,5})$ ]] \
    || die "--address must be <ip>:<port>, e.g. 127.0.0.1:7233 or 10.0.0.5:7233 (got '$address')" \
           "the server binds to that IP and announces it to the other services, so a name or 0.0.0.0 will not do"
  [ "${address%:*}" != 0.0.0.0 ] || die "--address must name this host's own IP, not 0.0.0.0" "the server announces that IP to its other services and to workers"
  check_port "${address##*:}"
fi
[ -z "$pg_port" ] || [[ "$pg_port" =~ ^[0-9]{1,5}$ ]] || die "--pg-port must be a port number (got '$pg_port')"
[ "$cmd" = up ] || [ "$cmd" = build ] || [ -d "$dir" ] || die "no cluster folder at $dir" "give the folder of scripts/cluster.sh up with --dir"
if [ "$cmd" != build ]; then
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
fi
state="$dir/cluster.env"

# The address in use is remembered, so `down` and `status` need no flags.
if [ -f "$state" ]; then
  # shellcheck disable=SC1090
  . "$state"
fi
if [ -n "$address" ]; then
  if [ "$cmd" = up ] && [ -n "${CLUSTER_ADDRESS:-}" ] && [ "$CLUSTER_ADDRESS" != "$address" ] && [ -f "$dir/temporal.pid" ] && kill -0 "$(cat "$dir/temporal.pid")" 2>/dev/null; then
    die "the cluster in $dir already runs at $CLUSTER_ADDRESS" "run scripts/cluster.sh down --dir $dir first"
  fi
  CLUSTER_ADDRESS=$address
fi
CLUSTER_ADDRESS=${CLUSTER_ADDRESS:-127.0.0.1:7233}
[ -n "$pg_port" ] && CLUSTER_PG_PORT=$pg_port
CLUSTER_PG_PORT=${CLUSTER_PG_PORT:-5432}
host=${CLUSTER_ADDRESS%:*}
port=${CLUSTER_ADDRESS##*:}

tools="$REPO/.tools/temporal-server/$TEMPORAL_SERVER_VERSION"
server_bin="$tools/bin/temporal-server"
sql_tool="$tools/bin/temporal-sql-tool"
schema="$tools/schema/postgresql/v12"
pgdata="$dir/postgres"
rundir="$dir/run"

# PostgreSQL refuses to run as root: as root, its files belong to the `postgres` user.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_bin() {
  if [ -x "/usr/lib/postgresql/$PG_MAJOR/bin/postgres" ]; then
    echo "/usr/lib/postgresql/$PG_MAJOR/bin"
    return
  fi
  local sudo=""
  [ "$(id -u)" = 0 ] || { command -v sudo >/dev/null && sudo=sudo; } || die "PostgreSQL $PG_MAJOR is not installed" "apt-get install postgresql-$PG_MAJOR"
  command -v apt-get >/dev/null || die "PostgreSQL $PG_MAJOR is not installed and there is no apt-get" "install PostgreSQL $PG_MAJOR; its binaries are looked for in /usr/lib/postgresql/$PG_MAJOR/bin"
  echo "==> installing postgresql-$PG_MAJOR" >&2
  $sudo apt-get update -qq >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "postgresql-$PG_MAJOR" >/dev/null
  [ -x "/usr/lib/postgresql/$PG_MAJOR/bin/postgres" ] || die "postgresql-$PG_MAJOR installed no /usr/lib/postgresql/$PG_MAJOR/bin/postgres"
  echo "/usr/lib/postgresql/$PG_MAJOR/bin"
}

build_server() {
  [ -x "$server_bin" ] && [ -x "$sql_tool" ] && [ -d "$schema" ] && return 0
  command -v go >/dev/null || die "Go is needed once, to build the Temporal server" "apt-get install golang-go (any Go 1.21+: it fetches $GO_TOOLCHAIN itself)"
  echo "==> building the Temporal server $TEMPORAL_SERVER_VERSION with $GO_TOOLCHAIN (once; cached in .tools/temporal-server)"
  local started=$SECONDS tmp="$tools.tmp.$$"
  rm -rf "$tmp"; mkdir -p "$tmp/bin"
  export GOTOOLCHAIN=$GO_TOOLCHAIN
  GOBIN="$tmp/bin" go install "go.temporal.io/server/cmd/server@$TEMPORAL_SERVER_VERSION" "go.temporal.io/server/cmd/tools/sql@$TEMPORAL_SERVER_VERSION"
  mv "$tmp/bin/server" "$tmp/bin/temporal-server"
  mv "$tmp/bin/sql" "$tmp/bin/temporal-sql-tool"
  # The schema files of the same version, from the module the build downloaded.
  local mod
  mod=$(go mod download -json "go.temporal.io/server@$TEMPORAL_SERVER_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$mod/schema/postgresql/v12" ] || die "no schema/postgresql/v12 in the module at $mod"
  mkdir -p "$tmp/schema/postgresql"
  cp -r "$mod/schema/postgresql/v12" "$tmp/schema/postgresql/"
  chmod -R u+w "$tmp/schema"
  rm -rf "$tools"; mv "$tmp" "$tools"
  echo "    built in $((SECONDS - started)) s"
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

sql() {
  "$sql_tool" --endpoint 127.0.0.1 --port "$CLUSTER_PG_PORT" --user temporal --password temporal --plugin postgres12 "$@"
}

start_postgres() {
  local bin; bin=$(pg_bin)
  mkdir -p "$rundir"
  if [ ! -f "$pgdata/PG_VERSION" ]; then
    echo "==> PostgreSQL $PG_MAJOR: new database in $pgdata"
    mkdir -p "$pgdata"
    local pw="$dir/.pgpass.tmp"
    echo temporal > "$pw"
    if [ "$(id -u)" = 0 ]; then chown -R postgres: "$pgdata" "$pw"; fi
    chmod 700 "$pgdata"
    as_pg "$bin/initdb" -D "$pgdata" -U temporal --pwfile="$pw" --auth-local=trust --auth-host=scram-sha-256 -E UTF8 >"$dir/initdb.log" 2>&1 \
      || { rm -f "$pw"; die "initdb failed: $(tail -5 "$dir/initdb.log")" "the postgres user must be able to reach $dir (every folder above it needs o+x)"; }
    rm -f "$pw"
  fi
  if [ "$(id -u)" = 0 ]; then chown postgres: "$rundir"; fi
  if as_pg "$bin/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
    echo "==> PostgreSQL already runs"
  else
    port_open 127.0.0.1 "$CLUSTER_PG_PORT" && die "port $CLUSTER_PG_PORT is taken (another PostgreSQL?)" "pick another with --pg-port"
    echo "==> starting PostgreSQL on 127.0.0.1:$CLUSTER_PG_PORT"
    touch "$dir/postgres.log"; [ "$(id -u)" = 0 ] && chown postgres: "$dir/postgres.log"
    as_pg "$bin/pg_ctl" -D "$pgdata" -l "$dir/postgres.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $CLUSTER_PG_PORT -k $rundir -c max_connections=200" start >/dev/null \
      || die "PostgreSQL did not start: $(tail -5 "$dir/postgres.log")"
  fi
}

setup_schema() {
  local db
  for db in temporal temporal_visibility; do
    sql --db "$db" create >/dev/null 2>&1 || true   # exists already: fine
  done
  local have; have=$(as_pg "$(pg_bin)/psql" -h "$rundir" -p "$CLUSTER_PG_PORT" -U temporal -d temporal -tAc "select count(*) from pg_tables where tablename = 'schema_version'")
  if [ "$have" = 0 ]; then
    echo "==> schema: setting up"
    sql --db temporal setup-schema -v 0.0 >>"$dir/schema.log" 2>&1 || die "setup-schema failed; see $dir/schema.log"
    sql --db temporal_visibility setup-schema -v 0.0 >>"$dir/schema.log" 2>&1 || die "setup-schema failed; see $dir/schema.log"
  fi
  # Brings an existing database up to this server version (nothing to do when it is).
  sql --db temporal update-schema -d "$schema/temporal/versioned" >>"$dir/schema.log" 2>&1 || die "update-schema failed; see $dir/schema.log"
  sql --db temporal_visibility update-schema -d "$schema/visibility/versioned" >>"$dir/schema.log" 2>&1 || die "update-schema failed; see $dir/schema.log"
}

start_server() {
  if alive "$dir/temporal.pid"; then
    echo "==> the Temporal server already runs [pid $(cat "$dir/temporal.pid")]"
    return
  fi
  port_open "$host" "$port" && die "$host:$port is taken" "pick another with --address"
  echo "==> starting the Temporal server on $host:$port"
  GT_CLUSTER_HOST=$host GT_CLUSTER_PORT=$port GT_CLUSTER_PG_HOST=127.0.0.1 GT_CLUSTER_PG_PORT=$CLUSTER_PG_PORT \
    GT_CLUSTER_DYNAMIC_CONFIG="$REPO/scripts/cluster/dynamicconfig.yaml" \
    setsid "$server_bin" --config-file "$REPO/scripts/cluster/temporal.yaml" --allow-no-auth start \
    >>"$dir/temporal.log" 2>&1 < /dev/null &
  echo $! > "$dir/temporal.pid"
  local deadline=$((SECONDS + 90))
  until port_open "$host" "$port"; do
    alive "$dir/temporal.pid" || die "the Temporal server exited: $(tail -5 "$dir/temporal.log")" "see $dir/temporal.log"
    [ $SECONDS -lt $deadline ] || die "the Temporal server did not open $host:$port within 90 s" "see $dir/temporal.log"
    sleep 0.5
  done
}

prepare() {
  [ -f "$REPO/dist/temporal/prepare-cluster.js" ] || die "dist/ is missing" "run npm run build first"
  echo "==> namespace default and search attributes"
  node "$REPO/dist/temporal/prepare-cluster.js" "$CLUSTER_ADDRESS" default
}

save_state() {
  printf 'CLUSTER_ADDRESS=%s\nCLUSTER_PG_PORT=%s\n' "$CLUSTER_ADDRESS" "$CLUSTER_PG_PORT" > "$state"
}

stop_pid() {
  local file=$1 name=$2
  if alive "$file"; then
    local pid; pid=$(cat "$file")
    kill "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    echo "stopped $name"
  fi
  rm -f "$file"
}

case "$cmd" in
  up)
    build_server
    save_state
    start_postgres
    setup_schema
    start_server
    prepare
    echo "Cluster up: $CLUSTER_ADDRESS (data in $dir)"
    echo "Point a town at it: TEMPORAL_ADDRESS=$CLUSTER_ADDRESS, or \"temporal\": { \"address\": \"$CLUSTER_ADDRESS\" } in settings/config.json"
    ;;
  build)
    pg_bin >/dev/null
    build_server
    ;;
  down)
    stop_pid "$dir/temporal.pid" "the Temporal server"
    if [ -f "$pgdata/PG_VERSION" ] && as_pg "$(pg_bin)/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
      as_pg "$(pg_bin)/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null && echo "stopped PostgreSQL"
    fi
    ;;
  status)
    rc=0
    if [ -f "$pgdata/PG_VERSION" ] && as_pg "$(pg_bin)/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
      echo "PostgreSQL: running on 127.0.0.1:$CLUSTER_PG_PORT ($pgdata)"
    else
      echo "PostgreSQL: stopped"; rc=1
    fi
    if alive "$dir/temporal.pid" && port_open "$host" "$port"; then
      echo "Temporal:   running on $CLUSTER_ADDRESS [pid $(cat "$dir/temporal.pid")], server $TEMPORAL_SERVER_VERSION"
    elif alive "$dir/temporal.pid"; then
      echo "Temporal:   starting (pid $(cat "$dir/temporal.pid")), $CLUSTER_ADDRESS not open yet"; rc=1
    else
      echo "Temporal:   stopped"; rc=1
    fi
    exit $rc
    ;;
esac
