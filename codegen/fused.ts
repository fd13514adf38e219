/**
 * Fused lowering: every fusion node (passes/fuse.ts states what each kind means) becomes
 * ONE kernel, its body evaluated by composing the pointwise builders (codegen/fused-body.ts).
 *
 * - elementwise: one invocation per element (or 4-vector) of the domain; every result is
 *   stored from the same invocation.
 * - reduction: a team of invocations per row (codegen/fused-reduction.ts).
 * - matmul: the tiled template (codegen/matmul.ts) with the rest of the body as its
 *   epilogue, evaluated per element of C after accumulation.
 */
import { type AbstractValue, sizeOf } from "../ir/dtype.js";
import type { Node, Value } from "../ir/graph.js";
import { Index } from "./elementwise.js";
import { BodyEval, VectorReads, fusionBindings, fusionBuilder, site } from "./fused-body.js";
import { reductionKernel } from "./fused-reduction.js";
import { checkArray, gridFor, groupAddress, linearGroupId, unravel } from "./indexing.js";
import { type StridedView, contiguous } from "../ir/view.js";
import { type OutputLayout, operandStrides } from "./matmul-spec.js";
import { type Expr, type Kernel, BodyBuilder, iadd, id, imul, lt, u32 } from "./kernel.js";
import { renameLocals } from "./traverse.js";
import { type LowerContext, type LoweredKernel, LoweringError, dotGeneralSpec } from "./lower.js";
import { matmulKernel } from "./matmul.js";
import { lowerAttentionFusion } from "./attention.js";
import { lowerMoeFusion } from "./moe.js";

/** The kernel of one fusion node (none when its results are empty). */
export function lowerFusion(node: Node<"fusion">, ctx: LowerContext): LoweredKernel[] {
  if (node.outputs.every((v) => sizeOf(v.shape) === 0)) return [];
  const { body, kind } = node.params;
  if (kind === "attention") return lowerAttentionFusion(node, ctx);
  if (kind === "moe") return lowerMoeFusion(node, ctx);
  for (const v of [...node.inputs, ...node.outputs]) checkArray(`fusion @${body.name} (${ctx.name})`, v.dtype, v.shape, ctx.target);
  const source = `${ctx.source}; ops: ${body.nodes.map((n) => n.prim).join(" ")}`;
  const c = { ...ctx, source };
  const lowered: { kernel: Kernel; temps?: AbstractValue[] } | undefined =
    kind === "elementwise" ? { kernel: elementwiseKernel(node, c) }
    : kind === "reduction" ? { kernel: reductionKernel(node, c) }
    : kind === "matmul" ? matmulFusionKernel(node, c)
    : undefined;
  if (!lowered) throw new LoweringError(`fusion @${body.name} has unknown kind '${kind}' (expected elementwise, reduction or matmul)`);
  const { kernel, temps } = lowered;
  const max = ctx.target.limits.maxStorageBuffersPerShaderStage;
  if (kernel.bindings.length > max)
    throw new LoweringError(`fusion @${body.name} binds ${kernel.bindings.length} storage buffers, more than the target's ${max}; the fuse pass should have split it`);
  // Bindings are named in<i>[_role], out<j> and tmp<k> after the fusion's operands, results and scratch arrays.
  const args = kernel.bindings.map((b) => {
    const m = /^(in|out|tmp)(\d+)/.exec(b.name);
    if (!m) throw new LoweringError(`${ctx.name}: binding '${b.name}' names no operand or result of the fusion`);
    return { kind: m[1] === "tmp" ? ("temp" as const) : (m[1] as "in" | "out"), index: Number(m[2]) };
  });
  return [temps ? { kernel, args, temps } : { kernel, args }];
}

const WIDTH = 256;

/**
 * Vectors per invocation of an elementwise fusion: up to four, at a stride of the
 * workgroup width (neighbouring invocations still touch neighbouring addresses), while
 * the launch keeps at least 256 workgroups. Fewer, fatter workgroups halve the time of a
 * 4M-element chain on lavapipe, whose per-workgroup cost is high, and give a GPU
 * independent loads in flight.
 */
export function vectorsPerInvocation(vectors: number): number {
  let per = 4;
  while (per > 1 && vectors < WIDTH * per * 256) per /= 2;
  return per;
}

/**
 * One invocation per element, or per 4-vector of consecutive elements when the domain
 * is a multiple of 4: inputs read at the element itself or broadcast along the innermost
 * axis are loaded as 4-vectors (VectorReads) and results stored as 4-vectors (bool stays
 * scalar: it is stored as a word). lavapipe pays per invocation per load, not per byte,
 * so this quarters its loads (W1 on lavapipe: 36 → 22 ms); a GPU gets 16-byte transactions.
 */
function elementwiseKernel(node: Node<"fusion">, ctx: LowerContext): Kernel {
  const body = node.params.body;
  const ev = new BodyEval(body, node.inputs.map((_, i) => `in${i}`));
  const domain = body.outputs[0]!.shape;
  const n = sizeOf(domain);
  const lanes = n % 4 === 0 ? 4 : 1;
  const reads = lanes === 4 ? new VectorReads(ev, domain) : undefined;
  const vecOut = (v: Value) => lanes === 4 && v.dtype !== "bool";
  const bindings = fusionBindings(node).map((b, i) => {
    const wide = i < body.inputs.length ? reads?.inputs.has(body.inputs[i]!) : vecOut(body.outputs[i - body.inputs.length]!);
    return wide ? { ...b, width: 4 as const } : b;
  });
  const vectors = n / lanes;
  const per = vectorsPerInvocation(vectors);
  const grid = gridFor(Math.ceil(vectors / (WIDTH * per)), ctx.target);
  const b = fusionBuilder(node, bindings);
  const base = b.let("base", iadd(imul(linearGroupId(grid), u32(WIDTH * per)), id("local", 0)));
  const vectorAt = (bb: BodyBuilder, k: Expr) => {
    const emit = (x: BodyBuilder) => {
      const q = x.let(lanes === 4 ? "vec" : "gid", iadd(base, imul(k, u32(WIDTH))));
      const first = lanes === 4 ? x.let("gid", imul(q, u32(4))) : q;
      const vector = reads?.group(x, new Index(x, domain, { linear: first }), q);
      const values = Array.from({ length: lanes }, (_, c) => {
        const gid = c === 0 ? first : iadd(first, u32(c));
        // A group's vector loads are this element's values: not for a read a view moved elsewhere.
        const s = site(new Index(x, domain, { linear: gid }), (v, home) => (home ? vector?.(v, c) : undefined));
        return { gid, values: body.outputs.map((v) => ev.eval(v, x, s.at, s)) };
      });
      body.outputs.forEach((v, i) => {
        if (vecOut(v)) x.store4(`out${i}`, q, values.map((y) => y.values[i]!) as [Expr, Expr, Expr, Expr]);
        else for (const y of values) x.store(`out${i}`, y.gid, y.values[i]!);
      });
    };
    if (vectors % (WIDTH * per) !== 0) bb.if(lt(iadd(base, imul(k, u32(WIDTH))), u32(vectors)), emit);
    else emit(bb);
  };
  // On a CPU adapter the vectors are a rolled loop: LLVM compiled W1's chain unrolled four
  // times in 0.77 s against 0.23 s for one copy (lavapipe, shader cache off; issue 13). A GPU
  // gets them unrolled, its loads independent and in flight together.
  if (ctx.target.cpuAdapter && per > 1) b.rolledFor("k", u32(0), u32(per), (k, bb) => vectorAt(bb, k));
  else for (let k = 0; k < per; k++) vectorAt(b, u32(k));
  return { name: ctx.name, source: ctx.source, bindings, workgroupSize: [WIDTH, 1, 1], grid, shared: [], body: b.stmts };
}

/**
 * The tiled matmul with the rest of the body as its epilogue (MatmulEpilogue, the
 * template's hook): per element of C after accumulation, the body is evaluated at the
 * element's position, with the product given as the accumulator. One result is the value
 * the template stores (vector stores included); the others, and the product itself when
 * the body returns it, are stored by the epilogue at the same index.
 */
function matmulFusionKernel(node: Node<"fusion">, ctx: LowerContext): { kernel: Kernel; temps?: AbstractValue[] } {
  const body = node.params.body;
  const dots = body.nodes.filter((n): n is Node<"dot_general"> => n.prim === "dot_general");
  if (dots.length !== 1) throw new LoweringError(`matmul fusion @${body.name} holds ${dots.length} dot_generals, expected one`);
  const dot = dots[0]!;
  const product = dot.outputs[0]!;
  const ev0 = new BodyEval(body, []);
  const p = dot.params;
  const sides = ["lhs", "rhs"] as const;
  // Each operand is a body input, a strided view of one (the template's address map), or
  // layout ops over inputs no stride describes (a pad, a concatenation): read per element.
  const reads = dot.inputs.map((v) => ev0.stridedRead(v));
  const chain = upstream(ev0, dot.inputs);
  const strided = new Set(reads.flatMap((r) => (r ? [r.input] : [])));
  // The template may read its operands as 4-vectors: an epilogue reading one too gets a scalar binding of its own.
  const epilogue = body.nodes.filter((n) => n !== dot && !chain.has(n) && !ev0.isView(n));
  const aliased = new Set(epilogue.flatMap((n) => n.inputs.map((u) => ev0.throughViews(u))).filter((u) => strided.has(u)));
  const name = (v: Value) => `in${body.inputs.indexOf(v)}`;
  const ev = new BodyEval(body, body.inputs.map((v) => (aliased.has(v) ? `${name(v)}_epilogue` : name(v))));
  const generalInputs = sides.map((side, i) => (reads[i] ? [] : body.inputs.filter((u) => upstreamInputs(ev0, dot.inputs[i]!).has(u))));
  // The template stores one value per element to `out` itself, and may first keep the raw
  // accumulators there (matmul-cpu.ts reads them back for the epilogue), so `out` is a
  // result of the product's type; without one, a scratch array the size of C.
  // A result stored through transposes and reshapes (the fuse pass folded them into the
  // store) is the one `out` holds: the template writes it through its layout.
  const layouts = body.outputs.map((v) => ev0.storedThrough(v));
  let stored = layouts.findIndex((l) => l !== undefined);
  if (layouts.filter((l) => l).length > 1) throw new LoweringError(`matmul fusion @${body.name} stores two results through layout ops; the template stores one`);
  if (stored >= 0 && body.outputs[stored]!.dtype !== product.dtype)
    throw new LoweringError(`matmul fusion @${body.name} stores a ${body.outputs[stored]!.dtype} result through layout ops; the template stores the product's type there`);
  if (stored < 0) stored = body.outputs.findIndex((v) => v !== product && v.dtype === product.dtype);
  if (stored < 0) stored = body.outputs.indexOf(product);
  const computed = (i: number) => layouts[i]?.value ?? body.outputs[i]!;
  const out = stored >= 0 ? `out${stored}` : "tmp0";
  const base = fusionBindings(node);
  const bindings = [
    ...base.filter((b) => b.access === "read"),
    ...[...aliased].map((v) => ({ name: `${name(v)}_epilogue`, dtype: v.dtype, access: "read" as const })),
    ...sides.flatMap((side, i) => generalInputs[i]!.map((v) => ({ name: `${name(v)}_${side}`, dtype: v.dtype, access: "read" as const }))),
    ...base.filter((b) => b.access !== "read"),
    ...(stored < 0 ? [{ name: out, dtype: product.dtype, access: "read_write" as const }] : []),
  ];
  const [lhs, rhs] = dot.inputs as [Value, Value];
  // Each operand's axes as (batch, row, column) groups, the template's three coordinates.
  const free = (v: Value, used: number[]) => [...Array(v.shape.length).keys()].filter((d) => !used.includes(d));
  const lhsFree = free(lhs, [...p.lhs_batch, ...p.lhs_contract]), rhsFree = free(rhs, [...p.rhs_batch, ...p.rhs_contract]);
  const groups = [[p.lhs_batch, lhsFree, p.lhs_contract], [p.rhs_batch, p.rhs_contract, rhsFree]];
  const mShape = lhsFree.map((d) => lhs.shape[d]!), nShape = rhsFree.map((d) => rhs.shape[d]!);
  const [lr, rr] = reads;
  const base0 = dotGeneralSpec(dot, { name: ctx.name, source: ctx.source, bindings, out },
    { lhs: lr ? name(lr.input) : "lhs_read", rhs: rr ? name(rr.input) : "rhs_read" },
    { lhs: lr?.view ?? contiguous(lhs.shape), rhs: rr?.view ?? contiguous(rhs.shape) });
  const readElementwise = (i: 0 | 1) => {
    const v = dot.inputs[i]!;
    const evg = new BodyEval(body, body.inputs.map((u) => `${name(u)}_${sides[i]}`));
    return (b: BodyBuilder, batch: Expr, row: Expr, col: Expr): Expr => {
      const idx = new Array<Expr>(v.shape.length);
      [batch, row, col].forEach((x, g) => {
        const dims = groups[i]![g]!;
        unravel(b, x, dims.map((d) => v.shape[d]!), `${sides[i]![0]}${"brc"[g]}`).forEach((e, k) => (idx[dims[k]!] = e));
      });
      const at = new Index(b, v.shape, { idx });
      return evg.eval(v, b, at, site(at));
    };
  };
  const spec = {
    ...base0,
    lhs: lr ? base0.lhs : { name: "lhs_read", addr: base0.lhs.addr, kContiguous: true, read: readElementwise(0) },
    rhs: rr ? base0.rhs : { name: "rhs_read", addr: base0.rhs.addr, nContiguous: true, read: readElementwise(1) },
  };
  const layout = stored >= 0 ? layouts[stored] : undefined;
  const outLayout = layout && outputLayout(layout.view, [p.lhs_batch.length, mShape.length]);
  let calls = 0;
  const template = matmulKernel({
    ...spec,
    ...(outLayout ? { outLayout } : {}),
    epilogue: {
      bindings: [],
      apply: (acc, at) => {
        // Names end in _e<call>, unique per call: the template's renaming then keeps them
        // (BodyBuilder.fresh would give a second `add` the `add_1` an earlier call declared).
        const call = calls++;
        const b = new BodyBuilder();
        const c = b.let("acc", acc);
        const idx = [...(p.lhs_batch.length ? at.batch : []), ...unravel(b, at.row, mShape, "m"), ...unravel(b, at.col, nShape, "n")];
        const s = site(new Index(b, product.shape, { idx, linear: at.linear }), (v) => (v === product ? c : undefined));
        const values = body.outputs.map((_, i) => ev.eval(computed(i), b, s.at, s));
        values.forEach((v, i) => i !== stored && b.store(`out${i}`, at.linear, v));
        return renameLocals(b.stmts, stored >= 0 ? values[stored]! : c, (n) => `${n}_e${call}`);
      },
    },
  }, ctx.target);
  const kernel = { ...template, body: [...fusionBuilder(node, bindings).stmts, ...template.body] };
  return stored >= 0 ? { kernel } : { kernel, temps: [product.type] };
}

/** The template's store address for C written through a view of its buffer with the product's shape (batch, row, column axes in that order). */
function outputLayout(view: StridedView, [nb, nm]: [number, number]): OutputLayout {
  const axes = (from: number, to: number) => [...Array(to - from).keys()].map((i) => from + i);
  const [batch, rows, cols] = [axes(0, nb), axes(nb, nb + nm), axes(nb + nm, view.shape.length)];
  const strides = operandStrides(view.shape, batch, rows, cols, view.strides, view.offset);
  if (!strides) throw new LoweringError(`a matmul result stored through a layout its rows or columns cannot take as one stride`);
  return {
    ...strides,
    base: (b, bat) => {
      const at = groupAddress(b, bat, batch, view.shape, "ob", view.strides);
      return view.offset ? iadd(u32(view.offset), at) : at;
    },
  };
}

/** Body nodes the values are computed from (their operand chains). */
function upstream(ev: BodyEval, values: readonly Value[]): Set<Node> {
  const seen = new Set<Node>();
  const stack = [...values];
  for (let v = stack.pop(); v; v = stack.pop()) {
    const n = ev.producerOf(v);
    if (n && !seen.has(n)) {
      seen.add(n);
      stack.push(...n.inputs);
    }
  }
  return seen;
}

/** Body inputs `v` is computed from. */
function upstreamInputs(ev: BodyEval, v: Value): Set<Value> {
  const out = new Set<Value>();
  const stack = [v];
  for (let u = stack.pop(); u; u = stack.pop()) {
    const n = ev.producerOf(u);
    if (n) stack.push(...n.inputs);
    else out.add(u);
  }
  return out;
}
