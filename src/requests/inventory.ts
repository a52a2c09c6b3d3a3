/**
 * `/dkim domains` (design.md flow 9): every domain of the cluster (`api_list_domains`, kept
 * for DKIM_INVENTORY_MINUTES) joined with the bot's current keys, as one person may see it:
 * the counts, a page of the domains that match a filter, and the domains a batch would set up
 * next. Without a cluster (dry run) the list is the bot's own domains.
 *
 * Cost: the cluster's list comes from the cache; the keys are read through an index that holds
 * current keys only (inventory-queries.ts), never the history, as a few groups per range of
 * domains, and kept until a request is written; the join is a map look-up per domain, with a
 * yield to the event loop every few thousand; only the page's keys are read in full.
 *
 * Who may see what (the rule `/dkim status` follows, issue 14): a key of a request made in a
 * channel the person cannot read is left out. A cluster domain whose keys are all such is
 * still listed (the cluster's list names it, whoever asks), as `private`: neither its state
 * nor its selector is shown, and it is not "without DKIM", so nobody is offered to set it up
 * again. A domain the cluster no longer lists is shown (`gone`) only with keys the person may
 * see.
 */

import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { domainToASCII, domainToUnicode } from "node:url";
import type { DomainListCache } from "../spamexperts/domain-list-cache.js";
import { isSameWorkspace } from "./authorization.js";
import type { RequestsContext } from "./context.js";
import type { HomeViewer } from "./home-overview.js";
import type { CurrentKey, KeyCursor, KeyKind } from "./store.js";

/** The words people type after `/dkim domains`, each a set of domains counted on top. */
export const INVENTORY_FILTERS = [
  "active",
  "rotating",
  "pending",
  "failed",
  "problems",
  "none",
  "private",
  "gone",
] as const;

export type InventoryFilter = (typeof INVENTORY_FILTERS)[number];

/**
 * What may be looked for in a name: letters (any script, for IDN), digits, dots and hyphens,
 * as domain names are made of. The parser and the buttons' values both hold to it.
 */
export const NAME_PART = /^[\p{L}\p{N}.-]{1,253}$/u;

/** What one line says of a domain: the one thing that matters most about it now. */
export type DomainState =
  | "failed"
  | "rotating"
  | "problem"
  | "active"
  | "pending"
  | "none"
  | "private"
  | "gone";

/** A domain's line, its keys as summaries (for the counts) or with what a line shows. */
export interface DomainEntryOf<K extends KeyKind> {
  domain: string;
  state: DomainState;
  /** False for a domain the cluster no longer lists (`gone`). */
  onCluster: boolean;
  /** The key SpamExperts signs with, when the person may see it. */
  active: K | undefined;
  /** The open request that matters most (failed first, then applying), when visible. */
  open: K | undefined;
}

export type DomainEntry = DomainEntryOf<CurrentKey>;

export type InventoryCounts = Record<InventoryFilter, number> & {
  /** Every domain of the list (in a dry run: of the bot's requests). */
  onCluster: number;
};

export type InventorySource =
  | {
      kind: "cluster";
      /** When the list was asked of the cluster (ISO 8601). */
      fetchedAt: string;
      /** Lines of the answer that were not a domain name, and a few of them. */
      ignored: number;
      ignoredExamples: string[];
      /** The cluster could not be asked now: this is the last list it gave, with why. */
      stale?: Error;
    }
  | { kind: "dry-run" };

export interface InventoryQuery {
  filter?: InventoryFilter | undefined;
  /** Part of the name, lower case; matches the punycode form and, for non-ASCII, the Unicode one. */
  namePart?: string | undefined;
  /** From 1; past the last page, the last page. */
  page: number;
  pageSize: number;
  /** Ask the cluster again now (the Refresh button), whatever the list's age. */
  refresh?: boolean | undefined;
}

export interface InventoryPage {
  source: InventorySource;
  counts: InventoryCounts;
  query: InventoryQuery;
  /** The page's domains, in name order. */
  entries: DomainEntry[];
  /** How many domains match the query in all. */
  matching: number;
  page: number;
  pages: number;
  /** The domains without DKIM a batch takes next: the first DKIM_BATCH_MAX, in name order. */
  nextBatch: string[];
}

/** Every domain (in name order) with what its line shows. */
export type InventoryWhole = InventoryWholeOf<CurrentKey>;

export type InventoryViewer = HomeViewer;

export interface Inventory {
  page(viewer: InventoryViewer, query: InventoryQuery): Promise<InventoryPage>;
  /** Every domain as the viewer may see it (the CSV). */
  everything(viewer: InventoryViewer): Promise<InventoryWhole>;
}

export interface InventoryDeps {
  /** The cluster's list; undefined in a dry run (the bot's own domains are listed instead). */
  domainList: DomainListCache | undefined;
  /** DKIM_BATCH_MAX. */
  batchMax: number;
}

const NO_KEYS: readonly never[] = [];

interface Collected<K extends KeyKind> extends InventoryWholeOf<K> {
  /** Whether the viewer may see a key (its channel, its workspace). */
  visible: (key: KeyKind) => boolean;
}

interface InventoryWholeOf<K extends KeyKind> {
  source: InventorySource;
  counts: InventoryCounts;
  entries: DomainEntryOf<K>[];
}

/** The keys' summaries read at a generation, and what the last step read again, if it was one. */
interface KeptKeys {
  generation: string;
  keys: Map<string, KeyKind[]>;
  step: { from: string; changed: readonly string[] } | undefined;
}

/** One person's lines, and what they were joined from. */
interface Joined {
  /** The cluster's list (the cache keeps one array per list). */
  domains: readonly string[];
  onList: ReadonlySet<string>;
  generation: string;
  /** The person's verdict on each channel of the keys. */
  verdicts: Map<string, boolean>;
  entries: DomainEntryOf<KeyKind>[];
  counts: InventoryCounts;
  /** Each line's index in `entries`. */
  position: Map<string, number>;
}

/** A channel seen before with another verdict now: the lines are joined anew. */
function sameVerdicts(before: Joined, now: Map<string, boolean>): boolean {
  for (const [channel, verdict] of before.verdicts) {
    const current = now.get(channel);
    if (current !== undefined && current !== verdict) return false;
  }
  return true;
}

function add<V>(map: Map<string, V[]>, key: string, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

/** The cluster's list as a set, made once per list (a list is kept until it is asked again). */
const listSets = new WeakMap<readonly string[], ReadonlySet<string>>();
function setOf(domains: readonly string[]): ReadonlySet<string> {
  let set = listSets.get(domains);
  if (set === undefined) {
    set = new Set(domains);
    listSets.set(domains, set);
  }
  return set;
}

/** Rows per read, and entries between two yields to the event loop. */
const READ_PAGE = 1000;
const SLICE = 2000;
/** Channels whose visibility is asked of Slack at once. */
const VISIBILITY_LOOKUPS = 8;
const PROBLEM_VERDICTS: ReadonlySet<string> = new Set(["missing", "wrong"]);
/** People whose joined lines are kept (about 1 MB each with 10,000 domains). */
const KEPT_JOINS = 8;
/** Past this many domains written since the keys were read, they are all read again. */
const CHANGED_DOMAINS = 500;

/** What of a key decides its domain's state (the groups' fields), without the rest. */
function kindOf(key: KeyKind): KeyKind {
  const { state, channelId, teamId, enterpriseId, dnsStatus, rotation } = key;
  return { state, channelId, teamId, enterpriseId, dnsStatus, rotation };
}

export function createInventory(ctx: RequestsContext, deps: InventoryDeps): Inventory {
  const { store } = ctx;

  async function domainsOfList(
    refresh: boolean,
  ): Promise<{ domains: readonly string[]; source: InventorySource }> {
    const cache = deps.domainList;
    if (cache === undefined)
      return { domains: await requestDomains(), source: { kind: "dry-run" } };
    let stale: Error | undefined;
    let list = cache.peek();
    try {
      list = await cache.get({ refresh });
    } catch (error) {
      // The last good list, however old, says more than nothing; without one, the error.
      if (list === undefined || !(error instanceof Error)) throw error;
      stale = error;
      ctx.logger.warn("The cluster's domain list could not be had; showing the last one.", {
        error: error.message,
        fetchedAt: list.fetchedAt.toISOString(),
      });
    }
    return {
      domains: list.domains,
      source: {
        kind: "cluster",
        fetchedAt: list.fetchedAt.toISOString(),
        ignored: list.ignored,
        ignoredExamples: list.ignoredExamples,
        ...(stale === undefined ? {} : { stale }),
      },
    };
  }

  async function requestDomains(): Promise<string[]> {
    const domains: string[] = [];
    for (let after: string | undefined; ; ) {
      const page = await store.listRequestDomains(after, READ_PAGE);
      domains.push(...page);
      after = page.at(-1);
      if (page.length < READ_PAGE) return domains.sort(byCodeUnits);
      await yieldToEventLoop();
    }
  }

  /** Every current key with every column, page by page through the index (the CSV). */
  async function currentKeys(): Promise<Map<string, CurrentKey[]>> {
    const byDomain = new Map<string, CurrentKey[]>();
    for (let after: KeyCursor | undefined; ; ) {
      const page = await store.listCurrentKeys(after, READ_PAGE);
      for (const key of page) add(byDomain, key.domain, key);
      const last = page.at(-1);
      if (last === undefined || page.length < READ_PAGE) return byDomain;
      after = { domain: last.domain, id: last.id };
      await yieldToEventLoop();
    }
  }

  /**
   * What decides each domain's state, of each of its current keys: read as groups, a range of
   * domains at a time, and kept while no request is written (on any replica: the store's
   * generation moves in the writing transaction). Paging through the answer, its filters and
   * Refresh then cost the cluster's list and the join, not a read of the fleet. Once requests
   * were written, only their domains are read again (a few, through indexes), unless there
   * are many. The token is taken before the keys, so a write between the two only makes the
   * next call read again.
   */
  let kept: KeptKeys | undefined;
  async function keyKinds(): Promise<KeptKeys> {
    const generation = await store.requestsGeneration();
    if (kept !== undefined && kept.generation === generation) return kept;
    const since = kept;
    if (since !== undefined && Number(generation) > Number(since.generation)) {
      const changed = await store.listDomainsWrittenSince(since.generation, CHANGED_DOMAINS);
      if (changed !== undefined) {
        // A copy: an answer being joined from the kept map goes on with the map it read.
        const keys = new Map(since.keys);
        for (const domain of changed) keys.delete(domain);
        for (const key of await store.getCurrentKeysOf(changed)) add(keys, key.domain, kindOf(key));
        kept = { generation, keys, step: { from: since.generation, changed } };
        return kept;
      }
    }
    const keys = new Map<string, KeyKind[]>();
    let from: string | undefined;
    do {
      const range = await store.listKeyGroups(from, READ_PAGE);
      for (const group of range.groups) {
        const { domains, ...kind } = group;
        for (const domain of domains) add(keys, domain, kind);
      }
      from = range.next;
      if (from !== undefined) await yieldToEventLoop();
    } while (from !== undefined);
    kept = { generation, keys, step: undefined };
    return kept;
  }

  /**
   * The join of the cluster's list with the keys, as one person sees it, kept per person: the
   * same list, keys and channel verdicts give the same lines, so an answer reuses them (the
   * join of 10,000 domains is most of an answer's cost). After a write, only the written
   * domains' lines are joined again, when everything else is as it was: the same list, the
   * keys one step on, and the same verdict for every channel seen before.
   */
  const joins = new Map<string, Joined>();
  async function joinedFor(viewer: InventoryViewer, refresh: boolean): Promise<Collected<KeyKind>> {
    const { domains, source } = await domainsOfList(refresh);
    const keys = await keyKinds();
    const { visible, verdicts } = await visibilityOf(viewer, keys.keys);
    const person = JSON.stringify([viewer.actorId, viewer.teamId, viewer.enterpriseId]);
    const before = joins.get(person);
    let joined: Joined | undefined;
    if (before !== undefined && before.domains === domains && sameVerdicts(before, verdicts)) {
      if (before.generation === keys.generation) joined = before;
      else if (keys.step !== undefined && keys.step.from === before.generation) {
        joined = rejoin(before, keys, keys.step.changed, visible, verdicts);
      }
    }
    if (joined === undefined) {
      const whole = await join(domains, keys.keys, visible);
      joined = {
        domains,
        generation: keys.generation,
        verdicts,
        entries: whole.entries,
        counts: whole.counts,
        position: new Map(whole.entries.map((entry, index) => [entry.domain, index])),
        onList: setOf(domains),
      };
    }
    joins.delete(person);
    joins.set(person, joined);
    // The people who asked last; a handful at most ask the inventory in a while.
    for (const name of joins.keys()) {
      if (joins.size <= KEPT_JOINS) break;
      joins.delete(name);
    }
    return { source, entries: joined.entries, counts: joined.counts, visible };
  }

  /** Whether the viewer may see each key, asked once per channel (a few channels, many keys). */
  async function visibilityOf(
    viewer: InventoryViewer,
    keys: Map<string, readonly KeyKind[]>,
  ): Promise<{ visible: (key: KeyKind) => boolean; verdicts: Map<string, boolean> }> {
    const channels = new Set<string>();
    for (const list of keys.values()) for (const key of list) channels.add(key.channelId);
    const verdicts = new Map<string, boolean>();
    const queue = [...channels];
    await Promise.all(
      Array.from({ length: Math.min(VISIBILITY_LOOKUPS, queue.length) }, async () => {
        for (let channel = queue.pop(); channel !== undefined; channel = queue.pop()) {
          verdicts.set(channel, await viewer.canSee(channel).catch(() => false));
        }
      }),
    );
    return {
      visible: (key) => verdicts.get(key.channelId) === true && isSameWorkspace(ctx, key, viewer),
      verdicts,
    };
  }

  /** The lines joined before, with the written domains' lines joined again (or undefined). */
  function rejoin(
    before: Joined,
    keys: KeptKeys,
    changed: readonly string[],
    visible: (key: KeyKind) => boolean,
    verdicts: Map<string, boolean>,
  ): Joined | undefined {
    const entries = before.entries.slice();
    const counts = { ...before.counts };
    for (const domain of changed) {
      const index = before.position.get(domain);
      // A domain off the list comes and goes from the lines (gone): join them all again.
      if (index === undefined || !before.onList.has(domain)) return undefined;
      const fresh = entryOf(domain, true, keys.keys.get(domain) ?? NO_KEYS, visible);
      const old = entries[index];
      if (fresh === undefined || old === undefined) return undefined;
      for (const filter of INVENTORY_FILTERS) {
        counts[filter] += (inFilter(fresh, filter) ? 1 : 0) - (inFilter(old, filter) ? 1 : 0);
      }
      entries[index] = fresh;
    }
    return { ...before, generation: keys.generation, verdicts, entries, counts };
  }

  async function collect<K extends KeyKind>(
    viewer: InventoryViewer,
    refresh: boolean,
    readKeys: () => Promise<Map<string, K[]>>,
  ): Promise<Collected<K>> {
    const { domains, source } = await domainsOfList(refresh);
    const keys = await readKeys();
    const { visible } = await visibilityOf(viewer, keys);
    return { source, ...(await join(domains, keys, visible)), visible };
  }

  /** Every domain's line and the counts: the list's domains, then those off it with keys. */
  async function join<K extends KeyKind>(
    domains: readonly string[],
    keys: Map<string, K[]>,
    visible: (key: KeyKind) => boolean,
  ): Promise<{ entries: DomainEntryOf<K>[]; counts: InventoryCounts }> {
    const entries: DomainEntryOf<K>[] = [];
    for (const [index, domain] of domains.entries()) {
      if (index > 0 && index % SLICE === 0) await yieldToEventLoop();
      const entry = entryOf(domain, true, keys.get(domain) ?? NO_KEYS, visible);
      if (entry !== undefined) entries.push(entry);
    }
    const listed = setOf(domains);
    let gone = false;
    for (const [domain, domainKeys] of keys) {
      if (listed.has(domain)) continue;
      const entry = entryOf(domain, false, domainKeys, visible);
      if (entry === undefined) continue;
      entries.push(entry);
      gone = true;
    }
    if (gone) entries.sort((left, right) => byCodeUnits(left.domain, right.domain));
    return { entries, counts: countsOf(entries, domains.length) };
  }

  /**
   * The page's lines with what they show, from their domains' keys read in full now (a few
   * dozen): the same rule as the counts, so a key that moved on since is shown as it is now.
   */
  async function withDetails(
    entries: readonly DomainEntryOf<KeyKind>[],
    visible: (key: KeyKind) => boolean,
  ): Promise<DomainEntry[]> {
    const shown = entries.filter((entry) => entry.active !== undefined || entry.open !== undefined);
    const details = new Map<string, CurrentKey[]>();
    for (const key of await store.getCurrentKeysOf(shown.map((entry) => entry.domain))) {
      add(details, key.domain, key);
    }
    return entries.map((entry) => {
      const keys = details.get(entry.domain);
      const fresh =
        keys === undefined ? undefined : entryOf(entry.domain, entry.onCluster, keys, visible);
      return fresh ?? { ...entry, active: undefined, open: undefined };
    });
  }

  return {
    async page(viewer, query) {
      const whole = await joinedFor(viewer, query.refresh === true);
      const matching = whole.entries.filter((entry) => matches(entry, query));
      const pageSize = Math.max(1, Math.trunc(query.pageSize));
      const pages = Math.max(1, Math.ceil(matching.length / pageSize));
      const page = Math.min(Math.max(1, Math.trunc(query.page)), pages);
      const nextBatch: string[] = [];
      for (const entry of whole.entries) {
        if (nextBatch.length >= deps.batchMax) break;
        if (entry.state === "none") nextBatch.push(entry.domain);
      }
      return {
        source: whole.source,
        counts: whole.counts,
        query,
        entries: await withDetails(
          matching.slice((page - 1) * pageSize, page * pageSize),
          whole.visible,
        ),
        matching: matching.length,
        page,
        pages,
        nextBatch,
      };
    },
    // Every column of every key: the one read of the fleet that is never kept.
    async everything(viewer) {
      const { source, counts, entries } = await collect(viewer, false, currentKeys);
      return { source, counts, entries };
    },
  };
}

/**
 * A domain's line from its current keys; undefined for a domain off the list with none to
 * show. One pass, no arrays made: this runs for every domain of the cluster at each answer.
 */
function entryOf<K extends KeyKind>(
  domain: string,
  onCluster: boolean,
  keys: readonly K[],
  visible: (key: KeyKind) => boolean,
): DomainEntryOf<K> | undefined {
  let active: K | undefined;
  let open: K | undefined;
  let seen = false;
  for (const key of keys) {
    if (!visible(key)) continue;
    seen = true;
    if (key.state === "active") active ??= key;
    else if (open === undefined || morePressing(key, open)) open = key;
  }
  if (!seen) {
    if (!onCluster) return undefined;
    const state = keys.length > 0 ? "private" : "none";
    return { domain, state, onCluster, active: undefined, open: undefined };
  }
  return { domain, state: stateOf(onCluster, active, open), onCluster, active, open };
}

const PRESSING = { failed: 0, applying: 1, pending: 2, active: 3 } as const;

/**
 * Failed first (someone must act), then applying, then pending. Of two of one rank (two open
 * selectors of one domain, which is rare) the first read stays: the line shows one of them.
 */
function morePressing(key: KeyKind, than: KeyKind): boolean {
  return PRESSING[key.state] < PRESSING[than.state];
}

function stateOf(
  onCluster: boolean,
  active: KeyKind | undefined,
  open: KeyKind | undefined,
): DomainState {
  if (!onCluster) return "gone";
  if (open?.state === "failed") return "failed";
  if (open?.rotation === true) return "rotating";
  if (active !== undefined) return hasProblem(active) ? "problem" : "active";
  return open === undefined ? "none" : "pending";
}

function hasProblem(key: KeyKind): boolean {
  return key.dnsStatus !== null && PROBLEM_VERDICTS.has(key.dnsStatus);
}

/** The set each filter word names; the counts are of the same sets, so they agree. */
export function inFilter(entry: DomainEntryOf<KeyKind>, filter: InventoryFilter): boolean {
  const { active, open } = entry;
  switch (filter) {
    case "active":
      return entry.onCluster && active !== undefined;
    case "rotating":
      return entry.onCluster && open?.rotation === true;
    case "pending":
      return entry.onCluster && open !== undefined && open.state !== "failed" && !open.rotation;
    case "failed":
      return entry.onCluster && open?.state === "failed";
    case "problems":
      return entry.onCluster && active !== undefined && hasProblem(active);
    case "none":
    case "private":
    case "gone":
      return entry.state === filter;
  }
}

function matches(entry: DomainEntryOf<KeyKind>, query: InventoryQuery): boolean {
  if (query.filter !== undefined && !inFilter(entry, query.filter)) return false;
  return query.namePart === undefined || nameMatches(entry.domain, query.namePart);
}

/** `shop`, `.nl`, `xn--bcher` or `bücher`: the name as listed, or its Unicode form. */
export function nameMatches(domain: string, part: string): boolean {
  if (domain.includes(part)) return true;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ASCII is exactly \x00-\x7f.
  if (/^[\x00-\x7f]*$/.test(part)) return false;
  const ascii = domainToASCII(part);
  return (ascii !== "" && domain.includes(ascii)) || domainToUnicode(domain).includes(part);
}

function countsOf(entries: readonly DomainEntryOf<KeyKind>[], onCluster: number): InventoryCounts {
  const counts = Object.fromEntries(INVENTORY_FILTERS.map((filter) => [filter, 0])) as Record<
    InventoryFilter,
    number
  >;
  for (const entry of entries) {
    for (const filter of INVENTORY_FILTERS) if (inFilter(entry, filter)) counts[filter] += 1;
  }
  return { ...counts, onCluster };
}

function byCodeUnits(left: string, right: string): number {
  return left < right ? -1 : left > right ? 1 : 0;
}
