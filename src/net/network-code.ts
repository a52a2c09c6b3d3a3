/**
 * A network failure reduced to a code that is safe to show and log (ECONNREFUSED,
 * UND_ERR_CONNECT_TIMEOUT, TIMEOUT...): the errors of the HTTP and socket layers are dropped
 * because their messages and properties may carry the request, and so a key or a password.
 */
const SAFE_CODE = /^[A-Z][A-Z0-9_]{1,63}$/;

/** The first safe code along the error's cause chain, or one derived from its name. */
export function networkCodeOf(error: unknown): string {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Object; depth += 1) {
    const code: unknown = Reflect.get(current, "code");
    if (typeof code === "string" && SAFE_CODE.test(code)) return code;
    const name: unknown = Reflect.get(current, "name");
    // AbortSignal.timeout() rejects with a DOMException named TimeoutError, which has no code.
    if (name === "TimeoutError") return "TIMEOUT";
    if (name === "AbortError") return "ABORTED";
    current = Reflect.get(current, "cause");
  }
  return "UNKNOWN";
}
