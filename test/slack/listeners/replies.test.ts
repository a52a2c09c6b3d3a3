import { describe, expect, it } from "vitest";
import { InputError } from "../../../src/errors.js";
import { createLogger } from "../../../src/logger.js";
import { ActionRefusedError, RequestConflictError } from "../../../src/requests/errors.js";
import { errorText } from "../../../src/slack/listeners/replies.js";
import { sampleRequest } from "../../helpers/sample-request.js";

const lines: string[] = [];
const logger = createLogger({ level: "debug", write: (line) => lines.push(line) });

describe("errorText", () => {
  it("names the asker of an open request with a mention that renders", () => {
    const existing = sampleRequest({ requesterId: "U0ANNA", selector: "s1" });
    const text = errorText(new RequestConflictError(existing), { logger });
    expect(text).toContain("asked by <@U0ANNA>");
    expect(text).toContain("`s1._domainkey.example.com` already has an open request");
    expect(text).toContain("`/dkim status example.com`");
    expect(text).not.toContain("&lt;");
  });

  it("keeps the service's mentions in a refusal, even without the request at hand", () => {
    const refusal = new ActionRefusedError(
      "APPROVAL_REFUSED",
      "not-approver",
      "r1",
      "Only <@U0BOB> or members of <!subteam^S0MAILADM> can approve DKIM requests: ask one of them.",
    );
    for (const request of [undefined, sampleRequest()]) {
      const text = errorText(refusal, { logger, request });
      expect(text).toBe(
        "Only <@U0BOB> or members of <!subteam^S0MAILADM> can approve DKIM requests: ask one of them.",
      );
    }
  });

  it("escapes what a person typed, so a typed <!channel> or mention never pings", () => {
    const typed = new InputError("domain", 'domain "<!channel> <@U0BOSS>": "<" is not allowed');
    expect(errorText(typed, { logger })).toBe(
      'domain "&lt;!channel&gt; &lt;@U0BOSS&gt;": "&lt;" is not allowed',
    );
    const sneaky = new ActionRefusedError(
      "NOT_ALLOWED",
      "already-handled",
      "r1",
      "Already rejected by <@U0BOB> (<!channel> <!here|here> <https://evil.example|click>).",
    );
    expect(errorText(sneaky, { logger })).toBe(
      "Already rejected by <@U0BOB> (&lt;!channel&gt; &lt;!here|here&gt; &lt;https://evil.example|click&gt;).",
    );
  });

  it("answers anything else without internals, and logs it", () => {
    const text = errorText(new Error("database exploded at /srv/x.db"), { logger });
    expect(text).toMatch(/^Something went wrong on my side/);
    expect(text).not.toContain("database");
    expect(lines.some((line) => line.includes("database exploded"))).toBe(true);
  });
});
