/**
 * Typed wrappers over `bind`, one per primitive, with lax's strictness: no implicit
 * broadcasting or dtype promotion (np.ts adds those). Transformation rules and
 * np/nn are written on these.
 */
import type { DTypeName } from "../ir/dtype.js";
import { checkDType } from "./arguments.js";
import type { BinaryOp, CompareOp, UnaryOp } from "../ir/primitives.js";
import type { Graph } from "../ir/graph.js";
import { type Tensor, bind, bind1 } from "./core.js";

export const unary = (op: UnaryOp, x: Tensor): Tensor => bind1(op, [x], {});
export const binary = (op: BinaryOp | CompareOp, x: Tensor, y: Tensor): Tensor => bind1(op, [x, y], {});

export const neg = (x: Tensor) => unary("neg", x);
export const abs = (x: Tensor) => unary("abs", x);
export const sign = (x: Tensor) => unary("sign", x);
export const exp = (x: Tensor) => unary("exp", x);
export const log = (x: Tensor) => unary("log", x);
export const sin = (x: Tensor) => unary("sin", x);
export const cos = (x: Tensor) => unary("cos", x);
export const tanh = (x: Tensor) => unary("tanh", x);
export const logistic = (x: Tensor) => unary("logistic", x);
export const sqrt = (x: Tensor) => unary("sqrt", x);
export const rsqrt = (x: Tensor) => unary("rsqrt", x);
export const erf = (x: Tensor) => unary("erf", x);
export const floor = (x: Tensor) => unary("floor", x);
export const ceil = (x: Tensor) => unary("ceil", x);
export const round = (x: Tensor) => unary("round", x);
export const not = (x: Tensor) => unary("not", x);

export const add = (x: Tensor, y: Tensor) => binary("add", x, y);
export const sub = (x: Tensor, y: Tensor) => binary("sub", x, y);
export const mul = (x: Tensor, y: Tensor) => binary("mul", x, y);
export const div = (x: Tensor, y: Tensor) => binary("div", x, y);
export const pow = (x: Tensor, y: Tensor) => binary("pow", x, y);
export const max = (x: Tensor, y: Tensor) => binary("max", x, y);
export const min = (x: Tensor, y: Tensor) => binary("min", x, y);
export const and = (x: Tensor, y: Tensor) => binary("and", x, y);
export const or = (x: Tensor, y: Tensor) => binary("or", x, y);
export const eq = (x: Tensor, y: Tensor) => binary("eq", x, y);
export const ne = (x: Tensor, y: Tensor) => binary("ne", x, y);
export const lt = (x: Tensor, y: Tensor) => binary("lt", x, y);
export const le = (x: Tensor, y: Tensor) => binary("le", x, y);
export const gt = (x: Tensor, y: Tensor) => binary("gt", x, y);
export const ge = (x: Tensor, y: Tensor) => binary("ge", x, y);

export const select = (pred: Tensor, onTrue: Tensor, onFalse: Tensor) => bind1("select", [pred, onTrue, onFalse], {});
export const cast = (x: Tensor, dtype: DTypeName) => {
  const dt = checkDType("lax.cast", "dtype", dtype);
  return x.dtype === dt ? x : bind1("cast", [x], { dtype: dt });
};
export const iota = (shape: readonly number[], dim: number, dtype: DTypeName = "i32") =>
  bind1("iota", [], { shape: [...shape], dim, dtype: checkDType("lax.iota", "dtype", dtype) });
export const constant = (value: readonly number[], shape: readonly number[], dtype: DTypeName) =>
  bind1("constant", [], { value: [...value], shape: [...shape], dtype: checkDType("lax.constant", "dtype", dtype) });

export const broadcastInDim = (x: Tensor, shape: readonly number[], dims: readonly number[]) =>
  sameShape(x.shape, shape) && dims.every((d, i) => d === i) ? x : bind1("broadcast_in_dim", [x], { shape: [...shape], dims: [...dims] });
export const reshape = (x: Tensor, shape: readonly number[]) =>
  sameShape(x.shape, shape) ? x : bind1("reshape", [x], { shape: [...shape] });
export const transpose = (x: Tensor, perm: readonly number[]) =>
  perm.every((p, i) => p === i) ? x : bind1("transpose", [x], { perm: [...perm] });
export const slice = (x: Tensor, start: readonly number[], limit: readonly number[], strides?: readonly number[]) =>
  bind1("slice", [x], { start: [...start], limit: [...limit], strides: strides ? [...strides] : start.map(() => 1) });
export const pad = (x: Tensor, low: readonly number[], high: readonly number[], value = 0) =>
  bind1("pad", [x], { low: [...low], high: [...high], value });
export const concatenate = (xs: readonly Tensor[], axis: number) =>
  xs.length === 1 ? xs[0]! : bind1("concatenate", xs, { axis });

export const reduceSum = (x: Tensor, axes: readonly number[]) => (axes.length ? bind1("reduce_sum", [x], { axes: [...axes] }) : x);
export const reduceMax = (x: Tensor, axes: readonly number[]) => (axes.length ? bind1("reduce_max", [x], { axes: [...axes] }) : x);
export const reduceMin = (x: Tensor, axes: readonly number[]) => (axes.length ? bind1("reduce_min", [x], { axes: [...axes] }) : x);
export const argmax = (x: Tensor, axis: number) => bind1("argmax", [x], { axis });
export const cumsum = (x: Tensor, axis: number, reverse = false) => bind1("cumsum", [x], { axis, reverse });
export const topK = (x: Tensor, k: number): [Tensor, Tensor] => {
  const [v, i] = bind("top_k", [x], { k });
  return [v!, i!];
};

export interface DotDims {
  lhsContract: readonly number[];
  rhsContract: readonly number[];
  lhsBatch?: readonly number[];
  rhsBatch?: readonly number[];
}
export const dotGeneral = (x: Tensor, y: Tensor, d: DotDims) =>
  bind1("dot_general", [x, y], {
    lhs_contract: [...d.lhsContract],
    rhs_contract: [...d.rhsContract],
    lhs_batch: [...(d.lhsBatch ?? [])],
    rhs_batch: [...(d.rhsBatch ?? [])],
  });

export const gather = (x: Tensor, indices: Tensor, axis: number) => bind1("gather", [x, indices], { axis });
export const scatterAdd = (x: Tensor, indices: Tensor, updates: Tensor, axis: number) =>
  bind1("scatter_add", [x, indices, updates], { axis });
export const call = (callee: Graph, args: readonly Tensor[]) => bind("jit", args, { callee });

/** A scalar constant of `like`'s dtype broadcast to `like`'s shape (or to `shape`). */
export const fullLike = (like: Tensor, value: number, shape: readonly number[] = like.shape) =>
  broadcastInDim(constant([value], [], like.dtype), shape, []);
export const zerosLike = (like: Tensor) => fullLike(like, 0);

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
