/** Targets (../shared/docs/design.md, "Performance targets"), verdicts and BENCHMARKS.md. */
import type { AppResult, MemoryResult } from "./app.js";
import type { KeygenResult, LoopDelayResult } from "./keygen.js";
import type { Machine } from "./machine.js";
import { fixed, mb, mbSigned, ms, summarize } from "./stats.js";

export interface BenchResults {
  date: Date;
  machine: Machine;
  loadAverageAfter: number[];
  durationSeconds: number;
  keygen: KeygenResult;
  loop: LoopDelayResult;
  app: AppResult;
  memory: MemoryResult;
}

export const TARGETS = {
  keygenRatio: 0.8,
  loopP99Ms: 50,
  ackP99Ms: 100,
  /** "Near zero", made concrete: heap used after GC, and RSS, per 100 requests. */
  heapPer100Bytes: 512 * 1024,
  rssPer100Bytes: 2 * 1024 * 1024,
} as const;

export interface Verdict {
  name: string;
  figure: string;
  target: string;
  /** undefined: reported without a target. */
  met: boolean | undefined;
}

export function evaluate(results: BenchResults): Verdict[] {
  const { keygen, loop, app, memory } = results;
  const verdicts: Verdict[] = keygen.sizes.map((size) => ({
    name: `key generation ${size.bits} bits, ours/openssl (keys/s, one at a time)`,
    figure: `${fixed(size.throughputRatio)} (ours ${fixed(size.oursKeysPerSecond)} keys/s, openssl ${fixed(size.opensslKeysPerSecond)} keys/s; ratio of medians ${fixed(size.medianRatio)})`,
    target: `>= ${TARGETS.keygenRatio}`,
    met: size.throughputRatio >= TARGETS.keygenRatio,
  }));
  verdicts.push({
    name: `event-loop delay p99, ${loop.keysPerRound} x 2048-bit keys at once`,
    figure: `${ms(loop.p99)} (p50 ${ms(loop.p50)}, max ${ms(loop.max)})`,
    target: `<= ${TARGETS.loopP99Ms} ms`,
    met: loop.p99 <= TARGETS.loopP99Ms,
  });
  const ack = summarize(app.rounds.flatMap((round) => round.ackMs));
  const posted = summarize(app.rounds.flatMap((round) => round.postedMs));
  const inside = summarize(app.rounds.flatMap((round) => round.serverAckMs));
  verdicts.push({
    name: `/dkim setup ack p99, ${app.commandsPerRound} concurrent, ${app.rounds.length} round(s)`,
    figure: `${ms(ack.p99)} (p50 ${ms(ack.p50)}, max ${ms(ack.max)}; inside the bot p99 ${ms(inside.p99)})`,
    target: `<= ${TARGETS.ackP99Ms} ms`,
    met: ack.p99 <= TARGETS.ackP99Ms,
  });
  verdicts.push({
    name: "request message posted after the command",
    figure: `p50 ${ms(posted.p50)}, p99 ${ms(posted.p99)}`,
    target: "",
    met: undefined,
  });
  const apply = summarize(app.apply.map((sample) => sample.applyMs));
  verdicts.push({
    name: "approve click -> last SpamExperts call answered",
    figure: `p50 ${ms(apply.p50)}, p99 ${ms(apply.p99)}`,
    target: "",
    met: undefined,
  });
  verdicts.push({
    name: "memory growth per 100 requests (heap used after GC)",
    figure: `${mbSigned(memory.heapPer100)}`,
    target: `near zero (<= ${mb(TARGETS.heapPer100Bytes)})`,
    met: memory.heapPer100 <= TARGETS.heapPer100Bytes,
  });
  verdicts.push({
    name: "memory growth per 100 requests (RSS after GC)",
    figure: `${mbSigned(memory.rssPer100)}`,
    target: `near zero (<= ${mb(TARGETS.rssPer100Bytes)})`,
    met: memory.rssPer100 <= TARGETS.rssPer100Bytes,
  });
  return verdicts;
}

const mark = (met: boolean | undefined): string =>
  met === undefined ? "(no target)" : met ? "**MET**" : "**MISSED**";

/**
 * What was profiled because of a missed target, and what came of it. Kept by hand: the
 * figures come from runs of this bench's app measurement made while investigating.
 */
const PROFILING: readonly string[] = [
  "The ack target (3) is the one that misses on this machine, in some rounds and not in others.",
  "What was done to find out why:",
  "",
  "- CPU profiles of the bot process during rounds of 50 commands",
  '  (`BENCH_CHILD_NODE_OPTIONS="--cpu-prof --cpu-prof-dir=/tmp/prof"`, read per function',
  "  and as a timeline of long tasks), and timers inside the bot (the diagnostics-channel column",
  "  above) and per-thread CPU from /proc.",
  "- Inside the bot an ack takes about 0.5 ms (p50). The event loop spends 6-9 ms of CPU per",
  "  `/dkim setup` over the whole command, nearly all of it after the ack and after the key",
  "  exists: node-forge's PEM parse and re-encode plus `publicKeyOf`'s `createPrivateKey`",
  "  (OpenSSL 3's key decoder) about 3 ms per 2048-bit key, then the SQLite writes and the",
  "  Web API calls. The long tasks in the timeline are single samples of 40-80 ms in `writev`,",
  "  a SQLite transaction or an HTTP parser callback: the main thread descheduled, not working.",
  "- 50 `/dkim help` at once (no key, no database) ack with p99 29-41 ms on the same machine,",
  "  the reference row above measures the same each run.",
  "- Two candidate changes were tried as A/B on copies of the build (`BENCH_DIST=<dir>` points",
  "  the bot child at another build), alternating runs of 50 commands:",
  "  (a) at most cores-1 key generations at once, leaving a core to the event loop: ack p99 per",
  "  round 359 / 195 / 251 / 101 ms against 68 / 229 / 268 / 180 ms without;",
  "  (b) yielding to the event loop (`setImmediate`) right after acking `/dkim setup`, so the",
  "  other commands are acked before each request's synchronous start: 178 / 189 / 58 / 32 ms",
  "  against 135 / 152 / 57 / 29 ms without. The 1-minute load average was 3.6-6 on 2 cores",
  "  throughout: both differences are inside the noise, so neither was kept (each has a cost;",
  "  (a) halves key throughput on 2 cores).",
  "",
  "",
  "In most runs the first round after start is the slowest: its event loop spends more CPU per",
  "command (code paths still being optimised; the warm-up sends one setup only), and the",
  "pooled p99 of 200 acks is the third-slowest ack, so one slow round decides the verdict.",
  "",
  "Conclusion: the misses come from CPU starvation on the shared 2-core machine (other",
  "engineers' test runs, the bench process, and the bot's own key-generation threads), not from",
  "work the bot does before its ack. No change was made to `src/`; the same bench on a quiet",
  "machine (load average below 2) is the check to run before deciding otherwise.",
];

export function renderReport(results: BenchResults): string {
  const { machine, keygen, loop, app, memory } = results;
  const verdicts = evaluate(results);
  const lines: string[] = [];
  const push = (...more: string[]) => lines.push(...more);

  push(
    "# Benchmarks",
    "",
    "Generated by `npm run bench` (sources in `bench/`); do not edit by hand. Targets from",
    '`../shared/docs/design.md`, "Performance targets". `npm run bench:smoke` runs the same',
    "measurements with tiny sizes and writes nothing.",
    "",
    `- Date: ${results.date.toISOString()} (run took ${results.durationSeconds.toFixed(0)} s)`,
    `- Machine: ${machine.cpuModel}, ${machine.cores} cores, ${mb(machine.memoryBytes)} memory, ${machine.os}`,
    `- Node ${machine.node} (its OpenSSL ${machine.nodeOpenssl}); \`openssl\` binary: ${machine.openssl}`,
    `- libuv thread pool: ${machine.threadpoolSize} threads`,
    `- Load average (1/5/15 min) before: ${machine.loadAverage.map((value) => value.toFixed(2)).join(" / ")}, after: ${results.loadAverageAfter.map((value) => value.toFixed(2)).join(" / ")}`,
    "- The machine was shared with other engineers running tests while this ran: the figures",
    "  are noisy, and latency tails especially so.",
    "",
    "## Summary",
    "",
    "| Measurement | Figure | Target | Verdict |",
    "| --- | --- | --- | --- |",
    ...verdicts.map(
      (verdict) =>
        `| ${verdict.name} | ${verdict.figure} | ${verdict.target || "-"} | ${mark(verdict.met)} |`,
    ),
    "",
  );

  push(
    "## 1. Key generation",
    "",
    "One key at a time, our `generateKeyPair(bits)` (node-forge's async path: Node's native",
    "generator on the libuv pool, then PEM conversion and the key-consistency check) and",
    "`openssl genrsa <bits>` (one process per key, output discarded), interleaved: each round",
    "runs one of each, alternating which goes first. keys/s = keys / total time; the target is",
    "judged on the ratio of keys/s, the ratio of medians is shown as a check against a few",
    "slow prime searches. openssl's figures include a process spawn per key",
    `(\`openssl version\` spawn-to-exit median: ${ms(keygen.spawnMedianMs)}); ours include the`,
    "thread-pool hop and the PEM work on the event loop. Node links its own OpenSSL, so the two",
    "sides may not run the same OpenSSL version.",
    "",
    "| Bits | Keys (each side) | Ours median | openssl median | Ours keys/s | openssl keys/s | Ratio keys/s | Ratio of medians | Verdict |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...keygen.sizes.map(
      (size) =>
        `| ${size.bits} | ${size.ours.length} | ${ms(size.oursMedianMs)} | ${ms(size.opensslMedianMs)} | ${fixed(size.oursKeysPerSecond)} | ${fixed(size.opensslKeysPerSecond)} | ${fixed(size.throughputRatio)} | ${fixed(size.medianRatio)} | ${mark(size.throughputRatio >= TARGETS.keygenRatio)} |`,
    ),
    "",
    `Concurrency (not the target): ${loop.keysPerRound} keys of 2048 bits at once through ours`,
    `(libuv pool of ${loop.threadpoolSize} threads on ${machine.cores} cores): ${fixed(loop.oursConcurrentKeysPerSecond)} keys/s;`,
    `${loop.keysPerRound} \`openssl genrsa 2048\` with ${loop.opensslProcesses} processes at once: ${fixed(loop.opensslConcurrentKeysPerSecond)} keys/s.`,
    "",
  );

  push(
    "## 2. Event-loop delay during key generation",
    "",
    `\`perf_hooks.monitorEventLoopDelay\` (resolution ${loop.resolutionMs} ms) in the bench process while`,
    `${loop.keysPerRound} key pairs of 2048 bits are generated at once with our \`generateKeyPair\`,`,
    `${loop.rounds} round(s), pooled (${loop.samples} samples).`,
    "",
    "| p50 | p99 | max | Idle p99 / max (1 s, same monitor) | Target p99 | Verdict |",
    "| --- | --- | --- | --- | --- | --- |",
    `| ${ms(loop.p50)} | ${ms(loop.p99)} | ${ms(loop.max)} | ${ms(loop.idleP99)} / ${ms(loop.idleMax)} | <= ${TARGETS.loopP99Ms} ms | ${mark(loop.p99 <= TARGETS.loopP99Ms)} |`,
    "",
  );

  const ackAll = summarize(app.rounds.flatMap((round) => round.ackMs));
  const postedAll = summarize(app.rounds.flatMap((round) => round.postedMs));
  const insideAll = summarize(app.rounds.flatMap((round) => round.serverAckMs));
  const help = summarize(app.helpAckMs);
  push(
    "## 3. The app under 50 concurrent `/dkim setup` commands",
    "",
    "The built app (`dist/`) started with `startBot(loadConfig(env), logger)` in a child process",
    "(`bench/bot-child.ts`) in HTTP mode, production defaults (2048-bit keys, LOG_LEVEL info into",
    "a counting sink, DKIM_REQUIRE_DNS true), wired to the test suite's stand-ins running in the",
    "bench process: fake Slack (`SLACK_API_URL`), fake SpamExperts, the loopback DNS server. A",
    "child process rather than in-process, so that the bot's event loop, CPU and memory are its",
    "own; the bench process and the bot still share the 2 cores (with the bot's 4 key-generation",
    "threads). The bench process builds and signs the requests with the test suite's",
    "`slack-requests.ts` (so Bolt's real signature check runs) before the clock starts, then sends",
    "the 50 at once with node:http over keep-alive connections. Before the first round, 5",
    "`/dkim help` and one `/dkim setup` warm the bot up (not counted). Distinct domains in every",
    "round.",
    "",
    "- Ack: HTTP response time of the command POST as the sender sees it (the target).",
    "- Inside the bot: from the request's headers parsed to the ack finished, from Node's",
    "  `http.server.request.start` / `http.server.response.finish` diagnostics channels in the bot",
    "  process. The difference to Ack is time spent queued (the bot busy with the other commands,",
    "  or not scheduled) and in the sender.",
    "- Posted: from sending the command until fake Slack records the request message's",
    "  `chat.postMessage` (includes generating the 2048-bit key; 50 keys share the thread pool).",
    "- Bot loop delay: `monitorEventLoopDelay` (5 ms) in the bot process over the round.",
    "- CPU per command: the bot process's CPU over the round (until every message was posted)",
    "  divided by the commands: the event loop's own (main thread, from /proc, 10 ms ticks), and",
    "  all threads (mostly key generation on the thread pool).",
    "",
    "| Round | Commands | Ack p50 | Ack p99 | Ack max | Inside the bot p50 / p99 | Posted p50 | Posted p99 | Bot loop delay p50 / p99 / max | Bot CPU per command: event loop / all threads | Load avg (1 min) |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...app.rounds.map((round, index) => {
      const ack = summarize(round.ackMs);
      const inside = summarize(round.serverAckMs);
      const posted = summarize(round.postedMs);
      const perCommand = (value: number) => ms(value / Math.max(1, ack.count));
      return `| ${index + 1} | ${ack.count} | ${ms(ack.p50)} | ${ms(ack.p99)} | ${ms(ack.max)} | ${ms(inside.p50)} / ${ms(inside.p99)} | ${ms(posted.p50)} | ${ms(posted.p99)} | ${ms(round.loop.p50)} / ${ms(round.loop.p99)} / ${ms(round.loop.max)} | ${perCommand(round.cpu.mainMs)} / ${perCommand(round.cpu.processMs)} | ${fixed(round.loadAverage)} |`;
    }),
    `| all | ${ackAll.count} | ${ms(ackAll.p50)} | ${ms(ackAll.p99)} | ${ms(ackAll.max)} | ${ms(insideAll.p50)} / ${ms(insideAll.p99)} | ${ms(postedAll.p50)} | ${ms(postedAll.p99)} | | | |`,
    "",
    `Ack p99 target <= ${TARGETS.ackP99Ms} ms: ${mark(ackAll.p99 <= TARGETS.ackP99Ms)}.`,
    "",
    `Reference, same run: ${help.count} \`/dkim help\` at once (acked with the text; no key, no database): ack p50 ${ms(help.p50)}, p99 ${ms(help.p99)}, max ${ms(help.max)}.`,
    "",
  );

  const applyAck = summarize(app.apply.map((sample) => sample.ackMs));
  const applied = summarize(app.apply.map((sample) => sample.applyMs));
  const active = summarize(app.apply.map((sample) => sample.activeMs));
  push(
    "## 4. Apply: from the Approve click to the last SpamExperts call",
    "",
    `${app.apply.length} requests of the first round approved one at a time (each finished before`,
    "the next click). DKIM_REQUIRE_DNS stays true: the request's record is published on the",
    "loopback DNS server before the click, so approval includes the bot's DNS check. The fake",
    "SpamExperts answers at once, in the same tick as it records a call: the time to its last",
    "call (`api_set_dkim_selector`) is our own overhead (signature check, approver check, DNS",
    "check, state changes in SQLite, unsealing the key, two HTTP calls). Active = until the",
    "thread says Active and the request message shows its final state.",
    "",
    "| | p50 | p99 | max |",
    "| --- | --- | --- | --- |",
    `| Click ack | ${ms(applyAck.p50)} | ${ms(applyAck.p99)} | ${ms(applyAck.max)} |`,
    `| Click -> last SpamExperts call answered | ${ms(applied.p50)} | ${ms(applied.p99)} | ${ms(applied.max)} |`,
    `| Click -> Active in Slack | ${ms(active.p50)} | ${ms(active.p99)} | ${ms(active.max)} |`,
    "",
    `Bot event-loop delay over the approvals: p50 ${ms(app.applyLoop.p50)}, p99 ${ms(app.applyLoop.p99)}, max ${ms(app.applyLoop.max)}.`,
    "",
  );

  const first = memory.steps[0];
  const last = memory.steps[memory.steps.length - 1];
  push(
    "## 5. Memory",
    "",
    `A fresh bot process (same setup as 3); batches of ${memory.steps.length > 1 ? (memory.steps[1]?.requests ?? 0) : 0} requests, each through the`,
    `whole flow (\`/dkim setup\` -> request message -> record published -> Approve -> Active`,
    `in the thread and on the message), ${memory.concurrency} at a time, ${memory.bits}-bit keys (the key size`,
    "does not change what is kept per request; it keeps the run short). After each batch the",
    "stand-ins forget it, then the bot process runs a full GC three times (`--expose-gc`) and",
    "reports `process.memoryUsage()`. Growth per 100 is the least-squares slope over the",
    "steps after the first batch (warm-up: JIT, lazily loaded modules, SQLite page cache).",
    "",
    "| Requests done | RSS | Heap used | Heap total | External | Batch time |",
    "| --- | --- | --- | --- | --- | --- |",
    ...memory.steps.map(
      (step) =>
        `| ${step.requests}${step.requests === 0 ? " (after start)" : ""} | ${mb(step.reading.rss)} | ${mb(step.reading.heapUsed)} | ${mb(step.reading.heapTotal)} | ${mb(step.reading.external)} | ${step.batchMs === 0 ? "-" : `${(step.batchMs / 1000).toFixed(1)} s`} |`,
    ),
    "",
    `Growth per 100 requests: heap used ${mbSigned(memory.heapPer100)} (${mark(memory.heapPer100 <= TARGETS.heapPer100Bytes)}, <= ${mb(TARGETS.heapPer100Bytes)}), RSS ${mbSigned(memory.rssPer100)} (${mark(memory.rssPer100 <= TARGETS.rssPer100Bytes)}, <= ${mb(TARGETS.rssPer100Bytes)}).`,
    first !== undefined && last !== undefined
      ? `From start to ${last.requests} requests: RSS ${mb(first.reading.rss)} -> ${mb(last.reading.rss)}, heap used ${mb(first.reading.heapUsed)} -> ${mb(last.reading.heapUsed)}.`
      : "",
    "",
  );

  const logTotal = app.logs.warnings + app.logs.errors + memory.logs.warnings + memory.logs.errors;
  push(
    "## Method notes",
    "",
    "- All traffic stays on 127.0.0.1 (the bot's HTTP server listens on an ephemeral port; the",
    "  stand-ins bind 127.0.0.1 only).",
    "- Times are `performance.now()` in the bench process; percentiles are nearest-rank.",
    `- The bot logged ${app.logs.lines + memory.logs.lines} lines at info level, ${logTotal} of them warnings or errors.`,
    "- No timing assertions live in the test suite; this report is the only place figures are",
    "  judged.",
    "",
    "## Profiling and fixes",
    "",
    ...PROFILING,
    "",
  );
  return `${lines.join("\n")}\n`;
}
