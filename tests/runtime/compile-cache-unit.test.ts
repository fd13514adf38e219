/**
 * The persistent compile cache (runtime/compile-cache.ts) as compileGraph uses it, on a
 * backend that only records the programs it loads, so no device is needed: an equal graph
 * compiled again (a new graph object, as a new process has) loads the stored program and runs
 * no pass; the target, the settings and the graph each change the key; a corrupt entry is
 * compiled again and overwritten; SMELT_COMPILE_CACHE=0 and init's option turn it off.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { type Program, lowerGraph } from "../../codegen/program.js";
import { renderKernel } from "../../codegen/render/index.js";
import { type Target, WEBGPU_TARGET } from "../../codegen/target.js";
import { compileGraph, setCompileCache } from "../../frontend/compile.js";
import type { Tensor } from "../../frontend/core.js";
import { init } from "../../frontend/init.js";
import * as np from "../../frontend/np.js";
import { stageGraph } from "../../frontend/staging.js";
import type { Graph } from "../../ir/graph.js";
import type { Backend, Executable } from "../../runtime/backend.js";
import { interpBackend } from "../../runtime/interp.js";

/** A backend with a target that loads programs without a device, recording each one. */
function recordingBackend(target: Target = WEBGPU_TARGET): Backend & { loads: Program[]; given: (readonly string[] | undefined)[] } {
  const loads: Program[] = [], given: (readonly string[] | undefined)[] = [];
  const load = (program: Program, sources?: readonly string[]): Executable => {
    loads.push(program);
    given.push(sources);
    const kernels = program.launches.map((l, i) => ({
      name: l.kernel.name, inputs: [], outputs: [], workgroups: [...l.kernel.grid], source: sources?.[i] ?? renderKernel(target, l.kernel),
    }));
    return { program, kernels, peakBytes: program.peakBytes, run: () => [], dispose: () => {}, disposed: false };
  };
  const none = () => {
    throw new Error("the recording backend holds no buffers");
  };
  return {
    name: "webgpu", target, loads, given, load,
    compile: (g) => load(lowerGraph(g, target)),
    upload: none, read: none, free: none, memoryStats: none, synchronize: async () => {},
  };
}

/** A new graph object each call, as a new process traces one: x·scale, then exp and a row sum. */
function traced(scale = 2, name = "scaled"): Graph {
  return stageGraph(name, [{ dtype: "f32", shape: [4, 8] }], ([x]) => [np.sum(np.exp(np.multiply(x as Tensor, scale)), -1)]).graph;
}

const entries = () => readdirSync(join(process.env.SMELT_CACHE_DIR!, "compile")).filter((f) => f.endsWith(".json"));

describe("the persistent compile cache", () => {
  const saved = { dir: process.env.SMELT_CACHE_DIR, off: process.env.SMELT_COMPILE_CACHE };
  beforeEach(() => {
    process.env.SMELT_CACHE_DIR = mkdtempSync(join(tmpdir(), "smelt-compile-cache-"));
    delete process.env.SMELT_COMPILE_CACHE;
  });
  afterEach(() => {
    rmSync(process.env.SMELT_CACHE_DIR!, { recursive: true, force: true });
    process.env.SMELT_CACHE_DIR = saved.dir;
    if (saved.off === undefined) delete process.env.SMELT_COMPILE_CACHE;
    else process.env.SMELT_COMPILE_CACHE = saved.off;
    setCompileCache(true);
  });

  test("an equal graph compiled again loads the stored program and runs no pass", () => {
    const backend = recordingBackend();
    const first = compileGraph(traced(), backend);
    expect(first.cacheEntry).toBeUndefined();
    expect(first.stages.length).toBeGreaterThan(0);
    const second = compileGraph(traced(), backend);
    expect(second.cacheEntry).toBe(join(process.env.SMELT_CACHE_DIR!, "compile", entries()[0]!));
    expect(second.stages).toEqual([]);
    expect(backend.loads[1]).toStrictEqual(backend.loads[0]);
    expect(second.executable.kernels).toEqual(first.executable.kernels);
  });

  test("the stored kernels come back as rendered, so a load renders none again", () => {
    const backend = recordingBackend();
    const first = compileGraph(traced(), backend);
    compileGraph(traced(), backend);
    expect(backend.given[0]).toBeUndefined();
    expect(backend.given[1]).toEqual(first.executable.kernels.map((k) => k.source));
  });

  test("the target, the settings and the graph each change the key", () => {
    compileGraph(traced(), recordingBackend());
    const misses = [
      compileGraph(traced(), recordingBackend({ ...WEBGPU_TARGET, cpuAdapter: true })),
      compileGraph(traced(), recordingBackend({ ...WEBGPU_TARGET, limits: { ...WEBGPU_TARGET.limits, maxStorageBuffersPerShaderStage: 10 } })),
      compileGraph(traced(), recordingBackend(), { fuse: false }),
      compileGraph(traced(), recordingBackend(), { disablePasses: ["canonicalize"] }),
      compileGraph(traced(3), recordingBackend()),
      compileGraph(traced(2, "renamed"), recordingBackend()),
    ];
    expect(misses.map((c) => c.cacheEntry)).toEqual(misses.map(() => undefined));
    expect(entries()).toHaveLength(1 + misses.length);
  });

  test("a corrupt entry is compiled again and overwritten, never thrown", () => {
    const backend = recordingBackend();
    compileGraph(traced(), backend);
    const path = join(process.env.SMELT_CACHE_DIR!, "compile", entries()[0]!);
    const good = readFileSync(path, "utf8");
    const program = good.slice(good.indexOf("\n") + 1);
    const corrupt = [
      good.slice(0, good.length / 2), "", good.replace("{", "["), `{"sources":[]}\n${program}`,
      '{}\n{"format":"smelt-program/1","name":"scaled","buffers":[],"slots":[],"inputs":[],"outputs":[],"steps":[{"op":"launch"}]}',
    ];
    for (const bad of corrupt) {
      writeFileSync(path, bad);
      const again = compileGraph(traced(), backend);
      expect(again.cacheEntry, bad.slice(0, 80)).toBeUndefined();
      expect(again.stages.length).toBeGreaterThan(0);
      expect(readFileSync(path, "utf8")).toBe(good);
    }
  });

  test("lower() (asking for the stages) runs the passes even when the cache holds the program", () => {
    const backend = recordingBackend();
    compileGraph(traced(), backend);
    const g = traced();
    expect(compileGraph(g, backend, {}, { stages: true }).stages.length).toBeGreaterThan(0);
    const h = traced();
    const called = compileGraph(h, backend);
    expect(called.stages).toEqual([]);
    const inspected = compileGraph(h, backend, {}, { stages: true });
    expect(inspected.stages.map((s) => s.pass)).toContain("fuse");
    expect(inspected.executable).toBe(called.executable);
  });

  test("SMELT_COMPILE_CACHE=0 turns it off: nothing is stored or loaded", () => {
    process.env.SMELT_COMPILE_CACHE = "0";
    const backend = recordingBackend();
    compileGraph(traced(), backend);
    expect(compileGraph(traced(), backend).cacheEntry).toBeUndefined();
    expect(() => entries()).toThrow(/ENOENT/);
  });

  test("init({ compileCache: false }) turns it off, and a non-boolean is refused", async () => {
    await init({ backend: "interp", setDefault: false, compileCache: false });
    const backend = recordingBackend();
    compileGraph(traced(), backend);
    expect(compileGraph(traced(), backend).cacheEntry).toBeUndefined();
    await expect(init({ backend: "interp", setDefault: false, compileCache: "no" as never })).rejects.toThrow(/options\.compileCache/);
  });

  test("the interpreter, which has no target, stores nothing", () => {
    compileGraph(traced(), interpBackend);
    expect(() => entries()).toThrow(/ENOENT/);
  });
});
