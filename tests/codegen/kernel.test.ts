/**
 * Kernel IR, rewrites, renderers and index checks, without a device: generated WGSL is
 * deterministic (golden files), target quirks are rewrites, and limits are enforced with
 * errors that name them.
 */
import { describe, expect, test } from "vitest";
import { GraphBuilder } from "../../ir/graph.js";
import { DeviceLimitError, checkArray, gridFor, linearGroupId } from "../../codegen/indexing.js";
import { BodyBuilder, KernelIRError, add, call, exprText, f32, i32, load, u32 } from "../../codegen/kernel.js";
import { lowerGraph } from "../../codegen/program.js";
import { f32Decimal } from "../../codegen/render/c-like.js";
import { boolStorage, expandErf } from "../../codegen/rewrite.js";
import { WEBGPU_TARGET, CUDA_SM80_TARGET } from "../../codegen/target.js";
import { WGSLRenderer, renderWGSL } from "../../codegen/render/wgsl.js";
import { renderCuda } from "../../codegen/render/cuda.js";

function mlpGraph() {
  const b = new GraphBuilder("layer");
  const x = b.input({ dtype: "f32", shape: [33, 70] }, "x");
  const w = b.input({ dtype: "f32", shape: [70, 20] }, "w");
  const bias = b.input({ dtype: "f32", shape: [20] }, "b");
  const [y] = b.add("dot_general", [x, w], { lhs_contract: [1], rhs_contract: [0], lhs_batch: [], rhs_batch: [] });
  const [bb] = b.add("broadcast_in_dim", [bias], { shape: [33, 20], dims: [1] });
  const [z] = b.add("add", [y!, bb!], {});
  const [e] = b.add("erf", [z!], {});
  const [s] = b.add("reduce_sum", [e!], { axes: [1] });
  return b.build([e!, s!]);
}

describe("kernel IR and WGSL", () => {
  test("generated WGSL for a small graph is deterministic and matches the golden files", async () => {
    const p = lowerGraph(mlpGraph(), WEBGPU_TARGET);
    const again = lowerGraph(mlpGraph(), WEBGPU_TARGET);
    const sources = p.launches.map((l) => renderWGSL(l.kernel));
    expect(again.launches.map((l) => renderWGSL(l.kernel))).toEqual(sources);
    for (const [i, l] of p.launches.entries())
      await expect(sources[i]).toMatchFileSnapshot(`golden/${l.kernel.name}.wgsl`);
    await expect(p.toString()).toMatchFileSnapshot("golden/layer.program.txt");
  });

  test("each kernel carries the IR node it came from as a comment", () => {
    const p = lowerGraph(mlpGraph(), WEBGPU_TARGET);
    const add = p.launches.find((l) => l.kernel.name.startsWith("add"))!;
    expect(renderWGSL(add.kernel).split("\n")[0]).toMatch(/^\/\/ add_\d+: %\d+ = add %\d+, %\d+ : f32\[33,20\]$/);
  });

  test("a program frees each temporary right after its last use and keeps outputs", () => {
    const p = lowerGraph(mlpGraph(), WEBGPU_TARGET);
    const text = p.toString();
    expect(text).toMatch(/free #\d+/);
    for (const id of p.outputs) expect(p.steps.some((s) => s.op === "free" && s.slot === p.buffers[id]!.slot)).toBe(false);
    expect(p.peakBytes).toBeGreaterThan(0);
  });

  test("the WGSL renderer refuses a kernel that still needs a rewrite", () => {
    const b = new BodyBuilder();
    b.store("out", u32(0), call("erf", load("f32", "x", u32(0))));
    const k = { name: "k", source: "test", bindings: [{ name: "x", dtype: "f32" as const, access: "read" as const }, { name: "out", dtype: "f32" as const, access: "read_write" as const }],
      workgroupSize: [1, 1, 1] as const, grid: [1, 1, 1] as const, shared: [], body: b.stmts };
    expect(() => new WGSLRenderer().render(k)).toThrow(/no 'erf'/);
    expect(renderWGSL(k)).not.toMatch(/erf\(/);
    expect(JSON.stringify(expandErf(k))).not.toContain('"fn":"erf"');
  });

  test("bool buffers become u32 words: loads compare with 0, stores select 1 or 0", () => {
    const b = new BodyBuilder();
    b.store("out", u32(0), load("bool", "p", u32(0)));
    const k = boolStorage({ name: "k", source: "t", bindings: [{ name: "p", dtype: "bool", access: "read" }, { name: "out", dtype: "bool", access: "read_write" }],
      workgroupSize: [1, 1, 1], grid: [1, 1, 1], shared: [], body: b.stmts });
    expect(k.bindings.map((x) => x.dtype)).toEqual(["u32", "u32"]);
    expect(new WGSLRenderer().render(k)).toContain("out[0u] = select(0u, 1u, p[0u] != 0u);");
  });

  test("a rolled loop keeps its trip count from the driver: an opaque zero in WGSL, #pragma unroll 1 in CUDA", () => {
    const b = new BodyBuilder();
    b.rolledFor("i", u32(0), u32(32), (i, body) => body.store("out", i, f32(1)));
    b.for("j", u32(0), u32(4), (j, body) => body.store("out", j, f32(2)));
    const k = { name: "k", source: "t", bindings: [{ name: "out", dtype: "f32" as const, access: "read_write" as const }],
      workgroupSize: [1, 1, 1] as const, grid: [1, 1, 1] as const, shared: [], body: b.stmts };
    const wgsl = renderWGSL(k);
    expect(wgsl).toContain("i < (32u) + u32(num_groups.x == 0u);");
    expect(wgsl).toContain("j < 4u;");
    const cuda = renderCuda(k);
    expect(cuda).toMatch(/#pragma unroll 1\n\s*for \(unsigned int i = 0u; i < 32u;/);
    expect(cuda.match(/#pragma unroll 1/g)).toHaveLength(1);
  });

  test("names that are WGSL reserved words (the specification's list, not only keywords) are renamed", () => {
    const b = new BodyBuilder();
    const names = ["from", "match", "self", "writeonly", "yield"];
    const vals = names.map((n, i) => b.let(n, load("f32", "x", u32(i))));
    b.store("out", u32(0), vals.reduce((s, v) => add(s, v)));
    const k = { name: "k", source: "t", bindings: [{ name: "x", dtype: "f32" as const, access: "read" as const }, { name: "out", dtype: "f32" as const, access: "read_write" as const }],
      workgroupSize: [1, 1, 1] as const, grid: [1, 1, 1] as const, shared: [], body: b.stmts };
    const wgsl = renderWGSL(k);
    for (const n of names) {
      expect(wgsl).not.toMatch(new RegExp(`let ${n}:`));
      expect(wgsl).toMatch(new RegExp(`let ${n}_\\w*:`));
    }
  });

  test("expression constructors reject mismatched types", () => {
    expect(() => add(f32(1), i32(1))).toThrow(KernelIRError);
    expect(() => load("f32", "x", i32(0))).toThrow(/must be u32/);
    expect(exprText(add(u32(1), u32(2)))).toBe("(1:u32 + 2:u32)");
  });

  test("f32 literals are the shortest decimals that read back exactly", () => {
    expect(f32Decimal(0.1)).toBe("0.1");
    expect(f32Decimal(1)).toBe("1.0");
    expect(f32Decimal(Math.fround(1 / 3))).toBe("0.33333334");
    expect(Math.fround(Number(f32Decimal(3.4028234663852886e38)))).toBe(3.4028234663852886e38);
    expect(f32Decimal(1e-7)).toBe("1.0e-7");
  });

  test("grids past 65,535 workgroups split across x and y, and the linear id is rebuilt", () => {
    expect(gridFor(100, WEBGPU_TARGET)).toEqual([100, 1, 1]);
    const [x, y] = gridFor(70000, WEBGPU_TARGET);
    expect(x! * y!).toBeGreaterThanOrEqual(70000);
    expect(x).toBeLessThanOrEqual(65535);
    expect(exprText(linearGroupId([x!, y!, 1]))).toBe(`(group_id.x + (group_id.y * ${x}:u32))`);
    expect(() => gridFor(65536 * 65536, WEBGPU_TARGET)).toThrow(DeviceLimitError);
  });

  test("arrays past 2^31 elements or one storage binding are refused, naming the limit", () => {
    expect(() => checkArray("x", "f32", [2 ** 16, 2 ** 16], CUDA_SM80_TARGET)).toThrow(/2\^31 elements/);
    expect(() => checkArray("x", "f32", [2 ** 26], WEBGPU_TARGET)).toThrow(/maxStorageBufferBindingSize = 134217728/);
    expect(() => checkArray("x", "f32", [2 ** 24], WEBGPU_TARGET)).not.toThrow();
  });
});
