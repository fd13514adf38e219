/**
 * The CPU-adapter templates stay bounded in what they ask of the driver's compiler: on
 * lavapipe, LLVM's time at the first dispatch grew with every store pasted beside the live
 * accumulators (a matmul's 32 rows of C, flash attention's rows of out and lse). These
 * templates now keep the accumulators in registers through the main loop, stage them in a
 * private array and store C from one rolled loop. The matmul's main loop takes one k per
 * step; flash's q·kᵀ takes 4 head dims from one 4-vector of k per key. Checked on the
 * kernel IR, so no device is needed.
 */
import { describe, expect, it } from "vitest";
import { type Kernel, type Stmt } from "../../codegen/kernel.js";
import { matmulKernel } from "../../codegen/matmul.js";
import { lowerGraph } from "../../codegen/program.js";
import { CUDA_SM80_TARGET } from "../../codegen/target.js";
import { flashGraph } from "./attention-cases.js";
import { BIAS_GELU_RESIDUAL, LAYOUTS, epilogueSpec, matmulGraph, strategyTarget } from "./matmul-cases.js";

const target = strategyTarget({ ...CUDA_SM80_TARGET, subgroupSize: 8 }, "subgroup")!;

interface StoreSite { readonly name: string; readonly rolled: boolean }

/** Every store to a binding, and whether a rolled loop encloses it. */
function storeSites(ss: readonly Stmt[], rolled = false): StoreSite[] {
  return ss.flatMap((s): StoreSite[] => {
    if (s.k === "store" && s.space === "global") return [{ name: s.name, rolled }];
    if (s.k === "store4") return [{ name: s.buffer, rolled }];
    if (s.k === "for") return storeSites(s.body, rolled || s.rolled === true);
    if (s.k === "if") return [...storeSites(s.then, rolled), ...storeSites(s.else, rolled)];
    return [];
  });
}

/** The loops that are not rolled, outermost first. */
function plainLoops(ss: readonly Stmt[]): Extract<Stmt, { k: "for" }>[] {
  return ss.flatMap((s) => (s.k === "for" ? [...(s.rolled ? [] : [s]), ...plainLoops(s.body)] : s.k === "if" ? [...plainLoops(s.then), ...plainLoops(s.else)] : []));
}

const assigns = (ss: readonly Stmt[]) => ss.filter((s) => s.k === "assign").length;

function expectStoredOnceRolled(kernel: Kernel, outputs: readonly string[]) {
  const sites = storeSites(kernel.body).filter((s) => outputs.includes(s.name));
  expect(sites.length, `${kernel.name}: stores to ${outputs}`).toBeGreaterThan(0);
  expect(sites.every((s) => s.rolled), `${kernel.name}: every store to ${outputs} inside a rolled loop`).toBe(true);
  // One copy per output and vector chunk at most, not one per row of the tile.
  expect(sites.length).toBeLessThanOrEqual(8 * outputs.length);
}

describe("CPU-adapter templates: what LLVM compiles is bounded", () => {
  it("the subgroup matmul stores C from one rolled loop and multiplies one k per step, for every layout and an epilogue", () => {
    const kernels = [
      ...LAYOUTS.map((layout) => lowerGraph(matmulGraph(layout, 256, 768, 3072), target).launches[0]!.kernel),
      matmulKernel(epilogueSpec([2, 3], 64, 96, 40, BIAS_GELU_RESIDUAL), target),
      matmulKernel(epilogueSpec([1, 1], 33, 70, 19, BIAS_GELU_RESIDUAL), target),
    ];
    for (const kernel of kernels) {
      expect(kernel.subgroupSize).toBe(8);
      const out = kernel.bindings.find((b) => b.access === "read_write")!.name;
      expectStoredOnceRolled(kernel, [out]);
      const [kLoop] = plainLoops(kernel.body);
      // 32 rows (or fewer for a short C) × 4 columns: one multiply-add per accumulator per step.
      expect([32 * 4, 16 * 4, 8 * 4]).toContain(assigns(kLoop!.body));
    }
  });

  it("the subgroup flash-attention forward stores out and lse from one rolled loop; q·kᵀ takes 4 head dims per step, q read once", () => {
    for (const c of [
      { g: 8, rep: 1, sq: 1024, sk: 1024, d: 64, dv: 64, causal: true },
      { g: 4, rep: 4, sq: 37, sk: 20, d: 80, dv: 80, causal: false, bias: [4, 37, 20], mask: [1, 1, 20] },
    ]) {
      const kernel = lowerGraph(flashGraph(c), target).launches[0]!.kernel;
      expect(kernel.subgroupSize).toBe(8);
      expectStoredOnceRolled(kernel, ["out", "lse"]);
      // The key-block loop, then q·kᵀ's loop over the head dim inside it: 4 dims per step
      // (one 4-vector of k per key), a multiply-add per row and key for each.
      const [kbLoop, dLoop] = plainLoops(kernel.body);
      expect(dLoop!.end).toEqual({ k: "const", t: "u32", v: c.d / 4 });
      expect(dLoop!.body.filter((s) => s.k === "load4").map((s) => s.k === "load4" && s.buffer)).toEqual(["k", "k", "k", "k"]);
      const rows = assigns(dLoop!.body) / (4 * 4 * 4);
      expect([32, 16, 8, 4]).toContain(rows);
      // q is read from its binding once, before the key loop, not in it.
      expect(JSON.stringify(kbLoop!.body)).not.toContain('"q"');
      expect(JSON.stringify(kbLoop!.body)).toContain('"q_tile');
    }
  });
});
