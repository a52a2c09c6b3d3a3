/**
 * The cluster's domain list, kept for DKIM_INVENTORY_MINUTES: `/dkim domains`, its pages, its
 * filters and App Home all read the same list instead of asking the cluster each time, and
 * people asking at the same moment share one call. A failed call is not kept: the next read
 * tries again, and the last good list stays available (`peek`) to show with its age.
 */
import type { DomainInventory, DomainList } from "./types.js";

export interface CachedDomainList extends DomainList {
  /** When the call that got this list was started: its age is counted from then. */
  fetchedAt: Date;
}

export interface DomainListCacheOptions {
  inventory: DomainInventory;
  /** How long a list is served without asking again; 0 asks every time (calls still shared). */
  ttlMs: number;
  clock?: () => Date;
}

export interface DomainListCache {
  /**
   * The kept list while it is younger than ttlMs, otherwise a new one. `refresh` (the Refresh
   * button) asks again whatever the age, but joins a call already under way rather than
   * starting a second. Rejects with the client's error when the cluster cannot list.
   */
  get(options?: { refresh?: boolean }): Promise<CachedDomainList>;
  /** The last list got, however old, without asking; undefined before the first success. */
  peek(): CachedDomainList | undefined;
}

export function createDomainListCache(options: DomainListCacheOptions): DomainListCache {
  const { inventory, ttlMs } = options;
  if (!Number.isFinite(ttlMs) || ttlMs < 0) {
    throw new RangeError(`domain list cache: ttlMs must be 0 or more, not ${ttlMs}`);
  }
  const clock = options.clock ?? (() => new Date());
  let kept: CachedDomainList | undefined;
  let underWay: Promise<CachedDomainList> | undefined;

  function isFresh(list: CachedDomainList): boolean {
    const age = clock().getTime() - list.fetchedAt.getTime();
    // A clock set back makes the age negative: that list's age is unknown, so it is stale.
    return age >= 0 && age < ttlMs;
  }

  async function fetchList(): Promise<CachedDomainList> {
    const fetchedAt = clock();
    const list = await inventory.listDomains();
    // One call at a time (see get), so no older answer can overwrite a newer one.
    kept = { ...list, fetchedAt };
    return kept;
  }

  return {
    get(getOptions = {}) {
      if (getOptions.refresh !== true && kept !== undefined && isFresh(kept)) {
        return Promise.resolve(kept);
      }
      if (underWay !== undefined) return underWay;
      const call = fetchList().finally(() => {
        if (underWay === call) underWay = undefined;
      });
      underWay = call;
      return call;
    },
    peek() {
      return kept;
    },
  };
}
