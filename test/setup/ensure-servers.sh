#!/usr/bin/env bash
# The store tests start throwaway PostgreSQL and Redis servers from their binaries. Installs them
# when they are missing and this is a Debian-like machine where we are root (a CI machine or a
# fresh container); anywhere else, says what to install.
set -euo pipefail

have_postgres() { compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || [ -n "${PG_BIN:-}" ]; }
have_redis() { command -v redis-server >/dev/null || [ -n "${REDIS_SERVER:-}" ]; }

if have_postgres && have_redis; then exit 0; fi

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo 'Installing the PostgreSQL and Redis servers the store tests start (apt-get)...' >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql redis-server >/dev/null
  exit 0
fi

echo 'The store tests need the PostgreSQL and Redis server binaries:' >&2
echo '  Debian/Ubuntu: sudo apt-get install postgresql redis-server' >&2
echo '  elsewhere: set PG_BIN to the directory of initdb and pg_ctl, and REDIS_SERVER to redis-server' >&2
exit 1
