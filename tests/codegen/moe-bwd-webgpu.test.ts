/**
 * The routed backward of moe_ffn (moe_ffn_bwd, codegen/moe-bwd.ts) on WebGPU against the
 * interpreter, which evaluates the node's body: the dense form's gradient, from the generic
 * jvp and transpose. Generated routings (empty experts, every token on a few experts, ties,
 * T below one tile and off it), every router, gated experts, biases and a capacity; the same
 * bits run after run; and no read back to the host inside the call.
 */
import fc from "fast-check";
import { describe, expect, test, vi } from "vitest";
import { lowerGraph } from "../../codegen/program.js";
import type { Target } from "../../codegen/target.js";
import type { HostArray } from "../../ir/dtype.js";
import { evalGraph } from "../../runtime/interp.js";
import { GPUDeviceContext } from "../../runtime/webgpu-device.js";
import { WebGPUExecutable } from "../../runtime/webgpu.js";
import { gpu, mismatch } from "../runtime/webgpu-helpers.js";
import { type MoeCase, moeBwdGraph, moeInputs } from "./moe-cases.js";

const TOL = { rtol: 5e-4, atol: 5e-4 };

async function routedGrads(c: MoeCase, seed: number, runs = 1, target: Target = gpu!.target): Promise<{ got: HostArray[][]; inputs: HostArray[]; kernels: string[] }> {
  const be = gpu!;
  const g = moeBwdGraph(c);
  const inputs = moeInputs(g, c, seed);
  const exe = new WebGPUExecutable(be, lowerGraph(g, target));
  const err = await exe.ready;
  if (err) throw err;
  const dev = inputs.map((a) => be.upload(a));
  const got: HostArray[][] = [];
  for (let r = 0; r < runs; r++) {
    const outs = exe.run(dev);
    got.push(await Promise.all(outs.map((o) => be.read(o))));
    for (const o of outs) be.free(o);
  }
  for (const x of dev) be.free(x);
  return { got, inputs, kernels: exe.kernels.map((k) => k.name) };
}

const NAMES = (c: MoeCase) => ["x", "gate", "w1", ...(c.b1 ? ["b1"] : []), ...(c.gated ? ["w3"] : []), "w2", ...(c.b2 ? ["b2"] : [])];

async function expectRoutedGrads(c: MoeCase, seed = 1, target?: Target): Promise<string[]> {
  const { got: [got], inputs, kernels } = await routedGrads(c, seed, 1, target);
  const want = evalGraph(moeBwdGraph(c), inputs);
  expect(got).toHaveLength(want.length);
  want.forEach((w, i) => {
    const m = mismatch(got![i]!, w, TOL);
    if (m) throw new Error(`${JSON.stringify(c)} seed ${seed}, d ${NAMES(c)[i]}: ${m}`);
  });
  return kernels;
}

const caseArb = fc.record({
  T: fc.integer({ min: 1, max: 50 }), d: fc.constantFrom(4, 8, 12), E: fc.integer({ min: 1, max: 7 }), h: fc.constantFrom(5, 16, 36),
  kFrac: fc.double({ min: 0, max: 1, noNaN: true }), b1: fc.boolean(), b2: fc.boolean(), activation: fc.constantFrom("relu" as const, "silu" as const),
  router: fc.constantFrom("topk_softmax" as const, "softmax_topk" as const, "softmax_topk_norm" as const), gated: fc.boolean(),
  capFrac: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
  skew: fc.constantFrom(0, 0.5, 30), tie: fc.boolean(), seed: fc.integer({ min: 1, max: 1000 }),
}).map(({ kFrac, capFrac, skew, tie, seed, E, T, ...rest }) => {
  const k = 1 + Math.floor(kFrac * (E - 0.001));
  const c: MoeCase = {
    ...rest, E, T, k,
    ...(capFrac === undefined ? {} : { capacity: 1 + Math.floor(capFrac * T) }),
    ...(skew ? { bias: Array.from({ length: E }, (_, e) => (e < Math.max(1, k) ? skew : 0)) } : {}),
    ...(tie && E > 1 ? { ties: [[0, E - 1] as const] } : {}),
  };
  return { c, seed };
});

describe.skipIf(!gpu)("moe_ffn_bwd: routed gradients on WebGPU == the interpreter", () => {
  test("W7's shape shrunk, biases: every gradient, from the routed kernels", async () => {
    const kernels = await expectRoutedGrads({ T: 40, d: 32, E: 8, h: 64, k: 2, b1: true, b2: true });
    const stages = kernels.filter((n) => n.startsWith("moe_ffn_bwd")).map((n) => n.replace(/^moe_ffn_bwd_\d+_/, ""));
    expect(stages).toEqual(["logits", "route", "align", "pre", "g", "act", "dw2", "dw1", "db2", "db1", "dx_slots", "router", "dgate", "dx"]);
  }, 600_000);
  test("gated (SwiGLU) silu experts, softmax-then-top-k renormalised, a capacity that drops choices", () =>
    expectRoutedGrads({ T: 23, d: 8, E: 5, h: 16, k: 2, gated: true, activation: "silu", router: "softmax_topk_norm", capacity: 5, bias: [2, 2, 0, 0, 0] }), 600_000);
  test("softmax-then-top-k as it is; one token; an expert every token picks and experts none picks", async () => {
    await expectRoutedGrads({ T: 17, d: 4, E: 6, h: 5, k: 3, router: "softmax_topk", bias: [30, 30, 0, 0, 0, 0], ties: [[2, 3]] });
    await expectRoutedGrads({ T: 1, d: 8, E: 3, h: 16, k: 1 });
  }, 600_000);
  for (const [template, change] of [["workgroup-memory (GPU)", { cpuAdapter: false }], ["plain register", { subgroupSize: undefined }]] as const)
    test(`the grouped matmuls and k-ranged weight gradients through the ${template} template`, async () => {
      const target = { ...gpu!.target, ...change };
      const c: MoeCase = { T: 37, d: 12, E: 5, h: 20, k: 2, b1: true, b2: true, gated: true, activation: "silu", router: "softmax_topk_norm", capacity: 12, bias: [0, 30, 0, 0, 0] };
      const g = moeBwdGraph(c);
      expect(lowerGraph(g, target).launches.map((l) => l.kernel.workgroupSize)).not.toEqual(lowerGraph(g, gpu!.target).launches.map((l) => l.kernel.workgroupSize));
      await expectRoutedGrads(c, 3, target);
    }, 600_000);
  test("property: generated shapes, loads, ties and flags", async () => {
    await fc.assert(fc.asyncProperty(caseArb, async ({ c, seed }) => void (await expectRoutedGrads(c, seed))), { numRuns: 6 });
  }, 1_500_000);
  test("bit-identical across 20 runs", async () => {
    const { got } = await routedGrads({ T: 45, d: 16, E: 6, h: 32, k: 2, b1: true, b2: true, gated: true, bias: [3, 0, 0, 1, 0, 0], capacity: 12 }, 5, 20);
    for (const r of got.slice(1))
      r.forEach((a, i) => expect(Buffer.from(a.data.buffer).equals(Buffer.from(got[0]![i]!.data.buffer))).toBe(true));
  }, 600_000);
  test("a routed backward reads nothing back to the host: the only reads are the caller's", async () => {
    const be = gpu!;
    const c: MoeCase = { T: 20, d: 8, E: 4, h: 16, k: 2 };
    const g = moeBwdGraph(c);
    const exe = new WebGPUExecutable(be, lowerGraph(g, be.target));
    const err = await exe.ready;
    if (err) throw err;
    const dev = moeInputs(g, c, 2).map((a) => be.upload(a));
    const reads = vi.spyOn(GPUDeviceContext.prototype, "read");
    const outs = exe.run(dev);
    await be.synchronize();
    expect(reads).not.toHaveBeenCalled();
    await be.read(outs[2]!);
    expect(reads).toHaveBeenCalledTimes(1);
    for (const x of [...dev, ...outs]) be.free(x);
  }, 600_000);
});
