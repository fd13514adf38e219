/**
 * A fusion body as expressions: `BodyEval` evaluates any body value at an element position
 * by composing the pointwise builders of codegen/elementwise.ts through the body's index
 * maps (the contract in passes/fuse.ts: elementwise ops pass the position through,
 * broadcast_in_dim and reshape map it to their operand, an input is loaded at its
 * row-major offset, a splat constant is its literal, iota is the coordinate).
 *
 * A *site* is one position every value of a kernel step shares (the invocation's element,
 * one cached element of a row, the row itself): each value is named once per site, so a
 * value read twice (x - mean squared and scaled) is computed once, and a row element
 * loaded in a reduction's pass is still a register in the next pass. Values reached
 * through a broadcast are read at another position: they are recomputed inline there,
 * which the fuse pass allows only for cheap values.
 */
import type { Graph, Node, Value } from "../ir/graph.js";
import { printIR } from "../ir/print.js";
import { type Index, type Reader, pointwiseExpr } from "./elementwise.js";
import { type Binding, type Expr, BodyBuilder, load } from "./kernel.js";
import { LoweringError, asPointwise } from "./lower.js";

export interface Site {
  /** The position this site stands for; values evaluated there are named and remembered. */
  readonly at: Index;
  readonly memo: Map<Value, Expr>;
  /** Values this site takes as given instead of computing them (a matmul's product, a row's reductions). */
  readonly given?: (v: Value) => Expr | undefined;
}

export const site = (at: Index, given?: (v: Value) => Expr | undefined): Site =>
  given ? { at, memo: new Map(), given } : { at, memo: new Map() };

const VIEW_HINT: Partial<Record<string, string>> = { broadcast_in_dim: "bcast", reshape: "reshaped" };

export class BodyEval {
  private readonly producer = new Map<Value, Node>();
  private readonly inputIndex = new Map<Value, number>();

  constructor(
    readonly body: Graph,
    /** Binding names of the body's inputs, in order. */
    readonly inputNames: readonly string[],
    /** Prefix of every name this evaluator declares (keeps an epilogue clear of a template's names). */
    private readonly prefix = "",
  ) {
    body.inputs.forEach((v, i) => this.inputIndex.set(v, i));
    for (const n of body.nodes) for (const v of n.outputs) this.producer.set(v, n);
  }

  producerOf(v: Value): Node | undefined {
    return this.producer.get(v);
  }

  isInput(v: Value): boolean {
    return this.inputIndex.has(v);
  }

  /** The binding an input is loaded from. */
  inputName(v: Value): string {
    const i = this.inputIndex.get(v);
    if (i === undefined) throw new LoweringError(`@${this.body.name}: a matmul operand must be a body input (fusion contract)`);
    return this.inputNames[i]!;
  }

  /** Follows broadcast_in_dim/reshape back from `v` to the value they view. */
  throughViews(v: Value): Value {
    for (let n = this.producer.get(v); n && (n.prim === "broadcast_in_dim" || n.prim === "reshape"); n = this.producer.get(v)) v = n.inputs[0]!;
    return v;
  }

  /** Body value `v` at position `at` (of v's shape), emitting into `b`. */
  eval(v: Value, b: BodyBuilder, at: Index, s: Site): Expr {
    const given = s.given?.(v);
    if (given) return given;
    const home = at === s.at;
    const hit = home ? s.memo.get(v) : undefined;
    if (hit) return hit;
    const i = this.inputIndex.get(v);
    let e: Expr, hint: string;
    if (i !== undefined) {
      e = load(v.dtype, this.inputNames[i]!, at.linear());
      hint = `${this.inputNames[i]!}_v`;
    } else {
      const n = this.producer.get(v);
      if (!n) throw new LoweringError(`@${this.body.name}: a value has no producer`);
      const readers: Reader[] = n.inputs.map((u) => (bb, pos) => this.eval(u, bb, pos, s));
      e = pointwiseExpr(asPointwise(n), readers, b, at);
      hint = VIEW_HINT[n.prim] ?? n.prim;
    }
    const named = b.let(this.prefix + hint, e);
    if (home) s.memo.set(v, named);
    return named;
  }
}

/** Bindings of a fusion kernel: `in0…` read, `out0…` written, in operand and result order. */
export function fusionBindings(node: Node<"fusion">): Binding[] {
  return [
    ...node.inputs.map((v, i) => ({ name: `in${i}`, dtype: v.dtype, access: "read" as const })),
    ...node.outputs.map((v, i) => ({ name: `out${i}`, dtype: v.dtype, access: "read_write" as const })),
  ];
}

/** A builder whose names never shadow a binding, opened by the body's text as comments. */
export function fusionBuilder(node: Node<"fusion">, bindings: readonly Binding[]): BodyBuilder {
  const b = new BodyBuilder(new Map(bindings.map((x) => [x.name, 1])));
  for (const line of printIR(node.params.body).trimEnd().split("\n")) b.comment(line);
  return b;
}
