/**
 * Elementwise evaluation: unary, binary, comparisons, select, cast. Each op is
 * computed in float64 and stored through the result's typed array, which rounds
 * to f32 or wraps to 32 bits (ToInt32 / ToUint32 are modular), as XLA does.
 * Integer mul uses Math.imul, whose low 32 bits are exact where a float64 product
 * is not. Integer division truncates toward zero; x / 0 is defined as 0 for
 * integers (XLA leaves it implementation-defined).
 */
import { isInteger } from "../../ir/dtype.js";
import {
  BINARY_OPS, type BinaryOp, COMPARE_OPS, type CompareOp, UNARY_OPS, type UnaryOp,
} from "../../ir/primitives.js";
import { erf } from "./erf.js";
import { type EvalRule, type EvalRules, emptyLike, fromFloat, resultTypes } from "./host.js";

type Fn1 = (x: number) => number;
type Fn2 = (a: number, b: number) => number;

/** Round half to even (numpy.round, lax.round with ROUND_TO_NEAREST_EVEN); keeps the sign of zero. */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  const r = d < 0.5 ? f : d > 0.5 ? f + 1 : f % 2 === 0 ? f : f + 1;
  return r === 0 ? x * 0 : r;
}

const unary: { readonly [K in UnaryOp]: Fn1 } = {
  neg: (x) => -x,
  abs: Math.abs,
  sign: (x) => (x > 0 ? 1 : x < 0 ? -1 : x), // sign(±0) = ±0, sign(NaN) = NaN
  exp: Math.exp,
  log: Math.log,
  sin: Math.sin,
  cos: Math.cos,
  tanh: Math.tanh,
  logistic: (x) => 1 / (1 + Math.exp(-x)),
  sqrt: Math.sqrt,
  rsqrt: (x) => 1 / Math.sqrt(x),
  erf,
  floor: Math.floor,
  ceil: Math.ceil,
  round: roundHalfEven,
  not: (x) => (x ? 0 : 1),
};

/** C's pow where JS's differs: pow(1, y) = 1 and pow(-1, ±inf) = 1, even for NaN y. */
function pow(a: number, b: number): number {
  if (a === 1 || (a === -1 && (b === Infinity || b === -Infinity))) return 1;
  return Math.pow(a, b);
}

const binary: { readonly [K in BinaryOp]: Fn2 } = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow,
  max: Math.max, // propagates NaN
  min: Math.min,
  and: (a, b) => a & b,
  or: (a, b) => a | b,
};

const integerBinary: { readonly [K in BinaryOp]?: Fn2 } = {
  mul: Math.imul,
  div: (a, b) => (b === 0 ? 0 : Math.trunc(a / b)),
};

const compare: { readonly [K in CompareOp]: (a: number, b: number) => boolean } = {
  eq: (a, b) => a === b,
  ne: (a, b) => a !== b,
  lt: (a, b) => a < b,
  le: (a, b) => a <= b,
  gt: (a, b) => a > b,
  ge: (a, b) => a >= b,
};

function unaryRule<P extends UnaryOp>(op: P): EvalRule<P> {
  const f = unary[op];
  return (inputs, params) => {
    const out = emptyLike(resultTypes(op, inputs, params)[0]!);
    const x = inputs[0]!.data, o = out.data;
    for (let i = 0; i < o.length; i++) o[i] = f(x[i]!);
    return [out];
  };
}

function binaryRule<P extends BinaryOp>(op: P): EvalRule<P> {
  return (inputs, params) => {
    const out = emptyLike(resultTypes(op, inputs, params)[0]!);
    const f = (isInteger(out.dtype) && integerBinary[op]) || binary[op];
    const a = inputs[0]!.data, b = inputs[1]!.data, o = out.data;
    for (let i = 0; i < o.length; i++) o[i] = f(a[i]!, b[i]!);
    return [out];
  };
}

function compareRule<P extends CompareOp>(op: P): EvalRule<P> {
  const f = compare[op];
  return (inputs, params) => {
    const out = emptyLike(resultTypes(op, inputs, params)[0]!);
    const a = inputs[0]!.data, b = inputs[1]!.data, o = out.data;
    for (let i = 0; i < o.length; i++) o[i] = f(a[i]!, b[i]!) ? 1 : 0;
    return [out];
  };
}

function table<K extends UnaryOp | BinaryOp | CompareOp>(
  ops: readonly K[], rule: (op: K) => EvalRule<K>,
): EvalRules<K> {
  return Object.fromEntries(ops.map((op) => [op, rule(op)])) as unknown as EvalRules<K>;
}

/**
 * cast: f32 → integer truncates toward zero and saturates (NaN → 0); integer ↔ integer
 * wraps modulo 2³² (numpy's astype); bool → number is 0/1; anything → bool is `x != 0`
 * (so NaN → true).
 */
const cast: EvalRule<"cast"> = (inputs, params) => {
  const x = inputs[0]!;
  const out = emptyLike(resultTypes("cast", inputs, params)[0]!);
  const o = out.data, d = x.data;
  if (x.dtype === "f32" || out.dtype === "bool") {
    const f = fromFloat(out.dtype);
    for (let i = 0; i < o.length; i++) o[i] = f(d[i]!);
  } else o.set(d);
  return [out];
};

const select: EvalRule<"select"> = (inputs, params) => {
  const out = emptyLike(resultTypes("select", inputs, params)[0]!);
  const p = inputs[0]!.data, a = inputs[1]!.data, b = inputs[2]!.data, o = out.data;
  for (let i = 0; i < o.length; i++) o[i] = p[i] ? a[i]! : b[i]!;
  return [out];
};

export const elementwiseRules: EvalRules<UnaryOp | BinaryOp | CompareOp | "select" | "cast"> = {
  ...table(UNARY_OPS, unaryRule),
  ...table(BINARY_OPS, binaryRule),
  ...table(COMPARE_OPS, compareRule),
  select,
  cast,
};

