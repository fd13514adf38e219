/**
 * The one program executor: walks a Program's steps (allocate a slot, launch, free a slot)
 * over a device's primitive operations. A backend provides only those: take a buffer from its
 * pool, give one back, and issue one launch (WebGPU records it into the call's command
 * encoder, CUDA launches it on its stream). Slots are the memory plan's (codegen/program.ts),
 * so the bytes a call takes from the pool at its peak are the program's `peakBytes`.
 */
import { formatType, sameShape } from "../ir/dtype.js";
import type { LaunchStep, Program } from "../codegen/program.js";
import type { DeviceBuffer } from "./backend.js";

export interface ExecutorDevice<H> {
  /** A device buffer of at least `bytes` (the device rounds up), from its pool. */
  acquire(bytes: number): H;
  /** Gives a buffer back to the pool. */
  release(buffer: H): void;
  /** Issues launch `index` of the program (its n-th launch step) over the buffers its args name. */
  launch(index: number, step: LaunchStep, buffers: readonly H[]): void;
}

export interface Call<H> {
  /** The buffer of each program output, in order; the caller owns them. */
  readonly results: H[];
  /**
   * Gives the call's freed slots back to the pool. Deferred until the backend has issued the
   * call's work: later work on the same queue or stream orders any reuse after it.
   */
  release(): void;
}

/** Throws unless `inputs` match the program's parameters in number, dtype and shape. */
export function checkInputs(program: Program, inputs: readonly DeviceBuffer[]): void {
  if (inputs.length !== program.inputs.length)
    throw new Error(`@${program.name} takes ${program.inputs.length} input(s), got ${inputs.length}`);
  inputs.forEach((x, i) => {
    const want = program.buffers[program.inputs[i]!]!;
    if (x.dtype !== want.dtype || !sameShape(x.shape, want.shape))
      throw new Error(`@${program.name} input ${i} is ${formatType(x)}, expected ${formatType(want)}`);
  });
}

/**
 * Runs one call. `bound` holds the buffers of the program's inputs and constants by buffer
 * id. If a launch throws, every slot taken so far goes back to the pool and the error
 * propagates: nothing of a failed call stays allocated.
 */
export function execute<H>(program: Program, device: ExecutorDevice<H>, bound: ReadonlyMap<number, H>): Call<H> {
  const slots: H[] = new Array(program.slots.length);
  const taken: H[] = [];
  const freed: H[] = [];
  const bufferOf = (id: number): H => {
    const slot = program.buffers[id]!.slot;
    return slot === undefined ? bound.get(id)! : slots[slot]!;
  };
  let launch = 0;
  try {
    for (const s of program.steps) {
      if (s.op === "alloc") taken.push((slots[s.slot] = device.acquire(program.slots[s.slot]!.bytes)));
      else if (s.op === "free") freed.push(slots[s.slot]!);
      else device.launch(launch++, s, s.args.map(bufferOf));
    }
  } catch (e) {
    for (const b of taken) device.release(b);
    throw e;
  }
  return {
    results: program.outputs.map((id) => bufferOf(id)),
    release: () => freed.forEach((b) => device.release(b)),
  };
}
