// dot_general_batched: %c = dot_general %a, %b {lhs_contract=[2], rhs_contract=[1], lhs_batch=[0], rhs_batch=[0]} : f32[2,100,70]
// launch: grid (2, 1, 1), block (256, 1, 1)
extern "C" __global__ void __launch_bounds__(256, 2) dot_general_batched(
    const float* __restrict__ a,
    const float* __restrict__ b,
    float* __restrict__ c
) {
  __shared__ float4 As[512];
  __shared__ float4 Bs[512];
  const unsigned int wg = blockIdx.x;
  const unsigned int tid = threadIdx.x;
  const unsigned int tx = tid % 16u;
  const unsigned int ty = tid / 16u;
  const unsigned int As_along0 = (threadIdx.x % 32u) * 4u;
  const unsigned int As_k0 = threadIdx.x / 32u;
  const unsigned int As_slot0 = (As_k0 * 32u) + (As_along0 / 4u);
  const unsigned int Bs_along0 = (threadIdx.x % 32u) * 4u;
  const unsigned int Bs_k0 = threadIdx.x / 32u;
  const unsigned int Bs_slot0 = (Bs_k0 * 32u) + (Bs_along0 / 4u);
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;" :: "r"(static_cast<unsigned int>(__cvta_generic_to_shared(&reinterpret_cast<float*>(As)[As_slot0 * 4u]))), "l"(&a[(wg * 3300u) + ((As_along0 * 33u) + As_k0)]), "r"(((As_along0 < 100u) && (As_k0 < 33u)) ? 4u : 0u) : "memory");
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;" :: "r"(static_cast<unsigned int>(__cvta_generic_to_shared(&reinterpret_cast<float*>(As)[(As_slot0 * 4u) + 1u]))), "l"(&a[(wg * 3300u) + (((As_along0 + 1u) * 33u) + As_k0)]), "r"((((As_along0 + 1u) < 100u) && (As_k0 < 33u)) ? 4u : 0u) : "memory");
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;" :: "r"(static_cast<unsigned int>(__cvta_generic_to_shared(&reinterpret_cast<float*>(As)[(As_slot0 * 4u) + 2u]))), "l"(&a[(wg * 3300u) + (((As_along0 + 2u) * 33u) + As_k0)]), "r"((((As_along0 + 2u) < 100u) && (As_k0 < 33u)) ? 4u : 0u) : "memory");
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;" :: "r"(static_cast<unsigned int>(__cvta_generic_to_shared(&reinterpret_cast<float*>(As)[(As_slot0 * 4u) + 3u]))), "l"(&a[(wg * 3300u) + (((As_along0 + 3u) * 33u) + As_k0)]), "r"((((As_along0 + 3u) < 100u) && (As_k0 < 33u)) ? 4u : 0u) : "memory");
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;" :: "r"(static_cast<unsigned int>(__cvta_generic_to_shared(&reinterpret_cast<float*>(Bs)[Bs_slot0 * 4u]))), "l"(&b[(wg * 2310u) + ((Bs_k0 * 70u) + Bs_along0)]), "r"(((Bs_along0 < 70u) && (Bs_k0 < 33u)) ? 4u : 0u) : "memory");
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;" :: "r"(static_cast<unsigned int>(__cvta_generic_to_shared(&reinterpret_cast<float*>(Bs)[(Bs_slot0 * 4u) + 1u]))), "l"(&b[(wg * 2310u) + ((Bs_k0 * 70u) + (Bs_along0 + 1u))]), "r"((((Bs_along0 + 1u) < 70u) && (Bs_k0 < 33u)) ? 4u : 0u) : "memory");
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;" :: "r"(static_cast<unsigned int>(__cvta_generic_to_shared(&reinterpret_cast<float*>(Bs)[(Bs_slot0 * 4u) + 2u]))), "l"(&b[(wg * 2310u) + ((Bs_k0 * 70u) + (Bs_along0 + 2u))]), "r"((((Bs_along0 + 2u) < 70u) && (Bs_k0 < 33u)) ? 4u : 0u) : "memory");
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;" :: "r"(static_cast<unsigned int>(__cvta_generic_to_shared(&reinterpret_cast<float*>(Bs)[(Bs_slot0 * 4u) + 3u]))), "l"(&b[(wg * 2310u) + ((Bs_k0 * 70u) + (Bs_along0 + 3u))]), "r"((((Bs_along0 + 3u) < 70u) && (Bs_k0 < 33u)) ? 4u : 0u) : "memory");
  asm volatile("cp.async.commit_group;" ::: "memory");
  asm volatile("cp.async.wait_group 0;" ::: "memory");
  __syncthreads();
  float acc_0_0 = 0.0f;
  float acc_0_1 = 0.0f;
  float acc_0_2 = 0.0f;
  float acc_0_3 = 0.0f;
  float acc_0_4 = 0.0f;
  float acc_0_5 = 0.0f;
  float acc_0_6 = 0.0f;
  float acc_0_7 = 0.0f;
  float acc_1_0 = 0.0f;
  float acc_1_1 = 0.0f;
  float acc_1_2 = 0.0f;
  float acc_1_3 = 0.0f;
  float acc_1_4 = 0.0f;
  float acc_1_5 = 0.0f;
  float acc_1_6 = 0.0f;
  float acc_1_7 = 0.0f;
  float acc_2_0 = 0.0f;
  float acc_2_1 = 0.0f;
  float acc_2_2 = 0.0f;
  float acc_2_3 = 0.0f;
  float acc_2_4 = 0.0f;
  float acc_2_5 = 0.0f;
  float acc_2_6 = 0.0f;
  float acc_2_7 = 0.0f;
  float acc_3_0 = 0.0f;
  float acc_3_1 = 0.0f;
  float acc_3_2 = 0.0f;
  float acc_3_3 = 0.0f;
  float acc_3_4 = 0.0f;
  float acc_3_5 = 0.0f;
  float acc_3_6 = 0.0f;
  float acc_3_7 = 0.0f;
  float acc_4_0 = 0.0f;
  float acc_4_1 = 0.0f;
  float acc_4_2 = 0.0f;
  float acc_4_3 = 0.0f;
  float acc_4_4 = 0.0f;
  float acc_4_5 = 0.0f;
  float acc_4_6 = 0.0f;
  float acc_4_7 = 0.0f;
  float acc_5_0 = 0.0f;
  float acc_5_1 = 0.0f;
  float acc_5_2 = 0.0f;
  float acc_5_3 = 0.0f;
  float acc_5_4 = 0.0f;
  float acc_5_5 = 0.0f;
  float acc_5_6 = 0.0f;
  float acc_5_7 = 0.0f;
  float acc_6_0 = 0.0f;
  float acc_6_1 = 0.0f;
  float acc_6_2 = 0.0f;
  float acc_6_3 = 0.0f;
  float acc_6_4 = 0.0f;
  float acc_6_5 = 0.0f;
  float acc_6_6 = 0.0f;
  float acc_6_7 = 0.0f;
  float acc_7_0 = 0.0f;
  float acc_7_1 = 0.0f;
  float acc_7_2 = 0.0f;
  float acc_7_3 = 0.0f;
  float acc_7_4 = 0.0f;
  float acc_7_5 = 0.0f;
  float acc_7_6 = 0.0f;
  float acc_7_7 = 0.0f;
  unsigned int stage = 0u;
  for (unsigned int k0 = 0u; k0 < 33u; k0 += 8u) {
    const unsigned int k_next = k0 + 8u;
    const unsigned int stage_next = 1u - stage;
    const unsigned int As_stage_at = stage_next * 256u;
    const unsigned int As_gk0 = k_next + As_k0;
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;" :: "r"(static_cast<unsigned int>(__cvta_generic_to_shared(&reinterpret_cast<float*>(As)[(As_stage_at + As_slot0) * 4u]))), "l"(&a[(wg * 3300u) + ((As_along0 * 33u) + As_gk0)]), "r"(((As_along0 < 100u) && (As_gk0 < 33u)) ? 4u : 0u) : "memory");
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;" :: "r"(static_cast<unsigned int>(__cvta_generic_to_shared(&reinterpret_cast<float*>(As)[((As_stage_at + As_slot0) * 4u) + 1u]))), "l"(&a[(wg * 3300u) + (((As_along0 + 1u) * 33u) + As_gk0)]), "r"((((As_along0 + 1u) < 100u) && (As_gk0 < 33u)) ? 4u : 0u) : "memory");
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;" :: "r"(static_cast<unsigned int>(__cvta_generic_to_shared(&reinterpret_cast<float*>(As)[((As_stage_at + As_slot0) * 4u) + 2u]))), "l"(&a[(wg * 3300u) + (((As_along0 + 2u) * 33u) + As_gk0)]), "r"((((As_along0 + 2u) < 100u) && (As_gk0 < 33u)) ? 4u : 0u) : "memory");
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;" :: "r"(static_cast<unsigned int>(__cvta_generic_to_shared(&reinterpret_cast<float*>(As)[((As_stage_at + As_slot0) * 4u) + 3u]))), "l"(&a[(wg * 3300u) + (((As_along0 + 3u) * 33u) + As_gk0)]), "r"((((As_along0 + 3u) < 100u) && (As_gk0 < 33u)) ? 4u : 0u) : "memory");
    const unsigned int Bs_stage_at = stage_next * 256u;
    const unsigned int Bs_gk0 = k_next + Bs_k0;
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;" :: "r"(static_cast<unsigned int>(__cvta_generic_to_shared(&reinterpret_cast<float*>(Bs)[(Bs_stage_at + Bs_slot0) * 4u]))), "l"(&b[(wg * 2310u) + ((Bs_gk0 * 70u) + Bs_along0)]), "r"(((Bs_along0 < 70u) && (Bs_gk0 < 33u)) ? 4u : 0u) : "memory");
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;" :: "r"(static_cast<unsigned int>(__cvta_generic_to_shared(&reinterpret_cast<float*>(Bs)[((Bs_stage_at + Bs_slot0) * 4u) + 1u]))), "l"(&b[(wg * 2310u) + ((Bs_gk0 * 70u) + (Bs_along0 + 1u))]), "r"((((Bs_along0 + 1u) < 70u) && (Bs_gk0 < 33u)) ? 4u : 0u) : "memory");
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;" :: "r"(static_cast<unsigned int>(__cvta_generic_to_shared(&reinterpret_cast<float*>(Bs)[((Bs_stage_at + Bs_slot0) * 4u) + 2u]))), "l"(&b[(wg * 2310u) + ((Bs_gk0 * 70u) + (Bs_along0 + 2u))]), "r"((((Bs_along0 + 2u) < 70u) && (Bs_gk0 < 33u)) ? 4u : 0u) : "memory");
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;" :: "r"(static_cast<unsigned int>(__cvta_generic_to_shared(&reinterpret_cast<float*>(Bs)[((Bs_stage_at + Bs_slot0) * 4u) + 3u]))), "l"(&b[(wg * 2310u) + ((Bs_gk0 * 70u) + (Bs_along0 + 3u))]), "r"((((Bs_along0 + 3u) < 70u) && (Bs_gk0 < 33u)) ? 4u : 0u) : "memory");
    asm volatile("cp.async.commit_group;" ::: "memory");
    const unsigned int a_from = (stage * 256u) + (ty * 2u);
    const unsigned int b_from = (stage * 256u) + (tx * 2u);
    const float4 a0_0 = As[a_from];
    const float4 a0_1 = As[a_from + 1u];
    const float4 b0_0 = Bs[b_from];
    const float4 b0_1 = Bs[b_from + 1u];
    acc_0_0 = fmaf(a0_0.x, b0_0.x, acc_0_0);
    acc_0_1 = fmaf(a0_0.x, b0_0.y, acc_0_1);
    acc_0_2 = fmaf(a0_0.x, b0_0.z, acc_0_2);
    acc_0_3 = fmaf(a0_0.x, b0_0.w, acc_0_3);
    acc_0_4 = fmaf(a0_0.x, b0_1.x, acc_0_4);
    acc_0_5 = fmaf(a0_0.x, b0_1.y, acc_0_5);
    acc_0_6 = fmaf(a0_0.x, b0_1.z, acc_0_6);
    acc_0_7 = fmaf(a0_0.x, b0_1.w, acc_0_7);
    acc_1_0 = fmaf(a0_0.y, b0_0.x, acc_1_0);
    acc_1_1 = fmaf(a0_0.y, b0_0.y, acc_1_1);
    acc_1_2 = fmaf(a0_0.y, b0_0.z, acc_1_2);
    acc_1_3 = fmaf(a0_0.y, b0_0.w, acc_1_3);
    acc_1_4 = fmaf(a0_0.y, b0_1.x, acc_1_4);
    acc_1_5 = fmaf(a0_0.y, b0_1.y, acc_1_5);
    acc_1_6 = fmaf(a0_0.y, b0_1.z, acc_1_6);
    acc_1_7 = fmaf(a0_0.y, b0_1.w, acc_1_7);
    acc_2_0 = fmaf(a0_0.z, b0_0.x, acc_2_0);
    acc_2_1 = fmaf(a0_0.z, b0_0.y, acc_2_1);
    acc_2_2 = fmaf(a0_0.z, b0_0.z, acc_2_2);
    acc_2_3 = fmaf(a0_0.z, b0_0.w, acc_2_3);
    acc_2_4 = fmaf(a0_0.z, b0_1.x, acc_2_4);
    acc_2_5 = fmaf(a0_0.z, b0_1.y, acc_2_5);
    acc_2_6 = fmaf(a0_0.z, b0_1.z, acc_2_6);
    acc_2_7 = fmaf(a0_0.z, b0_1.w, acc_2_7);
    acc_3_0 = fmaf(a0_0.w, b0_0.x, acc_3_0);
    acc_3_1 = fmaf(a0_0.w, b0_0.y, acc_3_1);
    acc_3_2 = fmaf(a0_0.w, b0_0.z, acc_3_2);
    acc_3_3 = fmaf(a0_0.w, b0_0.w, acc_3_3);
    acc_3_4 = fmaf(a0_0.w, b0_1.x, acc_3_4);
    acc_3_5 = fmaf(a0_0.w, b0_1.y, acc_3_5);
    acc_3_6 = fmaf(a0_0.w, b0_1.z, acc_3_6);
    acc_3_7 = fmaf(a0_0.w, b0_1.w, acc_3_7);
    acc_4_0 = fmaf(a0_1.x, b0_0.x, acc_4_0);
    acc_4_1 = fmaf(a0_1.x, b0_0.y, acc_4_1);
    acc_4_2 = fmaf(a0_1.x, b0_0.z, acc_4_2);
    acc_4_3 = fmaf(a0_1.x, b0_0.w, acc_4_3);
    acc_4_4 = fmaf(a0_1.x, b0_1.x, acc_4_4);
    acc_4_5 = fmaf(a0_1.x, b0_1.y, acc_4_5);
    acc_4_6 = fmaf(a0_1.x, b0_1.z, acc_4_6);
    acc_4_7 = fmaf(a0_1.x, b0_1.w, acc_4_7);
    acc_5_0 = fmaf(a0_1.y, b0_0.x, acc_5_0);
    acc_5_1 = fmaf(a0_1.y, b0_0.y, acc_5_1);
    acc_5_2 = fmaf(a0_1.y, b0_0.z, acc_5_2);
    acc_5_3 = fmaf(a0_1.y, b0_0.w, acc_5_3);
    acc_5_4 = fmaf(a0_1.y, b0_1.x, acc_5_4);
    acc_5_5 = fmaf(a0_1.y, b0_1.y, acc_5_5);
    acc_5_6 = fmaf(a0_1.y, b0_1.z, acc_5_6);
    acc_5_7 = fmaf(a0_1.y, b0_1.w, acc_5_7);
    acc_6_0 = fmaf(a0_1.z, b0_0.x, acc_6_0);
    acc_6_1 = fmaf(a0_1.z, b0_0.y, acc_6_1);
    acc_6_2 = fmaf(a0_1.z, b0_0.z, acc_6_2);
    acc_6_3 = fmaf(a0_1.z, b0_0.w, acc_6_3);
    acc_6_4 = fmaf(a0_1.z, b0_1.x, acc_6_4);
    acc_6_5 = fmaf(a0_1.z, b0_1.y, acc_6_5);
    acc_6_6 = fmaf(a0_1.z, b0_1.z, acc_6_6);
    acc_6_7 = fmaf(a0_1.z, b0_1.w, acc_6_7);
    acc_7_0 = fmaf(a0_1.w, b0_0.x, acc_7_0);
    acc_7_1 = fmaf(a0_1.w, b0_0.y, acc_7_1);
    acc_7_2 = fmaf(a0_1.w, b0_0.z, acc_7_2);
    acc_7_3 = fmaf(a0_1.w, b0_0.w, acc_7_3);
    acc_7_4 = fmaf(a0_1.w, b0_1.x, acc_7_4);
    acc_7_5 = fmaf(a0_1.w, b0_1.y, acc_7_5);
    acc_7_6 = fmaf(a0_1.w, b0_1.z, acc_7_6);
    acc_7_7 = fmaf(a0_1.w, b0_1.w, acc_7_7);
    const float4 a1_0 = As[a_from + 32u];
    const float4 a1_1 = As[a_from + 33u];
    const float4 b1_0 = Bs[b_from + 32u];
    const float4 b1_1 = Bs[b_from + 33u];
    acc_0_0 = fmaf(a1_0.x, b1_0.x, acc_0_0);
    acc_0_1 = fmaf(a1_0.x, b1_0.y, acc_0_1);
    acc_0_2 = fmaf(a1_0.x, b1_0.z, acc_0_2);
    acc_0_3 = fmaf(a1_0.x, b1_0.w, acc_0_3);
    acc_0_4 = fmaf(a1_0.x, b1_1.x, acc_0_4);
    acc_0_5 = fmaf(a1_0.x, b1_1.y, acc_0_5);
    acc_0_6 = fmaf(a1_0.x, b1_1.z, acc_0_6);
    acc_0_7 = fmaf(a1_0.x, b1_1.w, acc_0_7);
    acc_1_0 = fmaf(a1_0.y, b1_0.x, acc_1_0);
    acc_1_1 = fmaf(a1_0.y, b1_0.y, acc_1_1);
    acc_1_2 = fmaf(a1_0.y, b1_0.z, acc_1_2);
    acc_1_3 = fmaf(a1_0.y, b1_0.w, acc_1_3);
    acc_1_4 = fmaf(a1_0.y, b1_1.x, acc_1_4);
    acc_1_5 = fmaf(a1_0.y, b1_1.y, acc_1_5);
    acc_1_6 = fmaf(a1_0.y, b1_1.z, acc_1_6);
    acc_1_7 = fmaf(a1_0.y, b1_1.w, acc_1_7);
    acc_2_0 = fmaf(a1_0.z, b1_0.x, acc_2_0);
    acc_2_1 = fmaf(a1_0.z, b1_0.y, acc_2_1);
    acc_2_2 = fmaf(a1_0.z, b1_0.z, acc_2_2);
    acc_2_3 = fmaf(a1_0.z, b1_0.w, acc_2_3);
    acc_2_4 = fmaf(a1_0.z, b1_1.x, acc_2_4);
    acc_2_5 = fmaf(a1_0.z, b1_1.y, acc_2_5);
    acc_2_6 = fmaf(a1_0.z, b1_1.z, acc_2_6);
    acc_2_7 = fmaf(a1_0.z, b1_1.w, acc_2_7);
    acc_3_0 = fmaf(a1_0.w, b1_0.x, acc_3_0);
    acc_3_1 = fmaf(a1_0.w, b1_0.y, acc_3_1);
    acc_3_2 = fmaf(a1_0.w, b1_0.z, acc_3_2);
    acc_3_3 = fmaf(a1_0.w, b1_0.w, acc_3_3);
    acc_3_4 = fmaf(a1_0.w, b1_1.x, acc_3_4);
    acc_3_5 = fmaf(a1_0.w, b1_1.y, acc_3_5);
    acc_3_6 = fmaf(a1_0.w, b1_1.z, acc_3_6);
    acc_3_7 = fmaf(a1_0.w, b1_1.w, acc_3_7);
    acc_4_0 = fmaf(a1_1.x, b1_0.x, acc_4_0);
    acc_4_1 = fmaf(a1_1.x, b1_0.y, acc_4_1);
    acc_4_2 = fmaf(a1_1.x, b1_0.z, acc_4_2);
    acc_4_3 = fmaf(a1_1.x, b1_0.w, acc_4_3);
    acc_4_4 = fmaf(a1_1.x, b1_1.x, acc_4_4);
    acc_4_5 = fmaf(a1_1.x, b1_1.y, acc_4_5);
    acc_4_6 = fmaf(a1_1.x, b1_1.z, acc_4_6);
    acc_4_7 = fmaf(a1_1.x, b1_1.w, acc_4_7);
    acc_5_0 = fmaf(a1_1.y, b1_0.x, acc_5_0);
    acc_5_1 = fmaf(a1_1.y, b1_0.y, acc_5_1);
    acc_5_2 = fmaf(a1_1.y, b1_0.z, acc_5_2);
    acc_5_3 = fmaf(a1_1.y, b1_0.w, acc_5_3);
    acc_5_4 = fmaf(a1_1.y, b1_1.x, acc_5_4);
    acc_5_5 = fmaf(a1_1.y, b1_1.y, acc_5_5);
    acc_5_6 = fmaf(a1_1.y, b1_1.z, acc_5_6);
    acc_5_7 = fmaf(a1_1.y, b1_1.w, acc_5_7);
    acc_6_0 = fmaf(a1_1.z, b1_0.x, acc_6_0);
    acc_6_1 = fmaf(a1_1.z, b1_0.y, acc_6_1);
    acc_6_2 = fmaf(a1_1.z, b1_0.z, acc_6_2);
    acc_6_3 = fmaf(a1_1.z, b1_0.w, acc_6_3);
    acc_6_4 = fmaf(a1_1.z, b1_1.x, acc_6_4);
    acc_6_5 = fmaf(a1_1.z, b1_1.y, acc_6_5);
    acc_6_6 = fmaf(a1_1.z, b1_1.z, acc_6_6);
    acc_6_7 = fmaf(a1_1.z, b1_1.w, acc_6_7);
    acc_7_0 = fmaf(a1_1.w, b1_0.x, acc_7_0);
    acc_7_1 = fmaf(a1_1.w, b1_0.y, acc_7_1);
    acc_7_2 = fmaf(a1_1.w, b1_0.z, acc_7_2);
    acc_7_3 = fmaf(a1_1.w, b1_0.w, acc_7_3);
    acc_7_4 = fmaf(a1_1.w, b1_1.x, acc_7_4);
    acc_7_5 = fmaf(a1_1.w, b1_1.y, acc_7_5);
    acc_7_6 = fmaf(a1_1.w, b1_1.z, acc_7_6);
    acc_7_7 = fmaf(a1_1.w, b1_1.w, acc_7_7);
    const float4 a2_0 = As[a_from + 64u];
    const float4 a2_1 = As[a_from + 65u];
    const float4 b2_0 = Bs[b_from + 64u];
    const float4 b2_1 = Bs[b_from + 65u];
    acc_0_0 = fmaf(a2_0.x, b2_0.x, acc_0_0);
    acc_0_1 = fmaf(a2_0.x, b2_0.y, acc_0_1);
    acc_0_2 = fmaf(a2_0.x, b2_0.z, acc_0_2);
    acc_0_3 = fmaf(a2_0.x, b2_0.w, acc_0_3);
    acc_0_4 = fmaf(a2_0.x, b2_1.x, acc_0_4);
    acc_0_5 = fmaf(a2_0.x, b2_1.y, acc_0_5);
    acc_0_6 = fmaf(a2_0.x, b2_1.z, acc_0_6);
    acc_0_7 = fmaf(a2_0.x, b2_1.w, acc_0_7);
    acc_1_0 = fmaf(a2_0.y, b2_0.x, acc_1_0);
    acc_1_1 = fmaf(a2_0.y, b2_0.y, acc_1_1);
    acc_1_2 = fmaf(a2_0.y, b2_0.z, acc_1_2);
    acc_1_3 = fmaf(a2_0.y, b2_0.w, acc_1_3);
    acc_1_4 = fmaf(a2_0.y, b2_1.x, acc_1_4);
    acc_1_5 = fmaf(a2_0.y, b2_1.y, acc_1_5);
    acc_1_6 = fmaf(a2_0.y, b2_1.z, acc_1_6);
    acc_1_7 = fmaf(a2_0.y, b2_1.w, acc_1_7);
    acc_2_0 = fmaf(a2_0.z, b2_0.x, acc_2_0);
    acc_2_1 = fmaf(a2_0.z, b2_0.y, acc_2_1);
    acc_2_2 = fmaf(a2_0.z, b2_0.z, acc_2_2);
    acc_2_3 = fmaf(a2_0.z, b2_0.w, acc_2_3);
    acc_2_4 = fmaf(a2_0.z, b2_1.x, acc_2_4);
    acc_2_5 = fmaf(a2_0.z, b2_1.y, acc_2_5);
    acc_2_6 = fmaf(a2_0.z, b2_1.z, acc_2_6);
    acc_2_7 = fmaf(a2_0.z, b2_1.w, acc_2_7);
    acc_3_0 = fmaf(a2_0.w, b2_0.x, acc_3_0);
    acc_3_1 = fmaf(a2_0.w, b2_0.y, acc_3_1);
    acc_3_2 = fmaf(a2_0.w, b2_0.z, acc_3_2);
    acc_3_3 = fmaf(a2_0.w, b2_0.w, acc_3_3);
    acc_3_4 = fmaf(a2_0.w, b2_1.x, acc_3_4);
    acc_3_5 = fmaf(a2_0.w, b2_1.y, acc_3_5);
    acc_3_6 = fmaf(a2_0.w, b2_1.z, acc_3_6);
    acc_3_7 = fmaf(a2_0.w, b2_1.w, acc_3_7);
    acc_4_0 = fmaf(a2_1.x, b2_0.x, acc_4_0);
    acc_4_1 = fmaf(a2_1.x, b2_0.y, acc_4_1);
    acc_4_2 = fmaf(a2_1.x, b2_0.z, acc_4_2);
    acc_4_3 = fmaf(a2_1.x, b2_0.w, acc_4_3);
    acc_4_4 = fmaf(a2_1.x, b2_1.x, acc_4_4);
    acc_4_5 = fmaf(a2_1.x, b2_1.y, acc_4_5);
    acc_4_6 = fmaf(a2_1.x, b2_1.z, acc_4_6);
    acc_4_7 = fmaf(a2_1.x, b2_1.w, acc_4_7);
    acc_5_0 = fmaf(a2_1.y, b2_0.x, acc_5_0);
    acc_5_1 = fmaf(a2_1.y, b2_0.y, acc_5_1);
    acc_5_2 = fmaf(a2_1.y, b2_0.z, acc_5_2);
    acc_5_3 = fmaf(a2_1.y, b2_0.w, acc_5_3);
    acc_5_4 = fmaf(a2_1.y, b2_1.x, acc_5_4);
    acc_5_5 = fmaf(a2_1.y, b2_1.y, acc_5_5);
    acc_5_6 = fmaf(a2_1.y, b2_1.z, acc_5_6);
    acc_5_7 = fmaf(a2_1.y, b2_1.w, acc_5_7);
    acc_6_0 = fmaf(a2_1.z, b2_0.x, acc_6_0);
    acc_6_1 = fmaf(a2_1.z, b2_0.y, acc_6_1);
    acc_6_2 = fmaf(a2_1.z, b2_0.z, acc_6_2);
    acc_6_3 = fmaf(a2_1.z, b2_0.w, acc_6_3);
    acc_6_4 = fmaf(a2_1.z, b2_1.x, acc_6_4);
    acc_6_5 = fmaf(a2_1.z, b2_1.y, acc_6_5);
    acc_6_6 = fmaf(a2_1.z, b2_1.z, acc_6_6);
    acc_6_7 = fmaf(a2_1.z, b2_1.w, acc_6_7);
    acc_7_0 = fmaf(a2_1.w, b2_0.x, acc_7_0);
    acc_7_1 = fmaf(a2_1.w, b2_0.y, acc_7_1);
    acc_7_2 = fmaf(a2_1.w, b2_0.z, acc_7_2);
    acc_7_3 = fmaf(a2_1.w, b2_0.w, acc_7_3);
    acc_7_4 = fmaf(a2_1.w, b2_1.x, acc_7_4);
    acc_7_5 = fmaf(a2_1.w, b2_1.y, acc_7_5);
    acc_7_6 = fmaf(a2_1.w, b2_1.z, acc_7_6);
    acc_7_7 = fmaf(a2_1.w, b2_1.w, acc_7_7);
    const float4 a3_0 = As[a_from + 96u];
    const float4 a3_1 = As[a_from + 97u];
    const float4 b3_0 = Bs[b_from + 96u];
    const float4 b3_1 = Bs[b_from + 97u];
    acc_0_0 = fmaf(a3_0.x, b3_0.x, acc_0_0);
    acc_0_1 = fmaf(a3_0.x, b3_0.y, acc_0_1);
    acc_0_2 = fmaf(a3_0.x, b3_0.z, acc_0_2);
    acc_0_3 = fmaf(a3_0.x, b3_0.w, acc_0_3);
    acc_0_4 = fmaf(a3_0.x, b3_1.x, acc_0_4);
    acc_0_5 = fmaf(a3_0.x, b3_1.y, acc_0_5);
    acc_0_6 = fmaf(a3_0.x, b3_1.z, acc_0_6);
    acc_0_7 = fmaf(a3_0.x, b3_1.w, acc_0_7);
    acc_1_0 = fmaf(a3_0.y, b3_0.x, acc_1_0);
    acc_1_1 = fmaf(a3_0.y, b3_0.y, acc_1_1);
    acc_1_2 = fmaf(a3_0.y, b3_0.z, acc_1_2);
    acc_1_3 = fmaf(a3_0.y, b3_0.w, acc_1_3);
    acc_1_4 = fmaf(a3_0.y, b3_1.x, acc_1_4);
    acc_1_5 = fmaf(a3_0.y, b3_1.y, acc_1_5);
    acc_1_6 = fmaf(a3_0.y, b3_1.z, acc_1_6);
    acc_1_7 = fmaf(a3_0.y, b3_1.w, acc_1_7);
    acc_2_0 = fmaf(a3_0.z, b3_0.x, acc_2_0);
    acc_2_1 = fmaf(a3_0.z, b3_0.y, acc_2_1);
    acc_2_2 = fmaf(a3_0.z, b3_0.z, acc_2_2);
    acc_2_3 = fmaf(a3_0.z, b3_0.w, acc_2_3);
    acc_2_4 = fmaf(a3_0.z, b3_1.x, acc_2_4);
    acc_2_5 = fmaf(a3_0.z, b3_1.y, acc_2_5);
    acc_2_6 = fmaf(a3_0.z, b3_1.z, acc_2_6);
    acc_2_7 = fmaf(a3_0.z, b3_1.w, acc_2_7);
    acc_3_0 = fmaf(a3_0.w, b3_0.x, acc_3_0);
    acc_3_1 = fmaf(a3_0.w, b3_0.y, acc_3_1);
    acc_3_2 = fmaf(a3_0.w, b3_0.z, acc_3_2);
    acc_3_3 = fmaf(a3_0.w, b3_0.w, acc_3_3);
    acc_3_4 = fmaf(a3_0.w, b3_1.x, acc_3_4);
    acc_3_5 = fmaf(a3_0.w, b3_1.y, acc_3_5);
    acc_3_6 = fmaf(a3_0.w, b3_1.z, acc_3_6);
    acc_3_7 = fmaf(a3_0.w, b3_1.w, acc_3_7);
    acc_4_0 = fmaf(a3_1.x, b3_0.x, acc_4_0);
    acc_4_1 = fmaf(a3_1.x, b3_0.y, acc_4_1);
    acc_4_2 = fmaf(a3_1.x, b3_0.z, acc_4_2);
    acc_4_3 = fmaf(a3_1.x, b3_0.w, acc_4_3);
    acc_4_4 = fmaf(a3_1.x, b3_1.x, acc_4_4);
    acc_4_5 = fmaf(a3_1.x, b3_1.y, acc_4_5);
    acc_4_6 = fmaf(a3_1.x, b3_1.z, acc_4_6);
    acc_4_7 = fmaf(a3_1.x, b3_1.w, acc_4_7);
    acc_5_0 = fmaf(a3_1.y, b3_0.x, acc_5_0);
    acc_5_1 = fmaf(a3_1.y, b3_0.y, acc_5_1);
    acc_5_2 = fmaf(a3_1.y, b3_0.z, acc_5_2);
    acc_5_3 = fmaf(a3_1.y, b3_0.w, acc_5_3);
    acc_5_4 = fmaf(a3_1.y, b3_1.x, acc_5_4);
    acc_5_5 = fmaf(a3_1.y, b3_1.y, acc_5_5);
    acc_5_6 = fmaf(a3_1.y, b3_1.z, acc_5_6);
    acc_5_7 = fmaf(a3_1.y, b3_1.w, acc_5_7);
    acc_6_0 = fmaf(a3_1.z, b3_0.x, acc_6_0);
    acc_6_1 = fmaf(a3_1.z, b3_0.y, acc_6_1);
    acc_6_2 = fmaf(a3_1.z, b3_0.z, acc_6_2);
    acc_6_3 = fmaf(a3_1.z, b3_0.w, acc_6_3);
    acc_6_4 = fmaf(a3_1.z, b3_1.x, acc_6_4);
    acc_6_5 = fmaf(a3_1.z, b3_1.y, acc_6_5);
    acc_6_6 = fmaf(a3_1.z, b3_1.z, acc_6_6);
    acc_6_7 = fmaf(a3_1.z, b3_1.w, acc_6_7);
    acc_7_0 = fmaf(a3_1.w, b3_0.x, acc_7_0);
    acc_7_1 = fmaf(a3_1.w, b3_0.y, acc_7_1);
    acc_7_2 = fmaf(a3_1.w, b3_0.z, acc_7_2);
    acc_7_3 = fmaf(a3_1.w, b3_0.w, acc_7_3);
    acc_7_4 = fmaf(a3_1.w, b3_1.x, acc_7_4);
    acc_7_5 = fmaf(a3_1.w, b3_1.y, acc_7_5);
    acc_7_6 = fmaf(a3_1.w, b3_1.z, acc_7_6);
    acc_7_7 = fmaf(a3_1.w, b3_1.w, acc_7_7);
    const float4 a4_0 = As[a_from + 128u];
    const float4 a4_1 = As[a_from + 129u];
    const float4 b4_0 = Bs[b_from + 128u];
    const float4 b4_1 = Bs[b_from + 129u];
    acc_0_0 = fmaf(a4_0.x, b4_0.x, acc_0_0);
    acc_0_1 = fmaf(a4_0.x, b4_0.y, acc_0_1);
    acc_0_2 = fmaf(a4_0.x, b4_0.z, acc_0_2);
    acc_0_3 = fmaf(a4_0.x, b4_0.w, acc_0_3);
    acc_0_4 = fmaf(a4_0.x, b4_1.x, acc_0_4);
    acc_0_5 = fmaf(a4_0.x, b4_1.y, acc_0_5);
    acc_0_6 = fmaf(a4_0.x, b4_1.z, acc_0_6);
    acc_0_7 = fmaf(a4_0.x, b4_1.w, acc_0_7);
    acc_1_0 = fmaf(a4_0.y, b4_0.x, acc_1_0);
    acc_1_1 = fmaf(a4_0.y, b4_0.y, acc_1_1);
    acc_1_2 = fmaf(a4_0.y, b4_0.z, acc_1_2);
    acc_1_3 = fmaf(a4_0.y, b4_0.w, acc_1_3);
    acc_1_4 = fmaf(a4_0.y, b4_1.x, acc_1_4);
    acc_1_5 = fmaf(a4_0.y, b4_1.y, acc_1_5);
    acc_1_6 = fmaf(a4_0.y, b4_1.z, acc_1_6);
    acc_1_7 = fmaf(a4_0.y, b4_1.w, acc_1_7);
    acc_2_0 = fmaf(a4_0.z, b4_0.x, acc_2_0);
    acc_2_1 = fmaf(a4_0.z, b4_0.y, acc_2_1);
    acc_2_2 = fmaf(a4_0.z, b4_0.z, acc_2_2);
    acc_2_3 = fmaf(a4_0.z, b4_0.w, acc_2_3);
    acc_2_4 = fmaf(a4_0.z, b4_1.x, acc_2_4);
    acc_2_5 = fmaf(a4_0.z, b4_1.y, acc_2_5);
    acc_2_6 = fmaf(a4_0.z, b4_1.z, acc_2_6);
    acc_2_7 = fmaf(a4_0.z, b4_1.w, acc_2_7);
    acc_3_0 = fmaf(a4_0.w, b4_0.x, acc_3_0);
    acc_3_1 = fmaf(a4_0.w, b4_0.y, acc_3_1);
    acc_3_2 = fmaf(a4_0.w, b4_0.z, acc_3_2);
    acc_3_3 = fmaf(a4_0.w, b4_0.w, acc_3_3);
    acc_3_4 = fmaf(a4_0.w, b4_1.x, acc_3_4);
    acc_3_5 = fmaf(a4_0.w, b4_1.y, acc_3_5);
    acc_3_6 = fmaf(a4_0.w, b4_1.z, acc_3_6);
    acc_3_7 = fmaf(a4_0.w, b4_1.w, acc_3_7);
    acc_4_0 = fmaf(a4_1.x, b4_0.x, acc_4_0);
    acc_4_1 = fmaf(a4_1.x, b4_0.y, acc_4_1);
    acc_4_2 = fmaf(a4_1.x, b4_0.z, acc_4_2);
    acc_4_3 = fmaf(a4_1.x, b4_0.w, acc_4_3);
    acc_4_4 = fmaf(a4_1.x, b4_1.x, acc_4_4);
    acc_4_5 = fmaf(a4_1.x, b4_1.y, acc_4_5);
    acc_4_6 = fmaf(a4_1.x, b4_1.z, acc_4_6);
    acc_4_7 = fmaf(a4_1.x, b4_1.w, acc_4_7);
    acc_5_0 = fmaf(a4_1.y, b4_0.x, acc_5_0);
    acc_5_1 = fmaf(a4_1.y, b4_0.y, acc_5_1);
    acc_5_2 = fmaf(a4_1.y, b4_0.z, acc_5_2);
    acc_5_3 = fmaf(a4_1.y, b4_0.w, acc_5_3);
    acc_5_4 = fmaf(a4_1.y, b4_1.x, acc_5_4);
    acc_5_5 = fmaf(a4_1.y, b4_1.y, acc_5_5);
    acc_5_6 = fmaf(a4_1.y, b4_1.z, acc_5_6);
    acc_5_7 = fmaf(a4_1.y, b4_1.w, acc_5_7);
    acc_6_0 = fmaf(a4_1.z, b4_0.x, acc_6_0);
    acc_6_1 = fmaf(a4_1.z, b4_0.y, acc_6_1);
    acc_6_2 = fmaf(a4_1.z, b4_0.z, acc_6_2);
    acc_6_3 = fmaf(a4_1.z, b4_0.w, acc_6_3);
    acc_6_4 = fmaf(a4_1.z, b4_1.x, acc_6_4);
    acc_6_5 = fmaf(a4_1.z, b4_1.y, acc_6_5);
    acc_6_6 = fmaf(a4_1.z, b4_1.z, acc_6_6);
    acc_6_7 = fmaf(a4_1.z, b4_1.w, acc_6_7);
    acc_7_0 = fmaf(a4_1.w, b4_0.x, acc_7_0);
    acc_7_1 = fmaf(a4_1.w, b4_0.y, acc_7_1);
    acc_7_2 = fmaf(a4_1.w, b4_0.z, acc_7_2);
    acc_7_3 = fmaf(a4_1.w, b4_0.w, acc_7_3);
    acc_7_4 = fmaf(a4_1.w, b4_1.x, acc_7_4);
    acc_7_5 = fmaf(a4_1.w, b4_1.y, acc_7_5);
    acc_7_6 = fmaf(a4_1.w, b4_1.z, acc_7_6);
    acc_7_7 = fmaf(a4_1.w, b4_1.w, acc_7_7);
    const float4 a5_0 = As[a_from + 160u];
    const float4 a5_1 = As[a_from + 161u];
    const float4 b5_0 = Bs[b_from + 160u];
    const float4 b5_1 = Bs[b_from + 161u];
    acc_0_0 = fmaf(a5_0.x, b5_0.x, acc_0_0);
    acc_0_1 = fmaf(a5_0.x, b5_0.y, acc_0_1);
    acc_0_2 = fmaf(a5_0.x, b5_0.z, acc_0_2);
    acc_0_3 = fmaf(a5_0.x, b5_0.w, acc_0_3);
    acc_0_4 = fmaf(a5_0.x, b5_1.x, acc_0_4);
    acc_0_5 = fmaf(a5_0.x, b5_1.y, acc_0_5);
    acc_0_6 = fmaf(a5_0.x, b5_1.z, acc_0_6);
    acc_0_7 = fmaf(a5_0.x, b5_1.w, acc_0_7);
    acc_1_0 = fmaf(a5_0.y, b5_0.x, acc_1_0);
    acc_1_1 = fmaf(a5_0.y, b5_0.y, acc_1_1);
    acc_1_2 = fmaf(a5_0.y, b5_0.z, acc_1_2);
    acc_1_3 = fmaf(a5_0.y, b5_0.w, acc_1_3);
    acc_1_4 = fmaf(a5_0.y, b5_1.x, acc_1_4);
    acc_1_5 = fmaf(a5_0.y, b5_1.y, acc_1_5);
    acc_1_6 = fmaf(a5_0.y, b5_1.z, acc_1_6);
    acc_1_7 = fmaf(a5_0.y, b5_1.w, acc_1_7);
    acc_2_0 = fmaf(a5_0.z, b5_0.x, acc_2_0);
    acc_2_1 = fmaf(a5_0.z, b5_0.y, acc_2_1);
    acc_2_2 = fmaf(a5_0.z, b5_0.z, acc_2_2);
    acc_2_3 = fmaf(a5_0.z, b5_0.w, acc_2_3);
    acc_2_4 = fmaf(a5_0.z, b5_1.x, acc_2_4);
    acc_2_5 = fmaf(a5_0.z, b5_1.y, acc_2_5);
    acc_2_6 = fmaf(a5_0.z, b5_1.z, acc_2_6);
    acc_2_7 = fmaf(a5_0.z, b5_1.w, acc_2_7);
    acc_3_0 = fmaf(a5_0.w, b5_0.x, acc_3_0);
    acc_3_1 = fmaf(a5_0.w, b5_0.y, acc_3_1);
    acc_3_2 = fmaf(a5_0.w, b5_0.z, acc_3_2);
    acc_3_3 = fmaf(a5_0.w, b5_0.w, acc_3_3);
    acc_3_4 = fmaf(a5_0.w, b5_1.x, acc_3_4);
    acc_3_5 = fmaf(a5_0.w, b5_1.y, acc_3_5);
    acc_3_6 = fmaf(a5_0.w, b5_1.z, acc_3_6);
    acc_3_7 = fmaf(a5_0.w, b5_1.w, acc_3_7);
    acc_4_0 = fmaf(a5_1.x, b5_0.x, acc_4_0);
    acc_4_1 = fmaf(a5_1.x, b5_0.y, acc_4_1);
    acc_4_2 = fmaf(a5_1.x, b5_0.z, acc_4_2);
    acc_4_3 = fmaf(a5_1.x, b5_0.w, acc_4_3);
    acc_4_4 = fmaf(a5_1.x, b5_1.x, acc_4_4);
    acc_4_5 = fmaf(a5_1.x, b5_1.y, acc_4_5);
    acc_4_6 = fmaf(a5_1.x, b5_1.z, acc_4_6);
    acc_4_7 = fmaf(a5_1.x, b5_1.w, acc_4_7);
    acc_5_0 = fmaf(a5_1.y, b5_0.x, acc_5_0);
    acc_5_1 = fmaf(a5_1.y, b5_0.y, acc_5_1);
    acc_5_2 = fmaf(a5_1.y, b5_0.z, acc_5_2);
    acc_5_3 = fmaf(a5_1.y, b5_0.w, acc_5_3);
    acc_5_4 = fmaf(a5_1.y, b5_1.x, acc_5_4);
    acc_5_5 = fmaf(a5_1.y, b5_1.y, acc_5_5);
    acc_5_6 = fmaf(a5_1.y, b5_1.z, acc_5_6);
    acc_5_7 = fmaf(a5_1.y, b5_1.w, acc_5_7);
    acc_6_0 = fmaf(a5_1.z, b5_0.x, acc_6_0);
    acc_6_1 = fmaf(a5_1.z, b5_0.y, acc_6_1);
    acc_6_2 = fmaf(a5_1.z, b5_0.z, acc_6_2);
    acc_6_3 = fmaf(a5_1.z, b5_0.w, acc_6_3);
    acc_6_4 = fmaf(a5_1.z, b5_1.x, acc_6_4);
    acc_6_5 = fmaf(a5_1.z, b5_1.y, acc_6_5);
    acc_6_6 = fmaf(a5_1.z, b5_1.z, acc_6_6);
    acc_6_7 = fmaf(a5_1.z, b5_1.w, acc_6_7);
    acc_7_0 = fmaf(a5_1.w, b5_0.x, acc_7_0);
    acc_7_1 = fmaf(a5_1.w, b5_0.y, acc_7_1);
    acc_7_2 = fmaf(a5_1.w, b5_0.z, acc_7_2);
    acc_7_3 = fmaf(a5_1.w, b5_0.w, acc_7_3);
    acc_7_4 = fmaf(a5_1.w, b5_1.x, acc_7_4);
    acc_7_5 = fmaf(a5_1.w, b5_1.y, acc_7_5);
    acc_7_6 = fmaf(a5_1.w, b5_1.z, acc_7_6);
    acc_7_7 = fmaf(a5_1.w, b5_1.w, acc_7_7);
    const float4 a6_0 = As[a_from + 192u];
    const float4 a6_1 = As[a_from + 193u];
    const float4 b6_0 = Bs[b_from + 192u];
    const float4 b6_1 = Bs[b_from + 193u];
    acc_0_0 = fmaf(a6_0.x, b6_0.x, acc_0_0);
    acc_0_1 = fmaf(a6_0.x, b6_0.y, acc_0_1);
    acc_0_2 = fmaf(a6_0.x, b6_0.z, acc_0_2);
    acc_0_3 = fmaf(a6_0.x, b6_0.w, acc_0_3);
    acc_0_4 = fmaf(a6_0.x, b6_1.x, acc_0_4);
    acc_0_5 = fmaf(a6_0.x, b6_1.y, acc_0_5);
    acc_0_6 = fmaf(a6_0.x, b6_1.z, acc_0_6);
    acc_0_7 = fmaf(a6_0.x, b6_1.w, acc_0_7);
    acc_1_0 = fmaf(a6_0.y, b6_0.x, acc_1_0);
    acc_1_1 = fmaf(a6_0.y, b6_0.y, acc_1_1);
    acc_1_2 = fmaf(a6_0.y, b6_0.z, acc_1_2);
    acc_1_3 = fmaf(a6_0.y, b6_0.w, acc_1_3);
    acc_1_4 = fmaf(a6_0.y, b6_1.x, acc_1_4);
    acc_1_5 = fmaf(a6_0.y, b6_1.y, acc_1_5);
    acc_1_6 = fmaf(a6_0.y, b6_1.z, acc_1_6);
    acc_1_7 = fmaf(a6_0.y, b6_1.w, acc_1_7);
    acc_2_0 = fmaf(a6_0.z, b6_0.x, acc_2_0);
    acc_2_1 = fmaf(a6_0.z, b6_0.y, acc_2_1);
    acc_2_2 = fmaf(a6_0.z, b6_0.z, acc_2_2);
    acc_2_3 = fmaf(a6_0.z, b6_0.w, acc_2_3);
    acc_2_4 = fmaf(a6_0.z, b6_1.x, acc_2_4);
    acc_2_5 = fmaf(a6_0.z, b6_1.y, acc_2_5);
    acc_2_6 = fmaf(a6_0.z, b6_1.z, acc_2_6);
    acc_2_7 = fmaf(a6_0.z, b6_1.w, acc_2_7);
    acc_3_0 = fmaf(a6_0.w, b6_0.x, acc_3_0);
    acc_3_1 = fmaf(a6_0.w, b6_0.y, acc_3_1);
    acc_3_2 = fmaf(a6_0.w, b6_0.z, acc_3_2);
    acc_3_3 = fmaf(a6_0.w, b6_0.w, acc_3_3);
    acc_3_4 = fmaf(a6_0.w, b6_1.x, acc_3_4);
    acc_3_5 = fmaf(a6_0.w, b6_1.y, acc_3_5);
    acc_3_6 = fmaf(a6_0.w, b6_1.z, acc_3_6);
    acc_3_7 = fmaf(a6_0.w, b6_1.w, acc_3_7);
    acc_4_0 = fmaf(a6_1.x, b6_0.x, acc_4_0);
    acc_4_1 = fmaf(a6_1.x, b6_0.y, acc_4_1);
    acc_4_2 = fmaf(a6_1.x, b6_0.z, acc_4_2);
    acc_4_3 = fmaf(a6_1.x, b6_0.w, acc_4_3);
    acc_4_4 = fmaf(a6_1.x, b6_1.x, acc_4_4);
    acc_4_5 = fmaf(a6_1.x, b6_1.y, acc_4_5);
    acc_4_6 = fmaf(a6_1.x, b6_1.z, acc_4_6);
    acc_4_7 = fmaf(a6_1.x, b6_1.w, acc_4_7);
    acc_5_0 = fmaf(a6_1.y, b6_0.x, acc_5_0);
    acc_5_1 = fmaf(a6_1.y, b6_0.y, acc_5_1);
    acc_5_2 = fmaf(a6_1.y, b6_0.z, acc_5_2);
    acc_5_3 = fmaf(a6_1.y, b6_0.w, acc_5_3);
    acc_5_4 = fmaf(a6_1.y, b6_1.x, acc_5_4);
    acc_5_5 = fmaf(a6_1.y, b6_1.y, acc_5_5);
    acc_5_6 = fmaf(a6_1.y, b6_1.z, acc_5_6);
    acc_5_7 = fmaf(a6_1.y, b6_1.w, acc_5_7);
    acc_6_0 = fmaf(a6_1.z, b6_0.x, acc_6_0);
    acc_6_1 = fmaf(a6_1.z, b6_0.y, acc_6_1);
    acc_6_2 = fmaf(a6_1.z, b6_0.z, acc_6_2);
    acc_6_3 = fmaf(a6_1.z, b6_0.w, acc_6_3);
    acc_6_4 = fmaf(a6_1.z, b6_1.x, acc_6_4);
    acc_6_5 = fmaf(a6_1.z, b6_1.y, acc_6_5);
    acc_6_6 = fmaf(a6_1.z, b6_1.z, acc_6_6);
    acc_6_7 = fmaf(a6_1.z, b6_1.w, acc_6_7);
    acc_7_0 = fmaf(a6_1.w, b6_0.x, acc_7_0);
    acc_7_1 = fmaf(a6_1.w, b6_0.y, acc_7_1);
    acc_7_2 = fmaf(a6_1.w, b6_0.z, acc_7_2);
    acc_7_3 = fmaf(a6_1.w, b6_0.w, acc_7_3);
    acc_7_4 = fmaf(a6_1.w, b6_1.x, acc_7_4);
    acc_7_5 = fmaf(a6_1.w, b6_1.y, acc_7_5);
    acc_7_6 = fmaf(a6_1.w, b6_1.z, acc_7_6);
    acc_7_7 = fmaf(a6_1.w, b6_1.w, acc_7_7);
    const float4 a7_0 = As[a_from + 224u];
    const float4 a7_1 = As[a_from + 225u];
    const float4 b7_0 = Bs[b_from + 224u];
    const float4 b7_1 = Bs[b_from + 225u];
    acc_0_0 = fmaf(a7_0.x, b7_0.x, acc_0_0);
    acc_0_1 = fmaf(a7_0.x, b7_0.y, acc_0_1);
    acc_0_2 = fmaf(a7_0.x, b7_0.z, acc_0_2);
    acc_0_3 = fmaf(a7_0.x, b7_0.w, acc_0_3);
    acc_0_4 = fmaf(a7_0.x, b7_1.x, acc_0_4);
    acc_0_5 = fmaf(a7_0.x, b7_1.y, acc_0_5);
    acc_0_6 = fmaf(a7_0.x, b7_1.z, acc_0_6);
    acc_0_7 = fmaf(a7_0.x, b7_1.w, acc_0_7);
    acc_1_0 = fmaf(a7_0.y, b7_0.x, acc_1_0);
    acc_1_1 = fmaf(a7_0.y, b7_0.y, acc_1_1);
    acc_1_2 = fmaf(a7_0.y, b7_0.z, acc_1_2);
    acc_1_3 = fmaf(a7_0.y, b7_0.w, acc_1_3);
    acc_1_4 = fmaf(a7_0.y, b7_1.x, acc_1_4);
    acc_1_5 = fmaf(a7_0.y, b7_1.y, acc_1_5);
    acc_1_6 = fmaf(a7_0.y, b7_1.z, acc_1_6);
    acc_1_7 = fmaf(a7_0.y, b7_1.w, acc_1_7);
    acc_2_0 = fmaf(a7_0.z, b7_0.x, acc_2_0);
    acc_2_1 = fmaf(a7_0.z, b7_0.y, acc_2_1);
    acc_2_2 = fmaf(a7_0.z, b7_0.z, acc_2_2);
    acc_2_3 = fmaf(a7_0.z, b7_0.w, acc_2_3);
    acc_2_4 = fmaf(a7_0.z, b7_1.x, acc_2_4);
    acc_2_5 = fmaf(a7_0.z, b7_1.y, acc_2_5);
    acc_2_6 = fmaf(a7_0.z, b7_1.z, acc_2_6);
    acc_2_7 = fmaf(a7_0.z, b7_1.w, acc_2_7);
    acc_3_0 = fmaf(a7_0.w, b7_0.x, acc_3_0);
    acc_3_1 = fmaf(a7_0.w, b7_0.y, acc_3_1);
    acc_3_2 = fmaf(a7_0.w, b7_0.z, acc_3_2);
    acc_3_3 = fmaf(a7_0.w, b7_0.w, acc_3_3);
    acc_3_4 = fmaf(a7_0.w, b7_1.x, acc_3_4);
    acc_3_5 = fmaf(a7_0.w, b7_1.y, acc_3_5);
    acc_3_6 = fmaf(a7_0.w, b7_1.z, acc_3_6);
    acc_3_7 = fmaf(a7_0.w, b7_1.w, acc_3_7);
    acc_4_0 = fmaf(a7_1.x, b7_0.x, acc_4_0);
    acc_4_1 = fmaf(a7_1.x, b7_0.y, acc_4_1);
    acc_4_2 = fmaf(a7_1.x, b7_0.z, acc_4_2);
    acc_4_3 = fmaf(a7_1.x, b7_0.w, acc_4_3);
    acc_4_4 = fmaf(a7_1.x, b7_1.x, acc_4_4);
    acc_4_5 = fmaf(a7_1.x, b7_1.y, acc_4_5);
    acc_4_6 = fmaf(a7_1.x, b7_1.z, acc_4_6);
    acc_4_7 = fmaf(a7_1.x, b7_1.w, acc_4_7);
    acc_5_0 = fmaf(a7_1.y, b7_0.x, acc_5_0);
    acc_5_1 = fmaf(a7_1.y, b7_0.y, acc_5_1);
    acc_5_2 = fmaf(a7_1.y, b7_0.z, acc_5_2);
    acc_5_3 = fmaf(a7_1.y, b7_0.w, acc_5_3);
    acc_5_4 = fmaf(a7_1.y, b7_1.x, acc_5_4);
    acc_5_5 = fmaf(a7_1.y, b7_1.y, acc_5_5);
    acc_5_6 = fmaf(a7_1.y, b7_1.z, acc_5_6);
    acc_5_7 = fmaf(a7_1.y, b7_1.w, acc_5_7);
    acc_6_0 = fmaf(a7_1.z, b7_0.x, acc_6_0);
    acc_6_1 = fmaf(a7_1.z, b7_0.y, acc_6_1);
    acc_6_2 = fmaf(a7_1.z, b7_0.z, acc_6_2);
    acc_6_3 = fmaf(a7_1.z, b7_0.w, acc_6_3);
    acc_6_4 = fmaf(a7_1.z, b7_1.x, acc_6_4);
    acc_6_5 = fmaf(a7_1.z, b7_1.y, acc_6_5);
    acc_6_6 = fmaf(a7_1.z, b7_1.z, acc_6_6);
    acc_6_7 = fmaf(a7_1.z, b7_1.w, acc_6_7);
    acc_7_0 = fmaf(a7_1.w, b7_0.x, acc_7_0);
    acc_7_1 = fmaf(a7_1.w, b7_0.y, acc_7_1);
    acc_7_2 = fmaf(a7_1.w, b7_0.z, acc_7_2);
    acc_7_3 = fmaf(a7_1.w, b7_0.w, acc_7_3);
    acc_7_4 = fmaf(a7_1.w, b7_1.x, acc_7_4);
    acc_7_5 = fmaf(a7_1.w, b7_1.y, acc_7_5);
    acc_7_6 = fmaf(a7_1.w, b7_1.z, acc_7_6);
    acc_7_7 = fmaf(a7_1.w, b7_1.w, acc_7_7);
    asm volatile("cp.async.wait_group 0;" ::: "memory");
    __syncthreads();
    stage = stage_next;
  }
  const unsigned int out_base = wg * 7000u;
  const unsigned int row0 = ty * 8u;
  if (row0 < 100u) {
    const unsigned int col0_0 = tx * 8u;
    if (col0_0 < 70u) {
      c[out_base + ((row0 * 70u) + col0_0)] = acc_0_0;
    }
    const unsigned int col0_1 = (tx * 8u) + 1u;
    if (col0_1 < 70u) {
      c[out_base + ((row0 * 70u) + col0_1)] = acc_0_1;
    }
    const unsigned int col0_2 = (tx * 8u) + 2u;
    if (col0_2 < 70u) {
      c[out_base + ((row0 * 70u) + col0_2)] = acc_0_2;
    }
    const unsigned int col0_3 = (tx * 8u) + 3u;
    if (col0_3 < 70u) {
      c[out_base + ((row0 * 70u) + col0_3)] = acc_0_3;
    }
    const unsigned int col0_4 = (tx * 8u) + 4u;
    if (col0_4 < 70u) {
      c[out_base + ((row0 * 70u) + col0_4)] = acc_0_4;
    }
    const unsigned int col0_5 = (tx * 8u) + 5u;
    if (col0_5 < 70u) {
      c[out_base + ((row0 * 70u) + col0_5)] = acc_0_5;
    }
    const unsigned int col0_6 = (tx * 8u) + 6u;
    if (col0_6 < 70u) {
      c[out_base + ((row0 * 70u) + col0_6)] = acc_0_6;
    }
    const unsigned int col0_7 = (tx * 8u) + 7u;
    if (col0_7 < 70u) {
      c[out_base + ((row0 * 70u) + col0_7)] = acc_0_7;
    }
  }
  const unsigned int row1 = (ty * 8u) + 1u;
  if (row1 < 100u) {
    const unsigned int col1_0 = tx * 8u;
    if (col1_0 < 70u) {
      c[out_base + ((row1 * 70u) + col1_0)] = acc_1_0;
    }
    const unsigned int col1_1 = (tx * 8u) + 1u;
    if (col1_1 < 70u) {
      c[out_base + ((row1 * 70u) + col1_1)] = acc_1_1;
    }
    const unsigned int col1_2 = (tx * 8u) + 2u;
    if (col1_2 < 70u) {
      c[out_base + ((row1 * 70u) + col1_2)] = acc_1_2;
    }
    const unsigned int col1_3 = (tx * 8u) + 3u;
    if (col1_3 < 70u) {
      c[out_base + ((row1 * 70u) + col1_3)] = acc_1_3;
    }
    const unsigned int col1_4 = (tx * 8u) + 4u;
    if (col1_4 < 70u) {
      c[out_base + ((row1 * 70u) + col1_4)] = acc_1_4;
    }
    const unsigned int col1_5 = (tx * 8u) + 5u;
    if (col1_5 < 70u) {
      c[out_base + ((row1 * 70u) + col1_5)] = acc_1_5;
    }
    const unsigned int col1_6 = (tx * 8u) + 6u;
    if (col1_6 < 70u) {
      c[out_base + ((row1 * 70u) + col1_6)] = acc_1_6;
    }
    const unsigned int col1_7 = (tx * 8u) + 7u;
    if (col1_7 < 70u) {
      c[out_base + ((row1 * 70u) + col1_7)] = acc_1_7;
    }
  }
  const unsigned int row2 = (ty * 8u) + 2u;
  if (row2 < 100u) {
    const unsigned int col2_0 = tx * 8u;
    if (col2_0 < 70u) {
      c[out_base + ((row2 * 70u) + col2_0)] = acc_2_0;
    }
    const unsigned int col2_1 = (tx * 8u) + 1u;
    if (col2_1 < 70u) {
      c[out_base + ((row2 * 70u) + col2_1)] = acc_2_1;
    }
    const unsigned int col2_2 = (tx * 8u) + 2u;
    if (col2_2 < 70u) {
      c[out_base + ((row2 * 70u) + col2_2)] = acc_2_2;
    }
    const unsigned int col2_3 = (tx * 8u) + 3u;
    if (col2_3 < 70u) {
      c[out_base + ((row2 * 70u) + col2_3)] = acc_2_3;
    }
    const unsigned int col2_4 = (tx * 8u) + 4u;
    if (col2_4 < 70u) {
      c[out_base + ((row2 * 70u) + col2_4)] = acc_2_4;
    }
    const unsigned int col2_5 = (tx * 8u) + 5u;
    if (col2_5 < 70u) {
      c[out_base + ((row2 * 70u) + col2_5)] = acc_2_5;
    }
    const unsigned int col2_6 = (tx * 8u) + 6u;
    if (col2_6 < 70u) {
      c[out_base + ((row2 * 70u) + col2_6)] = acc_2_6;
    }
    const unsigned int col2_7 = (tx * 8u) + 7u;
    if (col2_7 < 70u) {
      c[out_base + ((row2 * 70u) + col2_7)] = acc_2_7;
    }
  }
  const unsigned int row3 = (ty * 8u) + 3u;
  if (row3 < 100u) {
    const unsigned int col3_0 = tx * 8u;
    if (col3_0 < 70u) {
      c[out_base + ((row3 * 70u) + col3_0)] = acc_3_0;
    }
    const unsigned int col3_1 = (tx * 8u) + 1u;
    if (col3_1 < 70u) {
      c[out_base + ((row3 * 70u) + col3_1)] = acc_3_1;
    }
    const unsigned int col3_2 = (tx * 8u) + 2u;
    if (col3_2 < 70u) {
      c[out_base + ((row3 * 70u) + col3_2)] = acc_3_2;
    }
    const unsigned int col3_3 = (tx * 8u) + 3u;
    if (col3_3 < 70u) {
      c[out_base + ((row3 * 70u) + col3_3)] = acc_3_3;
    }
    const unsigned int col3_4 = (tx * 8u) + 4u;
    if (col3_4 < 70u) {
      c[out_base + ((row3 * 70u) + col3_4)] = acc_3_4;
    }
    const unsigned int col3_5 = (tx * 8u) + 5u;
    if (col3_5 < 70u) {
      c[out_base + ((row3 * 70u) + col3_5)] = acc_3_5;
    }
    const unsigned int col3_6 = (tx * 8u) + 6u;
    if (col3_6 < 70u) {
      c[out_base + ((row3 * 70u) + col3_6)] = acc_3_6;
    }
    const unsigned int col3_7 = (tx * 8u) + 7u;
    if (col3_7 < 70u) {
      c[out_base + ((row3 * 70u) + col3_7)] = acc_3_7;
    }
  }
  const unsigned int row4 = (ty * 8u) + 4u;
  if (row4 < 100u) {
    const unsigned int col4_0 = tx * 8u;
    if (col4_0 < 70u) {
      c[out_base + ((row4 * 70u) + col4_0)] = acc_4_0;
    }
    const unsigned int col4_1 = (tx * 8u) + 1u;
    if (col4_1 < 70u) {
      c[out_base + ((row4 * 70u) + col4_1)] = acc_4_1;
    }
    const unsigned int col4_2 = (tx * 8u) + 2u;
    if (col4_2 < 70u) {
      c[out_base + ((row4 * 70u) + col4_2)] = acc_4_2;
    }
    const unsigned int col4_3 = (tx * 8u) + 3u;
    if (col4_3 < 70u) {
      c[out_base + ((row4 * 70u) + col4_3)] = acc_4_3;
    }
    const unsigned int col4_4 = (tx * 8u) + 4u;
    if (col4_4 < 70u) {
      c[out_base + ((row4 * 70u) + col4_4)] = acc_4_4;
    }
    const unsigned int col4_5 = (tx * 8u) + 5u;
    if (col4_5 < 70u) {
      c[out_base + ((row4 * 70u) + col4_5)] = acc_4_5;
    }
    const unsigned int col4_6 = (tx * 8u) + 6u;
    if (col4_6 < 70u) {
      c[out_base + ((row4 * 70u) + col4_6)] = acc_4_6;
    }
    const unsigned int col4_7 = (tx * 8u) + 7u;
    if (col4_7 < 70u) {
      c[out_base + ((row4 * 70u) + col4_7)] = acc_4_7;
    }
  }
  const unsigned int row5 = (ty * 8u) + 5u;
  if (row5 < 100u) {
    const unsigned int col5_0 = tx * 8u;
    if (col5_0 < 70u) {
      c[out_base + ((row5 * 70u) + col5_0)] = acc_5_0;
    }
    const unsigned int col5_1 = (tx * 8u) + 1u;
    if (col5_1 < 70u) {
      c[out_base + ((row5 * 70u) + col5_1)] = acc_5_1;
    }
    const unsigned int col5_2 = (tx * 8u) + 2u;
    if (col5_2 < 70u) {
      c[out_base + ((row5 * 70u) + col5_2)] = acc_5_2;
    }
    const unsigned int col5_3 = (tx * 8u) + 3u;
    if (col5_3 < 70u) {
      c[out_base + ((row5 * 70u) + col5_3)] = acc_5_3;
    }
    const unsigned int col5_4 = (tx * 8u) + 4u;
    if (col5_4 < 70u) {
      c[out_base + ((row5 * 70u) + col5_4)] = acc_5_4;
    }
    const unsigned int col5_5 = (tx * 8u) + 5u;
    if (col5_5 < 70u) {
      c[out_base + ((row5 * 70u) + col5_5)] = acc_5_5;
    }
    const unsigned int col5_6 = (tx * 8u) + 6u;
    if (col5_6 < 70u) {
      c[out_base + ((row5 * 70u) + col5_6)] = acc_5_6;
    }
    const unsigned int col5_7 = (tx * 8u) + 7u;
    if (col5_7 < 70u) {
      c[out_base + ((row5 * 70u) + col5_7)] = acc_5_7;
    }
  }
  const unsigned int row6 = (ty * 8u) + 6u;
  if (row6 < 100u) {
    const unsigned int col6_0 = tx * 8u;
    if (col6_0 < 70u) {
      c[out_base + ((row6 * 70u) + col6_0)] = acc_6_0;
    }
    const unsigned int col6_1 = (tx * 8u) + 1u;
    if (col6_1 < 70u) {
      c[out_base + ((row6 * 70u) + col6_1)] = acc_6_1;
    }
    const unsigned int col6_2 = (tx * 8u) + 2u;
    if (col6_2 < 70u) {
      c[out_base + ((row6 * 70u) + col6_2)] = acc_6_2;
    }
    const unsigned int col6_3 = (tx * 8u) + 3u;
    if (col6_3 < 70u) {
      c[out_base + ((row6 * 70u) + col6_3)] = acc_6_3;
    }
    const unsigned int col6_4 = (tx * 8u) + 4u;
    if (col6_4 < 70u) {
      c[out_base + ((row6 * 70u) + col6_4)] = acc_6_4;
    }
    const unsigned int col6_5 = (tx * 8u) + 5u;
    if (col6_5 < 70u) {
      c[out_base + ((row6 * 70u) + col6_5)] = acc_6_5;
    }
    const unsigned int col6_6 = (tx * 8u) + 6u;
    if (col6_6 < 70u) {
      c[out_base + ((row6 * 70u) + col6_6)] = acc_6_6;
    }
    const unsigned int col6_7 = (tx * 8u) + 7u;
    if (col6_7 < 70u) {
      c[out_base + ((row6 * 70u) + col6_7)] = acc_6_7;
    }
  }
  const unsigned int row7 = (ty * 8u) + 7u;
  if (row7 < 100u) {
    const unsigned int col7_0 = tx * 8u;
    if (col7_0 < 70u) {
      c[out_base + ((row7 * 70u) + col7_0)] = acc_7_0;
    }
    const unsigned int col7_1 = (tx * 8u) + 1u;
    if (col7_1 < 70u) {
      c[out_base + ((row7 * 70u) + col7_1)] = acc_7_1;
    }
    const unsigned int col7_2 = (tx * 8u) + 2u;
    if (col7_2 < 70u) {
      c[out_base + ((row7 * 70u) + col7_2)] = acc_7_2;
    }
    const unsigned int col7_3 = (tx * 8u) + 3u;
    if (col7_3 < 70u) {
      c[out_base + ((row7 * 70u) + col7_3)] = acc_7_3;
    }
    const unsigned int col7_4 = (tx * 8u) + 4u;
    if (col7_4 < 70u) {
      c[out_base + ((row7 * 70u) + col7_4)] = acc_7_4;
    }
    const unsigned int col7_5 = (tx * 8u) + 5u;
    if (col7_5 < 70u) {
      c[out_base + ((row7 * 70u) + col7_5)] = acc_7_5;
    }
    const unsigned int col7_6 = (tx * 8u) + 6u;
    if (col7_6 < 70u) {
      c[out_base + ((row7 * 70u) + col7_6)] = acc_7_6;
    }
    const unsigned int col7_7 = (tx * 8u) + 7u;
    if (col7_7 < 70u) {
      c[out_base + ((row7 * 70u) + col7_7)] = acc_7_7;
    }
  }
}
