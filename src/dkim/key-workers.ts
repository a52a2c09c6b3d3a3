/**
 * A pool of key-generation worker threads (key-worker.ts), one per core by default. Each
 * worker lowers its own scheduling priority to nice 19 and makes its keys synchronously, so a
 * batch uses every core while the event loop's thread, at nice 0, still gets a core as soon as
 * it has work (a request to ack). Workers start on the first key asked for, do not keep the
 * process alive while idle, and stop after a while without work; one that dies fails its key
 * and is replaced by the next key asked for.
 */
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";

export interface KeyJob {
  id: number;
  bits: number;
}

/** Worker -> pool. */
export type KeyWorkerMessage =
  | { type: "ready"; tid: number | undefined; nice: number | undefined }
  | {
      type: "key";
      id: number;
      privateKeyPem: string;
      publicKeyBase64: string;
      fingerprint: string;
    }
  | { type: "failed"; id: number; message: string };

export interface GeneratedKey {
  privateKeyPem: string;
  publicKeyBase64: string;
  fingerprint: string;
}

export interface KeyWorkerThread {
  /** Node's id of the worker (worker.threadId). */
  threadId: number;
  /** The kernel's id of the thread (Linux), once the worker has started. */
  tid: number | undefined;
  /** The nice value the worker set on itself, once started (undefined: not allowed). */
  nice: number | undefined;
  busy: boolean;
}

export interface KeyWorkerPool {
  /** Rejects with a plain Error (no key material) when the worker fails or dies. */
  generate(bits: number): Promise<GeneratedKey>;
  /** The most workers at once. */
  readonly size: number;
  /** Keys being made now, and waiting for a worker. */
  readonly running: number;
  readonly waiting: number;
  /** The live workers (for diagnostics and tests). */
  threads(): KeyWorkerThread[];
  /** Ends one worker as a crash would (tests); its key, if any, fails. */
  kill(threadId: number): Promise<void>;
  /** Ends every worker; keys being made or waiting fail. */
  stop(): Promise<void>;
}

export interface KeyWorkerPoolOptions {
  size: number;
  /** A worker without work for this long is stopped (started again when needed). */
  idleMs: number;
}

interface Job extends KeyJob {
  resolve(key: GeneratedKey): void;
  reject(error: Error): void;
}

interface Slot {
  worker: Worker;
  job: Job | undefined;
  tid: number | undefined;
  nice: number | undefined;
  idleTimer: NodeJS.Timeout | undefined;
}

export function createKeyWorkerPool(options: KeyWorkerPoolOptions): KeyWorkerPool {
  const size = Math.max(1, Math.floor(options.size));
  const slots: Slot[] = [];
  const queue: Job[] = [];
  let nextId = 1;

  function spawn(): Slot {
    const slot: Slot = {
      worker: startWorker(),
      job: undefined,
      tid: undefined,
      nice: undefined,
      idleTimer: undefined,
    };
    slots.push(slot);
    slot.worker.on("message", (message: KeyWorkerMessage) => onMessage(slot, message));
    // An uncaught error ends the worker: 'exit' follows, which fails its key and frees the slot.
    let crash: Error | undefined;
    slot.worker.on("error", (error) => {
      crash = error;
    });
    slot.worker.on("exit", (code) => {
      const index = slots.indexOf(slot);
      if (index >= 0) slots.splice(index, 1);
      clearTimeout(slot.idleTimer);
      const job = slot.job;
      slot.job = undefined;
      job?.reject(
        new Error(
          `the key-generation worker stopped (exit code ${code})${crash ? `: ${crash.name}: ${crash.message}` : ""}`,
        ),
      );
      // Keys still waiting get a new worker.
      dispatch();
    });
    return slot;
  }

  function onMessage(slot: Slot, message: KeyWorkerMessage): void {
    if (message.type === "ready") {
      slot.tid = message.tid;
      slot.nice = message.nice;
      return;
    }
    const job = slot.job;
    if (job === undefined || job.id !== message.id) return;
    slot.job = undefined;
    if (message.type === "key") {
      const { privateKeyPem, publicKeyBase64, fingerprint } = message;
      job.resolve({ privateKeyPem, publicKeyBase64, fingerprint });
    } else {
      job.reject(new Error(message.message));
    }
    dispatch();
    if (slot.job === undefined) idle(slot);
  }

  function idle(slot: Slot): void {
    // Idle workers do not hold the process open (a stop or a one-shot CLI ends as before).
    slot.worker.unref();
    clearTimeout(slot.idleTimer);
    slot.idleTimer = setTimeout(() => {
      // Out of the pool first, so that no key is handed to a worker on its way out.
      const index = slots.indexOf(slot);
      if (index >= 0) slots.splice(index, 1);
      void slot.worker.terminate();
    }, options.idleMs);
    slot.idleTimer.unref();
  }

  function dispatch(): void {
    while (queue.length > 0) {
      let slot = slots.find((candidate) => candidate.job === undefined);
      if (slot === undefined) {
        if (slots.length >= size) return;
        slot = spawn();
      }
      const job = queue.shift();
      if (job === undefined) return;
      clearTimeout(slot.idleTimer);
      slot.idleTimer = undefined;
      slot.job = job;
      // A key being made keeps the process alive until it is done, as a pending call would.
      slot.worker.ref();
      slot.worker.postMessage({ id: job.id, bits: job.bits } satisfies KeyJob);
    }
  }

  return {
    size,
    get running() {
      return slots.filter((slot) => slot.job !== undefined).length;
    },
    get waiting() {
      return queue.length;
    },
    generate(bits) {
      return new Promise<GeneratedKey>((resolve, reject) => {
        queue.push({ id: nextId, bits, resolve, reject });
        nextId += 1;
        dispatch();
      });
    },
    threads() {
      return slots.map((slot) => ({
        threadId: slot.worker.threadId,
        tid: slot.tid,
        nice: slot.nice,
        busy: slot.job !== undefined,
      }));
    },
    async kill(threadId) {
      await slots.find((slot) => slot.worker.threadId === threadId)?.worker.terminate();
    },
    async stop() {
      for (const job of queue.splice(0)) job.reject(new Error("key generation was stopped"));
      await Promise.all(slots.map((slot) => slot.worker.terminate()));
    },
  };
}

/**
 * The built worker (dist/dkim/key-worker.js); run from the TypeScript sources (the tests),
 * key-worker.ts through tsx, which a worker's own execArgv cannot load in Node 20.
 */
function startWorker(): Worker {
  const fromSource = import.meta.url.endsWith(".ts");
  const script = new URL(fromSource ? "./key-worker.ts" : "./key-worker.js", import.meta.url);
  // Explicitly none of the parent's execArgv (a --import tsx or --inspect would be copied).
  if (!fromSource) return new Worker(script, { execArgv: [] });
  // tsx's ESM entry as its package.json exports it (require.resolve would give the CJS one).
  const require = createRequire(import.meta.url);
  const manifest = require.resolve("tsx/package.json");
  const exported = (require(manifest) as TsxManifest).exports["./esm/api"].import.default;
  const tsx = new URL(exported, pathToFileURL(manifest)).href;
  const code = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(script.href)}); })`;
  return new Worker(code, { eval: true, execArgv: [] });
}

interface TsxManifest {
  exports: { "./esm/api": { import: { default: string } } };
}
