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

export function flatten<L>(tree: unknown, isLeaf: (x: unknown) => x is L): [L[], TreeDef] {
  const leaves: L[] = [];
  const walk = (x: unknown): TreeDef => {
    if (isLeaf(x)) {
      leaves.push(x);
      return { kind: "leaf" };
    }
    if (Array.isArray(x)) return { kind: "array", children: x.map(walk) };
    if (x !== null && typeof x === "object" && Object.getPrototypeOf(x) === Object.prototype) {
      const keys = Object.keys(x).sort();
      return { kind: "object", keys, children: keys.map((k) => walk((x as Record<string, unknown>)[k])) };
    }
    return { kind: "static", value: x };
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

/** A stable string for a tree definition (static values included), for cache keys. */
export function treeKey(def: TreeDef): string {
  switch (def.kind) {
    case "leaf":
      return "*";
    case "static": {
      const v = def.value;
      if (typeof v === "function" || (typeof v === "object" && v !== null)) return `obj#${identity(v)}`;
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
