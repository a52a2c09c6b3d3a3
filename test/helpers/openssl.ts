import { spawn } from "node:child_process";

/**
 * Runs the openssl command line tool and gives its standard output; rejects with its standard
 * error when it exits non-zero. Keys go through files or stdin, never through argv.
 */
export function runOpenssl(args: readonly string[], input?: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn("openssl", args, { stdio: ["pipe", "pipe", "pipe"] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) {
        resolve(Buffer.concat(stdout));
      } else {
        const message = Buffer.concat(stderr).toString().trim();
        reject(new Error(`openssl ${args.join(" ")} exited with ${code}: ${message}`));
      }
    });
    child.stdin.end(input);
  });
}
