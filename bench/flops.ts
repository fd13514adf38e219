/**
 * Floating-point operation counts for throughput figures, by the conventions the figures are
 * compared under, so smelt's TFLOP/s and a peer's are the same quotient.
 */

/** A matmul [m,k]·[k,n]: a multiply and an add per term, as cuBLAS and GEMM benchmarks count; an epilogue is not counted. */
export function matmulFlops(m: number, n: number, k: number): number {
  return 2 * m * n * k;
}

export interface AttentionShape {
  readonly batch?: number;
  readonly heads: number;
  readonly seqQ: number;
  readonly seqK: number;
  readonly headDim: number;
  readonly causal: boolean;
}

/**
 * An attention forward as FlashAttention's benchmark counts it (benchmark_flash_attention.py):
 * 4·batch·heads·seqQ·seqK·headDim (the two matmuls, QKᵀ and PV), halved when causal since half
 * the scores are masked; the softmax is not counted.
 */
export function attentionFlops({ batch = 1, heads, seqQ, seqK, headDim, causal }: AttentionShape): number {
  return (4 * batch * heads * seqQ * seqK * headDim) / (causal ? 2 : 1);
}

/** FLOPs over milliseconds, in TFLOP/s. */
export function tflops(flops: number, ms: number): number {
  return flops / ms / 1e9;
}
