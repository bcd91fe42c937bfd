#!/usr/bin/env bash
# Makes sure a PostgreSQL answers, for `make run` and `make test`. Sourced,
# it defines pg_ensure and pg_stop_private.
#
# pg_ensure sets SIRM_DATABASE_URL (the application database) and
# SIRM_TEST_DATABASE_URL (the server's maintenance database, where tests
# create and drop their own databases):
#   1. SIRM_DATABASE_URL (default: the machine's server on 127.0.0.1:5432)
#      when it answers;
#   2. otherwise a private cluster under .data/pg on port SIRM_PG_PORT
#      (default 55432), made with the machine's initdb and pg_ctl; as root
#      with no PostgreSQL installed, Debian's postgresql is installed first.

SIRM_DATA_DIR=${SIRM_DATA_DIR:-$PWD/.data}
SIRM_PG_DIR=$SIRM_DATA_DIR/pg
SIRM_PG_PORT=${SIRM_PG_PORT:-55432}
PG_STARTED_HERE=0

say() { echo "pg: $*" >&2; }

# pg_answers URL: does a server accept connections there?
pg_answers() {
  local url=$1
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -t 2 -d "$url" >/dev/null 2>&1
    return
  fi
  local hostport=${url#*://}; hostport=${hostport#*@}; hostport=${hostport%%/*}
  local host=${hostport%%:*} port=5432
  [[ $hostport == *:* ]] && port=${hostport##*:}
  timeout 2 bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null
}

pg_bindir() {
  local d
  if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
    dirname "$(readlink -f "$(command -v pg_ctl)")"
    return 0
  fi
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$d" ] && [ -x "$d/initdb" ] && echo "$d"
}

# pg_as: run a PostgreSQL program as a user it accepts (never root).
pg_as() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u "$PG_OS_USER" -- "$@"
  else
    "$@"
  fi
}

pg_start_private() {
  local bin
  bin=$(pg_bindir)
  if [ -z "$bin" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      say "PostgreSQL is not installed: installing Debian's postgresql"
      DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2 || { say "apt-get install postgresql failed"; return 1; }
      bin=$(pg_bindir)
    else
      say "no PostgreSQL answers at $SIRM_DATABASE_URL and none is installed."
      say "Install it with:  sudo apt-get install postgresql   (or set SIRM_DATABASE_URL to a server that answers)"
      return 1
    fi
  fi
  PG_OS_USER=$(id -un)
  if [ "$(id -u)" = 0 ]; then
    # initdb and postgres refuse to run as root.
    PG_OS_USER=postgres
    id -u postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
  fi
  mkdir -p "$SIRM_DATA_DIR"
  # The cluster's owner must be able to reach .data/pg; .data may be 0700
  # (it holds the keyring, itself 0600): let others traverse it, not list it.
  [ "$(id -u)" = 0 ] && chmod go+x "$SIRM_DATA_DIR"
  if [ ! -f "$SIRM_PG_DIR/PG_VERSION" ]; then
    say "creating a private cluster in $SIRM_PG_DIR"
    mkdir -p "$SIRM_PG_DIR" && chmod 700 "$SIRM_PG_DIR"
    [ "$(id -u)" = 0 ] && chown "$PG_OS_USER" "$SIRM_PG_DIR"
    pg_as "$bin/initdb" -D "$SIRM_PG_DIR" -U postgres -A trust -E UTF8 --no-instructions >"$SIRM_DATA_DIR/initdb.log" 2>&1 ||
      { say "initdb failed; see $SIRM_DATA_DIR/initdb.log"; return 1; }
  fi
  [ "$(id -u)" = 0 ] && chown -R "$PG_OS_USER" "$SIRM_PG_DIR"
  touch "$SIRM_DATA_DIR/pg.log" && { [ "$(id -u)" != 0 ] || chown "$PG_OS_USER" "$SIRM_DATA_DIR/pg.log"; }
  say "starting the private cluster on 127.0.0.1:$SIRM_PG_PORT"
  pg_as "$bin/pg_ctl" -D "$SIRM_PG_DIR" -l "$SIRM_DATA_DIR/pg.log" -w -t 60 \
    -o "-p $SIRM_PG_PORT -c listen_addresses=127.0.0.1 -k $SIRM_PG_DIR -c max_connections=300 -c fsync=off" start >&2 ||
    { say "pg_ctl start failed; see $SIRM_DATA_DIR/pg.log"; return 1; }
  PG_STARTED_HERE=1
  SIRM_DATABASE_URL="postgres://postgres@127.0.0.1:$SIRM_PG_PORT/sirm?sslmode=disable"
}

pg_ensure() {
  SIRM_DATABASE_URL=${SIRM_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/sirm?sslmode=disable}
  if pg_answers "$SIRM_DATABASE_URL"; then
    say "using the PostgreSQL at ${SIRM_DATABASE_URL%%\?*}"
  else
    local private="postgres://postgres@127.0.0.1:$SIRM_PG_PORT/sirm?sslmode=disable"
    if pg_answers "$private"; then
      say "using the private cluster already running on port $SIRM_PG_PORT"
      SIRM_DATABASE_URL=$private
    else
      pg_start_private || return 1
    fi
  fi
  local base=${SIRM_DATABASE_URL%%\?*} query=
  [[ $SIRM_DATABASE_URL == *\?* ]] && query="?${SIRM_DATABASE_URL#*\?}"
  SIRM_TEST_DATABASE_URL=${SIRM_TEST_DATABASE_URL:-${base%/*}/postgres$query}
  export SIRM_DATABASE_URL SIRM_TEST_DATABASE_URL
}

# pg_stop_private: stop the private cluster if it runs (whoever started it).
pg_stop_private() {
  local bin
  [ -f "$SIRM_PG_DIR/postmaster.pid" ] || return 0
  bin=$(pg_bindir) || return 0
  PG_OS_USER=$(stat -c %U "$SIRM_PG_DIR")
  say "stopping the private cluster"
  pg_as "$bin/pg_ctl" -D "$SIRM_PG_DIR" -m fast -w stop >&2 || true
}
