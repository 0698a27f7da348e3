// Prints vitest's JSON result as one plain line: "tests: N passed, N failed, N skipped".
import fs from 'node:fs';

const file = process.argv[2] ?? 'out/vitest.json';
if (!fs.existsSync(file)) {
  console.log(`tests: no result file ${file}`);
  process.exit(1);
}
const r = JSON.parse(fs.readFileSync(file, 'utf8'));
const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
