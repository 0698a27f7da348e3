#!/usr/bin/env node
// The torchvision interop check (`npm run interop`): loads the state_dicts exported by
// scripts/torch_export.py, unchanged, into webgrad's resnet18 / resnet50 (strict: every key, shape
// and dtype must match), runs the exported input through them in eval mode, and compares the
// pooled features and the logits with PyTorch's. Prints max abs and max relative error
// (max|a - b| / max|ref|) per model and tensor; exits 1 if any exceeds the tolerance
// (max|a - b| <= 1e-4 + 1e-3 * max|ref|, the fixtures protocol's rule for whole networks).
//
//   node scripts/interop.mjs [dir]        (dir: torch_export.py's --out, default out/interop)
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as wg from '../dist/node.js';

const dir = process.argv[2] ?? 'out/interop';
const ATOL = 1e-4;
const RTOL = 1e-3;

await wg.init();
console.log(wg.runtime().describe());
let ok = true;
for (const name of ['resnet18', 'resnet50']) {
  const stateFile = path.join(dir, `${name}.safetensors`);
  const ioFile = path.join(dir, `${name}_io.safetensors`);
  for (const f of [stateFile, ioFile]) {
    if (!existsSync(f)) throw new Error(`interop: ${f} is missing; run /usr/bin/python3 scripts/torch_export.py --out ${dir} first`);
  }
  const model = wg.createResNet(name);
  const t0 = performance.now();
  await wg.loadCheckpointFile(model, stateFile); // strict: one error lists every mismatch
  model.eval();
  const io = wg.checkpoint.read(readFileSync(ioFile)).tensors;
  const input = io.get('input');
  const [feats, logits] = wg.noGrad(() => wg.scope(() => {
    const x = wg.tensor(input.data, { shape: input.shape });
    const f = model.features(x);
    return [f, model.fc.forward(f)];
  }));
  const got = { features: await feats.data(), logits: await logits.data() };
  const ms = performance.now() - t0;
  for (const key of ['features', 'logits']) {
    const ref = io.get(key).data;
    const a = got[key];
    if (a.length !== ref.length) throw new Error(`interop: ${name} ${key} has ${a.length} values, PyTorch ${ref.length}`);
    let err = 0, scale = 0;
    for (let i = 0; i < ref.length; i++) {
      err = Math.max(err, Math.abs(a[i] - ref[i]));
      scale = Math.max(scale, Math.abs(ref[i]));
    }
    const pass = err <= ATOL + RTOL * scale;
    ok &&= pass;
    console.log(`${name.padEnd(9)} ${key.padEnd(9)} [${input.shape}] eval  max abs err ${err.toExponential(3)}  max rel err ${(err / scale).toExponential(3)}  (max|ref| ${scale.toFixed(4)})  ${pass ? 'ok' : 'FAIL'}`);
  }
  console.log(`${name.padEnd(9)} load + forward ${(ms / 1000).toFixed(1)} s`);
  feats.dispose();
  logits.dispose();
  model.dispose();
}
wg.destroyRuntime();
if (!ok) {
  console.error(`interop: errors exceed ${ATOL} + ${RTOL} * max|ref|`);
  process.exit(1);
}
console.log('interop: torchvision state_dicts load unchanged and match PyTorch');
