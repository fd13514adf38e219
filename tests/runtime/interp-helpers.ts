/**
 * Test helpers for the interpreter suites: build a one-node graph, verify it, and
 * evaluate it. Every suite calls primitives through `ev("name", ...)`, which is how
 * interp.test.ts checks that every primitive has a test.
 */
import { type DType, type HostArray, type Shape, hostArray } from "../../ir/dtype.js";
import { GraphBuilder, verify } from "../../ir/graph.js";
import type { Primitive, PrimitiveParams } from "../../ir/primitives.js";
import { evalGraph } from "../../runtime/interp.js";

export function arr(dtype: DType, shape: Shape, data: ArrayLike<number>): HostArray {
  return hostArray(dtype, shape, data);
}

export const f32 = (shape: Shape, data: ArrayLike<number>) => arr("f32", shape, data);
export const i32 = (shape: Shape, data: ArrayLike<number>) => arr("i32", shape, data);
export const u32 = (shape: Shape, data: ArrayLike<number>) => arr("u32", shape, data);
export const bool = (shape: Shape, data: ArrayLike<number>) => arr("bool", shape, data);

/** Evaluates one primitive through a verified one-node graph; returns every result. */
export function evAll<P extends Primitive>(prim: P, inputs: HostArray[], params: PrimitiveParams[P]): HostArray[] {
  const b = new GraphBuilder(`test_${prim}`);
  const vs = inputs.map((a) => b.input(a));
  const g = b.build(b.add(prim, vs, params));
  verify(g);
  return evalGraph(g, inputs);
}

/** The first result of one primitive. */
export function ev<P extends Primitive>(prim: P, inputs: HostArray[], params: PrimitiveParams[P]): HostArray {
  return evAll(prim, inputs, params)[0]!;
}

export const none = {} as Record<string, never>;

/** The data as plain numbers, for toEqual (which tells -0 from 0 and NaN equals NaN). */
export const values = (a: HostArray) => Array.from(a.data);

/** float64 numbers as an f32 result stores them. */
export const rounded = (xs: number[]) => xs.map(Math.fround);
