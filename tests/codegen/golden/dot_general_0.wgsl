// dot_general_0: %0 = dot_general %x, %w {lhs_contract=[1], rhs_contract=[0], lhs_batch=[], rhs_batch=[]} : f32[33,20]
@group(0) @binding(0) var<storage, read> lhs: array<f32>;
@group(0) @binding(1) var<storage, read> rhs: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
var<workgroup> As: array<f32, 1024>;
var<workgroup> Bs: array<f32, 1024>;

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(local_invocation_id) local_id: vec3<u32>,
        @builtin(workgroup_id) group_id: vec3<u32>,
        @builtin(num_workgroups) num_groups: vec3<u32>) {
  let wg: u32 = group_id.x;
  let tx: u32 = local_id.x;
  let ty: u32 = local_id.y;
  let tid: u32 = (ty * 16u) + tx;
  var acc_0_0: f32 = 0.0f;
  var acc_0_1: f32 = 0.0f;
  var acc_0_2: f32 = 0.0f;
  var acc_0_3: f32 = 0.0f;
  var acc_1_0: f32 = 0.0f;
  var acc_1_1: f32 = 0.0f;
  var acc_1_2: f32 = 0.0f;
  var acc_1_3: f32 = 0.0f;
  var acc_2_0: f32 = 0.0f;
  var acc_2_1: f32 = 0.0f;
  var acc_2_2: f32 = 0.0f;
  var acc_2_3: f32 = 0.0f;
  var acc_3_0: f32 = 0.0f;
  var acc_3_1: f32 = 0.0f;
  var acc_3_2: f32 = 0.0f;
  var acc_3_3: f32 = 0.0f;
  for (var k0: u32 = 0u; k0 < 70u; k0 += 16u) {
    let a_row: u32 = tid / 16u;
    let a_col: u32 = k0 + (tid % 16u);
    var a: f32 = 0.0f;
    if ((a_row < 33u) && (a_col < 70u)) {
      a = lhs[(a_row * 70u) + a_col];
    }
    As[((tid % 16u) * 64u) + (tid / 16u)] = a;
    let a_row_1: u32 = (tid + 256u) / 16u;
    let a_col_1: u32 = k0 + ((tid + 256u) % 16u);
    var a_1: f32 = 0.0f;
    if ((a_row_1 < 33u) && (a_col_1 < 70u)) {
      a_1 = lhs[(a_row_1 * 70u) + a_col_1];
    }
    As[(((tid + 256u) % 16u) * 64u) + ((tid + 256u) / 16u)] = a_1;
    let a_row_2: u32 = (tid + 512u) / 16u;
    let a_col_2: u32 = k0 + ((tid + 512u) % 16u);
    var a_2: f32 = 0.0f;
    if ((a_row_2 < 33u) && (a_col_2 < 70u)) {
      a_2 = lhs[(a_row_2 * 70u) + a_col_2];
    }
    As[(((tid + 512u) % 16u) * 64u) + ((tid + 512u) / 16u)] = a_2;
    let a_row_3: u32 = (tid + 768u) / 16u;
    let a_col_3: u32 = k0 + ((tid + 768u) % 16u);
    var a_3: f32 = 0.0f;
    if ((a_row_3 < 33u) && (a_col_3 < 70u)) {
      a_3 = lhs[(a_row_3 * 70u) + a_col_3];
    }
    As[(((tid + 768u) % 16u) * 64u) + ((tid + 768u) / 16u)] = a_3;
    let b_row: u32 = k0 + (tid / 64u);
    let b_col: u32 = tid % 64u;
    var b: f32 = 0.0f;
    if ((b_row < 70u) && (b_col < 20u)) {
      b = rhs[(b_row * 20u) + b_col];
    }
    Bs[((tid / 64u) * 64u) + (tid % 64u)] = b;
    let b_row_1: u32 = k0 + ((tid + 256u) / 64u);
    let b_col_1: u32 = (tid + 256u) % 64u;
    var b_1: f32 = 0.0f;
    if ((b_row_1 < 70u) && (b_col_1 < 20u)) {
      b_1 = rhs[(b_row_1 * 20u) + b_col_1];
    }
    Bs[(((tid + 256u) / 64u) * 64u) + ((tid + 256u) % 64u)] = b_1;
    let b_row_2: u32 = k0 + ((tid + 512u) / 64u);
    let b_col_2: u32 = (tid + 512u) % 64u;
    var b_2: f32 = 0.0f;
    if ((b_row_2 < 70u) && (b_col_2 < 20u)) {
      b_2 = rhs[(b_row_2 * 20u) + b_col_2];
    }
    Bs[(((tid + 512u) / 64u) * 64u) + ((tid + 512u) % 64u)] = b_2;
    let b_row_3: u32 = k0 + ((tid + 768u) / 64u);
    let b_col_3: u32 = (tid + 768u) % 64u;
    var b_3: f32 = 0.0f;
    if ((b_row_3 < 70u) && (b_col_3 < 20u)) {
      b_3 = rhs[(b_row_3 * 20u) + b_col_3];
    }
    Bs[(((tid + 768u) / 64u) * 64u) + ((tid + 768u) % 64u)] = b_3;
    workgroupBarrier();
    for (var kk: u32 = 0u; kk < 16u; kk += 1u) {
      let a0: f32 = As[(kk * 64u) + ty];
      let a1: f32 = As[(kk * 64u) + (ty + 16u)];
      let a2: f32 = As[(kk * 64u) + (ty + 32u)];
      let a3: f32 = As[(kk * 64u) + (ty + 48u)];
      let b0: f32 = Bs[(kk * 64u) + tx];
      let b1: f32 = Bs[(kk * 64u) + (tx + 16u)];
      let b2: f32 = Bs[(kk * 64u) + (tx + 32u)];
      let b3: f32 = Bs[(kk * 64u) + (tx + 48u)];
      acc_0_0 = fma(a0, b0, acc_0_0);
      acc_0_1 = fma(a0, b1, acc_0_1);
      acc_0_2 = fma(a0, b2, acc_0_2);
      acc_0_3 = fma(a0, b3, acc_0_3);
      acc_1_0 = fma(a1, b0, acc_1_0);
      acc_1_1 = fma(a1, b1, acc_1_1);
      acc_1_2 = fma(a1, b2, acc_1_2);
      acc_1_3 = fma(a1, b3, acc_1_3);
      acc_2_0 = fma(a2, b0, acc_2_0);
      acc_2_1 = fma(a2, b1, acc_2_1);
      acc_2_2 = fma(a2, b2, acc_2_2);
      acc_2_3 = fma(a2, b3, acc_2_3);
      acc_3_0 = fma(a3, b0, acc_3_0);
      acc_3_1 = fma(a3, b1, acc_3_1);
      acc_3_2 = fma(a3, b2, acc_3_2);
      acc_3_3 = fma(a3, b3, acc_3_3);
    }
    workgroupBarrier();
  }
  let out_base: u32 = wg * 660u;
  if ((ty < 33u) && (tx < 20u)) {
    out[out_base + ((ty * 20u) + tx)] = acc_0_0;
  }
  let col1_0: u32 = tx + 16u;
  if ((ty < 33u) && (col1_0 < 20u)) {
    out[out_base + ((ty * 20u) + col1_0)] = acc_0_1;
  }
  let col2_0: u32 = tx + 32u;
  if ((ty < 33u) && (col2_0 < 20u)) {
    out[out_base + ((ty * 20u) + col2_0)] = acc_0_2;
  }
  let col3_0: u32 = tx + 48u;
  if ((ty < 33u) && (col3_0 < 20u)) {
    out[out_base + ((ty * 20u) + col3_0)] = acc_0_3;
  }
  let row1: u32 = ty + 16u;
  if ((row1 < 33u) && (tx < 20u)) {
    out[out_base + ((row1 * 20u) + tx)] = acc_1_0;
  }
  let col1_1: u32 = tx + 16u;
  if ((row1 < 33u) && (col1_1 < 20u)) {
    out[out_base + ((row1 * 20u) + col1_1)] = acc_1_1;
  }
  let col2_1: u32 = tx + 32u;
  if ((row1 < 33u) && (col2_1 < 20u)) {
    out[out_base + ((row1 * 20u) + col2_1)] = acc_1_2;
  }
  let col3_1: u32 = tx + 48u;
  if ((row1 < 33u) && (col3_1 < 20u)) {
    out[out_base + ((row1 * 20u) + col3_1)] = acc_1_3;
  }
  let row2: u32 = ty + 32u;
  if ((row2 < 33u) && (tx < 20u)) {
    out[out_base + ((row2 * 20u) + tx)] = acc_2_0;
  }
  let col1_2: u32 = tx + 16u;
  if ((row2 < 33u) && (col1_2 < 20u)) {
    out[out_base + ((row2 * 20u) + col1_2)] = acc_2_1;
  }
  let col2_2: u32 = tx + 32u;
  if ((row2 < 33u) && (col2_2 < 20u)) {
    out[out_base + ((row2 * 20u) + col2_2)] = acc_2_2;
  }
  let col3_2: u32 = tx + 48u;
  if ((row2 < 33u) && (col3_2 < 20u)) {
    out[out_base + ((row2 * 20u) + col3_2)] = acc_2_3;
  }
  let row3: u32 = ty + 48u;
  if ((row3 < 33u) && (tx < 20u)) {
    out[out_base + ((row3 * 20u) + tx)] = acc_3_0;
  }
  let col1_3: u32 = tx + 16u;
  if ((row3 < 33u) && (col1_3 < 20u)) {
    out[out_base + ((row3 * 20u) + col1_3)] = acc_3_1;
  }
  let col2_3: u32 = tx + 32u;
  if ((row3 < 33u) && (col2_3 < 20u)) {
    out[out_base + ((row3 * 20u) + col2_3)] = acc_3_2;
  }
  let col3_3: u32 = tx + 48u;
  if ((row3 < 33u) && (col3_3 < 20u)) {
    out[out_base + ((row3 * 20u) + col3_3)] = acc_3_3;
  }
}
