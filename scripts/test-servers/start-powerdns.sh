#!/usr/bin/env bash
# Starts a real PowerDNS Authoritative server (Debian's pdns-server and pdns-backend-sqlite3)
# on free loopback ports, as an unprivileged user, for the DNS publishing tests
# (test/dns-publish/), and prints the settings they read as `export` lines:
#
#   eval "$(bash scripts/test-servers/start-powerdns.sh)"   # then: npx vitest run test/dns-publish
#   kill "$DKIM_TEST_PDNS_PID"                              # when done
#
# The HTTP API is on (api-key in DKIM_TEST_PDNS_API_KEY), and so is RFC 2136 (dnsupdate=yes)
# with the TSIG key dkim-bot allowed to update example.test, so the rfc2136 adapter is also
# proven against a second implementation. example.test holds foreign._domainkey, someone
# else's DKIM record that the bot must leave alone.
set -euo pipefail
here=$(dirname "$0")
# shellcheck source=common.sh
. "$here/common.sh"

pdns_server=$(command -v pdns_server || echo /usr/sbin/pdns_server)
[ -x "$pdns_server" ] || { echo "pdns_server not found: apt-get install pdns-server pdns-backend-sqlite3" >&2; exit 1; }
schema=""
for candidate in /usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql \
  /usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql; do
  if [ -f "$candidate" ]; then schema=$candidate; break; fi
done
[ -n "$schema" ] || { echo "the gsqlite3 schema is missing: apt-get install pdns-backend-sqlite3" >&2; exit 1; }

dir=$(make_server_dir dkim-pdns)
dns_port=$(free_port)
web_port=$(free_port)
while [ "$web_port" = "$dns_port" ]; do web_port=$(free_port); done
api_key=$(random_base64 24)
tsig_name=dkim-bot
tsig_secret=$(random_base64 32)

cat >"$dir/pdns.conf" <<CONF
launch=gsqlite3
gsqlite3-database=$dir/pdns.sqlite3
local-address=127.0.0.1
local-port=$dns_port
socket-dir=$dir
daemon=no
guardian=no
disable-syslog=yes
loglevel=5
api=yes
api-key=$api_key
webserver=yes
webserver-address=127.0.0.1
webserver-port=$web_port
webserver-allow-from=127.0.0.0/8
dnsupdate=yes
allow-dnsupdate-from=127.0.0.0/8
CONF

sqlite3 "$dir/pdns.sqlite3" <"$schema"
pdnsutil() { command pdnsutil --config-dir="$dir" "$@" >>"$dir/pdnsutil.log" 2>&1; }
pdnsutil create-zone example.test ns.example.test
pdnsutil add-record example.test foreign._domainkey TXT 300 '"v=DKIM1; k=rsa; p=SOMEONEELSESKEY"'
pdnsutil import-tsig-key "$tsig_name" hmac-sha256 "$tsig_secret"
pdnsutil set-meta example.test TSIG-ALLOW-DNSUPDATE "$tsig_name"
give_to_server_user "$dir"

"${AS_SERVER_USER[@]}" "$pdns_server" --config-dir="$dir" >"$dir/pdns.log" 2>&1 &
pid=$!
wait_until "$dir/pdns.log" "$pid" curl -sf -H "X-API-Key: $api_key" \
  "http://127.0.0.1:$web_port/api/v1/servers/localhost"

cat <<OUT
export DKIM_TEST_PDNS_URL=http://127.0.0.1:$web_port
export DKIM_TEST_PDNS_API_KEY=$api_key
export DKIM_TEST_PDNS_SERVER_ID=localhost
export DKIM_TEST_PDNS_ZONE=example.test
export DKIM_TEST_PDNS_DNS_SERVER=127.0.0.1:$dns_port
export DKIM_TEST_PDNS_TSIG_NAME=$tsig_name.
export DKIM_TEST_PDNS_TSIG_ALGORITHM=hmac-sha256
export DKIM_TEST_PDNS_TSIG_SECRET=$tsig_secret
export DKIM_TEST_PDNS_PID=$pid
export DKIM_TEST_PDNS_DIR=$dir
OUT
