#!/usr/bin/env bash
# Starts a real BIND 9 (Debian's bind9 package) on a free loopback port, as an unprivileged
# user, for the DNS publishing tests (test/dns-publish/), and prints the settings they read as
# `export` lines:
#
#   eval "$(bash scripts/test-servers/start-bind.sh)"   # then: npx vitest run test/dns-publish
#   kill "$DKIM_TEST_BIND_PID"                         # when done
#
# Zones (both primaries, kept in a temp dir):
#   example.test  the keys dkim-bot. (hmac-sha256) and dkim-bot-512. (hmac-sha512) may write
#                 TXT at *._domainkey.example.test only;
#                 foreign._domainkey holds someone else's DKIM record and alias._domainkey a
#                 CNAME, which the bot must leave alone.
#   other.test    the key may write nothing useful (only A at nothing.other.test): REFUSED.
set -euo pipefail
here=$(dirname "$0")
# shellcheck source=common.sh
. "$here/common.sh"

named=$(command -v named || echo /usr/sbin/named)
[ -x "$named" ] || { echo "named not found: apt-get install bind9" >&2; exit 1; }

dir=$(make_server_dir dkim-bind)
port=$(free_port)
key_name=dkim-bot.
algorithm=hmac-sha256
secret=$(random_base64 32)
# A second key, hmac-sha512, with the same rights: both algorithms are proven against BIND.
key512_name=dkim-bot-512.
secret512=$(random_base64 64)

cat >"$dir/named.conf" <<CONF
options {
  directory "$dir";
  pid-file "$dir/named.pid";
  session-keyfile "$dir/session.key";
  managed-keys-directory "$dir";
  listen-on port $port { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  dnssec-validation no;
  allow-transfer { none; };
  notify no;
};
controls { };
key "$key_name" { algorithm $algorithm; secret "$secret"; };
key "$key512_name" { algorithm hmac-sha512; secret "$secret512"; };
zone "example.test" {
  type primary;
  file "example.test.db";
  update-policy {
    grant $key_name wildcard *._domainkey.example.test. TXT;
    grant $key512_name wildcard *._domainkey.example.test. TXT;
  };
};
zone "other.test" {
  type primary;
  file "other.test.db";
  update-policy { grant $key_name name nothing.other.test. A; };
};
CONF

for zone in example.test other.test; do
  cat >"$dir/$zone.db" <<ZONE
\$TTL 300
@ IN SOA ns.$zone. hostmaster.$zone. 1 3600 600 86400 300
@ IN NS ns.$zone.
ns IN A 127.0.0.1
ZONE
done
cat >>"$dir/example.test.db" <<'ZONE'
foreign._domainkey IN TXT "v=DKIM1; k=rsa; p=SOMEONEELSESKEY"
alias._domainkey IN CNAME s1._domainkey.provider.example.
ZONE
give_to_server_user "$dir"

# -g: foreground, log to stderr; the script backgrounds it and hands back its pid.
"${AS_SERVER_USER[@]}" "$named" -g -n 1 -c "$dir/named.conf" >"$dir/named.log" 2>&1 &
pid=$!
wait_until "$dir/named.log" "$pid" grep -q "running" "$dir/named.log"

cat <<OUT
export DKIM_TEST_BIND_SERVER=127.0.0.1:$port
export DKIM_TEST_BIND_TSIG_NAME=$key_name
export DKIM_TEST_BIND_TSIG_ALGORITHM=$algorithm
export DKIM_TEST_BIND_TSIG_SECRET=$secret
export DKIM_TEST_BIND_TSIG512_NAME=$key512_name
export DKIM_TEST_BIND_TSIG512_SECRET=$secret512
export DKIM_TEST_BIND_ZONE=example.test
export DKIM_TEST_BIND_REFUSING_ZONE=other.test
export DKIM_TEST_BIND_PID=$pid
export DKIM_TEST_BIND_DIR=$dir
OUT
