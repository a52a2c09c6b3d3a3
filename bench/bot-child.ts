/**
 * The bot under test, in its own process: the built app (dist/, what `npm start` runs),
 * started with startBot in HTTP mode from the environment the bench gives it. The bench
 * process holds the stand-ins and the load; this process holds the bot only, so its event
 * loop and memory are the bot's own. It answers the bench over IPC:
 *   loop-reset / loop-read  the event-loop delay monitor of this process,
 *   memory                  memoryUsage() after forced garbage collection (--expose-gc),
 *   server-times            how long each POST /slack/events took inside this process, from
 *                           the request's headers parsed to the response finished (the ack),
 *   cpu                     CPU time so far: the main thread's (the event loop) and the
 *                           whole process's (with the thread pool), in milliseconds,
 *   stop                    bot.stop(), then exit.
 * With BENCH_FORWARD_LOGS set, every log line containing that text is also sent to the bench
 * as it is written (a "log-line" message), e.g. to see where a monitoring cycle ends.
 */
import { subscribe } from "node:diagnostics_channel";
import { readFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { setImmediate as nextTurn } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import type * as ConfigModule from "../src/config.js";
import type * as LoggerModule from "../src/logger.js";
import type * as MainModule from "../src/main.js";
import type { BenchToChild, ChildToBench, LogTally } from "./protocol.js";

/** BENCH_DIST: another build of the app to measure (a directory like dist/), for before/after. */
const distDir =
  process.env.BENCH_DIST === undefined
    ? new URL("../dist/", import.meta.url)
    : pathToFileURL(`${process.env.BENCH_DIST.replace(/\/+$/, "")}/`);
const dist = (file: string): string => new URL(file, distDir).href;

/** The main thread's CPU time from /proc (Linux; 10 ms ticks), NaN elsewhere. */
function mainThreadCpuMs(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of stat(5); the slice starts at field 3.
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return Number.NaN;
  }
}

function send(message: ChildToBench): void {
  process.send?.(message);
}

async function main(): Promise<void> {
  const { loadConfig } = (await import(dist("config.js"))) as typeof ConfigModule;
  const { createLogger } = (await import(dist("logger.js"))) as typeof LoggerModule;
  const { startBot } = (await import(dist("main.js"))) as typeof MainModule;

  // The production level (info), so the bot pays for its own logging, into a tally instead
  // of stdout. Warnings and errors are kept (a few) for the report.
  const tally: LogTally = { lines: 0, warnings: 0, errors: 0, samples: [] };
  const forward = process.env.BENCH_FORWARD_LOGS;
  const logger = createLogger({
    level: "info",
    write: (line) => {
      tally.lines += 1;
      const isWarning = line.includes('"level":"warn"');
      const isError = line.includes('"level":"error"');
      if (isWarning) tally.warnings += 1;
      if (isError) tally.errors += 1;
      if ((isWarning || isError) && tally.samples.length < 10) tally.samples.push(line);
      if (forward !== undefined && forward !== "" && line.includes(forward)) {
        send({ type: "log-line", line });
      }
    },
  });

  // The server's side of each ack, through Node's http diagnostics channels.
  const arrivals = new WeakMap<IncomingMessage, number>();
  let serverTimes: number[] = [];
  subscribe("http.server.request.start", (message) => {
    const { request } = message as { request: IncomingMessage };
    arrivals.set(request, performance.now());
  });
  subscribe("http.server.response.finish", (message) => {
    const { request } = message as { request: IncomingMessage };
    const arrived = arrivals.get(request);
    if (arrived !== undefined && request.method === "POST" && request.url === "/slack/events") {
      serverTimes.push(performance.now() - arrived);
    }
  });

  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const bot = await startBot(loadConfig(process.env), logger);

  process.on("message", (raw: BenchToChild) => {
    void handle(raw).catch((error: unknown) => {
      send({ type: "error", id: raw.id, message: String(error) });
    });
  });
  process.on("disconnect", () => process.exit(0));

  async function handle(message: BenchToChild): Promise<void> {
    switch (message.type) {
      case "loop-reset":
        loop.reset();
        send({ type: "ok", id: message.id });
        return;
      case "loop-read":
        send({
          type: "loop",
          id: message.id,
          p50: loop.percentile(50) / 1e6,
          p99: loop.percentile(99) / 1e6,
          max: loop.max / 1e6,
          samples: loop.count,
        });
        return;
      case "memory": {
        const gc = globalThis.gc;
        if (gc === undefined) throw new Error("start the bot child with --expose-gc");
        for (let pass = 0; pass < 3; pass += 1) {
          gc();
          await nextTurn();
        }
        const usage = process.memoryUsage();
        send({
          type: "memory",
          id: message.id,
          rss: usage.rss,
          heapUsed: usage.heapUsed,
          heapTotal: usage.heapTotal,
          external: usage.external,
          arrayBuffers: usage.arrayBuffers,
        });
        return;
      }
      case "server-times":
        send({ type: "server-times", id: message.id, times: serverTimes });
        serverTimes = [];
        return;
      case "cpu": {
        const usage = process.cpuUsage();
        send({
          type: "cpu",
          id: message.id,
          mainMs: mainThreadCpuMs(),
          processMs: (usage.user + usage.system) / 1000,
        });
        return;
      }
      case "logs":
        send({ type: "logs", id: message.id, tally });
        return;
      case "stop":
        await bot.stop();
        send({ type: "ok", id: message.id });
        process.disconnect();
        return;
    }
  }

  send({ type: "ready", port: bot.port ?? 0 });
}

main().catch((error: unknown) => {
  send({
    type: "error",
    id: 0,
    message: error instanceof Error ? (error.stack ?? "") : String(error),
  });
  process.exitCode = 1;
  process.disconnect?.();
});
