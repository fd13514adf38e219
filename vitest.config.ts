import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    setupFiles: ["tests/setup.ts"],
    // Suites run on the reference interpreter unless they ask for a device backend.
    env: { SMELT_BACKEND: process.env.SMELT_BACKEND ?? "interp" },
    testTimeout: 300_000,
    hookTimeout: 300_000,
    // Dawn and lavapipe are heavy: two workers keep a 2-core machine responsive.
    maxWorkers: 2,
  },
});
