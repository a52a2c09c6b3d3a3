/**
 * RequestStore on Kysely: the same queries for SQLite and PostgreSQL. Opening (dialect,
 * migrations, the encryption key check) is open-store.ts's; this file is the queries.
 *
 * Every write is one transaction that starts with its conditional write, so on either
 * database the first writer wins and the second sees "not in that state any more":
 * `UPDATE requests SET … WHERE id = ? AND state = ? … RETURNING …`, then the event.
 */
import { sql, type Transaction } from "kysely";
import type { Batch, BatchChanges } from "../batch.js";
import { RequestConflictError } from "../errors.js";
import {
  type AuditEvent,
  type DkimRequest,
  type NewAuditEvent,
  type QueuedSetup,
  REQUEST_STATES,
  type RequestState,
  type StoredDnsCheck,
} from "../model.js";
import { type EncryptionKey, seal, unseal } from "../sealing.js";
import { assertTransition, keepsPrivateKey, OPEN_STATES } from "../state-machine.js";
import type {
  CurrentKey,
  EventInput,
  HomeSection,
  KeyCursor,
  KeyGroup,
  Lease,
  PageCursor,
  RequestChanges,
  RequestFilter,
  RequestStore,
  StoredChange,
  TransitionArgs,
  UpdateArgs,
  VerdictWrite,
} from "../store.js";
import * as batches from "./batch-store.js";
import { retryWhileBusy } from "./busy.js";
import * as events from "./event-queries.js";
import { bumpGeneration, GENERATION } from "./generation.js";
import {
  homeSectionCountQuery,
  homeSectionQuery,
  stateCountsQuery,
  statePageQuery,
} from "./home-queries.js";
import {
  currentKeyFromRow,
  currentKeysQuery,
  domainsWrittenSinceQuery,
  keyBoundaryQuery,
  keyGroupFromRow,
  keyGroupsQuery,
  keysOfDomainsQuery,
  nextKeyDomainQuery,
  requestDomainsQuery,
} from "./inventory-queries.js";
import { listQuery, whileVerdict } from "./request-queries.js";
import {
  changeColumns,
  fromRow,
  intakeToRow,
  REQUEST_COLUMNS,
  type RequestRow,
  toRow,
} from "./rows.js";
import type { StoreDb, StoreDialect, StoreTables } from "./schema.js";
import * as intake from "./setup-intake-queries.js";

export interface KyselyStoreOptions {
  db: StoreDb;
  dialect: StoreDialect;
  encryptionKey: EncryptionKey;
  description: string;
  /** This replica. An event it writes is its own to tell for `deliveryHoldMs`, then anyone's. */
  owner: string;
  deliveryHoldMs?: number;
  /** How long a write waits for another connection's lock before StoreBusyError. */
  busyDeadlineMs?: number;
  /** Real time, for the delivery holds (the service's clock may be a test's). */
  clock?: () => number;
  /** Closes what the store was opened on (the instance lock, the pool). */
  onClose?: () => Promise<void>;
}

const DEFAULT_DELIVERY_HOLD_MS = 30_000;

interface ConditionalWrite {
  id: string;
  from: RequestState;
  to: RequestState;
  at: string;
  changes: RequestChanges;
  event: EventInput | undefined;
  whileLastDnsCheck?: StoredDnsCheck | null | undefined;
  whileApplyLease?: Lease | undefined;
  applyLease?: Lease | null | undefined;
  before?: readonly TransitionArgs[] | undefined;
}

export class KyselyRequestStore implements RequestStore {
  readonly description: string;
  readonly dialect: StoreDialect;
  private readonly db: StoreDb;
  private readonly key: EncryptionKey;
  readonly owner: string;
  private readonly deliveryHoldMs: number;
  private readonly busyDeadlineMs: number | undefined;
  private readonly clock: () => number;
  private readonly onClose: (() => Promise<void>) | undefined;
  private closed = false;

  constructor(options: KyselyStoreOptions) {
    this.db = options.db;
    this.dialect = options.dialect;
    this.key = options.encryptionKey;
    this.description = options.description;
    this.owner = options.owner;
    this.deliveryHoldMs = options.deliveryHoldMs ?? DEFAULT_DELIVERY_HOLD_MS;
    this.busyDeadlineMs = options.busyDeadlineMs;
    this.clock = options.clock ?? Date.now;
    this.onClose = options.onClose;
  }

  /** The database itself, for the store's own tools (migrate-store); use cases use the interface. */
  get kysely(): StoreDb {
    return this.db;
  }

  async insert(
    request: DkimRequest,
    privateKeyPem: string,
    event: EventInput,
    options: { setupId?: string } = {},
  ): Promise<AuditEvent> {
    const sealed = seal(this.key, privateKeyPem, request.id);
    try {
      return await this.write(async (trx) => {
        await trx
          .insertInto("requests")
          .values({
            ...toRow(request),
            sealed_key: sealed,
            created_seq: sql<number>`(select coalesce(max(created_seq), 0) + 1 from requests)`,
          })
          .execute();
        if (options.setupId !== undefined) {
          // The acked setup is done in the same transaction: a crash can never make it twice.
          await trx
            .updateTable("setup_intake")
            .set({ state: "created", request_id: request.id })
            .where("id", "=", options.setupId)
            .where("state", "=", "queued")
            .execute();
        }
        await bumpGeneration(trx, [request.id], this.dialect);
        return this.writeEvent(trx, { ...event, requestId: request.id, at: request.createdAt });
      });
    } catch (error) {
      if (isUniqueViolation(error)) {
        const existing = await this.findOpen(request.domain, request.selector);
        if (existing !== undefined) throw new RequestConflictError(existing);
      }
      throw error;
    }
  }

  async get(id: string): Promise<DkimRequest | undefined> {
    const row = await this.read(() =>
      this.db
        .selectFrom("requests")
        .select(REQUEST_COLUMNS)
        .where("id", "=", id)
        .executeTakeFirst(),
    );
    return row === undefined ? undefined : fromRow(row);
  }

  async findOpen(domain: string, selector: string): Promise<DkimRequest | undefined> {
    const row = await this.read(() =>
      this.db
        .selectFrom("requests")
        .select(REQUEST_COLUMNS)
        .where("domain", "=", domain)
        .where("selector", "=", selector)
        .where("state", "in", OPEN_STATES)
        .executeTakeFirst(),
    );
    return row === undefined ? undefined : fromRow(row);
  }

  async countByChannel(
    filter: RequestFilter,
    cap: number,
  ): Promise<{ counts: Map<string, number>; capped: boolean }> {
    let inner = this.db.selectFrom("requests").select("channel_id");
    if (filter.states !== undefined) {
      if (filter.states.length === 0) return { counts: new Map(), capped: false };
      inner = inner.where("state", "in", filter.states);
    }
    if (filter.domain !== undefined) inner = inner.where("domain", "=", filter.domain);
    const limited = inner.limit(cap + 1);
    const rows = await this.read(() =>
      this.db
        .selectFrom(limited.as("matching"))
        .select(["matching.channel_id", (eb) => eb.fn.countAll<number | string>().as("n")])
        .groupBy("matching.channel_id")
        .execute(),
    );
    const counts = new Map(rows.map((row) => [row.channel_id, Number(row.n)] as const));
    const total = [...counts.values()].reduce((sum, n) => sum + n, 0);
    return { counts, capped: total > cap };
  }

  async list(filter: RequestFilter = {}): Promise<DkimRequest[]> {
    if (filter.states !== undefined && filter.states.length === 0) return [];
    const query = listQuery(this.db, filter);
    const rows: RequestRow[] = await this.read(() => query.execute());
    return rows.map(fromRow);
  }

  async listPage(
    state: RequestState,
    after: PageCursor | undefined,
    limit: number,
  ): Promise<DkimRequest[]> {
    const rows: RequestRow[] = await this.read(() =>
      statePageQuery(this.db, state, after, limit).execute(),
    );
    return rows.map(fromRow);
  }

  async listHomeSection(section: HomeSection, limit: number): Promise<DkimRequest[]> {
    const rows: RequestRow[] = await this.read(() =>
      homeSectionQuery(this.db, section, limit).execute(),
    );
    return rows.map(fromRow);
  }

  async countHomeSection(section: HomeSection): Promise<number> {
    const row = await this.read(() =>
      homeSectionCountQuery(this.db, section).executeTakeFirstOrThrow(),
    );
    return Number(row.count);
  }

  async countByState(states: readonly RequestState[]): Promise<Record<RequestState, number>> {
    const counts = Object.fromEntries(REQUEST_STATES.map((state) => [state, 0])) as Record<
      RequestState,
      number
    >;
    if (states.length === 0) return counts;
    const rows = await this.read(() => stateCountsQuery(this.db, states).execute());
    for (const row of rows) counts[row.state] = Number(row.count);
    return counts;
  }

  async listKeyGroups(
    from: string | undefined,
    keys: number,
  ): Promise<{ groups: KeyGroup[]; next: string | undefined }> {
    if (this.dialect === "postgres") {
      // PostgreSQL works off this process's event loop and answers a fleet in a few grouped
      // rows: one query, where ranges would only add round trips.
      const rows = await this.read(() =>
        keyGroupsQuery(this.db, this.dialect, from, undefined).execute(),
      );
      return { groups: rows.map(keyGroupFromRow), next: undefined };
    }
    // SQLite runs each statement on the event loop: a range of about `keys` keys at a time.
    const boundary = await this.read(() =>
      keyBoundaryQuery(this.db, from, Math.max(1, keys)).executeTakeFirst(),
    );
    let next = boundary?.domain;
    if (next !== undefined && next === from) {
      // One domain with more keys than a range holds: the range is that domain alone.
      const after = await this.read(() =>
        nextKeyDomainQuery(this.db, next ?? "").executeTakeFirst(),
      );
      next = after?.domain;
    }
    const rows = await this.read(() => keyGroupsQuery(this.db, this.dialect, from, next).execute());
    return { groups: rows.map(keyGroupFromRow), next };
  }

  async listCurrentKeys(after: KeyCursor | undefined, limit: number): Promise<CurrentKey[]> {
    const rows = await this.read(() => currentKeysQuery(this.db, after, limit).execute());
    return rows.map(currentKeyFromRow);
  }

  async getCurrentKeysOf(domains: readonly string[]): Promise<CurrentKey[]> {
    if (domains.length === 0) return [];
    const rows = await this.read(() => keysOfDomainsQuery(this.db, domains).execute());
    return rows.map(currentKeyFromRow);
  }

  async listRequestDomains(after: string | undefined, limit: number): Promise<string[]> {
    const rows = await this.read(() => requestDomainsQuery(this.db, after, limit).execute());
    return rows.map((row) => row.domain);
  }

  async listDomainsWrittenSince(generation: string, limit: number): Promise<string[] | undefined> {
    const since = Number(generation);
    if (!Number.isSafeInteger(since)) return undefined;
    const rows = await this.read(() =>
      domainsWrittenSinceQuery(this.db, since, Math.max(0, Math.trunc(limit)) + 1).execute(),
    );
    // One row per request written: more than `limit` requests may still be fewer domains,
    // but that many writes since are as well answered by reading everything again.
    return rows.length > limit ? undefined : [...new Set(rows.map((row) => row.domain))];
  }

  async requestsGeneration(): Promise<string> {
    const row = await this.read(() =>
      this.db.selectFrom("meta").select("value").where("name", "=", GENERATION).executeTakeFirst(),
    );
    return row === undefined ? "0" : String(row.value);
  }

  async transition(args: TransitionArgs): Promise<StoredChange | undefined> {
    assertTransition(args.from, args.to);
    return this.conditionalWrite({
      id: args.id,
      from: args.from,
      to: args.to,
      at: args.at,
      changes: args.changes ?? {},
      event: args.event,
      whileApplyLease: args.whileApplyLease,
      applyLease: args.applyLease,
      before: args.before,
    });
  }

  async update(args: UpdateArgs): Promise<StoredChange | undefined> {
    return this.conditionalWrite({
      id: args.id,
      from: args.whileState,
      to: args.whileState,
      at: args.at,
      changes: args.changes,
      event: args.event,
      whileLastDnsCheck: args.whileLastDnsCheck,
      whileApplyLease: args.whileApplyLease,
      applyLease: args.whileApplyLease,
    });
  }

  async recordVerdicts(writes: readonly VerdictWrite[]): Promise<number> {
    if (writes.length === 0) return 0;
    return this.write(async (trx) => {
      const storedIds: string[] = [];
      for (const write of writes) {
        const result = await whileVerdict(
          trx
            .updateTable("requests")
            .set({ ...changeColumns({ lastDnsCheck: write.lastDnsCheck }), updated_at: write.at })
            .where("id", "=", write.id)
            .where("state", "=", write.whileState),
          write.whileLastDnsCheck,
        ).executeTakeFirst();
        if (Number(result.numUpdatedRows) > 0) storedIds.push(write.id);
      }
      if (storedIds.length > 0) await bumpGeneration(trx, storedIds, this.dialect);
      return storedIds.length;
    });
  }

  async listEvents(requestId: string): Promise<AuditEvent[]> {
    return this.read(() => events.listEvents(this.db, requestId));
  }

  async listEventsByDomain(domain: string): Promise<AuditEvent[]> {
    return this.read(() => events.listEventsByDomain(this.db, domain));
  }

  async listUndeliveredEvents(): Promise<AuditEvent[]> {
    return this.read(() => events.listUndeliveredEvents(this.db));
  }

  async claimUndeliveredEvents(holdMs: number, limit: number): Promise<AuditEvent[]> {
    const now = new Date(this.clock()).toISOString();
    const hold: Lease = { owner: this.owner, until: new Date(this.clock() + holdMs).toISOString() };
    return this.write((trx) => events.claimUndeliveredEvents(trx, hold, now, limit));
  }

  async extendEventHolds(eventIds: readonly number[], holdMs: number): Promise<void> {
    if (eventIds.length === 0) return;
    const hold: Lease = { owner: this.owner, until: new Date(this.clock() + holdMs).toISOString() };
    await this.write((trx) => events.extendHolds(trx, eventIds, hold));
  }

  async releaseEventHolds(eventIds: readonly number[]): Promise<void> {
    if (eventIds.length === 0) return;
    await this.write((trx) => events.releaseHolds(trx, eventIds, this.owner));
  }

  async markEventDelivered(eventId: number, at: string): Promise<void> {
    await this.write((trx) => events.markDelivered(trx, eventId, at));
  }

  async appendEvent(event: NewAuditEvent): Promise<AuditEvent> {
    return this.write((trx) => this.writeEvent(trx, event));
  }

  async readPrivateKey(id: string): Promise<string | undefined> {
    const row = await this.read(() =>
      this.db.selectFrom("requests").select("sealed_key").where("id", "=", id).executeTakeFirst(),
    );
    if (row === undefined || row.sealed_key === null) return undefined;
    return unseal(this.key, row.sealed_key, id);
  }

  async claimApply(id: string, lease: Lease, now: string): Promise<DkimRequest | undefined> {
    const row = await this.write((trx) =>
      trx
        .updateTable("requests")
        .set({ apply_owner: lease.owner, apply_lease_until: lease.until })
        .where("id", "=", id)
        .where("state", "=", "applying")
        .where((eb) =>
          eb.or([
            eb("apply_lease_until", "is", null),
            eb("apply_lease_until", "<", now),
            eb("apply_owner", "=", lease.owner),
          ]),
        )
        .returning(REQUEST_COLUMNS)
        .executeTakeFirst(),
    );
    return row === undefined ? undefined : fromRow(row);
  }

  async listUnclaimedApplies(now: string): Promise<DkimRequest[]> {
    const rows: RequestRow[] = await this.db
      .selectFrom("requests")
      .select(REQUEST_COLUMNS)
      .where("state", "=", "applying")
      .where((eb) =>
        eb.or([eb("apply_lease_until", "is", null), eb("apply_lease_until", "<", now)]),
      )
      .orderBy("created_at")
      .orderBy("created_seq")
      .execute();
    return rows.map(fromRow);
  }

  async releaseApply(id: string, owner: string): Promise<void> {
    await this.write((trx) =>
      trx
        .updateTable("requests")
        .set({ apply_owner: null, apply_lease_until: null })
        .where("id", "=", id)
        .where("apply_owner", "=", owner)
        .execute(),
    );
  }

  async enqueueSetup(setup: QueuedSetup, hold: Lease): Promise<void> {
    // One statement, atomic on its own: no BEGIN and COMMIT around it. It runs before the ack
    // of every setup, where PostgreSQL's two more round trips showed (50 at once, 10
    // connections).
    await retryWhileBusy(
      () =>
        this.db
          .insertInto("setup_intake")
          .values({ ...intakeToRow(setup), owner: hold.owner, lease_until: hold.until })
          .execute(),
      this.busyDeadlineMs,
    );
  }

  async getSetup(id: string): Promise<QueuedSetup | undefined> {
    return this.read(() => intake.getSetup(this.db, id));
  }

  async claimUnfinishedSetups(lease: Lease, now: string, limit: number): Promise<QueuedSetup[]> {
    return this.write((trx) => intake.claimUnfinishedSetups(trx, lease, now, limit));
  }

  async refuseSetup(id: string, outcome: string): Promise<void> {
    await this.write((trx) => intake.refuseSetup(trx, id, outcome));
  }

  async forgetSetup(id: string): Promise<void> {
    await this.write((trx) => intake.forgetSetup(trx, id));
  }

  async getReplyRef(requestId: string, slot: string): Promise<string | undefined> {
    const row = await this.read(() =>
      this.db
        .selectFrom("thread_replies")
        .select("ref")
        .where("request_id", "=", requestId)
        .where("slot", "=", slot)
        .executeTakeFirst(),
    );
    return row?.ref;
  }

  async setReplyRef(requestId: string, slot: string, ref: string): Promise<void> {
    await this.write((trx) =>
      trx
        .insertInto("thread_replies")
        .values({ request_id: requestId, slot, ref })
        .onConflict((oc) => oc.columns(["request_id", "slot"]).doUpdateSet({ ref }))
        .execute(),
    );
  }

  async deleteReplyRef(requestId: string, slot: string): Promise<void> {
    await this.write((trx) =>
      trx
        .deleteFrom("thread_replies")
        .where("request_id", "=", requestId)
        .where("slot", "=", slot)
        .execute(),
    );
  }

  async insertBatch(batch: Batch, hold: Lease): Promise<void> {
    await this.write((trx) => batches.insertBatch(trx, batch, hold));
  }

  async getBatch(id: string): Promise<Batch | undefined> {
    return this.read(() => batches.getBatch(this.db, id));
  }

  async updateBatch(
    id: string,
    expectedVersion: number,
    at: string,
    changes: BatchChanges,
  ): Promise<Batch | undefined> {
    return this.write((trx) => batches.updateBatch(trx, id, expectedVersion, at, changes));
  }

  async attachBatchCard(
    id: string,
    channelId: string,
    messageTs: string,
    at: string,
  ): Promise<Batch | undefined> {
    return this.write((trx) =>
      batches.attachBatchCard(trx, id, channelId, messageTs, at, this.dialect),
    );
  }

  async claimBatchesWithWork(lease: Lease, now: string, limit: number): Promise<Batch[]> {
    return this.write((trx) => batches.claimBatchesWithWork(trx, lease, now, limit));
  }

  async holdBatch(id: string, lease: Lease, now: string): Promise<boolean> {
    return this.write((trx) => batches.holdBatch(trx, id, lease, now));
  }

  async releaseBatch(id: string, owner: string): Promise<void> {
    await this.write((trx) => batches.releaseBatch(trx, id, owner));
  }

  async tryAcquireLease(name: string, lease: Lease, now: string): Promise<boolean> {
    const row = await this.write((trx) =>
      trx
        .insertInto("leases")
        .values({ name, owner: lease.owner, expires_at: lease.until })
        .onConflict((oc) =>
          oc
            .column("name")
            .doUpdateSet({ owner: lease.owner, expires_at: lease.until })
            .where((eb) =>
              eb.or([eb("leases.expires_at", "<", now), eb("leases.owner", "=", lease.owner)]),
            ),
        )
        .returning("owner")
        .executeTakeFirst(),
    );
    return row?.owner === lease.owner;
  }

  async leaseUntil(name: string): Promise<string | undefined> {
    const row = await this.read(() =>
      this.db.selectFrom("leases").select("expires_at").where("name", "=", name).executeTakeFirst(),
    );
    return row?.expires_at;
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    await this.write((trx) =>
      trx.deleteFrom("leases").where("name", "=", name).where("owner", "=", owner).execute(),
    );
  }

  async forgetHolds(): Promise<void> {
    await this.write(async (trx) => {
      await trx
        .updateTable("requests")
        .set({ apply_owner: null, apply_lease_until: null })
        .where("apply_owner", "is not", null)
        .execute();
      await trx
        .updateTable("events")
        .set({ delivery_owner: null, delivery_until: null })
        .where("delivered_at", "is", null)
        .execute();
      await trx.updateTable("setup_intake").set({ owner: null, lease_until: null }).execute();
      await trx
        .updateTable("batches")
        .set({ owner: null, lease_until: null })
        .where("owner", "is not", null)
        .execute();
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.db.destroy();
    await this.onClose?.();
  }

  /** One write transaction, retried (as a whole) while another connection holds the lock. */
  private write<T>(unit: (trx: Transaction<StoreTables>) => Promise<T>): Promise<T> {
    return retryWhileBusy(() => this.db.transaction().execute(unit), this.busyDeadlineMs);
  }

  /**
   * A read, retried likewise: SQLite's readers never wait in WAL mode, but a PostgreSQL read
   * waits for a table lock another connection holds (a migration, a long job).
   */
  private read<T>(query: () => Promise<T>): Promise<T> {
    return retryWhileBusy(query, this.busyDeadlineMs);
  }

  private async conditionalWrite(write: ConditionalWrite): Promise<StoredChange | undefined> {
    return this.write(async (trx) => {
      const alsoChanged: StoredChange[] = [];
      for (const move of write.before ?? []) {
        assertTransition(move.from, move.to);
        const change = await this.writeOne(trx, {
          id: move.id,
          from: move.from,
          to: move.to,
          at: move.at,
          changes: move.changes ?? {},
          event: move.event,
          applyLease: move.applyLease,
        });
        if (change !== undefined) alsoChanged.push(change);
      }
      const change = await this.writeOne(trx, write);
      if (change === undefined) {
        // The main move lost its race: the linked moves must not stand alone.
        if (alsoChanged.length > 0) throw new LostRace();
        return undefined;
      }
      await bumpGeneration(
        trx,
        [change.request.id, ...alsoChanged.map((each) => each.request.id)],
        this.dialect,
      );
      return alsoChanged.length === 0 ? change : { ...change, alsoChanged };
    }).catch((error: unknown) => {
      if (error instanceof LostRace) return undefined;
      throw error;
    });
  }

  private async writeOne(
    trx: Transaction<StoreTables>,
    write: ConditionalWrite,
  ): Promise<StoredChange | undefined> {
    {
      let query = trx
        .updateTable("requests")
        .set({
          ...changeColumns(write.changes),
          state: write.to,
          updated_at: write.at,
          ...(keepsPrivateKey(write.to) ? {} : { sealed_key: null }),
          ...(write.applyLease === undefined
            ? {}
            : {
                apply_owner: write.applyLease?.owner ?? null,
                apply_lease_until: write.applyLease?.until ?? null,
              }),
        })
        .where("id", "=", write.id)
        .where("state", "=", write.from);
      if (write.whileLastDnsCheck !== undefined) {
        query = whileVerdict(query, write.whileLastDnsCheck);
      }
      if (write.whileApplyLease !== undefined) {
        query = query.where("apply_owner", "=", write.whileApplyLease.owner);
      }
      const row = await query.returning(REQUEST_COLUMNS).executeTakeFirst();
      if (row === undefined) return undefined;
      const event =
        write.event === undefined
          ? null
          : await this.writeEvent(trx, { ...write.event, requestId: write.id, at: write.at });
      return { request: fromRow(row), event };
    }
  }

  /** Held for this replica to tell first; the sweep of any replica takes it after the hold. */
  private async writeEvent(
    trx: Transaction<StoreTables>,
    event: NewAuditEvent,
  ): Promise<AuditEvent> {
    const details = JSON.stringify(event.details);
    const row = await trx
      .insertInto("events")
      .values({
        request_id: event.requestId,
        at: event.at,
        actor_id: event.actorId,
        kind: event.kind,
        details,
        delivered_at: null,
        delivery_owner: this.owner,
        delivery_until: new Date(this.clock() + this.deliveryHoldMs).toISOString(),
      })
      .returning("id")
      .executeTakeFirstOrThrow();
    return { ...event, id: Number(row.id), details: JSON.parse(details) };
  }
}

/** Rolls a transaction back when its main move lost the race after linked moves were made. */
class LostRace extends Error {}

function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "SQLITE_CONSTRAINT_UNIQUE" || code === "23505";
}
