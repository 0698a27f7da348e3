/**
 * Checkpoint files in Node (never imported by the browser entry): `checkpoint.ts`'s safetensors
 * bytes written to and read from disk.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { load, save, type CheckpointLoadOptions, type SaveOptions } from './checkpoint.js';
import type { LoadResult, Module } from './nn/module.js';

/** Saves `module`'s state dict to `file` as safetensors (creating the parent directory). */
export async function saveCheckpointFile(module: Module, file: string, opts: SaveOptions = {}): Promise<void> {
  const bytes = await save(module, opts);
  await mkdir(path.dirname(path.resolve(file)), { recursive: true });
  await writeFile(file, bytes);
}

/** Loads the safetensors checkpoint `file` into `module` in place (see `checkpoint.load` for the checks). */
export async function loadCheckpointFile(module: Module, file: string, opts: CheckpointLoadOptions = {}): Promise<LoadResult> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (e) {
    throw new Error(`loadCheckpointFile: cannot read '${file}': ${(e as Error).message}`);
  }
  return load(module, bytes, opts);
}
