import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Key generation and real local servers make some tests slow on a shared 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
