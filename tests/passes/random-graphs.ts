/**
 * Property-test programs: random chains of elementwise, broadcast, reshape, reduction,
 * dot_general, layout ops (transpose, strided slice, pad, concatenate) and a few opaque
 * ops over the shapes of a row structure ([R,C], [R], [C],
 * scalars, [R*C], [C,C]), so fusion meets softmax-like, layer-norm-like and matmul-epilogue
 * patterns in every combination. Values stay finite-ish: exp only of -|x|, division only
 * by 1 + |x|.
 */
import fc from "fast-check";
import type { Graph, Value } from "../../ir/graph.js";
import { Tb } from "./graphs.js";

export interface Program {
  readonly r: number;
  readonly c: number;
  readonly ops: readonly { k: number; a: number; b: number; c: number }[];
  readonly outs: readonly number[];
}

export const programArb: fc.Arbitrary<Program> = fc.record({
  r: fc.integer({ min: 1, max: 4 }),
  c: fc.integer({ min: 1, max: 5 }),
  ops: fc.array(fc.record({ k: fc.nat(19), a: fc.nat(999), b: fc.nat(999), c: fc.nat(999) }), { minLength: 1, maxLength: 30, size: "max" }),
  outs: fc.array(fc.nat(999), { minLength: 1, maxLength: 3 }),
});

const UNARY = ["tanh", "sin", "neg", "abs", "logistic", "cos"] as const;
const BINARY = ["add", "sub", "mul", "max", "min"] as const;
const MATMUL = { lhs_contract: [1], rhs_contract: [0], lhs_batch: [], rhs_batch: [] };

export function buildProgram(p: Program): Graph {
  const { r, c } = p;
  const t = new Tb("random");
  const pool: Value[] = [
    t.input("f32", [r, c], "x"), t.input("f32", [r, c], "y"), t.input("f32", [c], "v"),
    t.input("f32", [r], "k"), t.input("f32", [c, c], "w"),
  ];
  const key = (v: Value) => v.shape.join(",");
  const pick = (i: number, shape?: readonly number[]): Value | undefined => {
    const xs = shape ? pool.filter((v) => key(v) === shape.join(",")) : pool;
    // Half the picks take one of the newest values, so chains grow deep rather than wide.
    return xs.length ? xs[i % 2 ? xs.length - 1 - ((i >> 1) % Math.min(xs.length, 3)) : i % xs.length] : undefined;
  };
  const D = [r, c], K = [r], V = [c], F = [r * c], W = [c, c];
  const add = (v: Value | undefined) => v && pool.push(v);
  for (const op of p.ops) {
    switch (op.k) {
      case 0: add(t.op(UNARY[op.b % UNARY.length]!, [pick(op.a)!])); break;
      case 1: {
        const a = pick(op.a)!;
        add(t.op(BINARY[op.c % BINARY.length]!, [a, pick(op.b, a.shape)!]));
        break;
      }
      case 2: {
        const from = [K, V, []][op.b % 3]!;
        const x = pick(op.a, from);
        add(x && t.bcast(x, D, from === K ? [0] : from === V ? [1] : []));
        break;
      }
      case 3: case 4: case 5: {
        const x = pick(op.a, D)!;
        const axes = op.k === 3 ? [1] : op.k === 4 ? [0] : [0, 1];
        add(t.op(op.c % 2 ? "reduce_max" : "reduce_sum", [x], { axes }));
        break;
      }
      case 6: add(t.full((op.c % 20) / 4 - 2, [...pick(op.a)!.shape])); break;
      case 7: {
        const flat = op.b % 2 === 0;
        const x = pick(op.a, flat ? D : F);
        add(x && t.op("reshape", [x], { shape: flat ? F : D }));
        break;
      }
      case 8: add(t.op("dot_general", [pick(op.a, D)!, pick(op.b, W)!], MATMUL)); break;
      case 9: {
        const a = pick(op.a)!, b = pick(op.b, a.shape)!;
        add(t.op("select", [t.op("gt", [a, b]), a, b]));
        break;
      }
      case 10: {
        const a = pick(op.a)!, b = pick(op.b, a.shape)!;
        add(t.op("div", [a, t.op("add", [t.full(1, [...a.shape]), t.op("abs", [b])])]));
        break;
      }
      case 11: add(t.op("cast", [t.op("cast", [t.op("mul", [pick(op.a, D)!, t.full(4, D)])], { dtype: "i32" })], { dtype: "f32" })); break;
      case 12: add(t.op("exp", [t.op("neg", [t.op("abs", [pick(op.a)!])])])); break;
      case 13: add(t.op("transpose", [pick(op.a, W)!], { perm: [1, 0] })); break;
      case 14: add(t.op("cast", [t.op("iota", [], { shape: D, dim: op.b % 2, dtype: "i32" })], { dtype: "f32" })); break;
      case 15: add(t.op("sqrt", [t.op("abs", [pick(op.a)!])])); break;
      case 16: {
        // Every other column (from 0 or 1), padded back to C with a constant.
        const x = pick(op.a, D)!, from = c > 1 ? op.b % 2 : 0, kept = Math.ceil((c - from) / 2);
        const s = t.op("slice", [x], { start: [0, from], limit: [r, c], strides: [1, 2] });
        add(t.op("pad", [s], { low: [0, op.c % (c - kept + 1)], high: [0, c - kept - (op.c % (c - kept + 1))], value: (op.c % 5) - 2 }));
        break;
      }
      case 17: {
        // Columns [0, j) of one value and [j, C) of another, side by side.
        const x = pick(op.a, D)!, y = pick(op.b, D)!, j = op.c % (c + 1);
        const parts = [
          ...(j > 0 ? [t.op("slice", [x], { start: [0, 0], limit: [r, j], strides: [1, 1] })] : []),
          ...(j < c ? [t.op("slice", [y], { start: [0, j], limit: [r, c], strides: [1, 1] })] : []),
        ];
        add(parts.length === 1 ? parts[0] : t.op("concatenate", parts, { axis: 1 }));
        break;
      }
      case 18: {
        // [R,C] transposed and flattened: a view no single stride describes.
        const x = pick(op.a, D)!;
        add(t.op("reshape", [t.op("transpose", [x], { perm: [1, 0] })], { shape: F }));
        break;
      }
      default: {
        // W read transposed as both operands of a matmul.
        const w = pick(op.a, W)!;
        add(t.op("dot_general", [t.op("transpose", [w], { perm: [1, 0] }), pick(op.b, W)!], MATMUL));
        break;
      }
    }
  }
  // Results are drawn from the computed values (inputs only when nothing was computed).
  const computed = pool.slice(5);
  const from = computed.length ? computed : pool;
  return t.build(p.outs.map((i) => from[from.length - 1 - (i % Math.min(from.length, 6))]!));
}
