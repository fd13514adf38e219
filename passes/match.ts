/**
 * The graph pattern matcher the pattern passes (attention, moe) share. A pattern is a
 * small tree: `op(prim, operands)` matches the node producing a value and recurses into
 * its operands, `any()` matches any value, `capture(name, p)` names what `p` matched,
 * `same(name)` requires the value captured earlier (softmax reads `x` twice), `either`
 * tries alternatives, `oneUse(p)` requires a value nobody else reads (so replacing its
 * producer is safe), and `.where(says, test)` adds a predicate on a node's attributes or
 * types. `through(prims, p)` (or `looseLayout(p)`) lets the sub-pattern look through
 * layout nodes (broadcast_in_dim, reshape, transpose, cast) between a value and the op it
 * expects; every node looked through is listed in the match, so a pass can check what it
 * crossed. Binary ops that commute (add, mul, max, min, eq, ne, and, or) try both
 * operand orders.
 *
 * A failed match says where and why: the path of ops and operand positions from the root
 * to the sub-pattern that failed (`div#1 broadcast_in_dim#0 reduce_sum`) and a reason
 * (`reduce_sum {axes=[0]} of f32[4,8] fails "reduces the last axis"`); among alternatives
 * the one that got furthest is reported. Passes put these in their dump notes.
 */
import { formatType } from "../ir/dtype.js";
import type { Graph, Node, Value } from "../ir/graph.js";
import type { Primitive, PrimitiveParams } from "../ir/primitives.js";

/** The layout nodes `looseLayout` looks through. */
export const LAYOUT_PRIMS: readonly Primitive[] = ["broadcast_in_dim", "reshape", "transpose", "cast"];

const COMMUTATIVE: ReadonlySet<Primitive> = new Set<Primitive>(["add", "mul", "max", "min", "eq", "ne", "and", "or"]);

/** What a match has bound so far, readable by predicates. */
export interface Captures {
  readonly values: ReadonlyMap<string, Value>;
  readonly nodes: ReadonlyMap<string, Node>;
}

interface NodeCheck {
  readonly says: string;
  readonly test: (node: Node, captures: Captures) => boolean;
}

interface ValueCheck {
  readonly says: string;
  readonly test: (value: Value, captures: Captures) => boolean;
}

/** Matches the node of primitive `prim` producing the value, then its operands. */
export class OpPattern<P extends Primitive = Primitive> {
  readonly kind = "op";
  constructor(
    readonly prim: P,
    /** One pattern per operand; undefined: operands are not looked at. */
    readonly operands: readonly Pattern[] | undefined,
    readonly checks: readonly NodeCheck[],
    /** For a node with several results (top_k): which one the value must be; undefined: any. */
    readonly resultIndex?: number,
  ) {}
  /** Also require `test` (said as `says`, e.g. "reduces the last axis"); it runs after the operands matched. */
  where(says: string, test: (node: Node<P>, captures: Captures) => boolean): OpPattern<P> {
    return new OpPattern(this.prim, this.operands, [...this.checks, { says, test: test as NodeCheck["test"] }], this.resultIndex);
  }
  /** Require the value to be result `index` of the node (top_k's indices are result 1). */
  result(index: number): OpPattern<P> {
    return new OpPattern(this.prim, this.operands, this.checks, index);
  }
}

export type Pattern =
  | OpPattern
  | { readonly kind: "any"; readonly checks: readonly ValueCheck[] }
  | { readonly kind: "capture"; readonly name: string; readonly inner: Pattern }
  | { readonly kind: "same"; readonly name: string }
  | { readonly kind: "oneUse"; readonly inner: Pattern }
  | { readonly kind: "through"; readonly prims: ReadonlySet<Primitive>; readonly inner: Pattern }
  | { readonly kind: "either"; readonly options: readonly Pattern[] };

export const op = <P extends Primitive>(prim: P, operands?: readonly Pattern[]): OpPattern<P> =>
  new OpPattern(prim, operands, []);
/** Any value; with a test, any value passing it (`any("is f32", (v) => v.dtype === "f32")`). */
export const any = (says?: string, test?: ValueCheck["test"]): Pattern => ({
  kind: "any",
  checks: says && test ? [{ says, test }] : [],
});
export const capture = (name: string, inner: Pattern = any()): Pattern => ({ kind: "capture", name, inner });
export const same = (name: string): Pattern => ({ kind: "same", name });
export const oneUse = (inner: Pattern): Pattern => ({ kind: "oneUse", inner });
export const either = (...options: Pattern[]): Pattern => ({ kind: "either", options });
export const through = (prims: readonly Primitive[], inner: Pattern): Pattern => ({ kind: "through", prims: new Set(prims), inner });
export const looseLayout = (inner: Pattern): Pattern => through(LAYOUT_PRIMS, inner);

/**
 * A splat constant (looking through its broadcast under `looseLayout`): any splat, or one
 * equal to `value` within a relative `tolerance`.
 */
export function splat(value?: number, tolerance = 1e-6): OpPattern<"constant"> {
  const isSplat = op("constant").where("is a splat", (n) => n.params.value.length === 1);
  if (value === undefined) return isSplat;
  return isSplat.where(`equals ${value}`, (n) => {
    const x = n.params.value[0]!;
    return x === value || Math.abs(x - value) <= tolerance * Math.max(1, Math.abs(value));
  });
}

export interface Match {
  /** The value the whole pattern matched. */
  readonly root: Value;
  readonly values: ReadonlyMap<string, Value>;
  readonly nodes: ReadonlyMap<string, Node>;
  /** Every node an `op` pattern matched, operands before their consumers. */
  readonly matched: readonly Node[];
  /** Every layout node looked through. */
  readonly views: readonly Node[];
}

export interface Miss {
  readonly root: Value;
  /** Ops and operand positions from the root to the failing sub-pattern, e.g. `div#0 exp#0 sub`. */
  readonly path: string;
  readonly reason: string;
  /** How many op patterns matched before the failure: the nearer the match, the higher. */
  readonly depth: number;
}

export type MatchResult = { readonly ok: true; readonly match: Match } | { readonly ok: false; readonly miss: Miss };

/** Says a miss in one line, for a pass's notes. */
export const explainMiss = (m: Miss) => `${m.path ? `at ${m.path}: ` : ""}${m.reason}`;

interface State {
  readonly values: ReadonlyMap<string, Value>;
  readonly nodes: ReadonlyMap<string, Node>;
  readonly matched: readonly Node[];
  readonly views: readonly Node[];
  readonly depth: number;
}

type Step = { readonly ok: true; readonly state: State; readonly at: Value } | { readonly ok: false; readonly miss: Omit<Miss, "root"> };

interface Where {
  readonly through: ReadonlySet<Primitive>;
  readonly path: readonly string[];
}

const describeValue = (v: Value) => `%${v.hint ?? v.id} ${formatType(v.type)}`;
const describeNode = (n: Node) => {
  const attrs = Object.entries(n.params as Record<string, unknown>)
    .filter(([, x]) => Array.isArray(x) || typeof x !== "object")
    .map(([k, x]) => `${k}=${Array.isArray(x) ? `[${x}]` : String(x)}`);
  const operands = n.inputs.length ? ` of ${n.inputs.map((v) => formatType(v.type)).join(", ")}` : "";
  return `${n.prim}${attrs.length ? ` {${attrs.join(", ")}}` : ""}${operands}`;
};

/** Matches patterns against the values of one graph. */
export class Matcher {
  private readonly producer = new Map<Value, Node>();
  private readonly readers = new Map<Value, Set<Node>>();
  private readonly results: ReadonlySet<Value>;

  constructor(readonly graph: Graph) {
    for (const n of graph.nodes) {
      for (const v of n.outputs) this.producer.set(v, n);
      for (const v of n.inputs) {
        const rs = this.readers.get(v) ?? new Set();
        this.readers.set(v, rs.add(n));
      }
    }
    this.results = new Set(graph.outputs);
  }

  /** How many nodes read `v` (a node reading it twice counts once), plus one if it is a result. */
  useCount(v: Value): number {
    return (this.readers.get(v)?.size ?? 0) + (this.results.has(v) ? 1 : 0);
  }

  /**
   * The values a match computes, other than its root, that something outside the match
   * reads (or that are results): replacing the match by one node must keep computing
   * these, so a pass usually requires none.
   */
  escapes(match: Match): Value[] {
    const inside = new Set<Node>([...match.matched, ...match.views]);
    const out: Value[] = [];
    for (const n of inside)
      for (const v of n.outputs)
        if (v !== match.root && (this.results.has(v) || [...(this.readers.get(v) ?? [])].some((r) => !inside.has(r)))) out.push(v);
    return out;
  }

  match(pattern: Pattern, root: Value): MatchResult {
    const start: State = { values: new Map(), nodes: new Map(), matched: [], views: [], depth: 0 };
    const step = this.step(pattern, root, start, { through: new Set(), path: [] });
    if (!step.ok) return { ok: false, miss: { root, ...step.miss } };
    const { values, nodes, matched, views } = step.state;
    return { ok: true, match: { root, values, nodes, matched, views } };
  }

  /**
   * Tries `pattern` at every value produced by a node of the root pattern's primitive,
   * last node first (so an enclosing match is found before one inside it). Misses that
   * matched at least `nearDepth` op patterns are returned as near-matches, nearest first.
   */
  find(pattern: Pattern, nearDepth = 2): { matches: Match[]; nearMisses: Miss[] } {
    const prim = rootPrimitive(pattern);
    const matches: Match[] = [], nearMisses: Miss[] = [];
    for (const n of [...this.graph.nodes].reverse()) {
      if (prim !== undefined && n.prim !== prim) continue;
      for (const v of n.outputs) {
        const r = this.match(pattern, v);
        if (r.ok) matches.push(r.match);
        else if (r.miss.depth >= nearDepth) nearMisses.push(r.miss);
      }
    }
    return { matches, nearMisses: nearMisses.sort((a, b) => b.depth - a.depth) };
  }

  private step(p: Pattern, v: Value, state: State, where: Where): Step {
    switch (p.kind) {
      case "any":
        return this.checkValue(p.checks, v, state, where);
      case "op":
        return this.matchOp(p, v, state, where);
      case "capture":
        return this.matchCapture(p.name, p.inner, v, state, where);
      case "same":
        return this.matchSame(p.name, v, state, where);
      case "oneUse":
        return this.matchOneUse(p.inner, v, state, where);
      case "through":
        return this.step(p.inner, v, state, { ...where, through: p.prims });
      case "either":
        return this.matchEither(p.options, v, state, where);
    }
  }

  private miss(where: Where, state: State, reason: string): Step {
    return { ok: false, miss: { path: where.path.join(" "), reason, depth: state.depth } };
  }

  private checkValue(checks: readonly ValueCheck[], v: Value, state: State, where: Where): Step {
    const failed = checks.find((c) => !c.test(v, state));
    return failed ? this.miss(where, state, `${describeValue(v)} fails "${failed.says}"`) : { ok: true, state, at: v };
  }

  /** `v` and the values below it through the layout nodes `where` allows, with the nodes crossed. */
  private layoutChain(v: Value, where: Where, stopAt?: Primitive): { value: Value; views: Node[] }[] {
    const chain = [{ value: v, views: [] as Node[] }];
    for (let p = this.producer.get(v); p && p.prim !== stopAt && where.through.has(p.prim); p = this.producer.get(v)) {
      v = p.inputs[0]!;
      chain.push({ value: v, views: [...chain[chain.length - 1]!.views, p] });
    }
    return chain;
  }

  private matchOp(p: OpPattern, v: Value, state: State, where: Where): Step {
    const { value: at, views } = this.layoutChain(v, where, p.prim).at(-1)!;
    const node = this.producer.get(at);
    const here = { ...where, path: [...where.path, p.prim] };
    const crossed = views.length ? ` (through ${views.map((n) => n.prim).join(", ")})` : "";
    if (!node) return this.miss(here, state, `${describeValue(at)}${crossed} is a graph input, not ${p.prim}`);
    if (node.prim !== p.prim) return this.miss(here, state, `${describeValue(at)}${crossed} is made by ${node.prim}, not ${p.prim}`);
    if (p.resultIndex !== undefined && node.outputs[p.resultIndex] !== at)
      return this.miss(here, state, `${describeValue(at)} is result ${node.outputs.indexOf(at)} of ${p.prim}, not result ${p.resultIndex}`);
    let inner: State = { ...state, views: [...state.views, ...views], depth: state.depth + 1 };
    if (p.operands) {
      if (p.operands.length !== node.inputs.length)
        return this.miss(here, inner, `${p.prim} has ${node.inputs.length} operand(s), the pattern gives ${p.operands.length}`);
      const step = this.matchOperands(p, node, inner, where);
      if (!step.ok) return step;
      inner = step.state;
    }
    const failed = p.checks.find((c) => !c.test(node, inner));
    if (failed) return this.miss(here, inner, `${describeNode(node)} fails "${failed.says}"`);
    return { ok: true, state: { ...inner, matched: [...inner.matched, node] }, at };
  }

  /** Operands in order; for a commutative binary op the swapped order too, keeping the nearer miss. */
  private matchOperands(p: OpPattern, node: Node, state: State, where: Where): Step {
    const orders = p.operands!.length === 2 && COMMUTATIVE.has(p.prim) ? [[0, 1], [1, 0]] : [p.operands!.map((_, i) => i)];
    let best: Step | undefined;
    for (const order of orders) {
      let s: Step = { ok: true, state, at: node.outputs[0]! };
      for (let k = 0; k < order.length && s.ok; k++) {
        const operand = order[k]!;
        s = this.step(p.operands![k]!, node.inputs[operand]!, s.state, { ...where, path: [...where.path, `${p.prim}#${operand}`] });
      }
      if (s.ok) return s;
      best = nearer(best, s);
    }
    return best!;
  }

  private matchCapture(name: string, inner: Pattern, v: Value, state: State, where: Where): Step {
    const step = this.step(inner, v, state, where);
    if (!step.ok) return step;
    const bound = step.state.values.get(name);
    if (bound && bound !== step.at)
      return this.miss(where, state, `${describeValue(step.at)} is not the value already captured as '${name}' (${describeValue(bound)})`);
    const node = this.producer.get(step.at);
    const nodes = node && step.state.matched.includes(node) ? new Map(step.state.nodes).set(name, node) : step.state.nodes;
    return { ok: true, at: step.at, state: { ...step.state, values: new Map(step.state.values).set(name, step.at), nodes } };
  }

  /** The captured value, or one reached from it or from `v` through allowed layout nodes. */
  private matchSame(name: string, v: Value, state: State, where: Where): Step {
    const want = state.values.get(name);
    if (!want) throw new Error(`pattern: same('${name}') comes before capture('${name}') in match order`);
    const mine = this.layoutChain(v, where), theirs = this.layoutChain(want, where);
    for (const a of mine) {
      const b = theirs.find((t) => t.value === a.value);
      if (b) return { ok: true, at: v, state: { ...state, views: [...state.views, ...a.views, ...b.views] } };
    }
    return this.miss(where, state, `${describeValue(v)} is not the value captured as '${name}' (${describeValue(want)})`);
  }

  /** The matched value, and every layout value crossed to reach it, have one reader each. */
  private matchOneUse(inner: Pattern, v: Value, state: State, where: Where): Step {
    const step = this.step(inner, v, state, where);
    if (!step.ok) return step;
    for (const { value } of this.layoutChain(v, where)) {
      const uses = this.useCount(value);
      if (uses > 1) return this.miss(where, state, `${describeValue(value)} has ${uses} uses; the pattern needs it used once`);
      if (value === step.at) break;
    }
    return step;
  }

  private matchEither(options: readonly Pattern[], v: Value, state: State, where: Where): Step {
    let best: Step | undefined;
    for (const o of options) {
      const s = this.step(o, v, state, where);
      if (s.ok) return s;
      best = nearer(best, s);
    }
    return best ?? this.miss(where, state, "either() has no alternatives");
  }
}

/** Of two failed attempts, the one that matched more before failing (the first on a tie). */
function nearer(best: Step | undefined, s: Step & { ok: false }): Step {
  return best && !best.ok && best.miss.depth >= s.miss.depth ? best : s;
}

/** The primitive the root of `p` must be produced by (through captures and wrappers), if one. */
function rootPrimitive(p: Pattern): Primitive | undefined {
  switch (p.kind) {
    case "op":
      return p.prim;
    case "capture":
    case "oneUse":
      return rootPrimitive(p.inner);
    default:
      // Under `through`, the root value may be a layout node above the op; `either` may differ per option.
      return undefined;
  }
}

/** Reduce axes as a sorted list (`where` predicates compare them to the axes they expect). */
export const reduceAxes = (n: Node<"reduce_sum" | "reduce_max" | "reduce_min">) =>
  [...(n.params as PrimitiveParams["reduce_sum"]).axes].sort((a, b) => a - b);
