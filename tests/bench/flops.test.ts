/** FLOP counts for throughput figures, by the conventions smelt's figures are compared under. */
import { describe, expect, it } from "vitest";
import { attentionFlops, matmulFlops, tflops } from "../../bench/flops.js";
import { DEFAULT_SIZES } from "../../bench/workloads.js";

describe("FLOP counting", () => {
  it("a matmul [m,k]·[k,n] is 2·m·n·k: 1024³ is 2³¹", () => {
    expect(matmulFlops(1024, 1024, 1024)).toBe(2 ** 31);
    expect(matmulFlops(512, 3072, 768)).toBe(2 * 512 * 3072 * 768);
  });

  it("attention counts FlashAttention's 4·batch·heads·seqQ·seqK·headDim", () => {
    expect(attentionFlops({ batch: 2, heads: 3, seqQ: 5, seqK: 7, headDim: 11, causal: false })).toBe(4 * 2 * 3 * 5 * 7 * 11);
    expect(attentionFlops({ heads: 3, seqQ: 5, seqK: 7, headDim: 11, causal: false })).toBe(4 * 3 * 5 * 7 * 11);
  });

  it("causal attention counts half: W6 (8 heads × 1024 × 64) is 2³⁰ FLOPs", () => {
    const { heads, seq, dHead } = DEFAULT_SIZES.W6;
    expect(attentionFlops({ heads, seqQ: seq, seqK: seq, headDim: dHead, causal: true })).toBe(2 ** 30);
  });

  it("TFLOP/s is FLOPs per millisecond over 10⁹", () => {
    expect(tflops(2 ** 31, 0.1)).toBeCloseTo(21.47, 2);
  });
});
