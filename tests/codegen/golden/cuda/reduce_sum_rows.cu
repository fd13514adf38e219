// reduce_sum_rows: %s = reduce_sum %x {axes=[1]} : f32[37]
// launch: grid (37, 1, 1), block (128, 1, 1)
extern "C" __global__ void __launch_bounds__(128) reduce_sum_rows(
    const float* __restrict__ x,
    float* __restrict__ out
) {
  __shared__ float partial[128];
  const unsigned int row = blockIdx.x;
  const unsigned int tid = threadIdx.x;
  float acc = 0.0f;
  for (unsigned int c = tid; c < 1000u; c += 128u) {
    acc = acc + x[(row * 1000u) + c];
  }
  partial[tid] = acc;
  __syncthreads();
  if (tid < 64u) {
    partial[tid] = partial[tid] + partial[tid + 64u];
  }
  __syncthreads();
  if (tid < 32u) {
    partial[tid] = partial[tid] + partial[tid + 32u];
  }
  __syncthreads();
  if (tid < 16u) {
    partial[tid] = partial[tid] + partial[tid + 16u];
  }
  __syncthreads();
  if (tid < 8u) {
    partial[tid] = partial[tid] + partial[tid + 8u];
  }
  __syncthreads();
  if (tid < 4u) {
    partial[tid] = partial[tid] + partial[tid + 4u];
  }
  __syncthreads();
  if (tid < 2u) {
    partial[tid] = partial[tid] + partial[tid + 2u];
  }
  __syncthreads();
  if (tid < 1u) {
    partial[tid] = partial[tid] + partial[tid + 1u];
  }
  __syncthreads();
  if (tid == 0u) {
    out[row] = partial[0u];
  }
}
