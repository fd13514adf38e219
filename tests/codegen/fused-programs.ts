/**
 * Generated programs for the fused-lowering suites, written with the frontend as a user
 * would: chains over a row-major [rows, cols] value mixing elementwise math, broadcasts of
 * a row vector and a column vector, row reductions fed back into the row (softmax-like),
 * column reductions, softmax and layer norm; and matmuls followed by such an epilogue.
 * Values stay bounded (exp only of -|y|, divisions by sums + 1) so f32 and the
 * interpreter's float64 agree to a relative tolerance.
 */
import fc from "fast-check";
import type { Tensor } from "../../frontend/core.js";
import * as nn from "../../frontend/nn.js";
import * as np from "../../frontend/np.js";
import type { HostArray } from "../../ir/dtype.js";
import { fill } from "../runtime/webgpu-arbitraries.js";

export type Step =
  | { readonly k: "unary"; readonly op: "tanh" | "negexp" | "neg" | "abs" | "sqrtabs" | "sigmoid" }
  | { readonly k: "scalar"; readonly op: "add" | "mul" | "sub" | "max"; readonly c: number }
  /** With the same-shaped input x (a residual). */
  | { readonly k: "x"; readonly op: "add" | "mul" | "sub" | "max" | "min" }
  /** With a vector broadcast along rows (a bias, a layer-norm gain) or along columns. */
  | { readonly k: "row" | "col"; readonly op: "add" | "mul" }
  /** A reduction over the last axis fed back into the row. */
  | { readonly k: "rowreduce"; readonly op: "max" | "sum" | "mean" }
  /** A reduction over the first axis fed back (a column reduction). */
  | { readonly k: "colreduce" }
  | { readonly k: "softmax" | "layernorm" | "where" };

export interface Chain {
  readonly rows: number;
  readonly cols: number;
  readonly steps: readonly Step[];
  /** Also return the row sums of the result (a K-shaped second output). */
  readonly rowOutput: boolean;
}

const elementwiseStep: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ k: fc.constant("unary" as const), op: fc.constantFrom("tanh", "negexp", "neg", "abs", "sqrtabs", "sigmoid") }),
  fc.record({ k: fc.constant("scalar" as const), op: fc.constantFrom("add", "mul", "sub", "max"), c: fc.constantFrom(-1.5, -0.25, 0.5, 2) }),
  fc.record({ k: fc.constant("x" as const), op: fc.constantFrom("add", "mul", "sub", "max", "min") }),
  fc.record({ k: fc.constantFrom("row" as const, "col" as const), op: fc.constantFrom("add", "mul") }),
  fc.record({ k: fc.constant("where" as const) }),
);

const rowStep: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ k: fc.constant("rowreduce" as const), op: fc.constantFrom("max", "sum", "mean") }),
  fc.record({ k: fc.constantFrom("softmax" as const, "layernorm" as const, "colreduce" as const) }),
);

/** Awkward extents: 1, odd, prime, one past a power of two, and a row longer than any team's registers. */
export const chainArb: fc.Arbitrary<Chain> = fc.record({
  rows: fc.constantFrom(1, 3, 7, 33, 130),
  cols: fc.constantFrom(1, 2, 5, 16, 17, 64, 300, 1031, 5000),
  steps: fc.array(fc.oneof({ weight: 3, arbitrary: elementwiseStep }, { weight: 1, arbitrary: rowStep }), { minLength: 1, maxLength: 7 }),
  rowOutput: fc.boolean(),
}).filter((c) => c.rows * c.cols <= 40000);

function binary(op: string, a: Tensor, b: Tensor | number): Tensor {
  switch (op) {
    case "add": return np.add(a, b);
    case "mul": return np.multiply(a, b);
    case "sub": return np.subtract(a, b);
    case "max": return np.maximum(a, b);
    default: return np.minimum(a, b);
  }
}

/** Applies steps to y; x is y's shape, row is [cols], col is [rows, 1]. */
export function applySteps(steps: readonly Step[], y: Tensor, x: Tensor, row: Tensor, col: Tensor): Tensor {
  for (const s of steps) {
    switch (s.k) {
      case "unary":
        y = s.op === "tanh" ? np.tanh(y) : s.op === "negexp" ? np.exp(np.negative(np.abs(y))) : s.op === "neg" ? np.negative(y)
          : s.op === "abs" ? np.abs(y) : s.op === "sqrtabs" ? np.sqrt(np.abs(y)) : nn.sigmoid(y);
        break;
      case "scalar": y = binary(s.op, y, s.c); break;
      case "x": y = binary(s.op, y, x); break;
      case "row": y = binary(s.op, y, row); break;
      case "col": y = binary(s.op, y, col); break;
      case "rowreduce":
        y = s.op === "max" ? np.subtract(y, np.max(y, -1, true))
          : s.op === "sum" ? np.divide(y, np.add(np.sum(np.abs(y), -1, true), 1))
          : np.multiply(np.subtract(y, np.mean(y, -1, true)), 0.5);
        break;
      case "colreduce": y = np.subtract(y, np.mean(y, 0, true)); break;
      case "softmax": y = nn.softmax(y, -1); break;
      case "layernorm": y = nn.layerNorm(y, row, row); break;
      case "where": y = np.where(np.greater(y, 0), y, np.multiply(y, 0.1)); break;
      default: s satisfies never;
    }
  }
  return y;
}

/** The chain as a function of (x [rows, cols], row [cols], col [rows]). */
export function chainFn(c: Chain): (x: Tensor, row: Tensor, col: Tensor) => Tensor | Tensor[] {
  return (x, row, col) => {
    const y = applySteps(c.steps, x, x, row, np.reshape(col, [c.rows, 1]));
    return c.rowOutput ? [y, np.sum(y, -1)] : y;
  };
}

export function chainInputs(c: Chain, seed: number): HostArray[] {
  return [fill("f32", [c.rows, c.cols], seed, -2, 2), fill("f32", [c.cols], seed + 1, -1, 1), fill("f32", [c.rows], seed + 2, -1, 1)];
}

export interface MatmulChain {
  readonly batch: number;
  readonly m: number;
  readonly k: number;
  readonly n: number;
  readonly steps: readonly Step[];
  /** Also return the product itself (read outside the epilogue). */
  readonly productOutput: boolean;
}

export const matmulArb: fc.Arbitrary<MatmulChain> = fc.record({
  batch: fc.constantFrom(1, 1, 3),
  m: fc.constantFrom(1, 5, 17, 64, 65),
  k: fc.constantFrom(1, 7, 33, 128),
  n: fc.constantFrom(1, 3, 16, 65, 130),
  steps: fc.array(elementwiseStep, { minLength: 1, maxLength: 5 }),
  productOutput: fc.boolean(),
});

/** (a, w, residual [.., m, n], bias [n], col [m]) → epilogue(a·w). */
export function matmulFn(c: MatmulChain): (a: Tensor, w: Tensor, res: Tensor, bias: Tensor, col: Tensor) => Tensor | Tensor[] {
  return (a, w, res, bias, col) => {
    const p = np.matmul(a, w);
    const y = applySteps(c.steps, p, res, bias, np.reshape(col, [c.m, 1]));
    return c.productOutput ? [y, p] : y;
  };
}

export function matmulInputs(c: MatmulChain, seed: number): HostArray[] {
  const lead = c.batch > 1 ? [c.batch] : [];
  const scale = 1 / Math.sqrt(c.k);
  return [
    fill("f32", [...lead, c.m, c.k], seed, -1, 1), fill("f32", [...lead, c.k, c.n], seed + 1, -scale, scale),
    fill("f32", [...lead, c.m, c.n], seed + 2, -1, 1), fill("f32", [c.n], seed + 3, -0.5, 0.5), fill("f32", [c.m], seed + 4, -0.5, 0.5),
  ];
}
