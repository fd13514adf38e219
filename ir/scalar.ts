/**
 * What each elementwise primitive computes on one element, in float64: the single
 * definition the reference interpreter evaluates with and constant folding folds with.
 * Storing a result into its dtype (round to f32, wrap integers) is the caller's step.
 */
import type { BinaryOp, CompareOp, UnaryOp } from "./primitives.js";
import { erf } from "./erf.js";

export { erf };

/** Round half to even (numpy.round, lax.round with ROUND_TO_NEAREST_EVEN); keeps the sign of zero. */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  const r = d < 0.5 ? f : d > 0.5 ? f + 1 : f % 2 === 0 ? f : f + 1;
  return r === 0 ? x * 0 : r;
}

/** C's pow where JS's differs: pow(1, y) = 1 and pow(-1, ±inf) = 1, even for NaN y. */
export function pow(a: number, b: number): number {
  if (a === 1 || (a === -1 && (b === Infinity || b === -Infinity))) return 1;
  return Math.pow(a, b);
}

export const UNARY_FNS: { readonly [K in UnaryOp]: (x: number) => number } = {
  neg: (x) => -x,
  abs: Math.abs,
  sign: (x) => (x > 0 ? 1 : x < 0 ? -1 : x), // sign(±0) = ±0, sign(NaN) = NaN
  exp: Math.exp,
  expm1: Math.expm1,
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

export const BINARY_FNS: { readonly [K in BinaryOp]: (a: number, b: number) => number } = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow,
  atan2: Math.atan2, // atan2(y, x): the angle of the point (x, y)
  max: Math.max, // propagates NaN
  min: Math.min,
  and: (a, b) => a & b,
  or: (a, b) => a | b,
};

/**
 * Where integers differ: Math.imul keeps the low 32 bits exact where a float64 product
 * does not; division truncates toward zero and x / 0 is defined as 0.
 */
export const INTEGER_BINARY_FNS: { readonly [K in BinaryOp]?: (a: number, b: number) => number } = {
  mul: Math.imul,
  div: (a, b) => (b === 0 ? 0 : Math.trunc(a / b)),
};

export const COMPARE_FNS: { readonly [K in CompareOp]: (a: number, b: number) => boolean } = {
  eq: (a, b) => a === b,
  ne: (a, b) => a !== b,
  lt: (a, b) => a < b,
  le: (a, b) => a <= b,
  gt: (a, b) => a > b,
  ge: (a, b) => a >= b,
};
