/**
 * Pytrees: nested arrays and plain objects whose leaves are tensors (or numbers,
 * which trace as scalars). Everything else (strings, booleans, null, undefined)
 * is static structure, part of the tree definition and of jit's cache key.
 */
export type TreeDef =
  | { kind: "leaf" }
  | { kind: "static"; value: unknown }
  | { kind: "array"; children: TreeDef[] }
  | { kind: "object"; keys: string[]; children: TreeDef[] };

/** Pytrees nested deeper than this are refused (a clear error instead of a stack overflow). */
export const MAX_TREE_DEPTH = 100;

export class PytreeError extends TypeError {
  override name = "PytreeError";
}

export function flatten<L>(tree: unknown, isLeaf: (x: unknown) => x is L): [L[], TreeDef] {
  const leaves: L[] = [];
  // The containers on the path from the root, and the keys leading to each: a
  // container seen again on its own path is a cycle.
  const path: object[] = [];
  const keys: string[] = [];
  const where = (n: number) => keys.slice(0, n).join("") || "the root";
  const walk = (x: unknown): TreeDef => {
    if (isLeaf(x)) {
      leaves.push(x);
      return { kind: "leaf" };
    }
    const isArray = Array.isArray(x);
    if (!isArray && !(x !== null && typeof x === "object" && Object.getPrototypeOf(x) === Object.prototype))
      return { kind: "static", value: x };
    const node = x as object;
    if (path.includes(node))
      throw new PytreeError(`pytree: ${where(keys.length)} is ${where(path.indexOf(node))} again (a cycle); a pytree must be a tree`);
    if (path.length >= MAX_TREE_DEPTH)
      throw new PytreeError(`pytree: nested more than ${MAX_TREE_DEPTH} deep (at ${where(6)}…); flatten the structure`);
    path.push(node);
    const child = (key: string, v: unknown) => {
      keys.push(key);
      try {
        return walk(v);
      } finally {
        keys.pop();
      }
    };
    try {
      if (isArray) return { kind: "array", children: (x as unknown[]).map((c, i) => child(`[${i}]`, c)) };
      const keyList = Object.keys(node).sort();
      return { kind: "object", keys: keyList, children: keyList.map((k) => child(`.${k}`, (x as Record<string, unknown>)[k])) };
    } finally {
      path.pop();
    }
  };
  const def = walk(tree);
  return [leaves, def];
}

export function unflatten(def: TreeDef, leaves: readonly unknown[]): unknown {
  let i = 0;
  const build = (d: TreeDef): unknown => {
    switch (d.kind) {
      case "leaf":
        return leaves[i++];
      case "static":
        return d.value;
      case "array":
        return d.children.map(build);
      case "object": {
        const out: Record<string, unknown> = {};
        d.keys.forEach((k, j) => (out[k] = build(d.children[j]!)));
        return out;
      }
      default:
        return d satisfies never;
    }
  };
  const out = build(def);
  if (i !== leaves.length) throw new Error(`pytree: expected ${i} leaves, got ${leaves.length}`);
  return out;
}

export function leafCount(def: TreeDef): number {
  switch (def.kind) {
    case "leaf":
      return 1;
    case "static":
      return 0;
    default:
      return def.children.reduce((n, c) => n + leafCount(c), 0);
  }
}

const ids = new WeakMap<object, number>();
let nextId = 0;
function identity(v: object): number {
  let id = ids.get(v);
  if (id === undefined) ids.set(v, (id = nextId++));
  return id;
}

const symbolIds = new Map<symbol, number>();
function symbolId(s: symbol): number {
  let id = symbolIds.get(s);
  if (id === undefined) symbolIds.set(s, (id = symbolIds.size));
  return id;
}

/** A stable string for a tree definition (static values included), for cache keys. */
export function treeKey(def: TreeDef): string {
  switch (def.kind) {
    case "leaf":
      return "*";
    case "static": {
      const v = def.value;
      if (typeof v === "function" || (typeof v === "object" && v !== null)) return `obj#${identity(v)}`;
      if (typeof v === "bigint") return `${v}n`;
      if (typeof v === "symbol") return `sym#${symbolId(v)}`;
      return JSON.stringify(v) ?? String(v);
    }
    case "array":
      return `[${def.children.map(treeKey).join(",")}]`;
    case "object":
      return `{${def.keys.map((k, i) => `${JSON.stringify(k)}:${treeKey(def.children[i]!)}`).join(",")}}`;
    default:
      return def satisfies never;
  }
}
