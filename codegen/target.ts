/**
 * What codegen and passes may assume about a device: its limits and optional features.
 * Passes (fusion, memory planning) and lowering read limits from here, never from a
 * runtime object, so a compile for a device can happen without the device.
 */
export type TargetName = "webgpu" | "cuda";

export interface TargetLimits {
  /** Storage buffers one kernel may bind (Dawn's default is 8; adapters often allow more). */
  readonly maxStorageBuffersPerShaderStage: number;
  /** Largest byte size one bound buffer may have; bigger arrays are refused. */
  readonly maxStorageBufferBindingSize: number;
  /** Workgroups per grid dimension; larger grids are split across x and y. */
  readonly maxComputeWorkgroupsPerDimension: number;
  readonly maxComputeInvocationsPerWorkgroup: number;
  /** Bytes of workgroup (shared) memory one kernel may declare. */
  readonly maxComputeWorkgroupStorageSize: number;
  readonly maxComputeWorkgroupSizeX: number;
  readonly maxComputeWorkgroupSizeY: number;
  readonly maxComputeWorkgroupSizeZ: number;
}

export interface TargetFeatures {
  readonly f16: boolean;
  readonly subgroups: boolean;
  readonly timestampQuery: boolean;
  /**
   * Copies from global to workgroup memory that pass through no register and complete
   * asynchronously (cp.async, CUDA sm_80+): templates then double-buffer their tiles. A
   * WebGPU target may set it to run those templates with ordinary copies (the tests do).
   */
  readonly asyncCopy: boolean;
}

export interface Target {
  readonly name: TargetName;
  readonly limits: TargetLimits;
  readonly features: TargetFeatures;
  /** A CPU implementation of the API (lavapipe, SwiftShader): templates that avoid barriers win there. */
  readonly cpuAdapter?: boolean;
  /**
   * The subgroup size, when the device has subgroups and always uses this one size
   * (lavapipe: its SIMD width, 8 lanes with AVX2). Templates that exchange registers across
   * a subgroup are written for a known size and are chosen only when this is set.
   */
  readonly subgroupSize?: number;
  /**
   * Lowering attaches candidate tilings to the kernels an autotuner may time (matmuls and
   * flash-attention forwards: `Kernel.candidates`); set by a backend compiling with `autotune`.
   */
  readonly autotune?: boolean;
}

/** WebGPU's guaranteed minimums (the spec's default limits): safe on any adapter. */
export const WEBGPU_DEFAULT_LIMITS: TargetLimits = {
  maxStorageBuffersPerShaderStage: 8,
  maxStorageBufferBindingSize: 134217728,
  maxComputeWorkgroupsPerDimension: 65535,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupStorageSize: 16384,
  maxComputeWorkgroupSizeX: 256,
  maxComputeWorkgroupSizeY: 256,
  maxComputeWorkgroupSizeZ: 64,
};

export const WEBGPU_TARGET: Target = {
  name: "webgpu",
  limits: WEBGPU_DEFAULT_LIMITS,
  features: { f16: false, subgroups: false, timestampQuery: false, asyncCopy: false },
};

/**
 * An sm_80+ (A100/H100 class) CUDA device. Grid x may reach 2^31-1 there, but y/z stop at
 * 65,535; we keep the WebGPU-style split so one grid rule serves both targets.
 * Buffers are raw pointers, so binding counts and sizes are bounded only by memory.
 */
export const CUDA_SM80_TARGET: Target = {
  name: "cuda",
  limits: {
    maxStorageBuffersPerShaderStage: 1024,
    maxStorageBufferBindingSize: 2 ** 31,
    maxComputeWorkgroupsPerDimension: 65535,
    maxComputeInvocationsPerWorkgroup: 1024,
    maxComputeWorkgroupStorageSize: 48 * 1024,
    maxComputeWorkgroupSizeX: 1024,
    maxComputeWorkgroupSizeY: 1024,
    maxComputeWorkgroupSizeZ: 64,
  },
  features: { f16: true, subgroups: true, timestampQuery: true, asyncCopy: true },
};

/** A WebGPU target for a concrete adapter: its limits (clamped to what codegen needs) and features. */
export function webgpuTarget(
  limits: Partial<TargetLimits>, features: Partial<TargetFeatures> = {}, cpuAdapter = false, subgroupSize?: number,
): Target {
  const merged = { ...WEBGPU_DEFAULT_LIMITS };
  for (const k of Object.keys(merged) as (keyof TargetLimits)[]) {
    const v = limits[k];
    if (typeof v === "number" && v > 0) merged[k] = v;
  }
  const f = { ...WEBGPU_TARGET.features, ...features };
  return { name: "webgpu", limits: merged, features: f, cpuAdapter, ...(f.subgroups && subgroupSize ? { subgroupSize } : {}) };
}
