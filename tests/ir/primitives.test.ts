/**
 * The shape/dtype rule of every primitive: the types it gives on valid operands,
 * and every rejection, each a ShapeError that names the primitive and the shapes.
 */
import { describe, expect, it } from "vitest";
import { type AbstractValue, type DType, formatType } from "../../ir/dtype.js";
import { ShapeError } from "../../ir/errors.js";
import { type Primitive, type PrimitiveParams, allPrimitives, inferTypes, UNARY_OPS, BINARY_OPS, COMPARE_OPS, REDUCE_OPS } from "../../ir/primitives.js";
import { flashAttentionBody } from "../../passes/attention-body.js";
import { moeFfnBody } from "../../passes/moe-body.js";
import { graph, ty } from "./corpus.js";

type Case = readonly [prim: Primitive, inputs: AbstractValue[], params: object];
type Valid = readonly [...Case, outputs: AbstractValue[]];
/** `named`: the operand types the message lists, when not all of them. */
type Invalid = readonly [...Case, fragment: string, named?: AbstractValue[]];

const f32 = (...s: number[]) => ty("f32", ...s);
const i32 = (...s: number[]) => ty("i32", ...s);
const u32 = (...s: number[]) => ty("u32", ...s);
const bool = (...s: number[]) => ty("bool", ...s);
const callee = graph("g", [f32(2), i32()], (b, [x, y]) => [b.add("neg", [x!], {})[0]!, y!]);
const body = graph("fused", [f32(4)], (b, [x]) => [b.add("exp", [b.add("neg", [x!], {})[0]!], {})[0]!]);
const FUSION = { body, kind: "elementwise", reason: "end of chain" };
const FLASH_FLAGS = { scale: 0.5, causal: true, bias: true, mask: false };
const MOE_TYPES = [f32(5, 8), f32(8, 4), f32(4, 8, 6), f32(4, 6, 8)];
const MOE_FLAGS = { k: 2, b1: false, b2: false, router: "topk_softmax", gated: false, capacity: 0 } as const;
const MOE = { body: moeFfnBody(MOE_TYPES, MOE_FLAGS), ...MOE_FLAGS };
const FLASH = { body: flashAttentionBody([f32(4, 3, 8), f32(2, 5, 8), f32(2, 5, 6), f32(1, 3, 5)], FLASH_FLAGS), ...FLASH_FLAGS };
/** Stand-in bodies of the backward nodes (the rule checks their types): identities over some operands. */
const FLASH_FWD = [f32(4, 3, 8), f32(2, 5, 8), f32(2, 5, 6), f32(1, 3, 5)], FLASH_RES = [f32(4, 3, 6), f32(4, 3)];
const FLASH_JVP = { ...FLASH_FLAGS, body: graph("attention_jvp", [...FLASH_FWD, ...FLASH_RES, ...FLASH_FWD.slice(0, 3)], (_b, xs) => [xs[4]!, xs[5]!]) };
const FLASH_BWD = { ...FLASH_FLAGS, body: graph("attention_bwd", [...FLASH_FWD, ...FLASH_RES, ...FLASH_RES], (_b, xs) => xs.slice(0, 3)) };
const MOE_JVP = { ...MOE_FLAGS, body: graph("moe_jvp", [...MOE_TYPES, ...MOE_TYPES], (_b, xs) => [xs[4]!]) };
const MOE_BWD = { ...MOE_FLAGS, body: graph("moe_bwd", [...MOE_TYPES, MOE_TYPES[0]!], (_b, xs) => xs.slice(0, 4)) };
const DOT = { lhs_contract: [1], rhs_contract: [0], lhs_batch: [], rhs_batch: [] };

const infer = (prim: Primitive, inputs: AbstractValue[], params: object) =>
  inferTypes(prim, inputs, params as PrimitiveParams[Primitive]);

const FLOAT_ONLY = UNARY_OPS.filter((op) => !["neg", "abs", "sign", "not"].includes(op));

const valid: Valid[] = [
  ...UNARY_OPS.filter((op) => op !== "not").map((op): Valid => [op, [f32(2, 3)], {}, [f32(2, 3)]]),
  ...(["neg", "abs", "sign"] as const).map((op): Valid => [op, [i32(4)], {}, [i32(4)]]),
  ["abs", [u32(4)], {}, [u32(4)]],
  ["not", [bool(2)], {}, [bool(2)]],
  ["neg", [f32()], {}, [f32()]],
  ...BINARY_OPS.filter((op) => op !== "and" && op !== "or").map((op): Valid => [op, [f32(3), f32(3)], {}, [f32(3)]]),
  ["add", [u32(2, 2), u32(2, 2)], {}, [u32(2, 2)]],
  ["and", [bool(3), bool(3)], {}, [bool(3)]],
  ["or", [bool(), bool()], {}, [bool()]],
  ...COMPARE_OPS.map((op): Valid => [op, [i32(2, 5), i32(2, 5)], {}, [bool(2, 5)]]),
  ["eq", [bool(2), bool(2)], {}, [bool(2)]],
  ["select", [bool(2, 3), f32(2, 3), f32(2, 3)], {}, [f32(2, 3)]],
  ["cast", [f32(4)], { dtype: "i32" }, [i32(4)]],
  ["cast", [bool()], { dtype: "f32" }, [f32()]],
  ["iota", [], { shape: [4, 3], dim: 1, dtype: "i32" }, [i32(4, 3)]],
  ["iota", [], { shape: [5], dim: 0, dtype: "f32" }, [f32(5)]],
  ["constant", [], { value: [1], shape: [2, 2], dtype: "f32" }, [f32(2, 2)]],
  ["constant", [], { value: [1, 2, 3, 4], shape: [2, 2], dtype: "i32" }, [i32(2, 2)]],
  ["constant", [], { value: [7], shape: [], dtype: "u32" }, [u32()]],
  ["constant", [], { value: [], shape: [0], dtype: "f32" }, [f32(0)]],
  ["broadcast_in_dim", [f32(3)], { shape: [2, 3], dims: [1] }, [f32(2, 3)]],
  ["broadcast_in_dim", [f32(1, 3)], { shape: [4, 3], dims: [0, 1] }, [f32(4, 3)]],
  ["broadcast_in_dim", [f32()], { shape: [2, 2], dims: [] }, [f32(2, 2)]],
  ["reshape", [f32(2, 3)], { shape: [3, 2] }, [f32(3, 2)]],
  ["reshape", [f32(1, 1)], { shape: [] }, [f32()]],
  ["transpose", [f32(2, 3, 4)], { perm: [2, 0, 1] }, [f32(4, 2, 3)]],
  ["slice", [f32(5, 6)], { start: [1, 0], limit: [4, 6], strides: [1, 4] }, [f32(3, 2)]],
  ["slice", [f32(5)], { start: [2], limit: [2], strides: [1] }, [f32(0)]],
  ["pad", [f32(2, 3)], { low: [1, 0], high: [2, 3], value: 0 }, [f32(5, 6)]],
  ["concatenate", [f32(2, 3), f32(4, 3), f32(1, 3)], { axis: 0 }, [f32(7, 3)]],
  ["concatenate", [i32(2, 3)], { axis: 1 }, [i32(2, 3)]],
  ...REDUCE_OPS.map((op): Valid => [op, [f32(2, 3, 4)], { axes: [0, 2] }, [f32(3)]]),
  ["reduce_sum", [i32(2, 3)], { axes: [] }, [i32(2, 3)]],
  ["reduce_max", [f32(2, 3)], { axes: [1, 0] }, [f32()]],
  ["argmax", [f32(2, 3, 4)], { axis: 1 }, [i32(2, 4)]],
  ["cumsum", [i32(2, 3)], { axis: 1, reverse: true }, [i32(2, 3)]],
  ["top_k", [f32(3, 8)], { k: 2 }, [f32(3, 2), i32(3, 2)]],
  ["top_k", [u32(5)], { k: 5 }, [u32(5), i32(5)]],
  ["dot_general", [f32(2, 3), f32(3, 4)], DOT, [f32(2, 4)]],
  ["dot_general", [f32(5, 2, 3), f32(4, 3, 5)], { lhs_contract: [2], rhs_contract: [1], lhs_batch: [0], rhs_batch: [2] }, [f32(5, 2, 4)]],
  ["dot_general", [i32(2), i32(3)], { lhs_contract: [], rhs_contract: [], lhs_batch: [], rhs_batch: [] }, [i32(2, 3)]],
  ["gather", [f32(10, 4), i32(3, 2)], { axis: 0 }, [f32(3, 2, 4)]],
  ["gather", [f32(10, 4), u32()], { axis: 1 }, [f32(10)]],
  ["scatter_add", [f32(10, 4), i32(3), f32(3, 4)], { axis: 0 }, [f32(10, 4)]],
  ["jit", [f32(2), i32()], { callee }, [f32(2), i32()]],
  ["fusion", [f32(4)], FUSION, [f32(4)]],
  ["flash_attention", [f32(4, 3, 8), f32(2, 5, 8), f32(2, 5, 6), f32(1, 3, 5)], FLASH, [f32(4, 3, 6), f32(4, 3)]],
  ["flash_attention_jvp", [...FLASH_FWD, ...FLASH_RES, ...FLASH_FWD.slice(0, 3)], FLASH_JVP, FLASH_RES],
  ["flash_attention_bwd", [...FLASH_FWD, ...FLASH_RES, ...FLASH_RES], FLASH_BWD, FLASH_FWD.slice(0, 3)],
  ["moe_ffn", MOE_TYPES, MOE, [f32(5, 8)]],
  ["moe_ffn_jvp", [...MOE_TYPES, ...MOE_TYPES], MOE_JVP, [f32(5, 8)]],
  ["moe_ffn_bwd", [...MOE_TYPES, f32(5, 8)], MOE_BWD, MOE_TYPES],
];

const invalid: Invalid[] = [
  // arity, checked before any rule
  ["add", [f32(2)], {}, "expects 2 operand(s), got 1"],
  ["neg", [f32(2), f32(2)], {}, "expects 1 operand(s), got 2"],
  ["iota", [f32(2)], { shape: [2], dim: 0, dtype: "f32" }, "expects 0 operand(s), got 1"],
  // unary
  ["not", [f32(2)], {}, "needs a bool operand, got f32"],
  ...FLOAT_ONLY.map((op): Invalid => [op, [i32(2)], {}, "needs a floating-point operand, got i32"]),
  ...(["neg", "abs", "sign"] as const).map((op): Invalid => [op, [bool(2)], {}, "is not defined on bool"]),
  ["neg", [u32(2)], {}, "is not defined on u32"],
  // binary and compare
  ...BINARY_OPS.map((op): Invalid => [op, [f32(2), i32(2)], {}, "operand dtypes differ (f32 vs i32)"]),
  ...COMPARE_OPS.map((op): Invalid => [op, [i32(2), i32(3)], {}, "operand shapes differ: [2] vs [3]"]),
  ["mul", [f32(2, 3), f32(3, 2)], {}, "operand shapes differ: [2,3] vs [3,2]"],
  ["sub", [f32(3), f32(1, 3)], {}, "operand shapes differ: [3] vs [1,3]"],
  ["and", [i32(2), i32(2)], {}, "needs bool operands, got i32"],
  ["max", [bool(2), bool(2)], {}, "is not defined on bool"],
  ["pow", [i32(2), i32(2)], {}, "needs floating-point operands, got i32"],
  ["lt", [f32(2), u32(2)], {}, "operand dtypes differ (f32 vs u32)"],
  ["eq", [f32(2), f32(3)], {}, "operand shapes differ: [2] vs [3]"],
  // select, cast
  ["select", [f32(2), f32(2), f32(2)], {}, "predicate must be bool, got f32"],
  ["select", [bool(2), f32(2), i32(2)], {}, "operand dtypes differ (f32 vs i32)", [f32(2), i32(2)]],
  ["select", [bool(2), f32(2), f32(3)], {}, "operand shapes differ: [2] vs [3]", [f32(2), f32(3)]],
  ["select", [bool(3), f32(2), f32(2)], {}, "predicate shape [3] differs from operand shape [2]"],
  ["cast", [f32(2)], { dtype: "f16" }, "unknown dtype 'f16'"],
  // creation
  ["iota", [], { shape: [2, -1], dim: 0, dtype: "i32" }, "shape [2,-1] must hold non-negative integers"],
  ["iota", [], { shape: [2.5], dim: 0, dtype: "i32" }, "shape [2.5] must hold non-negative integers"],
  ["iota", [], { shape: [2, 3], dim: 2, dtype: "i32" }, "dim 2 is out of range for rank 2"],
  ["iota", [], { shape: [2, 3], dim: -1, dtype: "i32" }, "dim -1 is out of range for rank 2"],
  ["iota", [], { shape: [4], dim: 0, dtype: "bool" }, "dtype must be numeric, got bool"],
  ["constant", [], { value: [1], shape: [-2], dtype: "f32" }, "shape [-2] must hold non-negative integers"],
  ["constant", [], { value: [1, 2, 3], shape: [2, 2], dtype: "f32" }, "has 3 values for shape [2,2] (4 elements; 1 means a splat)"],
  ["constant", [], { value: [1], shape: [2], dtype: "f64" }, "unknown dtype 'f64'"],
  // shape manipulation
  ["broadcast_in_dim", [f32(3)], { shape: [2, -3], dims: [1] }, "shape [2,-3] must hold non-negative integers"],
  ["broadcast_in_dim", [f32(2, 3)], { shape: [2, 3], dims: [0] }, "dims [0] must name one output axis per operand axis (rank 2)"],
  ["broadcast_in_dim", [f32(3)], { shape: [2, 3], dims: [2] }, "dim 2 is out of range for rank 2"],
  ["broadcast_in_dim", [f32(1, 1)], { shape: [2, 3], dims: [1, 0] }, "dims [1,0] must be strictly increasing"],
  ["broadcast_in_dim", [f32(3)], { shape: [2, 4], dims: [1] }, "operand axis 0 has size 3, cannot broadcast to size 4 of [2,4]"],
  ["reshape", [f32(2, 3)], { shape: [-1, 6] }, "shape [-1,6] must hold non-negative integers"],
  ["reshape", [f32(2, 3)], { shape: [4] }, "cannot reshape [2,3] (6 elements) to [4] (4 elements)"],
  ["transpose", [f32(2, 3)], { perm: [0] }, "perm [0] is not a permutation of 2 axes"],
  ["transpose", [f32(2, 3)], { perm: [1, 1] }, "perm [1,1] is not a permutation of 2 axes"],
  ["slice", [f32(2, 3)], { start: [0], limit: [2, 3], strides: [1, 1] }, "start/limit/strides need 2 entries each"],
  ["slice", [f32(2, 3)], { start: [0, 0], limit: [2, 3], strides: [1, 0] }, "stride 0 on axis 1 must be >= 1"],
  ["slice", [f32(2, 3)], { start: [0, 2], limit: [2, 1], strides: [1, 1] }, "axis 1: need 0 <= start (2) <= limit (1) <= size (3)"],
  ["slice", [f32(2, 3)], { start: [0, 0], limit: [3, 3], strides: [1, 1] }, "axis 0: need 0 <= start (0) <= limit (3) <= size (2)"],
  ["pad", [f32(2, 3)], { low: [1], high: [1, 1], value: 0 }, "low/high need 2 entries each"],
  ["pad", [f32(2, 3)], { low: [1, -1], high: [0, 0], value: 0 }, "padding [1,-1] / [0,0] must be non-negative integers"],
  ["pad", [f32(2)], { low: [0], high: [0.5], value: 0 }, "padding [0] / [0.5] must be non-negative integers"],
  ["concatenate", [], { axis: 0 }, "needs at least one operand"],
  ["concatenate", [f32(2, 3), f32(2, 3)], { axis: 2 }, "axis 2 is out of range for rank 2"],
  ["concatenate", [f32(2, 3), i32(2, 3)], { axis: 0 }, "operand dtypes differ"],
  ["concatenate", [f32(2, 3), f32(2, 4)], { axis: 0 }, "operand shapes must agree except on axis 0"],
  ["concatenate", [f32(2, 3), f32(2)], { axis: 0 }, "operand shapes must agree except on axis 0"],
  // reductions and scans
  ...REDUCE_OPS.map((op): Invalid => [op, [f32(2, 3)], { axes: [2] }, "axes 2 is out of range for rank 2"]),
  ["reduce_sum", [f32(2, 3)], { axes: [1, 1] }, "axes [1,1] repeat an axis"],
  ["reduce_min", [bool(2)], { axes: [0] }, "is not defined on bool (cast first)"],
  ["argmax", [f32(2, 3)], { axis: 2 }, "axis 2 is out of range for rank 2"],
  ["argmax", [f32()], { axis: 0 }, "axis 0 is out of range for rank 0"],
  ["argmax", [f32(0, 3)], { axis: 0 }, "axis 0 is empty"],
  ["argmax", [bool(3)], { axis: 0 }, "is not defined on bool"],
  ["cumsum", [f32(3)], { axis: 1, reverse: false }, "axis 1 is out of range for rank 1"],
  ["cumsum", [bool(3)], { axis: 0, reverse: false }, "is not defined on bool"],
  ["top_k", [f32()], { k: 1 }, "needs an operand of rank >= 1"],
  ["top_k", [f32(2, 8)], { k: 0 }, "k = 0 must be in [1, 8] (size of the last axis)"],
  ["top_k", [f32(2, 8)], { k: 9 }, "k = 9 must be in [1, 8] (size of the last axis)"],
  ["top_k", [bool(4)], { k: 1 }, "is not defined on bool"],
  // contraction and indexing
  ["dot_general", [f32(2, 3), i32(3, 4)], DOT, "operand dtypes differ (f32 vs i32)"],
  ["dot_general", [bool(2, 3), bool(3, 4)], DOT, "is not defined on bool"],
  ["dot_general", [f32(2, 3), f32(3, 4)], { ...DOT, rhs_contract: [] }, "lhs and rhs must name as many contracting and batch dims"],
  ["dot_general", [f32(2, 3), f32(3, 4)], { ...DOT, lhs_batch: [0], rhs_batch: [] }, "lhs and rhs must name as many contracting and batch dims"],
  ["dot_general", [f32(2, 3), f32(3, 4)], { ...DOT, lhs_contract: [2] }, "lhs dims 2 is out of range for rank 2"],
  ["dot_general", [f32(2, 2), f32(2, 2)], { ...DOT, lhs_batch: [1], rhs_batch: [1] }, "lhs dims [1,1] repeat an axis"],
  ["dot_general", [f32(2, 3), f32(3, 4)], { ...DOT, rhs_contract: [5] }, "rhs dims 5 is out of range for rank 2"],
  ["dot_general", [f32(2, 3), f32(4, 3)], DOT, "contracting dims differ: lhs axis 1 is 3, rhs axis 0 is 4"],
  ["dot_general", [f32(5, 2, 3), f32(6, 3, 4)], { lhs_contract: [2], rhs_contract: [1], lhs_batch: [0], rhs_batch: [0] }, "batch dims differ: lhs axis 0 is 5, rhs axis 0 is 6"],
  ["gather", [f32(10, 4), i32(3)], { axis: 2 }, "axis 2 is out of range for rank 2"],
  ["gather", [f32(10, 4), f32(3)], { axis: 0 }, "indices must be i32 or u32, got f32"],
  ["scatter_add", [f32(10, 4), i32(3), f32(3, 4)], { axis: 2 }, "axis 2 is out of range for rank 2"],
  ["scatter_add", [f32(10, 4), bool(3), f32(3, 4)], { axis: 0 }, "indices must be i32 or u32, got bool"],
  ["scatter_add", [f32(10, 4), i32(3), i32(3, 4)], { axis: 0 }, "updates dtype i32 differs from operand dtype f32"],
  ["scatter_add", [bool(10, 4), i32(3), bool(3, 4)], { axis: 0 }, "is not defined on bool"],
  ["scatter_add", [f32(10, 4), i32(3), f32(2, 4)], { axis: 0 }, "updates shape [2,4] must be [3,4]"],
  // calls
  ["jit", [f32(2)], { callee }, "@g takes 2 operand(s), got 1"],
  ["jit", [f32(3), i32()], { callee }, "operand 0 is f32[3], @g expects f32[2]"],
  ["jit", [f32(2), u32()], { callee }, "operand 1 is u32[], @g expects i32[]"],
  ["fusion", [f32(4), f32(4)], FUSION, "@fused takes 1 operand(s), got 2"],
  ["fusion", [i32(4)], FUSION, "operand 0 is i32[4], @fused expects f32[4]"],
  ["flash_attention", [f32(4, 3, 8), f32(2, 5, 8), f32(2, 5, 6)], FLASH, "takes q, k, v, bias (4 operands), got 3"],
  ["flash_attention", [f32(4, 3, 8), f32(3, 5, 8), f32(3, 5, 6), f32(1, 3, 5)], FLASH, "q's 4 groups are not a multiple of k/v's 3"],
  ["flash_attention", [f32(4, 3, 8), f32(2, 5, 7), f32(2, 5, 6), f32(1, 3, 5)], FLASH, "q and k head_dim differ (8 vs 7)"],
  ["flash_attention", [f32(4, 3, 8), f32(2, 5, 8), f32(2, 5, 6), f32(2, 3, 5)], FLASH, "bias must be f32[4 or 1, 3 or 1, 5 or 1]"],
  ["flash_attention_jvp", [...FLASH_FWD, ...FLASH_RES, ...FLASH_FWD.slice(0, 2)], FLASH_JVP, "takes the forward's 4 operands, out, lse and dq, dk, dv (9 operands), got 8"],
  ["flash_attention_bwd", [...FLASH_FWD, ...FLASH_RES, f32(4, 3, 5), f32(4, 3)], FLASH_BWD, "operand 6 is f32[4,3,5], expected f32[4,3,6]"],
  ["moe_ffn", [f32(5, 8), f32(8, 4), f32(4, 8, 6)], MOE, "takes x, gate, w1, w2 (4 operands), got 3"],
  ["moe_ffn", [f32(5, 8), f32(8, 4), f32(4, 8, 6), f32(4, 6, 7)], MOE, "w2 must be [4,6,8] for T = 5, d = 8, E = 4, h = 6, got [4,6,7]"],
  ["moe_ffn", MOE_TYPES, { ...MOE, k: 5 }, "k = 5 must be in [1, 4]"],
  ["moe_ffn", MOE_TYPES, { ...MOE, router: "sigmoid" }, 'router = "sigmoid" must be one of "topk_softmax", "softmax_topk", "softmax_topk_norm"'],
  ["moe_ffn", MOE_TYPES, { ...MOE, gated: true }, "takes x, gate, w1, w3, w2 (5 operands), got 4"],
  ["moe_ffn", [...MOE_TYPES.slice(0, 3), f32(4, 8, 5), MOE_TYPES[3]!], { ...MOE, gated: true }, "w3 must be [4,8,6]"],
  ["moe_ffn_jvp", [...MOE_TYPES, ...MOE_TYPES.slice(0, 3)], MOE_JVP, "takes the forward's 4 operands, then a tangent of each (8 operands), got 7"],
  ["moe_ffn_bwd", [...MOE_TYPES, f32(5, 7)], MOE_BWD, "operand 4 is f32[5,7], expected f32[5,8]"],
  ["moe_ffn_bwd", [MOE_TYPES[0]!, f32(7, 4), ...MOE_TYPES.slice(2), f32(5, 8)], MOE_BWD, "gate must be [8,4]"],
];

const label = ([prim, inputs, params]: Valid | Invalid) =>
  `${prim}(${inputs.map(formatType).join(", ")}) ${JSON.stringify(params, (k, v) => (k === "callee" || k === "body" ? "@graph" : v))}`;

describe("shape rules on valid operands", () => {
  it("every primitive in the registry has a valid case here", () => {
    const covered = new Set(valid.map(([p]) => p));
    expect(allPrimitives().filter((p) => !covered.has(p))).toEqual([]);
  });

  it.each(valid.map((c) => [label(c), c] as const))("%s", (_, [prim, inputs, params, outputs]) => {
    expect(infer(prim, inputs, params).map(formatType)).toEqual(outputs.map(formatType));
  });
});

describe("shape rules reject bad operands with a ShapeError naming the primitive and the shapes", () => {
  it("every primitive in the registry has a rejected case here", () => {
    const covered = new Set(invalid.map(([p]) => p));
    expect(allPrimitives().filter((p) => !covered.has(p))).toEqual([]);
  });

  it.each(invalid.map((c) => [label(c), c] as const))("%s", (_, [prim, inputs, params, fragment, named = inputs]) => {
    let err: unknown;
    try {
      infer(prim, inputs, params);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ShapeError);
    const e = err as ShapeError;
    expect(e.primitive).toBe(prim);
    expect(e.message.startsWith(`${prim}: `)).toBe(true);
    expect(e.detail).toContain(fragment);
    expect(e.operands).toEqual(named.map(formatType));
    for (const t of named) expect(e.message).toContain(formatType(t));
  });

  it("a rank-0 operand prints as dtype[]", () => {
    expect(() => infer("top_k", [f32()], { k: 1 })).toThrow("(operands: f32[])");
  });
});

describe("dtype names", () => {
  it.each(["f32", "i32", "u32", "bool"] as DType[])("%s casts to and from f32", (d) => {
    expect(infer("cast", [f32(2)], { dtype: d })).toEqual([ty(d, 2)]);
    expect(infer("cast", [ty(d, 2)], { dtype: "f32" })).toEqual([f32(2)]);
  });
});
