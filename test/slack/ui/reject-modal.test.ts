import { describe, expect, it } from "vitest";
import { CALLBACK_IDS, REJECT_FIELDS } from "../../../src/slack/ui/ids.js";
import {
  missingReasonErrors,
  readRejectForm,
  readRejectMetadata,
  rejectModal,
} from "../../../src/slack/ui/reject-modal.js";

const request = {
  id: "r7k2m9",
  domain: "example.com",
  selector: "s202611",
  requesterId: "U0REQUESTER",
};

describe("rejectModal", () => {
  it("asks for a required reason and remembers the request and its message", () => {
    const view = rejectModal(request, { channelId: "C0CHANNEL", messageTs: "1762165200.000100" });
    expect(view.callback_id).toBe(CALLBACK_IDS.rejectForm);
    expect(view.title.text.length).toBeLessThanOrEqual(24);
    const input = view.blocks.find((block) => block.block_id === REJECT_FIELDS.reason.blockId);
    expect(input?.type).toBe("input");
    expect(input !== undefined && "optional" in input && input.optional).not.toBe(true);
    expect(JSON.stringify(view.blocks)).toContain("example.com");
    expect(readRejectMetadata(view.private_metadata)).toEqual({
      requestId: "r7k2m9",
      channelId: "C0CHANNEL",
      messageTs: "1762165200.000100",
    });
  });

  it("keeps a message reference that is not known yet", () => {
    const view = rejectModal(request, { channelId: "C0CHANNEL", messageTs: null });
    expect(readRejectMetadata(view.private_metadata)?.messageTs).toBeNull();
  });

  it.each([
    ["not JSON", "r7k2m9"],
    ["a bad request id", JSON.stringify({ requestId: "R!", channelId: "C1", messageTs: null })],
    ["a bad ts", JSON.stringify({ requestId: "r1", channelId: "C1", messageTs: "now" })],
    ["missing fields", JSON.stringify({ requestId: "r1" })],
  ])("refuses metadata it did not write: %s", (_label, metadata) => {
    expect(readRejectMetadata(metadata)).toBeUndefined();
  });
});

describe("readRejectForm", () => {
  const values = (value: unknown) => ({
    [REJECT_FIELDS.reason.blockId]: { reason: { type: "plain_text_input", value } },
  });

  it("reads the reason, trimmed", () => {
    expect(readRejectForm(values("  Wrong selector \n"))).toEqual({
      ok: true,
      form: { reason: "Wrong selector" },
    });
  });

  it("gives an empty reason for blanks, with the error to show", () => {
    expect(readRejectForm(values("   "))).toEqual({ ok: true, form: { reason: "" } });
    expect(Object.keys(missingReasonErrors())).toEqual([REJECT_FIELDS.reason.blockId]);
  });

  it("rejects malformed submissions", () => {
    expect(readRejectForm({}).ok).toBe(false);
    expect(readRejectForm(values(7)).ok).toBe(false);
    expect(readRejectForm("x").ok).toBe(false);
  });
});
