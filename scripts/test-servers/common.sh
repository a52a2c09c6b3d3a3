# Shared by start-bind.sh and start-powerdns.sh (sourced, not run): a private temp dir, free
# loopback ports, and running a server as an unprivileged user.
#
# As root (CI), servers run as the system user dkimtest (created when missing) through setpriv,
# so a test server never has root's rights; as anyone else they run as that user.

TEST_SERVER_USER=dkimtest

# A new directory the server's user owns; everything the server reads or writes lives there.
make_server_dir() {
  local prefix=$1 dir
  dir=$(mktemp -d "${TMPDIR:-/tmp}/${prefix}.XXXXXX")
  if [ "$(id -u)" = 0 ]; then
    if ! id -u "$TEST_SERVER_USER" >/dev/null 2>&1; then
      useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
        "$TEST_SERVER_USER"
    fi
    chown "$TEST_SERVER_USER:" "$dir"
  fi
  chmod 0700 "$dir"
  printf '%s\n' "$dir"
}

# Gives files written by root (the script) to the server's user.
give_to_server_user() {
  if [ "$(id -u)" = 0 ]; then chown -R "$TEST_SERVER_USER:" "$@"; fi
}

# The prefix that runs a command as the server's user (empty when not root). setpriv execs the
# command, so `"${AS_SERVER_USER[@]}" server &` leaves the server's own pid in $!.
AS_SERVER_USER=()
if [ "$(id -u)" = 0 ]; then
  AS_SERVER_USER=(setpriv "--reuid=$TEST_SERVER_USER" "--regid=$TEST_SERVER_USER" --init-groups
    --inh-caps=-all --)
fi

# A TCP port on 127.0.0.1 that nothing listens on now (the kernel picks it). The same number is
# then used for UDP as well, which is free too in practice on a loopback test machine.
free_port() {
  node -e 'const s=require("node:net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close();});'
}

# Waits until "$@" succeeds (up to ~20 s); on failure prints the log and exits.
wait_until() {
  local log=$1 pid=$2
  shift 2
  for _ in $(seq 1 100); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then break; fi
    sleep 0.2
  done
  echo "the server did not start; its log:" >&2
  cat "$log" >&2
  kill "$pid" 2>/dev/null || true
  exit 1
}

# 32 or 64 random bytes in base64, as tsig-keygen makes them.
random_base64() {
  head -c "$1" /dev/urandom | base64 -w0
}
