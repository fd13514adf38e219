/**
 * The one traversal of kernel IR. Every rewrite and analysis (renaming, target rewrites,
 * dead-value elimination, name collection) is written as a map or a visit over these two
 * functions, so a new expression or statement kind is taught to the compiler here once:
 * `mapChildren` and `mapParts` are the only switches over the shape of the tree.
 */
import type { Expr, Stmt } from "./kernel.js";

/** `e` with each direct sub-expression replaced by `f(sub)`; leaves come back as they are. */
export function mapChildren(e: Expr, f: (x: Expr) => Expr): Expr {
  switch (e.k) {
    case "const": case "ref": case "id": case "component": return e;
    case "load": return { ...e, index: f(e.index) };
    case "un": case "cast": case "bitcast": case "broadcast": return { ...e, a: f(e.a) };
    case "bin": return { ...e, a: f(e.a), b: f(e.b) };
    case "call": return { ...e, args: e.args.map(f) };
    case "select": return { ...e, cond: f(e.cond), a: f(e.a), b: f(e.b) };
    case "shuffle": return { ...e, a: f(e.a), lane: f(e.lane) };
    default: return e satisfies never;
  }
}

/** `e` rewritten bottom-up: `post` sees each node after its children were rewritten. */
export function mapExpr(e: Expr, post: (x: Expr) => Expr): Expr {
  return post(mapChildren(e, (x) => mapExpr(x, post)));
}

/**
 * `s` with each expression it holds directly passed through `expr` and each nested block
 * through `block`, in source order (a loop's bounds before its body, a branch's condition
 * before its arms).
 */
export function mapParts(s: Stmt, expr: (e: Expr) => Expr, block: (ss: readonly Stmt[]) => Stmt[]): Stmt {
  switch (s.k) {
    case "let": case "assign": return { ...s, value: expr(s.value) };
    case "var": return { ...s, init: expr(s.init) };
    case "store": return { ...s, index: expr(s.index), value: expr(s.value) };
    case "load4": return { ...s, index: expr(s.index) };
    case "store4": return { ...s, index: expr(s.index), values: [expr(s.values[0]), expr(s.values[1]), expr(s.values[2]), expr(s.values[3])] };
    case "copy_async": return { ...s, dstIndex: expr(s.dstIndex), srcIndex: expr(s.srcIndex), ...(s.pred ? { pred: expr(s.pred) } : {}) };
    case "for": return { ...s, start: expr(s.start), end: expr(s.end), body: block(s.body) };
    case "if": return { ...s, cond: expr(s.cond), then: block(s.then), else: block(s.else) };
    case "array": case "barrier": case "return": case "comment": case "copy_commit": case "copy_wait": return s;
    default: return s satisfies never;
  }
}

/** Names a value computed before the statement being rewritten (a `let` placed just before it). */
export type Hoist = (hint: string, value: Expr) => Expr;

export interface StmtMap {
  /** Maps each expression a statement holds (whole trees: use mapExpr inside for a bottom-up rule). */
  readonly expr?: (e: Expr, hoist: Hoist) => Expr;
  /** Maps a statement whose expressions and blocks are already mapped; [] drops it. */
  readonly stmt?: (s: Stmt) => Stmt | readonly Stmt[];
  /** Chooses the name of a hoisted value (required when `expr` hoists). */
  readonly fresh?: (hint: string) => string;
}

/** A statement list mapped by `m`, nested blocks included; hoisted values land in the block that needs them. */
export function mapStmts(ss: readonly Stmt[], m: StmtMap): Stmt[] {
  const out: Stmt[] = [];
  const hoist: Hoist = (hint, value) => {
    if (value.k === "ref" || value.k === "const") return value;
    if (!m.fresh) throw new Error("kernel rewrite hoists a value but gives no way to name it");
    const name = m.fresh(hint);
    out.push({ k: "let", name, value });
    return { k: "ref", t: value.t, name };
  };
  const expr = m.expr ? (e: Expr) => m.expr!(e, hoist) : (e: Expr) => e;
  for (const s of ss) {
    const mapped = mapParts(s, expr, (inner) => mapStmts(inner, m));
    const result = m.stmt ? m.stmt(mapped) : mapped;
    if (Array.isArray(result)) out.push(...(result as readonly Stmt[]));
    else out.push(result as Stmt);
  }
  return out;
}

export interface Visitor {
  /** Called on every expression node, parents before children. */
  readonly expr?: (e: Expr) => void;
  /** Called on every statement, before the statements nested in it. */
  readonly stmt?: (s: Stmt) => void;
}

/** Visits every statement and expression of `ss` (an analysis: nothing is rebuilt that is kept). */
export function visitStmts(ss: readonly Stmt[], v: Visitor): void {
  const expr = (e: Expr): Expr => {
    v.expr?.(e);
    mapChildren(e, expr);
    return e;
  };
  for (const s of ss) {
    v.stmt?.(s);
    mapParts(s, expr, (inner) => (visitStmts(inner, v), []));
  }
}

/** Every local a statement list declares: values, variables, private arrays, 4-vectors, loop variables. */
export function declaredNames(ss: readonly Stmt[]): string[] {
  const names: string[] = [];
  visitStmts(ss, {
    stmt: (s) => {
      if (s.k === "let" || s.k === "var" || s.k === "array" || s.k === "load4") names.push(s.name);
      if (s.k === "for") names.push(s.v);
    },
  });
  return names;
}

/** Every local name a statement list reads (value references and 4-vector components). */
export function readNames(ss: readonly Stmt[]): Set<string> {
  const names = new Set<string>();
  visitStmts(ss, {
    expr: (e) => {
      if (e.k === "ref") names.add(e.name);
      if (e.k === "component") names.add(e.vec);
    },
  });
  return names;
}

/** `e` with every local name (refs, vector components, private arrays) passed through `nm`. */
export function renameExpr(e: Expr, nm: (name: string) => string): Expr {
  return mapExpr(e, (x) => {
    if (x.k === "ref") return { ...x, name: nm(x.name) };
    if (x.k === "component") return { ...x, vec: nm(x.vec) };
    if (x.k === "load" && x.space === "private") return { ...x, name: nm(x.name) };
    return x;
  });
}

/** `ss` with every local name it declares or reads passed through `nm` (buffers and workgroup arrays keep theirs). */
export function renameStmts(ss: readonly Stmt[], nm: (name: string) => string): Stmt[] {
  return mapStmts(ss, {
    expr: (e) => renameExpr(e, nm),
    stmt: (s) => {
      switch (s.k) {
        case "let": case "var": case "assign": case "array": case "load4": return { ...s, name: nm(s.name) };
        case "store": return s.space === "private" ? { ...s, name: nm(s.name) } : s;
        case "for": return { ...s, v: nm(s.v) };
        default: return s;
      }
    },
  });
}

/**
 * Renames every name that `stmts` declare, in `stmts` and in `value`: statements built by
 * another lowering (a matmul epilogue, once per output element) can then be spliced into one
 * body without clashes. Names the statements only read (bindings, values of the enclosing
 * body) are kept.
 */
export function renameLocals(stmts: readonly Stmt[], value: Expr, rename: (name: string) => string): { stmts: Stmt[]; value: Expr } {
  const map = new Map(declaredNames(stmts).map((n) => [n, rename(n)]));
  if (map.size === 0) return { stmts: [...stmts], value };
  const nm = (n: string) => map.get(n) ?? n;
  return { stmts: renameStmts(stmts, nm), value: renameExpr(value, nm) };
}
