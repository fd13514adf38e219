/**
 * Fused kernels that read several inputs of the domain's own shape: each input must be
 * loaded from its own buffer. (A load cache keyed only by position once read one input
 * in place of another — the W8 residual + layer norm kernel returned wrong values.)
 */
import fc from "fast-check";
import { beforeAll, describe, expect, test } from "vitest";
import type { Tensor } from "../../frontend/core.js";
import { fromHost } from "../../frontend/creation.js";
import { initBackend } from "../../frontend/init.js";
import { jit } from "../../frontend/jit.js";
import * as nn from "../../frontend/nn.js";
import * as np from "../../frontend/np.js";
import type { HostArray } from "../../ir/dtype.js";
import { fill, seedArb } from "../runtime/webgpu-arbitraries.js";
import { gpu, mismatch } from "../runtime/webgpu-helpers.js";

const OPS = ["add", "sub", "mul", "max"] as const;
type Op = (typeof OPS)[number];
const apply = (op: Op, a: Tensor, b: Tensor) =>
  op === "add" ? np.add(a, b) : op === "sub" ? np.subtract(a, b) : op === "mul" ? np.multiply(a, b) : np.maximum(a, b);

interface Program {
  rows: number;
  cols: number;
  inputs: number;
  /** Each step combines the running value with input `arg` (in any position). */
  steps: { op: Op; arg: number; swap: boolean }[];
  tail: "none" | "layer_norm" | "softmax";
}

const programArb: fc.Arbitrary<Program> = fc
  .record({
    rows: fc.constantFrom(1, 3, 8),
    cols: fc.constantFrom(4, 5, 8, 64, 130),
    inputs: fc.integer({ min: 2, max: 5 }),
    tail: fc.constantFrom("none", "layer_norm", "softmax"),
    raw: fc.array(fc.record({ op: fc.constantFrom(...OPS), arg: fc.nat(), swap: fc.boolean() }), { minLength: 1, maxLength: 6 }),
  })
  .map(({ raw, ...p }) => ({ ...p, steps: raw.map((s) => ({ ...s, arg: s.arg % p.inputs })) }) as Program);

function program(p: Program) {
  return (...xs: Tensor[]) => {
    let y = xs[0]!;
    for (const s of p.steps) y = s.swap ? apply(s.op, xs[s.arg]!, y) : apply(s.op, y, xs[s.arg]!);
    // Keep the intermediate as an output too, as the transformer's residual stream does.
    const last = p.tail === "layer_norm" ? nn.layerNorm(y) : p.tail === "softmax" ? nn.softmax(y) : np.exp(y);
    return [y, last];
  };
}

async function run(f: (...xs: Tensor[]) => Tensor[], xs: HostArray[], backend: "webgpu" | "interp"): Promise<HostArray[]> {
  const args = xs.map((a) => fromHost(a.dtype, a.shape, a.data.slice(), backend));
  const outs = jit(f, { backend })(...args);
  const got = await Promise.all(outs.map(async (t) => ({ dtype: t.dtype, shape: [...t.shape], data: await t.data() }) as HostArray));
  for (const t of [...args, ...outs]) t.dispose();
  return got;
}

describe.skipIf(!gpu)("fused kernels with several same-shape inputs", () => {
  beforeAll(async () => {
    await initBackend("webgpu");
    await initBackend("interp");
  });

  test("each input is read from its own buffer (generated programs, webgpu vs interpreter)", async () => {
    await fc.assert(
      fc.asyncProperty(programArb, seedArb, async (p, seed) => {
        const xs = Array.from({ length: p.inputs }, (_, i) => fill("f32", [p.rows, p.cols], seed + i, -2, 2));
        const f = program(p);
        const [got, want] = [await run(f, xs, "webgpu"), await run(f, xs, "interp")];
        got.forEach((g, i) => expect(mismatch(g, want[i]!, { rtol: 1e-4, atol: 1e-5 })).toBeUndefined());
      }),
      { numRuns: 40 },
    );
  });

  test("the transformer's residual add + layer norm kernel matches the interpreter", async () => {
    const f = (a: Tensor, bias: Tensor, x: Tensor, g: Tensor, b: Tensor) => {
      const h = np.add(x, np.add(a, bias));
      return [h, nn.layerNorm(h, g, b)];
    };
    const xs = [fill("f32", [4, 768], 1), fill("f32", [768], 2), fill("f32", [4, 768], 3), fill("f32", [768], 4), fill("f32", [768], 5)];
    const [got, want] = [await run(f, xs, "webgpu"), await run(f, xs, "interp")];
    got.forEach((g, i) => expect(mismatch(g, want[i]!, { rtol: 1e-4, atol: 1e-5 })).toBeUndefined());
  });
});
