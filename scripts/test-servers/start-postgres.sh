#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server for the tests: Debian's postgresql, as an unprivileged
# user, in a temp dir, on a free loopback port, with password (scram) auth over TCP.
# Prints `export` lines for the tests; use it as:   eval "$(bash scripts/test-servers/start-postgres.sh)"
# Stop it with:                                     eval "$DKIM_TEST_PG_STOP"
set -euo pipefail

bin_dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bin_dir" ] || [ ! -x "$bin_dir/initdb" ]; then
  echo "start-postgres: PostgreSQL is not installed (apt-get install postgresql)" >&2
  exit 1
fi

base=$(mktemp -d /tmp/dkim-test-pg.XXXXXX)
run_as=()
if [ "$(id -u)" = "0" ]; then
  # initdb refuses to run as root, and the tests should not need root anyway.
  id dkimtest >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin dkimtest
  chown dkimtest: "$base"
  chmod 0755 "$base"
  run_as=(setpriv --reuid=dkimtest --regid=dkimtest --init-groups)
fi

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
printf '%s\n' "$password" > "$base/pwfile"
[ "$(id -u)" = "0" ] && chown dkimtest: "$base/pwfile"

"${run_as[@]}" "$bin_dir/initdb" -D "$base/data" -U postgres --pwfile="$base/pwfile" \
  --auth-local=trust --auth-host=scram-sha-256 --locale=C.UTF-8 --encoding=UTF8 >"$base/initdb.log" 2>&1
"${run_as[@]}" "$bin_dir/pg_ctl" -D "$base/data" -l "$base/server.log" -w -t 30 \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $base -c fsync=off -c max_connections=200" start >/dev/null

"${run_as[@]}" "$bin_dir/psql" -h "$base" -p "$port" -U postgres -v ON_ERROR_STOP=1 -q \
  -c "CREATE ROLE dkim LOGIN PASSWORD '$password' CREATEDB" \
  -c "CREATE DATABASE dkim OWNER dkim" >/dev/null

stop="${run_as[*]} $bin_dir/pg_ctl -D $base/data -m fast -w stop >/dev/null; rm -rf $base"
echo "export DKIM_TEST_DATABASE_URL='postgres://dkim:$password@127.0.0.1:$port/dkim'"
echo "export DKIM_TEST_PG_STOP='$stop'"
echo "start-postgres: PostgreSQL on 127.0.0.1:$port (data in $base)" >&2
