/**
 * Issue 13's done-mean for autotuning, across processes: the tilings one process measured
 * are reused by the next, which runs no candidate (its compile log has no measurement, and
 * its kernels say the choice was stored), even with the compile cache off; and a program
 * compiled for autotuning before any choice existed (a plain call) is not stored in the
 * compile cache as if it were tuned.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, onTestFinished, test } from "vitest";
import type { TunedChoice } from "../../codegen/kernel.js";
import { gpu } from "./webgpu-helpers.js";

const root = fileURLToPath(new URL("../..", import.meta.url));

interface ChildResult {
  readonly values: number[];
  readonly tuned: (TunedChoice | null)[];
  readonly log: string;
}

function child(cacheDir: string, mode: "precompile" | "call", env: Record<string, string> = {}): ChildResult {
  const run = spawnSync(process.execPath, ["--import", "tsx", "tests/runtime/autotune-child.ts", ...(mode === "precompile" ? ["precompile"] : [])], {
    cwd: root, env: { ...process.env, SMELT_BACKEND: "webgpu", SMELT_CACHE_DIR: cacheDir, SMELT_DEBUG: "1", ...env },
    encoding: "utf8", timeout: 240_000, maxBuffer: 64 * 2 ** 20,
  });
  expect(run.status, run.stderr.slice(-4000)).toBe(0);
  return { ...(JSON.parse(run.stdout) as Omit<ChildResult, "log">), log: run.stderr };
}

const measurements = (log: string) => log.match(/^autotune: .* ms to measure\)$/gm) ?? [];

describe.skipIf(!gpu)("autotuning across processes", () => {
  test("a second process reuses the first one's choices and times no candidate; a call without choices is not stored as tuned", () => {
    const cacheDir = mkdtempSync(join(tmpdir(), "smelt-autotune-"));
    onTestFinished(() => rmSync(cacheDir, { recursive: true, force: true }));

    // A plain call has no stored choice and cannot wait for the device: defaults, nothing stored.
    const plain = child(cacheDir, "call");
    expect(measurements(plain.log)).toHaveLength(0);
    expect(plain.log).toMatch(/^autotune: @W5: 2 kernel\(s\) have no stored choice/m);
    expect(plain.log).not.toMatch(/stored in the compile cache/);
    expect(plain.tuned).toEqual([null, null]);

    // precompile times the candidates of both matmuls, and stores the choices and the program.
    const first = child(cacheDir, "precompile");
    expect(measurements(first.log)).toHaveLength(2);
    expect(first.tuned.map((t) => t?.from)).toEqual(["measured", "measured"]);
    expect(first.log).toMatch(/stored in the compile cache/);

    // With the compile cache off, the second process lowers again and takes the stored choices.
    const second = child(cacheDir, "precompile", { SMELT_COMPILE_CACHE: "0" });
    expect(measurements(second.log)).toHaveLength(0);
    expect(second.tuned.map((t) => t?.from)).toEqual(["stored", "stored"]);
    expect(second.tuned.map((t) => t?.winner)).toEqual(first.tuned.map((t) => t?.winner));

    // A plain call in a later process finds them too.
    const third = child(cacheDir, "call", { SMELT_COMPILE_CACHE: "0" });
    expect(measurements(third.log)).toHaveLength(0);
    expect(third.tuned.map((t) => t?.winner)).toEqual(first.tuned.map((t) => t?.winner));

    // Tilings change no sum's order along k; allow rounding anyway.
    for (const r of [first, second, third]) {
      expect(r.values).toHaveLength(plain.values.length);
      expect(Math.max(...r.values.map((v, i) => Math.abs(v - plain.values[i]!)))).toBeLessThan(1e-4);
    }
  });
});
