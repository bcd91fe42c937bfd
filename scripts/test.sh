#!/usr/bin/env bash
# make test: PostgreSQL as for make run, then every test with the race
# detector. Each test package creates its own databases and drops them.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/pg.sh

if ! command -v gcc >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "test: the race detector needs gcc: installing it" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc libc6-dev >&2
  else
    echo "test: the race detector needs gcc: sudo apt-get install gcc" >&2; exit 1
  fi
fi

# activity/sinba and api (the SINBA export for INPS) check their XML
# output against SINBA.xsd with libxml2's xmllint, an independent validator.
if ! command -v xmllint >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "test: the SINBA tests need xmllint: installing libxml2-utils" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libxml2-utils >&2
  else
    echo "test: the SINBA tests need xmllint: sudo apt-get install libxml2-utils (they skip without it)" >&2
  fi
fi

# api's report page test opens the HTML census in headless Chromium.
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "test: the report page test needs chromium: installing it" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >&2
  else
    echo "test: the report page test needs chromium: sudo apt-get install chromium (it skips without it)" >&2
  fi
fi

pg_ensure
trap '[ "$PG_STARTED_HERE" = 1 ] && pg_stop_private' EXIT
go test -race -count=1 "$@" ./...
