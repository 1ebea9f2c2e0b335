#!/usr/bin/env bash
# The store tests start throwaway PostgreSQL and Redis servers from their binaries, and the
# dashboard's browser test drives Chromium. Installs what is missing when this is a Debian-like
# machine where we are root (a CI machine or a fresh container); anywhere else, says what to
# install.
set -euo pipefail

have_postgres() { compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || [ -n "${PG_BIN:-}" ]; }
have_redis() { command -v redis-server >/dev/null || [ -n "${REDIS_SERVER:-}" ]; }
have_chromium() { command -v chromium >/dev/null || [ -n "${CHROMIUM:-}" ]; }

if have_postgres && have_redis && have_chromium; then exit 0; fi

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo 'Installing the PostgreSQL and Redis servers and Chromium the tests start (apt-get)...' >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql redis-server chromium >/dev/null
  exit 0
fi

echo 'The tests need the PostgreSQL and Redis server binaries and Chromium:' >&2
echo '  Debian/Ubuntu: sudo apt-get install postgresql redis-server chromium' >&2
echo '  elsewhere: set PG_BIN to the directory of initdb and pg_ctl, REDIS_SERVER to redis-server' >&2
echo '  and CHROMIUM to a Chromium or Chrome executable' >&2
exit 1
