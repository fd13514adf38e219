/**
 * The matmul epilogue case on WebGPU: a template's kernel for the bias + GELU + residual
 * spec, run on raw buffers and compared with the float64 reference (shared by the matmul
 * suites that run on the test adapter).
 */
import { expect } from "vitest";
import type { HostArray } from "../../ir/dtype.js";
import type { Kernel } from "../../codegen/kernel.js";
import { matmulKernel } from "../../codegen/matmul.js";
import type { Target } from "../../codegen/target.js";
import { renderWGSL } from "../../codegen/render/wgsl.js";
import { evalGraph } from "../../runtime/interp.js";
import { fill } from "../runtime/webgpu-arbitraries.js";
import { gpu } from "../runtime/webgpu-helpers.js";
import { BIAS_GELU_RESIDUAL, epilogueSpec, expectedEpilogue, matmulGraph } from "./matmul-cases.js";

/**
 * The epilogue spec (bias, GELU, residual, batch index) through `target`'s template on
 * [...batch, m, k] · [...batch, k, n], against the float64 reference; returns the kernel
 * (`pick` chooses which kernel of the template's to run: one of its autotune candidates).
 */
export async function expectEpilogue(
  target: Target, batch: readonly [number, number], m: number, n: number, k: number, pick: (k: Kernel) => Kernel = (x) => x,
): Promise<Kernel> {
  const kernel = pick(matmulKernel(epilogueSpec(batch, m, n, k, BIAS_GELU_RESIDUAL), target));
  const [a, b] = [fill("f32", [...batch, m, k], 7, -1, 1), fill("f32", [...batch, k, n], 8, -1, 1)];
  const bias = fill("f32", [n], 9, -1, 1), residual = fill("f32", [...batch, m, n], 10, -1, 1);
  const product = evalGraph(matmulGraph("A·B", m, n, k, batch), [a, b])[0]!;
  const got = await runKernel(renderWGSL(kernel), kernel.grid, [a, b, bias, residual], m * n * batch[0] * batch[1]);
  const want = expectedEpilogue(product, bias, residual, batch, m, n);
  const worst = want.reduce((w, x, i) => Math.max(w, Math.abs(x - got[i]!) / (1 + Math.abs(x))), 0);
  expect(worst).toBeLessThan(1e-4);
  return kernel;
}

/** Runs one kernel on raw buffers (inputs in binding order, then the output) and reads the output. */
async function runKernel(source: string, grid: readonly [number, number, number], inputs: readonly HostArray[], outLength: number): Promise<Float32Array> {
  const ctx = gpu!.ctx;
  const bufs = inputs.map((x) => {
    const b = ctx.acquire(4 * x.data.length);
    ctx.write(b, x.data as Float32Array);
    return b;
  });
  const out = ctx.acquire(4 * outLength);
  const access = [...inputs.map(() => "read" as const), "read_write" as const];
  const err = await ctx.pipeline("matmul_epilogue", source, access).status;
  if (err) throw err;
  const e = await ctx.submit([{ name: "matmul_epilogue", source, access, grid, buffers: [...bufs, out] }], "epilogue test");
  if (e) throw e;
  const got = new Float32Array(await ctx.read(out, 4 * outLength));
  for (const b of [...bufs, out]) ctx.release(b);
  return got;
}
