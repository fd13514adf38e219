/**
 * The persistent compile cache stores lowered programs as JSON (codegen/program-json.ts):
 * every bench workload's program, fused and unfused, for a WebGPU target, a lavapipe-like
 * CPU target and an sm_80 CUDA target, comes back deep-equal and renders byte-identical
 * kernels; literals JSON cannot hold and constants' bytes survive exactly.
 */
import { describe, expect, test } from "vitest";
import { TINY_SIZES, WORKLOAD_IDS, type WorkloadId, workload } from "../../bench/workloads.js";
import { f32 } from "../../codegen/kernel.js";
import { Program, lowerGraph } from "../../codegen/program.js";
import { ProgramFormatError, programFromJson, programToJson } from "../../codegen/program-json.js";
import { renderKernel } from "../../codegen/render/index.js";
import { CUDA_SM80_TARGET, type Target, WEBGPU_TARGET, webgpuTarget } from "../../codegen/target.js";
import type { Tensor } from "../../frontend/core.js";
import { stageGraph } from "../../frontend/staging.js";
import { runPipeline } from "../../passes/pipeline.js";

const TARGETS: Record<string, Target> = {
  webgpu: WEBGPU_TARGET,
  lavapipe: webgpuTarget({ maxStorageBuffersPerShaderStage: 16 }, { subgroups: true }, true, 8),
  cuda: CUDA_SM80_TARGET,
};

function traced(id: WorkloadId, sizes: "tiny" | "design" = "tiny") {
  const w = workload(id, sizes === "tiny" ? TINY_SIZES[id] : undefined);
  const fn = w.fnFor?.("fused") ?? w.fn;
  const avals = w.inputs().map((i) => ({ dtype: "f32" as const, shape: [...i.shape] }));
  return stageGraph(id.replace(/-/g, "_"), avals, (xs) => [fn(...(xs as Tensor[]))]).graph;
}

const rendered = (p: Program, t: Target) => p.launches.map((l) => renderKernel(t, l.kernel));

function expectRoundTrips(id: WorkloadId, sizes: "tiny" | "design"): void {
  const g = traced(id, sizes);
  for (const [name, target] of Object.entries(TARGETS))
    for (const fuse of [true, false]) {
      const program = lowerGraph(runPipeline(g, { target, fuse }).graph, target);
      const text = programToJson(program);
      const back = programFromJson(text);
      expect(back, `${id} ${name} fuse=${fuse}`).toStrictEqual(program);
      expect(rendered(back, target)).toEqual(rendered(program, target));
      expect(programToJson(back)).toBe(text);
    }
}

describe("a program's JSON round trip", () => {
  for (const id of WORKLOAD_IDS)
    test(`${id}'s programs, fused and unfused, on each target come back deep-equal with byte-identical kernels`, () => {
      expectRoundTrips(id, "tiny");
    });

  test("so do W8's at DESIGN's sizes, where the templates tile differently", () => {
    expectRoundTrips("W8", "design");
  });

  test("kernel literals NaN, ±Infinity and −0 and constants' NaN payloads survive", () => {
    const payload = new Float32Array(new Uint32Array([0x7fc00001, 0xff800000, 0x80000000, 0x3f800000]).buffer);
    const kernel = {
      name: "k", source: "test", bindings: [], workgroupSize: [1, 1, 1] as const, grid: [1, 1, 1] as const, shared: [],
      body: [NaN, Infinity, -Infinity, -0, 0.1].map((v, i) => ({ k: "let" as const, name: `v${i}`, value: f32(v) })),
    };
    const program = new Program("specials", [
      { id: 0, dtype: "f32", shape: [4], bytes: 16, role: "constant", data: payload },
      { id: 1, dtype: "bool", shape: [2], bytes: 8, role: "constant", data: new Uint8Array([1, 0]) },
      { id: 2, dtype: "i32", shape: [1], bytes: 4, role: "output", slot: 0 },
    ], [{ id: 0, bytes: 4, result: true }], [], [2], [{ op: "alloc", slot: 0 }, { op: "launch", kernel, args: [0, 1, 2] }]);
    const back = programFromJson(programToJson(program));
    expect(back).toStrictEqual(program);
    const values = (back.launches[0]!.kernel.body as unknown as { value: { v: number } }[]).map((s) => s.value.v);
    expect(values.slice(0, 4)).toEqual([NaN, Infinity, -Infinity, -0]);
    expect(Object.is(values[3], -0)).toBe(true);
    expect(new Uint32Array((back.buffers[0]!.data as Float32Array).buffer)).toEqual(new Uint32Array(payload.buffer));
    expect(back.buffers[1]!.data).toBeInstanceOf(Uint8Array);
  });

  test("text that is not a stored program is refused with ProgramFormatError", () => {
    const good = programToJson(lowerGraph(runPipeline(traced("W1"), { target: WEBGPU_TARGET }).graph, WEBGPU_TARGET));
    for (const bad of [good.slice(0, good.length / 2), "", "null", "[]", good.replace("smelt-program/1", "smelt-program/0"),
      '{"format":"smelt-program/1","name":"f","buffers":[{"data":{"$array":"constructor","base64":""}}]}'])
      expect(() => programFromJson(bad)).toThrow(ProgramFormatError);
  });
});
