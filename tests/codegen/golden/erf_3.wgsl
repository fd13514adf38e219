// erf_3: %3 = erf %2 : f32[33,20]
@group(0) @binding(0) var<storage, read> in0: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(local_invocation_id) local_id: vec3<u32>,
        @builtin(workgroup_id) group_id: vec3<u32>,
        @builtin(num_workgroups) num_groups: vec3<u32>) {
  let gid: u32 = (group_id.x * 256u) + local_id.x;
  if (gid >= 660u) {
    return;
  }
  let erf_x: f32 = in0[gid];
  let erf_ax: f32 = abs(erf_x);
  let erf_t: f32 = 1.0f / (1.0f + (0.3275911f * erf_ax));
  let value: f32 = select(select(select(erf_x, -1.0f, erf_x < 0.0f), 1.0f, erf_x > 0.0f) * (1.0f - ((erf_t * (0.2548296f + (erf_t * (-0.28449672f + (erf_t * (1.4214138f + (erf_t * (-1.4531521f + (erf_t * 1.0614054f))))))))) * exp((f32(num_groups.x == 0u) - erf_x) * erf_x))), erf_x * (1.1283792f + ((erf_x * erf_x) * (-0.37612638f + ((erf_x * erf_x) * (0.11283792f + ((erf_x * erf_x) * (-0.026866172f + ((erf_x * erf_x) * (0.005223978f + ((erf_x * erf_x) * -0.0008548327f)))))))))), erf_ax < 0.5f);
  out[gid] = value;
}
