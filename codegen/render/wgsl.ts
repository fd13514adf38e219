/**
 * WGSL: the WebGPU renderer, a thin subclass of the C-like base. Quirks of the language
 * (no erf or isnan, pow undefined for negative bases, no bool in storage) are handled by
 * the rewrites in WGSL_REWRITES before rendering.
 */
import { type MathTable, C_BINARY, CRenderer, RenderError, callNamed, f32Decimal } from "./c-like.js";
import type { IdKind, Kernel, MathFn, Scalar, Stmt } from "../kernel.js";
import {
  type KernelRewrite, boolStorage, divideByZeroLiteral, expandAtan2, expandErf, expandExpm1, isnanByBits, logSubnormal, minMaxNaN, opaqueZeros,
  powSigned, signIEEE, tanhClamped,
} from "../rewrite.js";

/** WGSL keywords and reserved words a name may hit, plus the built-ins kernels call (a local would shadow them). */
const RESERVED = new Set([
  "main", "array", "atomic", "bool", "f16", "f32", "i32", "u32", "vec2", "vec3", "vec4", "mat2x2",
  "ptr", "sampler", "struct", "alias", "break", "case", "const", "continue", "continuing", "default",
  "diagnostic", "discard", "else", "enable", "false", "fn", "for", "if", "let", "loop", "override",
  "requires", "return", "switch", "true", "var", "while", "storage", "target", "module", "self",
  "type", "sizeof", "local_id", "group_id", "num_groups", "f32_inf_bits", "f32_neg_inf_bits", "f32_nan_bits", "f32_neg_zero_bits",
  "select", "min", "max", "exp", "exp2", "log", "sin", "cos", "tanh", "atan", "sqrt", "inverseSqrt", "floor", "ceil",
  "round", "abs", "sign", "pow", "atan2", "fma", "bitcast", "workgroupBarrier", "subgroup_lane", "subgroupBroadcast", "subgroupShuffle", "cast",
  // The WGSL specification's reserved words (§15.3), which no identifier may be.
  "NULL", "Self", "abstract", "active", "alignas", "alignof", "as", "asm", "asm_fragment", "async", "attribute", "auto", "await",
  "become", "binding_array", "catch", "class", "co_await", "co_return", "co_yield", "coherent", "column_major", "common",
  "compile", "compile_fragment", "concept", "const_cast", "consteval", "constexpr", "constinit", "crate", "debugger", "decltype",
  "delete", "demote", "demote_to_helper", "do", "dynamic_cast", "enum", "explicit", "export", "extends", "extern", "external",
  "fallthrough", "filter", "final", "finally", "friend", "from", "fxgroup", "get", "goto", "groupshared", "highp", "impl",
  "implements", "import", "inline", "instanceof", "interface", "layout", "lowp", "macro", "macro_rules", "match", "mediump",
  "meta", "mod", "move", "mut", "mutable", "namespace", "new", "nil", "noexcept", "noinline", "nointerpolation", "noperspective",
  "null", "nullptr", "of", "operator", "package", "packoffset", "partition", "pass", "patch", "pixelfragment", "precise",
  "precision", "premerge", "priv", "protected", "pub", "public", "readonly", "ref", "regardless", "register", "reinterpret_cast",
  "require", "resource", "restrict", "set", "shared", "smooth", "snorm", "static", "static_assert", "static_cast", "std",
  "subroutine", "super", "template", "this", "thread_local", "throw", "trait", "try", "typedef", "typeid", "typename", "typeof",
  "union", "unless", "unorm", "unsafe", "unsized", "use", "using", "varying", "virtual", "volatile", "wgsl", "where", "with",
  "writeonly", "yield",
]);

/** A function WGSL lacks: the kernel should have been rewritten before it reached the printer. */
const rewrittenAway = (fn: MathFn) => (): string => {
  throw new RenderError(`WGSL has no '${fn}': the kernel must be rewritten first (see WGSL_REWRITES)`);
};

const MATH: MathTable = {
  exp: callNamed("exp"), exp2: callNamed("exp2"), log: callNamed("log"), sin: callNamed("sin"), cos: callNamed("cos"), tanh: callNamed("tanh"),
  sqrt: callNamed("sqrt"), rsqrt: callNamed("inverseSqrt"), floor: callNamed("floor"), ceil: callNamed("ceil"),
  round_even: callNamed("round"), abs: callNamed("abs"), sign: callNamed("sign"), pow: callNamed("pow"),
  fma: callNamed("fma"), atan2: callNamed("atan2"),
  erf: rewrittenAway("erf"), expm1: rewrittenAway("expm1"), isnan: rewrittenAway("isnan"),
};

const ID_VAR: Record<IdKind, string> = { local: "local_id", group: "group_id", num_groups: "num_groups", subgroup_lane: "subgroup_lane" };

/**
 * Rewrites every kernel gets before WGSL rendering, in order: they keep the IEEE contract
 * (codegen/rewrite.ts). signIEEE follows expandErf (which calls sign), opaqueZeros follows
 * every expansion (they write zero literals), isnanByBits comes last (several call isnan).
 */
export const WGSL_REWRITES: readonly KernelRewrite[] = [
  boolStorage, divideByZeroLiteral, expandErf, expandExpm1, powSigned, logSubnormal, tanhClamped, signIEEE, expandAtan2, minMaxNaN,
  opaqueZeros, isnanByBits,
];

export class WGSLRenderer extends CRenderer {
  readonly target = "webgpu" as const;
  protected readonly reserved = RESERVED;
  protected readonly binary = C_BINARY;
  protected readonly math = MATH;
  private readonly nonFinite = new Set<string>();

  protected override beginKernel(): void {
    this.nonFinite.clear();
  }

  /**
   * WGSL rejects infinite or NaN values in constant expressions (even via bitcast of a
   * literal), so such constants are read from module-scope private variables holding their bits.
   */
  protected override prelude(): string[] {
    const bits: Record<string, string> = { f32_inf: "0x7f800000u", f32_neg_inf: "0xff800000u", f32_nan: "0x7fc00000u", f32_neg_zero: "0x80000000u" };
    const lines = [...this.nonFinite].sort().map((n) => `var<private> ${n}_bits: u32 = ${bits[n]};`);
    return this.kernel?.subgroupSize ? ["enable subgroups;", ...lines] : lines;
  }

  private special(name: string): string {
    this.nonFinite.add(name);
    return `bitcast<f32>(${name}_bits)`;
  }

  protected type(t: Scalar): string {
    return t;
  }

  protected literal(t: Scalar, v: number): string {
    switch (t) {
      case "bool": return v ? "true" : "false";
      case "u32": return `${v}u`;
      case "i32": return v === -(2 ** 31) ? "i32(-2147483648)" : `${v}i`;
      case "f32":
        if (Number.isNaN(v)) return this.special("f32_nan");
        if (v === Infinity) return this.special("f32_inf");
        if (v === -Infinity) return this.special("f32_neg_inf");
        // f32Decimal(-0) is "0.0"; "-0.0f" is folded to +0 by lavapipe, so −0 is read from its bits.
        if (Object.is(v, -0)) return this.special("f32_neg_zero");
        return `${f32Decimal(v)}f`;
      default: return t satisfies never;
    }
  }

  protected castExpr(t: Scalar, x: string): string {
    return `${t}(${x})`;
  }

  protected bitcastExpr(_from: Scalar, t: Scalar, x: string): string {
    return `bitcast<${t}>(${x})`;
  }

  protected selectExpr(cond: string, a: string, b: string): string {
    return `select(${b}, ${a}, ${cond})`;
  }

  protected builtinId(kind: IdKind, axis: 0 | 1 | 2): string {
    return kind === "subgroup_lane" ? ID_VAR[kind] : `${ID_VAR[kind]}.${"xyz"[axis]}`;
  }

  protected vec4Decl(name: string, t: Scalar, value: string): string {
    return `let ${name}: vec4<${t}> = ${value};`;
  }

  protected vec4Value(t: Scalar, values: string[]): string {
    return `vec4<${t}>(${values.join(", ")})`;
  }

  /** subgroupBroadcast takes a constant lane, which lavapipe turns into one register shuffle. */
  protected subgroupBroadcast(_t: Scalar, x: string, lane: number): string {
    return `subgroupBroadcast(${x}, ${lane}u)`;
  }

  /** subgroupShuffle takes any lane; lavapipe turns it into a register permutation. */
  protected subgroupShuffle(_t: Scalar, x: string, lane: string): string {
    return `subgroupShuffle(${x}, ${lane})`;
  }

  protected letDecl(name: string, t: Scalar, value: string): string {
    return `let ${name}: ${t} = ${value};`;
  }

  protected varDecl(name: string, t: Scalar, init: string): string {
    return `var ${name}: ${t} = ${init};`;
  }

  protected arrayDecl(name: string, t: Scalar, size: number): string {
    return `var ${name}: array<${t}, ${size}>;`;
  }

  /**
   * WGSL has no unroll pragma, so a rolled loop's bound is made unknown to the driver's
   * compiler: `+ u32(num_groups.x == 0u)` adds 0 (a dispatch has at least one workgroup),
   * which no compiler can prove, so it cannot unroll the loop fully.
   */
  protected forHeader(v: string, start: string, end: string, step: number, rolled: boolean): string {
    const bound = rolled ? `(${end}) + u32(num_groups.x == 0u)` : end;
    return `for (var ${v}: u32 = ${start}; ${v} < ${bound}; ${v} += ${step}u) {`;
  }

  protected vec4Element(array: string, _t: Scalar, index: string): string {
    return `${array}[(${index}) / 4u][(${index}) % 4u]`;
  }

  protected barrier(): string {
    return "workgroupBarrier();";
  }

  /**
   * WGSL has no asynchronous copy: an ordinary one is a legal execution of the same program,
   * since the copy has completed by its wait. (An out-of-range read under a false predicate
   * is clamped by WebGPU's robust buffer access, and its value discarded.)
   */
  protected copyAsync(t: Scalar, bytes: 4 | 16, dst: string, src: string, pred: string | undefined): string {
    const zero = bytes === 16 ? `vec4<${t}>()` : this.literal(t, 0);
    return `${dst} = ${pred ? `select(${zero}, ${src}, ${pred})` : src};`;
  }

  /** Copies complete at once, so there is nothing to commit or wait for. */
  protected copyFence(_s: Extract<Stmt, { k: "copy_commit" | "copy_wait" }>): undefined {
    return undefined;
  }

  protected kernelHeader(k: Kernel): string[] {
    const lines = k.bindings.map((b, i) => {
      if (b.dtype === "bool") throw new RenderError(`WGSL cannot store bool: binding '${b.name}' of ${k.name} must be rewritten (boolStorage)`);
      const elem = b.width === 4 ? `vec4<${b.dtype}>` : b.dtype;
      return `@group(0) @binding(${i}) var<storage, ${b.access}> ${this.ident(b.name)}: array<${elem}>;`;
    });
    for (const s of k.shared) lines.push(`var<workgroup> ${this.ident(s.name)}: array<${s.width === 4 ? `vec4<${s.t}>` : s.t}, ${s.size}>;`);
    lines.push(
      "",
      `@compute @workgroup_size(${k.workgroupSize.join(", ")})`,
      "fn main(@builtin(local_invocation_id) local_id: vec3<u32>,",
      "        @builtin(workgroup_id) group_id: vec3<u32>,",
      k.subgroupSize ? "        @builtin(num_workgroups) num_groups: vec3<u32>," : "        @builtin(num_workgroups) num_groups: vec3<u32>) {",
    );
    if (k.subgroupSize) lines.push("        @builtin(subgroup_invocation_id) subgroup_lane: u32) {");
    return lines;
  }
}

const wgsl = new WGSLRenderer();

/** WGSL source for a kernel: WGSL's rewrites, then rendering. Deterministic. */
export function renderWGSL(k: Kernel): string {
  return wgsl.render(WGSL_REWRITES.reduce((acc, rw) => rw(acc), k));
}
