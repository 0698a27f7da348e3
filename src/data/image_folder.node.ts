/**
 * Node-only: an image folder in torchvision's `ImageFolder` layout read from disk and decoded with
 * sharp (libvips: PNG, JPEG, WebP, TIFF, ...). Layout, ordering, resize and error policies: see
 * image_folder.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import {
  buildImageFolder, compareCodePoints, folderSamples, targetSize,
  type DecodedImage, type ImageFolderDataset, type ImageFolderOptions, type ResizePolicy,
} from './image_folder.js';

/** Every folder under `dir` (itself included) with its files, following links as os.walk(followlinks=True). */
function walk(dir: string, rel: string, out: { folder: string; files: string[] }[], seen: Set<string>): void {
  const real = fs.realpathSync(dir);
  if (seen.has(real)) return; // a symlink cycle
  seen.add(real);
  const files: string[] = [];
  const dirs: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    let isDir = e.isDirectory();
    if (e.isSymbolicLink()) isDir = fs.statSync(path.join(dir, e.name), { throwIfNoEntry: false })?.isDirectory() ?? false;
    if (isDir) dirs.push(e.name);
    else files.push(e.name); // files, and dangling links: decoding one reports it
  }
  out.push({ folder: rel, files: files.sort(compareCodePoints) });
  for (const d of dirs) walk(path.join(dir, d), `${rel}/${d}`, out, seen);
}

/** Image-candidate paths of a class folder in torchvision's order: sorted(os.walk(dir)) (folders by path), files by name. */
function classFilesOf(dir: string, rel: string): string[] {
  const folders: { folder: string; files: string[] }[] = [];
  walk(dir, rel, folders, new Set());
  folders.sort((a, b) => compareCodePoints(a.folder, b.folder));
  return folders.flatMap(({ folder, files }) => files.map((f) => `${folder}/${f}`));
}

/**
 * Decodes one file with sharp to interleaved pixels at the target size. Alpha is dropped before
 * resizing (as PIL's convert('RGB') before a Resize): sharp would otherwise resample premultiplied
 * colours, darkening pixels next to transparent ones.
 */
async function decodeFile(file: string, size: [number, number] | null, resize: ResizePolicy): Promise<DecodedImage> {
  let { data, info } = await sharp(file, { failOn: 'error' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 1 && info.channels !== 3) {
    throw new Error(`${file}: decoded to ${info.channels} channels; expected 1 or 3`);
  }
  if (size && (info.height !== size[0] || info.width !== size[1])) {
    ({ data, info } = await sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } })
      .resize(size[1], size[0], { fit: resize === 'stretch' ? 'fill' : 'cover', position: 'centre', kernel: 'linear' })
      .raw()
      .toBuffer({ resolveWithObject: true }));
  }
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, channels: info.channels };
}

/**
 * Reads and decodes the image folder `root` (see image_folder.ts for the layout, the resize policy
 * and `onError`). Errors name the folder or file.
 */
export async function loadImageFolder(root: string, opts: ImageFolderOptions = {}): Promise<ImageFolderDataset> {
  const size = targetSize(opts);
  const resize = opts.resize ?? 'center-crop';
  if (resize !== 'center-crop' && resize !== 'stretch') throw new Error(`ImageFolder: resize must be 'center-crop' or 'stretch', got '${String(resize)}'`);
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(root, { withFileTypes: true });
  } catch (e) {
    throw new Error(`ImageFolder: cannot read folder ${root} (${(e as Error).message})`);
  }
  const classFiles = new Map<string, string[]>();
  for (const e of entries) {
    const full = path.join(root, e.name);
    const isDir = e.isDirectory() || (e.isSymbolicLink() && fs.statSync(full, { throwIfNoEntry: false })?.isDirectory());
    if (!isDir) continue;
    classFiles.set(e.name, classFilesOf(full, e.name));
  }
  const found = folderSamples(root, classFiles, opts.allowEmpty);
  const abs = (p: string) => path.join(root, p);
  return buildImageFolder(root, found, (s) => decodeFile(abs(s.path), size, resize), abs, opts);
}
