/**
 * A body read whole, or not at all: for the domain list, where a body cut at a limit would
 * look like a shorter list and make the domains past the cut vanish from the inventory.
 * (readCapped, for the DKIM calls, cuts instead: their text is only ever shown in part.)
 */
import type { Dispatcher } from "undici";

/** The body as text, or undefined when it is longer than `maxBytes` (then it is not read on). */
export async function readWhole(
  response: Pick<Dispatcher.ResponseData, "body" | "headers">,
  maxBytes: number,
): Promise<string | undefined> {
  const declared = Number(response.headers["content-length"]);
  if (Number.isFinite(declared) && declared > maxBytes) {
    // Said so up front: nothing of it is read, and the connection is not reused.
    response.body.destroy();
    return undefined;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    // Leaving the loop destroys the body, so reading stops at the limit, whatever follows.
    if (size > maxBytes) return undefined;
    chunks.push(buffer);
  }
  return Buffer.concat(chunks, size).toString("utf8");
}
