// dot_general_batched: %c = dot_general %a, %b {lhs_contract=[2], rhs_contract=[1], lhs_batch=[0], rhs_batch=[0]} : f32[2,100,70]
// launch: grid (8, 1, 1), block (16, 16, 1)
extern "C" __global__ void __launch_bounds__(256) dot_general_batched(
    const float* __restrict__ a,
    const float* __restrict__ b,
    float* __restrict__ c
) {
  __shared__ float As[1024];
  __shared__ float Bs[1024];
  const unsigned int wg = blockIdx.x;
  const unsigned int tile_n = wg % 2u;
  const unsigned int tile_m = (wg / 2u) % 2u;
  const unsigned int batch = wg / 4u;
  const unsigned int m0 = tile_m * 64u;
  const unsigned int tx = threadIdx.x;
  const unsigned int ty = threadIdx.y;
  const unsigned int tid = (ty * 16u) + tx;
  const unsigned int n0 = tile_n * 64u;
  float acc_0_0 = 0.0f;
  float acc_0_1 = 0.0f;
  float acc_0_2 = 0.0f;
  float acc_0_3 = 0.0f;
  float acc_1_0 = 0.0f;
  float acc_1_1 = 0.0f;
  float acc_1_2 = 0.0f;
  float acc_1_3 = 0.0f;
  float acc_2_0 = 0.0f;
  float acc_2_1 = 0.0f;
  float acc_2_2 = 0.0f;
  float acc_2_3 = 0.0f;
  float acc_3_0 = 0.0f;
  float acc_3_1 = 0.0f;
  float acc_3_2 = 0.0f;
  float acc_3_3 = 0.0f;
  for (unsigned int k0 = 0u; k0 < 33u; k0 += 16u) {
    const unsigned int a_row = m0 + (tid / 16u);
    const unsigned int a_col = k0 + (tid % 16u);
    float a_v = 0.0f;
    if ((a_row < 100u) && (a_col < 33u)) {
      a_v = a[(batch * 3300u) + ((a_row * 33u) + a_col)];
    }
    As[((tid % 16u) * 64u) + (tid / 16u)] = a_v;
    const unsigned int a_row_1 = m0 + ((tid + 256u) / 16u);
    const unsigned int a_col_1 = k0 + ((tid + 256u) % 16u);
    float a_1 = 0.0f;
    if ((a_row_1 < 100u) && (a_col_1 < 33u)) {
      a_1 = a[(batch * 3300u) + ((a_row_1 * 33u) + a_col_1)];
    }
    As[(((tid + 256u) % 16u) * 64u) + ((tid + 256u) / 16u)] = a_1;
    const unsigned int a_row_2 = m0 + ((tid + 512u) / 16u);
    const unsigned int a_col_2 = k0 + ((tid + 512u) % 16u);
    float a_2 = 0.0f;
    if ((a_row_2 < 100u) && (a_col_2 < 33u)) {
      a_2 = a[(batch * 3300u) + ((a_row_2 * 33u) + a_col_2)];
    }
    As[(((tid + 512u) % 16u) * 64u) + ((tid + 512u) / 16u)] = a_2;
    const unsigned int a_row_3 = m0 + ((tid + 768u) / 16u);
    const unsigned int a_col_3 = k0 + ((tid + 768u) % 16u);
    float a_3 = 0.0f;
    if ((a_row_3 < 100u) && (a_col_3 < 33u)) {
      a_3 = a[(batch * 3300u) + ((a_row_3 * 33u) + a_col_3)];
    }
    As[(((tid + 768u) % 16u) * 64u) + ((tid + 768u) / 16u)] = a_3;
    const unsigned int b_row = k0 + (tid / 64u);
    const unsigned int b_col = n0 + (tid % 64u);
    float b_v = 0.0f;
    if ((b_row < 33u) && (b_col < 70u)) {
      b_v = b[(batch * 2310u) + ((b_row * 70u) + b_col)];
    }
    Bs[((tid / 64u) * 64u) + (tid % 64u)] = b_v;
    const unsigned int b_row_1 = k0 + ((tid + 256u) / 64u);
    const unsigned int b_col_1 = n0 + ((tid + 256u) % 64u);
    float b_1 = 0.0f;
    if ((b_row_1 < 33u) && (b_col_1 < 70u)) {
      b_1 = b[(batch * 2310u) + ((b_row_1 * 70u) + b_col_1)];
    }
    Bs[(((tid + 256u) / 64u) * 64u) + ((tid + 256u) % 64u)] = b_1;
    const unsigned int b_row_2 = k0 + ((tid + 512u) / 64u);
    const unsigned int b_col_2 = n0 + ((tid + 512u) % 64u);
    float b_2 = 0.0f;
    if ((b_row_2 < 33u) && (b_col_2 < 70u)) {
      b_2 = b[(batch * 2310u) + ((b_row_2 * 70u) + b_col_2)];
    }
    Bs[(((tid + 512u) / 64u) * 64u) + ((tid + 512u) % 64u)] = b_2;
    const unsigned int b_row_3 = k0 + ((tid + 768u) / 64u);
    const unsigned int b_col_3 = n0 + ((tid + 768u) % 64u);
    float b_3 = 0.0f;
    if ((b_row_3 < 33u) && (b_col_3 < 70u)) {
      b_3 = b[(batch * 2310u) + ((b_row_3 * 70u) + b_col_3)];
    }
    Bs[(((tid + 768u) / 64u) * 64u) + ((tid + 768u) % 64u)] = b_3;
    __syncthreads();
    for (unsigned int kk = 0u; kk < 16u; kk += 1u) {
      const float a0 = As[(kk * 64u) + ty];
      const float a1 = As[(kk * 64u) + (ty + 16u)];
      const float a2 = As[(kk * 64u) + (ty + 32u)];
      const float a3 = As[(kk * 64u) + (ty + 48u)];
      const float b0 = Bs[(kk * 64u) + tx];
      const float b1 = Bs[(kk * 64u) + (tx + 16u)];
      const float b2 = Bs[(kk * 64u) + (tx + 32u)];
      const float b3 = Bs[(kk * 64u) + (tx + 48u)];
      acc_0_0 = fmaf(a0, b0, acc_0_0);
      acc_0_1 = fmaf(a0, b1, acc_0_1);
      acc_0_2 = fmaf(a0, b2, acc_0_2);
      acc_0_3 = fmaf(a0, b3, acc_0_3);
      acc_1_0 = fmaf(a1, b0, acc_1_0);
      acc_1_1 = fmaf(a1, b1, acc_1_1);
      acc_1_2 = fmaf(a1, b2, acc_1_2);
      acc_1_3 = fmaf(a1, b3, acc_1_3);
      acc_2_0 = fmaf(a2, b0, acc_2_0);
      acc_2_1 = fmaf(a2, b1, acc_2_1);
      acc_2_2 = fmaf(a2, b2, acc_2_2);
      acc_2_3 = fmaf(a2, b3, acc_2_3);
      acc_3_0 = fmaf(a3, b0, acc_3_0);
      acc_3_1 = fmaf(a3, b1, acc_3_1);
      acc_3_2 = fmaf(a3, b2, acc_3_2);
      acc_3_3 = fmaf(a3, b3, acc_3_3);
    }
    __syncthreads();
  }
  const unsigned int out_base = batch * 7000u;
  const unsigned int row0 = m0 + ty;
  const unsigned int col0_0 = n0 + tx;
  if ((row0 < 100u) && (col0_0 < 70u)) {
    c[out_base + ((row0 * 70u) + col0_0)] = acc_0_0;
  }
  const unsigned int col1_0 = n0 + (tx + 16u);
  if ((row0 < 100u) && (col1_0 < 70u)) {
    c[out_base + ((row0 * 70u) + col1_0)] = acc_0_1;
  }
  const unsigned int col2_0 = n0 + (tx + 32u);
  if ((row0 < 100u) && (col2_0 < 70u)) {
    c[out_base + ((row0 * 70u) + col2_0)] = acc_0_2;
  }
  const unsigned int col3_0 = n0 + (tx + 48u);
  if ((row0 < 100u) && (col3_0 < 70u)) {
    c[out_base + ((row0 * 70u) + col3_0)] = acc_0_3;
  }
  const unsigned int row1 = m0 + (ty + 16u);
  const unsigned int col0_1 = n0 + tx;
  if ((row1 < 100u) && (col0_1 < 70u)) {
    c[out_base + ((row1 * 70u) + col0_1)] = acc_1_0;
  }
  const unsigned int col1_1 = n0 + (tx + 16u);
  if ((row1 < 100u) && (col1_1 < 70u)) {
    c[out_base + ((row1 * 70u) + col1_1)] = acc_1_1;
  }
  const unsigned int col2_1 = n0 + (tx + 32u);
  if ((row1 < 100u) && (col2_1 < 70u)) {
    c[out_base + ((row1 * 70u) + col2_1)] = acc_1_2;
  }
  const unsigned int col3_1 = n0 + (tx + 48u);
  if ((row1 < 100u) && (col3_1 < 70u)) {
    c[out_base + ((row1 * 70u) + col3_1)] = acc_1_3;
  }
  const unsigned int row2 = m0 + (ty + 32u);
  const unsigned int col0_2 = n0 + tx;
  if ((row2 < 100u) && (col0_2 < 70u)) {
    c[out_base + ((row2 * 70u) + col0_2)] = acc_2_0;
  }
  const unsigned int col1_2 = n0 + (tx + 16u);
  if ((row2 < 100u) && (col1_2 < 70u)) {
    c[out_base + ((row2 * 70u) + col1_2)] = acc_2_1;
  }
  const unsigned int col2_2 = n0 + (tx + 32u);
  if ((row2 < 100u) && (col2_2 < 70u)) {
    c[out_base + ((row2 * 70u) + col2_2)] = acc_2_2;
  }
  const unsigned int col3_2 = n0 + (tx + 48u);
  if ((row2 < 100u) && (col3_2 < 70u)) {
    c[out_base + ((row2 * 70u) + col3_2)] = acc_2_3;
  }
  const unsigned int row3 = m0 + (ty + 48u);
  const unsigned int col0_3 = n0 + tx;
  if ((row3 < 100u) && (col0_3 < 70u)) {
    c[out_base + ((row3 * 70u) + col0_3)] = acc_3_0;
  }
  const unsigned int col1_3 = n0 + (tx + 16u);
  if ((row3 < 100u) && (col1_3 < 70u)) {
    c[out_base + ((row3 * 70u) + col1_3)] = acc_3_1;
  }
  const unsigned int col2_3 = n0 + (tx + 32u);
  if ((row3 < 100u) && (col2_3 < 70u)) {
    c[out_base + ((row3 * 70u) + col2_3)] = acc_3_2;
  }
  const unsigned int col3_3 = n0 + (tx + 48u);
  if ((row3 < 100u) && (col3_3 < 70u)) {
    c[out_base + ((row3 * 70u) + col3_3)] = acc_3_3;
  }
}
