/** The playground's bar chart: one horizontal bar per variant, inline SVG in a <figure>. */

export interface Bar {
  /** "fused" or "unfused": the rect's data-variant. */
  readonly variant: string;
  /** The steady time in milliseconds: the bar's length and its data-ms. */
  readonly ms: number;
  /** What the bar's label says after the variant's name (kernel count, time). */
  readonly label: string;
}

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 780;
const LABEL = 90;
const ROW = 34;
const BAR = 22;
const COLORS: Record<string, string> = { fused: "#d9480f", unfused: "#868e96" };

function element<K extends keyof SVGElementTagNameMap>(tag: K, attributes: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attributes)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** Bars scaled to the slowest, each labelled, in a figure with `caption` under them. */
export function barChart(bars: readonly Bar[], caption: string): HTMLElement {
  const longest = Math.max(...bars.map((b) => b.ms));
  const room = WIDTH - LABEL - 10;
  const height = bars.length * ROW + 4;
  const svg = element("svg", { width: WIDTH, height, viewBox: `0 0 ${WIDTH} ${height}`, role: "img", class: "chart" });
  svg.append(element("title", {}, caption));
  bars.forEach((b, i) => {
    const y = i * ROW + 4;
    const length = Math.max(2, (b.ms / longest) * room);
    svg.append(element("text", { x: LABEL - 8, y: y + BAR / 2 + 4, "text-anchor": "end", class: "variant" }, b.variant));
    svg.append(element("rect", { x: LABEL, y, width: length, height: BAR, rx: 3, fill: COLORS[b.variant] ?? "#1c7ed6", "data-variant": b.variant, "data-ms": b.ms }));
    // The label sits inside a long bar and after a short one.
    const inside = length > room * 0.55;
    svg.append(
      element("text", { x: inside ? LABEL + length - 6 : LABEL + length + 6, y: y + BAR / 2 + 4, "text-anchor": inside ? "end" : "start", class: inside ? "value inside" : "value" }, b.label),
    );
  });
  const figure = document.createElement("figure");
  const figcaption = document.createElement("figcaption");
  figcaption.textContent = caption;
  figure.append(svg, figcaption);
  return figure;
}
