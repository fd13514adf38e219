/**
 * Gradients of a loss through nn.moe compiled on WebGPU with the moe pass (the routed
 * moe_ffn node) equal the dense form's (the pass disabled) and the interpreter's. The loss
 * is its own jit, so the pass rewrites it before grad differentiates (as bench W9 does).
 */
import { beforeAll, describe, expect, test } from "vitest";
import type { Tensor } from "../../frontend/core.js";
import { fromHost } from "../../frontend/creation.js";
import { init, initBackend } from "../../frontend/init.js";
import { jit } from "../../frontend/jit.js";
import * as nn from "../../frontend/nn.js";
import * as np from "../../frontend/np.js";
import { grad, valueAndGrad } from "../../frontend/vjp.js";
import { jvp } from "../../frontend/jvp.js";
import { vmap } from "../../frontend/vmap.js";
import { fill } from "../runtime/webgpu-arbitraries.js";
import { gpu } from "../runtime/webgpu-helpers.js";
import { expectClose } from "./helpers.js";

const T = 9, d = 8, E = 4, h = 12, k = 2;
const data = [fill("f32", [T, d], 1, -1, 1), fill("f32", [d, E], 2, -1, 1), fill("f32", [E, d, h], 3, -0.4, 0.4), fill("f32", [E, h, d], 4, -0.4, 0.4), fill("f32", [T, d], 5, -1, 1)];

describe.skipIf(!gpu)("grad through nn.moe on WebGPU", () => {
  beforeAll(async () => {
    await initBackend("interp");
    await initBackend("webgpu");
  });

  const gradients = async (backend: "webgpu" | "interp", disablePasses: string[]): Promise<number[][]> => {
    await init({ backend }); // grad's cotangent seed is made on the default backend
    const [x, gate, w1, w2, c] = data.map((a) => fromHost(a.dtype, a.shape, a.data.slice(), backend)) as Tensor[];
    const loss = jit((x: Tensor, gate: Tensor, w1: Tensor, w2: Tensor) => np.sum(np.multiply(nn.moe(x, gate, { w1, w2 }, k), c!)), { backend, disablePasses });
    if (backend === "webgpu") {
      const routedKernels = loss.lower(x!, gate!, w1!, w2!).kernels.filter((n) => n.name.startsWith("moe_ffn")).length;
      expect(routedKernels > 0, "the loss's own program is routed exactly when the pass is on").toBe(disablePasses.length === 0);
    }
    const [value, grads] = valueAndGrad(loss, { argnums: [0, 1, 2, 3] })(x!, gate!, w1!, w2!) as [Tensor, Tensor[]];
    return Promise.all([value, ...grads].map(async (t) => Array.from((await t.data()) as Float32Array)));
  };

  test("value and gradients for x, the router and both expert weights: routed == dense == interpreter", async () => {
    const want = await gradients("interp", ["moe"]);
    const routed = await gradients("webgpu", []), dense = await gradients("webgpu", ["moe"]);
    expect(routed).toHaveLength(5);
    for (const [i, w] of want.entries()) {
      expectClose(routed[i]!, w, 1e-4, 1e-5);
      expectClose(dense[i]!, w, 1e-4, 1e-5);
    }
    // The router's gradient flows through the gate weights only: it is not zero.
    expect(routed[2]!.some((g) => g !== 0)).toBe(true);
  }, 600_000);

  test("a Qwen/DeepSeek-style layer (softmax-then-top-k renormalised, SwiGLU experts, a shared expert, a capacity factor) plus the load-balancing loss: routed == interpreter", async () => {
    const w3 = fill("f32", [E, d, h], 6, -0.4, 0.4), s1 = fill("f32", [d, 5], 7, -0.4, 0.4), s3 = fill("f32", [d, 5], 8, -0.4, 0.4), s2 = fill("f32", [5, d], 9, -0.4, 0.4);
    const run = async (backend: "webgpu" | "interp", disablePasses: string[]) => {
      await init({ backend });
      const [x, gate, w1, w2, c, u3, a, b, o] = [...data, w3, s1, s3, s2].map((v) => fromHost(v.dtype, v.shape, v.data.slice(), backend)) as Tensor[];
      const loss = jit((x: Tensor, gate: Tensor, w1: Tensor, w3: Tensor, w2: Tensor) => {
        const y = nn.moe(x, gate, { w1, w3, w2 }, k, { router: "softmax-topk", normalize: true, activation: nn.silu, shared: { w1: a!, w3: b!, w2: o! }, capacityFactor: 0.75 });
        const aux = nn.loadBalancingLoss(np.matmul(x, gate), k);
        return np.add(np.sum(np.multiply(y, c!)), np.multiply(aux, 0.01));
      }, { backend, disablePasses });
      if (backend === "webgpu") {
        const names = loss.lower(x!, gate!, w1!, u3!, w2!).kernels.map((n) => n.name);
        expect(names.some((n) => n.endsWith("expert1_up")), names.join(" ")).toBe(disablePasses.length === 0);
      }
      const [value, grads] = valueAndGrad(loss, { argnums: [0, 1, 2, 3, 4] })(x!, gate!, w1!, u3!, w2!) as [Tensor, Tensor[]];
      return Promise.all([value, ...grads].map(async (t) => Array.from((await t.data()) as Float32Array)));
    };
    const want = await run("interp", ["moe"]);
    const routed = await run("webgpu", []);
    for (const [i, w] of want.entries()) expectClose(routed[i]!, w, 1e-4, 1e-5);
  }, 600_000);

  test("jit(vmap(nn.moe)) over a batch of token sets runs routed on WebGPU and equals the interpreter", async () => {
    const xs = fill("f32", [3, T, d], 10, -1, 1);
    const run = async (backend: "webgpu" | "interp") => {
      await init({ backend });
      const [x, gate, w1, w2] = [xs, ...data.slice(1, 4)].map((v) => fromHost(v.dtype, v.shape, v.data.slice(), backend)) as Tensor[];
      const f = jit(vmap((xb: Tensor) => nn.moe(xb, gate!, { w1: w1!, w2: w2! }, k)), { backend });
      if (backend === "webgpu") expect(f.lower(x!).kernels.map((n) => n.name).filter((n) => /_expert2$/.test(n))).toHaveLength(1);
      return Array.from((await f(x!).data()) as Float32Array);
    };
    expectClose(await run("webgpu"), await run("interp"), 1e-4, 1e-5);
  }, 600_000);

  test("jit(valueAndGrad(loss)) holds the routed backward: moe_ffn_bwd's kernels, well under the dense step's FLOPs", async () => {
    await init({ backend: "webgpu" });
    const [x, gate, w1, w2, c] = data.map((a) => fromHost(a.dtype, a.shape, a.data.slice(), "webgpu")) as Tensor[];
    const step = (disablePasses: string[]) => {
      // The value and the backward (through the square) both need the layer's output.
      const loss = jit((x: Tensor, gate: Tensor, w1: Tensor, w2: Tensor) => np.sum(np.square(np.multiply(nn.moe(x, gate, { w1, w2 }, k), c!))), { disablePasses });
      return jit((...xs: Tensor[]) => {
        const [value, grads] = valueAndGrad(loss, { argnums: [0, 1, 2, 3] })(...(xs as [Tensor, Tensor, Tensor, Tensor])) as [Tensor, Tensor[]];
        return [value, ...grads];
      }).lower(x!, gate!, w1!, w2!);
    };
    const routed = step([]), dense = step(["moe"]);
    const names = routed.kernels.map((n) => n.name);
    for (const stage of ["act", "dw1", "dw2", "dx_slots", "router"]) expect(names.some((n) => new RegExp(`^moe_ffn_bwd_\\d+_${stage}$`).test(n)), names.join(" ")).toBe(true);
    expect(dense.kernels.some((n) => n.name.startsWith("moe_ffn"))).toBe(false);
    // The forward layer the backward recomputes is the forward's own (CSE compares bodies by their text).
    expect(names.filter((n) => /^moe_ffn_\d+_expert1$/.test(n)), names.join(" ")).toHaveLength(1);
    // Experts are most of the work: routed, each does T·k of the dense form's T·E rows.
    expect(routed.flops / dense.flops).toBeLessThan(0.7);
  }, 600_000);

  test("jvp through the jitted layer (a moe_ffn_jvp node, run as its body) equals the dense layer's jvp", async () => {
    const run = async (backend: "webgpu" | "interp", disablePasses: string[]) => {
      await init({ backend });
      const [x, gate, w1, w2, c] = data.map((a) => fromHost(a.dtype, a.shape, a.data.slice(), backend)) as Tensor[];
      const tangents = [data[4]!, fill("f32", [d, E], 11, -1, 1), fill("f32", [E, d, h], 12, -1, 1), fill("f32", [E, h, d], 13, -1, 1)]
        .map((a) => fromHost(a.dtype, a.shape, a.data.slice(), backend));
      const layer = jit((x: Tensor, gate: Tensor, w1: Tensor, w2: Tensor) => np.sum(np.multiply(nn.moe(x, gate, { w1, w2 }, k), c!)), { backend, disablePasses });
      const [y, ty] = jvp(layer as (...xs: Tensor[]) => Tensor, [x!, gate!, w1!, w2!], tangents);
      return Promise.all([y, ty].map(async (t) => Array.from((await t.data()) as Float32Array)));
    };
    const want = await run("interp", ["moe"]);
    for (const got of [await run("webgpu", []), await run("interp", [])]) for (const [i, w] of want.entries()) expectClose(got[i]!, w, 1e-4, 1e-5);
  }, 600_000);

  test("vmap(grad(loss)) over a batch of token sets equals each set's gradient (the backward node batched through its body)", async () => {
    await init({ backend: "interp" });
    const xs = fill("f32", [3, T, d], 14, -1, 1);
    const [xb, gate, w1, w2, c] = [xs, ...data.slice(1)].map((a) => fromHost(a.dtype, a.shape, a.data.slice(), "interp")) as Tensor[];
    const loss = jit((x: Tensor, w1: Tensor) => np.sum(np.multiply(nn.moe(x, gate!, { w1, w2: w2! }, k), c!)));
    const g = grad(loss, { argnums: 1 }) as (x: Tensor, w1: Tensor) => Tensor;
    const batched = Array.from((await (vmap((x: Tensor) => g(x, w1!))(xb!) as Tensor).data()) as Float32Array);
    const each = (await Promise.all([0, 1, 2].map(async (i) => Array.from((await g(np.take(xb!, i, 0), w1!).data()) as Float32Array)))).flat();
    expectClose(batched, each, 1e-5, 1e-6);
  }, 600_000);

  test("a MoE written as a loop over separate per-expert tensors runs routed on WebGPU: value and gradients equal the interpreter's", async () => {
    const ws = Array.from({ length: E }, (_, e) => [fill("f32", [d, h], 20 + e, -0.4, 0.4), fill("f32", [h, d], 30 + e, -0.4, 0.4)]).flat();
    const run = async (backend: "webgpu" | "interp") => {
      await init({ backend });
      const [x, gate, c, ...experts] = [data[0]!, data[1]!, data[4]!, ...ws].map((v) => fromHost(v.dtype, v.shape, v.data.slice(), backend)) as Tensor[];
      const loss = jit((x: Tensor, gate: Tensor, ...w: Tensor[]) => {
        const [vals, idx] = np.topK(np.matmul(x, gate), k);
        const p = nn.softmax(vals!);
        let out: Tensor | undefined;
        for (let e = 0; e < E; e++) {
          const ge = np.sum(np.where(np.equal(idx!, e), p, 0), -1);
          const term = np.multiply(np.expandDims(ge, -1), np.matmul(nn.silu(np.matmul(x, w[2 * e]!)), w[2 * e + 1]!));
          out = out ? np.add(out, term) : term;
        }
        return np.sum(np.multiply(out!, c!));
      }, { backend });
      if (backend === "webgpu") expect(loss.lower(x!, gate!, ...experts).kernels.map((n) => n.name).filter((n) => /_expert2$/.test(n))).toHaveLength(1);
      const [value, grads] = valueAndGrad(loss, { argnums: [0, 1, 2, 3] })(x!, gate!, ...experts) as [Tensor, Tensor[]];
      return Promise.all([value, ...grads].map(async (t) => Array.from((await t.data()) as Float32Array)));
    };
    const want = await run("interp");
    const got = await run("webgpu");
    for (const [i, w] of want.entries()) expectClose(got[i]!, w, 1e-4, 1e-5);
  }, 600_000);
});
