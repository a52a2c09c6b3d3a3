/** Messages between the bench and the bot child process (bench/bot-child.ts). */

export type BenchToChild =
  | { type: "loop-reset"; id: number }
  | { type: "loop-read"; id: number }
  | { type: "memory"; id: number }
  | { type: "logs"; id: number }
  | { type: "server-times"; id: number }
  | { type: "cpu"; id: number }
  | { type: "stop"; id: number };

export interface LoopReading {
  p50: number;
  p99: number;
  max: number;
  samples: number;
}

export interface MemoryReading {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

export interface CpuReading {
  /** The main thread (event loop), ms. */
  mainMs: number;
  /** The whole process (main thread, thread pool, GC threads), ms. */
  processMs: number;
}

export interface LogTally {
  lines: number;
  warnings: number;
  errors: number;
  /** The first few warning and error lines. */
  samples: string[];
}

export type ChildToBench =
  | { type: "ready"; port: number }
  | { type: "ok"; id: number }
  | { type: "error"; id: number; message: string }
  | ({ type: "loop"; id: number } & LoopReading)
  | ({ type: "memory"; id: number } & MemoryReading)
  | { type: "logs"; id: number; tally: LogTally }
  | { type: "server-times"; id: number; times: number[] }
  | ({ type: "cpu"; id: number } & CpuReading)
  /** Unasked: a log line that contains BENCH_FORWARD_LOGS (e.g. a cycle's end), as it is written. */
  | { type: "log-line"; line: string };
