#!/usr/bin/env bash
# Replays the Dockerfile's steps without a Docker engine, on a clean copy of the tracked files:
#
#   build stage:    npm ci, npm run build, npm prune --omit=dev (same order, same npm settings)
#   runtime stage:  only package.json, node_modules, dist and manifest.yml, in a fresh folder
#
# then proves that the production install works without dev dependencies:
#   - no devDependency is left in node_modules, every dependency is there, better-sqlite3 loads;
#   - `node dist/cli.js --help` exits 0 and `keygen` writes a key;
#   - a start without configuration lists the problems and exits 1;
#   - `node dist/main.js` in dry-run HTTP mode answers 200 on /healthz, refuses an unsigned
#     POST /slack/events, passes the image's own HEALTHCHECK command, and exits 0 on SIGTERM.
#
# Only loopback traffic besides the npm registry: SLACK_API_URL points at a tiny local stub that
# answers auth.test, DKIM_DNS_SERVERS at a closed local port, and SPAMEXPERTS_URL is unset.
# Quiet on success (one summary line); on failure it says what failed, with the log's tail.
#
# Usage: bash scripts/replay-image-build.sh        (KEEP=1 keeps the temporary folder)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/dkim-replay.XXXXXX")
build="$work/build"
runtime="$work/runtime"
logs="$work/logs"
mkdir -p "$build" "$runtime" "$logs"

pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [[ "${KEEP:-}" == 1 ]]; then
    echo "replay-image-build: kept $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

fail() {
  echo "replay-image-build: FAILED: $1" >&2
  if [[ $# -ge 2 && -f "$2" ]]; then
    echo "--- last lines of $(basename "$2") ---" >&2
    tail -n "${3:-40}" "$2" >&2
  fi
  exit 1
}

# Runs a step quietly into its own log; prints the log's tail if it fails.
step() {
  local name=$1
  shift
  "$@" >"$logs/$name.log" 2>&1 || fail "$name (exit $?): $*" "$logs/$name.log"
}

# The environment the image's build stage sets (see Dockerfile). nodedir is left to the
# machine's npm configuration: the image points it at /usr/local, where its headers are.
export npm_config_build_from_source=better-sqlite3
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false

# --- the build context: tracked files only (as in the working tree), no node_modules, dist,
# .env or data. Then the build stage's COPY lines, and nothing else.
context="$work/context"
mkdir -p "$context"
(
  cd "$repo"
  git ls-files -z | while IFS= read -r -d '' file; do
    [[ -e "$file" ]] && printf '%s\0' "$file"
  done | tar --null -T - -cf - | tar -xf - -C "$context"
)
for file in package.json package-lock.json tsconfig.json tsconfig.build.json src manifest.yml; do
  [[ -e "$context/$file" ]] || fail "$file is not tracked, but the Dockerfile copies it"
done
cp -a "$context/package.json" "$context/package-lock.json" "$build/"

# --- build stage ----------------------------------------------------------------------------
cd "$build"
step npm-ci npm ci
cp -a "$context/tsconfig.json" "$context/tsconfig.build.json" "$context/src" "$build/"
step npm-run-build npm run build
step npm-prune npm prune --omit=dev
(cd node_modules/better-sqlite3 &&
  rm -rf deps src build/deps build/Release/obj build/Release/obj.target \
    build/Release/.deps build/Release/sqlite3.a build/Release/test_extension.node)
step sqlite-loads node -e "new (require('better-sqlite3'))(':memory:').close()"

# --- runtime stage: the four things the image copies, in a folder of their own ---------------
cp -a "$build/package.json" "$build/node_modules" "$build/dist" "$runtime/"
cp -a "$context/manifest.yml" "$runtime/"
cd "$runtime"

# No dev dependency left, every production dependency there. The lockfile marks what only
# devDependencies need ("dev": true); packages such as @types/node that production
# dependencies need too are not marked, and stay.
node --input-type=module -e '
  import { existsSync, readdirSync, readFileSync } from "node:fs";
  const pkg = JSON.parse(readFileSync("package.json", "utf8"));
  const lock = JSON.parse(readFileSync(process.argv[1], "utf8"));
  const devOnly = Object.entries(lock.packages)
    .filter(([path, entry]) => entry.dev === true && path.startsWith("node_modules/"))
    .map(([path]) => path);
  // The big dev-only tools by name as well, in case the lockfile ever stops marking them.
  const tools = ["typescript", "vitest", "tsx", "esbuild", "@biomejs/biome", "vite", "dns2"];
  const left = [...new Set([...devOnly, ...tools.map((name) => `node_modules/${name}`)])].filter(
    (path) => existsSync(path),
  );
  const missing = Object.keys(pkg.dependencies ?? {}).filter(
    (name) => !existsSync(`node_modules/${name}/package.json`),
  );
  if (left.length > 0) {
    console.error(`dev-only packages left in node_modules: ${left.join(", ")}`);
    process.exit(1);
  }
  if (missing.length > 0) {
    console.error(`production dependencies missing: ${missing.join(", ")}`);
    process.exit(1);
  }
  const count = readdirSync("node_modules")
    .filter((entry) => !entry.startsWith("."))
    .reduce((n, entry) => n + (entry.startsWith("@") ? readdirSync(`node_modules/${entry}`).length : 1), 0);
  console.log(`${count} top-level packages; ${devOnly.length} dev-only packages of the lockfile absent`);
' "$context/package-lock.json" >"$logs/deps.log" 2>&1 || fail "the pruned node_modules" "$logs/deps.log"
packages=$(tail -n 1 "$logs/deps.log")
step npm-ls npm ls --omit=dev --all
step sqlite-loads-at-runtime node -e "new (require('better-sqlite3'))(':memory:').close()"

# A clean environment for every run of the built bot: no variable (nor .env) from this
# machine may leak in, and nothing may reach beyond loopback.
clean_env=(env -i "PATH=$PATH" "HOME=$work/home" "TMPDIR=$work")
mkdir -p "$work/home"
[[ ! -e "$runtime/.env" ]] || fail "a .env reached the runtime folder"

# --- CLI ----------------------------------------------------------------------------------
"${clean_env[@]}" node dist/cli.js --help >"$logs/cli-help.log" 2>&1 ||
  fail "node dist/cli.js --help exited $?" "$logs/cli-help.log"
grep -q '^Usage: dkim-bot <command>' "$logs/cli-help.log" ||
  fail "node dist/cli.js --help printed no usage" "$logs/cli-help.log"
"${clean_env[@]}" node dist/cli.js keygen example.com --selector replay --bits 1024 --out "$work/keys" \
  >"$logs/cli-keygen.log" 2>&1 || fail "node dist/cli.js keygen exited $?" "$logs/cli-keygen.log"
grep -q 'BEGIN RSA PRIVATE KEY' "$work/keys/replay.private" ||
  fail "keygen wrote no PKCS#1 key" "$logs/cli-keygen.log"
[[ "$(stat -c %a "$work/keys/replay.private")" == 600 ]] || fail "keygen's key file is not mode 0600"

# --- a start without configuration: every problem listed, exit 1 ---------------------------
set +e
"${clean_env[@]}" node dist/main.js >"$logs/no-config.out" 2>"$logs/no-config.err"
code=$?
set -e
[[ $code == 1 ]] || fail "a start without configuration exited $code, not 1" "$logs/no-config.err"
for expected in "dkim-bot cannot start" "SLACK_BOT_TOKEN is missing" "SLACK_SIGNING_SECRET is missing" \
  "DKIM_APPROVERS is missing"; do
  grep -qF "$expected" "$logs/no-config.err" ||
    fail "a start without configuration did not say \"$expected\"" "$logs/no-config.err"
done

# --- the bot in dry-run HTTP mode -------------------------------------------------------------
free_port() {
  node -e 'const s = require("node:net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

# Bolt asks auth.test on start. A Slack it cannot reach does not stop the start, but the Web
# API client then retries for minutes and keeps the process alive after SIGTERM; so a stub
# answers auth.test (and anything else with ok:false), on loopback.
cat >"$work/slack-stub.cjs" <<'STUB'
const { createServer } = require("node:http");
const server = createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    const method = (req.url ?? "").split("?")[0].split("/").pop();
    process.stderr.write(`${req.method} ${method}\n`);
    const body =
      method === "auth.test"
        ? { ok: true, url: "https://replay.invalid/", team: "replay", team_id: "TREPLAY",
            user: "dkim-bot", user_id: "UREPLAYBOT", bot_id: "BREPLAY" }
        : { ok: false, error: "not_in_replay" };
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  });
});
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
STUB
node "$work/slack-stub.cjs" >"$logs/slack-stub.port" 2>"$logs/slack-stub.log" &
pids+=($!)
for _ in $(seq 1 50); do [[ -s "$logs/slack-stub.port" ]] && break; sleep 0.1; done
stub_port=$(head -n 1 "$logs/slack-stub.port")
[[ -n "$stub_port" ]] || fail "the Slack stub did not start" "$logs/slack-stub.log"

port=$(free_port)
closed_port=$(free_port)
data_dir="$work/data"
"${clean_env[@]}" \
  SLACK_BOT_TOKEN=xoxb-0000-replay-not-a-real-token \
  SLACK_SIGNING_SECRET=replay-signing-secret \
  DKIM_APPROVERS=UREPLAY01 \
  PORT="$port" \
  DATA_DIR="$data_dir" \
  SLACK_API_URL="http://127.0.0.1:$stub_port/api/" \
  DKIM_DNS_SERVERS="127.0.0.1:$closed_port" \
  LOG_LEVEL=info \
  node dist/main.js >"$logs/bot.out" 2>"$logs/bot.err" &
bot=$!
pids+=("$bot")

healthz() {
  node -e '
    fetch(process.argv[1]).then(
      async (r) => { console.log(r.status, await r.text()); process.exit(r.status === 200 ? 0 : 1); },
      (e) => { console.log("no answer:", e.cause?.code ?? e.message); process.exit(1); },
    );' "http://127.0.0.1:$port/healthz"
}
healthy=""
for _ in $(seq 1 100); do
  kill -0 "$bot" 2>/dev/null || fail "the bot exited before answering /healthz" "$logs/bot.err"
  if healthz >"$logs/healthz.log" 2>&1; then healthy=1 && break; fi
  sleep 0.2
done
[[ -n "$healthy" ]] || fail "/healthz did not answer 200 within 20 s ($(cat "$logs/healthz.log"))" "$logs/bot.out"
grep -q '"status":"ok"' "$logs/healthz.log" || fail "/healthz body: $(cat "$logs/healthz.log")"
grep -q '"dryRun":true' "$logs/healthz.log" || fail "/healthz does not say dry run: $(cat "$logs/healthz.log")"

# Slack's requests are verified: an unsigned POST is refused before any listener runs.
unsigned=$(node -e '
  fetch(process.argv[1], { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "command=%2Fdkim&text=help" }).then((r) => console.log(r.status), () => console.log("none"));' \
  "http://127.0.0.1:$port/slack/events")
[[ "$unsigned" == 401 ]] || fail "an unsigned POST /slack/events got $unsigned, not 401" "$logs/bot.out"

# The image's HEALTHCHECK, taken from the Dockerfile as it is, with PORT as the image sets it.
healthcheck=$(node -e '
  const text = require("node:fs").readFileSync(process.argv[1], "utf8").replace(/\\\n/g, " ");
  const line = text.split("\n").find((l) => /^HEALTHCHECK\b/.test(l));
  const exec = line && /\bCMD\s+(\[.*\])\s*$/.exec(line);
  if (!exec) process.exit(1);
  const argv = JSON.parse(exec[1]);
  if (argv[0] !== "node" || argv[1] !== "-e" || argv.length !== 3) process.exit(1);
  console.log(argv[2]);' "$context/Dockerfile") || fail "no HEALTHCHECK CMD [\"node\", \"-e\", ...] in the Dockerfile"
"${clean_env[@]}" PORT="$port" node -e "$healthcheck" ||
  fail "the Dockerfile's HEALTHCHECK exited $? against the running bot" "$logs/bot.out"
set +e
"${clean_env[@]}" PORT="$closed_port" node -e "$healthcheck"
code=$?
set -e
[[ $code == 1 ]] || fail "the Dockerfile's HEALTHCHECK exited $code, not 1, where nothing listens"

grep -q 'auth.test' "$logs/slack-stub.log" || fail "the bot never asked the Slack stub auth.test" "$logs/bot.out"
key_file="$data_dir/encryption.key"
[[ -f "$key_file" && "$(stat -c %a "$key_file")" == 600 ]] || fail "no encryption.key of mode 0600 in DATA_DIR"
[[ -f "$data_dir/dkim-bot.sqlite" ]] || fail "no dkim-bot.sqlite in DATA_DIR ($(ls "$data_dir"))"

# SIGTERM, as `docker stop` sends it to PID 1: a clean stop, exit 0, well within docker's 10 s.
started=$(date +%s%N)
kill -TERM "$bot"
stopped=""
for _ in $(seq 1 100); do
  if ! kill -0 "$bot" 2>/dev/null; then stopped=1 && break; fi
  sleep 0.1
done
[[ -n "$stopped" ]] || fail "the bot was still running 10 s after SIGTERM" "$logs/bot.out"
set +e
wait "$bot"
code=$?
set -e
stop_ms=$((($(date +%s%N) - started) / 1000000))
[[ $code == 0 ]] || fail "the bot exited $code after SIGTERM, not 0" "$logs/bot.err"
grep -q '"msg":"Stopped"' "$logs/bot.out" || fail "the bot's log has no \"Stopped\" line" "$logs/bot.out"
if grep -q 'xoxb-0000-replay' "$logs/bot.out" "$logs/bot.err"; then
  fail "the bot token appeared in the bot's output" "$logs/bot.out"
fi

echo "replay-image-build: ok on node $(node --version), npm $(npm --version): npm ci, build, prune" \
  "($packages); cli --help and keygen; no config -> exit 1;" \
  "dry-run HTTP bot: /healthz 200, unsigned POST 401, HEALTHCHECK 0 (1 when down);" \
  "SIGTERM -> exit 0 in ${stop_ms} ms"
