/**
 * Index arithmetic shared by all lowerings: 32-bit unsigned indices with explicit size
 * checks, grids split across x and y past the per-dimension limit (the linear workgroup id
 * is rebuilt in the kernel), and row-major ravel/unravel with static shapes (constant
 * divisors, folded where a dimension is 1).
 */
import { type DType, type Shape, deviceBytes, sizeOf, stridesOf } from "../ir/dtype.js";
import { type BodyBuilder, type Expr, bin, iadd, id, idiv, imul, irem, u32 } from "./kernel.js";
import type { Target } from "./target.js";

/** An array or launch exceeds what the device (or 32-bit index math) allows; names the limit. */
export class DeviceLimitError extends Error {
  override name = "DeviceLimitError";
  constructor(
    readonly limit: string,
    readonly detail: string,
  ) {
    super(`${detail} (limit: ${limit})`);
  }
}

/** Largest element count an index may address: indices are u32 and some lowerings go through i32. */
export const MAX_ELEMENTS = 2 ** 31;

/** Refuses an array that 32-bit index math or one storage binding cannot hold. */
export function checkArray(what: string, dtype: DType, shape: Shape, target: Target): void {
  const n = sizeOf(shape);
  if (n > MAX_ELEMENTS)
    throw new DeviceLimitError("2^31 elements", `${what}: ${dtype}[${shape.join(",")}] has ${n} elements, more than 32-bit index math addresses`);
  const bytes = n * deviceBytes(dtype);
  const max = target.limits.maxStorageBufferBindingSize;
  if (bytes > max)
    throw new DeviceLimitError(
      `maxStorageBufferBindingSize = ${max} bytes`,
      `${what}: ${dtype}[${shape.join(",")}] needs ${bytes} bytes, more than one ${target.name} storage binding may hold`,
    );
}

/** A grid for `groups` workgroups: x up to the per-dimension limit, the rest in y. */
export function gridFor(groups: number, target: Target): [number, number, number] {
  const max = target.limits.maxComputeWorkgroupsPerDimension;
  if (groups <= max) return [Math.max(groups, 1), 1, 1];
  const y = Math.ceil(groups / max);
  if (y > max)
    throw new DeviceLimitError(`maxComputeWorkgroupsPerDimension = ${max}`, `a launch of ${groups} workgroups does not fit a ${max}×${max} grid`);
  // Balance x so the overshoot (x*y - groups) is small.
  return [Math.ceil(groups / y), y, 1];
}

/** The linear workgroup id of a grid made by gridFor (x fastest). */
export function linearGroupId(grid: readonly [number, number, number]): Expr {
  return grid[1] === 1 ? id("group", 0) : iadd(id("group", 0), imul(id("group", 1), u32(grid[0])));
}

/**
 * The linear workgroup id, named `name`; when the grid was split or rounded past
 * `count` groups, the surplus groups return at once.
 */
export function groupIndex(b: BodyBuilder, name: string, grid: readonly [number, number, number], count: number): Expr {
  const g = b.let(name, linearGroupId(grid));
  if (grid[0] * grid[1] !== count) b.if(bin("ge", g, u32(count)), (x) => x.return());
  return g;
}

/**
 * Multi-index of a row-major linear index over `shape`, naming each coordinate
 * (`${hint}0`, `${hint}1`, ...). Size-1 dimensions give constant 0.
 */
export function unravel(b: BodyBuilder, linear: Expr, shape: Shape, hint = "i"): Expr[] {
  const strides = stridesOf(shape);
  return shape.map((d, axis) => {
    if (d === 1) return u32(0);
    let e = idiv(linear, u32(strides[axis]!));
    // The outermost non-unit coordinate needs no modulo: linear < size.
    if (shape.slice(0, axis).some((x) => x !== 1)) e = irem(e, u32(d));
    return b.let(`${hint}${axis}`, e);
  });
}

/** Σ index[d] · stride[d] (+ offset), folding zero strides and constants. */
export function ravel(index: readonly Expr[], strides: readonly number[], offset: Expr = u32(0)): Expr {
  let e = offset;
  index.forEach((x, d) => {
    if (strides[d] !== 0) e = iadd(e, imul(x, u32(strides[d]!)));
  });
  return e;
}

/**
 * The address contribution of `value`, a row-major linear index over `dims` (in that
 * order) of an array with `shape` laid out with `strides` (row-major by default; a
 * strided view's otherwise). When the dims are adjacent in memory in that order (each
 * stride is the next one's stride times its size) it is one multiply; otherwise the value
 * is unravelled over the dims' sizes and re-ravelled with their strides.
 */
export function groupAddress(b: BodyBuilder, value: Expr, dims: readonly number[], shape: Shape, hint: string, strides: readonly number[] = stridesOf(shape)): Expr {
  const live = dims.filter((d) => shape[d] !== 1);
  if (live.length === 0) return u32(0);
  const mergeable = live.every((d, i) => i === live.length - 1 || strides[d] === strides[live[i + 1]!]! * shape[live[i + 1]!]!);
  if (mergeable) return imul(value, u32(strides[live[live.length - 1]!]!));
  const coords = unravel(b, value, live.map((d) => shape[d]!), hint);
  return ravel(coords, live.map((d) => strides[d]!));
}
