// train(config) end to end on a tiny Fashion-MNIST run (64 images, batch 32, resnet-tiny, SimCLR,
// 2 epochs): it writes the JSON-lines log, a checkpoint per epoch, the report (trained vs random
// init, collapse figure) and the plot (SVG + PNG); then a run resumed from the epoch-1 checkpoint
// takes steps whose losses are IDENTICAL (===) to the uninterrupted run's (parameters, BN
// statistics, momentum buffers, generator states and step counter restored). Skips without an
// adapter or the Debian Fashion-MNIST files (fails with CI=true).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FASHION_MNIST_DIR } from '../../src/data/fashion_mnist.node.js';
import { readLog, readRunCheckpoint, train, type TrainResult } from '../../models/train/train.node.js';
import { gpu } from '../helpers/gpu.js';

const rt = await gpu();
const have = fs.existsSync(path.join(FASHION_MNIST_DIR, 'train-images-idx3-ubyte.gz'));
if (!have && process.env.CI === 'true') throw new Error('CI=true and no Fashion-MNIST: run `bash scripts/setup.sh`');
if (!have) console.warn(`skipping the training-loop test: ${FASHION_MNIST_DIR} is absent (Debian package dataset-fashion-mnist)`);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'webgrad-train-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const tiny = {
  method: 'simclr', backbone: 'resnet-tiny', trainSize: 64, testSize: 32, epochs: 2, batchSize: 32, seed: 3, warmupEpochs: 1,
  eval: { knnK: [5, 20], probeEpochs: 2, bnImages: 64, monitorTrain: 64, monitorTest: 32, collapseImages: 32 },
};

describe.skipIf(!rt || !have)('train()', () => {
  let full: TrainResult;

  it('writes the log, a checkpoint per epoch, the report and the plot', async () => {
    full = await train({ ...tiny, out: path.join(tmp, 'full') }, { progress: 'off' });
    const dir = full.runDir;
    expect(full.steps).toBe(4);
    expect(full.records.map((r) => r.step)).toEqual([0, 1, 2, 3]);
    for (const r of full.records) {
      expect(Number.isFinite(r.loss) && r.loss > 0).toBe(true);
      expect(r.imagesPerSec).toBeGreaterThan(0);
    }
    expect(full.records[0].lr).toBe(0); // linear warmup from 0
    const log = readLog(path.join(dir, 'log.jsonl'));
    expect(log.loss).toEqual(full.records.map((r) => [r.step, r.loss]));
    expect(log.epochs.map((e) => e.epoch)).toEqual([0, 1]);
    expect(full.monitor.map((m) => m.epoch)).toEqual([0, 1, 2]); // random init, then each epoch
    expect(full.checkpoints.map((f) => path.basename(f))).toEqual(['epoch-0001.safetensors', 'epoch-0002.safetensors']);
    const ck = readRunCheckpoint(full.checkpoints[0]);
    expect(ck.state.step).toBe(2);
    expect(ck.state.epoch).toBe(1);
    expect(ck.state.config.method).toBe('simclr');
    expect(ck.model.has('backbone.conv1.weight')).toBe(true);
    expect([...ck.optimizer.keys()].some((k) => k.endsWith('.momentum_buffer'))).toBe(true);

    const report = JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8'));
    const ev = report.evaluation;
    for (const side of [ev.trained, ev.randomInit]) {
      expect(Object.keys(side.knn)).toEqual(['5', '20']);
      for (const v of [...Object.values(side.knn) as number[], side.linearProbe]) expect(v >= 0 && v <= 1).toBe(true);
    }
    expect(ev.gain.knn20).toBeCloseTo(100 * (ev.trained.knn['20'] - ev.randomInit.knn['20']), 10);
    expect(ev.collapse.dim).toBe(128);
    expect(ev.collapse.value).toBeGreaterThan(0);
    expect(ev.featureDim).toBe(64);
    expect(fs.readFileSync(path.join(dir, 'plot.svg'), 'utf8')).toMatch(/^<\?xml[\s\S]*<svg[\s\S]*training loss[\s\S]*kNN monitor \(k = \d+, \d+ \/ \d+ images\)/);
    expect([...fs.readFileSync(path.join(dir, 'plot.png')).subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  });

  it('--resume from the epoch-1 checkpoint continues with identical losses', async () => {
    expect(full).toBeDefined();
    const resumed = await train({ out: path.join(tmp, 'resumed'), evaluate: false, eval: { monitorEvery: 0 } }, { resume: path.join(full.runDir, 'checkpoints', 'epoch-0001.safetensors'), progress: 'off' });
    expect(resumed.records.map((r) => r.step)).toEqual([2, 3]);
    // The next step after resuming is the uninterrupted run's step 2, bit for bit; step 3 also
    // checks the restored momentum buffers.
    expect(resumed.records[0].loss).toBe(full.records[2].loss);
    expect(resumed.records[1].loss).toBe(full.records[3].loss);
    expect(resumed.records.map((r) => r.lr)).toEqual(full.records.slice(2).map((r) => r.lr));
    // The resumed directory's log starts with the source run's first epoch.
    expect(readLog(path.join(resumed.runDir, 'log.jsonl')).loss.map(([s]) => s)).toEqual([0, 1, 2, 3]);
    // Resuming in place (no out): the run's own log is cut back to the checkpoint and rewritten.
    const again = await train({ evaluate: false, eval: { monitorEvery: 0 } }, { resume: path.join(full.runDir, 'checkpoints', 'epoch-0001.safetensors'), progress: 'off' });
    expect(again.runDir).toBe(full.runDir);
    expect(readLog(path.join(full.runDir, 'log.jsonl')).loss).toEqual(full.records.map((r) => [r.step, r.loss]));
    await expect(train({ batchSize: 16 }, { resume: full.runDir, progress: 'off' })).rejects.toThrow(/resume: batchSize \(16 vs the checkpoint's 32\) cannot change/);
  });
});
