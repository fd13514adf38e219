__device__ __forceinline__ float smelt_max(float a, float b) { return (a != a || b != b) ? a + b : a == b ? __int_as_float(__float_as_int(a) & __float_as_int(b)) : fmaxf(a, b); }
__device__ __forceinline__ int smelt_max(int a, int b) { return a > b ? a : b; }
__device__ __forceinline__ unsigned int smelt_max(unsigned int a, unsigned int b) { return a > b ? a : b; }
__device__ __forceinline__ float smelt_sign(float x) { return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : x); }
__device__ __forceinline__ int smelt_sign(int x) { return (x > 0) - (x < 0); }
__device__ __forceinline__ unsigned int smelt_sign(unsigned int x) { return x > 0u ? 1u : 0u; }

// erf_select: %y = select %mask, erf(%x), max(sign(%x), -2.5) : f32[1000]
// launch: grid (4, 1, 1), block (256, 1, 1)
extern "C" __global__ void __launch_bounds__(256) erf_select(
    const float* __restrict__ x,
    const unsigned int* __restrict__ mask,
    float* __restrict__ out,
    unsigned int* __restrict__ flag
) {
  const unsigned int i = (blockIdx.x * 256u) + threadIdx.x;
  if (i >= 1000u) {
    return;
  }
  const float x_v = x[i];
  const bool m = mask[i] != 0u;
  const float y = (m ? erff(x_v) : smelt_max(smelt_sign(x_v), (-2.5f)));
  out[i] = y;
  flag[i] = (isnan(y) ? 1u : 0u);
}
