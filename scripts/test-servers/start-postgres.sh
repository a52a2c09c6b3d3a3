#!/usr/bin/env bash
# Starts a throwaway PostgreSQL (Debian's postgresql package) for the tests, as an
# unprivileged user, in a temp dir, on a free loopback port, with password (scram) auth over
# TCP, and prints the settings the tests read as `export` lines. TLS is on too (ssl=on, with a
# certificate for 127.0.0.1 and localhost from a throwaway CA made here, whose certificate is
# DKIM_TEST_PG_CA); plain connections keep working, as pg_hba's `host` lines take both:
#
#   eval "$(bash scripts/test-servers/start-postgres.sh)"   # then: npm test
#   eval "$DKIM_TEST_PG_STOP"                              # when done
#
# openssl must be installed (.ci/run installs it).
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
# A throwaway CA and a server certificate it signs, for 127.0.0.1 and localhost (the tests
# connect with sslmode=verify-full). The CA's key is thrown away at once; the server's key is
# the server user's alone (PostgreSQL refuses a key others may read).
tls="$dir/tls"
mkdir -p "$tls"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=dkim-bot test CA" \
  -keyout "$tls/ca.key" -out "$tls/ca.crt" -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$tls/server.key" \
  -out "$tls/server.csr" >/dev/null 2>&1
printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "extendedKeyUsage=serverAuth" \
  >"$tls/server.ext"
openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" \
  -CAcreateserial -days 2 -extfile "$tls/server.ext" -out "$tls/server.crt" >/dev/null 2>&1
rm -f "$tls/ca.key" "$tls/server.csr" "$tls/server.ext" "$tls/ca.srl"
chmod 0600 "$tls/server.key"
chmod 0644 "$tls/ca.crt" "$tls/server.crt"
give_to_server_user "$tls"

"${AS_SERVER_USER[@]}" "$bin_dir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200 \
-c ssl=on -c ssl_cert_file=$tls/server.crt -c ssl_key_file=$tls/server.key" \
  start >/dev/null
"${AS_SERVER_USER[@]}" "$bin_dir/psql" -h "$dir" -p "$port" -U postgres -v ON_ERROR_STOP=1 -q \
  -c "CREATE ROLE dkim LOGIN PASSWORD '$password' CREATEDB" \
  -c "CREATE DATABASE dkim OWNER dkim" >/dev/null

stop="${AS_SERVER_USER[*]} $bin_dir/pg_ctl -D $dir/data -m fast -w stop >/dev/null; rm -rf $dir"
echo "export DKIM_TEST_DATABASE_URL='postgres://dkim:$password@127.0.0.1:$port/dkim'"
echo "export DKIM_TEST_PG_STOP='$stop'"
echo "export DKIM_TEST_PG_CA='$tls/ca.crt'"
echo "start-postgres: PostgreSQL on 127.0.0.1:$port, TLS too (data in $dir)" >&2
