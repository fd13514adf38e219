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
import { type BinaryTable, type MathTable, C_BINARY, CRenderer, RenderError, callNamed, f32Decimal } from "./c-like.js";
import type { IdKind, Kernel, MathFn, Scalar, Stmt } from "../kernel.js";
import { type KernelRewrite, boolStorage, distinctNames, dropDeadValues, foldUnsignedCompares } from "../rewrite.js";

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
  "tanh", "sqrt", "pow", "floor", "ceil", "expm1f", "atan2f", "expm1", "atan2", "smelt_min", "smelt_max", "smelt_sign",
]);

/** A CUDA math library function, defined on f32 only. */
const f32Only = (fn: MathFn, name: string) => (t: Scalar, args: readonly string[]): string => {
  if (t !== "f32") throw new RenderError(`CUDA has no '${fn}' on ${t}`);
  return `${name}(${args.join(", ")})`;
};

const MATH: MathTable = {
  exp: f32Only("exp", "expf"), exp2: f32Only("exp2", "exp2f"), log: f32Only("log", "logf"), sin: f32Only("sin", "sinf"), cos: f32Only("cos", "cosf"),
  expm1: f32Only("expm1", "expm1f"), atan2: f32Only("atan2", "atan2f"),
  tanh: f32Only("tanh", "tanhf"), sqrt: f32Only("sqrt", "sqrtf"), rsqrt: f32Only("rsqrt", "rsqrtf"), erf: f32Only("erf", "erff"),
  floor: f32Only("floor", "floorf"), ceil: f32Only("ceil", "ceilf"), round_even: f32Only("round_even", "rintf"),
  pow: f32Only("pow", "powf"), fma: f32Only("fma", "fmaf"), isnan: f32Only("isnan", "isnan"),
  abs: (t, [x]) => (t === "f32" ? `fabsf(${x})` : t === "u32" ? x! : `abs(${x})`),
  sign: callNamed("smelt_sign"),
};

/** C's operators, except: min/max through the NaN-propagating helpers, and `%` on floats as fmodf (which truncates like WGSL's `%`). */
const BINARY: BinaryTable = {
  ...C_BINARY,
  min: () => ({ call: (a, b) => `smelt_min(${a}, ${b})` }),
  max: () => ({ call: (a, b) => `smelt_max(${a}, ${b})` }),
  rem: (t) => (t === "f32" ? { call: (a, b) => `fmodf(${a}, ${b})` } : { infix: "%" }),
};

/**
 * Device helpers a kernel may call, emitted once per module and only when used. min/max
 * propagate NaN like the interpreter (and XLA); fminf/fmaxf would drop it, and leave the
 * choice between ±0 open (max(−0, +0) is +0, min −0: the AND / OR of the bits). sign keeps ±0
 * and NaN, as numpy does.
 */
const HELPERS: Record<string, string> = {
  smelt_min: [
    "__device__ __forceinline__ float smelt_min(float a, float b) { return (a != a || b != b) ? a + b : a == b ? __int_as_float(__float_as_int(a) | __float_as_int(b)) : fminf(a, b); }",
    "__device__ __forceinline__ int smelt_min(int a, int b) { return a < b ? a : b; }",
    "__device__ __forceinline__ unsigned int smelt_min(unsigned int a, unsigned int b) { return a < b ? a : b; }",
  ].join("\n"),
  smelt_max: [
    "__device__ __forceinline__ float smelt_max(float a, float b) { return (a != a || b != b) ? a + b : a == b ? __int_as_float(__float_as_int(a) & __float_as_int(b)) : fmaxf(a, b); }",
    "__device__ __forceinline__ int smelt_max(int a, int b) { return a > b ? a : b; }",
    "__device__ __forceinline__ unsigned int smelt_max(unsigned int a, unsigned int b) { return a > b ? a : b; }",
  ].join("\n"),
  smelt_sign: [
    "__device__ __forceinline__ float smelt_sign(float x) { return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : x); }",
    "__device__ __forceinline__ int smelt_sign(int x) { return (x > 0) - (x < 0); }",
    "__device__ __forceinline__ unsigned int smelt_sign(unsigned int x) { return x > 0u ? 1u : 0u; }",
  ].join("\n"),
};

/** Rewrites every kernel gets before CUDA rendering, in order. */
export const CUDA_REWRITES: readonly KernelRewrite[] = [boolStorage, distinctNames, foldUnsignedCompares, dropDeadValues];

export class CUDARenderer extends CRenderer {
  readonly target = "cuda" as const;
  protected readonly reserved = RESERVED;
  protected readonly binary = BINARY;
  protected readonly math = MATH;

  /** Sources span several lines for fusion groups; each line stays inside the comment. */
  override render(k: Kernel): string {
    return super.render({ ...k, source: k.source.replace(/\r?\n/g, "\n// ") });
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

  protected bitcastExpr(from: Scalar, t: Scalar, x: string): string {
    if (from === "bool" || t === "bool") throw new RenderError(`bitcast between ${from} and ${t} has no meaning`);
    if (from === t) return x;
    if (t === "f32") return from === "u32" ? `__uint_as_float(${x})` : `__int_as_float(${x})`;
    if (from === "f32") return t === "u32" ? `__float_as_uint(${x})` : `__float_as_int(${x})`;
    return `(${C_TYPE[t]})(${x})`;
  }

  protected selectExpr(cond: string, a: string, b: string): string {
    return `(${cond} ? ${a} : ${b})`;
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

  protected forHeader(v: string, start: string, end: string, step: number, rolled: boolean): string {
    return `${rolled ? "#pragma unroll 1\n" : ""}for (unsigned int ${v} = ${start}; ${v} < ${end}; ${v} += ${step}u) {`;
  }

  protected barrier(): string {
    return "__syncthreads();";
  }

  /**
   * cp.async (PTX ISA 7.0, sm_80+) as inline PTX: 16-byte copies bypass L1 (.cg), 4-byte
   * ones may only go through it (.ca). The predicate becomes the source size: 0 bytes read,
   * the destination zero-filled. "memory" keeps the compiler from moving shared-memory
   * accesses across the copy or its wait.
   */
  protected copyAsync(_t: Scalar, bytes: 4 | 16, dst: string, src: string, pred: string | undefined): string {
    const ptx = `cp.async.${bytes === 16 ? "cg" : "ca"}.shared.global [%0], [%1], ${bytes}${pred ? ", %2" : ""};`;
    const sourceSize = pred ? `, "r"((${pred}) ? ${bytes}u : 0u)` : "";
    return `asm volatile("${ptx}" :: "r"(static_cast<unsigned int>(__cvta_generic_to_shared(&${dst}))), "l"(&${src})${sourceSize} : "memory");`;
  }

  protected copyFence(s: Extract<Stmt, { k: "copy_commit" | "copy_wait" }>): string {
    const ptx = s.k === "copy_commit" ? "cp.async.commit_group;" : `cp.async.wait_group ${s.pending};`;
    return `asm volatile("${ptx}" ::: "memory");`;
  }

  protected vec4Decl(name: string, t: Scalar, value: string): string {
    return `const ${C_VEC4[t]} ${name} = ${value};`;
  }

  protected vec4Element(array: string, t: Scalar, index: string): string {
    return `reinterpret_cast<${C_TYPE[t]}*>(${array})[${index}]`;
  }

  protected vec4Value(t: Scalar, values: string[]): string {
    return `make_${C_VEC4[t]}(${values.join(", ")})`;
  }

  /** A subgroup of size n is a width-n segment of the warp: __shfl_sync's `width` argument. */
  protected subgroupBroadcast(_t: Scalar, x: string, lane: number, subgroupSize: number): string {
    return `__shfl_sync(0xffffffffu, ${x}, ${lane}, ${subgroupSize})`;
  }

  protected subgroupShuffle(_t: Scalar, x: string, lane: string, subgroupSize: number): string {
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
      `extern "C" __global__ void __launch_bounds__(${threads}${k.minResidentWorkgroups ? `, ${k.minResidentWorkgroups}` : ""}) ${this.ident(k.name)}(`,
      ...params.map((p, i) => `    ${p}${i === params.length - 1 ? "" : ","}`),
      ") {",
      ...k.shared.map((s) => `  __shared__ ${s.width === 4 ? C_VEC4[s.t] : C_TYPE[s.t]} ${this.ident(s.name)}[${s.size}];`),
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

/** A kernel's identity for caching: its CUDA text apart from its name and comment. */
export function cudaKernelKey(k: Kernel): string {
  return cuda.render(cudaKernel({ ...k, name: "kernel", source: "" }));
}
