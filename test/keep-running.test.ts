import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { keepRunningOnUnhandledRejection, LAST_RESORT_MESSAGE } from "../src/keep-running.js";
import { createLogger } from "../src/logger.js";

describe("keepRunningOnUnhandledRejection", () => {
  it("logs one line per rejection nothing handled, naming it without a stack", () => {
    const lines: string[] = [];
    const logger = createLogger({ level: "info", write: (line) => lines.push(line) });
    const target = new EventEmitter();
    keepRunningOnUnhandledRejection(logger, target);

    target.emit("unhandledRejection", new TypeError("Cannot read properties of null"));
    target.emit("unhandledRejection", "a bare string");
    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries.map((entry) => [entry.level, entry.msg])).toEqual([
      ["error", LAST_RESORT_MESSAGE],
      ["error", LAST_RESORT_MESSAGE],
    ]);
    expect(String(entries[0]?.error)).toContain("Cannot read properties of null");
    expect(lines.join("\n")).not.toMatch(/\n\s+at /);
  });
});
