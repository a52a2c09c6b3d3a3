import { execFileSync } from "node:child_process";
import { availableParallelism, cpus, loadavg, release, totalmem, type } from "node:os";

export interface Machine {
  cpuModel: string;
  cores: number;
  memoryBytes: number;
  os: string;
  node: string;
  /** The OpenSSL inside Node: what our generateKeyPair runs on. */
  nodeOpenssl: string;
  /** `openssl version` of the binary the bench compares against. */
  openssl: string;
  threadpoolSize: number;
  loadAverage: number[];
}

export function describeMachine(): Machine {
  let openssl: string;
  try {
    openssl = execFileSync("openssl", ["version"], { encoding: "utf8" }).trim();
  } catch {
    openssl = "not found";
  }
  return {
    cpuModel: cpus()[0]?.model.trim() ?? "unknown",
    cores: availableParallelism(),
    memoryBytes: totalmem(),
    os: `${type()} ${release()}`,
    node: process.version,
    nodeOpenssl: process.versions.openssl,
    openssl,
    threadpoolSize: Number(process.env.UV_THREADPOOL_SIZE ?? 4),
    loadAverage: loadavg(),
  };
}
