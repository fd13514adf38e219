/**
 * smelt's public API, shared by the Node entry (index.ts) and the browser entry
 * (browser.ts). Nothing reachable from here imports Node: the Node-only parts (Dawn,
 * CUDA, nvcc, disk caches) are installed by the Node entry through runtime/platform.
 */
export { init, initBackend, getBackend } from "./frontend/init.js";
export type { InitOptions } from "./frontend/init.js";
export { Tensor, ConcreteTensor, TracerError, ConcretizationError } from "./frontend/core.js";
export { ArgumentError } from "./frontend/arguments.js";
export { PytreeError } from "./frontend/tree.js";
export { jit, Lowered, compileIR, memoryStats, spec, ShapeDtype, clearCaches, DEFAULT_JIT_CACHE_SIZE } from "./frontend/jit.js";
export type { JitOptions, JitFunction, CompileStats } from "./frontend/jit.js";
export * as lax from "./frontend/lax.js";
export * as np from "./frontend/np.js";
export * as nn from "./frontend/nn.js";
export * as random from "./frontend/random.js";
export { jvp } from "./frontend/jvp.js";
export { vjp, grad, valueAndGrad } from "./frontend/vjp.js";
export type { GradOptions, GradOf } from "./frontend/vjp.js";
export { vmap, VmapError } from "./frontend/vmap.js";
export type { VmapOptions } from "./frontend/vmap.js";
export { MissingRuleError } from "./frontend/rule-error.js";
export { parseIR, printIR, verify, Graph, GraphBuilder, ShapeError, IRParseError, VerifyError } from "./ir/index.js";
export type { DType, HostArray, AbstractValue } from "./ir/index.js";
export type { DTypeName } from "./ir/dtype.js";
export { setDebug, debugLevel } from "./runtime/debug.js";
export { DeviceOutOfMemoryError } from "./runtime/memory.js";
export { DeviceLostError, DeviceError, KernelCompileError, NoAdapterError } from "./runtime/webgpu-device.js";
export type { Backend, BackendName, Executable, KernelInfo, MemoryStats } from "./runtime/backend.js";
