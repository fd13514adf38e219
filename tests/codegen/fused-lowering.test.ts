/**
 * The shape of fused kernels, without a device: which layout each kind gets on a GPU and
 * on a CPU adapter, that a row is read from memory once, that row invariants are computed
 * once per row, and golden WGSL for softmax (GPU layout) and layer norm (CPU layout).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { type Kernel, kernelText } from "../../codegen/kernel.js";
import { lowerGraph } from "../../codegen/program.js";
import { type Target, WEBGPU_TARGET } from "../../codegen/target.js";
import { renderWGSL } from "../../codegen/render/wgsl.js";
import type { Tensor } from "../../frontend/core.js";
import { initBackend } from "../../frontend/init.js";
import { ShapeDtype, jit } from "../../frontend/jit.js";
import * as nn from "../../frontend/nn.js";
import * as np from "../../frontend/np.js";

const GPU: Target = WEBGPU_TARGET;
const CPU: Target = { ...WEBGPU_TARGET, cpuAdapter: true };

/** The kernels `f` compiles to for `target`, fused. */
function kernels(f: (...xs: Tensor[]) => Tensor | Tensor[], shapes: number[][], target: Target): Kernel[] {
  const g = jit(f, { backend: "interp" }).lower(...shapes.map((s) => new ShapeDtype(s))).optimized;
  return lowerGraph(g, target).launches.map((l) => l.kernel);
}
const one = (...a: Parameters<typeof kernels>): Kernel => {
  const ks = kernels(...a);
  expect(ks).toHaveLength(1);
  return ks[0]!;
};
/** Kernel IR text without the body's comment lines. */
const code = (k: Kernel) => kernelText(k).split("\n").filter((l) => !l.trim().startsWith("//")).join("\n");
const count = (text: string, re: RegExp) => text.match(new RegExp(re, "g"))?.length ?? 0;

const softmax = (x: Tensor) => nn.softmax(x, -1);
const layerNorm = (x: Tensor, g: Tensor, b: Tensor) => nn.layerNorm(x, g, b);

describe("fused kernel layouts", () => {
  beforeAll(async () => {
    await initBackend("interp");
  });

  it("names each kernel fusion_<kind>_<node> and opens it with the body's IR", () => {
    const k = one(softmax, [[8, 16]], GPU);
    expect(k.name).toBe("fusion_reduction_0");
    expect(k.source).toMatch(/fusion %x \{body=@reduction_0, kind="reduction".*\}.*; ops: reduce_max .* reduce_sum /);
    expect(kernelText(k)).toContain("//   %0 = reduce_max %x {axes=[1]} : f32[8]");
  });

  it("on a GPU, softmax over 1024-wide rows: 256 invocations per row, each loading its 4 elements once, as a 4-vector", () => {
    const k = one(softmax, [[4096, 1024]], GPU);
    expect(k.workgroupSize).toEqual([256, 1, 1]);
    expect(k.grid).toEqual([4096, 1, 1]);
    expect(k.shared.map((s) => s.name)).toEqual(["partial0", "partial1"]);
    expect(k.bindings.map((b) => b.width)).toEqual([4, 4]);
    expect(count(code(k), /\bin0\[/)).toBe(1);
    // exp(x - max) is computed for the sum and reused by the division.
    expect(count(code(k), /= exp\(/)).toBe(4);
  });

  it("short rows share a workgroup, one team per row", () => {
    expect(one(softmax, [[1000, 40]], GPU).workgroupSize).toEqual([16, 16, 1]);
  });

  it("a column reduction gets one invocation per column, reading neighbouring addresses", () => {
    const k = one((x: Tensor) => np.sum(np.exp(x), 0), [[300, 70]], GPU);
    expect(k.workgroupSize).toEqual([64, 1, 1]);
    expect(k.shared).toEqual([]);
  });

  it("layer norm computes rsqrt(var + eps) once per row, outside the passes over the row", () => {
    for (const target of [GPU, CPU]) {
      const text = code(one(layerNorm, [[64, 4096], [4096], [4096]], target));
      expect(count(text, /rsqrt\(/)).toBe(1);
      // At the kernel's top level (kernelText indents a loop's body further).
      expect(text.split("\n").find((l) => l.includes("rsqrt("))).toMatch(/^ {2}let /);
    }
  });

  it("on a CPU adapter, one invocation walks a row without barriers and keeps no per-invocation arrays: later passes re-read the row", () => {
    // Issue 13: two private arrays of 1,024 floats made LLVM (lavapipe) take seconds to compile this kernel.
    const k = one(softmax, [[4096, 1024]], CPU);
    const text = code(k);
    expect(k.workgroupSize).toEqual([64, 1, 1]);
    expect(text).not.toMatch(/barrier/);
    expect(text).not.toMatch(/var \w+: f32\[\d+\]/);
    // max, sum of exp(x - max), then the stores: one read of x per pass.
    expect(count(text, /\bin0\[/)).toBe(3);
  });

  it("an elementwise chain over 4M elements does four 4-vectors per invocation", () => {
    const k = one((x: Tensor) => np.exp(np.tanh(np.multiply(x, 2))), [[4 * 2 ** 20]], GPU);
    expect(k.grid).toEqual([1024, 1, 1]);
    expect(k.bindings.map((b) => b.width)).toEqual([4, 4]);
    expect(count(code(k), /\bout0\[/)).toBe(4);
  });

  it("4-vectors: a bias along the innermost axis is one too; a domain not a multiple of 4, or a bias along another axis, stays scalar", () => {
    const widths = (f: (...xs: Tensor[]) => Tensor, shapes: number[][]) => one(f, shapes, GPU).bindings.map((b) => b.width ?? 1);
    expect(widths((x: Tensor, b: Tensor) => np.exp(np.add(x, b)), [[64, 32], [32]])).toEqual([4, 4, 4]);
    expect(widths((x: Tensor) => np.exp(x), [[1001]])).toEqual([1, 1]);
    expect(widths((x: Tensor, b: Tensor) => np.exp(np.add(x, np.reshape(b, [64, 1]))), [[64, 32], [64]])).toEqual([4, 1, 4]);
  });

  it("layer norm reads its gain and bias as 4-vectors too", () => {
    for (const target of [GPU, CPU]) expect(one(layerNorm, [[64, 1024], [1024], [1024]], target).bindings.map((b) => b.width)).toEqual([4, 4, 4, 4]);
  });

  it("a matmul fusion that also returns the product stores it from the epilogue", () => {
    const k = one((a: Tensor, w: Tensor, b: Tensor) => {
      const p = np.matmul(a, w);
      return [nn.relu(np.add(p, b)), p];
    }, [[32, 64], [64, 48], [48]], GPU);
    expect(k.name).toBe("fusion_matmul_0");
    expect(k.bindings.map((b) => b.name)).toEqual(["in0", "in1", "in2", "out0", "out1"]);
    expect(count(code(k), /\bout1\[/)).toBeGreaterThan(0);
  });

  it("softmax (GPU layout) and layer norm (CPU layout) render as in the golden files", async () => {
    await expect(renderWGSL(one(softmax, [[4096, 1024]], GPU))).toMatchFileSnapshot("golden/fusion_softmax_gpu.wgsl");
    await expect(renderWGSL(one(layerNorm, [[4096, 1024], [1024], [1024]], CPU))).toMatchFileSnapshot("golden/fusion_layer_norm_cpu.wgsl");
  });
});
