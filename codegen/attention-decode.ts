/**
 * Flash-decoding: flash_attention for a few query rows over many keys. One workgroup per
 * query group would leave most of the device idle for Sk/Sq in the thousands, so the keys
 * are split into chunks of CHUNK, one workgroup per (query group, chunk), each writing its
 * partial result (the unnormalised p·v, the chunk's max and sum); a second kernel merges the
 * chunks by their log-sum-exp (out = Σ acc·2^(m−M) / Σ l·2^(m−M), M the largest max).
 * In the split kernel the scores go to workgroup memory, so the max and sum are taken once
 * per chunk, and p·v runs with invocations over the value head dim: reads of v rows are
 * contiguous across invocations.
 */
import {
  MASKED, type FlashSpec, type RowLayout, clampTo, flashFlops, kvGroup, naturalLse, quarterRows, rowStart, rowsAligned4, scoreAt, scoreMax,
} from "./attention-spec.js";
import { gridFor, groupIndex } from "./indexing.js";
import {
  type Binding, type Expr, type Kernel, BodyBuilder, bin, call, eq, f32, iadd, id, idiv, imul, irem, load, lt, select, u32,
} from "./kernel.js";
import type { LoweredKernel } from "./lower.js";
import type { Target } from "./target.js";

/** Keys per split workgroup. */
const CHUNK = 256;
const WIDTH = 64;

/** Whether flash_attention of this shape runs as flash-decoding: few rows, keys for 2+ chunks. */
export function isDecode(spec: FlashSpec): boolean {
  return spec.sq <= 4 && spec.sk >= 2 * CHUNK;
}

export function decodeKernels(spec: FlashSpec, target: Target, nInputs: number): LoweredKernel[] {
  const splits = Math.ceil(spec.sk / CHUNK);
  const rows = spec.g * spec.sq;
  const temps = [
    { dtype: "f32" as const, shape: [rows, splits, spec.dv] },
    { dtype: "f32" as const, shape: [rows, splits] },
    { dtype: "f32" as const, shape: [rows, splits] },
  ];
  const partial = (access: Binding["access"]): Binding[] =>
    ["part_o", "part_m", "part_l"].map((name) => ({ name, dtype: "f32", access }));
  const inputs = spec.bindings.slice(0, nInputs);
  const temp = [0, 1, 2].map((index) => ({ kind: "temp" as const, index }));
  return [
    {
      kernel: { ...splitKernel({ ...spec, name: `${spec.name}_split`, bindings: [...inputs, ...partial("read_write")] }, target, splits), flops: flashFlops(spec, { qk: 1, pv: 1 }) },
      args: [...Array.from({ length: nInputs }, (_, index) => ({ kind: "in" as const, index })), ...temp],
      temps,
    },
    {
      kernel: mergeKernel({ ...spec, name: `${spec.name}_merge`, bindings: [...partial("read"), ...spec.bindings.slice(nInputs)] }, target, splits),
      args: [...temp, { kind: "out", index: 0 }, { kind: "out", index: 1 }],
    },
  ];
}

function splitKernel(spec: FlashSpec, target: Target, splits: number): Kernel {
  const { sq, d: D, sk, dv: Dv } = spec;
  const groups = spec.g * splits;
  const grid = gridFor(groups, target);
  const b = new BodyBuilder();
  const wg = groupIndex(b, "wg", grid, groups);
  const g = b.let("g", idiv(wg, u32(splits)));
  const split = b.let("split", irem(wg, u32(splits)));
  const k0 = b.let("k0", imul(split, u32(CHUNK)));
  const kvg = b.let("kvg", kvGroup(spec, g));
  const tid = b.let("tid", id("local", 0));
  const rows = Array.from({ length: sq }, (_, i) => i);
  const vec = D % 4 === 0 && rowsAligned4(spec.layout.q) && rowsAligned4(spec.layout.k);
  const [qRows, kRows] = [spec.layout.q, spec.layout.k].map((l) => (vec ? quarterRows(l) : l)) as [RowLayout, RowLayout];
  const at = (i: number, jj: Expr) => iadd(u32(i * CHUNK), jj);

  // Scores in log2 units, MASKED outside the keys or where masked.
  b.for("jj", tid, u32(CHUNK), (jj, x) => {
    const key = x.let("key", iadd(k0, jj));
    const kc = x.let("key_c", clampTo(key, sk));
    // q·kᵀ for every row at once, each k element loaded once; as 4-vectors when D allows
    // (a CPU adapter pays per load, and these addresses differ across invocations).
    const w = vec ? 4 : 1;
    const kRow = x.let("k_row", rowStart(kRows, kvg, kc));
    const dots = rows.map(() => x.var("dot", f32(0)));
    x.for("d", u32(0), u32(D / w), (d, y) => {
      const kv = vec ? y.load4("kv", "f32", "k", iadd(kRow, d)) : [y.let("kv", load("f32", "k", iadd(kRow, d)))];
      for (const i of rows) {
        const qAt = iadd(rowStart(qRows, g, u32(i)), d);
        const qv = vec ? y.load4("qv", "f32", "q", qAt) : [load("f32", "q", qAt)];
        kv.forEach((kx, u) => y.assign(dots[i]!, call("fma", qv[u]!, kx, dots[i]!)));
      }
    });
    for (const i of rows) {
      const { score } = scoreAt(x, spec, dots[i]!, g, u32(i), kc, spec.causal);
      x.store("Ps", at(i, jj), select(lt(key, u32(sk)), score, f32(MASKED)), "workgroup");
    }
  }, WIDTH);
  b.barrier();
  const m = rows.map((i) => {
    const mi = b.var(`m${i}`, f32(MASKED));
    b.for("jj", u32(0), u32(CHUNK), (jj, x) => x.assign(mi, scoreMax(x, "mx", mi, load("f32", "Ps", at(i, jj), "workgroup"))));
    return mi;
  });
  b.barrier();
  b.for("jj", tid, u32(CHUNK), (jj, x) => {
    for (const i of rows) {
      const t = x.let("t", load("f32", "Ps", at(i, jj), "workgroup"));
      x.store("Ps", at(i, jj), select(bin("gt", t, f32(MASKED)), call("exp2", bin("sub", t, m[i]!)), f32(0)), "workgroup");
    }
  }, WIDTH);
  b.barrier();
  const l = rows.map((i) => {
    const li = b.var(`l${i}`, f32(0));
    b.for("jj", u32(0), u32(CHUNK), (jj, x) => x.assign(li, bin("add", li, load("f32", "Ps", at(i, jj), "workgroup"))));
    return li;
  });
  const partRow = (i: number) => iadd(imul(iadd(imul(g, u32(sq)), u32(i)), u32(splits)), split);
  b.for("c", tid, u32(Dv), (c, x) => {
    const acc = rows.map((i) => x.var(`acc${i}`, f32(0)));
    x.for("jj", u32(0), u32(CHUNK), (jj, y) => {
      const vRow = clampTo(iadd(k0, jj), sk);
      const vv = y.let("vv", load("f32", "v", iadd(rowStart(spec.layout.v, kvg, vRow), c)));
      for (const i of rows) y.assign(acc[i]!, call("fma", load("f32", "Ps", at(i, jj), "workgroup"), vv, acc[i]!));
    });
    for (const i of rows) x.store("part_o", iadd(imul(partRow(i), u32(Dv)), c), acc[i]!);
  }, WIDTH);
  b.if(eq(tid, u32(0)), (x) => {
    for (const i of rows) {
      x.store("part_m", partRow(i), m[i]!);
      x.store("part_l", partRow(i), l[i]!);
    }
  });
  return {
    name: spec.name, source: spec.source, workgroupSize: [WIDTH, 1, 1], grid,
    bindings: spec.bindings.map((x) => (vec && (x.name === "q" || x.name === "k") ? { ...x, width: 4 as const } : x)),
    shared: [{ name: "Ps", t: "f32", size: sq * CHUNK }], body: b.stmts,
  };
}

function mergeKernel(spec: FlashSpec, target: Target, splits: number): Kernel {
  const { dv: Dv } = spec;
  const n = spec.g * spec.sq * Dv;
  const groups = Math.ceil(n / WIDTH);
  const grid = gridFor(groups, target);
  const b = new BodyBuilder();
  const wg = groupIndex(b, "wg", grid, groups);
  const idx = b.let("idx", iadd(imul(wg, u32(WIDTH)), id("local", 0)));
  b.if(lt(idx, u32(n)), (x) => {
    const c = x.let("c", irem(idx, u32(Dv)));
    const row = x.let("row", idiv(idx, u32(Dv)));
    const base = x.let("part_base", imul(row, u32(splits)));
    const mMax = x.var("m_max", f32(MASKED));
    x.for("s", u32(0), u32(splits), (s, y) => y.assign(mMax, scoreMax(y, "mx", mMax, load("f32", "part_m", iadd(base, s)))));
    const l = x.var("l", f32(0)), o = x.var("o", f32(0));
    x.for("s", u32(0), u32(splits), (s, y) => {
      const w = y.let("w", call("exp2", bin("sub", load("f32", "part_m", iadd(base, s)), mMax)));
      y.assign(l, call("fma", load("f32", "part_l", iadd(base, s)), w, l));
      y.assign(o, call("fma", load("f32", "part_o", iadd(imul(iadd(base, s), u32(Dv)), c)), w, o));
    });
    const out = spec.layout.out;
    const at = out.group === spec.sq * Dv && out.row === Dv && out.offset === 0 ? idx : iadd(rowStart(out, idiv(row, u32(spec.sq)), irem(row, u32(spec.sq))), c);
    x.store("out", at, bin("div", o, l));
    x.if(eq(c, u32(0)), (y) => y.store("lse", row, naturalLse(mMax, l)));
  });
  return { name: spec.name, source: spec.source, bindings: spec.bindings, workgroupSize: [WIDTH, 1, 1], grid, shared: [], body: b.stmts };
}
