/**
 * smelt's Node entry: the public API (api.ts) on the Node platform (WebGPU from Dawn, the
 * CUDA backend, the host's RAM). Importing it picks the default backend: WebGPU when an
 * adapter exists, else the reference interpreter (SMELT_BACKEND overrides).
 */
import { init } from "./frontend/init.js";
import { installNodePlatform } from "./runtime/node-platform.js";

installNodePlatform();

export * from "./api.js";

await init();
