import { beforeAll, describe, expect, it } from "vitest";
import type { Tensor } from "../../frontend/core.js";
import { init } from "../../frontend/init.js";
import * as lax from "../../frontend/lax.js";
import * as nn from "../../frontend/nn.js";
import * as np from "../../frontend/np.js";
import { stageGraph } from "../../frontend/staging.js";
import type { AbstractValue } from "../../ir/dtype.js";
import type { Graph, Node } from "../../ir/graph.js";
import { webgpuTarget } from "../../codegen/target.js";
import { CPU_FLASH_MIN_QUERIES, CPU_MATERIALISED_SCORES, attentionPass } from "../../passes/attention.js";
import { canonicalizePass } from "../../passes/canonicalize.js";
import { runPipeline } from "../../passes/pipeline.js";
import { expectClose, inputsFor, run, stagesOf } from "./graphs.js";

beforeAll(async () => {
  await init({ backend: "interp" });
});

const f32 = (...shape: number[]): AbstractValue => ({ dtype: "f32", shape });

function trace(fn: (...xs: Tensor[]) => Tensor | Tensor[], types: AbstractValue[]): Graph {
  return stageGraph("attn", types, (xs) => {
    const out = fn(...xs);
    return Array.isArray(out) ? out : [out];
  }).graph;
}

/** The graph after the attention pass and its notes (every stage verified and round-tripped). */
function afterPass(g: Graph) {
  const stage = stagesOf(g).find((s) => s.pass === "attention")!;
  return { graph: stage.graph, notes: stage.notes.join("\n") };
}

const flashNodes = (g: Graph) => g.nodes.filter((n): n is Node<"flash_attention"> => n.prim === "flash_attention");

/** The pass fires once, and the rewritten graph means what the traced one meant. */
function expectRewritten(g: Graph, seed = 3) {
  const { graph, notes } = afterPass(g);
  const flash = flashNodes(graph);
  expect(flash, notes).toHaveLength(1);
  expect(graph.nodes.some((n) => n.prim === "exp"), "no softmax left outside the node").toBe(false);
  const xs = inputsFor(g, seed);
  expectClose(run(graph, xs), run(g, xs), 2e-5);
  return flash[0]!;
}

function expectNotRewritten(g: Graph, why: RegExp) {
  const { graph, notes } = afterPass(g);
  expect(flashNodes(graph)).toHaveLength(0);
  expect(notes).toMatch(why);
}

const B = 2, N = 4, T = 12, S = 9, H = 8;
const scale = 1 / Math.sqrt(H);

/** Softmax by hand over the last axis, with or without the max subtracted. */
function handSoftmax(s: Tensor, subtractMax: boolean): Tensor {
  const z = subtractMax ? np.subtract(s, np.max(s, -1, true)) : s;
  const e = np.exp(z);
  return np.divide(e, np.sum(e, -1, true));
}

describe("the attention pass finds", () => {
  it("nn.attention in [B, N, T, H] layout", () => {
    const f = expectRewritten(trace((q, k, v) => nn.attention(q!, k!, v!), [f32(B, N, T, H), f32(B, N, S, H), f32(B, N, S, H)]));
    expect(f.params).toMatchObject({ causal: false, bias: false, mask: false });
    expect(f.params.scale).toBeCloseTo(scale, 7);
    expect(f.inputs.map((v) => v.shape)).toEqual([[B * N, T, H], [B * N, S, H], [B * N, S, H]]);
  });

  it("nn.attention's causal mask (iota compare + select) as the causal flag", () => {
    const f = expectRewritten(trace((q, k, v) => nn.attention(q!, k!, v!, { causal: true }), [f32(B, N, T, H), f32(B, N, T, H), f32(B, N, T, H)]));
    expect(f.params).toMatchObject({ causal: true, mask: false });
  });

  it("a boolean padding mask together with causal, keeping the mask small", () => {
    const g = trace((q, k, v, keep) => nn.attention(q!, k!, v!, { causal: true, mask: np.greater(keep!, 0) }),
      [f32(B, N, T, H), f32(B, N, T, H), f32(B, N, T, H), f32(B, 1, 1, T)]);
    const f = expectRewritten(g);
    expect(f.params).toMatchObject({ causal: true, mask: true });
    expect(f.inputs[3]!.shape).toEqual([B * N, 1, T]);
  });

  it("an additive bias shared by every head, passed as [1, Sq, Sk]", () => {
    const f = expectRewritten(trace((q, k, v, bias) => nn.attention(q!, k!, v!, { mask: bias }), [f32(B, N, T, H), f32(B, N, S, H), f32(B, N, S, H), f32(T, S)]));
    expect(f.params).toMatchObject({ bias: true, mask: false });
    expect(f.inputs[3]!.shape).toEqual([1, T, S]);
  });

  it("JAX's [B, T, N, H] layout by einsum, scale on q, softmax by hand without the max", () => {
    const g = trace((q, k, v) => {
      const s = np.einsum("bqhd,bkhd->bhqk", np.multiply(q!, scale), k!);
      return np.einsum("bhqk,bkhd->bqhd", handSoftmax(s, false), v!);
    }, [f32(B, T, N, H), f32(B, S, N, H), f32(B, S, N, H)]);
    const f = expectRewritten(g);
    expect(f.params.scale).toBeCloseTo(scale, 7);
  });

  it("scale on kᵀ and on the scores by division, softmax by hand with the max", () => {
    const g = trace((q, k, v) => {
      const s = np.divide(np.matmul(q!, np.multiply(np.swapaxes(k!, -1, -2), 0.5)), Math.sqrt(H));
      return np.matmul(handSoftmax(s, true), v!);
    }, [f32(B, N, T, H), f32(B, N, S, H), f32(B, N, S, H)]);
    expect(expectRewritten(g).params.scale).toBeCloseTo(0.5 / Math.sqrt(H), 7);
  });

  it("causal by adding a constant −1e30 triangle", () => {
    const tri = Array.from({ length: T * T }, (_, f) => (f % T <= Math.floor(f / T) ? 0 : -1e30));
    const g = trace((q, k, v) => {
      const s = np.add(np.multiply(np.matmul(q!, np.swapaxes(k!, -1, -2)), scale), lax.constant(tri, [T, T], "f32"));
      return np.matmul(nn.softmax(s), v!);
    }, [f32(B, N, T, H), f32(B, N, T, H), f32(B, N, T, H)]);
    expect(expectRewritten(g).params).toMatchObject({ causal: true, bias: false });
  });

  it("causal by np.where with −65504 on a computed triangle", () => {
    const g = trace((q, k, v) => {
      const s = np.multiply(np.matmul(q!, np.swapaxes(k!, -1, -2)), scale);
      const above = np.greater(lax.iota([T, T], 1), lax.iota([T, T], 0));
      return np.matmul(nn.softmax(np.where(above, -65504, s)), v!);
    }, [f32(B, N, T, H), f32(B, N, T, H), f32(B, N, T, H)]);
    expect(expectRewritten(g).params).toMatchObject({ causal: true, mask: false });
  });

  it("grouped-query attention: k/v heads broadcast to q's stay unrepeated", () => {
    const kvHeads = 2, rep = N / kvHeads;
    const repeatHeads = (x: Tensor) =>
      lax.reshape(lax.broadcastInDim(x, [B, kvHeads, rep, S, H], [0, 1, 3, 4]), [B, N, S, H]);
    const g = trace((q, k, v) => nn.attention(q!, repeatHeads(k!), repeatHeads(v!)),
      [f32(B, N, T, H), f32(B, kvHeads, S, H), f32(B, kvHeads, S, H)]);
    const f = expectRewritten(g);
    expect(f.inputs.map((v) => v.shape)).toEqual([[B * N, T, H], [B * kvHeads, S, H], [B * kvHeads, S, H]]);
  });

  it("multi-query attention: one k/v head broadcast by nn.attention", () => {
    const g = trace((q, k, v) => nn.attention(q!, k!, v!, { causal: true }), [f32(B, N, T, H), f32(B, 1, T, H), f32(B, 1, T, H)]);
    expect(expectRewritten(g).inputs.map((v) => v.shape)).toEqual([[B * N, T, H], [B, T, H], [B, T, H]]);
  });

  it("a single head without batch axes, Sq ≠ Sk", () => {
    expectRewritten(trace((q, k, v) => nn.attention(q!, k!, v!), [f32(T, H), f32(S, H), f32(S, 2 * H)]));
  });
});

it("turns a padding mask with a finite fill into an additive bias", () => {
  const g = trace((q, k, v, keep) => {
    const s = np.matmul(q!, np.swapaxes(k!, -1, -2));
    return np.matmul(nn.softmax(np.where(np.greater(keep!, 0), s, -1e9)), v!);
  }, [f32(B, N, T, H), f32(B, N, S, H), f32(B, N, S, H), f32(B, 1, 1, S)]);
  expect(expectRewritten(g).params).toMatchObject({ bias: true, mask: false });
});

describe("the attention pass leaves alone, with a note", () => {
  const qkv = [f32(B, N, T, H), f32(B, N, T, H), f32(B, N, T, H)];
  const scores = (q: Tensor, k: Tensor) => np.multiply(np.matmul(q, np.swapaxes(k, -1, -2)), scale);

  it("a strictly lower triangle (query i sees keys j < i)", () => {
    expectNotRewritten(trace((q, k, v) => {
      const keep = np.greater(lax.iota([T, T], 0), lax.iota([T, T], 1));
      return np.matmul(nn.softmax(np.where(keep, scores(q!, k!), -Infinity)), v!);
    }, qkv), /not causal/);
  });

  it("softmax over the query axis", () => {
    expectNotRewritten(trace((q, k, v) => np.matmul(nn.softmax(scores(q!, k!), -2), v!), qkv), /softmax over axes \[2\]/);
  });

  it("a non-causal triangle (keys j ≥ i) under a select with a −inf fill", () => {
    expectNotRewritten(trace((q, k, v) => {
      const keep = np.lessEqual(lax.iota([T, T], 0), lax.iota([T, T], 1));
      return np.matmul(nn.softmax(np.where(np.logicalNot(keep), -Infinity, scores(q!, k!))), v!);
    }, qkv), /not causal/);
  });

  it("a scale applied after the softmax", () => {
    expectNotRewritten(trace((q, k, v) => np.matmul(np.multiply(nn.softmax(scores(q!, k!)), 0.5), v!), qkv), /after the softmax/);
  });

  it("scores that are also returned", () => {
    expectNotRewritten(trace((q, k, v) => {
      const s = scores(q!, k!);
      return [np.matmul(nn.softmax(s), v!), s];
    }, qkv), /graph output|also used/);
  });

  it("probabilities that are also used elsewhere", () => {
    expectNotRewritten(trace((q, k, v) => {
      const p = nn.softmax(scores(q!, k!));
      return [np.matmul(p, v!), np.sum(p)];
    }, qkv), /also used/);
  });
});

it("can be switched off by name", () => {
  const g = trace((q, k, v) => nn.attention(q!, k!, v!), [f32(2, 4, 8), f32(2, 4, 8), f32(2, 4, 8)]);
  const last = stagesOf(g, { disable: ["attention"] }).at(-1)!.graph;
  expect(flashNodes(last)).toHaveLength(0);
  expect(flashNodes(stagesOf(g).at(-1)!.graph)).toHaveLength(1);
});

describe("on a CPU adapter", () => {
  const cpu = webgpuTarget({}, { subgroups: true }, true, 8);
  const attention = (heads: number, sq: number, sk: number) =>
    trace((q, k, v) => nn.attention(q!, k!, v!, { causal: true }), [f32(heads, sq, 64), f32(heads, sk, 64), f32(heads, sk, 64)]);
  const stage = (g: Graph) => runPipeline(g, { target: cpu }).stages.find((s) => s.pass === "attention")!;

  it("keeps decoding attention (fewer than CPU_FLASH_MIN_QUERIES rows) with scores below CPU_MATERIALISED_SCORES materialised, and says why", () => {
    const decode = trace((q, k, v) => nn.attention(q!, k!, v!), [f32(32, 1, 128), f32(32, 4096, 128), f32(32, 4096, 128)]);
    const { graph, notes } = stage(decode);
    expect(flashNodes(graph)).toHaveLength(0);
    expect(notes.join("\n")).toMatch(/kept materialised .* 0\.5 MiB of scores are below 16 MiB and it has 1 < 64 query rows \(flash-decoding/);
    expect(CPU_FLASH_MIN_QUERIES).toBe(64);
  });

  it("keeps attention that is about to be differentiated materialised when its scores are small (the tiled backward does not pay)", () => {
    const notes: string[] = [];
    const g = canonicalizePass.run(attention(12, 256, 256), { notes, target: cpu });
    expect(flashNodes(attentionPass.run(g, { notes, target: cpu, differentiated: true }))).toHaveLength(0);
    expect(notes.join("\n")).toMatch(/kept materialised .* 3\.0 MiB of scores are below 16 MiB and it is differentiated/);
    expect(flashNodes(attentionPass.run(g, { notes: [], target: cpu }))).toHaveLength(1);
  });

  it("rewrites prefill attention with small scores (W8: 12 heads × 256²)", () => {
    const { graph, notes } = stage(attention(12, 256, 256));
    expect(flashNodes(graph)).toHaveLength(1);
    expect(notes.join("\n")).not.toMatch(/kept materialised/);
  });

  it("still rewrites attention whose scores reach it (W6: 8 × 1024²)", () => {
    expect(8 * 1024 * 1024 * 4).toBeGreaterThanOrEqual(CPU_MATERIALISED_SCORES);
    expect(flashNodes(stage(attention(8, 1024, 1024)).graph)).toHaveLength(1);
  });

  it("rewrites every size for a GPU target", () => {
    expect(flashNodes(runPipeline(attention(12, 256, 256), { target: { ...cpu, cpuAdapter: false } }).graph)).toHaveLength(1);
  });
});
