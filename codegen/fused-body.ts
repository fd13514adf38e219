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
import { sameShape, stridesOf } from "../ir/dtype.js";
import { type StridedView, describeChain, storeView, viewThrough } from "../ir/view.js";
import type { Graph, Node, Value } from "../ir/graph.js";
import { REDUCE_OPS } from "../ir/primitives.js";
import { printIR } from "../ir/print.js";
import { type Index, type Reader, pointwiseExpr } from "./elementwise.js";
import { ravel } from "./indexing.js";
import { type Binding, type Expr, type Scalar, BodyBuilder, iadd, idiv, imul, load, u32 } from "./kernel.js";
import { type LoweredKernel, LoweringError, asPointwise, isNodeOf } from "./lower.js";

export interface Site {
  /** The position this site stands for; values evaluated there are named and remembered. */
  readonly at: Index;
  readonly memo: Map<Value, Expr>;
  /**
   * Values this site takes as given instead of computing them (a matmul's product, a row's
   * reductions, a group's vector loads); `home` says whether v is asked at the site's own
   * position or at one a view moved it to, where a value loaded for this element is not v's.
   */
  readonly given?: (v: Value, home: boolean) => Expr | undefined;
}

export const site = (at: Index, given?: (v: Value, home: boolean) => Expr | undefined): Site =>
  given ? { at, memo: new Map(), given } : { at, memo: new Map() };

const VIEW_HINT: Partial<Record<string, string>> = {
  broadcast_in_dim: "bcast", reshape: "reshaped", transpose: "transposed", slice: "sliced", pad: "padded",
};

/** Layout ops: a value one of them makes is read at another position of its operand. */
const VIEWS: ReadonlySet<string> = new Set(["broadcast_in_dim", "reshape", "transpose", "slice", "pad"]);

/** Ops evaluated at their operands' own position (elementwise math, select, cast). */
const positionPreserving = (n: Node) => !VIEWS.has(n.prim) && n.prim !== "concatenate" && n.prim !== "iota" && n.prim !== "constant" && n.prim !== "gather";

/** A body value read straight from an input's buffer through a strided view (a matmul operand). */
export interface StridedRead {
  readonly input: Value;
  readonly view: StridedView;
  /** The layout ops, nearest the input first (empty: the input itself). */
  readonly chain: readonly Node[];
}

/**
 * Evaluation is demand-driven and recursive, one level per value on the longest path
 * to an input. Past this depth, a value's operands at the same position are evaluated
 * first, in an explicit post-order, so the recursion finds them named: a fused chain of
 * any length then recurses only through views. Shallower bodies keep the plain order.
 */
const MAX_EVAL_DEPTH = 256;

export class BodyEval {
  private readonly producer = new Map<Value, Node>();
  private readonly inputIndex = new Map<Value, number>();
  /** Longest path from each value to a body input or source, in nodes. */
  private readonly depth = new Map<Value, number>();

  constructor(
    readonly body: Graph,
    /** Binding names of the body's inputs, in order. */
    readonly inputNames: readonly string[],
  ) {
    body.inputs.forEach((v, i) => this.inputIndex.set(v, i));
    for (const n of body.nodes) {
      const d = 1 + Math.max(0, ...n.inputs.map((u) => this.depth.get(u) ?? 0));
      for (const v of n.outputs) {
        this.producer.set(v, n);
        this.depth.set(v, d);
      }
    }
  }

  producerOf(v: Value): Node | undefined {
    return this.producer.get(v);
  }

  /** The binding an input is loaded from. */
  inputName(v: Value): string {
    const i = this.inputIndex.get(v);
    if (i === undefined) throw new LoweringError(`@${this.body.name}: a value expected to be a body input is computed in the body`);
    return this.inputNames[i]!;
  }

  isView(n: Node): boolean {
    return VIEWS.has(n.prim);
  }

  /** Follows layout ops back from `v` to the value they view. */
  throughViews(v: Value): Value {
    for (let n = this.producer.get(v); n && VIEWS.has(n.prim); n = this.producer.get(v)) v = n.inputs[0]!;
    return v;
  }

  /**
   * When `v` is made from a computed value by transposes and reshapes alone: that value and
   * the view of v's buffer a kernel computing it stores through (ir/view.ts, storeView).
   */
  storedThrough(v: Value): { value: Value; view: StridedView } | undefined {
    const chain: Node[] = [];
    for (let n = this.producer.get(v); n && (n.prim === "transpose" || n.prim === "reshape"); n = this.producer.get(v)) {
      chain.unshift(n);
      v = n.inputs[0]!;
    }
    if (!chain.length || this.inputIndex.has(v) || !this.producer.has(v)) return undefined;
    const view = storeView(v.shape, chain);
    return view && { value: v, view };
  }

  /** `v` as a strided view of a body input, when layout ops alone make it from one. */
  stridedRead(v: Value): StridedRead | undefined {
    const chain: Node[] = [];
    for (let n = this.producer.get(v); n; n = this.producer.get(v)) {
      chain.unshift(n);
      v = n.inputs[0]!;
    }
    if (!this.inputIndex.has(v)) return undefined;
    const view = viewThrough(v.shape, chain);
    return view && { input: v, view, chain };
  }

  /** Body value `v` at position `at` (of v's shape), emitting into `b`. */
  eval(v: Value, b: BodyBuilder, at: Index, s: Site): Expr {
    const home = at === s.at;
    const given = s.given?.(v, home);
    if (given) return given;
    const hit = home ? s.memo.get(v) : undefined;
    if (hit) return hit;
    if (home && (this.depth.get(v) ?? 0) > MAX_EVAL_DEPTH) this.evalOperandsFirst(v, b, s);
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
    const named = b.let(hint, e);
    if (home) s.memo.set(v, named);
    return named;
  }

  /**
   * Names, at `s`'s own position, every value `v` reads at that position (through
   * elementwise operands, not views), operands before readers, without recursing.
   */
  private evalOperandsFirst(v: Value, b: BodyBuilder, s: Site): void {
    const order: Value[] = [];
    const seen = new Set<Value>([v]);
    const samePosition = (u: Value): Value[] => {
      const n = this.producer.get(u);
      return !n || !positionPreserving(n) ? [] : [...n.inputs];
    };
    const stack = [{ value: v, operands: samePosition(v).reverse() }];
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      const u = top.operands.pop();
      if (u === undefined) {
        stack.pop();
        if (top.value !== v) order.push(top.value);
      } else if (!seen.has(u) && !s.memo.has(u) && !s.given?.(u, true)) {
        seen.add(u);
        stack.push({ value: u, operands: samePosition(u).reverse() });
      }
    }
    for (const u of order) this.eval(u, b, s.at, s);
  }
}

const isReduction = (n: Node) => (REDUCE_OPS as readonly string[]).includes(n.prim);

/** Bindings of a fusion kernel: `in0…` read, `out0…` written, in operand and result order. */
export function fusionBindings(node: Node<"fusion">): Binding[] {
  return [
    ...node.inputs.map((v, i) => ({ name: `in${i}`, dtype: v.dtype, access: "read" as const })),
    ...node.outputs.map((v, i) => ({ name: `out${i}`, dtype: v.dtype, access: "read_write" as const })),
  ];
}

/**
 * A builder whose names never shadow a binding, opened by the body's text as comments and
 * a line per input read through layout ops (`in1 read as slice[.., 0:768] ∘ transpose[1,0,2]`)
 * and per result stored through them.
 */
export function fusionBuilder(node: Node<"fusion">, bindings: readonly Binding[]): BodyBuilder {
  const b = new BodyBuilder(new Map(bindings.map((x) => [x.name, 1])));
  for (const line of printIR(node.params.body).trimEnd().split("\n")) b.comment(line);
  for (const line of viewLines(node.params.body)) b.comment(line);
  return b;
}

/** What a kernel listing says of the views in a fusion body: inputs read, and results stored, through layout ops. */
export function viewLines(body: Graph): string[] {
  const producer = new Map<Value, Node>();
  for (const n of body.nodes) for (const v of n.outputs) producer.set(v, n);
  const lines = new Set<string>();
  const readAs = (v: Value) => {
    const chain: Node[] = [];
    for (let n = producer.get(v); n && VIEWS.has(n.prim); n = producer.get(v)) {
      chain.unshift(n);
      v = n.inputs[0]!;
    }
    const i = body.inputs.indexOf(v);
    // Broadcasts and reshapes alone (a bias, a layer-norm gain) are the everyday index maps: not listed.
    const plain = chain.every((n) => n.prim === "broadcast_in_dim" || n.prim === "reshape");
    if (chain.length && i >= 0 && !plain) lines.add(`in${i} read as ${describeChain(chain)}`);
  };
  for (const n of body.nodes) if (!VIEWS.has(n.prim)) n.inputs.forEach(readAs);
  body.outputs.forEach((v, i) => {
    const chain: Node[] = [];
    for (let n = producer.get(v); n && (n.prim === "transpose" || n.prim === "reshape"); n = producer.get(v)) {
      chain.unshift(n);
      v = n.inputs[0]!;
    }
    if (chain.length && producer.has(v)) lines.add(`out${i} stored through ${describeChain(chain)}`);
  });
  return [...lines];
}

/**
 * Inputs a kernel may read four elements at a time, for a kernel that visits its domain
 * (the elementwise domain, or a reduction's D) in groups of 4 consecutive elements
 * starting at a multiple of 4. An input qualifies when every read of it is either at its
 * own element (its shape is the domain's) or through a broadcast_in_dim that keeps the
 * innermost axis whole when that axis is a multiple of 4 (a bias or a layer-norm gain of
 * shape [C]); either way a group's 4 elements are 4 consecutive addresses starting at a
 * multiple of 4. A bool input stays scalar (stored as a word).
 */
export class VectorReads {
  readonly inputs = new Set<Value>();

  constructor(private readonly ev: BodyEval, private readonly domain: readonly number[]) {
    const last = domain.length - 1;
    for (const v of ev.body.inputs) {
      if (v.dtype === "bool") continue;
      const uses = ev.body.nodes.filter((n) => n.inputs.includes(v));
      const ok = uses.every((n) => {
        if (!isNodeOf(n, "broadcast_in_dim")) return positionPreserving(n) && sameShape(v.shape, domain) && this.staysHome(n);
        const p = n.params;
        return sameShape(p.shape, domain) && domain[last]! % 4 === 0 && p.dims.at(-1) === last && v.shape.at(-1) === domain[last] && this.staysHome(n);
      });
      if (ok && uses.length) this.inputs.add(v);
    }
  }

  /**
   * Whether every value computed from `n`'s results at their own element (through elementwise
   * ops) is read only there: none reaches a layout op, a concatenation or anything else that
   * reads it at another element, where a group's vector load would be the wrong element (and
   * a scalar read of a vector binding would not type-check).
   */
  private staysHome(n: Node): boolean {
    if (isReduction(n)) return true;
    const seen = new Set<Node>();
    const stack = [n];
    while (stack.length) {
      const m = stack.pop()!;
      if (seen.has(m)) continue;
      seen.add(m);
      for (const out of m.outputs)
        for (const reader of this.ev.body.nodes.filter((r) => r.inputs.includes(out))) {
          if (!positionPreserving(reader)) return false;
          // A reduction reads the element where it is; what it makes is one value per row.
          if (!isReduction(reader)) stack.push(reader);
        }
    }
    return true;
  }

  /**
   * For one group: the reader of value v's component c, when v is a vector input read at its
   * own element or a broadcast of one; `first` is the group's first element, `vector` its
   * index in 4-vectors of the domain. Loads are emitted once per group, on first use.
   */
  group(bb: BodyBuilder, first: Index, vector: Expr): (v: Value, c: number) => Expr | undefined {
    const loads = new Map<string, Expr[]>();
    const load4 = (input: Value, index: () => Expr, key: string): Expr[] => {
      let comps = loads.get(key);
      if (!comps) {
        const name = this.ev.inputNames[this.ev.body.inputs.indexOf(input)]!;
        loads.set(key, (comps = bb.load4(`${name}_4`, input.dtype as Scalar, name, index())));
      }
      return comps;
    };
    return (v, c) => {
      if (this.inputs.has(v) && sameShape(v.shape, this.domain)) return load4(v, () => vector, `home:${this.ev.body.inputs.indexOf(v)}`)[c];
      const n = this.ev.producerOf(v);
      const src = n?.inputs[0];
      if (!n || !isNodeOf(n, "broadcast_in_dim") || !src || !this.inputs.has(src)) return undefined;
      const { dims } = n.params;
      const idx = first.idx();
      const at = src.shape.map((d, k) => (d === 1 ? u32(0) : idx[dims[k]!]!));
      return load4(src, () => quarter(ravel(at, stridesOf(src.shape))), `${this.ev.body.inputs.indexOf(src)}:${dims}`)[c];
    };
  }
}

/** e / 4 for an address known to be a multiple of 4, distributed over its terms where they show it (g·4 / 4 is g). */
function quarter(e: Expr): Expr {
  if (e.k === "const" && e.v % 4 === 0) return u32(e.v / 4);
  if (e.k === "bin" && e.op === "mul" && e.b.k === "const" && e.b.v % 4 === 0) return imul(e.a, u32(e.b.v / 4));
  if (e.k === "bin" && e.op === "add") {
    const [a, b] = [quarter(e.a), quarter(e.b)];
    if (!(a.k === "bin" && a.op === "div") && !(b.k === "bin" && b.op === "div")) return iadd(a, b);
  }
  return idiv(e, u32(4));
}

/**
 * A template node (flash_attention, moe_ffn) inside a fusion body: for each operand, the
 * fusion input it reads and the strided view it reads it through (an error naming the
 * operand if it is computed); and `remap`, which rewrites the node's kernels' arguments from
 * the node's operands and results to the fusion's.
 */
export function templateOperands(body: Graph, node: Node): { ev: BodyEval; reads: StridedRead[]; remap: (ks: LoweredKernel[], outputOf: readonly number[]) => LoweredKernel[] } {
  const ev = new BodyEval(body, []);
  const reads = node.inputs.map((v, i) => {
    const read = ev.stridedRead(v);
    if (!read) throw new LoweringError(`${node.prim} fusion @${body.name}: operand ${i} is no strided view of an input`);
    return read;
  });
  const inputOf = reads.map((r) => body.inputs.indexOf(r.input));
  // Each kernel's listing names the views the fusion reads and stores through.
  const notes = new BodyBuilder();
  for (const line of viewLines(body)) notes.comment(line);
  const remap = (ks: LoweredKernel[], outputOf: readonly number[]) => ks.map((k) => ({
    ...k,
    kernel: { ...k.kernel, body: [...notes.stmts, ...k.kernel.body] },
    args: k.args.map((a) => (a.kind === "in" ? { kind: "in" as const, index: inputOf[a.index]! } : a.kind === "out" ? { kind: "out" as const, index: outputOf[a.index]! } : a)),
  }));
  return { ev, reads, remap };
}
