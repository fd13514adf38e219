#!/usr/bin/env bash
# The CUDA backend on a machine with an NVIDIA GPU: runs the backend property checks on the
# CUDA backend against the reference interpreter (every primitive via the lowering corpus,
# plus generated shapes) and checks that nothing leaks; then prints matmul f32 TFLOP/s at
# 1024³, 4096³ and W5's two shapes next to cuBLAS's SGEMM on the same buffers (when a
# libcublas loads; else one line saying which paths were tried), the fused gelu(x·w+b) at
# 1024³, W6's causal flash attention in TFLOP/s (FlashAttention's FLOP count), and an
# elementwise kernel's GB/s. Finishes within five minutes; exit status 0 means all passed,
# 1 a mismatch, 2 no CUDA driver, device or nvcc.
#
# Needs only: Node >= 20, this checkout with its runtime dependencies installed
# (node_modules: koffi, tsx), the NVIDIA driver (libcuda.so.1) and nvcc (CUDA toolkit).
#
#   bash scripts/cuda-check.sh [--cases N] [--seed S] [--runs R]     (or: npm run cuda-check)
#
# A GPU machine without Node can use a Node binary carried along:
#   here:   xz -9 < "$(which node)" > node.xz
#   there:  xz -d < node.xz > node && chmod +x node && NODE=$PWD/node bash scripts/cuda-check.sh
# nvcc is found through SMELT_NVCC, CUDA_HOME, PATH or /usr/local/cuda/bin; the driver
# library through SMELT_LIBCUDA (default libcuda.so.1); cuBLAS through SMELT_LIBCUBLAS, then
# libcublas.so.13/.12/.11/libcublas.so by name, under CUDA_HOME/lib64 and /usr/local/cuda/lib64.
# Compiled kernels are cached under SMELT_CACHE_DIR (default ~/.cache/smelt/cuda).
set -euo pipefail
cd "$(dirname "$0")/.."

NODE="${NODE:-node}"
if ! command -v "$NODE" >/dev/null 2>&1; then
  echo "cuda-check: no Node binary '$NODE'; set NODE=/path/to/node (see the header of $0)" >&2
  exit 2
fi
if [ ! -d node_modules/koffi ] || [ ! -d node_modules/tsx ]; then
  echo "cuda-check: node_modules lacks koffi or tsx; run 'npm ci --omit=dev' (or carry node_modules along)" >&2
  exit 2
fi
for d in "${CUDA_HOME:-}" /usr/local/cuda; do
  if [ -n "$d" ] && [ -x "$d/bin/nvcc" ]; then export PATH="$PATH:$d/bin"; break; fi
done

# The check opens its CUDA device itself; the default backend only traces, so skip opening WebGPU.
export SMELT_BACKEND="${SMELT_BACKEND:-interp}"

exec timeout 300 "$NODE" --import tsx scripts/cuda-check.ts "$@"
