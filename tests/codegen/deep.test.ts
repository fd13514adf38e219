/**
 * Long chains through codegen on WebGPU: a kernel's expressions stay shallow however
 * long the fused chain, so lowering and rendering never recurse once per op.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { Tensor } from "../../frontend/core.js";
import { fromHost } from "../../frontend/creation.js";
import { initBackend } from "../../frontend/init.js";
import { ShapeDtype, jit } from "../../frontend/jit.js";
import * as np from "../../frontend/np.js";
import type { HostArray } from "../../ir/dtype.js";
import type { Node } from "../../ir/graph.js";
import { parseIRSync } from "../../ir/parse.js";
import { printIR } from "../../ir/print.js";
import { MAX_FUSION_OPS } from "../../passes/fuse-rules.js";
import { gpu, mismatch, runBoth } from "../runtime/webgpu-helpers.js";

beforeAll(async () => {
  await initBackend("interp");
  if (gpu) await initBackend("webgpu");
});

const TOL = { rtol: 1e-4, atol: 1e-5 };
const X: HostArray = { dtype: "f32", shape: [2, 4], data: Float32Array.from([1, 2, -3, 0.25, 0, -0.5, 7, 100]) };

const chain = (n: number) => (x: Tensor) => {
  let y = x;
  for (let i = 0; i < n; i++) y = i % 3 === 0 ? np.add(y, 0.001) : i % 3 === 1 ? np.multiply(y, 0.999) : np.tanh(y);
  return y;
};

async function run(n: number, backend: "webgpu" | "interp", fuse: boolean): Promise<HostArray> {
  const x = fromHost(X.dtype, X.shape, X.data.slice(), backend);
  const f = jit(chain(n), { backend, fuse });
  const out = f(x);
  const got = { dtype: out.dtype, shape: [...out.shape], data: await out.data() } as HostArray;
  x.dispose();
  out.dispose();
  return got;
}

/**
 * An IR module whose main function is one explicit elementwise fusion node of `n` ops
 * (exp and neg: cheap for the shader compiler, which is slow on long tanh chains).
 */
function fusionModule(n: number): string {
  const body = [`func @body(%x: f32[2,4]) -> (f32[2,4]) {`];
  let prev = "%x";
  for (let i = 0; i < n; i++) {
    body.push(`  %${i} = ${i % 2 ? "neg" : "exp"} ${prev} : f32[2,4]`);
    prev = `%${i}`;
  }
  body.push(`  return ${prev}`, `}`);
  const main = [
    `func @main(%x: f32[2,4]) -> (f32[2,4]) {`,
    `  %0 = fusion %x {body=@body, kind="elementwise", reason="written by hand"} : f32[2,4]`,
    `  return %0`,
    `}`,
  ];
  return `${body.join("\n")}\n\n${main.join("\n")}\n`;
}

describe.skipIf(!gpu)("deep chains on WebGPU", () => {
  it.each([true, false])("a jitted chain of 2,000 ops matches the interpreter (fuse %s)", async (fuse) => {
    const want = await run(2000, "interp", fuse);
    const got = await run(2000, "webgpu", fuse);
    expect(mismatch(got, want, TOL)).toBeUndefined();
  }, 600_000);

  it("one fusion node of 2,000 ops, written as IR text, round-trips and matches the interpreter", async () => {
    const text = fusionModule(2000);
    const g = parseIRSync(text);
    expect(printIR(g)).toBe(text);
    expect((g.nodes[0] as Node<"fusion">).params.body.nodes.length).toBe(2000);
    const { got, want } = await runBoth(g, [X]);
    expect(mismatch(got[0]!, want[0]!, TOL)).toBeUndefined();
  }, 600_000);

});

describe("fusion size", () => {
  it(`the fuse pass splits a long chain into kernels of at most ${MAX_FUSION_OPS} ops`, () => {
    const lowered = jit(chain(3 * MAX_FUSION_OPS), { backend: "interp" }).lower(new ShapeDtype(X.shape, X.dtype));
    const kernels = lowered.optimized.nodes.filter((n) => n.prim === "fusion") as Node<"fusion">[];
    expect(kernels.length).toBeGreaterThanOrEqual(3);
    const ops = (k: Node<"fusion">) => k.params.body.nodes.filter((n) => n.prim !== "constant" && n.prim !== "broadcast_in_dim").length;
    for (const k of kernels) expect(ops(k)).toBeLessThanOrEqual(MAX_FUSION_OPS);
    expect(kernels.reduce((s, k) => s + ops(k), 0)).toBe(3 * MAX_FUSION_OPS);
  });
});
