#!/usr/bin/env bash
# make stop: the server started by make run, and the private PostgreSQL.
cd "$(dirname "$0")/.."
. scripts/pg.sh
if [ -f "$SIRM_DATA_DIR/sirm.pid" ]; then
  pid=$(cat "$SIRM_DATA_DIR/sirm.pid")
  if kill -TERM "$pid" 2>/dev/null; then
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    echo "stopped sirm (pid $pid)"
  fi
  rm -f "$SIRM_DATA_DIR/sirm.pid"
fi
pg_stop_private
