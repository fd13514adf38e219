// fusion_reduction_0: %0 = fusion %x, %g, %b {body=@reduction_0, kind="reduction", reason="result of the function"} : f32[4096,1024]; ops: reduce_sum constant div broadcast_in_dim sub mul reduce_sum div broadcast_in_dim constant add rsqrt mul broadcast_in_dim mul broadcast_in_dim add
@group(0) @binding(0) var<storage, read> in0: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> in1: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> in2: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> out0: array<vec4<f32>>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(local_invocation_id) local_id: vec3<u32>,
        @builtin(workgroup_id) group_id: vec3<u32>,
        @builtin(num_workgroups) num_groups: vec3<u32>) {
  // func @reduction_0(%x: f32[4096,1024], %g: f32[1024], %b: f32[1024]) -> (f32[4096,1024]) {
  //   %0 = reduce_sum %x {axes=[1]} : f32[4096]
  //   %1 = constant {value=[1024], shape=[4096], dtype=f32} : f32[4096]
  //   %2 = div %0, %1 : f32[4096]
  //   %3 = broadcast_in_dim %2 {shape=[4096, 1024], dims=[0]} : f32[4096,1024]
  //   %4 = sub %x, %3 : f32[4096,1024]
  //   %5 = mul %4, %4 : f32[4096,1024]
  //   %6 = reduce_sum %5 {axes=[1]} : f32[4096]
  //   %7 = div %6, %1 : f32[4096]
  //   %8 = broadcast_in_dim %7 {shape=[4096, 1024], dims=[0]} : f32[4096,1024]
  //   %9 = constant {value=[0.00001], shape=[4096, 1024], dtype=f32} : f32[4096,1024]
  //   %10 = add %8, %9 : f32[4096,1024]
  //   %11 = rsqrt %10 : f32[4096,1024]
  //   %12 = mul %4, %11 : f32[4096,1024]
  //   %13 = broadcast_in_dim %g {shape=[4096, 1024], dims=[1]} : f32[4096,1024]
  //   %14 = mul %12, %13 : f32[4096,1024]
  //   %15 = broadcast_in_dim %b {shape=[4096, 1024], dims=[1]} : f32[4096,1024]
  //   %16 = add %14, %15 : f32[4096,1024]
  //   return %16
  // }
  let row: u32 = (group_id.x * 64u) + local_id.x;
  var acc_block: f32 = 0.0f;
  var acc_mid: f32 = 0.0f;
  var acc: f32 = 0.0f;
  var acc_steps: u32 = 0u;
  for (var g: u32 = 0u; g < 256u; g += 1u) {
    let in0_4: vec4<f32> = in0[(row * 256u) + g];
    acc_block = acc_block + in0_4.x;
    acc_block = acc_block + in0_4.y;
    acc_block = acc_block + in0_4.z;
    acc_block = acc_block + in0_4.w;
    acc_steps = acc_steps + 1u;
    if ((acc_steps % 64u) == 0u) {
      acc_mid = acc_mid + acc_block;
      acc_block = 0.0f;
      if ((acc_steps % 16384u) == 0u) {
        acc = acc + acc_mid;
        acc_mid = 0.0f;
      }
    }
  }
  let acc_sum: f32 = acc + (acc_mid + acc_block);
  var acc_block_1: f32 = 0.0f;
  var acc_mid_1: f32 = 0.0f;
  var acc_1: f32 = 0.0f;
  var acc_steps_1: u32 = 0u;
  let div: f32 = acc_sum / 1024.0f;
  for (var g_1: u32 = 0u; g_1 < 256u; g_1 += 1u) {
    let in0_4_1: vec4<f32> = in0[(row * 256u) + g_1];
    let sub: f32 = in0_4_1.x - div;
    let mul: f32 = sub * sub;
    acc_block_1 = acc_block_1 + mul;
    let sub_1: f32 = in0_4_1.y - div;
    let mul_1: f32 = sub_1 * sub_1;
    acc_block_1 = acc_block_1 + mul_1;
    let sub_2: f32 = in0_4_1.z - div;
    let mul_2: f32 = sub_2 * sub_2;
    acc_block_1 = acc_block_1 + mul_2;
    let sub_3: f32 = in0_4_1.w - div;
    let mul_3: f32 = sub_3 * sub_3;
    acc_block_1 = acc_block_1 + mul_3;
    acc_steps_1 = acc_steps_1 + 1u;
    if ((acc_steps_1 % 64u) == 0u) {
      acc_mid_1 = acc_mid_1 + acc_block_1;
      acc_block_1 = 0.0f;
      if ((acc_steps_1 % 16384u) == 0u) {
        acc_1 = acc_1 + acc_mid_1;
        acc_mid_1 = 0.0f;
      }
    }
  }
  let acc_sum_1: f32 = acc_1 + (acc_mid_1 + acc_block_1);
  let div_1: f32 = acc_sum_1 / 1024.0f;
  let add: f32 = div_1 + 0.00001f;
  let rsqrt: f32 = inverseSqrt(add);
  for (var g_2: u32 = 0u; g_2 < 256u; g_2 += 1u) {
    let in0_4_2: vec4<f32> = in0[(row * 256u) + g_2];
    let sub_4: f32 = in0_4_2.x - div;
    let mul_4: f32 = sub_4 * rsqrt;
    let in1_4: vec4<f32> = in1[g_2];
    let mul_5: f32 = mul_4 * in1_4.x;
    let in2_4: vec4<f32> = in2[g_2];
    let add_1: f32 = mul_5 + in2_4.x;
    let sub_5: f32 = in0_4_2.y - div;
    let mul_6: f32 = sub_5 * rsqrt;
    let mul_7: f32 = mul_6 * in1_4.y;
    let add_2: f32 = mul_7 + in2_4.y;
    let sub_6: f32 = in0_4_2.z - div;
    let mul_8: f32 = sub_6 * rsqrt;
    let mul_9: f32 = mul_8 * in1_4.z;
    let add_3: f32 = mul_9 + in2_4.z;
    let sub_7: f32 = in0_4_2.w - div;
    let mul_10: f32 = sub_7 * rsqrt;
    let mul_11: f32 = mul_10 * in1_4.w;
    let add_4: f32 = mul_11 + in2_4.w;
    out0[(row * 256u) + g_2] = vec4<f32>(add_1, add_2, add_3, add_4);
  }
}
