/**
 * FlashAttention-2 forward for CPU adapters with a fixed subgroup size (lavapipe): the
 * subgroup matmul's shape (codegen/matmul-cpu.ts) applied to both products, no barriers
 * and no workgroup memory. One subgroup owns TM query rows and walks key blocks of 4·sg keys:
 * - q·kᵀ: lanes over keys (lane l owns keys kb + l + sg·j, j < 4), each lane loading its 4
 *   key rows as 4-vectors along the head dim while the TM query rows are loaded once per
 *   subgroup (a 1/sg share per lane) and exchanged by subgroup broadcast;
 * - online softmax per row: the block max by one broadcast per lane, then the running max
 *   updated and the accumulator rescaled once per block; the running sum stays a per-lane
 *   partial, summed across lanes once at the end;
 * - p·v: lanes over head dims (4-vectors of v when Dv allows), each probability broadcast
 *   from the lane that owns its key.
 * On lavapipe a load with a per-lane address costs a scalar loop over the lanes while a
 * constant-lane broadcast is a register shuffle, so this layout is chosen by loads per
 * multiply-add (see subgroupMatmul). Causal key blocks past the rows' diagonal are never
 * visited and only blocks crossing it (or the end of the keys) test bounds.
 */
import {
  MASKED, type FlashSpec, clampTo, naturalLse, probability, quarterRows, queryRowTile, rowStart, rowsAligned4, scoreAt, scoreMax,
} from "./attention-spec.js";
import {
  type Expr, type Kernel, BodyBuilder, bin, broadcast, call, eq, f32, iadd, id, idiv, imul, load, lt, select, shuffle, u32,
} from "./kernel.js";
import type { Target } from "./target.js";

/**
 * Query rows per subgroup: as many as keep the accumulators near 128 registers per lane (the
 * subgroup matmul's best tile). On lavapipe, W6 (8 × 1024² × 64, causal) took 500–790 ms with
 * 16 rows against 750–1040 ms with 8 in the same runs; 16 rows cost 12 s of LLVM at the first
 * dispatch against 7 s (the block is unrolled per row).
 */
export function cpuRows(spec: FlashSpec, sg: number): number {
  const dimsPerLane = Math.ceil(spec.dv / sg);
  return dimsPerLane <= 8 ? 16 : dimsPerLane <= 16 ? 8 : 4;
}

export function subgroupAttention(spec: FlashSpec, target: Target, sg: number, rows = cpuRows(spec, sg)): Kernel {
  const { sq, d: D, sk, dv: Dv } = spec;
  const TM = rows, KB = 4 * sg;
  const { b, grid, g, kvg, m0 } = queryRowTile(spec, target, TM);
  const lane = b.let("lane", id("subgroup_lane"));
  const rowIds = Array.from({ length: TM }, (_, i) => b.let(`row${i}`, iadd(m0, u32(i))));
  // Rows past Sq (a partial last tile) compute on the last row and are never stored.
  const rowAt = rowIds.map((r, i) => (sq % TM === 0 ? r : b.let(`row_c${i}`, clampTo(r, sq))));

  // q: row group r of this lane is row m0 + r·sg + lane (clamped), read along the head dim.
  const { layout } = spec;
  const qVec = D % 4 === 0 && rowsAligned4(layout.q) && rowsAligned4(layout.k);
  const vVec = Dv % (4 * sg) === 0 && rowsAligned4(layout.v) && rowsAligned4(layout.out);
  // Row starts in the units loads index by: 4-vectors where vectorised.
  const [qRows, kRows] = [layout.q, layout.k].map((x) => (qVec ? quarterRows(x) : x)) as [typeof layout.q, typeof layout.q];
  const [vRows, outRows] = [layout.v, layout.out].map((x) => (vVec ? quarterRows(x) : x)) as [typeof layout.q, typeof layout.q];
  const qGroups = Math.ceil(TM / sg);
  const qBase = Array.from({ length: qGroups }, (_, r) =>
    b.let(`q_base${r}`, rowStart(qRows, g, clampTo(iadd(m0, iadd(u32(r * sg), lane)), sq))));
  // v: this lane's head dims, as 4-vector chunks (4·lane + 4·sg·c) or single dims (lane + sg·c).
  const vChunks = vVec ? Dv / (4 * sg) : Math.ceil(Dv / sg);
  const dimsPerLane = vVec ? 4 * vChunks : vChunks;
  const dimOf = (c: number, u: number): Expr => (vVec ? iadd(imul(lane, u32(4)), u32(4 * sg * c + u)) : iadd(lane, u32(sg * c)));

  const m = rowIds.map((_, i) => b.var(`m${i}`, f32(MASKED)));
  const l = rowIds.map((_, i) => b.var(`l${i}`, f32(0)));
  const acc = rowIds.map((_, i) => Array.from({ length: dimsPerLane }, (_, c) => b.var(`acc${i}_${c}`, f32(0))));

  const block = (x: BodyBuilder, kb: Expr, bounds: boolean) => {
    const keys = [0, 1, 2, 3].map((j) => x.let(`key${j}`, iadd(kb, iadd(lane, u32(j * sg)))));
    const kRow = keys.map((key, j) => x.let(`k_row${j}`, rowStart(kRows, kvg, bounds ? clampTo(key, sk) : key)));
    const s = rowIds.map((_, i) => [0, 1, 2, 3].map((j) => x.var(`s${i}_${j}`, f32(0))));
    // q·kᵀ over the head dim, 4 at a time, with an unrolled tail when D is not a multiple of 4.
    const step = (y: BodyBuilder, d0: Expr, us: readonly number[]) => {
      let kv: ((j: number, u: number) => Expr), qv: ((i: number, u: number) => Expr);
      if (qVec) {
        const kq = idiv(d0, u32(4));
        const kl = kRow.map((r, j) => y.load4(`kv${j}`, "f32", "k", iadd(r, kq)));
        const ql = qBase.map((q, r) => y.load4(`qv${r}`, "f32", "q", iadd(q, kq)));
        kv = (j, u) => kl[j]![u]!;
        qv = (i, u) => broadcast(ql[Math.floor(i / sg)]![u]!, i % sg);
      } else {
        const kl = kRow.map((r, j) => us.map((u) => y.let(`kv${j}_${u}`, load("f32", "k", iadd(r, iadd(d0, u32(u)))))));
        const ql = qBase.map((q, r) => us.map((u) => y.let(`qv${r}_${u}`, load("f32", "q", iadd(q, iadd(d0, u32(u)))))));
        kv = (j, u) => kl[j]![us.indexOf(u)]!;
        qv = (i, u) => broadcast(ql[Math.floor(i / sg)]![us.indexOf(u)]!, i % sg);
      }
      for (const u of us)
        for (let i = 0; i < TM; i++) {
          const qi = y.let(`x${i}`, qv(i, u));
          for (let j = 0; j < 4; j++) y.assign(s[i]![j]!, bin("add", s[i]![j]!, bin("mul", qi, kv(j, u))));
        }
    };
    const D4 = Math.floor(D / 4), tail = D % 4;
    if (D4 > 0) x.for("dq", u32(0), u32(D4), (dq, y) => step(y, imul(dq, u32(4)), [0, 1, 2, 3]));
    if (tail) step(x, u32(4 * D4), [0, 1, 2].slice(0, tail));

    // Online softmax, once per block and row (FlashAttention-2 §3.1).
    const p = rowAt.map((row, i) => {
      const sc = [0, 1, 2, 3].map((j) => scoreAt(x, spec, s[i]![j]!, g, row, keys[j]!, bounds));
      const mine = sc.slice(1).reduce((a, t) => scoreMax(x, `mloc${i}`, a, t.score), sc[0]!.score);
      let blockMax: Expr = broadcast(mine, 0);
      for (let ln = 1; ln < sg; ln++) blockMax = scoreMax(x, `mblk${i}`, blockMax, broadcast(mine, ln));
      const mNew = scoreMax(x, `m_new${i}`, m[i]!, blockMax);
      const alpha = x.let(`alpha${i}`, call("exp2", bin("sub", m[i]!, mNew)));
      x.assign(m[i]!, mNew);
      const ps = sc.map((t) => probability(x, t.score, mNew, t.keep));
      x.assign(l[i]!, bin("add", bin("mul", l[i]!, alpha), ps.reduce((a, c) => bin("add", a, c))));
      for (const a of acc[i]!) x.assign(a, bin("mul", a, alpha));
      return ps;
    });

    // p·v: each key's v row, this lane's dims of it. The 4 key slots run as a loop and the
    // sg lanes' keys as a rolled loop inside it, each probability taken from the lane that
    // owns its key by a shuffle: unrolled, this block was most of the kernel's code, and
    // LLVM (lavapipe) took seconds to compile it at the first dispatch.
    x.for("slot", u32(0), u32(4), (j, y) => {
      const pj = p.map((ps, i) => y.let(`p_slot${i}`, select(eq(j, u32(0)), ps[0]!, select(eq(j, u32(1)), ps[1]!, select(eq(j, u32(2)), ps[2]!, ps[3]!)))));
      y.rolledFor("ln", u32(0), u32(sg), (ln, z) => {
        const key = iadd(kb, iadd(imul(j, u32(sg)), ln));
        const vRow = z.let(`v_row`, rowStart(vRows, kvg, bounds ? clampTo(key, sk) : key));
        const vals: Expr[] = [];
        for (let c = 0; c < vChunks; c++) {
          if (vVec) vals.push(...z.load4(`vv${c}`, "f32", "v", iadd(vRow, iadd(lane, u32(sg * c)))));
          else vals.push(z.let(`vv${c}`, load("f32", "v", iadd(vRow, clampTo(dimOf(c, 0), Dv)))));
        }
        for (let i = 0; i < TM; i++) {
          const pi = z.let(`pb${i}`, shuffle(pj[i]!, ln));
          vals.forEach((vv, c) => z.assign(acc[i]![c]!, bin("add", acc[i]![c]!, bin("mul", pi, vv))));
        }
      });
    });
  };

  // One loop over the key blocks with bounds tested everywhere: two copies of the block
  // (unbounded before the diagonal, bounded on it) double lavapipe's compile time.
  // Causal blocks past the tile's last row are never visited.
  const last = b.let("last_row", bin("min", iadd(m0, u32(TM - 1)), u32(sq - 1)));
  const end = spec.causal ? b.let("key_end", bin("min", iadd(last, u32(1)), u32(sk))) : u32(sk);
  b.for("kb", u32(0), end, (kb, x) => block(x, kb, true), KB);

  // Normalise once, store this lane's dims of each row and (lane 0) the log-sum-exp.
  rowIds.forEach((row, i) => {
    let total: Expr = broadcast(l[i]!, 0);
    for (let ln = 1; ln < sg; ln++) total = bin("add", total, broadcast(l[i]!, ln));
    const li = b.let(`l_total${i}`, total);
    const emit = (x: BodyBuilder) => {
      const inv = x.let(`inv${i}`, bin("div", f32(1), li));
      const base = rowStart(outRows, g, row);
      for (let c = 0; c < vChunks; c++) {
        if (vVec) {
          const vals = [0, 1, 2, 3].map((u) => bin("mul", acc[i]![4 * c + u]!, inv)) as [Expr, Expr, Expr, Expr];
          x.store4("out", iadd(base, iadd(lane, u32(sg * c))), vals);
        } else {
          const dim = dimOf(c, 0);
          const st = (y: BodyBuilder) => y.store("out", iadd(base, dim), bin("mul", acc[i]![c]!, inv));
          if ((c + 1) * sg <= Dv) st(x);
          else x.if(lt(dim, u32(Dv)), st);
        }
      }
      x.if(eq(lane, u32(0)), (y) => y.store("lse", iadd(imul(g, u32(sq)), row), naturalLse(m[i]!, li)));
    };
    if (sq % TM === 0) emit(b);
    else b.if(lt(row, u32(sq)), emit);
  });

  const vec4 = new Set<string>([...(qVec ? ["q", "k"] : []), ...(vVec ? ["v", "out"] : [])]);
  return {
    name: spec.name, source: spec.source,
    bindings: spec.bindings.map((x) => (vec4.has(x.name) ? { ...x, width: 4 as const } : x)),
    workgroupSize: [sg, 1, 1], grid, shared: [], body: b.stmts, subgroupSize: sg,
  };
}
