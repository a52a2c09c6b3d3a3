/**
 * Test doubles of what crosses the boundary of requests/: the SpamExperts API (DkimApi), the
 * DNS verdict, the group lookup and the logger. The project's own modules are used for real.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach } from "vitest";
import type { DkimCheckResult, DkimCheckStatus } from "../../src/dkim/check.js";
import { type DkimKeyPair, generateKeyPair, type KeyBits } from "../../src/dkim/keys.js";
import type { RequestsLogger } from "../../src/requests/logger.js";
import type { AuditEvent, DkimRequest } from "../../src/requests/model.js";
import { type EncryptionKey, parseEncryptionKey } from "../../src/requests/sealing.js";
import {
  type CheckDns,
  createRequestService,
  type RequestService,
  type RequestServiceDeps,
} from "../../src/requests/service.js";
import type { KyselyRequestStore } from "../../src/requests/store/kysely-store.js";
import type { StoreDialect } from "../../src/requests/store/schema.js";
import type { RequestStore } from "../../src/requests/store.js";
import type { DkimApi, DkimApiCall, DkimApiResult } from "../../src/spamexperts/types.js";
import { freshDatabase, openTestStore, type TestDatabase } from "../helpers/test-stores.js";

export const REQUESTER = "UREQUESTER";
export const APPROVER = "UAPPROVER";
export const OTHER_APPROVER = "WAPPROVER2";
export const GROUP = "SMAILOPS";
export const GROUP_MEMBER = "UGROUPMEMBER";
export const STRANGER = "USTRANGER";
export const CHANNEL = "CCHANNEL";

type LogLevel = "info" | "warn" | "error";

export class RecordingLogger implements RequestsLogger {
  readonly entries: Array<{ level: LogLevel; message: string; fields?: Record<string, unknown> }> =
    [];

  info(message: string, fields?: Record<string, unknown>): void {
    this.entries.push({ level: "info", message, ...(fields ? { fields } : {}) });
  }
  warn(message: string, fields?: Record<string, unknown>): void {
    this.entries.push({ level: "warn", message, ...(fields ? { fields } : {}) });
  }
  error(message: string, fields?: Record<string, unknown>): void {
    this.entries.push({ level: "error", message, ...(fields ? { fields } : {}) });
  }
  lines(level: LogLevel): string[] {
    return this.entries.filter((entry) => entry.level === level).map((entry) => entry.message);
  }
}

export interface ApiCall {
  call: DkimApiCall;
  domain: string;
  selector: string;
  /** The PEM for a certificate call (kept only to compare with the generated key). */
  privateKeyPem?: string;
  username?: string;
}

/**
 * A DkimApi that records every call. `behaviour` decides each call's fate: return a text to
 * succeed with it, throw to fail, or return a promise that never settles to "crash" there.
 */
export class RecordingDkimApi implements DkimApi {
  readonly dryRun = false;
  readonly calls: ApiCall[] = [];
  behaviour: (call: ApiCall, index: number) => string | Promise<string> = () => "";

  certificateCalls(): ApiCall[] {
    return this.calls.filter((call) => call.call === "api_set_dkim_certificate");
  }
  selectorCalls(): ApiCall[] {
    return this.calls.filter((call) => call.call === "api_set_dkim_selector");
  }

  async setDkimCertificate(
    domain: string,
    selector: string,
    privateKeyPem: string,
  ): Promise<DkimApiResult> {
    return this.run({ call: "api_set_dkim_certificate", domain, selector, privateKeyPem });
  }
  async setDkimSelector(
    domain: string,
    selector: string,
    username: string,
  ): Promise<DkimApiResult> {
    return this.run({ call: "api_set_dkim_selector", domain, selector, username });
  }
  async close(): Promise<void> {}

  private async run(call: ApiCall): Promise<DkimApiResult> {
    this.calls.push(call);
    const text = await this.behaviour(call, this.calls.length - 1);
    return { call: call.call, text, attempts: 1, dryRun: false };
  }
}

export function dnsResult(
  status: DkimCheckStatus,
  options: { problem?: string; matches?: boolean | null; summary?: string } = {},
): DkimCheckResult {
  const problems =
    options.problem === undefined
      ? []
      : [
          {
            code: options.problem,
            severity: "error" as const,
            message: `Problem: ${options.problem}.`,
          },
        ];
  return {
    name: "s1._domainkey.example.com",
    status,
    matches: options.matches ?? (status === "live" ? true : null),
    problems,
    published: [],
    summary:
      options.summary ??
      (status === "live" ? "Live and matches the key." : `Not live: ${options.problem ?? status}.`),
  };
}

/**
 * checkDns answering from a queue (the last answer repeats), counting its calls; a name given
 * its own answer with `answerFor` gets that one instead.
 */
export class CannedDns {
  readonly calls: Array<{ domain: string; selector: string; publicKeyBase64: string }> = [];
  private answers: Array<DkimCheckResult | Error> = [dnsResult("live")];
  private readonly byName = new Map<string, DkimCheckResult | Error>();

  answer(...answers: Array<DkimCheckResult | Error>): void {
    this.answers = answers;
  }

  answerFor(domain: string, selector: string, answer: DkimCheckResult | Error): void {
    this.byName.set(`${selector}._domainkey.${domain}`, answer);
  }

  readonly check: CheckDns = async (domain, selector, expected) => {
    this.calls.push({ domain, selector, publicKeyBase64: expected.publicKeyBase64 });
    const own = this.byName.get(`${selector}._domainkey.${domain}`);
    if (own instanceof Error) throw own;
    if (own !== undefined) return own;
    const next = this.answers.length > 1 ? this.answers.shift() : this.answers[0];
    if (next === undefined) throw new Error("CannedDns has no answer");
    if (next instanceof Error) throw next;
    return next;
  };
}

export function tempDataDir(): string {
  return mkdtempSync(join(tmpdir(), "dkim-requests-"));
}

export function randomEncryptionKey(source = "DKIM_ENCRYPTION_KEY"): EncryptionKey {
  return parseEncryptionKey(randomBytes(32).toString("base64"), source);
}

export interface Harness {
  database: TestDatabase;
  encryptionKey: EncryptionKey;
  store: KyselyRequestStore;
  api: RecordingDkimApi;
  dns: CannedDns;
  service: RequestService;
  /** Every key pair generated, in order (the real generator, counted). */
  generated: DkimKeyPair[];
  /** Every event the service handed to onEvent, with the request it came with. */
  emitted: Array<{ event: AuditEvent; request: DkimRequest }>;
  logger: RecordingLogger;
  setNow(iso: string): void;
  /** A second service on a second store instance over the same database (another replica). */
  replica(overrides?: Partial<RequestServiceDeps>): Promise<{
    store: RequestStore;
    service: RequestService;
  }>;
  close(): Promise<void>;
}

export const START = "2026-11-26T10:00:00.000Z";

export interface HarnessOptions extends Partial<RequestServiceDeps> {
  dialect?: StoreDialect;
  database?: TestDatabase;
  encryptionKey?: EncryptionKey;
}

/** The real store (SQLite by default) on a fresh database, the real key generator, doubles at the edges. */
export async function createHarness(overrides: HarnessOptions = {}): Promise<Harness> {
  const database = overrides.database ?? (await freshDatabase(overrides.dialect ?? "sqlite"));
  const encryptionKey = overrides.encryptionKey ?? randomEncryptionKey();
  const store = await openTestStore(database, { encryptionKey });
  const api = new RecordingDkimApi();
  const dns = new CannedDns();
  const generated: DkimKeyPair[] = [];
  const emitted: Harness["emitted"] = [];
  const logger = new RecordingLogger();
  let now = new Date(START);
  const stores: RequestStore[] = [store];

  const deps = (storeToUse: RequestStore): RequestServiceDeps => ({
    store: storeToUse,
    dkimApi: api,
    checkDns: dns.check,
    isMemberOfGroup: async (userId, groupId) => groupId === GROUP && userId === GROUP_MEMBER,
    policy: {
      approvers: [APPROVER, OTHER_APPROVER, GROUP],
      allowSelfApproval: false,
      requireDns: true,
      ttlDays: 14,
    },
    clock: () => now,
    generateKeyPair: async (bits: KeyBits) => {
      const keyPair = await generateKeyPair(bits);
      generated.push(keyPair);
      return keyPair;
    },
    defaultBits: 1024,
    onEvent: (event, request) => {
      emitted.push({ event, request });
    },
    logger,
    ...withoutHarnessOptions(overrides),
  });

  return {
    database,
    encryptionKey,
    store,
    api,
    dns,
    service: createRequestService(deps(store)),
    generated,
    emitted,
    logger,
    setNow(iso) {
      now = new Date(iso);
    },
    async replica(replicaOverrides = {}) {
      const second = await openTestStore(database, { encryptionKey });
      stores.push(second);
      return {
        store: second,
        service: createRequestService({ ...deps(second), ...replicaOverrides }),
      };
    },
    async close() {
      for (const each of stores) await each.close();
    },
  };
}

/**
 * For a describe block: `harness(options)` makes a harness on `dialect` (over `defaults`),
 * closed after each test.
 */
export function harnessesOn(
  dialect: StoreDialect,
  defaults: () => HarnessOptions = () => ({}),
): (options?: HarnessOptions) => Promise<Harness> {
  const made: Harness[] = [];
  afterEach(async () => {
    for (const h of made.splice(0)) await h.close();
  });
  return async (options = {}) => {
    const h = await createHarness({ dialect, ...defaults(), ...options });
    made.push(h);
    return h;
  };
}

function withoutHarnessOptions(overrides: HarnessOptions): Partial<RequestServiceDeps> {
  const {
    dialect: _dialect,
    database: _database,
    encryptionKey: _encryptionKey,
    ...deps
  } = overrides;
  return deps;
}

/** The base64 body of a PEM (everything between the BEGIN and END lines, joined). */
export function pemBody(pem: string): string {
  return pem
    .split("\n")
    .filter((line) => line !== "" && !line.startsWith("-----"))
    .join("");
}

/**
 * Where `text` shows private key material: "PRIVATE KEY", or any 40-character run of the
 * private key's base64 body (newlines ignored, so a PEM written line by line is found too).
 *
 * Every 40-character run of the body contains one of its 20-character pieces at offsets 0,
 * 20, 40, ..., so searching for those pieces finds every such run (20 characters suffice:
 * stricter). Pieces that also occur in the public key are skipped: a PKCS#1 private key
 * starts with the modulus, which the public key (and so the stored DNS record) carries too,
 * and for RSA keys the two base64 encodings happen to line up on it.
 */
export function findKeyMaterial(
  text: string,
  keyPair: { privateKeyPem: string; publicKeyBase64: string },
): string | undefined {
  if (text.includes("PRIVATE KEY")) return "PRIVATE KEY";
  const flat = text.replace(/[\r\n]/g, "");
  const body = pemBody(keyPair.privateKeyPem);
  for (let start = 0; start + 20 <= body.length; start += 20) {
    const piece = body.slice(start, start + 20);
    if (keyPair.publicKeyBase64.includes(piece)) continue;
    if (flat.includes(piece)) return piece;
  }
  return undefined;
}

/** How much of the private key's body is public (the modulus): for sanity checks in tests. */
export function privateOnlyPieces(keyPair: {
  privateKeyPem: string;
  publicKeyBase64: string;
}): number {
  const body = pemBody(keyPair.privateKeyPem);
  let count = 0;
  for (let start = 0; start + 20 <= body.length; start += 20) {
    if (!keyPair.publicKeyBase64.includes(body.slice(start, start + 20))) count++;
  }
  return count;
}

/** Every file in the directory (db, -wal, -shm, key file), as raw bytes read as latin1. */
export function readAllFiles(dir: string): Array<{ name: string; text: string }> {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => {
      const path = join(entry.parentPath, entry.name);
      return { name: path, text: readFileSync(path).toString("latin1") };
    });
}
