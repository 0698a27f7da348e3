/**
 * Image folders in torchvision's `ImageFolder` layout: `root/<class>/**\/<image>`, one sub-folder
 * per class. Classes are the sub-folder names sorted as Python sorts strings (by code point;
 * torchvision's `find_classes`), labels their indices; images are the files with torchvision's
 * extensions (case-insensitive: .jpg .jpeg .png .ppm .bmp .pgm .tif .tiff .webp) found walking
 * each class folder, in torchvision's `make_dataset` order (folders sorted by path, files by name).
 *
 * Images are decoded once, when the dataset is made, into memory (uint8, [C, H, W] each; a dataset
 * costs N*C*H*W bytes) at one fixed size, the resize policy:
 * - `size` absent: no resizing; every image must have the first image's size (else an error
 *   naming the file).
 * - `size` given, `resize: 'center-crop'` (default): scale so the image covers size (the shorter
 *   side fits), then cut the centre: torchvision's `Resize(size) + CenterCrop(size)` for a square.
 * - `resize: 'stretch'`: scale each axis independently to size (aspect ratio not kept).
 * Channels: `channels: 3` (default) gives RGB (grayscale is replicated, alpha dropped as PIL's
 * `convert('RGB')` does); `channels: 1` gives luma L = (299 R + 587 G + 114 B) / 1000 (PIL's
 * `convert('L')`, rounded). The resampling filter is the decoder's (sharp's linear kernel with its
 * antialiasing in Node; the canvas's high-quality smoothing in browsers), so pixels of resized
 * images differ slightly between Node and browsers, and from PIL.
 *
 * A file that cannot be read or decoded is an error naming it; with `onError: 'skip'` it is left
 * out instead, listed in `skipped` and counted in a warning.
 *
 * This file is browser-safe: the shared logic and the browser decoder (`createImageBitmap` +
 * `OffscreenCanvas`, `imageFolderFromFiles`); image_folder.node.ts reads directories with sharp.
 */
import { ArrayDataset, type ImageShape } from './dataset.js';

/** torchvision's IMG_EXTENSIONS (matched case-insensitively). */
export const IMG_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp'] as const;

/** True when `name` ends with one of {@link IMG_EXTENSIONS} (case-insensitive). */
export function hasImageExtension(name: string): boolean {
  const lower = name.toLowerCase();
  return IMG_EXTENSIONS.some((e) => lower.endsWith(e));
}

/** Compares strings by Unicode code point, as Python's `sorted` does (JS's default sort compares UTF-16 units). */
export function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done && y.done ? 0 : x.done ? -1 : 1;
    const d = x.value.codePointAt(0)! - y.value.codePointAt(0)!;
    if (d !== 0) return d;
  }
}

/** How images are brought to one size (see the module comment). */
export type ResizePolicy = 'center-crop' | 'stretch';

/** Options of the image-folder loaders (Node and browser). */
export interface ImageFolderOptions {
  /** Output size: a square side or [height, width]; absent: images keep their size, which must agree. */
  size?: number | readonly [number, number];
  /** How to reach `size` (default 'center-crop'). */
  resize?: ResizePolicy;
  /** 3 (RGB, default) or 1 (luma). */
  channels?: 1 | 3;
  /** 'throw' (default): an unreadable image is an error naming it; 'skip': leave it out and report it. */
  onError?: 'throw' | 'skip';
  /** Allow class folders without images (torchvision's allow_empty; default false: an error). */
  allowEmpty?: boolean;
  /** Captions, by the image's path relative to the root ('cat/001.png'), as a map or a function. */
  captions?: Readonly<Record<string, string>> | ((path: string) => string | undefined);
  /** Images decoded at a time (default 8). */
  concurrency?: number;
  /** Warn on the console when images were skipped (default true). */
  warn?: boolean;
}

/** An image left out under `onError: 'skip'`. */
export interface SkippedImage {
  /** The file (as the loader names it: a path in Node, the relative path in browsers). */
  path: string;
  /** Why it could not be used. */
  reason: string;
}

/** One image file of a folder: path relative to the root, and its class label. */
export interface ImageFolderSample {
  path: string;
  label: number;
}

/** Decoded pixels: interleaved (HWC) bytes with `channels` of 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA). */
export interface DecodedImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

/** The target size of `opts.size` as [height, width], or null (keep sizes). */
export function targetSize(opts: ImageFolderOptions): [number, number] | null {
  if (opts.size === undefined) return null;
  const [h, w] = typeof opts.size === 'number' ? [opts.size, opts.size] : opts.size;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h <= 0 || w <= 0) {
    throw new Error(`ImageFolder: size must be a positive integer or [height, width], got ${JSON.stringify(opts.size)}`);
  }
  return [h, w];
}

/**
 * Interleaved pixels (1..4 channels) to channel-major [C, H, W] bytes with C = `channels`:
 * RGB from gray by replication, alpha dropped; luma by PIL's rounded (299 R + 587 G + 114 B) / 1000.
 */
export function toChannelMajor(img: DecodedImage, channels: 1 | 3, name: string): Uint8Array {
  const { data, width, height, channels: src } = img;
  const hw = width * height;
  if (!(src >= 1 && src <= 4) || data.length !== hw * src) {
    throw new Error(`${name}: decoder gave ${data.length} bytes for ${width}x${height}x${src}`);
  }
  const out = new Uint8Array(channels * hw);
  const color = src >= 3;
  for (let p = 0; p < hw; p++) {
    const o = p * src;
    if (channels === 3) {
      out[p] = data[o];
      out[hw + p] = data[color ? o + 1 : o];
      out[2 * hw + p] = data[color ? o + 2 : o];
    } else {
      out[p] = color ? Math.floor((data[o] * 299 + data[o + 1] * 587 + data[o + 2] * 114 + 500) / 1000) : data[o];
    }
  }
  return out;
}

/** Class names and samples of a folder, from its class folders and their image paths. */
export function folderSamples(
  root: string,
  classFiles: ReadonlyMap<string, readonly string[]>,
  allowEmpty = false,
): { classes: string[]; samples: ImageFolderSample[] } {
  const classes = [...classFiles.keys()].sort(compareCodePoints);
  if (classes.length === 0) throw new Error(`ImageFolder: no class folders found in ${root}`);
  const samples: ImageFolderSample[] = [];
  const empty: string[] = [];
  classes.forEach((c, label) => {
    const files = classFiles.get(c)!.filter(hasImageExtension);
    if (files.length === 0) empty.push(c);
    for (const path of files) samples.push({ path, label });
  });
  if (empty.length > 0 && !allowEmpty) {
    throw new Error(`ImageFolder: no valid image file in class folder(s) ${empty.join(', ')} of ${root} (extensions: ${IMG_EXTENSIONS.join(' ')})`);
  }
  return { classes, samples };
}

/** A decoded image folder: an in-memory uint8 dataset plus where its images came from. */
export class ImageFolderDataset extends ArrayDataset<'u8'> {
  /** The folder (Node) or a name for the file list (browser). */
  readonly root: string;
  /** The images kept, in dataset order (path relative to the root, label). */
  readonly samples: readonly ImageFolderSample[];
  /** Images left out under `onError: 'skip'`. */
  readonly skipped: readonly SkippedImage[];
  /** Class name -> label. */
  readonly classToIdx: Readonly<Record<string, number>>;

  /** Use `loadImageFolder` (Node) or `imageFolderFromFiles` (browser). */
  constructor(root: string, pixels: Uint8Array, shape: ImageShape, samples: ImageFolderSample[], classes: string[], skipped: SkippedImage[], captions?: string[]) {
    super(pixels, shape, Int32Array.from(samples, (s) => s.label), { classes, captions, name: `ImageFolder ${root}` });
    this.root = root;
    this.samples = samples;
    this.skipped = skipped;
    this.classToIdx = Object.fromEntries(classes.map((c, i) => [c, i]));
  }
}

/**
 * Decodes every sample with `decode` (which returns interleaved pixels at the target size, or
 * throws), applies the channel and error policies and assembles the dataset. Shared by the Node
 * and browser loaders; `label(path)` names a file in errors.
 */
export async function buildImageFolder(
  root: string,
  found: { classes: string[]; samples: ImageFolderSample[] },
  decode: (sample: ImageFolderSample) => Promise<DecodedImage>,
  label: (path: string) => string,
  opts: ImageFolderOptions,
): Promise<ImageFolderDataset> {
  const channels = opts.channels ?? 3;
  if (channels !== 1 && channels !== 3) throw new Error(`ImageFolder: channels must be 1 or 3, got ${String(channels)}`);
  const onError = opts.onError ?? 'throw';
  if (onError !== 'throw' && onError !== 'skip') throw new Error(`ImageFolder: onError must be 'throw' or 'skip', got '${String(onError)}'`);
  const concurrency = opts.concurrency ?? 8;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`ImageFolder: concurrency must be a positive integer, got ${concurrency}`);
  const { samples } = found;
  const decoded: (Uint8Array | null)[] = new Array(samples.length).fill(null);
  const sizes: ([number, number] | null)[] = new Array(samples.length).fill(null);
  const failed: (string | null)[] = new Array(samples.length).fill(null);
  let next = 0;
  const worker = async () => {
    while (next < samples.length) {
      const i = next++;
      try {
        const img = await decode(samples[i]);
        sizes[i] = [img.height, img.width];
        decoded[i] = toChannelMajor(img, channels, label(samples[i].path));
      } catch (e) {
        failed[i] = (e as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, samples.length) }, worker));

  const skipped: SkippedImage[] = [];
  let hw: [number, number] | null = null;
  const keep: number[] = [];
  for (let i = 0; i < samples.length; i++) {
    const name = label(samples[i].path);
    let reason = failed[i];
    if (reason === null) {
      const s = sizes[i]!;
      if (hw === null) hw = s;
      else if (s[0] !== hw[0] || s[1] !== hw[1]) {
        reason = `${s[1]}x${s[0]} (width x height) differs from the first image's ${hw[1]}x${hw[0]}; pass \`size\` to resize`;
      }
    }
    if (reason !== null) {
      const message = reason.startsWith(name) ? reason : `${name}: ${reason}`;
      if (onError === 'throw') throw new Error(`ImageFolder: ${message}`);
      skipped.push({ path: name, reason: message });
      continue;
    }
    keep.push(i);
  }
  if (keep.length === 0) throw new Error(`ImageFolder: no readable image in ${root} (${skipped.length} skipped)`);
  const [h, w] = hw!;
  const size = channels * h * w;
  const pixels = new Uint8Array(keep.length * size);
  keep.forEach((i, k) => pixels.set(decoded[i]!, k * size));
  const kept = keep.map((i) => samples[i]);
  let captions: string[] | undefined;
  if (opts.captions) {
    const c = opts.captions;
    const get = typeof c === 'function' ? c : (p: string) => (Object.hasOwn(c, p) ? c[p] : undefined);
    captions = kept.map((s) => get(s.path) ?? '');
  }
  if (skipped.length > 0 && (opts.warn ?? true)) {
    console.warn(`ImageFolder ${root}: skipped ${skipped.length} unreadable image(s), first: ${skipped[0].reason}`);
  }
  return new ImageFolderDataset(root, pixels, [channels, h, w], kept, found.classes, skipped, captions);
}

/** A browser file for {@link imageFolderFromFiles}: a path relative to the dataset root ('cat/001.png') and its bytes. */
export interface FolderFile {
  path: string;
  blob: Blob;
}

/**
 * Decodes one image in the browser: `createImageBitmap` (no colour-space conversion, alpha not
 * premultiplied), drawn into an `OffscreenCanvas` at the target size with the resize policy.
 */
async function decodeInBrowser(blob: Blob, size: [number, number] | null, resize: ResizePolicy): Promise<DecodedImage> {
  if (typeof createImageBitmap !== 'function' || typeof OffscreenCanvas !== 'function') {
    throw new Error('decoding images needs createImageBitmap and OffscreenCanvas (a browser or worker); in Node use loadImageFolder');
  }
  const bmp = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  try {
    const [h, w] = size ?? [bmp.height, bmp.width];
    let [sx, sy, sw, sh] = [0, 0, bmp.width, bmp.height];
    if (size && resize === 'center-crop') {
      // Scale s = max(w / W, h / H) covers the target; the source window is the centred w/s x h/s.
      const s = Math.max(w / bmp.width, h / bmp.height);
      sw = w / s;
      sh = h / s;
      sx = (bmp.width - sw) / 2;
      sy = (bmp.height - sh) / 2;
    }
    const canvas = new OffscreenCanvas(w, h);
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    if (!ctx) throw new Error('OffscreenCanvas 2d context unavailable');
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(bmp, sx, sy, sw, sh, 0, 0, w, h);
    const data = ctx.getImageData(0, 0, w, h).data;
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: w, height: h, channels: 4 };
  } finally {
    bmp.close();
  }
}

/**
 * An image folder in the browser, from files with paths relative to the root: `{ path, blob }`
 * entries, or `File`s from `<input type="file" webkitdirectory>` (their `webkitRelativePath`
 * starts with the chosen folder, which is dropped). The class is a path's first folder; files
 * directly in the root are ignored, as in torchvision. Decoding: see `decodeInBrowser` above.
 */
export async function imageFolderFromFiles(
  files: Iterable<FolderFile | File>,
  opts: ImageFolderOptions & { root?: string } = {},
): Promise<ImageFolderDataset> {
  const size = targetSize(opts);
  const resize = opts.resize ?? 'center-crop';
  if (resize !== 'center-crop' && resize !== 'stretch') throw new Error(`ImageFolder: resize must be 'center-crop' or 'stretch', got '${String(resize)}'`);
  const byPath = new Map<string, Blob>();
  let root = opts.root;
  for (const f of files) {
    let path: string;
    let blob: Blob;
    if ('blob' in f) {
      path = f.path;
      blob = f.blob;
    } else {
      const rel = (f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name;
      const parts = rel.split('/');
      root ??= parts.length > 2 ? parts[0] : undefined;
      path = parts.length > 2 ? parts.slice(1).join('/') : rel;
      blob = f;
    }
    byPath.set(path.replace(/^\/+/, ''), blob);
  }
  const name = root ?? 'files';
  // Group by class folder; within a class, torchvision's os.walk order: folders by path, files by name.
  const classFiles = new Map<string, string[]>();
  for (const p of byPath.keys()) {
    const parts = p.split('/');
    if (parts.length < 2) continue;
    const list = classFiles.get(parts[0]) ?? [];
    list.push(p);
    classFiles.set(parts[0], list);
  }
  const walkOrder = (a: string, b: string) => {
    const da = a.slice(0, a.lastIndexOf('/'));
    const db = b.slice(0, b.lastIndexOf('/'));
    return compareCodePoints(da, db) || compareCodePoints(a.slice(da.length + 1), b.slice(db.length + 1));
  };
  for (const list of classFiles.values()) list.sort(walkOrder);
  const found = folderSamples(name, classFiles, opts.allowEmpty);
  return buildImageFolder(name, found, (s) => decodeInBrowser(byPath.get(s.path)!, size, resize), (p) => p, opts);
}
