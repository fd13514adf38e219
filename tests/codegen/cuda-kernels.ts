/**
 * Kernels the CUDA suites render: hand-built ones that exercise each construct of the
 * kernel IR (bool storage, math built-ins, workgroup memory and barriers, private arrays,
 * grids split past 65,535 workgroups, asynchronous copies) and the tiled matmul template.
 */
import { gridFor, linearGroupId } from "../../codegen/indexing.js";
import {
  type Kernel, BodyBuilder, bin, call, cast, f32, iadd, id, imul, irem, lit, load, lt, select, u32,
} from "../../codegen/kernel.js";
import { matmulKernel } from "../../codegen/matmul.js";
import { CUDA_SM80_TARGET } from "../../codegen/target.js";

const rw = "read_write" as const;

/** y = select(mask, erf(x), max(sign(x), -2.5)); flag = isnan(y): bool in and out. */
export function elementwiseKernel(): Kernel {
  const n = 1000;
  const b = new BodyBuilder();
  const i = b.let("i", iadd(imul(id("group", 0), u32(256)), id("local", 0)));
  b.if(bin("ge", i, u32(n)), (t) => t.return());
  const x = b.let("x", load("f32", "x", i));
  const m = b.let("m", load("bool", "mask", i));
  const y = b.let("y", select(m, call("erf", x), bin("max", call("sign", x), f32(-2.5))));
  b.store("out", i, y);
  b.store("flag", i, call("isnan", y));
  return {
    name: "erf_select", source: "%y = select %mask, erf(%x), max(sign(%x), -2.5) : f32[1000]",
    bindings: [{ name: "x", dtype: "f32", access: "read" }, { name: "mask", dtype: "bool", access: "read" },
      { name: "out", dtype: "f32", access: rw }, { name: "flag", dtype: "bool", access: rw }],
    workgroupSize: [256, 1, 1], grid: [Math.ceil(n / 256), 1, 1], shared: [], body: b.stmts,
  };
}

/** Row sums of f32[rows, 1000] by a workgroup tree reduction in shared memory. */
export function rowSumKernel(rows = 37): Kernel {
  const cols = 1000, wg = 128;
  const b = new BodyBuilder();
  const row = b.let("row", id("group", 0));
  const tid = b.let("tid", id("local", 0));
  const acc = b.var("acc", f32(0));
  b.for("c", tid, u32(cols), (c, body) => {
    body.assign(acc, bin("add", acc, load("f32", "x", iadd(imul(row, u32(cols)), c))));
  }, wg);
  b.store("partial", tid, acc, "workgroup");
  b.barrier();
  for (let s = wg / 2; s >= 1; s /= 2) {
    b.if(lt(tid, u32(s)), (t) =>
      t.store("partial", tid, bin("add", load("f32", "partial", tid, "workgroup"), load("f32", "partial", iadd(tid, u32(s)), "workgroup")), "workgroup"));
    b.barrier();
  }
  b.if(bin("eq", tid, u32(0)), (t) => t.store("out", row, load("f32", "partial", u32(0), "workgroup")));
  return {
    name: "reduce_sum_rows", source: "%s = reduce_sum %x {axes=[1]} : f32[37]",
    bindings: [{ name: "x", dtype: "f32", access: "read" }, { name: "out", dtype: "f32", access: rw }],
    workgroupSize: [wg, 1, 1], grid: [rows, 1, 1], shared: [{ name: "partial", t: "f32", size: wg }], body: b.stmts,
  };
}

/** i32 iota of 70,000 × 64 elements: a grid past 65,535 workgroups, split across x and y. */
export function bigGridKernel(): Kernel {
  const n = 70_000 * 64;
  const groups = Math.ceil(n / 64);
  const grid = gridFor(groups, CUDA_SM80_TARGET);
  const b = new BodyBuilder();
  const g = b.let("wg", linearGroupId(grid));
  const i = b.let("i", iadd(imul(g, u32(64)), id("local", 0)));
  b.if(bin("ge", i, u32(n)), (t) => t.return());
  b.store("out", i, bin("sub", cast("i32", i), lit("i32", -7)));
  return {
    name: "iota_big", source: "%0 = iota {shape=[4480000], dim=0, dtype=i32} : i32[4480000]",
    bindings: [{ name: "out", dtype: "i32", access: rw }],
    workgroupSize: [64, 1, 1], grid, shared: [], body: b.stmts,
  };
}

/** Per-invocation top-3 of rows of 50 in a private array (insertion into a sorted list). */
export function privateArrayKernel(): Kernel {
  const rows = 300, n = 50, k = 3;
  const b = new BodyBuilder();
  const r = b.let("r", iadd(imul(id("group", 0), u32(64)), id("local", 0)));
  b.if(bin("ge", r, u32(rows)), (t) => t.return());
  const best = b.array("best", "f32", k);
  for (let j = 0; j < k; j++) b.store(best, u32(j), lit("f32", -Infinity), "private");
  b.for("c", u32(0), u32(n), (c, body) => {
    const v = body.let("v", load("f32", "x", iadd(imul(r, u32(n)), c)));
    const cur = body.var("cur", v);
    body.for("j", u32(0), u32(k), (j, inner) => {
      const held = inner.let("held", load("f32", best, j, "private"));
      inner.if(bin("gt", cur, held), (t) => {
        t.store(best, j, cur, "private");
        t.assign(cur, held);
      });
    });
  });
  b.for("j", u32(0), u32(k), (j, body) => body.store("out", iadd(imul(r, u32(k)), j), load("f32", best, j, "private")));
  return {
    name: "top3_rows", source: "%v, %i = top_k %x {k=3} : f32[300,3], i32[300,3]",
    bindings: [{ name: "x", dtype: "f32", access: "read" }, { name: "out", dtype: "f32", access: rw }],
    workgroupSize: [64, 1, 1], grid: [Math.ceil(rows / 64), 1, 1], shared: [], body: b.stmts,
  };
}

/**
 * out[i] = tile4[i + 1].x + tile4[i + 1].w + tile1[i] + tile4 element 4·64 + i: the 4-vector tile
 * filled by 16-byte copies (zeros past 50 by the predicate), the scalar tile and a
 * second half of the vector tile by 4-byte copies, committed, waited for, and read after a barrier.
 */
export function asyncCopyKernel(): Kernel {
  const b = new BodyBuilder();
  const tid = b.let("tid", id("local", 0));
  b.copyAsync("f32", 16, "tile4", tid, "x4", tid, lt(tid, u32(50)));
  b.copyAsync("f32", 4, "tile1", tid, "x", iadd(tid, u32(3)));
  b.copyAsync("f32", 4, "tile4", iadd(tid, u32(4 * 64)), "x", tid, lt(tid, u32(60)));
  b.copyCommit();
  b.copyWait(0);
  b.barrier();
  const v = b.load4("v", "f32", "tile4", irem(iadd(tid, u32(1)), u32(64)));
  const h = b.load4("h", "f32", "tile4", iadd(u32(64), bin("div", tid, u32(4))));
  const scalar = load("f32", "tile1", tid, "workgroup");
  b.store("out", tid, bin("add", bin("add", v[0], v[3]), bin("add", scalar, select(lt(irem(tid, u32(4)), u32(2)), h[0], h[1]))));
  return {
    name: "async_copy", source: "asynchronous copies into workgroup memory",
    bindings: [{ name: "x4", dtype: "f32", access: "read", width: 4 }, { name: "x", dtype: "f32", access: "read" }, { name: "out", dtype: "f32", access: rw }],
    workgroupSize: [64, 1, 1], grid: [1, 1, 1],
    shared: [{ name: "tile4", t: "f32", size: 128, width: 4 }, { name: "tile1", t: "f32", size: 64 }], body: b.stmts,
  };
}

/** C[2, 100, 70] = A[2, 100, 33] · B[2, 33, 70] through the tiled template (edges by bounds). */
export function batchedMatmulKernel(): Kernel {
  const [batch, m, n, k] = [2, 100, 70, 33];
  return matmulKernel({
    name: "dot_general_batched", source: "%c = dot_general %a, %b {lhs_contract=[2], rhs_contract=[1], lhs_batch=[0], rhs_batch=[0]} : f32[2,100,70]",
    dtype: "f32", batch, m, n, k,
    bindings: [{ name: "a", dtype: "f32", access: "read" }, { name: "b", dtype: "f32", access: "read" }, { name: "c", dtype: "f32", access: rw }],
    lhs: { name: "a", addr: (_b, bat, r, c) => iadd(imul(bat, u32(m * k)), iadd(imul(r, u32(k)), c)), kContiguous: true },
    rhs: { name: "b", addr: (_b, bat, r, c) => iadd(imul(bat, u32(k * n)), iadd(imul(r, u32(n)), c)), nContiguous: true },
    out: "c",
  }, CUDA_SM80_TARGET);
}

export const HAND_KERNELS: readonly (() => Kernel)[] = [
  elementwiseKernel, rowSumKernel, bigGridKernel, privateArrayKernel, asyncCopyKernel, batchedMatmulKernel,
];
