/**
 * DNS publishing (DKIM_DNS_PUBLISH_PROVIDER): for a domain in a zone the bot may write, the
 * bot makes DNS say what the request's state asks, instead of a person pasting the record:
 *
 *   pending, applying, failed, active  -> the record published (the bot's own value)
 *   retiring, once its overlap is over -> the revoked value (empty p=): an explicit "revoked"
 *                                         for verifiers, which the monitor then retires; the
 *                                         name stays visibly used, so nobody reuses it
 *   retired                            -> revoked, and left so
 *   rejected, cancelled, expired       -> removed (nothing ever signed with it)
 *
 * The publisher never touches a record the bot did not write (dns-publish/publisher.ts). The
 * outcome is stored on the request (publication.state) and told once in its thread; a failure
 * is told once per reason and tried again by the DNS watch's rounds, and the record stays
 * shown on the card, so a person can still publish it by hand. Approval still gates the apply:
 * a record at a fresh selector signs nothing.
 */
import { createLimiter } from "../dkim/concurrency-limit.js";
import type { RequestsContext } from "./context.js";
import {
  type AuditDetails,
  type AuditEventKind,
  type DkimRequest,
  recordNameOf,
  SYSTEM_ACTOR,
} from "./model.js";

type PublicationEventKind = Extract<
  AuditEventKind,
  "dns-published" | "dns-removed" | "dns-revoked" | "dns-publish-failed"
>;

import { describeFailure } from "./redact.js";

/** What requests/ needs of a DNS publisher (src/dns-publish/publisher.ts is one). */
export interface RecordPublisher {
  readonly provider: string;
  zoneFor(recordName: string): string | undefined;
  publish(record: { name: string; value: string }): Promise<"published" | "already-published">;
  remove(record: { name: string; value: string }): Promise<"removed" | "absent">;
  revoke(record: {
    name: string;
    value: string;
    revokedValue: string;
  }): Promise<"revoked" | "already-revoked" | "absent">;
}

export const REVOKED_RSA_VALUE = "v=DKIM1; k=rsa; p=";

export type WantedRecord = "published" | "removed" | "revoked";

/** What DNS should hold for a request in its state now: the rule of the comment above. */
export function wantedRecord(
  request: Pick<DkimRequest, "state" | "retireAfter">,
  now: Date,
): WantedRecord {
  switch (request.state) {
    case "pending":
    case "applying":
    case "failed":
    case "active":
      return "published";
    case "retiring":
      return request.retireAfter !== null && Date.parse(request.retireAfter) <= now.getTime()
        ? "revoked"
        : "published";
    case "retired":
      return "revoked";
    case "rejected":
    case "cancelled":
    case "expired":
      return "removed";
  }
}

export interface Publication {
  /** The managed zone of a request's record, or undefined (published by hand). */
  zoneOf(request: Pick<DkimRequest, "domain" | "selector">): string | undefined;
  /** One try to make DNS say what the request's state asks; never throws. */
  reconcile(request: DkimRequest): Promise<void>;
  /** Every managed request whose record is not yet as its state asks (a DNS watch round). */
  reconcileAll(): Promise<void>;
}

/** Writes to the DNS server at once, at most: a batch of a hundred keys is not a flood. */
const PUBLISH_CONCURRENCY = 4;

export function createPublication(
  ctx: RequestsContext,
  publisher: RecordPublisher | undefined,
): Publication {
  const limiter = createLimiter(PUBLISH_CONCURRENCY);

  function zoneOf(request: Pick<DkimRequest, "domain" | "selector">): string | undefined {
    return publisher?.zoneFor(recordNameOf(request));
  }

  async function reconcile(request: DkimRequest): Promise<void> {
    if (publisher === undefined) return;
    const zone = request.publication?.zone ?? zoneOf(request);
    const wanted = wantedRecord(request, ctx.clock());
    if (zone === undefined) return;
    if (request.publication?.state === wanted) return;
    await limiter.run(async () => {
      const name = recordNameOf(request);
      try {
        const outcome =
          wanted === "published"
            ? await publisher.publish({ name, value: request.recordValue })
            : wanted === "removed"
              ? await publisher.remove({ name, value: request.recordValue })
              : await publisher.revoke({
                  name,
                  value: request.recordValue,
                  revokedValue: REVOKED_RSA_VALUE,
                });
        await record(request, zone, wanted, {
          kind:
            wanted === "published"
              ? "dns-published"
              : wanted === "removed"
                ? "dns-removed"
                : "dns-revoked",
          details: { zone, provider: publisher.provider, outcome },
        });
      } catch (error) {
        const reason = reasonOf(error);
        const state = `failed:${reason}`;
        ctx.logger.warn("Could not publish a DKIM record; it is tried again later.", {
          requestId: request.id,
          zone,
          reason,
        });
        // Told once per reason; the next rounds try again quietly.
        if (request.publication?.state === state) return;
        await record(request, zone, state, {
          kind: "dns-publish-failed",
          details: {
            zone,
            provider: publisher.provider,
            reason,
            wanted,
            transient: isTransient(error),
            message: describeFailure(error),
          },
        });
      }
    });
  }

  async function record(
    request: DkimRequest,
    zone: string,
    state: string,
    event: { kind: PublicationEventKind; details: AuditDetails },
  ): Promise<void> {
    // In whatever state the request is now (a DNS check may have stored meanwhile).
    for (let attempt = 0; attempt < 3; attempt++) {
      const current = attempt === 0 ? request : await ctx.requireRequest(request.id);
      const change = await ctx.store.update({
        id: request.id,
        whileState: current.state,
        at: ctx.now(),
        changes: { publication: { zone, state } },
        event: { actorId: SYSTEM_ACTOR, ...event },
      });
      if (change !== undefined) {
        ctx.emitChange(change);
        return;
      }
    }
  }

  async function reconcileAll(): Promise<void> {
    if (publisher === undefined) return;
    const managed = await ctx.store.list({ publicationDue: true });
    await Promise.all(managed.map((request) => reconcile(request)));
  }

  return { zoneOf, reconcile, reconcileAll };
}

function reasonOf(error: unknown): string {
  const reason = (error as { reason?: unknown } | null)?.reason;
  return typeof reason === "string" ? reason : "error";
}

function isTransient(error: unknown): boolean {
  return (error as { transient?: unknown } | null)?.transient === true;
}
