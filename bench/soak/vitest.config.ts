// The soak runs under vitest, like the fault suite whose harness it reuses, but only from
// `npm run bench:soak`: it is a 30-minute benchmark, not part of the test suite.
import { resolve } from "node:path";
import { defineConfig } from "vitest/config";

export default defineConfig({
  root: resolve(import.meta.dirname, "../.."),
  test: {
    include: ["bench/soak/soak.ts"],
    environment: "node",
    reporters: ["default"],
    hookTimeout: 240_000,
    teardownTimeout: 60_000,
  },
});
