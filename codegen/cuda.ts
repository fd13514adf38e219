/**
 * CUDA C: the second renderer of the kernel IR, a thin subclass of the C-like base. A kernel
 * becomes one `extern "C" __global__` function (so the driver finds it by its plain name)
 * whose parameters are the bindings, in order, as `__restrict__` pointers (read-only ones
 * `const`, which lets nvcc use the non-coherent load path); workgroup arrays become
 * `__shared__` arrays, barriers `__syncthreads()`, ids blockIdx/threadIdx/gridDim.
 *
 * Index math stays 32-bit unsigned exactly as in WGSL: the overflow checks live in the
 * lowering (codegen/indexing.ts), so both targets refuse the same arrays. bool is stored
 * as a 32-bit word on both targets (the same `boolStorage` rewrite), so a buffer means
 * the same bytes on WebGPU and CUDA. CUDA's math library has erf, isnan, a C pow and a
 * tanh that saturates, so of WGSL's rewrites only bool storage applies here; C's own
 * quirks (parameters share the body's scope, warnings for unused values and for unsigned
 * compares with zero) are the rewrites in CUDA_REWRITES, never ifs in the printer.
 */
import { CRenderer, RenderError, f32Decimal } from "./render.js";
import { type Expr, type IdKind, type Kernel, type MathFn, type Scalar, type Stmt, renameStmt } from "./kernel.js";
import { type KernelRewrite, boolStorage, rewriteExprs } from "./rewrite.js";
import type { Graph } from "../ir/graph.js";
import { type Program, lowerGraph } from "./program.js";
import { CUDA_SM80_TARGET, type Target } from "./target.js";

const C_TYPE: Record<Scalar, string> = { f32: "float", i32: "int", u32: "unsigned int", bool: "bool" };
/** CUDA's 16-byte vector types, for bindings of width 4 (bool is stored as a word, so as uint4). */
const C_VEC4: Record<Scalar, string> = { f32: "float4", i32: "int4", u32: "uint4", bool: "uint4" };

/** C++ keywords, CUDA built-ins and the math functions we call: a value may not shadow them. */
const RESERVED = new Set([
  "alignas", "alignof", "and", "asm", "auto", "bool", "break", "case", "catch", "char", "class", "const",
  "constexpr", "continue", "decltype", "default", "delete", "do", "double", "else", "enum", "explicit",
  "extern", "false", "float", "for", "friend", "goto", "if", "inline", "int", "long", "mutable",
  "namespace", "new", "noexcept", "not", "nullptr", "operator", "or", "private", "protected", "public",
  "register", "restrict", "return", "short", "signed", "sizeof", "static", "struct", "switch", "template",
  "this", "throw", "true", "try", "typedef", "typename", "union", "unsigned", "using", "virtual", "void",
  "volatile", "while", "xor", "main", "threadIdx", "blockIdx", "blockDim", "gridDim", "warpSize",
  "expf", "exp2f", "logf", "sinf", "cosf", "tanhf", "sqrtf", "rsqrtf", "erff", "floorf", "ceilf", "rintf",
  "fabsf", "fmodf", "powf", "fmaf", "fminf", "fmaxf", "abs", "min", "max", "isnan", "exp", "log", "sin", "cos",
  "tanh", "sqrt", "pow", "floor", "ceil", "smelt_min", "smelt_max", "smelt_sign",
]);

const MATH_F32: Partial<Record<MathFn, string>> = {
  exp: "expf", exp2: "exp2f", log: "logf", sin: "sinf", cos: "cosf", tanh: "tanhf", sqrt: "sqrtf", rsqrt: "rsqrtf",
  erf: "erff", floor: "floorf", ceil: "ceilf", round_even: "rintf", abs: "fabsf", pow: "powf", isnan: "isnan",
  fma: "fmaf",
};

/**
 * Device helpers a kernel may call, emitted once per module and only when used. min/max
 * propagate NaN like the interpreter (and XLA); fminf/fmaxf would drop it. sign keeps ±0
 * and NaN, as numpy does.
 */
const HELPERS: Record<string, string> = {
  smelt_min: [
    "__device__ __forceinline__ float smelt_min(float a, float b) { return (a != a || b != b) ? a + b : fminf(a, b); }",
    "__device__ __forceinline__ int smelt_min(int a, int b) { return a < b ? a : b; }",
    "__device__ __forceinline__ unsigned int smelt_min(unsigned int a, unsigned int b) { return a < b ? a : b; }",
  ].join("\n"),
  smelt_max: [
    "__device__ __forceinline__ float smelt_max(float a, float b) { return (a != a || b != b) ? a + b : fmaxf(a, b); }",
    "__device__ __forceinline__ int smelt_max(int a, int b) { return a > b ? a : b; }",
    "__device__ __forceinline__ unsigned int smelt_max(unsigned int a, unsigned int b) { return a > b ? a : b; }",
  ].join("\n"),
  smelt_sign: [
    "__device__ __forceinline__ float smelt_sign(float x) { return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : x); }",
    "__device__ __forceinline__ int smelt_sign(int x) { return (x > 0) - (x < 0); }",
    "__device__ __forceinline__ unsigned int smelt_sign(unsigned int x) { return x > 0u ? 1u : 0u; }",
  ].join("\n"),
};

/**
 * Locals renamed away from binding and shared-array names. Kernel parameters live in the
 * body's outermost scope in C, so `const float x = x[i];` is a redeclaration, and a local
 * `a` in a loop hides the buffer `a` it loads from; WGSL tolerates the first (its buffers
 * are module-scope) but not the second, so this holds for both targets.
 */
export const distinctNames: KernelRewrite = (k) => {
  const taken = new Set([...k.bindings.map((b) => b.name), ...k.shared.map((s) => s.name)]);
  const declared: string[] = [];
  const collect = (ss: readonly Stmt[]): void => {
    for (const s of ss) {
      if (s.k === "let" || s.k === "var" || s.k === "array" || s.k === "load4") declared.push(s.name);
      if (s.k === "for") { declared.push(s.v); collect(s.body); }
      if (s.k === "if") { collect(s.then); collect(s.else); }
    }
  };
  collect(k.body);
  const rename = new Map<string, string>();
  const all = new Set([...taken, ...declared]);
  for (const name of declared) {
    if (!taken.has(name) || rename.has(name)) continue;
    let n = 1;
    while (all.has(`${name}_v${n > 1 ? n : ""}`)) n++;
    const fresh = `${name}_v${n > 1 ? n : ""}`;
    all.add(fresh);
    rename.set(name, fresh);
  }
  if (rename.size === 0) return k;
  const nm = (name: string) => rename.get(name) ?? name;
  return { ...k, body: k.body.map((st) => renameStmt(st, nm)) };
};

function exprRefs(e: Expr, into: Set<string>): void {
  switch (e.k) {
    case "ref": into.add(e.name); return;
    case "const": case "id": return;
    case "load": exprRefs(e.index, into); return;
    case "un": case "cast": case "bitcast": case "broadcast": exprRefs(e.a, into); return;
    case "component": into.add(e.vec); return;
    case "bin": exprRefs(e.a, into); exprRefs(e.b, into); return;
    case "call": for (const a of e.args) exprRefs(a, into); return;
    case "select": exprRefs(e.cond, into); exprRefs(e.a, into); exprRefs(e.b, into); return;
    default: e satisfies never;
  }
}

function stmtRefs(ss: readonly Stmt[], into: Set<string>): void {
  for (const s of ss) {
    switch (s.k) {
      case "let": case "assign": exprRefs(s.value, into); break;
      case "var": exprRefs(s.init, into); break;
      case "store": exprRefs(s.index, into); exprRefs(s.value, into); break;
      case "load4": exprRefs(s.index, into); break;
      case "store4": exprRefs(s.index, into); for (const v of s.values) exprRefs(v, into); break;
      case "for": exprRefs(s.start, into); exprRefs(s.end, into); stmtRefs(s.body, into); break;
      case "if": exprRefs(s.cond, into); stmtRefs(s.then, into); stmtRefs(s.else, into); break;
      default: break;
    }
  }
}

/**
 * Drops values nothing reads (expressions are pure, so this never changes results).
 * Lowering computes every coordinate of an unravelled index and uses some; nvcc warns
 * about the rest ("declared but never referenced"), WGSL does not.
 */
export const dropDeadValues: KernelRewrite = (k) => {
  let body = k.body;
  for (;;) {
    const used = new Set<string>();
    stmtRefs(body, used);
    let dropped = false;
    const keep = (ss: readonly Stmt[]): Stmt[] =>
      ss.flatMap((s): Stmt[] => {
        if ((s.k === "let" || s.k === "var" || s.k === "assign" || s.k === "load4") && !used.has(s.name)) {
          dropped = true;
          return [];
        }
        if (s.k === "for") return [{ ...s, body: keep(s.body) }];
        if (s.k === "if") return [{ ...s, then: keep(s.then), else: keep(s.else) }];
        return [s];
      });
    body = keep(body);
    if (!dropped) return { ...k, body };
  }
};

const isLit = (e: Expr, v: number) => e.k === "const" && e.v === v;

/**
 * Folds comparisons an unsigned value cannot fail (`j < 0u` is false, `j >= 0u` true), and
 * the `&&`/`||` they leave behind. Lowering emits them for degenerate extents (a top_k row
 * of one element); nvcc warns ("pointless comparison of unsigned integer with zero").
 */
export const foldUnsignedCompares: KernelRewrite = (k) =>
  rewriteExprs(k, (e) => {
    if (e.k !== "bin") return undefined;
    if (e.a.t === "u32" && e.b.t === "u32") {
      if ((e.op === "lt" && isLit(e.b, 0)) || (e.op === "gt" && isLit(e.a, 0))) return { k: "const", t: "bool", v: 0 };
      if ((e.op === "ge" && isLit(e.b, 0)) || (e.op === "le" && isLit(e.a, 0))) return { k: "const", t: "bool", v: 1 };
    }
    if (e.t === "bool" && (e.op === "and" || e.op === "or")) {
      const absorbing = e.op === "and" ? 0 : 1;
      if (isLit(e.a, absorbing) || isLit(e.b, absorbing)) return { k: "const", t: "bool", v: absorbing };
      if (isLit(e.a, 1 - absorbing)) return e.b;
      if (isLit(e.b, 1 - absorbing)) return e.a;
    }
    return undefined;
  });

/** Rewrites every kernel gets before CUDA rendering, in order. */
export const CUDA_REWRITES: readonly KernelRewrite[] = [boolStorage, distinctNames, foldUnsignedCompares, dropDeadValues];

export class CUDARenderer extends CRenderer {
  readonly target = "cuda" as const;
  protected readonly reserved = RESERVED;

  /** Sources span several lines for fusion groups; each line stays inside the comment. */
  override render(k: Kernel): string {
    return super.render({ ...k, source: k.source.replace(/\r?\n/g, "\n// ") });
  }

  override expr(e: Expr): string {
    // C has no `%` on floats; fmodf truncates like WGSL's `%`.
    if (e.k === "bin" && e.op === "rem" && e.t === "f32") return `fmodf(${this.expr(e.a)}, ${this.expr(e.b)})`;
    // A bitcast's spelling depends on both types, which the base hook does not see.
    if (e.k === "bitcast") return this.bitcastFrom(e.a.t, e.t, this.expr(e.a));
    return super.expr(e);
  }

  protected type(t: Scalar): string {
    return C_TYPE[t];
  }

  protected literal(t: Scalar, v: number): string {
    switch (t) {
      case "bool": return v ? "true" : "false";
      case "u32": return `${v}u`;
      // Negative literals are parenthesised: `-` applied to `-5` must not read as `--5`.
      case "i32": return v === -(2 ** 31) ? "(-2147483647 - 1)" : v < 0 ? `(${v})` : `${v}`;
      case "f32":
        if (Number.isNaN(v)) return "__int_as_float(0x7fc00000)";
        if (v === Infinity) return "__int_as_float(0x7f800000)";
        if (v === -Infinity) return "__int_as_float(0xff800000)";
        return v < 0 || Object.is(v, -0) ? `(-${f32Decimal(-v)}f)` : `${f32Decimal(v)}f`;
      default: return t satisfies never;
    }
  }

  protected castExpr(t: Scalar, x: string): string {
    // float → int saturates and maps NaN to 0 in PTX's cvt.rzi, as in WGSL and the interpreter.
    return t === "bool" ? `(${x} != 0)` : `(${C_TYPE[t]})(${x})`;
  }

  protected bitcastExpr(t: Scalar, x: string): string {
    return this.bitcastFrom("f32", t, x);
  }

  private bitcastFrom(from: Scalar, t: Scalar, x: string): string {
    if (from === "bool" || t === "bool") throw new RenderError(`bitcast between ${from} and ${t} has no meaning`);
    if (from === t) return x;
    if (t === "f32") return from === "u32" ? `__uint_as_float(${x})` : `__int_as_float(${x})`;
    if (from === "f32") return t === "u32" ? `__float_as_uint(${x})` : `__float_as_int(${x})`;
    return `(${C_TYPE[t]})(${x})`;
  }

  protected selectExpr(cond: string, a: string, b: string): string {
    return `(${cond} ? ${a} : ${b})`;
  }

  protected mathCall(fn: MathFn, t: Scalar, args: string[]): string {
    if (fn === "sign") return `smelt_sign(${args[0]})`;
    if (fn === "abs" && t !== "f32") return t === "u32" ? args[0]! : `abs(${args[0]})`;
    const name = MATH_F32[fn];
    if (!name || (t !== "f32" && fn !== "isnan")) throw new RenderError(`CUDA has no '${fn}' on ${t}`);
    return `${name}(${args.join(", ")})`;
  }

  protected minMax(op: "min" | "max", _t: Scalar, a: string, b: string): string {
    return `smelt_${op}(${a}, ${b})`;
  }

  protected builtinId(kind: IdKind, axis: 0 | 1 | 2): string {
    // A subgroup of the kernel's size is a segment of a warp (1-D blocks, as the templates use).
    if (kind === "subgroup_lane") return `(threadIdx.x % ${this.kernel?.subgroupSize ?? 32}u)`;
    const v = kind === "local" ? "threadIdx" : kind === "group" ? "blockIdx" : "gridDim";
    return `${v}.${"xyz"[axis]}`;
  }

  protected letDecl(name: string, t: Scalar, value: string): string {
    return `const ${C_TYPE[t]} ${name} = ${value};`;
  }

  protected varDecl(name: string, t: Scalar, init: string): string {
    return `${C_TYPE[t]} ${name} = ${init};`;
  }

  protected arrayDecl(name: string, t: Scalar, size: number): string {
    return `${C_TYPE[t]} ${name}[${size}];`;
  }

  protected forHeader(v: string, start: string, end: string, step: number): string {
    return `for (unsigned int ${v} = ${start}; ${v} < ${end}; ${v} += ${step}u) {`;
  }

  protected barrier(): string {
    return "__syncthreads();";
  }

  protected vec4Decl(name: string, t: Scalar, value: string): string {
    return `const ${C_VEC4[t]} ${name} = ${value};`;
  }

  protected vec4Value(t: Scalar, values: string[]): string {
    return `make_${C_VEC4[t]}(${values.join(", ")})`;
  }

  /** A subgroup of size n is a width-n segment of the warp: __shfl_sync's `width` argument. */
  protected subgroupBroadcast(_t: Scalar, x: string, lane: number, subgroupSize: number): string {
    return `__shfl_sync(0xffffffffu, ${x}, ${lane}, ${subgroupSize})`;
  }

  protected kernelHeader(k: Kernel): string[] {
    const params = k.bindings.map((b) => {
      if (b.dtype === "bool") throw new RenderError(`binding '${b.name}' of ${k.name} is bool: CUDA stores it as a word (boolStorage rewrite)`);
      const constness = b.access === "read" ? "const " : "";
      return `${constness}${b.width === 4 ? C_VEC4[b.dtype] : C_TYPE[b.dtype]}* __restrict__ ${this.ident(b.name)}`;
    });
    const threads = k.workgroupSize[0] * k.workgroupSize[1] * k.workgroupSize[2];
    return [
      `// launch: grid (${k.grid.join(", ")}), block (${k.workgroupSize.join(", ")})`,
      `extern "C" __global__ void __launch_bounds__(${threads}) ${this.ident(k.name)}(`,
      ...params.map((p, i) => `    ${p}${i === params.length - 1 ? "" : ","}`),
      ") {",
      ...k.shared.map((s) => `  __shared__ ${C_TYPE[s.t]} ${this.ident(s.name)}[${s.size}];`),
    ];
  }

  /** The entry symbol of a kernel (its name, renamed if it is a C++ keyword). */
  entryName(k: Kernel): string {
    return this.ident(k.name);
  }
}

const cuda = new CUDARenderer();

/** The kernel after CUDA's rewrites, as the renderer prints it. */
export function cudaKernel(k: Kernel): Kernel {
  return CUDA_REWRITES.reduce((acc, rw) => rw(acc), k);
}

/** The helpers a rendered body calls, in a fixed order. */
function prelude(body: string): string {
  const used = Object.keys(HELPERS).filter((h) => body.includes(`${h}(`));
  return used.length ? used.map((h) => HELPERS[h]).join("\n") + "\n\n" : "";
}

/** CUDA C for one kernel: its rewrites, the helpers it uses, then the kernel. Deterministic and standalone. */
export function renderCuda(k: Kernel): string {
  const body = cuda.render(cudaKernel(k));
  return prelude(body) + body;
}

export interface CudaModule {
  /** One translation unit: helpers once, then every kernel. */
  readonly source: string;
  /** The entry symbol of each kernel, in the order given. */
  readonly entries: readonly string[];
}

/**
 * One .cu for many kernels (one nvcc call compiles a whole program). A kernel repeated with
 * the same source is emitted once; two different kernels with one name are an error, since
 * the driver finds kernels by name.
 */
export function renderCudaModule(kernels: readonly Kernel[]): CudaModule {
  const bodies = new Map<string, string>();
  const entries = kernels.map((k) => {
    const name = cuda.entryName(k);
    const text = cuda.render(cudaKernel(k));
    const seen = bodies.get(name);
    if (seen !== undefined && seen !== text)
      throw new RenderError(`two different kernels are named '${name}' in one CUDA module`);
    bodies.set(name, text);
    return name;
  });
  const all = [...bodies.values()].join("\n");
  return { source: prelude(all) + all, entries };
}

/** The module of a lowered program: entries[i] is the kernel of the program's i-th launch. */
export function renderCudaProgram(p: Program): CudaModule {
  return renderCudaModule(p.launches.map((l) => l.kernel));
}

export interface CudaKernelSource {
  readonly name: string;
  readonly grid: readonly number[];
  readonly block: readonly number[];
  /** Standalone CUDA C (helpers included). */
  readonly source: string;
}

/**
 * CUDA C of every kernel a graph (after passes) lowers to, without a device: what
 * `smelt kernels --target cuda` prints. The target defaults to an sm_80-class device.
 */
export function renderCudaForGraph(g: Graph, target: Target = CUDA_SM80_TARGET): CudaKernelSource[] {
  return lowerGraph(g, target).launches.map(({ kernel: k }) => ({
    name: k.name, grid: k.grid, block: k.workgroupSize, source: renderCuda(k),
  }));
}

/** A kernel's identity for caching: its CUDA text apart from its name and comment. */
export function cudaKernelKey(k: Kernel): string {
  return cuda.render(cudaKernel({ ...k, name: "kernel", source: "" }));
}
