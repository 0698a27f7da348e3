/**
 * Datasets: a fixed number of images of one shape [C, H, W] (channel-major, like torchvision's
 * tensors), uint8 (0..255) or f32 pixels, an integer label per image and optional captions.
 * The loader (loader.ts) reads them through `gather`, which copies a batch of images into one
 * flat array (image-major, each image C*H*W values). Browser-safe (no Node imports).
 */

/** The pixel storage of a dataset: 'u8' (bytes 0..255, the usual case) or 'f32'. */
export type PixelDType = 'u8' | 'f32';

/** The typed array of a pixel dtype. */
export type PixelArray<D extends PixelDType = PixelDType> = D extends 'u8' ? Uint8Array : Float32Array;

/** An image shape: channels, height, width. */
export type ImageShape = readonly [c: number, h: number, w: number];

/** A fixed-size labelled image dataset (see the module comment). */
export interface Dataset<D extends PixelDType = PixelDType> {
  /** Number of images. */
  readonly length: number;
  /** Every image's shape [C, H, W]. */
  readonly shape: ImageShape;
  /** Pixel storage type. */
  readonly dtype: D;
  /** Class names by label, when the dataset has named classes. */
  readonly classes?: readonly string[];
  /** Label of image i (an integer; -1 where the dataset has no labels). */
  label(i: number): number;
  /** Image i as C*H*W values (may be a view into the dataset's storage: do not write to it). */
  image(i: number): PixelArray<D>;
  /**
   * Copies images indices[0..n) into out[0 .. n*C*H*W) (image-major). May be async (a dataset that
   * decodes on demand); the in-memory datasets here are synchronous.
   */
  gather(indices: ArrayLike<number>, out: PixelArray<D>): void | Promise<void>;
  /** Caption of image i (for image-text methods), when the dataset has captions. */
  caption?(i: number): string | undefined;
}

/** Number of values in one image of `shape`. */
export const imageSize = (shape: ImageShape): number => shape[0] * shape[1] * shape[2];

function checkIndex(name: string, i: number, n: number): void {
  if (!Number.isInteger(i) || i < 0 || i >= n) throw new Error(`${name}: index ${i} is outside [0, ${n})`);
}

function checkShape(name: string, shape: ImageShape): void {
  if (shape.length !== 3 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new Error(`${name}: image shape must be [C, H, W] of positive integers, got [${shape}]`);
  }
}

/** Options of {@link ArrayDataset}. */
export interface ArrayDatasetOptions {
  /** Class names by label. */
  classes?: readonly string[];
  /** One caption per image. */
  captions?: readonly string[];
  /** A name for error messages (default 'ArrayDataset'). */
  name?: string;
}

/**
 * A dataset held in memory: `pixels` holds `length` images of `shape` back to back (image-major,
 * C*H*W each; a Uint8Array or a Float32Array), `labels` one integer per image (or null: labels
 * are -1). The arrays are used in place, not copied.
 */
export class ArrayDataset<D extends PixelDType = PixelDType> implements Dataset<D> {
  readonly length: number;
  readonly shape: ImageShape;
  readonly dtype: D;
  readonly classes?: readonly string[];
  readonly name: string;
  readonly #pixels: PixelArray<D>;
  readonly #labels: ArrayLike<number> | null;
  readonly #captions: readonly string[] | null;
  readonly #size: number;

  /** Wraps `pixels` [N, C, H, W] and `labels` [N] (see the class comment). */
  constructor(pixels: PixelArray<D>, shape: ImageShape, labels: ArrayLike<number> | null, opts: ArrayDatasetOptions = {}) {
    const name = opts.name ?? 'ArrayDataset';
    checkShape(name, shape);
    if (!(pixels instanceof Uint8Array) && !(pixels instanceof Float32Array)) {
      throw new Error(`${name}: pixels must be a Uint8Array or a Float32Array`);
    }
    const size = imageSize(shape);
    if (pixels.length % size !== 0) {
      throw new Error(`${name}: ${pixels.length} pixel values are not a whole number of [${shape}] images (${size} values each)`);
    }
    const n = pixels.length / size;
    if (labels && labels.length !== n) throw new Error(`${name}: ${labels.length} labels for ${n} images`);
    if (opts.captions && opts.captions.length !== n) throw new Error(`${name}: ${opts.captions.length} captions for ${n} images`);
    this.length = n;
    this.shape = [shape[0], shape[1], shape[2]];
    this.dtype = (pixels instanceof Uint8Array ? 'u8' : 'f32') as D;
    this.classes = opts.classes;
    this.name = name;
    this.#pixels = pixels;
    this.#labels = labels;
    this.#captions = opts.captions ?? null;
    this.#size = size;
  }

  /** Label of image i (-1 without labels). */
  label(i: number): number {
    checkIndex(this.name, i, this.length);
    return this.#labels ? this.#labels[i] : -1;
  }

  /** A view of image i's C*H*W values. */
  image(i: number): PixelArray<D> {
    checkIndex(this.name, i, this.length);
    return this.#pixels.subarray(i * this.#size, (i + 1) * this.#size) as PixelArray<D>;
  }

  /** Copies the images `indices` into `out` (image-major). */
  gather(indices: ArrayLike<number>, out: PixelArray<D>): void {
    const size = this.#size;
    if (out.length < indices.length * size) {
      throw new Error(`${this.name}.gather: out holds ${out.length} values, ${indices.length} images need ${indices.length * size}`);
    }
    const src = this.#pixels;
    for (let k = 0; k < indices.length; k++) {
      const i = indices[k];
      checkIndex(this.name, i, this.length);
      out.set(src.subarray(i * size, (i + 1) * size), k * size);
    }
  }

  /** Caption of image i, if the dataset was given captions. */
  caption(i: number): string | undefined {
    checkIndex(this.name, i, this.length);
    return this.#captions?.[i];
  }
}

/** All labels of a dataset as an Int32Array. */
export function datasetLabels(ds: Dataset): Int32Array {
  const out = new Int32Array(ds.length);
  for (let i = 0; i < ds.length; i++) out[i] = ds.label(i);
  return out;
}

/** The images `indices` of `ds` as a dataset (a view: no pixels are copied). See also `firstN`. */
export class SubsetDataset<D extends PixelDType = PixelDType> implements Dataset<D> {
  readonly length: number;
  readonly shape: ImageShape;
  readonly dtype: D;
  readonly classes?: readonly string[];
  readonly #ds: Dataset<D>;
  readonly #idx: Int32Array;

  /** The images of `ds` at `indices` (each in [0, ds.length)). */
  constructor(ds: Dataset<D>, indices: ArrayLike<number>) {
    this.#idx = Int32Array.from(indices as ArrayLike<number>);
    for (const i of this.#idx) checkIndex('SubsetDataset', i, ds.length);
    this.#ds = ds;
    this.length = this.#idx.length;
    this.shape = ds.shape;
    this.dtype = ds.dtype;
    this.classes = ds.classes;
    if (ds.caption) {
      const cap = ds.caption.bind(ds);
      this.caption = (i: number) => {
        checkIndex('SubsetDataset', i, this.length);
        return cap(this.#idx[i]);
      };
    }
  }

  /** Caption of image i (present when the underlying dataset has captions). */
  caption?: (i: number) => string | undefined;

  /** Label of image i. */
  label(i: number): number {
    checkIndex('SubsetDataset', i, this.length);
    return this.#ds.label(this.#idx[i]);
  }

  /** Image i of the subset. */
  image(i: number): PixelArray<D> {
    checkIndex('SubsetDataset', i, this.length);
    return this.#ds.image(this.#idx[i]);
  }

  /** Copies the subset's images `indices` into `out`. */
  gather(indices: ArrayLike<number>, out: PixelArray<D>): void | Promise<void> {
    const mapped = new Int32Array(indices.length);
    for (let k = 0; k < indices.length; k++) {
      checkIndex('SubsetDataset', indices[k], this.length);
      mapped[k] = this.#idx[indices[k]];
    }
    return this.#ds.gather(mapped, out);
  }
}

/** The first `n` images of `ds` (all of them when n >= ds.length). */
export function firstN<D extends PixelDType>(ds: Dataset<D>, n: number): Dataset<D> {
  if (!Number.isInteger(n) || n < 0) throw new Error(`firstN: n must be a non-negative integer, got ${n}`);
  if (n >= ds.length) return ds;
  return new SubsetDataset(ds, Int32Array.from({ length: n }, (_, i) => i));
}
