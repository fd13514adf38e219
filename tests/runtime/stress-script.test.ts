/**
 * scripts/stress.ts at CI sizes (--small): every check passes, the table names each one,
 * and the exit code is 0 (it is 1 when any check fails).
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";
import { gpu } from "./webgpu-helpers.js";

const root = fileURLToPath(new URL("../..", import.meta.url));

describe.skipIf(!gpu)("the stress script", () => {
  test("--small on webgpu passes every check and prints the table", () => {
    const run = spawnSync(process.execPath, ["--import", "tsx", "scripts/stress.ts", "--small"], { cwd: root, encoding: "utf8", timeout: 280_000 });
    const table = run.stdout;
    expect(table, run.stderr).toMatch(/\| check +\| cases +\| result +\| ms +\|/);
    for (const name of ["leak", "scale", "special values", "concurrency", "fuzz", "device loss"])
      expect(table).toMatch(new RegExp(`\\| ${name} +\\| \\d+ +\\| ok +\\|`));
    expect(run.status, table + run.stderr).toBe(0);
  });
});
