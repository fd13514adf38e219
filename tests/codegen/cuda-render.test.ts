/**
 * The CUDA renderer: golden sources beside the WGSL renderer's, the same structure as WGSL
 * for the same kernel, and the C details that differ (literals, bool storage, names).
 */
import { describe, expect, it } from "vitest";
import { type Kernel, BodyBuilder, bin, call, cast, f32, kernelText, lit, load, u32 } from "../../codegen/kernel.js";
import { renderCuda, renderCudaModule } from "../../codegen/render/cuda.js";
import { distinctNames } from "../../codegen/rewrite.js";
import { RenderError } from "../../codegen/render/c-like.js";
import { renderWGSL } from "../../codegen/render/wgsl.js";
import { lowerGraph } from "../../codegen/program.js";
import { CUDA_SM80_TARGET } from "../../codegen/target.js";
import { compiledGraph, loweringCorpus } from "./cuda-corpus.js";
import { HAND_KERNELS, asyncCopyKernel, batchedMatmulKernel, elementwiseKernel, rowSumKernel } from "./cuda-kernels.js";
import { cudaStructure, wgslStructure } from "./cuda-structure.js";

function oneStore(value: ReturnType<typeof f32>, dtype: "f32" | "i32" | "u32" = "f32"): Kernel {
  const b = new BodyBuilder();
  b.store("out", u32(0), value);
  return {
    name: "k", source: "test", bindings: [{ name: "out", dtype, access: "read_write" }],
    workgroupSize: [1, 1, 1], grid: [1, 1, 1], shared: [], body: b.stmts,
  };
}

const storedExpr = (k: Kernel) => /out\[0u\] = (.*);/.exec(renderCuda(k))![1];

describe("CUDA golden sources", () => {
  for (const make of [elementwiseKernel, rowSumKernel, batchedMatmulKernel]) {
    it(`renders ${make().name} as the golden file says`, async () => {
      const k = make();
      await expect(renderCuda(k)).toMatchFileSnapshot(`golden/cuda/${k.name}.cu`);
    });
  }

  it("renders the same kernel to identical text every time", () => {
    for (const make of HAND_KERNELS) expect(renderCuda(make())).toBe(renderCuda(make()));
  });
});

describe("CUDA and WGSL print the same kernel", () => {
  it("for every kernel the lowering corpus produces, unfused and fused: same bindings, block shape, loops, branches, barriers, shared arrays", () => {
    let n = 0, vectorTiles = 0;
    for (const { name, graph } of loweringCorpus()) {
      for (const { kernel } of [false, true].flatMap((fuse) => lowerGraph(compiledGraph(graph, fuse, CUDA_SM80_TARGET), CUDA_SM80_TARGET).launches)) {
        const where = `${name}: ${kernel.name}`;
        const structure = cudaStructure(renderCuda(kernel));
        expect(structure, where).toEqual(wgslStructure(renderWGSL(kernel)));
        if (structure.shared.some((a) => a.startsWith("vec4<"))) vectorTiles++;
        n++;
      }
    }
    expect(n).toBeGreaterThan(150);
    // Kernels with 4-vector tiles (flash attention's K and V) are among them, element stores and all.
    expect(vectorTiles).toBeGreaterThan(0);
  });

  for (const make of HAND_KERNELS) {
    it(`${make().name}: same bindings, block shape, loops, branches, barriers and shared arrays`, () => {
      const k = make();
      const w = wgslStructure(renderWGSL(k));
      const c = cudaStructure(renderCuda(k));
      expect(c).toEqual(w);
      expect(c.bindings).toHaveLength(k.bindings.length);
      expect(c.workgroupSize).toEqual(k.workgroupSize);
    });
  }
});

describe("CUDA spelling", () => {
  it("declares an extern \"C\" __global__ entry with __restrict__ pointers, const where read-only", () => {
    const src = renderCuda(batchedMatmulKernel());
    expect(src).toContain('extern "C" __global__ void __launch_bounds__(256, 2) dot_general_batched(');
    expect(src).toContain("const float* __restrict__ a,");
    expect(src).toContain("float* __restrict__ c\n");
    // The GPU matmul template keeps its tiles as 4-vectors, two stages of them on sm_80+ (filled
    // by cp.async: 4 bytes at a time for these odd sizes), and reads them 16 bytes at a time.
    expect(src).toContain("__shared__ float4 As[512];");
    expect(src).toContain("cp.async.ca.shared.global [%0], [%1], 4, %2;");
    expect(src).toContain("const float4 a0_0 = As[");
    expect(src).toContain("__syncthreads();");
  });

  it("stores bool as a 32-bit word, as WGSL does, so a buffer is the same bytes on both targets", () => {
    const src = renderCuda(elementwiseKernel());
    expect(src).toContain("const unsigned int* __restrict__ mask");
    expect(src).toContain("unsigned int* __restrict__ flag");
    expect(src).toMatch(/mask\[i\] != 0u/);
    expect(src).toMatch(/flag\[i\] = \(isnan\(y\) \? 1u : 0u\);/);
  });

  it("uses CUDA's own erf and isnan, and NaN-propagating min/max like the interpreter", () => {
    const src = renderCuda(elementwiseKernel());
    expect(src).toContain("erff(x_v)");
    expect(src).toContain("__device__ __forceinline__ float smelt_max(float a, float b)");
    expect(src).not.toContain("smelt_min(");
  });

  it("renames a local that would shadow a buffer (C parameters share the body's scope)", () => {
    const src = renderCuda(elementwiseKernel());
    expect(src).toContain("const float x_v = x[i];");
    const k = distinctNames(elementwiseKernel());
    expect(JSON.stringify(k.body)).not.toContain('"name":"x","value"');
  });

  it("spells f32 literals exactly, non-finite ones by their bits, negatives in parentheses", () => {
    expect(storedExpr(oneStore(f32(0.1)))).toBe("0.1f");
    expect(storedExpr(oneStore(f32(1e-7)))).toBe("1.0e-7f");
    expect(storedExpr(oneStore(f32(-2.5)))).toBe("(-2.5f)");
    expect(storedExpr(oneStore(lit("f32", NaN)))).toBe("__int_as_float(0x7fc00000)");
    expect(storedExpr(oneStore(lit("f32", -Infinity)))).toBe("__int_as_float(0xff800000)");
    expect(storedExpr(oneStore({ k: "un", t: "i32", op: "neg", a: lit("i32", -5) }, "i32"))).toBe("-(-5)");
    expect(storedExpr(oneStore(lit("i32", -(2 ** 31)), "i32"))).toBe("(-2147483647 - 1)");
  });

  it("prints round-half-even as rintf, float % as fmodf, and bitcasts by intrinsic", () => {
    const x = load("f32", "out", u32(1));
    expect(storedExpr(oneStore(call("round_even", x)))).toBe("rintf(out[1u])");
    expect(storedExpr(oneStore(bin("rem", x, f32(3))))).toBe("fmodf(out[1u], 3.0f)");
    expect(storedExpr(oneStore({ k: "bitcast", t: "u32", a: x }, "u32"))).toBe("__float_as_uint(out[1u])");
    expect(storedExpr(oneStore(cast("i32", x), "i32"))).toBe("(int)(out[1u])");
  });

  it("carries the IR node in a comment, even when it spans lines", () => {
    const src = renderCuda({ ...oneStore(f32(1)), source: "%0 = fusion {\n  %1 = add\n}" });
    expect(src.split("\n").slice(0, 3)).toEqual(["// k: %0 = fusion {", "//   %1 = add", "// }"]);
  });

  it("emits each helper once and each kernel once in a module", () => {
    const k = elementwiseKernel();
    const mod = renderCudaModule([k, rowSumKernel(), k]);
    expect(mod.entries).toEqual(["erf_select", "reduce_sum_rows", "erf_select"]);
    expect(mod.source.match(/float smelt_max\(/g)).toHaveLength(1);
    expect(mod.source.match(/void __launch_bounds__\(256\) erf_select\(/g)).toHaveLength(1);
  });

  it("refuses two different kernels with one name in a module, since the driver looks kernels up by name", () => {
    expect(() => renderCudaModule([elementwiseKernel(), { ...rowSumKernel(), name: "erf_select" }])).toThrow(RenderError);
  });
});

describe("asynchronous copies (cp.async on CUDA, ordinary copies in WGSL)", () => {
  it("CUDA copies by inline PTX: 16 bytes past L1 (.cg), 4 bytes through it (.ca), shared addresses from __cvta_generic_to_shared, a false predicate as 0 bytes read", () => {
    const src = renderCuda(asyncCopyKernel());
    expect(src).toContain(
      'asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" :: "r"(static_cast<unsigned int>(__cvta_generic_to_shared(&tile4[tid]))), "l"(&x4[tid]), "r"((tid < 50u) ? 16u : 0u) : "memory");',
    );
    expect(src).toContain(
      'asm volatile("cp.async.ca.shared.global [%0], [%1], 4;" :: "r"(static_cast<unsigned int>(__cvta_generic_to_shared(&tile1[tid]))), "l"(&x[tid + 3u]) : "memory");',
    );
    // A 4-byte copy into a shared array of 4-vectors counts elements, as element stores do.
    expect(src).toContain("__cvta_generic_to_shared(&reinterpret_cast<float*>(tile4)[tid + 256u])");
    expect(src).toContain('asm volatile("cp.async.commit_group;" ::: "memory");');
    expect(src).toContain('asm volatile("cp.async.wait_group 0;" ::: "memory");');
  });

  it("WGSL copies at once, zeros where the predicate is false, and prints nothing for commit and wait", () => {
    const src = renderWGSL(asyncCopyKernel());
    expect(src).toContain("tile4[tid] = select(vec4<f32>(), x4[tid], tid < 50u);");
    expect(src).toContain("tile1[tid] = x[tid + 3u];");
    expect(src).toContain("tile4[(tid + 256u) / 4u][(tid + 256u) % 4u] = select(0.0f, x[tid], tid < 60u);");
    expect(src).not.toMatch(/commit|wait/);
  });

  it("print in kernel IR text with their size and predicate", () => {
    const text = kernelText(asyncCopyKernel());
    expect(text).toContain("copy_async tile4[tid] <- x4[tid]: 16 bytes if (tid < 50:u32)");
    expect(text).toContain("copy_async tile1[tid] <- x[(tid + 3:u32)]: 4 bytes\n");
    expect(text).toMatch(/copy_commit\n\s+copy_wait 0\n\s+barrier/);
  });

  it("are refused where the arrays' widths do not fit the size: a 16-byte copy needs 4-vector arrays on both sides", () => {
    const k = asyncCopyKernel();
    const scalarSource = { ...k, bindings: k.bindings.map((b) => (b.name === "x4" ? { ...b, width: 1 as const } : b)) };
    for (const render of [renderCuda, renderWGSL])
      expect(() => render(scalarSource)).toThrow(/async_copy copies 16 bytes from 'x4' to 'tile4'/);
  });
});
