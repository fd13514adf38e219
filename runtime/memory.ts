/**
 * Device memory, one implementation for every backend: the size-class buffer pool (with the
 * bytes in use and their high-water mark, so a test can compare a call's peak with the memory
 * plan's), the accounting of buffers a caller holds (`memoryStats`, scoped by a mark so a leak
 * test counts only its own buffers, whatever the garbage collector frees meanwhile), and how a
 * host array is stored on a device (bool as one 32-bit word per element).
 */
import { type DType, type HostArray, type Shape, allocHost, deviceBytes, sizeOf } from "../ir/dtype.js";
import type { DeviceBuffer, MemoryStats } from "./backend.js";

/** Rounds up to a size class: 4 classes per power of two (at most 25% slack), 256 B minimum. */
export function sizeClass(bytes: number): number {
  if (bytes <= 256) return 256;
  const p = 2 ** Math.floor(Math.log2(bytes));
  const step = Math.max(p / 4, 256);
  return Math.ceil(bytes / step) * step;
}

/** Bytes as a person reads them: 1.5 MiB, 300 B. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024, i = 0;
  for (; v >= 1024 && i < units.length - 1; i++) v /= 1024;
  return `${v.toFixed(1)} ${units[i]}`;
}

/**
 * An allocation the device memory budget (`init({ memoryLimit })`) or the device itself
 * refused. Names the request, the budget and what is live, so the caller can free tensors
 * (or raise the budget) and go on: the backend stays usable.
 */
export class DeviceOutOfMemoryError extends Error {
  override name = "DeviceOutOfMemoryError";
  constructor(
    readonly backend: string,
    /** Bytes asked for (rounded up to the pool's size class). */
    readonly requestedBytes: number,
    readonly limitBytes: number,
    /** Bytes and buffers held when it failed (results, uploads, a call's intermediates). */
    readonly liveBytes: number,
    readonly liveBuffers: number,
    /** The device's own message, when the device (not the budget) refused. */
    readonly detail?: string,
  ) {
    super(
      `${backend}: out of device memory allocating ${formatBytes(requestedBytes)}: ` +
        `${formatBytes(liveBytes)} live in ${liveBuffers} buffer(s), ` +
        (Number.isFinite(limitBytes) ? `budget ${formatBytes(limitBytes)} (init({ memoryLimit }))` : "no budget set") +
        (detail ? `; the device said: ${detail}` : "") +
        `. Dispose tensors you no longer need, or raise memoryLimit.`,
    );
  }
}

/** What a pool needs from its device. */
export interface PoolDevice<H> {
  create(bytes: number): H;
  destroy(buffer: H): void;
  /** An allocation failure worth retrying once after the idle buffers are given back. */
  isOutOfMemory?(e: unknown): boolean;
}

/**
 * Idle device buffers by size class, reused instead of allocated: freeing synchronises the
 * whole device on CUDA, and creating buffers is slow everywhere. Bounded by `maxPooledBytes`.
 */
export class BufferPool<H> {
  private readonly idle = new Map<number, H[]>();
  private readonly held = new Map<H, { size: number; bytes: number }>();
  private idleBytes = 0;
  private idleCount = 0;
  /** Bytes asked for by buffers taken and not given back. */
  inUseBytes = 0;
  /** Device bytes of buffers taken and not given back (whole size classes). */
  private heldBytes = 0;
  /**
   * The device memory budget: the bytes of buffers taken plus those kept idle never pass it.
   * A request past it first gives the idle buffers back, then fails with DeviceOutOfMemoryError.
   */
  limitBytes = Infinity;
  /** The most `inUseBytes` reached since the last `resetHighWater`. */
  highWaterBytes = 0;

  constructor(
    private readonly device: PoolDevice<H>,
    public maxPooledBytes: number,
    /** The backend's name, for errors. */
    readonly backend = "device",
  ) {}

  acquire(bytes: number): H {
    const size = sizeClass(bytes);
    let buffer = this.idle.get(size)?.pop();
    if (buffer !== undefined) {
      this.idleBytes -= size;
      this.idleCount--;
    } else buffer = this.create(size);
    this.held.set(buffer, { size, bytes });
    this.heldBytes += size;
    this.highWaterBytes = Math.max(this.highWaterBytes, (this.inUseBytes += bytes));
    return buffer;
  }

  private create(size: number): H {
    if (this.heldBytes + this.idleBytes + size > this.limitBytes) {
      this.trim();
      if (this.heldBytes + size > this.limitBytes) throw this.outOfMemory(size);
    }
    try {
      return this.device.create(size);
    } catch (e) {
      if (!this.device.isOutOfMemory?.(e)) throw e;
      this.trim();
      try {
        return this.device.create(size);
      } catch (again) {
        if (!this.device.isOutOfMemory?.(again)) throw again;
        throw this.outOfMemory(size, (again as Error).message);
      }
    }
  }

  /** The error for a refused request of `size` bytes, naming what is held. */
  outOfMemory(size: number, detail?: string): DeviceOutOfMemoryError {
    return new DeviceOutOfMemoryError(this.backend, size, this.limitBytes, this.heldBytes, this.held.size, detail);
  }

  /** Takes a buffer back; `keep` false (or a full pool) destroys it instead. */
  release(buffer: H, keep = true): void {
    const h = this.held.get(buffer);
    if (!h) return;
    this.held.delete(buffer);
    this.inUseBytes -= h.bytes;
    this.heldBytes -= h.size;
    if (!keep || this.idleBytes + h.size > this.maxPooledBytes) return this.device.destroy(buffer);
    const list = this.idle.get(h.size) ?? [];
    list.push(buffer);
    this.idle.set(h.size, list);
    this.idleBytes += h.size;
    this.idleCount++;
  }

  /** Destroys every idle buffer. */
  trim(): void {
    for (const list of this.idle.values()) for (const b of list) this.device.destroy(b);
    this.idle.clear();
    this.idleBytes = 0;
    this.idleCount = 0;
  }

  /** Starts a new high-water mark at what is in use now. */
  resetHighWater(): void {
    this.highWaterBytes = this.inUseBytes;
  }

  get pooledBuffers(): number {
    return this.idleCount;
  }

  get pooledBytes(): number {
    return this.idleBytes;
  }
}

/** The buffers callers hold, each numbered when allocated, for `memoryStats`. */
export class LiveBuffers<B extends DeviceBuffer> {
  private readonly live = new Map<B, number>();
  private allocations = 0;

  add(b: B): B {
    this.live.set(b, ++this.allocations);
    return b;
  }

  /** Stops counting the buffers `gone` picks (their device was lost, and their memory with it). */
  drop(gone: (b: B) => boolean): void {
    for (const b of this.live.keys()) if (gone(b)) this.live.delete(b);
  }

  /** Whether `b` was live (it no longer is). */
  delete(b: B): boolean {
    return this.live.delete(b);
  }

  /** Live buffers and bytes; with `since`, only those allocated after that snapshot was taken. */
  stats(pool?: { pooledBuffers: number; pooledBytes: number }, since?: MemoryStats): MemoryStats {
    let liveBuffers = 0, liveBytes = 0;
    for (const [b, serial] of this.live)
      if (!since || serial > since.allocations) {
        liveBuffers++;
        liveBytes += deviceBytes(b.dtype) * sizeOf(b.shape);
      }
    return { liveBuffers, liveBytes, allocations: this.allocations, pooledBuffers: pool?.pooledBuffers ?? 0, pooledBytes: pool?.pooledBytes ?? 0 };
  }
}

/** Host data as the device stores it: bool widened to one 32-bit word per element. */
export function toDevice(a: HostArray): ArrayBufferView & { buffer: ArrayBufferLike } {
  return a.dtype === "bool" ? Uint32Array.from(a.data) : a.data;
}

/** Device bytes back as a host array: bool narrowed from 32-bit words (nonzero is true). */
export function fromDevice(dtype: DType, shape: Shape, bytes: ArrayBuffer): HostArray {
  const n = sizeOf(shape);
  const data = allocHost(dtype, n);
  if (dtype === "bool") new Uint32Array(bytes, 0, n).forEach((w, i) => (data[i] = w !== 0 ? 1 : 0));
  else data.set(new (data.constructor as new (b: ArrayBuffer, o: number, n: number) => typeof data)(bytes, 0, n));
  return { dtype, shape: [...shape], data };
}

/**
 * Runs the cleanup of an owner (an executable's constants) when the owner is garbage-collected
 * without having been disposed. The cleanup must not refer to the owner, or it never is.
 */
const collected = new FinalizationRegistry<() => void>((cleanup) => cleanup());

/** Registers `cleanup` to run when `owner` is collected; returns a `dispose` that runs it now, once. */
export function ownResources(owner: object, cleanup: () => void): () => void {
  let done = false;
  const once = () => {
    if (done) return;
    done = true;
    cleanup();
  };
  const token = {};
  collected.register(owner, once, token);
  return () => {
    collected.unregister(token);
    once();
  };
}
