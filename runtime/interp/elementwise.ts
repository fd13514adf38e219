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
import { BINARY_FNS, COMPARE_FNS, INTEGER_BINARY_FNS, UNARY_FNS } from "../../ir/scalar.js";
import { type EvalRule, type EvalRules, emptyLike, fromFloat, resultTypes } from "./host.js";


function unaryRule<P extends UnaryOp>(op: P): EvalRule<P> {
  const f = UNARY_FNS[op];
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
    const f = (isInteger(out.dtype) && INTEGER_BINARY_FNS[op]) || BINARY_FNS[op];
    const a = inputs[0]!.data, b = inputs[1]!.data, o = out.data;
    for (let i = 0; i < o.length; i++) o[i] = f(a[i]!, b[i]!);
    return [out];
  };
}

function compareRule<P extends CompareOp>(op: P): EvalRule<P> {
  const f = COMPARE_FNS[op];
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

