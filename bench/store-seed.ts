/**
 * A store as a fleet's years leave it, written in a few seconds instead of through 100,000
 * flows: requests over a set of domains, each domain with its history (rejected, expired,
 * cancelled, retired) and what it has now (an active key, some with a retiring one or a
 * rotation under way, some pending or failed, some nothing), every request with its audit
 * events, all already told in Slack.
 *
 * It is written through the store of the build under test (BENCH_DIST, or dist/): its
 * openStore runs that build's migrations and seals its canary, its `toRow` turns each request
 * into the row the store itself writes, its `seal` seals the keys of the open requests (the
 * only ones the CHECK lets keep one). Rows go in as multi-row inserts in one transaction.
 */
import { generateKeyPairSync } from "node:crypto";
import { pathToFileURL } from "node:url";
import type { AuditEventKind, DkimRequest, RequestState } from "../src/requests/model.js";
import type * as SealingModule from "../src/requests/sealing.js";
import type * as OpenStoreModule from "../src/requests/store/open-store.js";
import type * as RowsModule from "../src/requests/store/rows.js";

export interface SeedPlan {
  /** Requests in all (about). */
  requests: number;
  /** Domains they are spread over, the first of `clusterDomains`. */
  domains: readonly string[];
  /** Where the open and current requests were made (most), and a few other channels. */
  channel: string;
  otherChannels: readonly string[];
  requesters: readonly string[];
  approver: string;
  /** Null: the bot's own workspace (requests made before it recorded one). */
  teamId: string | null;
}

export interface SeedTarget {
  databaseUrl?: string;
  dataDir: string;
  /** DKIM_ENCRYPTION_KEY as the bot gets it (base64). */
  encryptionKeyBase64: string;
}

export interface SeedResult {
  requests: number;
  events: number;
  byState: Record<string, number>;
  ms: number;
}

const DAY = 86_400_000;

function distUrl(file: string): string {
  const dir =
    process.env.BENCH_DIST === undefined
      ? new URL("../dist/", import.meta.url)
      : pathToFileURL(`${process.env.BENCH_DIST.replace(/\/+$/, "")}/`);
  return new URL(file, dir).href;
}

/** What a domain has now, on top of its history. */
type Current = "active" | "active+retiring" | "rotating" | "pending" | "failed" | "none";

function currentOf(index: number): Current {
  const slot = index % 20;
  if (slot < 12) return "active";
  if (slot < 14) return "active+retiring";
  if (slot < 15) return "rotating";
  if (slot < 16) return "pending";
  if (slot < 17) return "failed";
  return "none";
}

const HISTORY: readonly RequestState[] = ["rejected", "expired", "retired", "cancelled", "retired"];

export async function seedStore(target: SeedTarget, plan: SeedPlan): Promise<SeedResult> {
  const started = performance.now();
  const { openStore } = (await import(
    distUrl("requests/store/open-store.js")
  )) as typeof OpenStoreModule;
  const { toRow } = (await import(distUrl("requests/store/rows.js"))) as typeof RowsModule;
  const { seal, parseEncryptionKey } = (await import(
    distUrl("requests/sealing.js")
  )) as typeof SealingModule;
  const key = parseEncryptionKey(target.encryptionKeyBase64, "DKIM_ENCRYPTION_KEY");
  const store = await openStore({
    ...(target.databaseUrl === undefined ? {} : { databaseUrl: target.databaseUrl }),
    dataDir: target.dataDir,
    encryptionKey: key,
    owner: "bench-seed",
  });
  const db = store.kysely;

  const pair = generateKeyPairSync("rsa", { modulusLength: 1024 });
  const publicKeyBase64 = pair.publicKey.export({ type: "spki", format: "der" }).toString("base64");
  const privatePem = pair.privateKey.export({ type: "pkcs8", format: "pem" }).toString();

  const now = Date.now();
  const iso = (ms: number) => new Date(ms).toISOString();
  const perDomain = Math.max(1, Math.round(plan.requests / plan.domains.length));
  type Row = ReturnType<typeof toRow> & {
    sealed_key: Buffer | null;
    created_seq: number;
  };
  interface EventRow {
    request_id: string;
    at: string;
    actor_id: string;
    kind: AuditEventKind;
    details: string;
    delivered_at: string;
  }
  const rows: Row[] = [];
  const events: EventRow[] = [];
  const byState: Record<string, number> = {};
  let serial = 0;

  for (const [domainIndex, domain] of plan.domains.entries()) {
    const current = currentOf(domainIndex);
    const currentStates: RequestState[] =
      current === "active"
        ? ["active"]
        : current === "active+retiring"
          ? ["retiring", "active"]
          : current === "rotating"
            ? ["active", "pending"]
            : current === "none"
              ? []
              : [current];
    const historyCount = Math.max(0, perDomain - currentStates.length);
    const states: RequestState[] = [
      ...Array.from(
        { length: historyCount },
        (_, i) => HISTORY[(i + domainIndex) % HISTORY.length] as RequestState,
      ),
      ...currentStates,
    ];
    // Spread over two years, oldest first; the last request of an open domain made today.
    const span = 720 * DAY;
    let previousActive: { id: string; selector: string } | undefined;
    for (const [position, state] of states.entries()) {
      serial += 1;
      const isLast = position === states.length - 1;
      const open = state === "pending" || state === "failed";
      const createdMs = open
        ? now - (1 + (serial % 20)) * 3_600_000
        : now - span + Math.floor((span * (position + 1)) / (states.length + 1)) - (serial % 997);
      const created = iso(createdMs);
      const decided = iso(createdMs + 3_600_000);
      const id = `sd${serial.toString(36).padStart(8, "0")}`;
      const selector = `s${position + 1}`;
      const channel =
        domainIndex % 10 === 9
          ? (plan.otherChannels[domainIndex % plan.otherChannels.length] ?? plan.channel)
          : plan.channel;
      const requester = plan.requesters[serial % plan.requesters.length] ?? plan.approver;
      const request: DkimRequest = {
        id,
        domain,
        selector,
        bits: 2048,
        usernames: [domain],
        testing: false,
        reason: null,
        ticket: null,
        requesterId: requester,
        teamId: plan.teamId,
        enterpriseId: null,
        channelId: channel,
        messageTs: `${Math.floor(createdMs / 1000)}.${String(serial % 1_000_000).padStart(6, "0")}`,
        publicKeyBase64,
        fingerprint: "SHA256:bench",
        recordValue: `v=DKIM1; k=rsa; p=${publicKeyBase64}`,
        state,
        progress: {
          certificateInstalled: state === "active" || state === "retiring" || state === "retired",
          enabledUsernames:
            state === "active" || state === "retiring" || state === "retired" ? [domain] : [],
        },
        lastDnsCheck:
          state === "pending" || state === "active" || state === "retiring"
            ? {
                status: state === "pending" ? "missing" : serial % 50 === 0 ? "wrong" : "live",
                problemCode: null,
                summary: state === "pending" ? "No record yet." : "Published and matching.",
                checkedAt: iso(now - 3_600_000),
              }
            : null,
        decidedBy: state === "pending" ? null : state === "expired" ? "system" : plan.approver,
        decidedAt: state === "pending" ? null : decided,
        rejectReason: state === "rejected" ? "Not ours to sign." : null,
        rotationOf:
          state === "pending" && current === "rotating" && previousActive !== undefined
            ? previousActive
            : null,
        replacedBy: null,
        activatedAt:
          state === "active" || state === "retiring" || state === "retired" ? decided : null,
        retireAfter: state === "retiring" ? iso(now + 3 * DAY) : null,
        retiredAt: state === "retired" ? iso(createdMs + 10 * DAY) : null,
        retiredBy: state === "retired" ? "system" : null,
        publication: null,
        lastError: state === "failed" ? "api_set_dkim_selector: the cluster said no." : null,
        batchId: null,
        createdAt: created,
        updatedAt: isLast ? iso(Math.min(now, createdMs + 3_600_000)) : decided,
      };
      if (state === "active") previousActive = { id, selector };
      rows.push({
        ...toRow(request),
        sealed_key: open ? seal(key, privatePem, id) : null,
        created_seq: 0,
      });
      byState[state] = (byState[state] ?? 0) + 1;
      const told = (kind: AuditEventKind, at: string, actor: string, details: object = {}) =>
        events.push({
          request_id: id,
          at,
          actor_id: actor,
          kind,
          details: JSON.stringify(details),
          delivered_at: at,
        });
      told("created", created, requester, { selector, bits: 2048 });
      if (state === "active" || state === "retiring" || state === "retired") {
        told("approved", decided, plan.approver);
        told("active", decided, "system");
      }
      if (state === "retiring" || state === "retired") told("retiring", decided, "system");
      if (state === "retired") told("retired", iso(createdMs + 10 * DAY), "system");
      if (state === "failed") {
        told("approved", decided, plan.approver);
        told("failed", decided, "system", { error: "the cluster said no" });
      }
      if (state === "rejected" || state === "expired" || state === "cancelled") {
        told(state, decided, state === "expired" ? "system" : plan.approver);
      }
    }
    // A retiring key was replaced by the active one after it.
    const domainRows = rows.slice(rows.length - states.length);
    const active = domainRows.find((row) => row.state === "active");
    for (const row of domainRows) {
      if ((row.state === "retiring" || row.state === "retired") && active !== undefined) {
        row.replaced_by = active.id;
        row.replaced_by_selector = active.selector;
      }
    }
  }
  // Insertion order is creation order, as the store numbers it.
  rows.sort((a, b) => (a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : 0));
  for (const [index, row] of rows.entries()) row.created_seq = index + 1;

  const chunk = store.dialect === "postgres" ? 500 : 200;
  await db.transaction().execute(async (trx) => {
    for (let from = 0; from < rows.length; from += chunk) {
      await trx
        .insertInto("requests")
        .values(rows.slice(from, from + chunk))
        .execute();
    }
    if (store.dialect === "postgres") {
      // One statement per 20,000 events, each column as one array (a row of parameters each
      // would be 317 statements of 6,000 parameters).
      const { sql } = await import("kysely");
      for (let from = 0; from < events.length; from += 20_000) {
        const part = events.slice(from, from + 20_000);
        const column = (pick: (event: EventRow) => string) => part.map(pick);
        await sql`insert into events (request_id, at, actor_id, kind, details, delivered_at)
          select * from unnest(${column((e) => e.request_id)}::text[], ${column((e) => e.at)}::text[],
            ${column((e) => e.actor_id)}::text[], ${column((e) => e.kind)}::text[],
            ${column((e) => e.details)}::text[], ${column((e) => e.delivered_at)}::text[])`.execute(
          trx,
        );
      }
    } else {
      for (let from = 0; from < events.length; from += chunk * 2) {
        await trx
          .insertInto("events")
          .values(events.slice(from, from + chunk * 2))
          .execute();
      }
    }
    // The bot keeps what it read until a request is written: a store it never saw written.
    await trx
      .insertInto("meta")
      .values({ name: "requests_generation", value: "1" })
      .onConflict((oc) => oc.column("name").doUpdateSet({ value: "1" }))
      .execute();
    // Monitoring, the DNS watch and the reminders have just run (on another replica, say):
    // their cycles are not due while the answers are measured (they are measured elsewhere).
    const until = iso(now + DAY);
    for (const name of ["job:monitor", "job:dns-watch", "job:expiry-reminder"]) {
      await trx
        .insertInto("leases")
        .values({ name, owner: "bench-seed", expires_at: until })
        .execute();
    }
  });
  if (store.dialect === "postgres") {
    // What autovacuum's analyze does within a minute of such a load.
    await (await import("kysely")).sql`analyze`.execute(db);
  }
  await store.close();
  return {
    requests: rows.length,
    events: events.length,
    byState,
    ms: performance.now() - started,
  };
}
