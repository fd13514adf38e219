import { fromHost } from "../../frontend/creation.js";
import fc from "fast-check";
import { beforeAll, describe, expect, test } from "vitest";
import type { Tensor } from "../../frontend/core.js";
import { init } from "../../frontend/init.js";
import { jit } from "../../frontend/jit.js";
import { grad } from "../../frontend/vjp.js";
import * as nn from "../../frontend/nn.js";
import * as np from "../../frontend/np.js";
import { parseIRSync } from "../../ir/parse.js";
import { printIR } from "../../ir/print.js";
import { erf } from "../../ir/erf.js";
import { RUNS, type Ref, at, build, checkBoth, expectClose, expectShapeError, indices, randomF32, randomI32, shapeArb } from "./np-helpers.js";

beforeAll(async () => {
  await init({ backend: "interp" });
});

const FILE = "nn.test.ts";
const TOL = { rtol: 1e-5, atol: 1e-6 };

/** Applies `f` to each 1-D row along the last axis of `x`. */
function rows(x: Ref, f: (row: number[]) => number[]): Ref {
  const n = x.shape[x.shape.length - 1]!;
  const data: number[] = [];
  for (let i = 0; i < x.data.length; i += n) data.push(...f(x.data.slice(i, i + n)));
  return { shape: x.shape, data };
}
const softmaxRow = (r: number[]) => {
  const m = Math.max(...r);
  const e = r.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};
const geluRef = (x: number) => 0.5 * x * (1 + erf(x / Math.SQRT2));

describe("activations", () => {
  test("gelu matches known values, exact and tanh-approximate", async () => {
    const xs = [-3, -1, -0.5, 0, 0.5, 1, 2, 3];
    const exact = [-0.00404969409489031, -0.15865525393145707, -0.15426876936299344, 0, 0.34573123063700656, 0.8413447460685429, 1.9544997361036416, 2.99595030590511];
    const tanh = [-0.0036373920817729943, -0.15880800939172324, -0.15428599017485606, 0, 0.34571400982514394, 0.8411919906082768, 1.954597694087775, 2.996362607918227];
    await expectClose(nn.gelu(np.array(xs), { approximate: false }), { shape: [8], data: exact }, TOL);
    await expectClose(nn.gelu(np.array(xs), { approximate: true }), { shape: [8], data: tanh }, TOL);
  });

  test("gelu defaults to the tanh approximation, as jax.nn.gelu does", async () => {
    const xs = [-3, -1, 0.5, 3];
    const tanh = [-0.0036373920817729943, -0.15880800939172324, 0.34571400982514394, 2.996362607918227];
    await expectClose(nn.gelu(np.array(xs)), { shape: [4], data: tanh }, TOL);
  });

  test("relu, sigmoid and silu match their definitions, eagerly and under jit", async () => {
    const [x, rx] = randomF32([3, 5], 1, -6, 6);
    const sig = (v: number) => 1 / (1 + Math.exp(-v));
    await checkBoth(nn.relu, [x], { shape: [3, 5], data: rx.data.map((v) => Math.max(v, 0)) }, TOL);
    await checkBoth(nn.sigmoid, [x], { shape: [3, 5], data: rx.data.map(sig) }, TOL);
    await checkBoth(nn.silu, [x], { shape: [3, 5], data: rx.data.map((v) => v * sig(v)) }, TOL);
  });
});

describe("softmax family", () => {
  test("softmax rows sum to 1 and match the float64 definition", async () => {
    await fc.assert(
      fc.asyncProperty(shapeArb(3, 6).filter((s) => s.length > 0), fc.nat(), async (shape, seed) => {
        const [x, rx] = randomF32(shape, seed, -20, 20);
        await checkBoth((t) => nn.softmax(t), [x], rows(rx, softmaxRow), TOL);
        const sums = nn.softmax(x).sum(-1);
        await expectClose(sums, { shape: shape.slice(0, -1), data: new Array(sums.size).fill(1) }, { rtol: 0, atol: 1e-6 });
      }),
      RUNS,
    );
  });

  test("softmax over another axis equals softmax of the transpose", async () => {
    const [x] = randomF32([4, 3], 2);
    const a = await nn.softmax(x, 0).tolist();
    const b = await np.transpose(nn.softmax(np.transpose(x))).tolist();
    expect(a).toEqual(b);
  });

  test("softmax does not overflow on large logits", async () => {
    expect(await nn.softmax(np.array([1000, 1000])).tolist()).toEqual([0.5, 0.5]);
  });

  test("logSoftmax is log ∘ softmax and logsumexp handles −∞ rows", async () => {
    const [x, rx] = randomF32([3, 4], 3, -10, 10);
    await checkBoth((t) => nn.logSoftmax(t), [x], rows(rx, (r) => softmaxRow(r).map(Math.log)), TOL);
    const lse = (r: number[]) => Math.log(r.reduce((s, v) => s + Math.exp(v), 0));
    await expectClose(nn.logsumexp(x, -1), { shape: [3], data: rows(rx, (r) => [lse(r)]).data }, TOL);
    expect(await nn.logsumexp(np.array([-Infinity, -Infinity])).item()).toBe(-Infinity);
  });
});

describe("normalisation", () => {
  test("layerNorm gives each row mean 0 and variance 1", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 2, max: 16 }), fc.nat(), async (r, d, seed) => {
        // Each row holds -3 and 3, so its variance is at least 18/d: with eps 0, a row of
        // near-equal values would make normalisation ill-conditioned in f32, not wrong.
        const [, ref] = randomF32([r, d], seed, -5, 5);
        const data = ref.data.map((v, i) => (i % d === 0 ? -3 : i % d === 1 ? 3 : v));
        const x = fromHost("f32", [r, d], Float32Array.from(data));
        const y = nn.layerNorm(x, null, null, { eps: 0 });
        await expectClose(np.mean(y, -1), { shape: [r], data: new Array(r).fill(0) }, { rtol: 0, atol: 1e-5 });
        await expectClose(np.var(y, -1), { shape: [r], data: new Array(r).fill(1) }, { rtol: 0, atol: 1e-4 });
      }),
      RUNS,
    );
  });

  test("layerNorm with gamma, beta and eps matches the float64 definition under jit", async () => {
    const [x, rx] = randomF32([2, 3, 8], 4);
    const [g, rg] = randomF32([8], 5);
    const [b, rb] = randomF32([8], 6);
    const want = rows(rx, (row) => {
      const m = row.reduce((s, v) => s + v, 0) / row.length;
      const v = row.reduce((s, u) => s + (u - m) ** 2, 0) / row.length;
      return row.map((u, i) => ((u - m) / Math.sqrt(v + 1e-5)) * rg.data[i]! + rb.data[i]!);
    });
    await checkBoth((t, gg, bb) => nn.layerNorm(t, gg, bb), [x, g, b], want, { rtol: 1e-4, atol: 1e-5 });
    expectShapeError(() => nn.layerNorm(x, np.ones([3])), "layerNorm", ["[3]", "[2,3,8]"], FILE);
  });

  test("rmsNorm divides by the root mean square", async () => {
    const [x, rx] = randomF32([2, 6], 7);
    const want = rows(rx, (r) => {
      const rms = Math.sqrt(r.reduce((s, v) => s + v * v, 0) / r.length + 1e-6);
      return r.map((v) => v / rms);
    });
    await checkBoth((t) => nn.rmsNorm(t), [x], want, { rtol: 1e-5, atol: 1e-5 });
  });
});

/** Attention by loops: per batch index, scores, optional mask, softmax, weighted sum. */
function attentionRef(q: Ref, k: Ref, v: Ref, opts: { causal?: boolean; mask?: Ref; scale?: number } = {}): Ref {
  const [sq, d] = q.shape.slice(-2) as [number, number];
  const sk = k.shape[k.shape.length - 2]!, dv = v.shape[v.shape.length - 1]!;
  const batch = q.shape.slice(0, -2);
  const scale = opts.scale ?? 1 / Math.sqrt(d);
  return build([...batch, sq, dv], (idx) => {
    const b = idx.slice(0, -2), i = idx[idx.length - 2]!, c = idx[idx.length - 1]!;
    const s: number[] = [];
    for (let j = 0; j < sk; j++) {
      let dot = 0;
      for (let e = 0; e < d; e++) dot += at(q, [...b, i, e]) * at(k, [...b, j, e]);
      let val = dot * scale;
      if (opts.mask) val = at(opts.mask, [...b, i, j]) ? val : -Infinity;
      if (opts.causal && j > i) val = -Infinity;
      s.push(val);
    }
    const p = softmaxRow(s);
    return p.reduce((acc, pj, j) => acc + pj * at(v, [...b, j, c]), 0);
  });
}

describe("attention", () => {
  test("matches a naive loop for batched multi-head inputs, eagerly and under jit", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 4 }), fc.boolean(), fc.nat()),
        async ([bsz, heads, sq, sk, d, causal, seed]) => {
          const [q, rq] = randomF32([bsz, heads, sq, d], seed);
          const [k, rk] = randomF32([bsz, heads, sk, d], seed + 1);
          const [v, rv] = randomF32([bsz, heads, sk, d + 1], seed + 2);
          await checkBoth((a, b, c) => nn.attention(a, b, c, { causal }), [q, k, v], attentionRef(rq, rk, rv, { causal }), { rtol: 1e-4, atol: 1e-5 });
        },
      ),
      RUNS,
    );
  });

  test("causal attention ignores the future: changing later keys and values leaves earlier rows unchanged", async () => {
    const [q] = randomF32([6, 4], 10);
    const [k] = randomF32([6, 4], 11);
    const [v] = randomF32([6, 4], 12);
    const [k2] = randomF32([6, 4], 13);
    const [v2] = randomF32([6, 4], 14);
    const t = 3;
    const mix = (a: Tensor, b: Tensor) => np.concatenate([np.slice(a, [[0, t]]), np.slice(b, [[t]])]);
    const y1 = (await nn.attention(q, k, v, { causal: true }).tolist()) as number[][];
    const y2 = (await nn.attention(q, mix(k, k2), mix(v, v2), { causal: true }).tolist()) as number[][];
    expect(y2.slice(0, t)).toEqual(y1.slice(0, t));
    expect(y2.slice(t)).not.toEqual(y1.slice(t));
    // Row 0 sees only key 0, so it is exactly v[0].
    expect(y1[0]).toEqual((await v.tolist() as number[][])[0]);
  });

  test("a bool mask, an additive mask and a custom scale match the naive loop", async () => {
    const [q, rq] = randomF32([2, 3, 4], 20);
    const [k, rk] = randomF32([2, 5, 4], 21);
    const [v, rv] = randomF32([2, 5, 2], 22);
    const [, rm] = randomI32([3, 5], 23, 0, 2);
    rm.data[0] = 1; // no fully masked row
    const mask = np.greater(np.array(rm.data, { shape: [3, 5] }), 0);
    const want = attentionRef(rq, rk, rv, { mask: rm, scale: 0.3 });
    await checkBoth((a, b, c, mm) => nn.attention(a, b, c, { mask: mm, scale: 0.3 }), [q, k, v, mask], want, { rtol: 1e-4, atol: 1e-5 });
    const additive = np.where(mask, 0, -Infinity);
    await expectClose(nn.attention(q, k, v, { mask: additive, scale: 0.3 }), want, { rtol: 1e-4, atol: 1e-5 });
  });

  test("emits the decomposition the attention pass matches", () => {
    const f = jit((q: Tensor, k: Tensor, v: Tensor) => nn.attention(q, k, v, { causal: true }));
    const z = np.zeros([2, 4, 8]);
    const prims = [...f.lower(z, z, z).text().matchAll(/= (\w+)/g)].map((m) => m[1]);
    const core = prims.filter((p) => !["constant", "broadcast_in_dim", "iota", "ge"].includes(p!));
    expect(core).toEqual(["dot_general", "mul", "select", "reduce_max", "sub", "exp", "reduce_sum", "div", "dot_general"]);
  });

  test("its graph, −∞ constant included, survives the IR text round trip", () => {
    const z = np.zeros([2, 4, 8]);
    const g = jit((q: Tensor, k: Tensor, v: Tensor) => nn.attention(q, k, v, { causal: true })).lower(z, z, z).graph;
    expect(printIR(parseIRSync(printIR(g)))).toBe(printIR(g));
  });

  test("mismatched head dims or sequence lengths are ShapeErrors", () => {
    expectShapeError(() => nn.attention(np.zeros([3, 4]), np.zeros([3, 5]), np.zeros([3, 4])), "attention", ["[3,4]", "[3,5]"], FILE);
    expectShapeError(() => nn.attention(np.zeros([3, 4]), np.zeros([3, 4]), np.zeros([2, 4])), "attention", ["[2,4]"], FILE);
  });
});

describe("mixture of experts", () => {
  /** Per token: top-k logits, softmax over them, weighted sum of the chosen experts' FFNs. */
  function moeRef(x: Ref, gate: Ref, w1: Ref, b1: Ref, w2: Ref, b2: Ref, k: number, kept?: boolean[][]): Ref {
    const [T, d] = x.shape as [number, number];
    const E = gate.shape[1]!, h = w1.shape[2]!;
    const out: number[] = [];
    for (let t = 0; t < T; t++) {
      const logits = Array.from({ length: E }, (_, e) => {
        let s = 0;
        for (let i = 0; i < d; i++) s += at(x, [t, i]) * at(gate, [i, e]);
        return s;
      });
      const chosen = [...logits.keys()].sort((a, b) => logits[b]! - logits[a]! || a - b).slice(0, k);
      const w = softmaxRow(chosen.map((e) => logits[e]!));
      const y = new Array<number>(d).fill(0);
      chosen.forEach((e, j) => {
        const hid = Array.from({ length: h }, (_, c) => {
          let s = at(b1, [e, c]);
          for (let i = 0; i < d; i++) s += at(x, [t, i]) * at(w1, [e, i, c]);
          return geluRef(s);
        });
        for (let o = 0; o < d; o++) {
          let s = at(b2, [e, o]);
          for (let c = 0; c < h; c++) s += hid[c]! * at(w2, [e, c, o]);
          y[o]! += (kept && !kept[t]![j] ? 0 : w[j]!) * s;
        }
      });
      out.push(...y);
    }
    return { shape: [T, d], data: out };
  }

  test("matches a naive per-token loop, eagerly and under jit", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 4 }), fc.nat()),
        async ([T, d, h, E, seed]) => {
          const k = 1 + (seed % E);
          const [x, rx] = randomF32([T, d], seed);
          const [g, rg] = randomF32([d, E], seed + 1);
          const [w1, rw1] = randomF32([E, d, h], seed + 2);
          const [b1, rb1] = randomF32([E, h], seed + 3);
          const [w2, rw2] = randomF32([E, h, d], seed + 4);
          const [b2, rb2] = randomF32([E, d], seed + 5);
          await checkBoth(
            (xx, gg, a, b, c, e) => nn.moe(xx, gg, { w1: a, b1: b, w2: c, b2: e }, k),
            [x, g, w1, b1, w2, b2],
            moeRef(rx, rg, rw1, rb1, rw2, rb2, k),
            { rtol: 1e-4, atol: 1e-5 },
          );
        },
      ),
      { numRuns: 15 },
    );
  });

  /**
   * The router variants, gated experts and a shared expert, as loops: softmax over all E
   * then top k (renormalised or not), act(x·w1 + b1)·(x·w3), plus silu(x·s1)·s2 for every token.
   */
  function variantRef(x: Ref, gate: Ref, w1: Ref, b1: Ref, w3: Ref, w2: Ref, s1: Ref, s2: Ref, k: number, normalize: boolean): Ref {
    const [T, d] = x.shape as [number, number];
    const E = gate.shape[1]!, h = w1.shape[2]!, hs = s1.shape[1]!;
    const silu = (z: number) => z / (1 + Math.exp(-z));
    const dotRow = (t: number, m: (i: number) => number) => {
      let s = 0;
      for (let i = 0; i < d; i++) s += at(x, [t, i]) * m(i);
      return s;
    };
    const out: number[] = [];
    for (let t = 0; t < T; t++) {
      const probs = softmaxRow(Array.from({ length: E }, (_, e) => dotRow(t, (i) => at(gate, [i, e]))));
      const chosen = [...probs.keys()].sort((a, b) => probs[b]! - probs[a]! || a - b).slice(0, k);
      const sum = chosen.reduce((s, e) => s + probs[e]!, 0);
      const y = new Array<number>(d).fill(0);
      for (const e of chosen) {
        const w = normalize ? probs[e]! / sum : probs[e]!;
        const hid = Array.from({ length: h }, (_, c) => silu(at(b1, [e, c]) + dotRow(t, (i) => at(w1, [e, i, c]))) * dotRow(t, (i) => at(w3, [e, i, c])));
        for (let o = 0; o < d; o++) for (let c = 0; c < h; c++) y[o]! += w * hid[c]! * at(w2, [e, c, o]);
      }
      const sh = Array.from({ length: hs }, (_, c) => silu(dotRow(t, (i) => at(s1, [i, c]))));
      for (let o = 0; o < d; o++) for (let c = 0; c < hs; c++) y[o]! += sh[c]! * at(s2, [c, o]);
      out.push(...y);
    }
    return { shape: [T, d], data: out };
  }

  test("softmax-then-top-k routers, gated (SwiGLU) experts and a shared expert match the loops, eagerly and under jit", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 }), fc.boolean(), fc.nat()),
        async ([T, d, h, E, normalize, seed]) => {
          const k = 1 + (seed % E);
          const [x, rx] = randomF32([T, d], seed);
          const [g, rg] = randomF32([d, E], seed + 1);
          const [w1, rw1] = randomF32([E, d, h], seed + 2);
          const [b1, rb1] = randomF32([E, h], seed + 3);
          const [w3, rw3] = randomF32([E, d, h], seed + 4);
          const [w2, rw2] = randomF32([E, h, d], seed + 5);
          const [s1, rs1] = randomF32([d, 3], seed + 6);
          const [s2, rs2] = randomF32([3, d], seed + 7);
          await checkBoth(
            (xx, gg, a, b, c, e, f, q) =>
              nn.moe(xx, gg, { w1: a, b1: b, w3: c, w2: e }, k, { router: "softmax-topk", normalize, activation: nn.silu, shared: { w1: f, w2: q } }),
            [x, g, w1, b1, w3, w2, s1, s2],
            variantRef(rx, rg, rw1, rb1, rw3, rw2, rs1, rs2, k, normalize),
            { rtol: 1e-4, atol: 1e-5 },
          );
        },
      ),
      { numRuns: 15 },
    );
  });

  test("capacityFactor drops the choices past each expert's capacity (first choices first) and counts them", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.tuple(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 5 }), fc.double({ min: 0.1, max: 1.5, noNaN: true }), fc.nat()),
        async ([T, d, h, E, cf, seed]) => {
          const k = 1 + (seed % E);
          const [x, rx] = randomF32([T, d], seed);
          const [g, rg] = randomF32([d, E], seed + 1);
          const [w1, rw1] = randomF32([E, d, h], seed + 2);
          const [w2, rw2] = randomF32([E, h, d], seed + 4);
          const zero = (shape: number[]): Ref => ({ shape, data: new Array<number>(shape.reduce((a, b) => a * b, 1)).fill(0) });
          // The loop reference with each dropped choice's weight set to 0, in nn.moe's priority.
          const capacity = Math.ceil((cf * T * k) / E);
          const chosen = Array.from({ length: T }, (_, t) => {
            const logits = Array.from({ length: E }, (_, e) => Array.from({ length: d }, (_, i) => at(rx, [t, i]) * at(rg, [i, e])).reduce((a, b) => a + b, 0));
            return [...logits.keys()].sort((a, b) => logits[b]! - logits[a]! || a - b).slice(0, k);
          });
          const taken = new Array<number>(E).fill(0);
          const kept = chosen.map(() => new Array<boolean>(k).fill(false));
          for (let j = 0; j < k; j++) for (let t = 0; t < T; t++) kept[t]![j] = taken[chosen[t]![j]!]!++ < capacity;
          const full = moeRef(rx, rg, rw1, zero([E, h]), rw2, zero([E, d]), k, kept);
          const dropped = kept.flat().filter((v) => !v).length;
          const layer = (xx: Tensor, gg: Tensor, a: Tensor, c: Tensor) => nn.moe(xx, gg, { w1: a, w2: c }, k, { capacityFactor: cf, stats: true });
          await checkBoth((...xs) => layer(xs[0]!, xs[1]!, xs[2]!, xs[3]!).out, [x, g, w1, w2], full, { rtol: 1e-4, atol: 1e-5 });
          await checkBoth((...xs) => layer(xs[0]!, xs[1]!, xs[2]!, xs[3]!).dropped, [x, g, w1, w2], { shape: [], data: [dropped] });
        },
      ),
      { numRuns: 15 },
    );
    const x = np.zeros([3, 4]), g = np.zeros([4, 2]);
    expectShapeError(() => nn.moe(x, g, { w1: np.zeros([2, 4, 5]), w2: np.zeros([2, 5, 4]) }, 1, { capacityFactor: 0 }), "moe", ["capacityFactor = 0"], FILE);
    expect(await nn.moe(x, g, { w1: np.zeros([2, 4, 5]), w2: np.zeros([2, 5, 4]) }, 1, { stats: true }).dropped.item()).toBe(0);
  });

  test("loadBalancingLoss: E · Σ f_e · P_e, 1 for a uniform load, against float64; its gradient reaches the logits", async () => {
    const T = 7, E = 5, k = 2;
    const [z, rz] = randomF32([T, E], 77);
    let want = 0;
    const f = new Array<number>(E).fill(0), P = new Array<number>(E).fill(0);
    for (let t = 0; t < T; t++) {
      const row = Array.from({ length: E }, (_, e) => at(rz, [t, e]));
      const p = softmaxRow(row);
      [...row.keys()].sort((a, b) => row[b]! - row[a]! || a - b).slice(0, k).forEach((e) => (f[e]! += 1 / (T * k)));
      p.forEach((v, e) => (P[e]! += v / T));
    }
    for (let e = 0; e < E; e++) want += E * f[e]! * P[e]!;
    await checkBoth((l) => nn.loadBalancingLoss(l, k), [z], { shape: [], data: [want] }, { rtol: 1e-5, atol: 1e-6 });
    // Equal logits for every expert: uniform probabilities, and f sums to 1 whatever top_k picks.
    expect(await nn.loadBalancingLoss(np.zeros([4, E]), k).item()).toBeCloseTo(1, 6);
    const g = await grad((l: Tensor) => nn.loadBalancingLoss(l, k))(z).data();
    expect(Array.from(g as Float32Array).some((v) => v !== 0)).toBe(true);
    expectShapeError(() => nn.loadBalancingLoss(z, 6), "loadBalancingLoss", ["k = 6"], FILE);
  });

  test("accepts extra leading token axes and a custom activation", async () => {
    const [x] = randomF32([2, 3, 4], 30);
    const [g] = randomF32([4, 3], 31);
    const [w1] = randomF32([3, 4, 5], 32);
    const [w2] = randomF32([3, 5, 4], 33);
    const y = nn.moe(x, g, { w1, w2 }, 2, { activation: nn.relu });
    const flat = nn.moe(np.reshape(x, [6, 4]), g, { w1, w2 }, 2, { activation: nn.relu });
    expect([...y.shape]).toEqual([2, 3, 4]);
    expect(await np.reshape(y, [6, 4]).tolist()).toEqual(await flat.tolist());
  });

  test("bad expert shapes and k are ShapeErrors", () => {
    const x = np.zeros([3, 4]), g = np.zeros([4, 2]);
    expectShapeError(() => nn.moe(x, g, { w1: np.zeros([2, 4, 5]), w2: np.zeros([2, 4, 5]) }, 1), "moe", ["experts.w2", "f32[2,4,5]"], FILE);
    expectShapeError(() => nn.moe(x, g, { w1: np.zeros([2, 4, 5]), w2: np.zeros([2, 5, 4]) }, 3), "moe", ["k = 3"], FILE);
    const experts = { w1: np.zeros([2, 4, 5]), w2: np.zeros([2, 5, 4]) };
    expectShapeError(() => nn.moe(x, g, { ...experts, w3: np.zeros([2, 5, 4]) }, 1), "moe", ["experts.w3", "f32[2,5,4]"], FILE);
    expectShapeError(() => nn.moe(x, g, experts, 1, { shared: { w1: np.zeros([4, 6]), w2: np.zeros([4, 6]) } }), "moe", ["options.shared.w2 must be [6,4]"], FILE);
    expectShapeError(() => nn.moe(x, g, experts, 1, { normalize: true }), "moe", ["normalize applies to router \"softmax-topk\""], FILE);
  });
});

describe("losses", () => {
  test("crossEntropy from indices equals crossEntropy from one-hot rows and the float64 definition", async () => {
    const [z, rz] = randomF32([4, 5], 40, -3, 3);
    const labels = [0, 3, 4, 1];
    const lab = np.array(labels, { dtype: "i32" });
    const nll = labels.map((c, i) => -Math.log(softmaxRow(rz.data.slice(i * 5, i * 5 + 5))[c]!));
    await expectClose(nn.crossEntropy(z, lab, { reduction: "none" }), { shape: [4], data: nll }, TOL);
    const mean = nll.reduce((a, b) => a + b, 0) / 4;
    await checkBoth((a, b) => nn.crossEntropy(a, b), [z, lab], { shape: [], data: [mean] }, TOL);
    await expectClose(nn.crossEntropy(z, np.oneHot(lab, 5)), { shape: [], data: [mean] }, TOL);
    expectShapeError(() => nn.crossEntropy(z, np.array([1, 2], { dtype: "i32" })), "crossEntropy", ["i32[2]", "f32[4,5]"], FILE);
  });

  test("mseLoss is the mean squared difference", async () => {
    const [a, ra] = randomF32([3, 2], 41);
    const [b, rb] = randomF32([2], 42);
    const sq = [...indices([3, 2])].map((i) => (at(ra, i) - at(rb, i)) ** 2);
    await checkBoth((x, y) => nn.mseLoss(x, y), [a, b], { shape: [], data: [sq.reduce((s, v) => s + v, 0) / 6] }, TOL);
    await expectClose(nn.mseLoss(a, b, { reduction: "sum" }), { shape: [], data: [sq.reduce((s, v) => s + v, 0)] }, TOL);
  });
});
