/**
 * The matmul templates on WebGPU against the interpreter: every template the device can
 * run (subgroup, registers, workgroup), shapes on and off every block multiple, batch
 * dims, all contraction layouts, operands whose dims do not merge, and the epilogue hook.
 */
import { describe, expect, test } from "vitest";
import type { Graph } from "../../ir/graph.js";
import type { Stmt } from "../../codegen/kernel.js";
import { SMALL_MATMUL_FLOPS } from "../../codegen/matmul.js";
import { lowerGraph } from "../../codegen/program.js";
import type { Target } from "../../codegen/target.js";
import { evalGraph } from "../../runtime/interp.js";
import { WebGPUExecutable } from "../../runtime/webgpu.js";
import { fill } from "../runtime/webgpu-arbitraries.js";
import { gpu, mismatch } from "../runtime/webgpu-helpers.js";
import { LAYOUTS, SHAPES, dotGraph, matmulGraph, strategyTarget } from "./matmul-cases.js";
import { expectEpilogue } from "./matmul-epilogue-webgpu.js";

/** f32 sums of up to 257 products of values in [-1, 1]. */
const TOL = { rtol: 1e-4, atol: 1e-4 };

async function expectMatmul(g: Graph, target: Target, seed = 1): Promise<void> {
  const be = gpu!;
  const inputs = g.inputs.map((v, i) => fill("f32", v.shape, seed + i, -1, 1));
  const exe = new WebGPUExecutable(be, lowerGraph(g, target));
  const err = await exe.ready;
  if (err) throw err;
  const dev = inputs.map((a) => be.upload(a));
  const [out] = exe.run(dev);
  const got = await be.read(out!);
  for (const b of [...dev, out!]) be.free(b);
  const m = mismatch(got, evalGraph(g, inputs)[0]!, TOL);
  if (m) throw new Error(`${g.nodes[0]!.params && JSON.stringify(g.nodes[0]!.params)} ${g.inputs.map((v) => `[${v.shape}]`).join(" x ")}: ${m}`);
}

function forLoops(ss: readonly Stmt[]): Extract<Stmt, { k: "for" }>[] {
  return ss.flatMap((s) => (s.k === "for" ? [s, ...forLoops(s.body)] : s.k === "if" ? [...forLoops(s.then), ...forLoops(s.else)] : []));
}

const hasBranch = (ss: readonly Stmt[]): boolean => ss.some((s) => s.k === "if" || (s.k === "for" && hasBranch(s.body)));

describe.skipIf(!gpu)("matmul templates on webgpu", () => {
  const device = gpu!.target;
  for (const strategy of ["subgroup", "registers", "workgroup"] as const) {
    const target = strategyTarget(device, strategy);
    describe.skipIf(!target)(`${strategy} template`, () => {
      // The device's own template gets every shape; the others a spread of them.
      const shapes = strategy === (device.cpuAdapter ? (strategyTarget(device, "subgroup") ? "subgroup" : "registers") : "workgroup")
        ? SHAPES : SHAPES.filter((_, i) => i % 4 === 1);
      for (const layout of LAYOUTS) {
        // A·B sees every size in every dimension; the transposed layouts a mix of aligned
        // and unaligned shapes, which is what picks their 4-vector or scalar paths.
        const mine = layout === "A·B" ? shapes : shapes.filter((_, i) => shapes.length < 5 || [1, 4, 7, 9].includes(i));
        test(`${layout} matches the interpreter on ${mine.map((s) => s.join("×")).join(", ")}`, async () => {
          for (const [m, n, k] of mine) await expectMatmul(matmulGraph(layout, m, n, k), target!, m + n + k);
        });
      }

      test("batch dims lead both operands", async () => {
        await expectMatmul(matmulGraph("A·B", 33, 65, 20, [2, 3]), target!);
        await expectMatmul(matmulGraph("A·Bᵀ", 64, 32, 64, [3]), target!);
      });

      if (strategy === "subgroup")
        test("products past SMALL_MATMUL_FLOPS take the 32-row tile (the shapes above take one subgroup of rows), aligned and not", async () => {
          for (const [m, n, k, layout] of [[256, 256, 1024, "A·B"], [257, 260, 1040, "A·B"], [264, 256, 1032, "Aᵀ·B"]] as const) {
            const g = matmulGraph(layout, m, n, k);
            const accumulators = (steps: readonly Stmt[]) => steps.filter((s) => s.k === "var" && /^acc\d+_0$/.test(s.name)).length;
            expect(2 * m * n * k).toBeGreaterThanOrEqual(SMALL_MATMUL_FLOPS);
            expect(accumulators(lowerGraph(g, target!).launches[0]!.kernel.body)).toBe(32);
            expect(accumulators(lowerGraph(matmulGraph(layout, 64, 64, 64), target!).launches[0]!.kernel.body)).toBe(target!.subgroupSize);
            await expectMatmul(g, target!, m + n);
          }
        });

      test("a batch dim between the matrix dims (strided rows) and contraction over two dims", async () => {
        await expectMatmul(dotGraph([40, 3, 16], [3, 16, 36], { lhs_contract: [2], rhs_contract: [1], lhs_batch: [1], rhs_batch: [0] }), target!);
        await expectMatmul(dotGraph([24, 4, 8], [4, 8, 20], { lhs_contract: [1, 2], rhs_contract: [0, 1], lhs_batch: [], rhs_batch: [] }), target!);
      });

      test("operand dims that do not merge take the general addressing path", async () => {
        // lhs [k1, m, k2] contracting (k1, k2): k is not affine in memory.
        await expectMatmul(dotGraph([3, 33, 5], [3, 5, 17], { lhs_contract: [0, 2], rhs_contract: [0, 1], lhs_batch: [], rhs_batch: [] }), target!);
      });

      test("matrix-vector and vector-vector products", async () => {
        await expectMatmul(dotGraph([70, 130], [130], { lhs_contract: [1], rhs_contract: [0], lhs_batch: [], rhs_batch: [] }), target!);
        await expectMatmul(dotGraph([130], [130, 70], { lhs_contract: [0], rhs_contract: [0], lhs_batch: [], rhs_batch: [] }), target!);
        await expectMatmul(dotGraph([257], [257], { lhs_contract: [0], rhs_contract: [0], lhs_batch: [], rhs_batch: [] }), target!);
      });

      test("applies the epilogue (bias, GELU, residual, batch index) per element before storing", async () => {
        for (const [m, n, k] of [[64, 64, 32], [33, 70, 19]] as const) {
          const kernel = await expectEpilogue(target!, [2, 3], m, n, k);
          expect(kernel.bindings.map((b) => b.name)).toEqual(["lhs", "rhs", "bias", "residual", "out"]);
        }
      });
    });
  }

  test("the device's template for an aligned f32 matmul has no branch in its k-loop", () => {
    const g = matmulGraph("A·B", 128, 128, 256);
    const [launch] = lowerGraph(g, device).launches;
    const loops = forLoops(launch!.kernel.body);
    expect(loops.length).toBeGreaterThan(0);
    if (device.cpuAdapter) for (const l of loops) expect(hasBranch(l.body)).toBe(false);
    if (strategyTarget(device, "subgroup") && device.cpuAdapter) {
      expect(launch!.kernel.subgroupSize).toBe(device.subgroupSize);
      // A is read one k at a time (its values shared by broadcast); B and C as 4-vectors.
      expect(launch!.kernel.bindings.map((b) => b.width)).toEqual([undefined, 4, 4]);
    }
  });
});

describe.skipIf(!gpu)("the GPU template: 128×128 blocks, 8×8 per invocation, 128-bit tile reads, the next slice prefetched", () => {
  const target: Target = { ...gpu!.target, cpuAdapter: false };
  // m and n fill at least half a block; k and the edges cover every read path: 4-vectors
  // along k or along m / n where sizes are multiples of 4, scalars where they are not.
  const shapes = [[64, 64, 8], [128, 128, 128], [129, 257, 63], [257, 65, 7], [200, 136, 1], [65, 129, 257], [96, 100, 36]] as const;

  test("it is the template of such matmuls: 256 invocations, two 4-vector tiles, 16 multiply-adds per shared read", () => {
    const kernel = lowerGraph(matmulGraph("A·B", 256, 256, 256), target).launches[0]!.kernel;
    expect(kernel.workgroupSize).toEqual([256, 1, 1]);
    expect(kernel.shared.map((s) => [s.name, s.width, s.size])).toEqual([["As", 4, 256], ["Bs", 4, 256]]);
    const main = forLoops(kernel.body)[0]!;
    const sharedReads = main.body.filter((s) => s.k === "load4" && (s.buffer === "As" || s.buffer === "Bs")).length;
    const fmas = JSON.stringify(main.body).split('"fn":"fma"').length - 1;
    expect(sharedReads).toBe(4 * 8);
    expect(fmas / sharedReads).toBe(16);
    // A and B are read from global memory as 4-vectors, both into the prefetch registers.
    expect(kernel.bindings.map((b) => b.width)).toEqual([4, 4, undefined]);
  });

  // (lavapipe runs this template slowly, barriers and all: the transposed layouts get the shapes that switch read paths.)
  for (const layout of LAYOUTS) {
    const mine = layout === "A·B" ? shapes : shapes.filter((_, i) => [2, 3, 6].includes(i));
    test(`${layout} matches the interpreter on ${mine.map((s) => s.join("×")).join(", ")}`, async () => {
      for (const [m, n, k] of mine) await expectMatmul(matmulGraph(layout, m, n, k), target, m + 2 * n + k);
    });
  }

  test("batch dims, and an epilogue per element", async () => {
    await expectMatmul(matmulGraph("A·B", 130, 66, 20, [2, 3]), target);
    await expectMatmul(matmulGraph("Aᵀ·Bᵀ", 64, 128, 12, [3]), target);
    for (const [m, n, k] of [[128, 128, 32], [70, 133, 19]] as const)
      expect((await expectEpilogue(target, [2, 1], m, n, k)).workgroupSize).toEqual([256, 1, 1]);
  });
});
