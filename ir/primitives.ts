/**
 * The primitive registry: one definition per primitive, holding its attribute
 * schema (used by the printer and parser) and its shape/dtype rule. Everything
 * else a primitive means (evaluation, JVP, transpose, batching, lowering) lives in
 * one table per interpretation, keyed by the same names.
 */
import { type AbstractValue, type DType, formatType, isDType, sizeOf } from "./dtype.js";
import { ShapeError } from "./errors.js";
import type { Graph, Value } from "./graph.js";

/** This module's URL: in a bundle, the file holding the IR layer (frontend/core.ts skips its frames when finding the user's line). */
export const IR_MODULE_URL: string = import.meta.url;

export const UNARY_OPS = [
  "neg", "abs", "sign", "exp", "expm1", "log", "sin", "cos", "tanh", "logistic",
  "sqrt", "rsqrt", "erf", "floor", "ceil", "round", "not",
] as const;
export const BINARY_OPS = ["add", "sub", "mul", "div", "pow", "atan2", "max", "min", "and", "or"] as const;
export const COMPARE_OPS = ["eq", "ne", "lt", "le", "gt", "ge"] as const;
export const REDUCE_OPS = ["reduce_sum", "reduce_max", "reduce_min"] as const;

/**
 * Composite primitives: high-level nodes that name the module function that is their
 * decomposition (see "The composite-node convention" below). Every primitive with a
 * graph-kind attribute is listed here, and only those: `define` checks it when the
 * registry loads, and the type `CompositeOp` is checked against `PrimitiveParams`.
 */
export const COMPOSITE_OPS = ["jit", "fusion", "flash_attention", "flash_attention_jvp", "flash_attention_bwd", "moe_ffn", "moe_ffn_jvp", "moe_ffn_bwd"] as const;

export type UnaryOp = (typeof UNARY_OPS)[number];
export type BinaryOp = (typeof BINARY_OPS)[number];
export type CompareOp = (typeof COMPARE_OPS)[number];
export type ReduceOp = (typeof REDUCE_OPS)[number];
export type CompositeOp = (typeof COMPOSITE_OPS)[number];

type NoParams = Record<string, never>;

/** The parameters of each primitive; a rule for one cannot read another's. */
export type PrimitiveParams = { [K in UnaryOp | BinaryOp | CompareOp]: NoParams } & {
  [K in ReduceOp]: { axes: number[] };
} & {
  select: NoParams;
  cast: { dtype: DType };
  iota: { shape: number[]; dim: number; dtype: DType };
  /** `value` holds one element (a splat) or every element, row-major. */
  constant: { value: number[]; shape: number[]; dtype: DType };
  broadcast_in_dim: { shape: number[]; dims: number[] };
  reshape: { shape: number[] };
  transpose: { perm: number[] };
  slice: { start: number[]; limit: number[]; strides: number[] };
  pad: { low: number[]; high: number[]; value: number };
  concatenate: { axis: number };
  argmax: { axis: number };
  dot_general: { lhs_contract: number[]; rhs_contract: number[]; lhs_batch: number[]; rhs_batch: number[] };
  gather: { axis: number };
  scatter_add: { axis: number };
  top_k: { k: number };
  cumsum: { axis: number; reverse: boolean };
  /** jit as a primitive: runs a traced graph. */
  jit: { callee: Graph };
  /**
   * A group of primitives the fuse pass runs as one kernel. `kind` is the kernel
   * template (elementwise, reduction, matmul, ...); `reason` says why the group ended.
   */
  fusion: { body: Graph; kind: string; reason: string };
  /**
   * softmax(scale · q·kᵀ [+ bias] [masked]) · v over canonical operands (see flashAttentionRule),
   * found by passes/attention.ts; `body` is that decomposition.
   */
  flash_attention: { body: Graph; scale: number; causal: boolean; bias: boolean; mask: boolean };
  /**
   * The tangent of flash_attention (frontend/attention-rules.ts): linear in dq, dk, dv; its
   * transpose is flash_attention_bwd. `body` is the forward-mode derivative of the forward's body.
   */
  flash_attention_jvp: { body: Graph; scale: number; causal: boolean; bias: boolean; mask: boolean };
  /** FlashAttention-2's backward (Dao 2023, Algorithm 2); `body` is the materialised backward. */
  flash_attention_bwd: { body: Graph; scale: number; causal: boolean; bias: boolean; mask: boolean };
  /**
   * A top-k mixture-of-experts FFN over canonical operands (see moeFfnRule), found by
   * passes/moe.ts; `body` is the dense decomposition it replaced (every expert on every
   * token), the codegen lowering routes each token to its k experts only.
   */
  moe_ffn: { body: Graph; k: number; b1: boolean; b2: boolean; router: MoeRouter; gated: boolean; capacity: number };
  /**
   * The tangent of moe_ffn (frontend/moe-rules.ts): linear in the tangents of its operands;
   * its transpose is moe_ffn_bwd. `body` is the forward-mode derivative of the forward's body.
   */
  moe_ffn_jvp: { body: Graph; k: number; b1: boolean; b2: boolean; router: MoeRouter; gated: boolean; capacity: number };
  /** The routed backward of moe_ffn; `body` is the dense backward (the tangent body transposed). */
  moe_ffn_bwd: { body: Graph; k: number; b1: boolean; b2: boolean; router: MoeRouter; gated: boolean; capacity: number };
};

export type Primitive = keyof PrimitiveParams;

/** The primitives whose parameters hold a sub-graph (computed from the types, not listed). */
type WithGraphParam = {
  [P in Primitive]: { [K in keyof PrimitiveParams[P]]-?: [PrimitiveParams[P][K]] extends [never] ? never
    : PrimitiveParams[P][K] extends Graph ? K : never }[keyof PrimitiveParams[P]] extends never ? never : P;
}[Primitive];
/** Compile-time check that COMPOSITE_OPS lists exactly the primitives with a graph attribute. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const compositeOpsAreComplete: Same<CompositeOp, WithGraphParam> = true;
void compositeOpsAreComplete;

/** How an attribute is written in IR text. */
export type ParamKind = "int" | "ints" | "number" | "numbers" | "bool" | "dtype" | "string" | "graph";

export interface PrimitiveDef<P extends Primitive = Primitive> {
  readonly name: P;
  /** Number of operands, or "variadic". */
  readonly arity: number | "variadic";
  /** Attribute names and kinds in the order they print. */
  readonly params: { readonly [K in keyof PrimitiveParams[P]]-?: ParamKind };
  /** Output types from operand types; throws ShapeError naming what is wrong. */
  readonly rule: (inputs: AbstractValue[], params: PrimitiveParams[P]) => AbstractValue[];
}

const registry = new Map<string, PrimitiveDef>();

function define<P extends Primitive>(def: PrimitiveDef<P>): void {
  const graphParams = Object.values(def.params).filter((kind) => kind === "graph").length;
  const composite = (COMPOSITE_OPS as readonly string[]).includes(def.name);
  if (graphParams > (composite ? 1 : 0) || (composite && graphParams === 0))
    throw new Error(`primitive '${def.name}': a composite primitive (listed in COMPOSITE_OPS) has exactly one graph attribute, its body; others have none`);
  registry.set(def.name, def as unknown as PrimitiveDef);
}

export function isPrimitive(name: string): name is Primitive {
  return registry.has(name);
}

export function primitiveDef<P extends Primitive>(name: P): PrimitiveDef<P> {
  const d = registry.get(name);
  if (!d) throw new Error(`unknown primitive '${name}'`);
  return d as unknown as PrimitiveDef<P>;
}

export function allPrimitives(): Primitive[] {
  return [...registry.keys()] as Primitive[];
}

/** Apply a primitive's shape rule, checking arity first. */
export function inferTypes<P extends Primitive>(
  prim: P,
  inputs: AbstractValue[],
  params: PrimitiveParams[P],
): AbstractValue[] {
  const def = primitiveDef(prim);
  if (def.arity !== "variadic" && inputs.length !== def.arity)
    throw new ShapeError(prim, `expects ${def.arity} operand(s), got ${inputs.length}`, inputs.map(formatType));
  return def.rule(inputs, params);
}

// ---------------------------------------------------------------------------
// helpers for rules

const fmt = (xs: AbstractValue[]) => xs.map(formatType);

function fail(prim: string, inputs: AbstractValue[], detail: string): never {
  throw new ShapeError(prim, detail, fmt(inputs));
}

function checkAxis(prim: string, inputs: AbstractValue[], axis: number, rank: number, what = "axis"): void {
  if (!Number.isInteger(axis) || axis < 0 || axis >= rank)
    fail(prim, inputs, `${what} ${axis} is out of range for rank ${rank}`);
}

function checkShape(prim: string, inputs: AbstractValue[], shape: number[]): void {
  if (!shape.every((d) => Number.isInteger(d) && d >= 0))
    fail(prim, inputs, `shape [${shape}] must hold non-negative integers`);
}

function checkDistinctAxes(prim: string, inputs: AbstractValue[], axes: number[], rank: number, what: string): void {
  for (const a of axes) checkAxis(prim, inputs, a, rank, what);
  if (new Set(axes).size !== axes.length) fail(prim, inputs, `${what} [${axes}] repeat an axis`);
}

const FLOAT_ONLY: ReadonlySet<string> = new Set([
  "exp", "expm1", "log", "sin", "cos", "tanh", "logistic", "sqrt", "rsqrt", "erf", "floor", "ceil", "round",
]);

// ---------------------------------------------------------------------------
// elementwise

for (const op of UNARY_OPS) {
  define({
    name: op,
    arity: 1,
    params: {},
    rule: ([x]) => {
      if (op === "not") {
        if (x!.dtype !== "bool") fail(op, [x!], `needs a bool operand, got ${x!.dtype}`);
      } else if (FLOAT_ONLY.has(op)) {
        if (x!.dtype !== "f32") fail(op, [x!], `needs a floating-point operand, got ${x!.dtype}`);
      } else if (x!.dtype === "bool") fail(op, [x!], `is not defined on bool`);
      if (op === "neg" && x!.dtype === "u32") fail(op, [x!], `is not defined on u32`);
      return [x!];
    },
  });
}

function sameOperands(op: string, inputs: AbstractValue[]): AbstractValue {
  const [a, b] = inputs as [AbstractValue, AbstractValue];
  if (a.dtype !== b.dtype) fail(op, inputs, `operand dtypes differ (${a.dtype} vs ${b.dtype})`);
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i]))
    fail(op, inputs, `operand shapes differ: [${a.shape}] vs [${b.shape}] (broadcast explicitly first)`);
  return a;
}

for (const op of BINARY_OPS) {
  define({
    name: op,
    arity: 2,
    params: {},
    rule: (inputs) => {
      const a = sameOperands(op, inputs);
      const logical = op === "and" || op === "or";
      if (logical && a.dtype !== "bool") fail(op, inputs, `needs bool operands, got ${a.dtype}`);
      if (!logical && a.dtype === "bool") fail(op, inputs, `is not defined on bool`);
      if ((op === "pow" || op === "atan2") && a.dtype !== "f32") fail(op, inputs, `needs floating-point operands, got ${a.dtype}`);
      return [a];
    },
  });
}

for (const op of COMPARE_OPS) {
  define({
    name: op,
    arity: 2,
    params: {},
    rule: (inputs) => {
      const a = sameOperands(op, inputs);
      return [{ dtype: "bool", shape: a.shape }];
    },
  });
}

define({
  name: "select",
  arity: 3,
  params: {},
  rule: (inputs) => {
    const [p, a, b] = inputs as [AbstractValue, AbstractValue, AbstractValue];
    if (p.dtype !== "bool") fail("select", inputs, `predicate must be bool, got ${p.dtype}`);
    sameOperands("select", [a, b]);
    if (p.shape.length !== a.shape.length || p.shape.some((d, i) => d !== a.shape[i]))
      fail("select", inputs, `predicate shape [${p.shape}] differs from operand shape [${a.shape}]`);
    return [a];
  },
});

define({
  name: "cast",
  arity: 1,
  params: { dtype: "dtype" },
  rule: ([x], { dtype }) => {
    if (!isDType(dtype)) fail("cast", [x!], `unknown dtype '${dtype}'`);
    return [{ dtype, shape: x!.shape }];
  },
});

// ---------------------------------------------------------------------------
// creation

define({
  name: "iota",
  arity: 0,
  params: { shape: "ints", dim: "int", dtype: "dtype" },
  rule: (inputs, { shape, dim, dtype }) => {
    checkShape("iota", inputs, shape);
    checkAxis("iota", inputs, dim, shape.length, "dim");
    if (dtype === "bool") fail("iota", inputs, `dtype must be numeric, got bool`);
    return [{ dtype, shape }];
  },
});

define({
  name: "constant",
  arity: 0,
  params: { value: "numbers", shape: "ints", dtype: "dtype" },
  rule: (inputs, { value, shape, dtype }) => {
    checkShape("constant", inputs, shape);
    const n = sizeOf(shape);
    if (value.length !== 1 && value.length !== n)
      fail("constant", inputs, `has ${value.length} values for shape [${shape}] (${n} elements; 1 means a splat)`);
    if (!isDType(dtype)) fail("constant", inputs, `unknown dtype '${dtype}'`);
    return [{ dtype, shape }];
  },
});

// ---------------------------------------------------------------------------
// shape manipulation

define({
  name: "broadcast_in_dim",
  arity: 1,
  params: { shape: "ints", dims: "ints" },
  rule: (inputs, { shape, dims }) => {
    const x = inputs[0]!;
    checkShape("broadcast_in_dim", inputs, shape);
    if (dims.length !== x.shape.length)
      fail("broadcast_in_dim", inputs, `dims [${dims}] must name one output axis per operand axis (rank ${x.shape.length})`);
    dims.forEach((d, i) => {
      checkAxis("broadcast_in_dim", inputs, d, shape.length, "dim");
      if (i > 0 && d <= dims[i - 1]!) fail("broadcast_in_dim", inputs, `dims [${dims}] must be strictly increasing`);
      const s = x.shape[i]!;
      if (s !== 1 && s !== shape[d])
        fail("broadcast_in_dim", inputs, `operand axis ${i} has size ${s}, cannot broadcast to size ${shape[d]} of [${shape}]`);
    });
    return [{ dtype: x.dtype, shape }];
  },
});

define({
  name: "reshape",
  arity: 1,
  params: { shape: "ints" },
  rule: (inputs, { shape }) => {
    const x = inputs[0]!;
    checkShape("reshape", inputs, shape);
    if (sizeOf(shape) !== sizeOf(x.shape))
      fail("reshape", inputs, `cannot reshape [${x.shape}] (${sizeOf(x.shape)} elements) to [${shape}] (${sizeOf(shape)} elements)`);
    return [{ dtype: x.dtype, shape }];
  },
});

define({
  name: "transpose",
  arity: 1,
  params: { perm: "ints" },
  rule: (inputs, { perm }) => {
    const x = inputs[0]!;
    if (perm.length !== x.shape.length || [...perm].sort((a, b) => a - b).some((p, i) => p !== i))
      fail("transpose", inputs, `perm [${perm}] is not a permutation of ${x.shape.length} axes`);
    return [{ dtype: x.dtype, shape: perm.map((p) => x.shape[p]!) }];
  },
});

define({
  name: "slice",
  arity: 1,
  params: { start: "ints", limit: "ints", strides: "ints" },
  rule: (inputs, { start, limit, strides }) => {
    const x = inputs[0]!;
    const r = x.shape.length;
    if (start.length !== r || limit.length !== r || strides.length !== r)
      fail("slice", inputs, `start/limit/strides need ${r} entries each`);
    const shape = x.shape.map((d, i) => {
      const s = start[i]!, l = limit[i]!, st = strides[i]!;
      if (!(st >= 1)) fail("slice", inputs, `stride ${st} on axis ${i} must be >= 1`);
      if (!(0 <= s && s <= l && l <= d))
        fail("slice", inputs, `axis ${i}: need 0 <= start (${s}) <= limit (${l}) <= size (${d})`);
      return Math.ceil((l - s) / st);
    });
    return [{ dtype: x.dtype, shape }];
  },
});

define({
  name: "pad",
  arity: 1,
  params: { low: "ints", high: "ints", value: "number" },
  rule: (inputs, { low, high }) => {
    const x = inputs[0]!;
    const r = x.shape.length;
    if (low.length !== r || high.length !== r) fail("pad", inputs, `low/high need ${r} entries each`);
    if ([...low, ...high].some((p) => !Number.isInteger(p) || p < 0))
      fail("pad", inputs, `padding [${low}] / [${high}] must be non-negative integers`);
    return [{ dtype: x.dtype, shape: x.shape.map((d, i) => d + low[i]! + high[i]!) }];
  },
});

define({
  name: "concatenate",
  arity: "variadic",
  params: { axis: "int" },
  rule: (inputs, { axis }) => {
    if (inputs.length === 0) fail("concatenate", inputs, `needs at least one operand`);
    const first = inputs[0]!;
    checkAxis("concatenate", inputs, axis, first.shape.length);
    let total = 0;
    for (const x of inputs) {
      if (x.dtype !== first.dtype) fail("concatenate", inputs, `operand dtypes differ`);
      if (x.shape.length !== first.shape.length || x.shape.some((d, i) => i !== axis && d !== first.shape[i]))
        fail("concatenate", inputs, `operand shapes must agree except on axis ${axis}`);
      total += x.shape[axis]!;
    }
    const shape = [...first.shape];
    shape[axis] = total;
    return [{ dtype: first.dtype, shape }];
  },
});

// ---------------------------------------------------------------------------
// reductions and scans

for (const op of REDUCE_OPS) {
  define({
    name: op,
    arity: 1,
    params: { axes: "ints" },
    rule: (inputs, { axes }) => {
      const x = inputs[0]!;
      checkDistinctAxes(op, inputs, axes, x.shape.length, "axes");
      if (x.dtype === "bool") fail(op, inputs, `is not defined on bool (cast first)`);
      return [{ dtype: x.dtype, shape: x.shape.filter((_, i) => !axes.includes(i)) }];
    },
  });
}

define({
  name: "argmax",
  arity: 1,
  params: { axis: "int" },
  rule: (inputs, { axis }) => {
    const x = inputs[0]!;
    checkAxis("argmax", inputs, axis, x.shape.length);
    if (x.shape[axis] === 0) fail("argmax", inputs, `axis ${axis} is empty`);
    if (x.dtype === "bool") fail("argmax", inputs, `is not defined on bool`);
    return [{ dtype: "i32", shape: x.shape.filter((_, i) => i !== axis) }];
  },
});

define({
  name: "cumsum",
  arity: 1,
  params: { axis: "int", reverse: "bool" },
  rule: (inputs, { axis }) => {
    const x = inputs[0]!;
    checkAxis("cumsum", inputs, axis, x.shape.length);
    if (x.dtype === "bool") fail("cumsum", inputs, `is not defined on bool`);
    return [x];
  },
});

define({
  name: "top_k",
  arity: 1,
  params: { k: "int" },
  rule: (inputs, { k }) => {
    const x = inputs[0]!;
    if (x.shape.length === 0) fail("top_k", inputs, `needs an operand of rank >= 1`);
    const n = x.shape[x.shape.length - 1]!;
    if (!Number.isInteger(k) || k < 1 || k > n) fail("top_k", inputs, `k = ${k} must be in [1, ${n}] (size of the last axis)`);
    if (x.dtype === "bool") fail("top_k", inputs, `is not defined on bool`);
    const shape = [...x.shape.slice(0, -1), k];
    return [{ dtype: x.dtype, shape }, { dtype: "i32", shape }];
  },
});

// ---------------------------------------------------------------------------
// contraction and indexing

define({
  name: "dot_general",
  arity: 2,
  params: { lhs_contract: "ints", rhs_contract: "ints", lhs_batch: "ints", rhs_batch: "ints" },
  rule: (inputs, { lhs_contract, rhs_contract, lhs_batch, rhs_batch }) => {
    const [a, b] = inputs as [AbstractValue, AbstractValue];
    if (a.dtype !== b.dtype) fail("dot_general", inputs, `operand dtypes differ (${a.dtype} vs ${b.dtype})`);
    if (a.dtype === "bool") fail("dot_general", inputs, `is not defined on bool`);
    if (lhs_contract.length !== rhs_contract.length || lhs_batch.length !== rhs_batch.length)
      fail("dot_general", inputs, `lhs and rhs must name as many contracting and batch dims`);
    checkDistinctAxes("dot_general", inputs, [...lhs_contract, ...lhs_batch], a.shape.length, "lhs dims");
    checkDistinctAxes("dot_general", inputs, [...rhs_contract, ...rhs_batch], b.shape.length, "rhs dims");
    lhs_contract.forEach((d, i) => {
      if (a.shape[d] !== b.shape[rhs_contract[i]!])
        fail("dot_general", inputs, `contracting dims differ: lhs axis ${d} is ${a.shape[d]}, rhs axis ${rhs_contract[i]} is ${b.shape[rhs_contract[i]!]}`);
    });
    lhs_batch.forEach((d, i) => {
      if (a.shape[d] !== b.shape[rhs_batch[i]!])
        fail("dot_general", inputs, `batch dims differ: lhs axis ${d} is ${a.shape[d]}, rhs axis ${rhs_batch[i]} is ${b.shape[rhs_batch[i]!]}`);
    });
    const lhsFree = a.shape.filter((_, i) => !lhs_contract.includes(i) && !lhs_batch.includes(i));
    const rhsFree = b.shape.filter((_, i) => !rhs_contract.includes(i) && !rhs_batch.includes(i));
    return [{ dtype: a.dtype, shape: [...lhs_batch.map((d) => a.shape[d]!), ...lhsFree, ...rhsFree] }];
  },
});

function checkIndices(prim: string, inputs: AbstractValue[], idx: AbstractValue): void {
  if (idx.dtype !== "i32" && idx.dtype !== "u32") fail(prim, inputs, `indices must be i32 or u32, got ${idx.dtype}`);
}

export function gatherShape(operand: readonly number[], indices: readonly number[], axis: number): number[] {
  return [...operand.slice(0, axis), ...indices, ...operand.slice(axis + 1)];
}

define({
  name: "gather",
  arity: 2,
  params: { axis: "int" },
  rule: (inputs, { axis }) => {
    const [x, idx] = inputs as [AbstractValue, AbstractValue];
    checkAxis("gather", inputs, axis, x.shape.length);
    checkIndices("gather", inputs, idx);
    return [{ dtype: x.dtype, shape: gatherShape(x.shape, idx.shape, axis) }];
  },
});

define({
  name: "scatter_add",
  arity: 3,
  params: { axis: "int" },
  rule: (inputs, { axis }) => {
    const [x, idx, upd] = inputs as [AbstractValue, AbstractValue, AbstractValue];
    checkAxis("scatter_add", inputs, axis, x.shape.length);
    checkIndices("scatter_add", inputs, idx);
    if (upd.dtype !== x.dtype) fail("scatter_add", inputs, `updates dtype ${upd.dtype} differs from operand dtype ${x.dtype}`);
    if (x.dtype === "bool") fail("scatter_add", inputs, `is not defined on bool`);
    const want = gatherShape(x.shape, idx.shape, axis);
    if (want.length !== upd.shape.length || want.some((d, i) => d !== upd.shape[i]))
      fail("scatter_add", inputs, `updates shape [${upd.shape}] must be [${want}] (operand shape with axis ${axis} replaced by the indices shape)`);
    return [x];
  },
});

// ---------------------------------------------------------------------------
// calls and composite nodes

/**
 * The composite-node convention. A high-level node (a `jit` call, a `fusion`, and the
 * attention and MoE nodes to come) names the module function that is its
 * decomposition, in its one graph-kind attribute (`callee=@name`, `body=@name`). Its
 * operands are that function's inputs and its results the function's outputs, same
 * order and types (`callRule` checks it). The node means exactly what its body
 * computes: the interpreter evaluates the body, and every transformation (jvp,
 * transpose, vmap) and the unfused lowering handle the node through its body unless
 * the primitive has a rule of its own. So a pass can introduce a node without
 * teaching every layer about it first, and the body is the node's specification in
 * tests. To add one: a `PrimitiveParams` entry with one `Graph` attribute, a name in
 * COMPOSITE_OPS, a `define` below; the rule tables (runtime/interp.ts, frontend/jvp.ts,
 * vmap.ts, transpose.ts) give every name in COMPOSITE_OPS their body rule, and a table
 * where the primitive has a rule of its own lists it after that spread, overriding it.
 */
export function compositeBody<P extends CompositeOp>(prim: P, params: PrimitiveParams[P]): Graph {
  const def = primitiveDef(prim);
  const key = Object.keys(def.params).find((k) => def.params[k as keyof typeof def.params] === "graph");
  return (params as Record<string, unknown>)[key!] as Graph;
}

export function isComposite(prim: Primitive): prim is CompositeOp {
  return (COMPOSITE_OPS as readonly string[]).includes(prim);
}

/** The rule of a node that runs a sub-graph: operands must match its inputs. */
function callRule(prim: string, inputs: AbstractValue[], callee: Graph): AbstractValue[] {
  if (inputs.length !== callee.inputs.length)
    fail(prim, inputs, `@${callee.name} takes ${callee.inputs.length} operand(s), got ${inputs.length}`);
  callee.inputs.forEach((v, i) => {
    const a = inputs[i]!;
    if (a.dtype !== v.type.dtype || a.shape.length !== v.type.shape.length || a.shape.some((d, j) => d !== v.type.shape[j]))
      fail(prim, inputs, `operand ${i} is ${formatType(a)}, @${callee.name} expects ${formatType(v.type)}`);
  });
  return callee.outputs.map((v) => v.type);
}

define({
  name: "jit",
  arity: "variadic",
  params: { callee: "graph" },
  rule: (inputs, { callee }) => callRule("jit", inputs, callee),
});

define({
  name: "fusion",
  arity: "variadic",
  params: { body: "graph", kind: "string", reason: "string" },
  rule: (inputs, { body }) => callRule("fusion", inputs, body),
});

/**
 * flash_attention's operands are canonical: q [G, Sq, D], k [Gk, Sk, D], v [Gk, Sk, Dv] with
 * G a multiple of Gk (query group g reads key/value group ⌊g / (G/Gk)⌋: grouped-query
 * attention), then an f32 bias and a bool mask (keep where true) when their flags are set,
 * each [G | 1, Sq | 1, Sk | 1]. Results: out [G, Sq, Dv] and the natural log-sum-exp of
 * each score row, lse [G, Sq] (what the backward recomputes P from).
 */
define({
  name: "flash_attention",
  arity: "variadic",
  params: { body: "graph", scale: "number", causal: "bool", bias: "bool", mask: "bool" },
  rule: (inputs, params) => {
    const prim = "flash_attention";
    const want = 3 + Number(params.bias) + Number(params.mask);
    if (inputs.length !== want)
      fail(prim, inputs, `takes q, k, v${params.bias ? ", bias" : ""}${params.mask ? ", mask" : ""} (${want} operands), got ${inputs.length}`);
    const [q, k, v] = inputs as [AbstractValue, AbstractValue, AbstractValue];
    if ([q, k, v].some((x) => x.shape.length !== 3 || x.dtype !== "f32"))
      fail(prim, inputs, `q, k and v must be f32 of rank 3 ([groups, seq, head_dim])`);
    const [g, sq, d] = q.shape as [number, number, number];
    const [gk, sk] = k.shape as [number, number, number];
    if (k.shape[2] !== d) fail(prim, inputs, `q and k head_dim differ (${d} vs ${k.shape[2]})`);
    if (v.shape[0] !== gk || v.shape[1] !== sk) fail(prim, inputs, `v must be [${gk}, ${sk}, head_dim] like k, got [${v.shape}]`);
    if (gk === 0 ? g !== 0 : g % gk !== 0) fail(prim, inputs, `q's ${g} groups are not a multiple of k/v's ${gk}`);
    const extras: [AbstractValue, string, DType][] = [];
    if (params.bias) extras.push([inputs[3]!, "bias", "f32"]);
    if (params.mask) extras.push([inputs[3 + Number(params.bias)]!, "mask", "bool"]);
    for (const [x, what, dtype] of extras) {
      const full = [g, sq, sk];
      if (x.dtype !== dtype || x.shape.length !== 3 || x.shape.some((s, i) => s !== 1 && s !== full[i]))
        fail(prim, inputs, `${what} must be ${dtype}[${g} or 1, ${sq} or 1, ${sk} or 1], got ${formatType(x)}`);
    }
    const outs = callRule(prim, inputs, params.body);
    const expect = [{ dtype: "f32" as DType, shape: [g, sq, v.shape[2]!] }, { dtype: "f32" as DType, shape: [g, sq] }];
    if (outs.length !== 2 || outs.some((o, i) => formatType(o) !== formatType(expect[i]!)))
      fail(prim, inputs, `@${params.body.name} must return (${expect.map(formatType).join(", ")}), returns (${outs.map(formatType).join(", ")})`);
    return outs;
  },
});

/**
 * The operands of flash_attention (or its backward) that are [groups, rows, width] arrays
 * read row by row, by index: q, k, v, and for the backward the forward's output and its
 * cotangent. Their kernels may read them through views whose rows are contiguous.
 */
export function flashRowOperands(prim: "flash_attention" | "flash_attention_bwd", params: { bias: boolean; mask: boolean }): Map<number, "q" | "k" | "v" | "out" | "dOut"> {
  const rows = new Map<number, "q" | "k" | "v" | "out" | "dOut">([[0, "q"], [1, "k"], [2, "v"]]);
  const nFwd = 3 + Number(params.bias) + Number(params.mask);
  if (prim === "flash_attention_bwd") rows.set(nFwd, "out").set(nFwd + 2, "dOut");
  return rows;
}

/**
 * The backward nodes of flash_attention take the forward's operands, then its results
 * out [G, Sq, Dv] and lse [G, Sq], then (flash_attention_jvp) the tangents dq, dk, dv of q, k, v,
 * returning the tangents of out and lse; or (flash_attention_bwd) the cotangents of out and
 * lse, returning the cotangents of q, k and v. The shape checks are the forward's.
 */
function flashBackwardRule(prim: "flash_attention_jvp" | "flash_attention_bwd") {
  return (inputs: AbstractValue[], params: PrimitiveParams["flash_attention"]): AbstractValue[] => {
    const nFwd = 3 + Number(params.bias) + Number(params.mask);
    const fwd = inputs.slice(0, nFwd);
    const [q, k, v] = fwd as [AbstractValue, AbstractValue, AbstractValue];
    const [g, sq] = q.shape as [number, number];
    const results = [{ dtype: "f32" as DType, shape: [g, sq, v.shape[2]!] }, { dtype: "f32" as DType, shape: [g, sq] }];
    const rest = prim === "flash_attention_jvp" ? [...results, q, k, v] : [...results, ...results];
    const want = nFwd + rest.length;
    if (inputs.length !== want || q.shape.length !== 3 || k.shape.length !== 3 || v.shape.length !== 3)
      fail(prim, inputs, `takes the forward's ${nFwd} operands, out, lse and ${prim === "flash_attention_jvp" ? "dq, dk, dv" : "the cotangents of out and lse"} (${want} operands), got ${inputs.length}`);
    rest.forEach((r, i) => {
      const x = inputs[nFwd + i]!;
      if (formatType(x) !== formatType(r)) fail(prim, inputs, `operand ${nFwd + i} is ${formatType(x)}, expected ${formatType(r)}`);
    });
    const outs = callRule(prim, inputs, params.body);
    const expect = prim === "flash_attention_jvp" ? results : [q, k, v];
    if (outs.length !== expect.length || outs.some((o, i) => formatType(o) !== formatType(expect[i]!)))
      fail(prim, inputs, `@${params.body.name} must return (${expect.map(formatType).join(", ")}), returns (${outs.map(formatType).join(", ")})`);
    return outs;
  };
}

const FLASH_PARAMS = { body: "graph", scale: "number", causal: "bool", bias: "bool", mask: "bool" } as const;
define({ name: "flash_attention_jvp", arity: "variadic", params: FLASH_PARAMS, rule: flashBackwardRule("flash_attention_jvp") });
define({ name: "flash_attention_bwd", arity: "variadic", params: FLASH_PARAMS, rule: flashBackwardRule("flash_attention_bwd") });

/**
 * How moe_ffn turns a token's router logits into its experts and their weights:
 * - "topk_softmax": the top k logits, then a softmax of those k (Mixtral);
 * - "softmax_topk": a softmax over all experts, then the top k probabilities as they are
 *   (DeepSeek-V2, Qwen-MoE without normalisation);
 * - "softmax_topk_norm": the same k probabilities divided by their sum (Qwen3, DeepSeek-V3
 *   style; equal in exact arithmetic to "topk_softmax", rounded differently).
 */
export const MOE_ROUTERS = ["topk_softmax", "softmax_topk", "softmax_topk_norm"] as const;
export type MoeRouter = (typeof MOE_ROUTERS)[number];

/** moe_ffn's operand names in order, for its flags. */
export function moeOperandNames(params: { b1: boolean; b2: boolean; gated: boolean }): string[] {
  return ["x", "gate", "w1", ...(params.b1 ? ["b1"] : []), ...(params.gated ? ["w3"] : []), "w2", ...(params.b2 ? ["b2"] : [])];
}

/**
 * The values of a moe_ffn body that the expert kernels compute through: the first layer as
 * the activation reads it (x·w1, with b1 added when set), x·w3 when gated, and the hidden
 * value w2 multiplies (the activation of the first, times the second when gated).
 */
export function moeExpertValues(body: Graph, params: { b1: boolean; b2: boolean; gated: boolean }): { pre: Value; up?: Value; hidden: Value } {
  const names = moeOperandNames(params);
  const input = (name: string) => body.inputs[names.indexOf(name)]!;
  const dotWith = (w: Value) => body.nodes.find((n) => n.prim === "dot_general" && n.inputs[1] === w);
  const dot1 = dotWith(input("w1")), dot2 = dotWith(input("w2")), dot3 = params.gated ? dotWith(input("w3")) : undefined;
  if (!dot1 || !dot2 || (params.gated && !dot3)) throw new Error(`moe_ffn: @${body.name} has no per-expert matmuls with ${params.gated ? "w1, w3" : "w1"} and w2`);
  let pre = dot1.outputs[0]!;
  if (params.b1) {
    const add = body.nodes.find((n) => n.prim === "add" && n.inputs.includes(pre));
    if (!add) throw new Error(`moe_ffn: @${body.name} adds no b1 to the first layer`);
    pre = add.outputs[0]!;
  }
  return { pre, ...(dot3 ? { up: dot3.outputs[0]! } : {}), hidden: dot2.inputs[0]! };
}

/**
 * The activation graphs a moe_ffn_bwd body calls (frontend/moe-rules.ts makes the activation a
 * call before differentiating): the forward (pre[, up]) -> hidden and its derivative
 * (pre[, up], d hidden) -> (d pre[, d up]), told apart by their arity. Undefined for a body
 * without them (one written by hand), which has no routed lowering.
 */
export function moeActivationCalls(body: Graph, gated: boolean): { act: Graph; dact: Graph } | undefined {
  const n = gated ? 2 : 1;
  const calls = body.nodes.filter((c) => c.prim === "jit");
  const act = calls.find((c) => c.inputs.length === n && c.outputs.length === 1);
  const dact = calls.find((c) => c.inputs.length === n + 1 && c.outputs.length === n);
  return act && dact ? { act: (act.params as { callee: Graph }).callee, dact: (dact.params as { callee: Graph }).callee } : undefined;
}

/**
 * moe_ffn's operands are canonical: tokens x [T, d], router weights gate [d, E], w1 [E, d, h],
 * then b1 [E, h] when its flag is set, w3 [E, d, h] when the expert is gated (SwiGLU:
 * act(x·w1 + b1) · (x·w3)), w2 [E, h, d], then b2 [E, d] when set; all f32. The result is
 * [T, d]: each token's sum over its top-k experts (by x·gate) of the expert FFN, weighted as
 * `router` says, as the body spells out. `capacity` > 0 caps the choices each expert takes
 * (first choices of all tokens before second ones, tokens in order); the rest are dropped
 * (weight 0). 0: dropless.
 */
/** The shape checks of moe_ffn's operands (shared by its jvp and backward nodes, which take them first). */
function checkMoeOperands(prim: string, all: AbstractValue[], inputs: AbstractValue[], params: PrimitiveParams["moe_ffn"]): void {
  const names = moeOperandNames(params);
  if (!(MOE_ROUTERS as readonly string[]).includes(params.router))
    fail(prim, all, `router = "${params.router}" must be one of ${MOE_ROUTERS.map((r) => `"${r}"`).join(", ")}`);
  if (inputs.length !== names.length)
    fail(prim, all, `takes ${names.join(", ")} (${names.length} operands), got ${inputs.length}`);
  if (inputs.some((x) => x.dtype !== "f32")) fail(prim, all, `operands must be f32`);
  const at = (name: string) => inputs[names.indexOf(name)]!;
  const [x, gate, w1, w2] = [at("x"), at("gate"), at("w1"), at("w2")];
  if (x.shape.length !== 2 || gate.shape.length !== 2 || w1.shape.length !== 3)
    fail(prim, all, `x must be [T, d], gate [d, E] and w1 [E, d, h]`);
  const [T, d] = x.shape as [number, number];
  const E = gate.shape[1]!, h = w1.shape[2]!;
  const want: [AbstractValue, number[], string][] = [[gate, [d, E], "gate"], [w1, [E, d, h], "w1"], [w2, [E, h, d], "w2"]];
  if (params.b1) want.push([at("b1"), [E, h], "b1"]);
  if (params.gated) want.push([at("w3"), [E, d, h], "w3"]);
  if (params.b2) want.push([at("b2"), [E, d], "b2"]);
  for (const [v, shape, what] of want)
    if (v.shape.length !== shape.length || v.shape.some((s, i) => s !== shape[i]))
      fail(prim, all, `${what} must be [${shape}] for T = ${T}, d = ${d}, E = ${E}, h = ${h}, got [${v.shape}]`);
  if (!Number.isInteger(params.k) || params.k < 1 || params.k > E) fail(prim, all, `k = ${params.k} must be in [1, ${E}] (the number of experts)`);
  if (!Number.isInteger(params.capacity) || params.capacity < 0) fail(prim, all, `capacity = ${params.capacity} must be a whole number ≥ 0 (0: dropless)`);
}

const MOE_PARAMS = { body: "graph", k: "int", b1: "bool", b2: "bool", router: "string", gated: "bool", capacity: "int" } as const;

define({
  name: "moe_ffn",
  arity: "variadic",
  params: MOE_PARAMS,
  rule: (inputs, params) => {
    checkMoeOperands("moe_ffn", inputs, inputs, params);
    const outs = callRule("moe_ffn", inputs, params.body);
    if (outs.length !== 1 || formatType(outs[0]!) !== formatType(inputs[0]!))
      fail("moe_ffn", inputs, `@${params.body.name} must return (${formatType(inputs[0]!)}), returns (${outs.map(formatType).join(", ")})`);
    return outs;
  },
});

/**
 * moe_ffn_jvp takes the forward's operands, then a tangent of each (same types), and
 * returns the tangent of the output [T, d]; moe_ffn_bwd takes the forward's operands, then
 * the output's cotangent [T, d], and returns a cotangent for each operand.
 */
function moeDerivativeRule(prim: "moe_ffn_jvp" | "moe_ffn_bwd") {
  return (inputs: AbstractValue[], params: PrimitiveParams["moe_ffn"]): AbstractValue[] => {
    const n = moeOperandNames(params).length;
    const fwd = inputs.slice(0, n);
    checkMoeOperands(prim, inputs, fwd, params);
    const rest = prim === "moe_ffn_jvp" ? fwd : [fwd[0]!];
    if (inputs.length !== n + rest.length)
      fail(prim, inputs, `takes the forward's ${n} operands, then ${prim === "moe_ffn_jvp" ? "a tangent of each" : "the cotangent of its output"} (${n + rest.length} operands), got ${inputs.length}`);
    rest.forEach((r, i) => {
      const x = inputs[n + i]!;
      if (formatType(x) !== formatType(r)) fail(prim, inputs, `operand ${n + i} is ${formatType(x)}, expected ${formatType(r)}`);
    });
    const outs = callRule(prim, inputs, params.body);
    const expect = prim === "moe_ffn_jvp" ? [fwd[0]!] : fwd;
    if (outs.length !== expect.length || outs.some((o, i) => formatType(o) !== formatType(expect[i]!)))
      fail(prim, inputs, `@${params.body.name} must return (${expect.map(formatType).join(", ")}), returns (${outs.map(formatType).join(", ")})`);
    return outs;
  };
}
define({ name: "moe_ffn_jvp", arity: "variadic", params: MOE_PARAMS, rule: moeDerivativeRule("moe_ffn_jvp") });
define({ name: "moe_ffn_bwd", arity: "variadic", params: MOE_PARAMS, rule: moeDerivativeRule("moe_ffn_bwd") });
