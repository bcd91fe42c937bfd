#!/usr/bin/env bash
# make run: PostgreSQL, migrations, keyring, development tokens, then the
# server in the foreground. Ctrl-C (or `make stop`) stops the server and the
# private PostgreSQL cluster if this script started one.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/pg.sh

SIRM=${SIRM:-bin/sirm}
pg_ensure
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [ -n "${SERVER_PID:-}" ] && kill -TERM "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  rm -f "$SIRM_DATA_DIR/sirm.pid"
  [ "$PG_STARTED_HERE" = 1 ] && pg_stop_private
  exit "$rc"
}
trap cleanup EXIT INT TERM

"$SIRM" migrate
"$SIRM" keys init >/dev/null
# A demo registry of facilities, once: the command does nothing when the
# registry already holds facilities.
echo "Registry: $("$SIRM" demo facilities | sed -n 1p)"
# Demo case files and stays on that registry, once (nothing when case
# files exist).
echo "Activity: $("$SIRM" demo activity | sed -n 1p)"
LISTEN=${SIRM_LISTEN:-127.0.0.1:8080}

echo
echo "Development tokens (valid 8 hours):"
declare -A ORG=([service_operator]=FIORENTINA [facility_operator]=ASSO-000001 [region_analyst]=REGIONE [data_steward]=REGIONE [auditor]=REGIONE [admin]=REGIONE)
for role in service_operator facility_operator region_analyst data_steward auditor admin; do
  tok=$("$SIRM" dev-token --role "$role" --org "${ORG[$role]}")
  printf '  %-18s %s\n' "$role" "$tok"
  [ "$role" = auditor ] && AUDITOR=$tok
  [ "$role" = region_analyst ] && ANALYST=$tok
done
mkdir -p "$SIRM_DATA_DIR"
echo "$AUDITOR" >"$SIRM_DATA_DIR/auditor.jwt"
echo "$ANALYST" >"$SIRM_DATA_DIR/analyst.jwt"
echo
echo "Try:  curl -s -H \"Authorization: Bearer \$(cat .data/auditor.jwt)\" http://$LISTEN/v1/audit/verify"
echo "      curl -s -H \"Authorization: Bearer \$(cat .data/analyst.jwt)\" 'http://$LISTEN/v1/facilities?zone=FIORENTINA&limit=5'"
echo "      curl -s http://$LISTEN/status"
echo

"$SIRM" serve --listen "$LISTEN" &
SERVER_PID=$!
echo "$SERVER_PID" >"$SIRM_DATA_DIR/sirm.pid"
wait "$SERVER_PID"
