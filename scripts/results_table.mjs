// Prints the README's results table (markdown) from finished `webgrad train` run directories.
//
//   node scripts/results_table.mjs runs/simclr-full runs/moco-v2-full runs/byol-full runs/simsiam-full
//   node scripts/results_table.mjs --plots docs/images/results.png runs/*-full   # also stacks their plot.png
//
// Each row comes from the run's own files: config.json (the command is rebuilt from it),
// log.jsonl (start time), report.json (steps, evaluation, collapse figure) and report.json's
// modification time (end of the run), so nothing in the table is typed by hand.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values, positionals: dirs } = parseArgs({ options: { plots: { type: 'string' } }, allowPositionals: true });
if (dirs.length === 0) {
  console.error('usage: node scripts/results_table.mjs [--plots OUT.png] RUN_DIR...');
  process.exit(2);
}

const pct = (x) => (100 * x).toFixed(2);
const signed = (x) => `${x >= 0 ? '+' : ''}${x.toFixed(2)}`;
const minutes = (s) => `${Math.floor(s / 60)} min ${String(Math.round(s % 60)).padStart(2, '0')} s`;

function row(dir) {
  const read = (f) => fs.readFileSync(path.join(dir, f), 'utf8');
  const reportFile = path.join(dir, 'report.json');
  if (!fs.existsSync(reportFile)) throw new Error(`${dir}: no report.json (the run has not finished)`);
  const cfg = JSON.parse(read('config.json'));
  const report = JSON.parse(read('report.json'));
  const start = JSON.parse(read('log.jsonl').split('\n')[0]);
  if (start.type !== 'start') throw new Error(`${dir}: log.jsonl does not begin with a start record`);
  const ev = report.evaluation;
  if (!ev) throw new Error(`${dir}: report.json has no evaluation (run with evaluation on)`);
  const wall = (fs.statSync(reportFile).mtimeMs - Date.parse(start.time)) / 1000;
  const cmd = `webgrad train --method ${cfg.method} --backbone ${cfg.backbone} --data ${cfg.data} `
    + `--train-size ${cfg.trainSize} --test-size ${cfg.testSize} --epochs ${cfg.epochs} --seed ${cfg.seed}`;
  const c = ev.collapse;
  return `| ${cfg.method} | \`${cmd}\` | ${cfg.epochs} (${report.steps} steps) | ${minutes(wall)} `
    + `| ${pct(ev.trained.knn['20'])} / ${pct(ev.randomInit.knn['20'])} (${signed(ev.gain.knn20)}) `
    + `| ${pct(ev.trained.linearProbe)} / ${pct(ev.randomInit.linearProbe)} (${signed(ev.gain.linearProbe)}) `
    + `| ${c.value.toFixed(4)} (${c.ratio.toFixed(2)} of 1/√${c.dim}) |`;
}

console.log('| method | command | epochs | wall time | kNN k=20 % trained / random (gain) | linear probe % trained / random (gain) | collapse figure |');
console.log('|---|---|---|---|---|---|---|');
for (const d of dirs) console.log(row(d));

if (values.plots) {
  // The runs' plots one above the other (sharp, already a dependency for the run plots).
  const { default: sharp } = await import('sharp');
  const files = dirs.map((d) => path.join(d, 'plot.png'));
  const metas = await Promise.all(files.map((f) => sharp(f).metadata()));
  const width = Math.max(...metas.map((m) => m.width));
  let top = 0;
  const layers = files.map((input, i) => { const l = { input, top, left: 0 }; top += metas[i].height; return l; });
  await sharp({ create: { width, height: top, channels: 3, background: 'white' } }).composite(layers).png({ palette: true }).toFile(values.plots);
  console.log(`wrote ${values.plots} (${files.length} plots)`);
}
