/**
 * Kernel rewrites: target quirks expressed as kernel-to-kernel transforms, applied before
 * rendering (tinygrad's "rewrites, not ifs in the printer"). Each target lists the
 * rewrites it needs; the renderers then only print.
 */
import {
  type Binding, type Expr, type Kernel, type Stmt,
  bin, call, f32, lit, load, mul, ref, select, sub, u32,
} from "./kernel.js";

export type KernelRewrite = (k: Kernel) => Kernel;

/** Rewrites one expression node (its children already rewritten); `hoist` names a value. */
type ExprRule = (e: Expr, hoist: (hint: string, value: Expr) => Expr) => Expr | undefined;

function usedNames(ss: readonly Stmt[], into: Set<string>): void {
  for (const s of ss) {
    if (s.k === "let" || s.k === "var" || s.k === "array" || s.k === "load4") into.add(s.name);
    if (s.k === "for") { into.add(s.v); usedNames(s.body, into); }
    if (s.k === "if") { usedNames(s.then, into); usedNames(s.else, into); }
  }
}

/** Applies `rule` bottom-up to every expression; hoisted values become `let`s before the statement using them. */
export function rewriteExprs(k: Kernel, rule: ExprRule): Kernel {
  const names = new Set<string>(k.bindings.map((b) => b.name));
  for (const s of k.shared) names.add(s.name);
  usedNames(k.body, names);
  const fresh = (hint: string) => {
    let n = 0;
    while (names.has(n ? `${hint}_${n}` : hint)) n++;
    const name = n ? `${hint}_${n}` : hint;
    names.add(name);
    return name;
  };

  const block = (ss: readonly Stmt[]): Stmt[] => {
    const out: Stmt[] = [];
    const hoist = (hint: string, value: Expr): Expr => {
      if (value.k === "ref" || value.k === "const") return value;
      const name = fresh(hint);
      out.push({ k: "let", name, value });
      return ref(value.t, name);
    };
    const ex = (e: Expr): Expr => {
      let r: Expr;
      switch (e.k) {
        case "const": case "ref": case "id": r = e; break;
        case "load": r = { ...e, index: ex(e.index) }; break;
        case "un": r = { ...e, a: ex(e.a) }; break;
        case "bin": r = { ...e, a: ex(e.a), b: ex(e.b) }; break;
        case "call": r = { ...e, args: e.args.map(ex) }; break;
        case "select": r = { ...e, cond: ex(e.cond), a: ex(e.a), b: ex(e.b) }; break;
        case "cast": case "bitcast": case "broadcast": r = { ...e, a: ex(e.a) }; break;
        case "component": r = e; break;
        default: return e satisfies never;
      }
      return rule(r, hoist) ?? r;
    };
    for (const s of ss) {
      switch (s.k) {
        case "let": out.push({ ...s, value: ex(s.value) }); break;
        case "var": out.push({ ...s, init: ex(s.init) }); break;
        case "assign": out.push({ ...s, value: ex(s.value) }); break;
        case "store": out.push({ ...s, index: ex(s.index), value: ex(s.value) }); break;
        case "load4": out.push({ ...s, index: ex(s.index) }); break;
        case "store4": out.push({ ...s, index: ex(s.index), values: s.values.map(ex) as unknown as typeof s.values }); break;
        case "for": out.push({ ...s, start: ex(s.start), end: ex(s.end), body: block(s.body) }); break;
        case "if": out.push({ ...s, cond: ex(s.cond), then: block(s.then), else: block(s.else) }); break;
        case "array": case "barrier": case "return": case "comment": out.push(s); break;
        default: s satisfies never;
      }
    }
    return out;
  };
  return { ...k, body: block(k.body) };
}

function mapStores(ss: readonly Stmt[], f: (s: Extract<Stmt, { k: "store" }>) => Stmt): Stmt[] {
  return ss.map((s) => {
    if (s.k === "store") return f(s);
    if (s.k === "for") return { ...s, body: mapStores(s.body, f) };
    if (s.k === "if") return { ...s, then: mapStores(s.then, f), else: mapStores(s.else, f) };
    return s;
  });
}

/** bool arrays live in memory as 32-bit words (0 or 1): loads compare with 0, stores select. */
export const boolStorage: KernelRewrite = (k) => {
  const boolBufs = new Set(k.bindings.filter((b) => b.dtype === "bool").map((b) => b.name));
  if (boolBufs.size === 0) return k;
  const bindings: Binding[] = k.bindings.map((b) => (b.dtype === "bool" ? { ...b, dtype: "u32" } : b));
  const body = mapStores(k.body, (s) =>
    s.space === "global" && boolBufs.has(s.name) && s.value.t === "bool"
      ? { ...s, value: select(s.value, u32(1), u32(0)) }
      : s,
  );
  return rewriteExprs({ ...k, bindings, body }, (e) =>
    e.k === "load" && e.space === "global" && boolBufs.has(e.name) && e.t === "bool"
      ? bin("ne", load("u32", e.name, e.index), u32(0))
      : undefined,
  );
};

/**
 * erf by Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7):
 * erf(x) = sign(x) (1 - t (a1 + t (a2 + t (a3 + t (a4 + t a5)))) e^{-x^2}), t = 1 / (1 + p|x|).
 */
export const expandErf: KernelRewrite = (k) =>
  rewriteExprs(k, (e, hoist) => {
    if (e.k !== "call" || e.fn !== "erf") return undefined;
    const x = hoist("erf_x", e.args[0]!);
    const ax = call("abs", x);
    const t = hoist("erf_t", bin("div", f32(1), bin("add", f32(1), mul(f32(0.3275911), ax))));
    const [a1, a2, a3, a4, a5] = [0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429].map(f32) as [Expr, Expr, Expr, Expr, Expr];
    const poly = mul(t, bin("add", a1, mul(t, bin("add", a2, mul(t, bin("add", a3, mul(t, bin("add", a4, mul(t, a5)))))))));
    const y = sub(f32(1), mul(poly, call("exp", mul(bin("sub", f32(0), x), x))));
    return mul(call("sign", x), y);
  });

/**
 * pow as IEEE/JS define it: WGSL's pow is undefined for a negative base and gives NaN for
 * pow(0, 0). Negative bases with integral exponents take the sign of the exponent's parity.
 */
export const powSigned: KernelRewrite = (k) =>
  rewriteExprs(k, (e, hoist) => {
    if (e.k !== "call" || e.fn !== "pow") return undefined;
    const x = hoist("pow_x", e.args[0]!);
    const y = hoist("pow_y", e.args[1]!);
    const r = hoist("pow_r", call("pow", call("abs", x), y));
    const integral = bin("eq", call("floor", y), y);
    const half = mul(y, f32(0.5));
    const odd = bin("and", integral, bin("ne", call("floor", half), half));
    const negBase = select(integral, select(odd, { k: "un", t: "f32", op: "neg", a: r }, r), lit("f32", NaN));
    // C's pow (and the interpreter): pow(x, 0) = 1, pow(1, y) = 1 and pow(-1, ±inf) = 1, even for NaN.
    const one = bin("or", bin("or", bin("eq", y, f32(0)), bin("eq", x, f32(1))),
      bin("and", bin("eq", x, f32(-1)), bin("eq", call("abs", y), f32(Infinity))));
    return select(one, f32(1), select(bin("lt", x, f32(0)), negBase, r));
  });

/**
 * tanh saturates to ±1 in f32 beyond |x| = 9; some drivers compute it through exp and give
 * NaN (inf/inf) for large inputs, so the argument is clamped first.
 */
export const tanhClamped: KernelRewrite = (k) =>
  rewriteExprs(k, (e) => {
    if (e.k !== "call" || e.fn !== "tanh") return undefined;
    return { ...e, args: [bin("max", bin("min", e.args[0]!, f32(15)), f32(-15))] };
  });

/**
 * f32 min/max propagate NaN, as the interpreter, XLA and the CUDA renderer do; WGSL leaves
 * min/max of a NaN unspecified (lavapipe returns the other operand). a + b is NaN when
 * either operand is.
 */
export const minMaxNaN: KernelRewrite = (k) =>
  rewriteExprs(k, (e, hoist) => {
    if (e.k !== "bin" || (e.op !== "min" && e.op !== "max") || e.t !== "f32") return undefined;
    const a = hoist(`${e.op}_a`, e.a);
    const b = hoist(`${e.op}_b`, e.b);
    const eitherNaN = bin("or", call("isnan", a), call("isnan", b));
    return select(eitherNaN, bin("add", a, b), bin(e.op, a, b));
  });

/** isnan by bits: NaN compares may be folded away by optimising shader compilers. */
export const isnanByBits: KernelRewrite = (k) =>
  rewriteExprs(k, (e) => {
    if (e.k !== "call" || e.fn !== "isnan") return undefined;
    const bits = bin("and", { k: "bitcast", t: "u32", a: e.args[0]! }, u32(0x7fffffff));
    return bin("gt", bits, u32(0x7f800000));
  });

