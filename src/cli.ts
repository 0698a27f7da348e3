#!/usr/bin/env node
/**
 * The `webgrad` command line (Node only):
 *  - `webgrad info`: the adapter, its limits and the kernel strategy;
 *  - `webgrad train`: a self-supervised run (models/train/train.node.ts) from flags and/or a JSON
 *    config file (flags win), with a progress line, a JSON-lines log, per-epoch checkpoints,
 *    `--resume`, a final report and a plot;
 *  - `webgrad eval`: the final evaluation of a run checkpoint;
 *  - `webgrad --version`.
 */
import fs from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { init } from './index.node.js';
import { parseConfigInput, type TrainConfigInput } from '../models/train/config.js';
import { evaluateCheckpoint, train } from '../models/train/train.node.js';

const HELP = `usage: webgrad <command> [options]

commands:
  info        print the WebGPU adapter, its limits and webgrad's kernel strategy
  train       train a self-supervised method (webgrad train --help)
  eval        evaluate a run checkpoint: kNN, linear probe, trained vs random init (webgrad eval --help)

options:
  --strategy cpu-simd|gpu   override the kernel strategy chosen for the adapter
  -h, --help                this help
  -v, --version             the package version`;

const TRAIN_HELP = `usage: webgrad train --method NAME [options]

  --method simclr|moco-v2|byol|simsiam   the method (required unless in --config or --resume)
  --backbone NAME        resnet-tiny (default), resnet18, resnet34, resnet50, vit-tiny
  --data fashion-mnist   the dataset (default); --data-dir DIR where its .gz files are
  --train-size N         first N training images (default 10000); --test-size N (default 2000)
  --epochs N             epochs (default: the method's recipe)
  --batch-size B         images per step (default: the recipe's, 256)
  --lr X                 peak learning rate (default: the recipe's, scaled to the batch size)
  --weight-decay X, --momentum X, --warmup-epochs X, --optimizer sgd|lars|adamw
  --seed S               seed of weights, data order and augmentations (default 0)
  --out DIR              run directory (default runs/METHOD-BACKBONE)
  --config FILE.json     configuration file (same names as train(config); flags override it)
  --resume PATH          continue from a checkpoint file or a run directory's latest checkpoint
  --no-eval              skip the final evaluation
  --probe-epochs N       linear-probe epochs (default 30; 0 skips the probe)
  --monitor-every N      per-epoch kNN monitor every N epochs (default 1; 0 = off)
  --log-every N          progress lines every N steps when stdout is not a terminal
  --device-info          print the adapter and its limits first
  --strategy cpu-simd|gpu`;

const EVAL_HELP = `usage: webgrad eval --checkpoint PATH [--train-size N] [--test-size N] [--out FILE.json]

  Loads a run checkpoint (a file or a run directory's latest), evaluates the trained backbone and
  the same architecture at its random init (kNN k=20/200, linear probe, collapse figure), prints
  the table and writes the report (default: eval.json in the run directory).`;

/** A command-line error: printed without a stack, exit code 2. */
class UsageError extends Error {}

/** parseArgs with one clear line for unknown or malformed options. */
function parse<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T, command: string) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(`webgrad${command ? ` ${command}` : ''}: ${(e as Error).message.split('\n')[0]} (see webgrad${command ? ` ${command}` : ''} --help)`);
  }
}

/** A numeric flag value, or undefined when absent; a clear error for non-numbers. */
function num(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${flag}: expected a number, got '${v}'`);
  return n;
}

/** Reads and validates a --config JSON file. */
function readConfigFile(file: string): TrainConfigInput {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`--config: cannot read '${file}': ${(e as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--config: '${file}' is not valid JSON: ${(e as Error).message}`);
  }
  return parseConfigInput(value, `config file '${file}'`);
}

const TRAIN_OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  method: { type: 'string' },
  backbone: { type: 'string' },
  data: { type: 'string' },
  'data-dir': { type: 'string' },
  'train-size': { type: 'string' },
  'test-size': { type: 'string' },
  epochs: { type: 'string' },
  'batch-size': { type: 'string' },
  lr: { type: 'string' },
  'weight-decay': { type: 'string' },
  momentum: { type: 'string' },
  'warmup-epochs': { type: 'string' },
  optimizer: { type: 'string' },
  seed: { type: 'string' },
  out: { type: 'string' },
  config: { type: 'string' },
  resume: { type: 'string' },
  'no-eval': { type: 'boolean' },
  'probe-epochs': { type: 'string' },
  'monitor-every': { type: 'string' },
  'log-every': { type: 'string' },
  'device-info': { type: 'boolean' },
  strategy: { type: 'string' },
} as const;

/**
 * The configuration layers of `webgrad train`'s flags: the --config file (if any), then the flags
 * (validated with the same schema, so a bad value names its field).
 */
function trainLayersFromArgs(argv: string[]): { layers: TrainConfigInput[]; resume?: string; deviceInfo: boolean; help: boolean } {
  const { values: v, positionals } = parse(argv, TRAIN_OPTIONS, 'train');
  if (positionals.length) throw new UsageError(`webgrad train: unexpected argument '${positionals[0]}' (options start with --)`);
  const flags: Record<string, unknown> = {
    method: v.method, backbone: v.backbone, data: v.data, dataDir: v['data-dir'],
    trainSize: num('train-size', v['train-size']), testSize: num('test-size', v['test-size']),
    epochs: num('epochs', v.epochs), batchSize: num('batch-size', v['batch-size']), lr: num('lr', v.lr),
    weightDecay: num('weight-decay', v['weight-decay']), momentum: num('momentum', v.momentum),
    warmupEpochs: num('warmup-epochs', v['warmup-epochs']), optimizer: v.optimizer, seed: num('seed', v.seed),
    out: v.out, logEvery: num('log-every', v['log-every']), strategy: v.strategy,
    evaluate: v['no-eval'] ? false : undefined,
  };
  const evalFlags = { probeEpochs: num('probe-epochs', v['probe-epochs']), monitorEvery: num('monitor-every', v['monitor-every']) };
  const defined = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, x]) => x !== undefined));
  const layer = defined(flags);
  if (Object.keys(defined(evalFlags)).length) layer.eval = defined(evalFlags);
  const layers = [...(v.config ? [readConfigFile(v.config)] : []), parseConfigInput(layer, 'flags')];
  return { layers, resume: v.resume, deviceInfo: Boolean(v['device-info']), help: Boolean(v.help) };
}

/** Merges config layers (later ones win; `eval` merged key by key). */
function mergeLayers(layers: TrainConfigInput[]): TrainConfigInput {
  const out: TrainConfigInput = {};
  for (const l of layers) {
    const { eval: e, ...rest } = l;
    Object.assign(out, rest);
    if (e) out.eval = { ...out.eval, ...e };
  }
  return out;
}

async function printDevice(strategy?: 'cpu-simd' | 'gpu'): Promise<void> {
  const rt = await init({ strategy });
  console.log(rt.describe());
  for (const [k, v] of Object.entries(rt.limits)) console.log(`  ${k.padEnd(36)} ${v}`);
}

async function main(argv: string[]): Promise<number> {
  const cmd = argv[0];
  if (cmd === 'train') {
    const a = trainLayersFromArgs(argv.slice(1));
    if (a.help) {
      console.log(TRAIN_HELP);
      return 0;
    }
    const input = mergeLayers(a.layers);
    if (!a.resume && input.method === undefined) throw new UsageError('webgrad train: --method is required (simclr, moco-v2, byol, simsiam), or --config / --resume');
    if (a.deviceInfo) await printDevice(input.strategy);
    const r = await train(input, { resume: a.resume });
    const g = r.evaluation?.gain.knn20;
    if (g !== undefined) console.log(`kNN (k=20) gain over random init: ${g >= 0 ? '+' : ''}${g.toFixed(2)} points`);
    return 0;
  }
  if (cmd === 'eval') {
    const { values: v, positionals } = parse(argv.slice(1), {
      help: { type: 'boolean', short: 'h' }, checkpoint: { type: 'string' }, 'train-size': { type: 'string' },
      'test-size': { type: 'string' }, out: { type: 'string' }, strategy: { type: 'string' },
    }, 'eval');
    if (v.help) {
      console.log(EVAL_HELP);
      return 0;
    }
    const file = v.checkpoint ?? positionals[0];
    if (!file) throw new UsageError('webgrad eval: --checkpoint PATH is required');
    const s = v.strategy;
    if (s !== undefined && s !== 'cpu-simd' && s !== 'gpu') throw new UsageError(`--strategy must be cpu-simd or gpu, got '${s}'`);
    if (s) await init({ strategy: s });
    await evaluateCheckpoint(file, { trainSize: num('train-size', v['train-size']), testSize: num('test-size', v['test-size']), out: v.out });
    return 0;
  }
  const { values, positionals } = parse(argv, {
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean', short: 'v' },
    strategy: { type: 'string' },
  }, positionals0(argv));
  if (values.version) {
    const { createRequire } = await import('node:module');
    console.log((createRequire(import.meta.url)('../package.json') as { version: string }).version);
    return 0;
  }
  const command = positionals[0];
  if (values.help || !command) {
    console.log(HELP);
    return values.help ? 0 : 2;
  }
  if (command === 'info') {
    const s = values.strategy;
    if (s !== undefined && s !== 'cpu-simd' && s !== 'gpu') throw new UsageError(`--strategy must be cpu-simd or gpu, got '${s}'`);
    const rt = await init({ strategy: s });
    console.log(rt.describe());
    for (const [k, v] of Object.entries(rt.limits)) console.log(`  ${k.padEnd(36)} ${v}`);
    rt.device.destroy();
    return 0;
  }
  console.error(`webgrad: unknown command '${command}'\n\n${HELP}`);
  return 2;
}

/** The command word for error messages of the top-level parse. */
function positionals0(argv: string[]): string {
  const c = argv.find((a) => !a.startsWith('-'));
  return c ? c : '';
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: Error) => {
    // Configuration and usage problems are one line as is (exit 2); anything else names webgrad (exit 1).
    const usage = e instanceof UsageError || /^(config|flags|config file '.*'|resume): /.test(e.message);
    console.error(usage ? e.message : `webgrad: ${e.message}`);
    process.exit(usage ? 2 : 1);
  },
);
