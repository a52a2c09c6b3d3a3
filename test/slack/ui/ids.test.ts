import { describe, expect, it } from "vitest";
import {
  ACTION_IDS,
  BLOCK_IDS,
  CALLBACK_IDS,
  decodeActionValue,
  encodeActionValue,
  REJECT_FIELDS,
  SETUP_FIELDS,
} from "../../../src/slack/ui/ids.js";

const FINGERPRINT = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";

describe("action values", () => {
  it("round-trip with and without a fingerprint", () => {
    for (const value of [
      { requestId: "r7k2m9" },
      { requestId: "r7k2m9", fingerprint: FINGERPRINT },
    ]) {
      const encoded = encodeActionValue(value);
      expect(encoded.length).toBeLessThanOrEqual(2000);
      expect(decodeActionValue(encoded)).toEqual(value);
    }
  });

  it.each([
    ["not a string", 42],
    ["empty", ""],
    ["upper-case id", "R7K2M9"],
    ["id with a separator only", "r7k2m9|"],
    ["an extra part", `r7k2m9|${FINGERPRINT}|x`],
    ["a fingerprint of another kind", "r7k2m9|MD5:abcdef"],
    ["a cut fingerprint", `r7k2m9|${FINGERPRINT.slice(0, -1)}`],
    ["a fingerprint with a space", `r7k2m9|${FINGERPRINT.slice(0, -1)} `],
    ["JSON", JSON.stringify({ requestId: "r7k2m9" })],
    ["a very long value", `r7k2m9|${"A".repeat(5000)}`],
    ["an id with punctuation", "r7k2m9;drop"],
  ])("rejects a tampered value: %s", (_label, value) => {
    expect(decodeActionValue(value)).toBeUndefined();
  });

  it("refuses to encode what it could not decode", () => {
    expect(() => encodeActionValue({ requestId: "bad id" })).toThrow();
    expect(() => encodeActionValue({ requestId: "r1", fingerprint: "SHA1:x" })).toThrow();
  });
});

describe("ids", () => {
  it("are unique across actions, blocks and callbacks, and fit Slack's 255 characters", () => {
    const actionIds = Object.values(ACTION_IDS);
    const blockIds = [
      ...Object.values(BLOCK_IDS),
      ...Object.values(SETUP_FIELDS).map((f) => f.blockId),
      ...Object.values(REJECT_FIELDS).map((f) => f.blockId),
    ];
    const callbackIds = Object.values(CALLBACK_IDS);
    for (const ids of [actionIds, blockIds, callbackIds]) {
      expect(new Set(ids).size).toBe(ids.length);
      for (const id of ids) expect(id.length).toBeLessThanOrEqual(255);
    }
  });
});
