/**
 * Reading a whole state of the store a page at a time (monitoring's fleet, the DNS watch's
 * pending requests): thousands of requests are not read and held in one go, which blocked
 * the event loop for hundreds of milliseconds at 10,000 keys.
 */
import type { DkimRequest, RequestState } from "./model.js";
import type { PageCursor, RequestStore } from "./store.js";

/** Rows read per page: small enough that one read is a few milliseconds. */
export const READ_PAGE = 250;

/** The requests in each of `states`, in creation order, `pageSize` rows per read. */
export async function* requestsInPages(
  store: Pick<RequestStore, "listPage">,
  states: readonly RequestState[],
  pageSize = READ_PAGE,
): AsyncGenerator<DkimRequest> {
  for (const state of states) {
    let after: PageCursor | undefined;
    for (;;) {
      const page = await store.listPage(state, after, pageSize);
      yield* page;
      const last = page.at(-1);
      if (last === undefined || page.length < pageSize) break;
      after = { createdAt: last.createdAt, id: last.id };
    }
  }
}
