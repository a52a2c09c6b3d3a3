/**
 * A fleet measurement (issue 16 onwards) as a section of its own: each lives in a module
 * of bench/ that exports a `BenchScenario`, is listed once in bench/run.ts, and brings its
 * verdicts (for the summary table) and its Markdown (a "## N. ..." section of BENCHMARKS.md).
 */
import type { LogTally } from "./protocol.js";

export interface Verdict {
  name: string;
  figure: string;
  target: string;
  /** undefined: reported without a target. */
  met: boolean | undefined;
}

export interface BenchSection {
  verdicts: Verdict[];
  /** Markdown lines, starting with the section's "## " heading (numbered by run.ts). */
  markdown: string[];
  /** The bot processes' log tallies, so the report can say what they warned about. */
  logs: LogTally[];
}

export interface BenchScenario {
  /** Short name for `npm run bench -- --only <id>`. */
  id: string;
  /** One line for the progress output. */
  title: string;
  /** `smoke`: tiny sizes, only that it runs to the end; `number`: the section's number. */
  run(options: { smoke: boolean; number: number }): Promise<BenchSection>;
}
