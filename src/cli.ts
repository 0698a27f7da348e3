#!/usr/bin/env node
/**
 * The `webgrad` command line (Node only). Today: `webgrad info` (the adapter, its limits and the
 * kernel strategy) and `webgrad --version`. Training commands arrive with the methods.
 */
import { parseArgs } from 'node:util';
import { init } from './index.node.js';

const HELP = `usage: webgrad <command> [options]

commands:
  info        print the WebGPU adapter, its limits and webgrad's kernel strategy

options:
  --strategy cpu-simd|gpu   override the kernel strategy chosen for the adapter
  -h, --help                this help
  -v, --version             the package version`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
      strategy: { type: 'string' },
    },
  });
  if (values.version) {
    const { createRequire } = await import('node:module');
    console.log((createRequire(import.meta.url)('../package.json') as { version: string }).version);
    return 0;
  }
  const cmd = positionals[0];
  if (values.help || !cmd) {
    console.log(HELP);
    return values.help ? 0 : 2;
  }
  if (cmd === 'info') {
    const s = values.strategy;
    if (s !== undefined && s !== 'cpu-simd' && s !== 'gpu') throw new Error(`--strategy must be cpu-simd or gpu, got '${s}'`);
    const rt = await init({ strategy: s });
    console.log(rt.describe());
    for (const [k, v] of Object.entries(rt.limits)) console.log(`  ${k.padEnd(36)} ${v}`);
    rt.device.destroy();
    return 0;
  }
  console.error(`webgrad: unknown command '${cmd}'\n\n${HELP}`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: Error) => {
    console.error(e.message);
    process.exit(1);
  },
);
