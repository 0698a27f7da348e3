// esbuild builds: dist/node.js (Node entry, `webgpu` external) and dist/browser/webgrad.js
// (self-contained ESM bundle for browsers: no `node:` import, no Dawn).
import * as esbuild from 'esbuild';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
execFileSync(process.execPath, [path.join(root, 'scripts', 'embed_shaders.mjs')], { stdio: 'inherit' });

const common = { bundle: true, format: 'esm', target: 'es2022', sourcemap: true, logLevel: 'warning', absWorkingDir: root };
await Promise.all([
  esbuild.build({
    ...common, entryPoints: ['src/index.node.ts'], outfile: 'dist/node.js', platform: 'node',
    packages: 'external',
  }),
  esbuild.build({
    ...common, entryPoints: ['src/cli.ts'], outfile: 'dist/cli.js', platform: 'node', packages: 'external',
  }),
  esbuild.build({
    ...common, entryPoints: ['src/index.ts'], outfile: 'dist/browser/webgrad.js', platform: 'browser',
  }),
]);
console.log('build: dist/node.js, dist/cli.js, dist/browser/webgrad.js');
