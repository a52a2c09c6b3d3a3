/**
 * What every batch use case needs from the store beyond a read: a change computed from the
 * batch as it is now and written only if nobody wrote in between (tried again when someone
 * did), and the batch's hold while this replica works on it, so that after a crash another
 * replica (or the restarted one) finds the work and finishes it.
 */
import { CodedError } from "../errors.js";
import type { Batch, BatchChanges } from "./batch.js";
import type { RequestsContext } from "./context.js";
import { describeFailure } from "./redact.js";

export interface BatchWrites {
  /** The batch, or BATCH_NOT_FOUND. */
  require(id: string): Promise<Batch>;
  /**
   * Reads the batch, asks `change` what to write (undefined: nothing), and writes it unless
   * another write came first; then asks again. Resolves with the batch as written (or as read
   * when nothing was to be written), after telling the listeners of a write.
   */
  update(id: string, change: (batch: Batch) => BatchChanges | undefined): Promise<Batch>;
  /**
   * Runs `work` with the batch held by this replica (taken when free, kept alive while it
   * runs, given back once no work of this replica on the batch is left). When another replica
   * holds it, the work runs all the same: the hold only says who finishes it after a crash.
   */
  held<T>(id: string, work: () => Promise<T>): Promise<T>;
}

const MAX_ATTEMPTS = 20;

export function createBatchWrites(ctx: RequestsContext): BatchWrites {
  const { store } = ctx;
  /** Work of this process per batch, and the heartbeat that keeps its hold. */
  const holding = new Map<string, { count: number; heartbeat: NodeJS.Timeout }>();
  const holdMs = () => 4 * ctx.applyLeaseMs;
  const lease = () => ({
    owner: ctx.instanceId,
    until: new Date(Date.now() + holdMs()).toISOString(),
  });

  async function require(id: string): Promise<Batch> {
    const batch = await store.getBatch(id);
    if (batch === undefined) {
      throw new CodedError(
        "REQUEST_NOT_FOUND",
        `There is no batch ${id}. Check the card, or see /dkim status.`,
      );
    }
    return batch;
  }

  async function update(
    id: string,
    change: (batch: Batch) => BatchChanges | undefined,
  ): Promise<Batch> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const batch = await require(id);
      const changes = change(batch);
      if (changes === undefined) return batch;
      const written = await store.updateBatch(id, batch.version, ctx.now(), changes);
      if (written !== undefined) {
        ctx.emitBatch(written);
        return written;
      }
    }
    throw new CodedError(
      "REQUEST_CONFLICT",
      `Batch ${id} kept changing while the bot wrote to it; try again in a moment.`,
    );
  }

  async function take(id: string): Promise<void> {
    const mine = holding.get(id);
    if (mine !== undefined) {
      mine.count += 1;
      return;
    }
    const keep = () =>
      store.holdBatch(id, lease(), new Date().toISOString()).catch((error: unknown) => {
        ctx.logger.warn("Could not keep the hold on a batch; its work goes on.", {
          batchId: id,
          error: describeFailure(error),
        });
        return false;
      });
    const heartbeat = setInterval(() => void keep(), Math.max(50, holdMs() / 4));
    heartbeat.unref();
    holding.set(id, { count: 1, heartbeat });
    await keep();
  }

  async function give(id: string): Promise<void> {
    const mine = holding.get(id);
    if (mine === undefined) return;
    mine.count -= 1;
    if (mine.count > 0) return;
    clearInterval(mine.heartbeat);
    holding.delete(id);
    await store.releaseBatch(id, ctx.instanceId).catch(() => {
      // Not given back: it runs out by itself.
    });
  }

  return {
    require,
    update,
    async held(id, work) {
      await take(id);
      try {
        return await work();
      } finally {
        await give(id);
      }
    },
  };
}
