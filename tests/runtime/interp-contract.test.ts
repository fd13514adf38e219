import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type HostArray, type Shape, sizeOf, stridesOf } from "../../ir/dtype.js";
import type { PrimitiveParams } from "../../ir/primitives.js";
import { ev, f32, i32, u32, values } from "./interp-helpers.js";

const INT_MIN = -2147483648;
const INT_MAX = 2147483647;

/** Every multi-index of `shape`, row-major. */
function* indices(shape: Shape): Generator<number[]> {
  if (sizeOf(shape) === 0) return;
  const idx = shape.map(() => 0);
  for (;;) {
    yield [...idx];
    let k = shape.length - 1;
    for (; k >= 0 && ++idx[k]! === shape[k]; k--) idx[k] = 0;
    if (k < 0) return;
  }
}

const at = (a: HostArray, idx: number[]) => a.data[idx.reduce((s, v, i) => s + v * stridesOf(a.shape)[i]!, 0)]!;

/** dot_general straight from its definition, in float64. */
function dotByDefinition(lhs: HostArray, rhs: HostArray, p: PrimitiveParams["dot_general"]): number[] {
  const free = (a: HostArray, used: number[]) => [...a.shape.keys()].filter((i) => !used.includes(i));
  const lf = free(lhs, [...p.lhs_batch, ...p.lhs_contract]), rf = free(rhs, [...p.rhs_batch, ...p.rhs_contract]);
  const outShape = [...p.lhs_batch.map((d) => lhs.shape[d]!), ...lf.map((d) => lhs.shape[d]!), ...rf.map((d) => rhs.shape[d]!)];
  const out: number[] = [];
  for (const o of indices(outShape)) {
    let acc = 0;
    for (const c of indices(p.lhs_contract.map((d) => lhs.shape[d]!))) {
      const li = lhs.shape.map(() => 0), ri = rhs.shape.map(() => 0);
      p.lhs_batch.forEach((d, i) => ((li[d] = o[i]!), (ri[p.rhs_batch[i]!] = o[i]!)));
      lf.forEach((d, i) => (li[d] = o[p.lhs_batch.length + i]!));
      rf.forEach((d, i) => (ri[d] = o[p.lhs_batch.length + lf.length + i]!));
      p.lhs_contract.forEach((d, i) => ((li[d] = c[i]!), (ri[p.rhs_contract[i]!] = c[i]!)));
      acc += at(lhs, li) * at(rhs, ri);
    }
    out.push(acc);
  }
  return out;
}

const matmul = { lhs_contract: [1], rhs_contract: [0], lhs_batch: [], rhs_batch: [] };

describe("interp: dot_general", () => {
  it("with one contracting dim is a matrix product", () => {
    expect(values(ev("dot_general", [f32([2, 2], [1, 2, 3, 4]), f32([2, 2], [5, 6, 7, 8])], matmul))).toEqual([19, 22, 43, 50]);
  });
  it("with no contracting dims is an outer product", () => {
    const out = ev("dot_general", [f32([2], [1, 2]), f32([3], [3, 4, 5])], { lhs_contract: [], rhs_contract: [], lhs_batch: [], rhs_batch: [] });
    expect(out.shape).toEqual([2, 3]);
    expect(values(out)).toEqual([3, 4, 5, 6, 8, 10]);
  });
  it("puts batch dims first, then lhs free, then rhs free, wherever the batch dims sit", () => {
    // lhs[m,b,k] = 4m + 2b + k + 1, rhs[k,n,b]; out[b,m,n] = Σ_k lhs[m,b,k]·rhs[k,n,b]
    const lhs = f32([2, 2, 2], [1, 2, 3, 4, 5, 6, 7, 8]), rhs = f32([2, 1, 2], [1, 2, 3, 4]);
    const out = ev("dot_general", [lhs, rhs], { lhs_contract: [2], rhs_contract: [0], lhs_batch: [1], rhs_batch: [2] });
    expect(out.shape).toEqual([2, 2, 1]);
    expect(values(out)).toEqual([7, 23, 22, 46]);
  });
  it("agrees with its definition past a multiple of four output columns", () => {
    const lhs = f32([2, 3], [1, -2, 3, 4, 5, -6]), rhs = f32([3, 6], [...Array(18).keys()].map((v) => v - 7));
    expect(values(ev("dot_general", [lhs, rhs], matmul))).toEqual(dotByDefinition(lhs, rhs, matmul));
  });
  it("accumulates f32 in float64 and rounds once", () => {
    expect(values(ev("dot_general", [f32([1, 3], [1e8, 1, -1e8]), f32([3, 1], [1, 1, 1])], matmul))).toEqual([1]);
  });
  it("wraps on i32", () => {
    // 65536² = 2³² ≡ 0 and (2³¹−1)·2¹⁶ + 1 ≡ −65535 (mod 2³²)
    const out = ev("dot_general", [i32([2, 2], [65536, 0, INT_MAX, 1]), i32([2, 1], [65536, 1])], matmul);
    expect(values(out)).toEqual([0, -65535]);
  });
  it("wraps on u32", () => {
    expect(values(ev("dot_general", [u32([1, 1], [4294967295]), u32([1, 1], [4294967295])], matmul))).toEqual([1]);
  });
  it("agrees with its definition for any placement of batch and contracting dims (property)", () => {
    const arb = fc
      .record({
        nb: fc.integer({ min: 0, max: 2 }), nc: fc.integer({ min: 0, max: 2 }),
        nl: fc.integer({ min: 0, max: 2 }), nr: fc.integer({ min: 0, max: 2 }),
        seed: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 6, maxLength: 6 }),
      })
      .chain(({ nb, nc, nl, nr, seed }) => {
        const bs = seed.slice(0, nb), cs = seed.slice(nb, nb + nc);
        const ls = seed.slice(0, nl).map((d) => d + 1), rs = seed.slice(3, 3 + nr).map((d) => 2 * d);
        const lr = nb + nc + nl, rr = nb + nc + nr;
        return fc.record({
          lp: fc.shuffledSubarray([...Array(lr).keys()], { minLength: lr, maxLength: lr }),
          rp: fc.shuffledSubarray([...Array(rr).keys()], { minLength: rr, maxLength: rr }),
          dims: fc.constant({ bs, cs, ls, rs }),
          data: fc.array(fc.integer({ min: -50, max: 50 }), { minLength: 600, maxLength: 600 }),
        });
      });
    fc.assert(
      fc.property(arb, ({ lp, rp, dims: { bs, cs, ls, rs }, data }) => {
        // lp[j] is where the j-th of (batch, contract, free) lands in lhs; likewise rp for rhs.
        const place = (perm: number[], sizes: number[]) => {
          const shape: number[] = [];
          perm.forEach((p, j) => (shape[p] = sizes[j]!));
          return shape;
        };
        const lshape = place(lp, [...bs, ...cs, ...ls]), rshape = place(rp, [...bs, ...cs, ...rs]);
        const lhs = f32(lshape, data.slice(0, sizeOf(lshape))), rhs = f32(rshape, data.slice(0, sizeOf(rshape)).reverse());
        const p = {
          lhs_batch: lp.slice(0, bs.length), rhs_batch: rp.slice(0, bs.length),
          lhs_contract: lp.slice(bs.length, bs.length + cs.length), rhs_contract: rp.slice(bs.length, bs.length + cs.length),
        };
        expect(values(ev("dot_general", [lhs, rhs], p))).toEqual(dotByDefinition(lhs, rhs, p));
      }),
    );
  });
});

describe("interp: gather", () => {
  const x = f32([2, 3, 2], [...Array(12).keys()]);
  it("takes along a middle axis (numpy.take)", () => {
    // out[i,j,k] = x[i, idx[j], k] = 6i + 2·idx[j] + k
    const out = ev("gather", [x, i32([2], [2, 0])], { axis: 1 });
    expect(out.shape).toEqual([2, 2, 2]);
    expect(values(out)).toEqual([4, 5, 0, 1, 10, 11, 6, 7]);
  });
  it("puts the indices' shape in place of the axis", () => {
    const out = ev("gather", [f32([3], [10, 20, 30]), i32([2, 1], [1, 2])], { axis: 0 });
    expect(out.shape).toEqual([2, 1]);
    expect(values(out)).toEqual([20, 30]);
  });
  it("clamps out-of-range indices into the axis, like JAX", () => {
    expect(values(ev("gather", [f32([3], [10, 20, 30]), i32([3], [-1, 5, 1])], { axis: 0 }))).toEqual([10, 30, 20]);
    expect(values(ev("gather", [f32([3], [10, 20, 30]), u32([1], [4294967295])], { axis: 0 }))).toEqual([30]);
  });
});

describe("interp: scatter_add", () => {
  it("adds updates at their indices along a middle axis, accumulating duplicates", () => {
    // out[i,1,k] = upd[i,0,k] + upd[i,1,k]
    const out = ev("scatter_add", [f32([2, 3, 2], Array(12).fill(0)), i32([2], [1, 1]), f32([2, 2, 2], [1, 2, 3, 4, 5, 6, 7, 8])], { axis: 1 });
    expect(values(out)).toEqual([0, 0, 4, 6, 0, 0, 0, 0, 12, 14, 0, 0]);
  });
  it("adds to the operand", () => {
    const out = ev("scatter_add", [f32([2, 3], [1, 1, 1, 1, 1, 1]), i32([3], [2, 0, 2]), f32([2, 3], [1, 2, 3, 4, 5, 6])], { axis: 1 });
    expect(values(out)).toEqual([3, 1, 5, 6, 1, 11]);
  });
  it("drops updates whose index is out of range, like JAX", () => {
    const out = ev("scatter_add", [i32([3], [0, 0, 0]), i32([3], [-1, 3, 0]), i32([3], [5, 6, 7])], { axis: 0 });
    expect(values(out)).toEqual([7, 0, 0]);
  });
  it("drops an index equal to the axis size instead of spilling into the next row", () => {
    const out = ev("scatter_add", [f32([2, 2], [0, 0, 0, 0]), i32([1], [2]), f32([2, 1], [1, 1])], { axis: 1 });
    expect(values(out)).toEqual([0, 0, 0, 0]);
  });
  it("accumulates f32 in float64 and rounds once", () => {
    expect(values(ev("scatter_add", [f32([1], [1e8]), i32([2], [0, 0]), f32([2], [1, -1e8])], { axis: 0 }))).toEqual([1]);
  });
  it("wraps on i32", () => {
    expect(values(ev("scatter_add", [i32([1], [INT_MAX]), u32([1], [0]), i32([1], [1])], { axis: 0 }))).toEqual([INT_MIN]);
  });
  it("is the adjoint of gather: <gather(x), u> = <x, scatter_add(0, idx, u)> (property)", () => {
    const arb = fc
      .record({
        shape: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 3 }),
        ishape: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 0, maxLength: 2 }),
        axis: fc.nat(),
        pool: fc.array(fc.integer({ min: -9, max: 9 }), { minLength: 200, maxLength: 200 }),
        picks: fc.array(fc.nat(), { minLength: 9, maxLength: 9 }),
      })
      .map(({ shape, ishape, axis, pool, picks }) => {
        const ax = axis % shape.length, n = shape[ax]!;
        const x = f32(shape, pool.slice(0, sizeOf(shape)));
        const idx = i32(ishape, picks.slice(0, sizeOf(ishape)).map((p) => p % n));
        const ushape = [...shape.slice(0, ax), ...ishape, ...shape.slice(ax + 1)];
        return { ax, x, idx, u: f32(ushape, pool.slice(100, 100 + sizeOf(ushape))) };
      });
    const dot = (a: HostArray, b: HostArray) => values(a).reduce((s, v, i) => s + v * b.data[i]!, 0);
    fc.assert(
      fc.property(arb, ({ ax, x, idx, u }) => {
        const g = ev("gather", [x, idx], { axis: ax });
        const s = ev("scatter_add", [f32(x.shape, Array(sizeOf(x.shape)).fill(0)), idx, u], { axis: ax });
        expect(dot(g, u)).toBe(dot(x, s));
      }),
    );
  });
});
