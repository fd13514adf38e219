/**
 * The lowering table and the renderer registry: every primitive has an entry (jit's says it
 * must be inlined first, fusion's runs the fusion templates), the kernel-IR traversal renames
 * every kind of local, and each target's source comes from its own renderer.
 */
import { describe, expect, test } from "vitest";
import { GraphBuilder } from "../../ir/graph.js";
import { BodyBuilder, f32, load, lt, u32 } from "../../codegen/kernel.js";
import { LoweringError, lowerNode } from "../../codegen/lower.js";
import { renderKernel } from "../../codegen/render/index.js";
import { renderCuda } from "../../codegen/render/cuda.js";
import { renderWGSL } from "../../codegen/render/wgsl.js";
import { CUDA_SM80_TARGET, WEBGPU_TARGET } from "../../codegen/target.js";
import { declaredNames, readNames, renameLocals } from "../../codegen/traverse.js";
import { runPipeline } from "../../passes/pipeline.js";

function exp(name: string) {
  const b = new GraphBuilder(name);
  const x = b.input({ dtype: "f32", shape: [8] }, "x");
  const [y] = b.add("exp", [x], {});
  return b.build([y!]);
}

describe("lowering table", () => {
  test("a jit call that reaches lowering is an error naming its callee", () => {
    const b = new GraphBuilder("outer");
    const x = b.input({ dtype: "f32", shape: [8] }, "x");
    b.add("jit", [x], { callee: exp("inner") });
    const node = b.build([x]).nodes[0]!;
    expect(() => lowerNode(node, { target: WEBGPU_TARGET, name: "jit_0", source: "" })).toThrow(LoweringError);
    expect(() => lowerNode(node, { target: WEBGPU_TARGET, name: "jit_0", source: "" })).toThrow(/@inner.*inlined/);
  });

  test("a fusion node lowers through the table to its template's kernel", () => {
    const b = new GraphBuilder("f");
    const x = b.input({ dtype: "f32", shape: [64, 32] }, "x");
    const [e] = b.add("exp", [x], {});
    const [s] = b.add("reduce_sum", [e!], { axes: [1] });
    const fused = runPipeline(b.build([s!]), { fuse: true, target: WEBGPU_TARGET }).graph;
    const node = fused.nodes.find((n) => n.prim === "fusion");
    expect(node).toBeDefined();
    const kernels = lowerNode(node!, { target: WEBGPU_TARGET, name: "fusion_reduction_0", source: "" });
    expect(kernels).toHaveLength(1);
    expect(kernels[0]!.kernel.name).toBe("fusion_reduction_0");
  });
});

describe("renderer registry", () => {
  test("each target's source comes from its own renderer", () => {
    const g = exp("e");
    const node = g.nodes[0]!;
    const [lowered] = lowerNode(node, { target: WEBGPU_TARGET, name: "exp_0", source: "" });
    expect(renderKernel(WEBGPU_TARGET, lowered!.kernel)).toBe(renderWGSL(lowered!.kernel));
    expect(renderKernel(CUDA_SM80_TARGET, lowered!.kernel)).toBe(renderCuda(lowered!.kernel));
    expect(renderKernel(CUDA_SM80_TARGET, lowered!.kernel)).toContain("expf(");
  });
});

describe("kernel-IR traversal", () => {
  test("renameLocals renames every declared local where it is declared and read, and nothing else", () => {
    const b = new BodyBuilder();
    const v = b.let("v", load("f32", "buf", u32(0)));
    const acc = b.var("acc", f32(0));
    const arr = b.array("cache", "f32", 4);
    const [c0] = b.load4("q", "f32", "vecbuf", u32(0));
    b.for("j", u32(0), u32(4), (j, body) => {
      body.store(arr, j, v, "private");
      body.if(lt(j, u32(2)), (t) => t.assign(acc, load("f32", arr, j, "private")));
    });
    const { stmts, value } = renameLocals(b.stmts, c0!, (n) => `${n}_e`);
    expect(declaredNames(stmts).sort()).toEqual(["acc_e", "cache_e", "j_e", "q_e", "v_e"]);
    expect([...readNames(stmts)].sort()).toEqual(["j_e", "v_e"]);
    expect(value).toEqual({ ...c0, vec: "q_e" });
    const text = JSON.stringify(stmts);
    expect(text).toContain('"name":"buf"');
    expect(text).not.toMatch(/"name":"(v|acc|cache|q)"/);
  });
});
