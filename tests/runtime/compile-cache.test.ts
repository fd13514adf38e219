/**
 * Issue 13's done-means for the persistent compile cache: a second process compiling W8
 * for the same target runs no pass and no codegen (its compile log says the program came
 * from the cache) and computes the same result as the first, which compiled and stored it.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, onTestFinished, test } from "vitest";
import { gpu } from "./webgpu-helpers.js";

const root = fileURLToPath(new URL("../..", import.meta.url));

/** Runs the child script with the compile log at level 5 (each pass prints `// after <pass>`). */
function compileW8(cacheDir: string): { stdout: string; log: string } {
  const env = { ...process.env, SMELT_BACKEND: "webgpu", SMELT_CACHE_DIR: cacheDir, SMELT_DEBUG: "5" };
  const run = spawnSync(process.execPath, ["--import", "tsx", "tests/runtime/compile-cache-child.ts"], {
    cwd: root, env, encoding: "utf8", timeout: 240_000, maxBuffer: 256 * 2 ** 20,
  });
  expect(run.status, run.stderr.slice(-4000)).toBe(0);
  return { stdout: run.stdout, log: run.stderr };
}

describe.skipIf(!gpu)("the persistent compile cache across processes", () => {
  test("a second process compiling W8 loads it from the cache, runs no pass, and computes the same", () => {
    const cacheDir = mkdtempSync(join(tmpdir(), "smelt-cross-process-"));
    onTestFinished(() => rmSync(cacheDir, { recursive: true, force: true }));
    const first = compileW8(cacheDir);
    expect(first.log).toMatch(/^compiled @W8 for webgpu: .*, stored in the compile cache \(.*\.json\)$/m);
    expect(first.log).toMatch(/^\/\/ after fuse$/m);
    const second = compileW8(cacheDir);
    expect(second.log).toMatch(/^compiled @W8 for webgpu from the compile cache \(.*\.json\): .*no pass or lowering ran$/m);
    expect(second.log).not.toMatch(/^\/\/ after /m);
    expect(second.log.match(/^compiled @/gm)).toHaveLength(1);
    expect(JSON.parse(second.stdout)).toEqual(JSON.parse(first.stdout));
  });
});
