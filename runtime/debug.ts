/**
 * One debug level for the whole compiler (tinygrad's DEBUG): 1 compile log,
 * 2 per-kernel timing, 3 kernel IR, 4 generated source, 5 graph after each pass.
 */
let level = Number(globalThis.process?.env?.SMELT_DEBUG ?? 0) || 0;

export function debugLevel(): number {
  return level;
}

export function setDebug(n: number): void {
  level = n;
}

/** Writes a debug line to stderr when the level is at least `min`. */
export function debugLog(min: number, text: string | (() => string)): void {
  if (level >= min) console.error(typeof text === "function" ? text() : text);
}
