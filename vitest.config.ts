// Two projects: `unit` (pure functions, no processes or network) and `integration` (real
// PostgreSQL and real Apache Kafka, started by test/setup/global-stack.ts). Integration
// files run one at a time: they share the stack, and the 2-core machines are small.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    reporters: ["default"],
    teardownTimeout: 60_000,
    projects: [
      {
        test: {
          name: "unit",
          include: ["packages/*/src/**/*.test.ts", "services/*/src/**/*.test.ts"],
          environment: "node",
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/**/*.test.ts"],
          environment: "node",
          globalSetup: ["test/setup/global-stack.ts"],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 240_000,
        },
      },
    ],
  },
});
