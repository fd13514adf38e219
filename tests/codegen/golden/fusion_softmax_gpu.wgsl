// fusion_reduction_0: %0 = fusion %x {body=@reduction_0, kind="reduction", reason="result of the function"} : f32[4096,1024]; ops: reduce_max broadcast_in_dim sub exp reduce_sum broadcast_in_dim div
var<private> f32_neg_inf_bits: u32 = 0xff800000u;
@group(0) @binding(0) var<storage, read> in0: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> out0: array<vec4<f32>>;
var<workgroup> partial0: array<f32, 256>;
var<workgroup> partial1: array<f32, 256>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(local_invocation_id) local_id: vec3<u32>,
        @builtin(workgroup_id) group_id: vec3<u32>,
        @builtin(num_workgroups) num_groups: vec3<u32>) {
  // func @reduction_0(%x: f32[4096,1024]) -> (f32[4096,1024]) {
  //   %0 = reduce_max %x {axes=[1]} : f32[4096]
  //   %1 = broadcast_in_dim %0 {shape=[4096, 1024], dims=[0]} : f32[4096,1024]
  //   %2 = sub %x, %1 : f32[4096,1024]
  //   %3 = exp %2 : f32[4096,1024]
  //   %4 = reduce_sum %3 {axes=[1]} : f32[4096]
  //   %5 = broadcast_in_dim %4 {shape=[4096, 1024], dims=[0]} : f32[4096,1024]
  //   %6 = div %3, %5 : f32[4096,1024]
  //   return %6
  // }
  let lane: u32 = local_id.x;
  let row: u32 = group_id.x;
  var acc: f32 = bitcast<f32>(f32_neg_inf_bits);
  let in0_4: vec4<f32> = in0[(row * 256u) + lane];
  let max_b: f32 = in0_4.x;
  acc = select(select(max(acc, max_b), bitcast<f32>(bitcast<u32>(acc) & bitcast<u32>(max_b)), acc == max_b), acc + max_b, ((bitcast<u32>(acc) & 2147483647u) > 2139095040u) || ((bitcast<u32>(max_b) & 2147483647u) > 2139095040u));
  let max_b_1: f32 = in0_4.y;
  acc = select(select(max(acc, max_b_1), bitcast<f32>(bitcast<u32>(acc) & bitcast<u32>(max_b_1)), acc == max_b_1), acc + max_b_1, ((bitcast<u32>(acc) & 2147483647u) > 2139095040u) || ((bitcast<u32>(max_b_1) & 2147483647u) > 2139095040u));
  let max_b_2: f32 = in0_4.z;
  acc = select(select(max(acc, max_b_2), bitcast<f32>(bitcast<u32>(acc) & bitcast<u32>(max_b_2)), acc == max_b_2), acc + max_b_2, ((bitcast<u32>(acc) & 2147483647u) > 2139095040u) || ((bitcast<u32>(max_b_2) & 2147483647u) > 2139095040u));
  let max_b_3: f32 = in0_4.w;
  acc = select(select(max(acc, max_b_3), bitcast<f32>(bitcast<u32>(acc) & bitcast<u32>(max_b_3)), acc == max_b_3), acc + max_b_3, ((bitcast<u32>(acc) & 2147483647u) > 2139095040u) || ((bitcast<u32>(max_b_3) & 2147483647u) > 2139095040u));
  partial0[lane] = acc;
  workgroupBarrier();
  if (lane < 128u) {
    let max_a: f32 = partial0[lane];
    let max_b_4: f32 = partial0[lane + 128u];
    partial0[lane] = select(select(max(max_a, max_b_4), bitcast<f32>(bitcast<u32>(max_a) & bitcast<u32>(max_b_4)), max_a == max_b_4), max_a + max_b_4, ((bitcast<u32>(max_a) & 2147483647u) > 2139095040u) || ((bitcast<u32>(max_b_4) & 2147483647u) > 2139095040u));
  }
  workgroupBarrier();
  if (lane < 64u) {
    let max_a_1: f32 = partial0[lane];
    let max_b_5: f32 = partial0[lane + 64u];
    partial0[lane] = select(select(max(max_a_1, max_b_5), bitcast<f32>(bitcast<u32>(max_a_1) & bitcast<u32>(max_b_5)), max_a_1 == max_b_5), max_a_1 + max_b_5, ((bitcast<u32>(max_a_1) & 2147483647u) > 2139095040u) || ((bitcast<u32>(max_b_5) & 2147483647u) > 2139095040u));
  }
  workgroupBarrier();
  if (lane < 32u) {
    let max_a_2: f32 = partial0[lane];
    let max_b_6: f32 = partial0[lane + 32u];
    partial0[lane] = select(select(max(max_a_2, max_b_6), bitcast<f32>(bitcast<u32>(max_a_2) & bitcast<u32>(max_b_6)), max_a_2 == max_b_6), max_a_2 + max_b_6, ((bitcast<u32>(max_a_2) & 2147483647u) > 2139095040u) || ((bitcast<u32>(max_b_6) & 2147483647u) > 2139095040u));
  }
  workgroupBarrier();
  if (lane < 16u) {
    let max_a_3: f32 = partial0[lane];
    let max_b_7: f32 = partial0[lane + 16u];
    partial0[lane] = select(select(max(max_a_3, max_b_7), bitcast<f32>(bitcast<u32>(max_a_3) & bitcast<u32>(max_b_7)), max_a_3 == max_b_7), max_a_3 + max_b_7, ((bitcast<u32>(max_a_3) & 2147483647u) > 2139095040u) || ((bitcast<u32>(max_b_7) & 2147483647u) > 2139095040u));
  }
  workgroupBarrier();
  if (lane < 8u) {
    let max_a_4: f32 = partial0[lane];
    let max_b_8: f32 = partial0[lane + 8u];
    partial0[lane] = select(select(max(max_a_4, max_b_8), bitcast<f32>(bitcast<u32>(max_a_4) & bitcast<u32>(max_b_8)), max_a_4 == max_b_8), max_a_4 + max_b_8, ((bitcast<u32>(max_a_4) & 2147483647u) > 2139095040u) || ((bitcast<u32>(max_b_8) & 2147483647u) > 2139095040u));
  }
  workgroupBarrier();
  if (lane < 4u) {
    let max_a_5: f32 = partial0[lane];
    let max_b_9: f32 = partial0[lane + 4u];
    partial0[lane] = select(select(max(max_a_5, max_b_9), bitcast<f32>(bitcast<u32>(max_a_5) & bitcast<u32>(max_b_9)), max_a_5 == max_b_9), max_a_5 + max_b_9, ((bitcast<u32>(max_a_5) & 2147483647u) > 2139095040u) || ((bitcast<u32>(max_b_9) & 2147483647u) > 2139095040u));
  }
  workgroupBarrier();
  if (lane < 2u) {
    let max_a_6: f32 = partial0[lane];
    let max_b_10: f32 = partial0[lane + 2u];
    partial0[lane] = select(select(max(max_a_6, max_b_10), bitcast<f32>(bitcast<u32>(max_a_6) & bitcast<u32>(max_b_10)), max_a_6 == max_b_10), max_a_6 + max_b_10, ((bitcast<u32>(max_a_6) & 2147483647u) > 2139095040u) || ((bitcast<u32>(max_b_10) & 2147483647u) > 2139095040u));
  }
  workgroupBarrier();
  if (lane < 1u) {
    let max_a_7: f32 = partial0[lane];
    let max_b_11: f32 = partial0[lane + 1u];
    partial0[lane] = select(select(max(max_a_7, max_b_11), bitcast<f32>(bitcast<u32>(max_a_7) & bitcast<u32>(max_b_11)), max_a_7 == max_b_11), max_a_7 + max_b_11, ((bitcast<u32>(max_a_7) & 2147483647u) > 2139095040u) || ((bitcast<u32>(max_b_11) & 2147483647u) > 2139095040u));
  }
  workgroupBarrier();
  let row_max: f32 = partial0[0u];
  var acc_1: f32 = 0.0f;
  let sub: f32 = in0_4.x - row_max;
  let exp_: f32 = exp(sub);
  acc_1 = acc_1 + exp_;
  let sub_1: f32 = in0_4.y - row_max;
  let exp_1: f32 = exp(sub_1);
  acc_1 = acc_1 + exp_1;
  let sub_2: f32 = in0_4.z - row_max;
  let exp_2: f32 = exp(sub_2);
  acc_1 = acc_1 + exp_2;
  let sub_3: f32 = in0_4.w - row_max;
  let exp_3: f32 = exp(sub_3);
  acc_1 = acc_1 + exp_3;
  partial1[lane] = acc_1;
  workgroupBarrier();
  if (lane < 128u) {
    partial1[lane] = partial1[lane] + partial1[lane + 128u];
  }
  workgroupBarrier();
  if (lane < 64u) {
    partial1[lane] = partial1[lane] + partial1[lane + 64u];
  }
  workgroupBarrier();
  if (lane < 32u) {
    partial1[lane] = partial1[lane] + partial1[lane + 32u];
  }
  workgroupBarrier();
  if (lane < 16u) {
    partial1[lane] = partial1[lane] + partial1[lane + 16u];
  }
  workgroupBarrier();
  if (lane < 8u) {
    partial1[lane] = partial1[lane] + partial1[lane + 8u];
  }
  workgroupBarrier();
  if (lane < 4u) {
    partial1[lane] = partial1[lane] + partial1[lane + 4u];
  }
  workgroupBarrier();
  if (lane < 2u) {
    partial1[lane] = partial1[lane] + partial1[lane + 2u];
  }
  workgroupBarrier();
  if (lane < 1u) {
    partial1[lane] = partial1[lane] + partial1[lane + 1u];
  }
  workgroupBarrier();
  let row_sum: f32 = partial1[0u];
  let div: f32 = exp_ / row_sum;
  let div_1: f32 = exp_1 / row_sum;
  let div_2: f32 = exp_2 / row_sum;
  let div_3: f32 = exp_3 / row_sum;
  out0[(row * 256u) + lane] = vec4<f32>(div, div_1, div_2, div_3);
}
