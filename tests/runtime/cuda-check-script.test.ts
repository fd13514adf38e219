/**
 * scripts/cuda-check.ts where there is no GPU: it says in one line that there is no CUDA to
 * check, with the driver's reason, and exits with status 2 (a mismatch is 1), without a
 * stack trace. It is type-checked with the project (`npm run typecheck`).
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));

describe("the cuda-check script", () => {
  it("without a CUDA driver fails fast with one line naming the driver library, status 2, no stack trace", () => {
    const run = spawnSync(process.execPath, ["--import", "tsx", "scripts/cuda-check.ts"], {
      cwd: root, encoding: "utf8", timeout: 120_000,
      env: { ...process.env, SMELT_LIBCUDA: "/nonexistent/libcuda.so.1", SMELT_BACKEND: "interp" },
    });
    expect(run.stderr.trim()).toMatch(/^cuda-check: no CUDA to check: \/nonexistent\/libcuda\.so\.1 could not be loaded \(.*\)$/);
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(run.status).toBe(2);
  });

  it("is among the files `npm run typecheck` checks", () => {
    const tsconfig = JSON.parse(readFileSync(`${root}/tsconfig.json`, "utf8")) as { include: string[] };
    expect(tsconfig.include).toContain("scripts");
  });
});
