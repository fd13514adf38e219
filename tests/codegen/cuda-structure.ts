/**
 * The shape of a rendered kernel, read back from WGSL or CUDA text with small regexes, so a
 * test can check that the two renderers print the same kernel: same bindings in order, same
 * workgroup/block shape, same loops, branches, barriers and shared arrays.
 */
export interface KernelStructure {
  /** Each binding's element type (WGSL spelling) and access, in parameter order. */
  readonly bindings: readonly string[];
  readonly workgroupSize: readonly number[];
  /** Shared arrays as `type[size]`, in declaration order. */
  readonly shared: readonly string[];
  readonly loops: number;
  readonly branches: number;
  readonly barriers: number;
  readonly returns: number;
  readonly stores: number;
}

const count = (src: string, re: RegExp) => (src.match(re) ?? []).length;

const C_TO_WGSL: Record<string, string> = {
  float: "f32", int: "i32", "unsigned int": "u32", bool: "bool",
  float4: "vec4<f32>", int4: "vec4<i32>", uint4: "vec4<u32>",
};

/**
 * Assignments through an index (`name[...] = `), outside declarations; CUDA writes an element
 * of a 4-vector shared array as `reinterpret_cast<float*>(name)[...] = `.
 */
const STORE = /^\s*(?:\w+|reinterpret_cast<[\w ]+\*>\(\w+\))\[[^\n]*\]\s*=[^=]/gm;

/** An asynchronous copy into shared memory: a store in CUDA's inline PTX, an assignment in WGSL. */
const CP_ASYNC = /"cp\.async\.c[ag]\.shared\.global /g;

export function wgslStructure(src: string): KernelStructure {
  const bindings = [...src.matchAll(/@binding\(\d+\) var<storage, (read|read_write)> \w+: array<(\w+|vec4<\w+>)>;/g)].map((m) => `${m[2]} ${m[1]}`);
  const wg = /@workgroup_size\((\d+), (\d+), (\d+)\)/.exec(src);
  return {
    bindings,
    workgroupSize: wg ? [Number(wg[1]), Number(wg[2]), Number(wg[3])] : [],
    shared: [...src.matchAll(/var<workgroup> \w+: array<(\w+|vec4<\w+>), (\d+)>/g)].map((m) => `${m[1]}[${m[2]}]`),
    loops: count(src, /\bfor \(/g),
    branches: count(src, /\bif \(/g),
    barriers: count(src, /workgroupBarrier\(\)/g),
    returns: count(src, /\breturn;/g),
    stores: count(src, STORE),
  };
}

export function cudaStructure(src: string): KernelStructure {
  const sig = /extern "C" __global__ void __launch_bounds__\((\d+)(?:, \d+)?\) \w+\(([^)]*)\)/.exec(src);
  const bindings = (sig?.[2] ?? "").split(",").filter((p) => p.trim()).map((p) => {
    const m = /^\s*(const )?(float4|int4|uint4|float|int|unsigned int|bool)\* __restrict__ \w+\s*$/.exec(p);
    return m ? `${C_TO_WGSL[m[2]!]} ${m[1] ? "read" : "read_write"}` : `unparsed: ${p.trim()}`;
  });
  const block = /\/\/ launch: grid \(\d+, \d+, \d+\), block \((\d+), (\d+), (\d+)\)/.exec(src);
  const workgroupSize = block ? [Number(block[1]), Number(block[2]), Number(block[3])] : [];
  if (sig && workgroupSize.length && Number(sig[1]) !== workgroupSize.reduce((a, b) => a * b))
    throw new Error(`__launch_bounds__(${sig[1]}) disagrees with block (${workgroupSize})`);
  return {
    bindings,
    workgroupSize,
    shared: [...src.matchAll(/__shared__ (float4|int4|uint4|float|int|unsigned int|bool) \w+\[(\d+)\]/g)].map((m) => `${C_TO_WGSL[m[1]!]}[${m[2]}]`),
    loops: count(src, /\bfor \(/g),
    branches: count(src, /\bif \(/g),
    barriers: count(src, /__syncthreads\(\)/g),
    returns: count(src, /\breturn;/g),
    stores: count(src, STORE) + count(src, CP_ASYNC),
  };
}
