/**
 * The thread replies the notifier edits later, by request and slot: the open apply reply (its
 * steps are folded into it) and the failure reply (its Retry goes once the request is not
 * failed). Kept behind this small interface so the store can back it and it survives a
 * restart (createStoredThreadReplyStore); the in-memory one, for tests, forgets on restart.
 */
import type { AuditEvent } from "../requests/model.js";

export type ReplySlot = "apply" | "failure" | "notice";

/** Everything needed to redraw a reply: JSON-safe, so a store can keep it in one column. */
export interface ThreadReplyRef {
  /** The reply's ts in the request's thread. */
  ts: string;
  /** The event it was posted for: the apply's opener (approved, retried, resumed), the failure. */
  event: AuditEvent;
  /** What the API said on steps folded into an apply reply (see stepNote). */
  notes: string[];
}

export interface ThreadReplyStore {
  get(requestId: string, slot: ReplySlot): Promise<ThreadReplyRef | undefined>;
  set(requestId: string, slot: ReplySlot, ref: ThreadReplyRef): Promise<void>;
  delete(requestId: string, slot: ReplySlot): Promise<void>;
}

export function createMemoryThreadReplyStore(): ThreadReplyStore {
  const refs = new Map<string, ThreadReplyRef>();
  const key = (requestId: string, slot: ReplySlot) => `${slot}:${requestId}`;
  return {
    get: async (requestId, slot) => refs.get(key(requestId, slot)),
    async set(requestId, slot, ref) {
      refs.set(key(requestId, slot), ref);
    },
    async delete(requestId, slot) {
      refs.delete(key(requestId, slot));
    },
  };
}

/** The replies kept in the bot's database (requests/store), so they survive a restart. */
export function createStoredThreadReplyStore(store: {
  getReplyRef(requestId: string, slot: string): Promise<string | undefined>;
  setReplyRef(requestId: string, slot: string, ref: string): Promise<void>;
  deleteReplyRef(requestId: string, slot: string): Promise<void>;
}): ThreadReplyStore {
  return {
    async get(requestId, slot) {
      const json = await store.getReplyRef(requestId, slot);
      return json === undefined ? undefined : (JSON.parse(json) as ThreadReplyRef);
    },
    set: (requestId, slot, ref) => store.setReplyRef(requestId, slot, JSON.stringify(ref)),
    delete: (requestId, slot) => store.deleteReplyRef(requestId, slot),
  };
}
