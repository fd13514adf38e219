/**
 * The matmul cases the suites share: dot_general graphs over every contraction layout, and
 * hand-built specs with an epilogue (bias, GELU, residual) for the template's fusion hook.
 */
import type { HostArray } from "../../ir/dtype.js";
import { type Graph, GraphBuilder, verify } from "../../ir/graph.js";
import type { PrimitiveParams } from "../../ir/primitives.js";
import {
  type Binding, type Expr, type Stmt, add, call, cast, f32, iadd, imul, load, mul, ref, u32,
} from "../../codegen/kernel.js";
import type { MatmulEpilogue, MatmulSpec } from "../../codegen/matmul.js";
import type { Target } from "../../codegen/target.js";

/** Sizes on and off every block multiple the templates use (4, 8, 32, 64). */
export const SIZES = [1, 3, 7, 63, 64, 65, 127, 129, 257];

/** (m, n, k) triples in which each size appears once per dimension, plus aligned ones. */
export const SHAPES: readonly (readonly [number, number, number])[] = [
  ...SIZES.map((s, i) => [s, SIZES[(i + 3) % 9]!, SIZES[(i + 6) % 9]!] as const),
  [128, 96, 256],
];

export type Layout = "A·B" | "Aᵀ·B" | "A·Bᵀ" | "Aᵀ·Bᵀ";
export const LAYOUTS: readonly Layout[] = ["A·B", "Aᵀ·B", "A·Bᵀ", "Aᵀ·Bᵀ"];

type DotParams = PrimitiveParams["dot_general"];

/** A dot_general of the given layout; `batch` dims lead both operands. */
export function matmulGraph(layout: Layout, m: number, n: number, k: number, batch: readonly number[] = []): Graph {
  const ta = layout === "Aᵀ·B" || layout === "Aᵀ·Bᵀ", tb = layout === "A·Bᵀ" || layout === "Aᵀ·Bᵀ";
  const nb = batch.length;
  const bd = batch.map((_, i) => i);
  const lhs = [...batch, ...(ta ? [k, m] : [m, k])], rhs = [...batch, ...(tb ? [n, k] : [k, n])];
  const params: DotParams = { lhs_contract: [nb + (ta ? 0 : 1)], rhs_contract: [nb + (tb ? 1 : 0)], lhs_batch: bd, rhs_batch: bd };
  return dotGraph(lhs, rhs, params);
}

export function dotGraph(lhs: readonly number[], rhs: readonly number[], params: DotParams): Graph {
  const b = new GraphBuilder("matmul");
  const x = b.input({ dtype: "f32", shape: [...lhs] }), y = b.input({ dtype: "f32", shape: [...rhs] });
  const g = b.build(b.add("dot_general", [x, y], params));
  verify(g);
  return g;
}

/** The target a strategy runs on, from the device's own; undefined when the device cannot run it. */
export function strategyTarget(t: Target, strategy: "subgroup" | "registers" | "workgroup"): Target | undefined {
  if (strategy === "workgroup") return { ...t, cpuAdapter: false };
  if (strategy === "registers") return { ...t, cpuAdapter: true, subgroupSize: undefined };
  return t.subgroupSize && [4, 8, 16, 32].includes(t.subgroupSize) ? { ...t, cpuAdapter: true } : undefined;
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** GELU (tanh form) in float64, the reference for the epilogue. */
export function gelu(x: number): number {
  return 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x ** 3)));
}

/**
 * out[b0, b1, m, n] = gelu(acc + bias[n]) + residual[b0, b1, m, n] + b1: every part of the
 * epilogue index (column, linear index, batch multi-index) is used. Declares the same
 * local names on every call, which the template must rename apart.
 */
export const BIAS_GELU_RESIDUAL: MatmulEpilogue = {
  bindings: [{ name: "bias", dtype: "f32", access: "read" }, { name: "residual", dtype: "f32", access: "read" }],
  apply: (acc, idx) => {
    const x = ref("f32", "x"), inner = ref("f32", "inner");
    const stmts: Stmt[] = [
      { k: "let", name: "x", value: add(acc, load("f32", "bias", idx.col)) },
      { k: "let", name: "inner", value: mul(f32(SQRT_2_OVER_PI), add(x, mul(f32(0.044715), mul(x, mul(x, x))))) },
    ];
    const g = mul(mul(f32(0.5), x), add(f32(1), call("tanh", inner)));
    const value: Expr = add(add(g, load("f32", "residual", idx.linear)), cast("f32", idx.batch[idx.batch.length - 1]!));
    return { stmts, value };
  },
};

/** Row-major C = A[batch, m, k] · B[batch, k, n] with an epilogue; A and B contiguous. */
export function epilogueSpec(batch: readonly [number, number], m: number, n: number, k: number, epilogue: MatmulEpilogue): MatmulSpec {
  const nb = batch[0] * batch[1];
  const bindings: Binding[] = [
    { name: "lhs", dtype: "f32", access: "read" }, { name: "rhs", dtype: "f32", access: "read" },
    { name: "out", dtype: "f32", access: "read_write" },
  ];
  return {
    name: "matmul_epilogue", source: `bias+gelu+residual epilogue on f32[${batch},${m},${k}] x f32[${batch},${k},${n}]`,
    dtype: "f32", batch: nb, batchShape: batch, m, n, k, bindings, out: "out", epilogue,
    lhs: {
      name: "lhs", kContiguous: true, strides: { row: k, col: 1, baseAlign: m * k },
      addr: (_b, bat, row, col) => iadd(iadd(imul(bat, u32(m * k)), imul(row, u32(k))), col),
    },
    rhs: {
      name: "rhs", nContiguous: true, strides: { row: n, col: 1, baseAlign: k * n },
      addr: (_b, bat, row, col) => iadd(iadd(imul(bat, u32(k * n)), imul(row, u32(n))), col),
    },
  };
}

/** The epilogue's expected result from the interpreter's product. */
export function expectedEpilogue(product: HostArray, bias: HostArray, residual: HostArray, batch: readonly [number, number], m: number, n: number): Float64Array {
  const out = new Float64Array(product.data.length);
  for (let i = 0; i < out.length; i++) {
    const col = i % n, b1 = Math.floor(i / (m * n)) % batch[1];
    out[i] = gelu(Number(product.data[i]) + Number(bias.data[col])) + Number(residual.data[i]) + b1;
  }
  return out;
}
