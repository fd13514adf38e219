/**
 * The IR text printer. Its output is the grammar: the parser accepts exactly
 * this, and `print(parse(print(g))) === print(g)` is a tested law.
 *
 *   func @mlp(%x: f32[2,3], %w: f32[3,4]) -> (f32[2,4]) {
 *     %0 = dot_general %x, %w {lhs_contract=[1], rhs_contract=[0], lhs_batch=[], rhs_batch=[]} : f32[2,4]
 *     return %0
 *   }
 *
 * Sub-graphs print first, as functions of the same module, referenced by `@name`.
 */
import { formatType } from "./dtype.js";
import { type Graph, type Node, type Value, graphsInCallOrder } from "./graph.js";
import { type ParamKind, primitiveDef } from "./primitives.js";
import { block, render, type Doc } from "./pretty.js";

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function formatNumber(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (x === Infinity) return "inf";
  if (x === -Infinity) return "-inf";
  if (Object.is(x, -0)) return "-0";
  return String(x);
}

function formatParam(kind: ParamKind, v: unknown, names?: ReadonlyMap<Graph, string>): string {
  switch (kind) {
    case "int":
    case "number":
      return formatNumber(v as number);
    case "ints":
    case "numbers":
      return `[${(v as number[]).map(formatNumber).join(", ")}]`;
    case "bool":
      return String(v);
    case "dtype":
      return v as string;
    case "string":
      return JSON.stringify(v);
    case "graph":
      return `@${names?.get(v as Graph) ?? (v as Graph).name}`;
    default:
      return kind satisfies never;
  }
}

/** Every graph reachable from `g`, callees first, with unique names. */
function moduleOrder(g: Graph): Map<Graph, string> {
  const order = graphsInCallOrder(g);
  const names = new Map<Graph, string>();
  const used = new Set<string>();
  // The next suffix to try per base name: thousands of graphs may share one name.
  const nextSuffix = new Map<string, number>();
  for (const h of order) {
    const base = IDENT.test(h.name) ? h.name : "f";
    let name = base;
    let i = nextSuffix.get(base) ?? 1;
    for (; used.has(name); i++) name = `${base}_${i}`;
    nextSuffix.set(base, i);
    used.add(name);
    names.set(h, name);
  }
  return names;
}

/** The names a graph's values print with (no `%`): inputs by hint (else `argN`), node results numbered in order. */
export function valueNames(g: Graph): Map<Value, string> {
  const names = new Map<Value, string>();
  const taken = new Set<string>();
  g.inputs.forEach((v, i) => {
    const base = v.hint && IDENT.test(v.hint) ? v.hint : `arg${i}`;
    // Suffix the chosen base, never the raw hint: a hint that is not an identifier must not print.
    let n = base;
    for (let j = 1; taken.has(n); j++) n = `${base}_${j}`;
    taken.add(n);
    names.set(v, n);
  });
  let counter = 0;
  for (const n of g.nodes) for (const v of n.outputs) names.set(v, String(counter++));
  return names;
}

/**
 * One node as IR text, `%2 = add %0, %1 : f32[4]`, its values named by `names` (see valueNames)
 * and the graphs it calls by `graphNames` (default: their own names).
 */
export function printNode(n: Node, names: ReadonlyMap<Value, string>, graphNames?: ReadonlyMap<Graph, string>): string {
  const ref = (v: Value) => `%${names.get(v) ?? "?"}`;
  const def = primitiveDef(n.prim);
  const attrs = Object.entries(def.params).map(
    ([k, kind]) => `${k}=${formatParam(kind as ParamKind, (n.params as Record<string, unknown>)[k], graphNames)}`,
  );
  const operands = n.inputs.length ? " " + n.inputs.map(ref).join(", ") : "";
  const attrText = attrs.length ? ` {${attrs.join(", ")}}` : "";
  const types = n.outputs.map((v) => formatType(v.type)).join(", ");
  return `${n.outputs.map(ref).join(", ")} = ${n.prim}${operands}${attrText} : ${types}`;
}

function funcDoc(g: Graph, graphNames: Map<Graph, string>): Doc {
  const names = valueNames(g);
  const ref = (v: Value) => `%${names.get(v) ?? "?"}`;
  const body: Doc[] = g.nodes.map((n) => printNode(n, names, graphNames));
  body.push(`return ${g.outputs.map(ref).join(", ")}`);
  const params = g.inputs.map((v) => `${ref(v)}: ${formatType(v.type)}`).join(", ");
  const results = g.outputs.map((v) => formatType(v.type)).join(", ");
  return block(`func @${graphNames.get(g)}(${params}) -> (${results}) {`, body, "}");
}

/** Print a graph and every sub-graph it references as one module. */
export function printIR(g: Graph): string {
  const names = moduleOrder(g);
  return [...names.keys()].map((h) => render(funcDoc(h, names))).join("\n\n") + "\n";
}
