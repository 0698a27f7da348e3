/**
 * safetensors reader and writer (https://github.com/huggingface/safetensors format):
 *   u64 little-endian N | N bytes of JSON header | raw little-endian tensor data.
 * The header maps names to {dtype, shape, data_offsets: [begin, end]} (offsets relative to the
 * data section) plus an optional "__metadata__" string map. Reading validates everything and never
 * reads past the buffer; each malformed file gives one error saying what is wrong. Supported
 * dtypes: F32, I32, I64 (I64 values are read as BigInt64Array; `toI32` narrows them with a range check).
 */

/** Element types webgrad reads and writes. */
export type SafeDType = 'F32' | 'I32' | 'I64';

/** One tensor of a safetensors file. */
export interface SafeTensor {
  dtype: SafeDType;
  shape: number[];
  data: Float32Array | Int32Array | BigInt64Array;
}

/** A parsed file: tensors in header order, and the metadata strings. */
export interface SafeFile {
  tensors: Map<string, SafeTensor>;
  metadata: Record<string, string>;
}

const BYTES: Record<SafeDType, number> = { F32: 4, I32: 4, I64: 8 };
const MAX_HEADER = 100 * 1024 * 1024;

function fail(msg: string): never {
  throw new Error(`safetensors: ${msg}`);
}

/** Parses a safetensors file held in `bytes` (a copy of each tensor's data is returned). */
export function readSafetensors(bytes: ArrayBuffer | Uint8Array): SafeFile {
  const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  if (u8.byteLength < 8) fail(`file of ${u8.byteLength} bytes is shorter than the 8-byte header length`);
  const dv = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  const n = dv.getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER)) fail(`header length ${n} exceeds ${MAX_HEADER} bytes`);
  const hlen = Number(n);
  if (8 + hlen > u8.byteLength) fail(`header length ${hlen} runs past the end of the ${u8.byteLength}-byte file`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(u8.subarray(8, 8 + hlen)));
  } catch (e) {
    fail(`header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
  const dataStart = 8 + hlen;
  const dataLen = u8.byteLength - dataStart;
  const tensors = new Map<string, SafeTensor>();
  let metadata: Record<string, string> = {};
  const spans: [number, number, string][] = [];
  for (const [name, v] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) fail('__metadata__ is not an object');
      for (const [k, s] of Object.entries(v as Record<string, unknown>)) {
        if (typeof s !== 'string') fail(`__metadata__.${k} is not a string`);
      }
      metadata = v as Record<string, string>;
      continue;
    }
    if (typeof v !== 'object' || v === null) fail(`entry '${name}' is not an object`);
    const { dtype, shape, data_offsets: off } = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (dtype !== 'F32' && dtype !== 'I32' && dtype !== 'I64') fail(`tensor '${name}' has unsupported dtype ${JSON.stringify(dtype)} (F32, I32, I64 are supported)`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`tensor '${name}' has an invalid shape ${JSON.stringify(shape)}`);
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0) || off[0] > off[1]) {
      fail(`tensor '${name}' has invalid data_offsets ${JSON.stringify(off)}`);
    }
    const [b, e] = off as [number, number];
    const count = (shape as number[]).reduce((x, y) => x * y, 1);
    if (e - b !== count * BYTES[dtype]) fail(`tensor '${name}' ${dtype} [${shape}] needs ${count * BYTES[dtype]} bytes, data_offsets give ${e - b}`);
    if (e > dataLen) fail(`tensor '${name}' data [${b}, ${e}) runs past the ${dataLen}-byte data section`);
    if (b % BYTES[dtype] !== 0) fail(`tensor '${name}' data offset ${b} is not aligned to ${BYTES[dtype]} bytes`);
    spans.push([b, e, name]);
    // Copy (never `slice`: on a Node Buffer it shares the file's memory pool).
    const src = new Uint8Array(u8.subarray(dataStart + b, dataStart + e)).buffer;
    const data = dtype === 'F32' ? new Float32Array(src) : dtype === 'I32' ? new Int32Array(src) : new BigInt64Array(src);
    tensors.set(name, { dtype, shape: shape as number[], data });
  }
  spans.sort((x, y) => x[0] - y[0]);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i][0] < spans[i - 1][1]) fail(`tensors '${spans[i - 1][2]}' and '${spans[i][2]}' overlap`);
  }
  return { tensors, metadata };
}

/** Writes tensors (in the given order; I64 first for alignment) and metadata as a safetensors file. */
export function writeSafetensors(tensors: Iterable<[string, SafeTensor]>, metadata: Record<string, string> = {}): Uint8Array {
  const list = [...tensors];
  const names = new Set<string>();
  for (const [name, t] of list) {
    if (names.has(name)) fail(`duplicate tensor name '${name}'`);
    if (name === '__metadata__') fail(`'__metadata__' is not a valid tensor name`);
    names.add(name);
    const count = t.shape.reduce((x, y) => x * y, 1);
    if (t.data.length !== count) fail(`tensor '${name}' has ${t.data.length} values for shape [${t.shape}]`);
  }
  const order = [...list].sort((a, b) => (a[1].dtype === 'I64' ? 0 : 1) - (b[1].dtype === 'I64' ? 0 : 1));
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let at = 0;
  const offsets = new Map<string, [number, number]>();
  for (const [name, t] of order) {
    offsets.set(name, [at, at + t.data.byteLength]);
    at += t.data.byteLength;
  }
  for (const [name, t] of list) header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: offsets.get(name) };
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + json.length) % 8)) % 8);
  const hbytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + hbytes.length + at);
  new DataView(out.buffer).setBigUint64(0, BigInt(hbytes.length), true);
  out.set(hbytes, 8);
  for (const [name, t] of order) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), 8 + hbytes.length + offsets.get(name)![0]);
  }
  return out;
}

/** Narrows I64 data to Int32Array, throwing if a value does not fit. */
export function toI32(name: string, data: BigInt64Array): Int32Array {
  const out = new Int32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v > 2147483647n || v < -2147483648n) fail(`tensor '${name}' value ${v} does not fit in i32`);
    out[i] = Number(v);
  }
  return out;
}
