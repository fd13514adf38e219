// add_2: %2 = add %0, %1 : f32[33,20]
@group(0) @binding(0) var<storage, read> in0: array<f32>;
@group(0) @binding(1) var<storage, read> in1: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(local_invocation_id) local_id: vec3<u32>,
        @builtin(workgroup_id) group_id: vec3<u32>,
        @builtin(num_workgroups) num_groups: vec3<u32>) {
  let gid: u32 = (group_id.x * 256u) + local_id.x;
  if (gid >= 660u) {
    return;
  }
  let value: f32 = in0[gid] + in1[gid];
  out[gid] = value;
}
