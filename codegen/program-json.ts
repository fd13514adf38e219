/**
 * A Program as JSON text and back, exactly, for the persistent compile cache
 * (runtime/compile-cache.ts): a later process loads the stored program and skips passes and
 * lowering. JSON has no NaN, ±Infinity or −0, which kernel literals and constants' values can
 * be, and no typed arrays (constants' host data), so those travel as tagged objects:
 * `{"$number": "-0"}` and `{"$array": "Float32Array", "base64": ...}` (the bytes as they are,
 * NaN payloads included).
 */
import type { HostData } from "../ir/dtype.js";
import { Program, type ProgramBuffer, type ProgramSlot, type Step } from "./program.js";

/** Changes whenever the layout below does, so an entry written by other code is refused, not misread. */
const FORMAT = "smelt-program/1";

const ARRAYS = { Float32Array, Int32Array, Uint32Array, Uint8Array } as const;
type ArrayName = keyof typeof ARRAYS;

/** A stored program that is not one (corrupt, truncated, or of another format). */
export class ProgramFormatError extends Error {
  override name = "ProgramFormatError";
}

export function programToJson(p: Program): string {
  const { name, buffers, slots, inputs, outputs, steps } = p;
  return JSON.stringify({ format: FORMAT, name, buffers, slots, inputs, outputs, steps }, encode);
}

/** The program `programToJson` wrote; throws ProgramFormatError for anything else. */
export function programFromJson(text: string): Program {
  let j: Record<string, unknown>;
  try {
    j = revive(JSON.parse(text)) as Record<string, unknown>;
  } catch (e) {
    throw e instanceof ProgramFormatError ? e : new ProgramFormatError(`not a stored program: ${(e as Error).message}`);
  }
  if (j === null || typeof j !== "object" || j.format !== FORMAT)
    throw new ProgramFormatError(`not a stored program of format ${FORMAT}`);
  const lists = ["buffers", "slots", "inputs", "outputs", "steps"] as const;
  const missing = lists.filter((k) => !Array.isArray(j[k]));
  if (typeof j.name !== "string" || missing.length > 0)
    throw new ProgramFormatError(`a stored program without ${typeof j.name !== "string" ? "a name" : missing.join(", ")}`);
  return new Program(j.name, j.buffers as ProgramBuffer[], j.slots as ProgramSlot[], j.inputs as number[], j.outputs as number[], j.steps as Step[]);
}

function encode(_key: string, v: unknown): unknown {
  if (typeof v === "number" && (!Number.isFinite(v) || Object.is(v, -0))) return { $number: Object.is(v, -0) ? "-0" : String(v) };
  if (ArrayBuffer.isView(v)) return { $array: v.constructor.name, base64: toBase64(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)) };
  return v;
}

/**
 * Replaces the tagged objects of parsed JSON by what they stand for, in place. A walk after
 * parsing, not a JSON.parse reviver: the reviver is called for every value and made loading
 * W8's program (1 MB) three times slower. An explicit stack: kernel bodies nest deeply.
 */
function revive(root: unknown): unknown {
  const holder = { root };
  const stack: Record<string, unknown>[] = [holder];
  while (stack.length > 0) {
    const o = stack.pop()!;
    for (const k in o) {
      const v = o[k];
      if (v === null || typeof v !== "object") continue;
      const tagged = decode(v as Tagged);
      if (tagged !== undefined) o[k] = tagged;
      else stack.push(v as Record<string, unknown>);
    }
  }
  return holder.root;
}

interface Tagged {
  readonly $number?: unknown;
  readonly $array?: unknown;
  readonly base64?: unknown;
}

const SPECIAL_NUMBERS: ReadonlySet<unknown> = new Set(["NaN", "Infinity", "-Infinity", "-0"]);

function decode(o: Tagged): number | HostData | undefined {
  if (o.$number !== undefined) {
    if (!SPECIAL_NUMBERS.has(o.$number)) throw new ProgramFormatError(`${JSON.stringify(o.$number)} is not a number JSON lacks`);
    return Number(o.$number);
  }
  if (o.$array !== undefined) return hostData(String(o.$array), o.base64);
  return undefined;
}

function hostData(name: string, base64: unknown): HostData {
  const Typed = Object.hasOwn(ARRAYS, name) ? ARRAYS[name as ArrayName] : undefined;
  if (!Typed || typeof base64 !== "string") throw new ProgramFormatError(`a constant of unknown layout ${name}`);
  const bytes = fromBase64(base64);
  if (bytes.length % Typed.BYTES_PER_ELEMENT !== 0) throw new ProgramFormatError(`${bytes.length} bytes are no whole ${name}`);
  return new Typed(bytes.buffer, 0, bytes.length / Typed.BYTES_PER_ELEMENT);
}

// btoa and atob exist in browsers and in Node 16+; they take "binary strings", one char per byte.
function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const s = atob(text);
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  return bytes;
}
