// The built CLI (dist/cli.js, as `npx webgrad` runs it) in child processes: flag and config-file
// errors (one line, exit code 2, before any GPU work), a tiny MoCo v2 run from flags with
// periodic progress lines (stdout is not a terminal here), `--resume` from its epoch-1 checkpoint
// with identical step losses (the key queue, its pointer and the momentum encoder restored), and
// `webgrad eval` on the final checkpoint. Needs `npm run build` first (npm test runs it).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FASHION_MNIST_DIR } from '../../src/data/fashion_mnist.node.js';
import { gpu } from '../helpers/gpu.js';

const CLI = path.resolve('dist/cli.js');
if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
const rt = await gpu();
const have = fs.existsSync(path.join(FASHION_MNIST_DIR, 'train-images-idx3-ubyte.gz'));
if (!have && process.env.CI === 'true') throw new Error('CI=true and no Fashion-MNIST: run `bash scripts/setup.sh`');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'webgrad-cli-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd: tmp, timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const stepLosses = (dir: string) => fs.readFileSync(path.join(dir, 'log.jsonl'), 'utf8').trim().split('\n')
  .map((l) => JSON.parse(l)).filter((r) => r.type === 'step').map((r) => [r.step, r.loss]);

describe('webgrad CLI errors', () => {
  it('rejects unknown flags, bad numbers, bad values and bad config files with one line', async () => {
    const cases: [string[], RegExp][] = [
      [['train', '--method', 'simclr', '--epoch', '3'], /^webgrad train: Unknown option '--epoch'/],
      [['train', '--method', 'simclr', '--epochs', 'three'], /^--epochs: expected a number, got 'three'/],
      [['train', '--method', 'simclr', '--epochs', '0'], /^flags: epochs: expected an integer >= 1/],
      [['train', '--method', 'simclr', '--optimizer', 'rmsprop'], /^flags: optimizer: expected one of 'sgd', 'lars', 'adamw', got 'rmsprop'/],
      [['train', '--method', 'swav'], /^config: method: unknown 'swav'/],
      [['train', '--epochs', '2'], /^webgrad train: --method is required/],
      [['eval'], /^webgrad eval: --checkpoint PATH is required/],
    ];
    fs.writeFileSync(path.join(tmp, 'bad.json'), JSON.stringify({ method: 'simclr', batch_size: 32, lr: -1 }));
    cases.push([['train', '--config', 'bad.json'], /^config file 'bad\.json': lr: expected a number >= 0; unknown option 'batch_size'/]);
    for (const [args, re] of cases) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.split('\n').filter((l) => l && !l.startsWith('Warning:')).join('\n'), args.join(' ')).toMatch(re);
    }
    const help = await run(['train', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--resume PATH/);
  });
});

describe.skipIf(!rt || !have)('webgrad train / eval', () => {
  it('trains from flags and a config file, resumes identically, and evaluates a checkpoint', async () => {
    fs.writeFileSync(path.join(tmp, 'tiny.json'), JSON.stringify({ trainSize: 64, testSize: 32, epochs: 5, eval: { monitorEvery: 0, probeEpochs: 2 } }));
    const flags = ['--method', 'moco-v2', '--config', 'tiny.json', '--epochs', '2', '--batch-size', '32', '--seed', '1', '--no-eval', '--log-every', '1'];
    const a = await run(['train', ...flags, '--out', 'a']);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toMatch(/epoch 2\/2 {2}step 4\/4 {2}loss \d+\.\d{4} {2}lr \S+ {2}\d+\.\d img\/s {2}ETA \S+/);
    const config = JSON.parse(fs.readFileSync(path.join(tmp, 'a', 'config.json'), 'utf8'));
    expect([config.method, config.epochs, config.trainSize, config.batchSize, config.evaluate]).toEqual(['moco-v2', 2, 64, 32, false]);
    const full = stepLosses(path.join(tmp, 'a'));
    expect(full.map(([s]) => s)).toEqual([0, 1, 2, 3]);

    const b = await run(['train', '--resume', path.join('a', 'checkpoints', 'epoch-0001.safetensors'), '--out', 'b']);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stdout).toMatch(/resuming from .*epoch-0001\.safetensors \(epoch 1, step 2\)/);
    expect(stepLosses(path.join(tmp, 'b'))).toEqual(full); // steps 2 and 3 recomputed: identical

    const e = await run(['eval', '--checkpoint', 'a', '--train-size', '64', '--test-size', '32']);
    expect(e.code, e.stderr).toBe(0);
    expect(e.stdout).toMatch(/kNN k=20[\s\S]*trained[\s\S]*random init[\s\S]*gain \(points\)[\s\S]*collapse figure/);
    const report = JSON.parse(fs.readFileSync(path.join(tmp, 'a', 'eval.json'), 'utf8'));
    expect(report.epoch).toBe(2);
    expect(Object.keys(report.evaluation.trained.knn)).toEqual(['20']);
  });
});
