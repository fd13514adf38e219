/**
 * FlashAttention-2 forward for CPU adapters with a fixed subgroup size (lavapipe): the
 * subgroup matmul's shape (codegen/matmul-cpu.ts) applied to both products, no barriers
 * and no workgroup memory. One subgroup owns TM query rows and walks key blocks of 4·sg keys:
 * - q·kᵀ: lanes over keys (lane l owns keys kb + l + sg·j, j < 4). A step takes 4 head dims
 *   when k's rows are 4-vectors (one 4-vector load per key), else one. The tile's q is read
 *   from its binding once, into a private array, and each row's value is exchanged by
 *   subgroup broadcast from the lane that holds it;
 * - online softmax per row: the block max by one broadcast per lane, then the running max
 *   updated and the accumulator rescaled once per block; the running sum stays a per-lane
 *   partial, summed across lanes once at the end;
 * - p·v: lanes over head dims (4-vectors of v when Dv allows), each probability broadcast
 *   from the lane that owns its key.
 * On lavapipe (checked in the assembly Mesa prints with GALLIVM_DEBUG=asm) a storage load
 * is lane by lane: a mask test, a bounds test and a branch per lane and component. A
 * private array is read without either, and a constant-lane broadcast is a register shuffle.
 * So this layout is chosen by storage loads per multiply-add (see subgroupMatmul). Causal key
 * blocks past the rows' diagonal are never visited. The rows' results are stored by one
 * rolled loop after the key loop.
 *
 * Measured on lavapipe (AMD EPYC, 2 cores), W6's kernel, 30 interleaved rounds: 41.9 ms with
 * q in a private array, k as 4-vectors and 32 rows, against 53.4 ms with q and k read as
 * scalars at every head dim and 16 rows. It compiles cold in about 1.7 s against 0.7 s.
 * Earlier (previous template, Intel): the rows stored from one rolled loop instead of in
 * place, W6's kernel 116 vs 132 ms and W8's compiled cold in 0.8 s against 3.6 s.
 */
import {
  MASKED, type FlashSpec, clampTo, naturalLse, probability, quarterRows, queryRowTile, rowStart, rowsAligned4, scoreAt, scoreMax,
} from "./attention-spec.js";
import {
  type Expr, type Kernel, BodyBuilder, bin, broadcast, call, eq, f32, iadd, id, imul, load, lt, select, shuffle, u32,
} from "./kernel.js";
import type { Target } from "./target.js";

/**
 * Query rows per subgroup: as many as keep the accumulators near 256 registers per lane
 * (TM rows × this lane's head dims). Every key and value a lane loads is used once per row,
 * and on lavapipe the loads, not the multiply-adds, are most of the time. Measured on
 * lavapipe (AMD EPYC, 2 cores; 30 and 20 interleaved rounds): W6's shape (8 × 1024² × 64,
 * causal) 41.9 ms with 32 rows against 52.2 with 16; 4 × 1024² × 128 58.3 ms with 16 rows
 * against 73.1 with 8 (and 56.6 with 32, at twice the compile time).
 */
export function cpuRows(spec: FlashSpec, sg: number): number {
  const dimsPerLane = Math.ceil(spec.dv / sg);
  return dimsPerLane <= 8 ? 32 : dimsPerLane <= 16 ? 16 : 8;
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
  const vVec = Dv % (4 * sg) === 0 && rowsAligned4(layout.v) && rowsAligned4(layout.out);
  // v's and out's row starts in the units loads index by: 4-vectors where vectorised.
  const [vRows, outRows] = [layout.v, layout.out].map((x) => (vVec ? quarterRows(x) : x)) as [typeof layout.q, typeof layout.q];
  const qGroups = Math.ceil(TM / sg);
  const qBase = Array.from({ length: qGroups }, (_, r) =>
    b.let(`q_base${r}`, rowStart(layout.q, g, clampTo(iadd(m0, iadd(u32(r * sg), lane)), sq))));
  // The tile's q, read from the binding once: every key block reads it again from this
  // private array, which lavapipe keeps on the stack and reads without the bounds test and
  // lane-by-lane branches a storage load costs.
  const qTile = b.array("q_tile", "f32", qGroups * D);
  b.rolledFor("qd", u32(0), u32(D), (d, y) => {
    qBase.forEach((q, r) => y.store(qTile, iadd(u32(r * D), d), load("f32", "q", iadd(q, d)), "private"));
  });
  const qAt = (y: BodyBuilder, r: number, d: Expr) => y.let(`qv${r}`, load("f32", qTile, iadd(u32(r * D), d), "private"));
  // k's rows as 4-vectors where the head dim allows: one load brings 4 dims of a key.
  const kVec = D % 4 === 0 && rowsAligned4(layout.k);
  const kRows = kVec ? quarterRows(layout.k) : layout.k;
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
    // q·kᵀ over the head dim: each lane's 4 keys, TM rows of q shared by broadcast. With k
    // as 4-vectors a step takes 4 dims, one 4-vector load per key: on lavapipe a storage load
    // costs a bounds test and a branch per lane, fewer for a 4-vector than for 4 scalars.
    const qk = (y: BodyBuilder, d: Expr, kv: readonly Expr[]) => {
      const qv = qBase.map((_, r) => qAt(y, r, d));
      for (let i = 0; i < TM; i++) {
        const qi = y.let(`x${i}`, broadcast(qv[Math.floor(i / sg)]!, i % sg));
        for (let j = 0; j < 4; j++) y.assign(s[i]![j]!, bin("add", s[i]![j]!, bin("mul", qi, kv[j]!)));
      }
    };
    if (kVec) {
      x.for("d4", u32(0), u32(D / 4), (d4, y) => {
        const kv = kRow.map((r, j) => y.load4(`kv${j}`, "f32", "k", iadd(r, d4)));
        for (let u = 0; u < 4; u++) qk(y, iadd(imul(d4, u32(4)), u32(u)), kv.map((v) => v[u]!));
      });
    } else {
      x.for("d", u32(0), u32(D), (d, y) => qk(y, d, kRow.map((r, j) => y.let(`kv${j}`, load("f32", "k", iadd(r, d))))));
    }

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

  // Normalise once, store this lane's dims of each row and (lane 0) the log-sum-exp: the
  // rows' state goes to private arrays and one rolled loop stores them. Pasted per row, the
  // stores beside every live accumulator were a large part of LLVM's time at the first
  // dispatch (as in the subgroup matmul's storeTile).
  const accOut = b.array("acc_out", "f32", TM * dimsPerLane);
  const mOut = b.array("m_out", "f32", TM), lOut = b.array("l_out", "f32", TM);
  rowIds.forEach((_, i) => {
    b.store(mOut, u32(i), m[i]!, "private");
    b.store(lOut, u32(i), l[i]!, "private");
    acc[i]!.forEach((a, c) => b.store(accOut, u32(i * dimsPerLane + c), a, "private"));
  });
  b.rolledFor("st_i", u32(0), u32(TM), (i, x) => {
    const row = x.let("st_row", iadd(m0, i));
    const li = x.let("st_l", load("f32", lOut, i, "private"));
    let total: Expr = broadcast(li, 0);
    for (let ln = 1; ln < sg; ln++) total = bin("add", total, broadcast(li, ln));
    const lTotal = x.let("l_total", total);
    const accAt = (y: BodyBuilder, c: number) => y.let("st_acc", load("f32", accOut, iadd(imul(i, u32(dimsPerLane)), u32(c)), "private"));
    const emit = (y: BodyBuilder) => {
      const inv = y.let("inv", bin("div", f32(1), lTotal));
      const base = rowStart(outRows, g, row);
      for (let c = 0; c < vChunks; c++) {
        if (vVec) {
          const vals = [0, 1, 2, 3].map((u) => bin("mul", accAt(y, 4 * c + u), inv)) as [Expr, Expr, Expr, Expr];
          y.store4("out", iadd(base, iadd(lane, u32(sg * c))), vals);
        } else {
          const dim = dimOf(c, 0);
          const st = (z: BodyBuilder) => z.store("out", iadd(base, dim), bin("mul", accAt(z, c), inv));
          if ((c + 1) * sg <= Dv) st(y);
          else y.if(lt(dim, u32(Dv)), st);
        }
      }
      const mi = load("f32", mOut, i, "private");
      y.if(eq(lane, u32(0)), (z) => z.store("lse", iadd(imul(g, u32(sq)), row), naturalLse(mi, lTotal)));
    };
    if (sq % TM === 0) emit(x);
    else x.if(lt(row, u32(sq)), emit);
  });

  const vec4 = new Set<string>([...(vVec ? ["v", "out"] : []), ...(kVec ? ["k"] : [])]);
  return {
    name: spec.name, source: spec.source,
    bindings: spec.bindings.map((x) => (vec4.has(x.name) ? { ...x, width: 4 as const } : x)),
    workgroupSize: [sg, 1, 1], grid, shared: [], body: b.stmts, subgroupSize: sg,
  };
}
