#!/usr/bin/env bash
# Starts a throwaway PostgreSQL (Debian's postgresql package) for the tests, as an
# unprivileged user, in a temp dir, on a free loopback port, with password (scram) auth over
# TCP, and prints the settings the tests read as `export` lines:
#
#   eval "$(bash scripts/test-servers/start-postgres.sh)"   # then: npm test
#   eval "$DKIM_TEST_PG_STOP"                              # when done
set -euo pipefail
here=$(dirname "$0")
# shellcheck source=common.sh
. "$here/common.sh"

bin_dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bin_dir" ] || [ ! -x "$bin_dir/initdb" ]; then
  echo "start-postgres: PostgreSQL is not installed (apt-get install postgresql)" >&2
  exit 1
fi

dir=$(make_server_dir dkim-test-pg)
port=$(free_port)
password=$(random_base64 18 | tr -d '/+=')
printf '%s\n' "$password" >"$dir/pwfile"
give_to_server_user "$dir/pwfile"

# initdb refuses to run as root; the tests should not need root anyway.
"${AS_SERVER_USER[@]}" "$bin_dir/initdb" -D "$dir/data" -U postgres --pwfile="$dir/pwfile" \
  --auth-local=trust --auth-host=scram-sha-256 --locale=C.UTF-8 --encoding=UTF8 \
  >"$dir/initdb.log" 2>&1
"${AS_SERVER_USER[@]}" "$bin_dir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" \
  start >/dev/null
"${AS_SERVER_USER[@]}" "$bin_dir/psql" -h "$dir" -p "$port" -U postgres -v ON_ERROR_STOP=1 -q \
  -c "CREATE ROLE dkim LOGIN PASSWORD '$password' CREATEDB" \
  -c "CREATE DATABASE dkim OWNER dkim" >/dev/null

stop="${AS_SERVER_USER[*]} $bin_dir/pg_ctl -D $dir/data -m fast -w stop >/dev/null; rm -rf $dir"
echo "export DKIM_TEST_DATABASE_URL='postgres://dkim:$password@127.0.0.1:$port/dkim'"
echo "export DKIM_TEST_PG_STOP='$stop'"
echo "start-postgres: PostgreSQL on 127.0.0.1:$port (data in $dir)" >&2
