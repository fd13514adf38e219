/**
 * Compiles rendered CUDA the way CI checks it: one .cu per architecture through
 * `nvcc -ptx -Werror all-warnings`, then `ptxas` on the PTX, failing on any diagnostic.
 * Without nvcc the suites skip and say why, unless SMELT_REQUIRE_NVCC=1 (CI) makes that a
 * failure.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Kernel } from "../../codegen/kernel.js";
import { renderCudaModule } from "../../codegen/render/cuda.js";
import { compileCudaModule, findNvcc, findPtxas } from "../../runtime/cuda-compile.js";

export const NVCC = findNvcc();
export const PTXAS = NVCC ? findPtxas(NVCC) : undefined;
export const REQUIRE_NVCC = process.env.SMELT_REQUIRE_NVCC === "1";

/** Why the compile suites cannot run here, or undefined when they can. */
export function nvccMissing(): string | undefined {
  if (!NVCC) return "nvcc not found (set SMELT_NVCC or CUDA_HOME, or put the CUDA toolkit on PATH)";
  if (!PTXAS) return `ptxas not found beside ${NVCC}`;
  return undefined;
}

export interface ArchCheck {
  readonly arch: number;
  /** nvcc's and ptxas's diagnostics; empty when clean. */
  readonly diagnostics: string;
  readonly ok: boolean;
}

/** Renders all kernels into one module and compiles it for sm_`arch`: PTX with -Werror, then ptxas. */
export function checkKernels(kernels: readonly Kernel[], arch: number): ArchCheck {
  const mod = renderCudaModule(kernels);
  let ptx: Uint8Array;
  try {
    ptx = compileCudaModule({
      source: mod.source, kernels: mod.entries, sm: arch, format: "ptx", flags: ["-Werror", "all-warnings"], noCache: true,
    }).image;
  } catch (e) {
    return { arch, diagnostics: (e as Error).message, ok: false };
  }
  const dir = mkdtempSync(join(tmpdir(), "smelt-ptxas-"));
  try {
    const file = join(dir, "module.ptx");
    writeFileSync(file, ptx[ptx.length - 1] === 0 ? ptx.subarray(0, -1) : ptx);
    const r = spawnSync(PTXAS!, [`-arch=sm_${arch}`, "--warning-as-error", "-o", join(dir, "module.cubin"), file], { encoding: "utf8" });
    const diagnostics = `${r.stdout}${r.stderr}`.trim();
    return { arch, diagnostics, ok: r.status === 0 && diagnostics === "" };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
