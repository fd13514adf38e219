/**
 * The routed moe_ffn program against the node's dense body compiled on the same device and
 * against the interpreter, on generated routings; the grouped matmuls through each matmul
 * template (the GPU and plain-register templates run on lavapipe too, slowly); and a
 * routed call that reads nothing back to the host until its result is asked for.
 */
import fc from "fast-check";
import { afterEach, describe, expect, test, vi } from "vitest";
import { lowerGraph } from "../../codegen/program.js";
import type { Target } from "../../codegen/target.js";
import type { HostArray } from "../../ir/dtype.js";
import type { Graph, Node } from "../../ir/graph.js";
import { evalGraph } from "../../runtime/interp.js";
import { WebGPUExecutable } from "../../runtime/webgpu.js";
import { GPUDeviceContext } from "../../runtime/webgpu-device.js";
import { gpu, mismatch } from "../runtime/webgpu-helpers.js";
import { type MoeCase, moeGraph, moeInputs } from "./moe-cases.js";

const TOL = { rtol: 2e-4, atol: 2e-4 };

/** Compiles `g` for `target` (the device's own by default) and runs it once. */
async function runOn(g: Graph, inputs: readonly HostArray[], target: Target = gpu!.target): Promise<HostArray> {
  const be = gpu!;
  const exe = new WebGPUExecutable(be, lowerGraph(g, target));
  const err = await exe.ready;
  if (err) throw err;
  const dev = inputs.map((a) => be.upload(a));
  const [out] = exe.run(dev);
  try {
    return await be.read(out!);
  } finally {
    for (const x of [...dev, out!]) be.free(x);
  }
}

/** The dense decomposition the moe_ffn node names (every expert on every token). */
const denseBody = (g: Graph): Graph => (g.nodes.find((n) => n.prim === "moe_ffn") as Node<"moe_ffn">).params.body;

function expectMatch(what: string, got: HostArray, want: HostArray): void {
  const m = mismatch(got, want, TOL);
  if (m) throw new Error(`${what}: ${m}`);
}

// Routings steered through the router (moe-cases.ts): skewed by a per-expert bias, every
// token on a few experts (the rest empty), tied gate columns, T from 1 (below a tile).
const routingArb = fc.record({
  T: fc.integer({ min: 1, max: 40 }), E: fc.integer({ min: 2, max: 8 }), kFrac: fc.double({ min: 0, max: 1, noNaN: true }),
  skew: fc.constantFrom(0, 0.5, 30), tie: fc.boolean(), seed: fc.integer({ min: 1, max: 1000 }),
}).map(({ T, E, kFrac, skew, tie, seed }) => {
  const k = 1 + Math.min(E - 1, Math.floor(kFrac * E));
  const c: MoeCase = { T, d: 8, E, h: 16, k, b1: true, bias: Array.from({ length: E }, (_, e) => (e % 3 === 0 ? skew : 0)), ...(tie ? { ties: [[0, 1]] as const } : {}) };
  return { c, seed };
});

describe.skipIf(!gpu)("moe_ffn routed against its dense body on WebGPU", () => {
  afterEach(() => void vi.restoreAllMocks());

  test("property: routed == dense == interpreter on skewed, empty, tied and short routings", async () => {
    await fc.assert(fc.asyncProperty(routingArb, async ({ c, seed }) => {
      const g = moeGraph(c);
      const xs = moeInputs(g, c, seed);
      const want = evalGraph(g, xs)[0]!;
      const routed = await runOn(g, xs), dense = await runOn(denseBody(g), xs);
      expectMatch(`${JSON.stringify(c)} seed ${seed}: routed vs interpreter`, routed, want);
      expectMatch(`${JSON.stringify(c)} seed ${seed}: dense vs interpreter`, dense, want);
      expectMatch(`${JSON.stringify(c)} seed ${seed}: routed vs dense`, routed, dense);
    }), { numRuns: 4 });
  }, 900_000);

  for (const [template, change] of [["workgroup-memory (GPU)", { cpuAdapter: false }], ["plain register", { subgroupSize: undefined }]] as const)
    test(`the grouped matmuls through the ${template} template match the interpreter (plain; gated with a capacity and a renormalised router)`, async () => {
      const cases: MoeCase[] = [
        { T: 37, d: 12, E: 5, h: 20, k: 2, b1: true, b2: true, bias: [0, 30, 0, 0, 0] },
        { T: 37, d: 12, E: 5, h: 20, k: 2, b1: true, gated: true, activation: "silu", router: "softmax_topk_norm", capacity: 12, bias: [0, 30, 0, 0, 0] },
      ];
      const target = { ...gpu!.target, ...change };
      for (const c of cases) {
        const g = moeGraph(c);
        const xs = moeInputs(g, c, 3);
        expect(lowerGraph(g, target).launches.map((l) => l.kernel.workgroupSize)).not.toEqual(lowerGraph(g, gpu!.target).launches.map((l) => l.kernel.workgroupSize));
        expectMatch(`${template} template ${JSON.stringify(c)}`, await runOn(g, xs, target), evalGraph(g, xs)[0]!);
      }
    }, 600_000);

  test("wide experts go through the GPU template's grouped blocks (a group's rows × 128, 4-vector tiles) and match the interpreter", async () => {
    const target = { ...gpu!.target, cpuAdapter: false };
    // d 68: x's rows and the weights read as 4-vectors; d 66: gathered rows and scattered results read and written element by element.
    for (const c of [
      { T: 70, d: 68, E: 4, h: 132, k: 2, b1: true, b2: true, bias: [0, 30, 0, 0] },
      { T: 45, d: 66, E: 3, h: 72, k: 2 },
    ] satisfies MoeCase[]) {
      const g = moeGraph(c);
      const xs = moeInputs(g, c, 5);
      const experts = lowerGraph(g, target).launches.map((l) => l.kernel).filter((k) => /expert/.test(k.name));
      expect(experts).toHaveLength(2);
      for (const k of experts) expect(k.shared.map((s) => s.width)).toEqual([4, 4]);
      expectMatch(`GPU grouped template ${JSON.stringify(c)}`, await runOn(g, xs, target), evalGraph(g, xs)[0]!);
    }
  }, 600_000);

  test("a routed call reads nothing back to the host: the only read is the caller's", async () => {
    const be = gpu!;
    const c: MoeCase = { T: 20, d: 8, E: 4, h: 16, k: 2 };
    const g = moeGraph(c);
    const exe = new WebGPUExecutable(be, lowerGraph(g, be.target));
    const err = await exe.ready;
    if (err) throw err;
    expect(exe.kernels.map((k) => k.name)).toContain("moe_ffn_0_expert1");
    const dev = moeInputs(g, c, 2).map((a) => be.upload(a));
    const reads = vi.spyOn(GPUDeviceContext.prototype, "read");
    const [out] = exe.run(dev);
    await be.synchronize();
    expect(reads).not.toHaveBeenCalled();
    await be.read(out!);
    expect(reads).toHaveBeenCalledTimes(1);
    for (const x of [...dev, out!]) be.free(x);
  });
});
