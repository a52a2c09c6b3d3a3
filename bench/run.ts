/**
 * `npm run bench`: measures key generation, event-loop delay, the app under 50 concurrent
 * commands, approval overhead and memory; prints each target with MET or MISSED and writes
 * BENCHMARKS.md. `npm run bench -- --smoke` (or `npm run bench:smoke`) runs every measurement
 * with tiny sizes, checks only that it completes, and writes nothing.
 */
import { writeFile } from "node:fs/promises";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { measureApp } from "./app.js";
import { batchApply } from "./batch-apply.js";
import { bulkKeys } from "./bulk-keys.js";
import { measureKeygen, measureLoopDelay } from "./keygen.js";
import { describeMachine } from "./machine.js";
import { memoryFlows } from "./memory-flows.js";
import { monitoringScenario } from "./monitoring.js";
import { postgresApp } from "./postgres-app.js";
import { type BenchResults, evaluate, renderReport } from "./report.js";
import type { BenchScenario, BenchSection } from "./section.js";
import { storeScale } from "./store-scale.js";

/** The fleet's measurements (issue 16), in report order; sections 6 onwards. */
const SCENARIOS: BenchScenario[] = [
  postgresApp,
  bulkKeys,
  storeScale,
  monitoringScenario,
  batchApply,
  memoryFlows,
];

const smoke = process.argv.includes("--smoke");
/** `--only <id>`: one fleet scenario alone, printed, no report (while working on it). */
const only = process.argv.includes("--only")
  ? process.argv[process.argv.indexOf("--only") + 1]
  : undefined;
const REPORT = fileURLToPath(new URL("../BENCHMARKS.md", import.meta.url));

const PLAN = smoke
  ? {
      keygen: {
        sizes: [
          { bits: 2048, samples: 2 },
          { bits: 4096, samples: 1 },
        ],
        spawnSamples: 2,
      },
      loop: { keysPerRound: 3, rounds: 1, resolutionMs: 5, idleMs: 100 },
      app: { commandsPerRound: 5, rounds: 1, applies: 2, warmUp: 1 },
    }
  : {
      keygen: {
        sizes: [
          { bits: 2048, samples: 24 },
          { bits: 4096, samples: 16 },
        ],
        spawnSamples: 10,
      },
      loop: { keysPerRound: 20, rounds: 3, resolutionMs: 5, idleMs: 1000 },
      app: { commandsPerRound: 50, rounds: 4, applies: 50, warmUp: 5 },
    };

function step(title: string): () => void {
  const started = performance.now();
  process.stdout.write(`- ${title} ...`);
  return () => process.stdout.write(` ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
}

async function main(): Promise<void> {
  const started = performance.now();
  const machineBefore = describeMachine();
  console.log(`dkim-bot bench${smoke ? " (smoke: tiny sizes, no report)" : ""}`);
  console.log(
    `${machineBefore.cpuModel}, ${machineBefore.cores} cores, Node ${machineBefore.node}, ${machineBefore.openssl}`,
  );

  if (only !== undefined) {
    const scenario = SCENARIOS.find((candidate) => candidate.id === only);
    if (scenario === undefined) {
      throw new Error(
        `bench: no scenario "${only}"; known: ${SCENARIOS.map((s) => s.id).join(", ")}`,
      );
    }
    const done = step(scenario.title);
    const section = await scenario.run({ smoke, number: 6 + SCENARIOS.indexOf(scenario) });
    done();
    printSections([section]);
    return;
  }

  let done = step("1. key generation, ours vs openssl genrsa, interleaved");
  const keygen = await measureKeygen({
    sizes: PLAN.keygen.sizes.map((size) => ({ ...size, bits: size.bits as 2048 | 4096 })),
    spawnSamples: PLAN.keygen.spawnSamples,
  });
  done();
  done = step(`2. event-loop delay, ${PLAN.loop.keysPerRound} keys of 2048 bits at once`);
  const loop = await measureLoopDelay(PLAN.loop);
  done();
  done = step(
    `3-4. app in HTTP mode: ${PLAN.app.rounds} x ${PLAN.app.commandsPerRound} concurrent /dkim setup, ${PLAN.app.applies} approvals`,
  );
  const app = await measureApp(PLAN.app);
  done();
  const sections: BenchSection[] = [];
  for (const [index, scenario] of SCENARIOS.entries()) {
    done = step(`${6 + index}. ${scenario.title}`);
    sections.push(await scenario.run({ smoke, number: 6 + index }));
    done();
  }

  const results: BenchResults = {
    date: new Date(),
    machine: { ...describeMachine(), loadAverage: machineBefore.loadAverage },
    loadAverageAfter: describeMachine().loadAverage,
    durationSeconds: (performance.now() - started) / 1000,
    keygen,
    loop,
    app,
    sections,
  };

  console.log("");
  for (const verdict of evaluate(results)) {
    // Smoke sizes are too small to judge a target: say so rather than print MISSED in CI.
    const mark = verdict.met === undefined || smoke ? "INFO  " : verdict.met ? "MET   " : "MISSED";
    console.log(
      `${mark} ${verdict.name}: ${verdict.figure}${verdict.target ? ` (target ${verdict.target})` : ""}`,
    );
  }
  const logs = [app.logs, ...sections.flatMap((section) => section.logs)];
  const warnings = logs.reduce((total, tally) => total + tally.warnings + tally.errors, 0);
  if (warnings > 0) {
    console.log(`\nThe bot logged ${warnings} warning(s)/error(s), e.g.:`);
    for (const line of logs.flatMap((tally) => tally.samples).slice(0, 5)) console.log(`  ${line}`);
  }

  if (smoke) {
    console.log(
      `\nsmoke run completed in ${results.durationSeconds.toFixed(1)} s (tiny sizes: the figures mean nothing; no report written)`,
    );
    return;
  }
  await writeFile(REPORT, renderReport(results));
  console.log(`\nwrote BENCHMARKS.md (${results.durationSeconds.toFixed(1)} s)`);
}

/** With --only: the section's verdicts and Markdown on the terminal. */
function printSections(sections: BenchSection[]): void {
  for (const section of sections) {
    console.log("");
    for (const verdict of section.verdicts) {
      const mark =
        verdict.met === undefined || smoke ? "INFO  " : verdict.met ? "MET   " : "MISSED";
      console.log(
        `${mark} ${verdict.name}: ${verdict.figure}${verdict.target ? ` (target ${verdict.target})` : ""}`,
      );
    }
    console.log(`\n${section.markdown.join("\n")}`);
  }
}

main().then(
  // The stand-ins and the bot child are closed; exit anyway so a stray handle cannot hang CI.
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
