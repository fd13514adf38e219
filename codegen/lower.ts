/**
 * Lowering of graph nodes to kernel IR: one table, one entry per primitive (a missing entry
 * fails loudly with the primitive's name). Pointwise primitives share one kernel shape
 * (one invocation per output element, operands read through buffer-backed readers);
 * contractions, reductions, scans and scatter have their own templates.
 */
import { type AbstractValue, sizeOf, stridesOf } from "../ir/dtype.js";
import { type StridedView, contiguous } from "../ir/view.js";
import type { Node } from "../ir/graph.js";
import { type Primitive, REDUCE_OPS, type ReduceOp } from "../ir/primitives.js";
import { Index, POINTWISE_PRIMS, type PointwiseNode, type PointwisePrim, type Reader, pointwiseExpr } from "./elementwise.js";
import { lowerFusion } from "./fused.js";
import { DeviceLimitError, checkArray, gridFor, groupAddress, linearGroupId, ravel } from "./indexing.js";
import {
  type Access, type Binding, type Expr, type Kernel, BodyBuilder,
  bin, cast, eq, ge, iadd, id, idiv, imul, irem, load, u32,
} from "./kernel.js";
import { lowerFlashAttention } from "./attention.js";
import { lowerFlashAttentionBwd } from "./attention-bwd.js";
import { lowerMoe } from "./moe.js";
import { lowerMoeBwd } from "./moe-bwd.js";
import { type MatmulSpec, matmulKernel, operandStrides } from "./matmul.js";
import { argmaxKernel, cumsumKernel, reduceKernel, topKKernel, type KernelHead } from "./reduce.js";
import type { Target } from "./target.js";

/** Which node operand (`in`), result (`out`) or kernel-private scratch array (`temp`) a binding refers to. */
export type Arg = { readonly kind: "in" | "out" | "temp"; readonly index: number };

export interface LoweredKernel {
  readonly kernel: Kernel;
  /** One per kernel binding, in binding order. */
  readonly args: readonly Arg[];
  /**
   * Scratch arrays the kernel needs. `temp` args index the node's scratch list: every kernel's
   * temps in kernel order, so a later kernel of the node can read an earlier one's (flash-decoding's
   * partial results).
   */
  readonly temps?: readonly AbstractValue[];
}

export interface LowerContext {
  readonly target: Target;
  /** Kernel name (unique within a program). */
  readonly name: string;
  /** The node's IR text, carried into the kernel as a comment. */
  readonly source: string;
}

/** How one primitive becomes kernels; its node's params are typed for that primitive. */
export type LowerRule<P extends Primitive> = (node: Node<P>, ctx: LowerContext) => LoweredKernel[];

export class LoweringError extends Error {
  override name = "LoweringError";
}

const WIDTH = 256;

function bindingsFor(node: Node, names: { in?: readonly string[]; out?: readonly string[] } = {}): { bindings: Binding[]; args: Arg[] } {
  const bindings: Binding[] = [], args: Arg[] = [];
  node.inputs.forEach((v, i) => {
    bindings.push({ name: names.in?.[i] ?? `in${i}`, dtype: v.dtype, access: "read" });
    args.push({ kind: "in", index: i });
  });
  node.outputs.forEach((v, i) => {
    bindings.push({ name: names.out?.[i] ?? (node.outputs.length === 1 ? "out" : `out${i}`), dtype: v.dtype, access: "read_write" as Access });
    args.push({ kind: "out", index: i });
  });
  return { bindings, args };
}

function checkBindings(ctx: LowerContext, count: number): void {
  const max = ctx.target.limits.maxStorageBuffersPerShaderStage;
  if (count > max)
    throw new DeviceLimitError(`maxStorageBuffersPerShaderStage = ${max}`, `kernel ${ctx.name} would bind ${count} storage buffers`);
}

/**
 * The kernel of a pointwise node over `iter` (its output shape, or a slab of it): one
 * invocation per element, stored at `outOffset` along the output's axes.
 */
function pointwiseKernel<P extends PointwisePrim>(
  node: PointwiseNode<P>, ctx: LowerContext, bindings: readonly Binding[], inputs: readonly number[],
  iter = node.output.shape, outOffset?: readonly number[],
): Kernel {
  const n = sizeOf(iter);
  const grid = gridFor(Math.ceil(n / WIDTH), ctx.target);
  const b = new BodyBuilder();
  const gid = b.let("gid", iadd(imul(linearGroupId(grid), u32(WIDTH)), id("local", 0)));
  if (grid[0] * grid[1] * WIDTH !== n) b.if(ge(gid, u32(n)), (x) => x.return());
  const at = new Index(b, iter, { linear: gid });
  const readers: Reader[] = inputs.map((j) => (_bb, pos) => load(node.inputs[j]!.dtype, bindings[j]!.name, pos.linear()));
  const value = b.let("value", pointwiseExpr(node, readers, b, at));
  const out = bindings[bindings.length - 1]!.name;
  const dst = outOffset
    ? ravel(at.idx().map((e, k) => iadd(e, u32(outOffset[k]!))), stridesOf(node.output.shape))
    : gid;
  b.store(out, dst, value);
  return { name: ctx.name, source: ctx.source, bindings, workgroupSize: [WIDTH, 1, 1], grid, shared: [], body: b.stmts };
}

/** A node as the pointwise table sees it: operand and result types instead of values. */
export function asPointwise<P extends Primitive>(node: Pick<Node<P>, "prim" | "params" | "inputs" | "outputs">): PointwiseNode<P> {
  return { prim: node.prim, params: node.params, inputs: node.inputs.map((v) => v.type), output: node.outputs[0]!.type };
}

function pointwise<P extends PointwisePrim>(node: Node<P>, ctx: LowerContext): LoweredKernel[] {
  if (sizeOf(node.outputs[0]!.shape) === 0) return [];
  const { bindings, args } = bindingsFor(node);
  checkBindings(ctx, bindings.length);
  return [{ kernel: pointwiseKernel(asPointwise(node), ctx, bindings, node.inputs.map((_, i) => i)), args }];
}

/** concatenate with more operands than a kernel may bind: one kernel per group, each writing its slab. */
const concatenate: LowerRule<"concatenate"> = (node, ctx) => {
  const max = ctx.target.limits.maxStorageBuffersPerShaderStage;
  if (node.inputs.length + 1 <= max) return pointwise(node, ctx);
  const { axis } = node.params;
  const out: LoweredKernel[] = [];
  let offset = 0;
  for (let g = 0; g < node.inputs.length; g += max - 1) {
    const group = node.inputs.slice(g, g + max - 1);
    const width = group.reduce((s, v) => s + v.shape[axis]!, 0);
    const iter = node.outputs[0]!.shape.map((d, k) => (k === axis ? width : d));
    const sub: PointwiseNode<"concatenate"> = { ...asPointwise(node), inputs: group.map((v) => v.type) };
    const bindings: Binding[] = [
      ...group.map((v, i) => ({ name: `in${g + i}`, dtype: v.dtype, access: "read" as const })),
      { name: "out", dtype: node.outputs[0]!.dtype, access: "read_write" },
    ];
    if (sizeOf(iter) > 0)
      out.push({
        kernel: pointwiseKernel(sub, { ...ctx, name: `${ctx.name}_part${g / (max - 1)}` }, bindings, group.map((_, i) => i), iter,
          iter.map((_, k) => (k === axis ? offset : 0))),
        args: [...group.map((_, i) => ({ kind: "in" as const, index: g + i })), { kind: "out", index: 0 }],
      });
    offset += width;
  }
  return out;
};

/** A dense constant lives in a program buffer (no kernel); a splat is a fill kernel. */
const constant: LowerRule<"constant"> = (node, ctx) => {
  const { value } = node.params;
  if (value.length !== 1 && sizeOf(node.outputs[0]!.shape) > 1) return [];
  return pointwise(node, ctx);
};

/**
 * The matmul template's view of a dot_general: batch, M, N, K and operand addresses, for
 * bindings named `lhs` and `rhs` (shared with the fused matmul lowering, codegen/fused.ts).
 * Each operand is read through a strided view of its buffer (row-major unless `views`
 * says otherwise: a transposed or sliced operand the fuse pass left to the loads).
 */
export function dotGeneralSpec(
  node: Pick<Node<"dot_general">, "inputs" | "params">, head: Pick<MatmulSpec, "name" | "source" | "bindings" | "out">,
  names = { lhs: "lhs", rhs: "rhs" }, views?: { lhs: StridedView; rhs: StridedView },
): MatmulSpec {
  const p = node.params;
  const [lhs, rhs] = node.inputs.map((v) => v.type) as [AbstractValue, AbstractValue];
  const lv = views?.lhs ?? contiguous(lhs.shape), rv = views?.rhs ?? contiguous(rhs.shape);
  const free = (rank: number, used: number[]) => [...Array(rank).keys()].filter((i) => !used.includes(i));
  const lf = free(lhs.shape.length, [...p.lhs_batch, ...p.lhs_contract]);
  const rf = free(rhs.shape.length, [...p.rhs_batch, ...p.rhs_contract]);
  const size = (shape: readonly number[], dims: number[]) => sizeOf(dims.map((d) => shape[d]!));
  const [batch, m, n, k] = [size(lhs.shape, p.lhs_batch), size(lhs.shape, lf), size(rhs.shape, rf), size(lhs.shape, p.lhs_contract)];
  const innermost = (dims: number[], shape: readonly number[]) => dims.filter((d) => shape[d] !== 1).at(-1);
  const lk = innermost(p.lhs_contract, lhs.shape), rn = innermost(rf, rhs.shape);
  const at = (v: StridedView, hint: string) => (b: BodyBuilder, value: Expr, dims: readonly number[], part: string) =>
    groupAddress(b, value, dims, v.shape, `${hint}${part}`, v.strides);
  const la = at(lv, "l"), ra = at(rv, "r");
  const plus = (offset: number, e: Expr) => (offset ? iadd(u32(offset), e) : e);
  return {
    ...head, dtype: lhs.dtype, batch, m, n, k, batchShape: p.lhs_batch.map((d) => lhs.shape[d]!),
    lhs: {
      name: names.lhs, kContiguous: lk === undefined || lv.strides[lk] === 1,
      strides: operandStrides(lhs.shape, p.lhs_batch, lf, p.lhs_contract, lv.strides, lv.offset),
      addr: (b, bat, row, col) => plus(lv.offset, iadd(iadd(la(b, bat, p.lhs_batch, "b"), la(b, row, lf, "m")), la(b, col, p.lhs_contract, "k"))),
    },
    rhs: {
      name: names.rhs, nContiguous: rn === undefined || rv.strides[rn] === 1,
      strides: operandStrides(rhs.shape, p.rhs_batch, p.rhs_contract, rf, rv.strides, rv.offset),
      addr: (b, bat, row, col) => plus(rv.offset, iadd(iadd(ra(b, bat, p.rhs_batch, "b"), ra(b, row, p.rhs_contract, "k")), ra(b, col, rf, "n"))),
    },
  };
}

const dotGeneral: LowerRule<"dot_general"> = (node, ctx) => {
  if (sizeOf(node.outputs[0]!.shape) === 0) return [];
  const { bindings, args } = bindingsFor(node, { in: ["lhs", "rhs"] });
  const kernel = matmulKernel(dotGeneralSpec(node, { name: ctx.name, source: ctx.source, bindings, out: "out" }), ctx.target);
  return [{ kernel, args }];
};

/**
 * scatter_add without atomics: each output element (pre, a, post) starts from the operand
 * and adds, in index order, every update whose index equals a. Deterministic; O(#indices)
 * per element. Out-of-range indices match nothing and are dropped.
 */
const scatterAdd: LowerRule<"scatter_add"> = (node, ctx) => {
  const { axis } = node.params;
  const [x, idx] = node.inputs.map((v) => v.type) as [AbstractValue, AbstractValue];
  const total = sizeOf(x.shape);
  if (total === 0) return [];
  const { bindings, args } = bindingsFor(node, { in: ["operand", "indices", "updates"] });
  const t = x.dtype;
  const size = x.shape[axis]!, inner = sizeOf(x.shape.slice(axis + 1)), m = sizeOf(idx.shape);
  const grid = gridFor(Math.ceil(total / WIDTH), ctx.target);
  const b = new BodyBuilder();
  const gid = b.let("gid", iadd(imul(linearGroupId(grid), u32(WIDTH)), id("local", 0)));
  if (grid[0] * grid[1] * WIDTH !== total) b.if(ge(gid, u32(total)), (e) => e.return());
  const pre = b.let("pre", idiv(gid, u32(size * inner)));
  const a = b.let("a", irem(idiv(gid, u32(inner)), u32(size)));
  const post = b.let("post", irem(gid, u32(inner)));
  const target = b.let("target", idx.dtype === "i32" ? cast("i32", a) : a);
  const acc = b.var("acc", load(t, "operand", gid));
  const updBase = b.let("upd_base", iadd(imul(pre, u32(m * inner)), post));
  b.for("j", u32(0), u32(m), (j, body) => {
    body.if(eq(load(idx.dtype, "indices", j), target), (hit) =>
      hit.assign(acc, bin("add", acc, load(t, "updates", iadd(updBase, imul(j, u32(inner)))))));
  });
  b.store("out", gid, acc);
  const kernel: Kernel = { name: ctx.name, source: ctx.source, bindings, workgroupSize: [WIDTH, 1, 1], grid, shared: [], body: b.stmts };
  return [{ kernel, args }];
};

function head(node: Node, ctx: LowerContext, names?: { in?: string[]; out?: string[] }): { h: KernelHead; args: Arg[] } {
  const { bindings, args } = bindingsFor(node, names);
  return { h: { name: ctx.name, source: ctx.source, bindings }, args };
}

const reduce = <P extends ReduceOp>(op: P): LowerRule<P> => (node, ctx) => {
  const x = node.inputs[0]!.type;
  if (sizeOf(node.outputs[0]!.shape) === 0) return [];
  const { h, args } = head(node, ctx);
  return [{ kernel: reduceKernel(h, op, x.dtype, x.shape, node.params.axes, ctx.target), args }];
};

const pointwiseRules = Object.fromEntries(POINTWISE_PRIMS.map((p) => [p, pointwise])) as { readonly [P in PointwisePrim]: LowerRule<P> };
const reduceRules = Object.fromEntries(REDUCE_OPS.map((op) => [op, reduce(op)])) as { readonly [P in ReduceOp]: LowerRule<P> };

const LOWERINGS: { readonly [P in Primitive]: LowerRule<P> } = {
  ...pointwiseRules,
  ...reduceRules,
  concatenate,
  constant,
  dot_general: dotGeneral,
  scatter_add: scatterAdd,
  flash_attention: (node, ctx) => lowerFlashAttention(node as Node<"flash_attention">, ctx),
  flash_attention_bwd: (node, ctx) => lowerFlashAttentionBwd(node as Node<"flash_attention_bwd">, ctx),
  flash_attention_jvp: (node) => {
    throw new LoweringError(`a flash_attention_jvp node (body @${node.params.body.name}) reached lowering: forward-mode tangents run as their body, inlined first (passes/inline.ts)`);
  },
  // Routed: route, align, two grouped matmuls, combine (codegen/moe.ts).
  moe_ffn: (node, ctx) => lowerMoe(node as Node<"moe_ffn">, ctx),
  moe_ffn_bwd: (node, ctx) => lowerMoeBwd(node as Node<"moe_ffn_bwd">, ctx),
  moe_ffn_jvp: (node) => {
    throw new LoweringError(`a moe_ffn_jvp node (body @${node.params.body.name}) reached lowering: forward-mode tangents run as their body, inlined first (passes/inline.ts)`);
  },
  argmax: (node, ctx) => {
    const x = node.inputs[0]!.type;
    if (sizeOf(node.outputs[0]!.shape) === 0) return [];
    const { h, args } = head(node, ctx);
    return [{ kernel: argmaxKernel(h, x.dtype, x.shape, node.params.axis, ctx.target), args }];
  },
  cumsum: (node, ctx) => {
    const x = node.inputs[0]!.type;
    if (sizeOf(x.shape) === 0) return [];
    const { axis, reverse } = node.params;
    const { h, args } = head(node, ctx);
    return [{ kernel: cumsumKernel(h, x.dtype, x.shape, axis, reverse, ctx.target), args }];
  },
  top_k: (node, ctx) => {
    const x = node.inputs[0]!.type;
    if (sizeOf(x.shape) === 0) return [];
    const { h, args } = head(node, ctx, { out: ["values", "indices"] });
    return [{ kernel: topKKernel(h, x.dtype, x.shape, node.params.k, ctx.target), args }];
  },
  // One kernel for the whole group, by its template kind (codegen/fused.ts).
  fusion: (node, ctx) => lowerFusion(node, ctx),
  jit: (node) => {
    throw new LoweringError(`a jit call of @${node.params.callee.name} reached lowering: calls are inlined first (passes/inline.ts)`);
  },
};

/** Narrows a node to one primitive, so a rule reads its params typed. */
export function isNodeOf<P extends Primitive>(node: Node, prim: P): node is Node<P> {
  return node.prim === prim;
}

/** The stem of the kernel names a node lowers to: its primitive, and a fusion's template kind. */
export function kernelStem(node: Node): string {
  return isNodeOf(node, "fusion") ? `fusion_${node.params.kind}` : node.prim;
}

/** Kernels for one node (empty for nodes that need none: dense constants, empty results). */
export function lowerNode<P extends Primitive>(node: Node<P>, ctx: LowerContext): LoweredKernel[] {
  for (const v of [...node.inputs, ...node.outputs]) checkArray(`${node.prim} (${ctx.name})`, v.dtype, v.shape, ctx.target);
  const rule = LOWERINGS[node.prim] as LowerRule<P> | undefined;
  if (!rule) throw new LoweringError(`no lowering for primitive '${node.prim}' (codegen/lower.ts)`);
  return rule(node, ctx);
}
