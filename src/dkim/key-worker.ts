/**
 * A key-generation worker thread (started by key-workers.ts). It first lowers its own
 * scheduling priority to the lowest (nice 19: on Linux nice is per thread, so the event loop's
 * thread keeps nice 0), then makes each key asked for synchronously: with every core busy
 * making keys, the kernel still runs the event loop first whenever it has work, so acks stay
 * fast while the batch uses every core.
 */
import { readFileSync } from "node:fs";
import { getPriority, setPriority } from "node:os";
import { parentPort } from "node:worker_threads";
import forge from "node-forge";
import type { KeyJob, KeyWorkerMessage } from "./key-workers.js";
import { publicKeyOf } from "./keys.js";

const LOWEST_PRIORITY = 19;
const PUBLIC_EXPONENT = 0x10001;

const port = parentPort;
if (port === null) throw new Error("key-worker.ts runs as a worker thread only");

let nice: number | undefined;
try {
  // pid 0: the calling thread on Linux (setpriority(2) acts on one thread there).
  setPriority(0, LOWEST_PRIORITY);
  nice = getPriority(0);
} catch {
  // Not allowed on this system: the keys are still made, at the usual priority.
}
port.postMessage({ type: "ready", tid: linuxThreadId(), nice } satisfies KeyWorkerMessage);

port.on("message", (job: KeyJob) => {
  let answer: KeyWorkerMessage;
  try {
    // Without a callback node-forge uses Node's native generateKeyPairSync (lib/rsa.js), on
    // this thread: the point of the worker.
    const keyPair = forge.pki.rsa.generateKeyPair({ bits: job.bits, e: PUBLIC_EXPONENT });
    const privateKeyPem = forge.pki.privateKeyToPem(keyPair.privateKey).replace(/\r\n/g, "\n");
    // The consistency check (n = pq, e and d inverses, CRT parts) before the key goes out.
    const { publicKeyBase64, fingerprint } = publicKeyOf(privateKeyPem);
    answer = { type: "key", id: job.id, privateKeyPem, publicKeyBase64, fingerprint };
  } catch (error) {
    // Only the error's name and message: the key is never put into it.
    const message = error instanceof Error ? `${error.name}: ${error.message}` : "unknown error";
    answer = { type: "failed", id: job.id, message };
  }
  port.postMessage(answer);
});

/** The kernel's id of this thread (for `ps -L` and /proc/<pid>/task), where there is one. */
function linuxThreadId(): number | undefined {
  try {
    const id = Number(readFileSync("/proc/thread-self/stat", "utf8").split(" ")[0]);
    return Number.isInteger(id) ? id : undefined;
  } catch {
    return undefined;
  }
}
