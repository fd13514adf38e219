// reduce_sum_4: %4 = reduce_sum %3 {axes=[1]} : f32[33]
@group(0) @binding(0) var<storage, read> in0: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(local_invocation_id) local_id: vec3<u32>,
        @builtin(workgroup_id) group_id: vec3<u32>,
        @builtin(num_workgroups) num_groups: vec3<u32>) {
  let gid: u32 = (group_id.x * 64u) + local_id.x;
  if (gid >= 33u) {
    return;
  }
  let base: u32 = gid * 20u;
  var acc: f32 = 0.0f;
  for (var j: u32 = 0u; j < 20u; j += 1u) {
    acc = acc + in0[base + j];
  }
  out[gid] = acc;
}
