/**
 * Layout ops are views: transposes, slices, reshapes, broadcasts, pads and concatenations
 * fold into the loads of the kernels that read them (index expressions in elementwise and
 * row kernels, strided or per-element operand reads in the matmul templates, row layouts
 * in the flash-attention templates) and into the stores of the matmul and attention
 * kernels that produce them. Checked on WebGPU against the interpreter, fused and
 * unfused, under both template families, and by counting what the compiled workloads run.
 */
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { TINY_SIZES, WORKLOAD_IDS, type WorkloadId, workload } from "../../bench/workloads.js";
import { lowerGraph } from "../../codegen/program.js";
import type { Target } from "../../codegen/target.js";
import type { Tensor } from "../../frontend/core.js";
import { fromHost } from "../../frontend/creation.js";
import { ShapeDtype, jit } from "../../frontend/jit.js";
import * as nn from "../../frontend/nn.js";
import * as np from "../../frontend/np.js";
import type { HostArray } from "../../ir/dtype.js";
import type { Graph } from "../../ir/graph.js";
import { runPipeline } from "../../passes/pipeline.js";
import { evalGraph } from "../../runtime/interp.js";
import { seedArb } from "../runtime/webgpu-arbitraries.js";
import { gpu, mismatch, runProgram } from "../runtime/webgpu-helpers.js";
import { contractViolations, fusions } from "../passes/graphs.js";
import { planArb, planFn, planInputs } from "./layout-programs.js";
import { strategyTarget } from "./matmul-cases.js";

const TOL = { rtol: 2e-4, atol: 2e-4 };
type Fn = (...xs: Tensor[]) => Tensor;

const LAYOUT = new Set(["transpose", "slice", "pad", "concatenate", "broadcast_in_dim", "reshape", "iota", "constant", "cast"]);

/**
 * Kernels of the compiled graph that only move or make data (a reshape alone is free),
 * except those storing a function result (through reshapes at most): what no other kernel
 * could have read through a view. Each is described by its ops.
 */
function dataOnlyKernels(g: Graph): string[] {
  const results = new Set(g.outputs);
  for (const n of [...g.nodes].reverse()) if (n.prim === "reshape" && results.has(n.outputs[0]!)) results.add(n.inputs[0]!);
  return g.nodes.filter((n) => {
    if (n.outputs.some((v) => results.has(v))) return false;
    if (n.prim === "fusion") return (n.params as { body: Graph }).body.nodes.every((m) => LAYOUT.has(m.prim));
    return LAYOUT.has(n.prim) && n.prim !== "reshape" && n.prim !== "constant";
  }).map((n) => (n.prim === "fusion" ? `@${(n.params as { body: Graph }).body.name}: ${(n.params as { body: Graph }).body.nodes.map((m) => m.prim).join(" ")}` : n.prim));
}

const run = (g: Graph, target: Target, xs: readonly HostArray[]) => runProgram(lowerGraph(g, target), xs);

/** Smooth, seeded inputs of the given shapes. */
const sines = (shapes: readonly number[][], step: number, scale = 1): HostArray[] => shapes.map((shape, s) => ({
  dtype: "f32", shape, data: Float32Array.from({ length: shape.reduce((x, y) => x * y, 1) }, (_, i) => Math.sin(i * step + s) * scale),
}));

/** Every fusion node keeps the contract codegen relies on (passes/fuse.ts), stated independently in tests/passes/graphs.ts. */
function expectContract(g: Graph, target: Target): void {
  for (const n of fusions(g)) expect(contractViolations(n, target.limits.maxStorageBuffersPerShaderStage), `@${n.params.body.name}`).toEqual([]);
}

function expectSame(got: readonly HostArray[], want: readonly HostArray[], what: string): void {
  got.forEach((x, i) => {
    const m = mismatch(x, want[i]!, TOL);
    if (m) throw new Error(`${what}, result ${i}: ${m}`);
  });
}

const traced = (f: Fn, xs: readonly HostArray[]) => jit(f).lower(...xs.map((a) => new ShapeDtype(a.shape, a.dtype))).graph;

/** Both template families on the test adapter, and a GPU-like target (flash attention at any size). */
const targets = (): [string, Target][] =>
  gpu
    ? ([["subgroup", strategyTarget(gpu.target, "subgroup")], ["registers", strategyTarget(gpu.target, "registers")], ["workgroup", strategyTarget(gpu.target, "workgroup")]] as const)
      .flatMap(([n, t]) => (t ? [[n, t] as [string, Target]] : []))
    : [];

describe.skipIf(!gpu)("layout ops are views, on WebGPU", () => {
  test("property: chains of transposes, strided slices, reshapes, broadcasts, pads and concatenations mixed with elementwise math, row reductions and matmuls equal the interpreter, fused and unfused, with no kernel that only moves data unless it stores a result", async () => {
    await fc.assert(
      fc.asyncProperty(planArb, seedArb, fc.nat(2), async (plan, seed, which) => {
        const xs = planInputs(plan, seed);
        const g = traced(planFn(plan), xs);
        const want = evalGraph(g, xs);
        const [name, target] = targets()[which % targets().length]!;
        const fused = runPipeline(g, { target }).graph;
        const unfused = runPipeline(g, { target, fuse: false }).graph;
        expectContract(fused, target);
        expectSame(await run(fused, target, xs), want, `${name}, fused`);
        expectSame(await run(unfused, target, xs), want, `${name}, unfused`);
        expect(dataOnlyKernels(fused)).toEqual([]);
      }),
      { numRuns: 30 },
    );
  }, 600_000);

  test("a value shaped like the rows but read through a pad and a concatenation is read at its own index in a row kernel, not at the row's", async () => {
    // Found by the property above: the pad's f32[2] has the shape of the reduction's 2 rows,
    // and the row kernel read it once per row (element 0 of every row) instead of per element.
    const f = (x: Tensor) => {
      const padded = np.pad(x, [[1, 0]], { value: -1 });
      const rows = np.reshape(np.concatenate([padded, np.tanh(padded)], 0), [2, 2]);
      return np.subtract(rows, np.max(rows, 1, true));
    };
    for (const value of [-0.934, 0.5, -3]) {
      const xs: HostArray[] = [{ dtype: "f32", shape: [1], data: Float32Array.of(value) }];
      const g = traced(f, xs);
      const want = evalGraph(g, xs);
      for (const [name, target] of targets()) {
        const fused = runPipeline(g, { target }).graph;
        const rowKernels = fusions(fused).filter((n) => n.params.kind === "reduction");
        expect(rowKernels.some((n) => n.params.body.nodes.some((m) => m.prim === "pad"))).toBe(true);
        expectSame(await run(fused, target, xs), want, `${name}, x = ${value}`);
      }
    }
  });

  test("an input a kernel reads as 4-vectors, also read through a transpose of a value computed from it, is read at the transposed element there", async () => {
    // Found by the property above: the group's vector load of b stood in for b at the
    // transposed position too, so tanh(transpose(a + b)) read b[i, j] for b[j, i].
    const f = (a: Tensor, b: Tensor) => {
      const s = np.add(a, b);
      return np.concatenate([s, np.tanh(np.transpose(s))], 0);
    };
    for (const n of [2, 4, 8]) {
      const xs = sines([[n], [n, n]], 0.7);
      const g = traced(f, xs);
      const want = evalGraph(g, xs);
      for (const [name, target] of targets()) expectSame(await run(runPipeline(g, { target }).graph, target, xs), want, `${name}, n = ${n}`);
    }
  });

  test("a head split of a fused QKV projection and the heads merged back: flash attention reads q, k, v and stores its output through the views, one kernel, under every template family", async () => {
    const [L, H, Dh] = [40, 2, 32];
    const f = (qkv: Tensor, wo: Tensor) => {
      const heads = (i: number) => np.transpose(np.reshape(np.slice(qkv, [null, [i * H * Dh, (i + 1) * H * Dh]]), [L, H, Dh]), [1, 0, 2]);
      return np.matmul(np.reshape(np.transpose(nn.attention(heads(0), heads(1), heads(2), { causal: true }), [1, 0, 2]), [L, H * Dh]), wo);
    };
    const xs: HostArray[] = [
      { dtype: "f32", shape: [L, 3 * H * Dh], data: Float32Array.from({ length: L * 3 * H * Dh }, (_, i) => Math.sin(i * 0.37)) },
      { dtype: "f32", shape: [H * Dh, 8], data: Float32Array.from({ length: H * Dh * 8 }, (_, i) => Math.cos(i * 0.11) / 8) },
    ];
    const g = traced(f, xs);
    const want = evalGraph(g, xs);
    for (const [name, target] of targets()) {
      // Flash attention at this size needs a target that is no CPU adapter for the pass; the kernels are the family's.
      const fused = runPipeline(g, { target: { ...target, cpuAdapter: false } }).graph;
      const attention = fused.nodes.filter((n) => n.prim === "fusion" && (n.params as { kind: string }).kind === "attention");
      expect(attention, name).toHaveLength(1);
      expect(dataOnlyKernels(fused), name).toEqual([]);
      expectContract(fused, target);
      expectSame(await run(fused, target, xs), want, name);
    }
  }, 300_000);

  test("a head split at a column offset that is not a multiple of 4: the GPU family's tiled flash attention reads q, k and v element by element (and stores its aligned output 16 bytes at a time)", async () => {
    const [L, H, Dh] = [37, 2, 32];
    const f = (qkv: Tensor) => {
      const heads = (i: number) => np.transpose(np.reshape(np.slice(qkv, [null, [2 + i * H * Dh, 2 + (i + 1) * H * Dh]]), [L, H, Dh]), [1, 0, 2]);
      return np.reshape(np.transpose(nn.attention(heads(0), heads(1), heads(2), { causal: true }), [1, 0, 2]), [L, H * Dh]);
    };
    const xs: HostArray[] = [{ dtype: "f32", shape: [L, 2 + 3 * H * Dh], data: Float32Array.from({ length: L * (2 + 3 * H * Dh) }, (_, i) => Math.sin(i * 0.37)) }];
    const g = traced(f, xs);
    const target = strategyTarget(gpu!.target, "workgroup")!;
    const fused = runPipeline(g, { target }).graph;
    const program = lowerGraph(fused, target);
    const flash = program.launches.filter((l) => l.kernel.shared.some((a) => a.name === "Ps"));
    expect(flash).toHaveLength(1);
    expect(flash[0]!.kernel.bindings.filter((b) => b.width === 4).map((b) => b.name)).toEqual(["out"]);
    expectSame(await runProgram(program, xs), evalGraph(g, xs), "workgroup");
  }, 300_000);

  test("a matmul whose result is transposed and merged stores through the transpose: one kernel, under every template family", async () => {
    const f = (a: Tensor, b: Tensor, w: Tensor) =>
      np.matmul(np.reshape(np.transpose(np.matmul(a, b), [1, 0, 2]), [6, 3 * 8]), w);
    const xs = sines([[3, 6, 5], [3, 5, 8], [24, 4]], 0.7);
    const g = traced(f, xs);
    const want = evalGraph(g, xs);
    for (const [name, target] of targets()) {
      const fused = runPipeline(g, { target }).graph;
      expect(fused.nodes.filter((n) => n.prim !== "reshape"), name).toHaveLength(2);
      expect(dataOnlyKernels(fused), name).toEqual([]);
      expectContract(fused, target);
      expectSame(await run(fused, target, xs), want, name);
    }
  }, 300_000);

  test("attention over a KV cache with the new keys and values appended: one flash attention per part merged by log-sum-exp, no copy, under every template family", async () => {
    const [H, P, T, Dh] = [2, 600, 3, 16];
    const f = (q: Tensor, pastK: Tensor, pastV: Tensor, k: Tensor, v: Tensor) =>
      nn.attention(q, np.concatenate([pastK, k], 1), np.concatenate([pastV, v], 1));
    const xs = sines([[H, T, Dh], [H, P, Dh], [H, P, Dh], [H, T, Dh], [H, T, Dh]], 0.31);
    const g = traced(f, xs);
    const want = evalGraph(g, xs);
    for (const [name, target] of targets()) {
      const fused = runPipeline(g, { target: { ...target, cpuAdapter: false } }).graph;
      const flash = fused.nodes.filter((n) => n.prim === "flash_attention" || (n.prim === "fusion" && (n.params as { kind: string }).kind === "attention"));
      expect(flash, name).toHaveLength(2);
      expect(dataOnlyKernels(fused), name).toEqual([]);
      expectContract(fused, target);
      expectSame(await run(fused, target, xs), want, name);
    }
  }, 300_000);

  test("a mixture of experts over transposed expert weights and a sliced activation reads them in place (a fusion of kind moe), under every template family", async () => {
    const [T, D, E, Hd] = [12, 8, 4, 16];
    const f = (xs: Tensor, gate: Tensor, w1t: Tensor, w2t: Tensor) =>
      nn.moe(np.slice(xs, [null, [2, 2 + D]]), gate, { w1: np.transpose(w1t, [0, 2, 1]), w2: np.transpose(w2t, [0, 2, 1]) }, 2, { activation: nn.relu });
    const xs = sines([[T, D + 5], [D, E], [E, Hd, D], [E, D, Hd]], 0.53, 0.5);
    const g = traced(f, xs);
    const want = evalGraph(g, xs);
    for (const [name, target] of targets()) {
      const fused = runPipeline(g, { target }).graph;
      expect(fused.nodes.filter((n) => n.prim === "fusion" && (n.params as { kind: string }).kind === "moe"), name).toHaveLength(1);
      expect(dataOnlyKernels(fused), name).toEqual([]);
      expectContract(fused, target);
      expectSame(await run(fused, target, xs), want, name);
    }
  }, 300_000);

  test("a causal mask built from iota is recomputed inside the softmax kernel, never stored", () => {
    const f = (s: Tensor) => {
      const keep = np.greaterEqual(np.reshape(np.arange(16), [16, 1]), np.reshape(np.arange(16), [1, 16]));
      return nn.softmax(np.where(keep, s, -1e30), -1);
    };
    const g = jit(f).lower(new ShapeDtype([4, 16, 16])).optimized;
    expect(g.nodes.map((n) => n.prim)).toEqual(["fusion"]);
  });

  test("the compiled workloads W1–W9 run no kernel that only moves data", () => {
    for (const id of WORKLOAD_IDS) {
      const w = workload(id as WorkloadId, TINY_SIZES[id as WorkloadId]);
      const g = jit(w.fnFor?.("fused") ?? w.fn).lower(...w.inputs().map((i) => new ShapeDtype(i.shape))).optimized;
      expect(dataOnlyKernels(g), id).toEqual([]);
    }
  }, 300_000);

  test("W8 compiles to at most 9 kernels with attention materialised (a CPU adapter) and 7 with flash attention", () => {
    const w = workload("W8", TINY_SIZES.W8);
    const g = jit(w.fn).lower(...w.inputs().map((i) => new ShapeDtype(i.shape))).graph;
    const kernels = (t: Target) => lowerGraph(runPipeline(g, { target: t }).graph, t).launches.length;
    expect(kernels({ ...gpu!.target, cpuAdapter: true })).toBeLessThanOrEqual(9);
    expect(kernels({ ...gpu!.target, cpuAdapter: false })).toBe(7);
  });
});
