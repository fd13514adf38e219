/**
 * smelt's browser entry (the package's `browser` export condition): the public API on
 * `navigator.gpu`. Importing it picks the default backend: WebGPU when the browser has an
 * adapter, else the reference interpreter, with a console line saying why.
 */
import { init } from "./frontend/init.js";

export * from "./api.js";

await init();
