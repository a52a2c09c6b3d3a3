/**
 * An independent DKIM verifier: Debian's python3-dkim (dkimpy). It signs a small message with
 * our private key and verifies the signature against a record value we hand it as the DNS
 * answer, so the verifier is theirs and only the key and the record are ours.
 */
import { spawn, spawnSync } from "node:child_process";

export const PYTHON = "/usr/bin/python3";

export interface PythonDkimProof {
  /** PKCS#1 PEM (dkimpy reads no other form). Goes to python on stdin, never in argv. */
  privateKeyPem: string;
  selector: string;
  domain: string;
  /** The TXT value served for `<selector>._domainkey.<domain>.` (strings already joined). */
  recordValue: string;
}

export type PythonDkimAvailability = { available: true } | { available: false; reason: string };

/** Whether `/usr/bin/python3 -c "import dkim"` works, and why not when it does not. */
export function pythonDkimAvailability(): PythonDkimAvailability {
  const result = spawnSync(PYTHON, ["-c", "import dkim"], { encoding: "utf8" });
  if (result.error !== undefined) {
    return { available: false, reason: `${PYTHON} cannot run (${result.error.message})` };
  }
  if (result.status !== 0) {
    const lastLine = result.stderr.trim().split("\n").at(-1) ?? "";
    return {
      available: false,
      reason: `${PYTHON} cannot import dkim (${lastLine}); install Debian's python3-dkim`,
    };
  }
  return { available: true };
}

// Reads one JSON object on stdin, prints one on stdout: {"verified": bool} or {"error": text}.
const SCRIPT = String.raw`
import json, sys
import dkim

request = json.load(sys.stdin)
selector = request["selector"].encode("ascii")
domain = request["domain"].encode("ascii")
record = request["recordValue"].encode("ascii")
key_name = selector + b"._domainkey." + domain + b"."
message = (
    b"From: Sender <sender@" + domain + b">\r\n"
    b"To: Receiver <receiver@example.net>\r\n"
    b"Subject: DKIM proof\r\n"
    b"Date: Thu, 26 Nov 2026 12:00:00 +0000\r\n"
    b"Message-ID: <proof@" + domain + b">\r\n"
    b"\r\n"
    b"Signed by dkim-bot's key, verified by dkimpy.\r\n"
)

def dnsfunc(name, timeout=5):
    asked = name if isinstance(name, bytes) else name.encode("ascii")
    return record if asked.lower() == key_name.lower() else None

try:
    signature = dkim.sign(
        message, selector, domain, request["privateKeyPem"].encode("ascii"),
        include_headers=[b"from", b"to", b"subject", b"date", b"message-id"],
    )
except Exception as error:
    print(json.dumps({"error": "signing failed: " + type(error).__name__ + ": " + str(error)}))
    sys.exit(0)
print(json.dumps({"verified": bool(dkim.verify(signature + message, dnsfunc=dnsfunc))}))
`;

/**
 * Signs a message with `privateKeyPem` for `selector`/`domain` and verifies it with dkimpy,
 * whose DNS lookup answers `recordValue`. True when the signature verifies.
 */
export function verifyWithPythonDkim(proof: PythonDkimProof): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, ["-c", SCRIPT], { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => {
      let answer: unknown;
      try {
        answer = JSON.parse(stdout);
      } catch {
        reject(new Error(`python3-dkim gave no answer (exit ${code}): ${stderr.trim()}`));
        return;
      }
      if (typeof answer === "object" && answer !== null && "verified" in answer) {
        resolve(answer.verified === true);
      } else if (typeof answer === "object" && answer !== null && "error" in answer) {
        reject(new Error(`python3-dkim: ${String(answer.error)}`));
      } else {
        reject(new Error(`python3-dkim gave an unexpected answer: ${stdout.trim()}`));
      }
    });
    child.stdin.end(JSON.stringify(proof));
  });
}
