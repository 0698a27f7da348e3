/**
 * The configuration of a self-supervised training run (`webgrad train`, `train(config)`): what it
 * is, how it is validated (zod), and how the layers combine. Precedence, lowest first: built-in
 * defaults, the method's defaults (`methodDefaults(name)`: optimizer, lr, weight decay, batch size,
 * epochs), a JSON file (`--config`), command-line flags. Every problem of a merged config is
 * reported in one error (`config: epochs: expected an integer >= 1, got 0; lr: ...`).
 */
import { z } from 'zod';

/** The optimizers a run can use. */
export const OPTIMIZERS = ['sgd', 'lars', 'adamw'] as const;
/** One of {@link OPTIMIZERS}. */
export type OptimizerKind = (typeof OPTIMIZERS)[number];

/** The datasets `train` can read. */
export const DATASETS = ['fashion-mnist'] as const;

const int = (min: number) => z.number({ invalid_type_error: 'expected a number' }).int(`expected an integer >= ${min}`).min(min, `expected an integer >= ${min}`);
const nonNegative = z.number({ invalid_type_error: 'expected a number' }).finite().min(0, 'expected a number >= 0');

/** Evaluation settings (final report and the per-epoch kNN monitor). */
export const evalConfigSchema = z.object({
  /** Neighbour counts of the final kNN (default [20, 200]). */
  knnK: z.array(int(1)).min(1).optional(),
  /** Linear-probe passes over the train features (default 30; 0 skips the probe). */
  probeEpochs: int(0).optional(),
  /** Images (the first of the train subset) BatchNorm statistics are re-estimated on (default 1000). */
  bnImages: int(0).optional(),
  /** Run the per-epoch kNN monitor (k = 20) every this many epochs (default 1; 0 turns it off). */
  monitorEvery: int(0).optional(),
  /** Train-bank and test images of the monitor (defaults 2000 and 500, capped by the subsets). */
  monitorTrain: int(1).optional(),
  monitorTest: int(1).optional(),
  /** Images whose projector outputs give the collapse figure (default 512). */
  collapseImages: int(2).optional(),
}).strict();

/** The fields of a run's configuration as a file or flags give them (every field optional). */
export const trainConfigSchema = z.object({
  /** Method name as `createMethod` spells it ('simclr', 'moco-v2', 'byol', 'simsiam', ...). */
  method: z.string().min(1, 'expected a method name'),
  /** Backbone preset ('resnet-tiny', 'resnet18', 'vit-tiny', ...). */
  backbone: z.string().min(1, 'expected a backbone name'),
  /** The dataset ('fashion-mnist'). */
  data: z.enum(DATASETS),
  /** Directory of the dataset's files (default: $WEBGRAD_FASHION_MNIST, else Debian's path). */
  dataDir: z.string().min(1),
  /** Training images: the first `trainSize` of the train split (SSL training, kNN bank, probe train set). */
  trainSize: int(2),
  /** Test images: the first `testSize` of the test split. */
  testSize: int(1),
  epochs: int(1),
  batchSize: int(2),
  /** Peak learning rate (after warmup). */
  lr: nonNegative,
  weightDecay: nonNegative,
  optimizer: z.enum(OPTIMIZERS),
  /** SGD / LARS momentum. */
  momentum: nonNegative,
  /** Linear warmup length in epochs (may be fractional; capped below the run's length). */
  warmupEpochs: nonNegative,
  /** Seed of the initial weights, the data order, the augmentations and every other draw. */
  seed: z.number({ invalid_type_error: 'expected a number' }).int('expected an integer').min(0, 'expected an integer >= 0'),
  /** The run directory (log, checkpoints, report, plot). */
  out: z.string().min(1),
  /** Progress lines every this many steps when stdout is not a terminal (default: about 10 per epoch). */
  logEvery: int(1),
  /** Evaluate at the end (kNN, probe, collapse figure; trained vs random init). */
  evaluate: z.boolean(),
  /** Kernel strategy override. */
  strategy: z.enum(['cpu-simd', 'gpu']),
  eval: evalConfigSchema,
}).partial().strict();

/** A configuration as given (file or flags): every field optional. */
export type TrainConfigInput = z.infer<typeof trainConfigSchema>;

/** The evaluation settings with every default filled in. */
export type EvalConfig = Required<z.infer<typeof evalConfigSchema>>;

/** A complete, validated configuration (see the module comment for where each value comes from). */
export interface TrainConfig {
  method: string;
  backbone: string;
  data: (typeof DATASETS)[number];
  dataDir?: string;
  trainSize: number;
  testSize: number;
  epochs: number;
  batchSize: number;
  lr: number;
  weightDecay: number;
  optimizer: OptimizerKind;
  momentum: number;
  warmupEpochs: number;
  seed: number;
  out: string;
  logEvery?: number;
  evaluate: boolean;
  strategy?: 'cpu-simd' | 'gpu';
  eval: EvalConfig;
}

/** The per-method values `methodDefaults` provides (any may be missing). */
export interface MethodTrainDefaults {
  optimizer?: OptimizerKind;
  lr?: number;
  weightDecay?: number;
  batchSize?: number;
  epochs?: number;
  momentum?: number;
  warmupEpochs?: number;
  /** The lr for a batch size (recipes scale a reference lr); used when no layer sets `lr`. */
  lrForBatch?: (batchSize: number) => number;
}

/** Built-in defaults below the method's own. */
export const BASE_DEFAULTS = {
  backbone: 'resnet-tiny',
  data: 'fashion-mnist',
  trainSize: 10_000,
  testSize: 2_000,
  epochs: 10,
  batchSize: 256,
  lr: 0.3,
  weightDecay: 1e-6,
  optimizer: 'lars',
  momentum: 0.9,
  warmupEpochs: 1,
  seed: 0,
  evaluate: true,
} as const satisfies TrainConfigInput;

/** Default evaluation settings. */
export const EVAL_DEFAULTS: EvalConfig = {
  knnK: [20, 200], probeEpochs: 30, bnImages: 1000, monitorEvery: 1, monitorTrain: 2000, monitorTest: 500, collapseImages: 512,
};

/** One line listing every issue of a zod error, paths dotted (`eval.knnK.0: expected ...`). */
export function formatIssues(where: string, err: z.ZodError): string {
  const parts = err.issues.map((i) => {
    const at = i.path.length ? i.path.join('.') : '(top level)';
    if (i.code === 'unrecognized_keys') return `unknown option${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `'${k}'`).join(', ')}${i.path.length ? ` in ${at}` : ''}`;
    if (i.code === 'invalid_enum_value') return `${at}: expected one of ${i.options.map((o) => `'${String(o)}'`).join(', ')}, got '${String(i.received)}'`;
    return `${at}: ${i.message}`;
  });
  return `${where}: ${parts.join('; ')}`;
}

/** Validates one layer (file or flags) of a configuration; throws one error naming every problem. */
export function parseConfigInput(value: unknown, where = 'config'): TrainConfigInput {
  const r = trainConfigSchema.safeParse(value);
  if (!r.success) throw new Error(formatIssues(where, r.error));
  return r.data;
}

/** Drops keys whose value is undefined, so `{ lr: undefined }` does not hide a lower layer's lr. */
function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Merges the layers (see the module comment) into a complete configuration. `methodDefaults` is
 * called with the method name once it is known (from any layer). Throws one error listing every
 * problem, including a missing method.
 */
export function resolveConfig(
  layers: readonly TrainConfigInput[],
  methodDefaults: (method: string, backbone: string) => MethodTrainDefaults = () => ({}),
): TrainConfig {
  const given = layers.map((l) => parseConfigInput(l));
  const last = <K extends keyof TrainConfigInput>(k: K) => [...given].reverse().find((l) => l[k] !== undefined)?.[k];
  const method = last('method');
  if (method === undefined) throw new Error('config: method: required (e.g. --method simclr)');
  const { lrForBatch, ...md } = defined(methodDefaults(method, last('backbone') ?? BASE_DEFAULTS.backbone));
  const evalLayers = given.map((l) => defined(l.eval ?? {}));
  const merged: TrainConfigInput = Object.assign({}, BASE_DEFAULTS, md, ...given.map((l) => defined(l)));
  merged.eval = Object.assign({}, EVAL_DEFAULTS, ...evalLayers);
  if (last('lr') === undefined && lrForBatch && Number.isInteger(merged.batchSize) && merged.batchSize! > 0) merged.lr = lrForBatch(merged.batchSize!);
  merged.out ??= `runs/${method}-${merged.backbone ?? BASE_DEFAULTS.backbone}`;
  const c = parseConfigInput(merged) as TrainConfig;
  const problems: string[] = [];
  if (c.batchSize > c.trainSize) problems.push(`batchSize: ${c.batchSize} is larger than trainSize ${c.trainSize}`);
  if (problems.length) throw new Error(`config: ${problems.join('; ')}`);
  return c;
}
