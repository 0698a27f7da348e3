// Configuration of `webgrad train` / train(config): layer precedence (defaults < method recipe <
// file < flags), the recipe's lr scaled to the batch size, and one clear error for unknown or
// invalid values. No GPU needed.
import { describe, expect, it } from 'vitest';
import { resolveConfig, parseConfigInput } from '../../models/train/config.js';
import { methodTrainDefaults } from '../../models/train/methods.js';
import { methodDefaults, scaledLr } from '../../models/ssl/index.js';

describe('train config', () => {
  it('merges defaults, the method recipe, a file and flags in that order', () => {
    const recipe = methodDefaults('simclr');
    const c = resolveConfig([{ method: 'simclr', epochs: 3, batchSize: 64, eval: { probeEpochs: 5 } }, { epochs: 4, eval: { monitorEvery: 0 } }], methodTrainDefaults);
    expect(c.method).toBe('simclr');
    expect(c.backbone).toBe('resnet-tiny');
    expect(c.epochs).toBe(4);
    expect(c.batchSize).toBe(64);
    expect(c.optimizer).toBe(recipe.optimizer.kind);
    expect(c.weightDecay).toBe(recipe.optimizer.weightDecay);
    expect(c.lr).toBe(scaledLr(recipe.optimizer, 64)); // the recipe's lr at this batch size
    expect(c.eval.probeEpochs).toBe(5);
    expect(c.eval.monitorEvery).toBe(0);
    expect(c.eval.knnK).toEqual([20, 200]);
    expect(c.out).toBe('runs/simclr-resnet-tiny');
    expect(resolveConfig([{ method: 'simclr', lr: 0.5 }], methodTrainDefaults).lr).toBe(0.5);
    expect(resolveConfig([{ method: 'byol', backbone: 'vit-tiny' }], methodTrainDefaults).optimizer).toBe('adamw');
  });

  it('gives one error naming every invalid or unknown value', () => {
    expect(() => parseConfigInput({ method: 'simclr', epochs: 0, lr: 'fast', optimiser: 'sgd' }, 'config file x.json'))
      .toThrow(/^config file x\.json: .*epochs: expected an integer >= 1.*lr: expected a number.*unknown option 'optimiser'/);
    expect(() => parseConfigInput({ optimizer: 'rmsprop' })).toThrow("config: optimizer: expected one of 'sgd', 'lars', 'adamw', got 'rmsprop'");
    expect(() => parseConfigInput({ eval: { knnK: [0] } })).toThrow('config: eval.knnK.0: expected an integer >= 1');
    expect(() => parseConfigInput({ eval: { foo: 1 } })).toThrow("config: unknown option 'foo' in eval");
    expect(() => resolveConfig([{ epochs: 2 }], methodTrainDefaults)).toThrow('config: method: required');
    expect(() => resolveConfig([{ method: 'swav' }], methodTrainDefaults)).toThrow("config: method: unknown 'swav' (have simclr, moco-v2, byol, simsiam)");
    expect(() => resolveConfig([{ method: 'simclr', backbone: 'resnet9' }], methodTrainDefaults)).toThrow(/config: backbone: unknown 'resnet9'/);
    expect(() => resolveConfig([{ method: 'simclr', trainSize: 100, batchSize: 128 }], methodTrainDefaults)).toThrow('config: batchSize: 128 is larger than trainSize 100');
  });
});
