/**
 * `npm run fuzz`: fuzzes a live allocator and prints what it found; exits 1 on a crash, a 5xx, a
 * hang, an error logged by the allocator, or a cluster that no longer schedules.
 *
 *   npm run fuzz                                  # 100,000 inputs, seed 1
 *   npm run fuzz -- --inputs 2000 --seed 42       # the slice npm test runs
 */
import { parseArgs } from 'node:util';
import { runCampaign } from './campaign.ts';
import { formatReport, passed } from './report.ts';

const { values } = parseArgs({
  options: {
    inputs: { type: 'string', default: '100000' },
    seed: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '8' },
  },
});
const inputs = Number(values.inputs);
const seed = Number(values.seed);
const concurrency = Number(values.concurrency);
if (![inputs, seed, concurrency].every(Number.isSafeInteger) || inputs < 1 || concurrency < 1) {
  process.stderr.write('usage: tsx fuzz/run.ts [--inputs N] [--seed S] [--concurrency C]\n');
  process.exit(2);
}

let lastShown = 0;
const report = await runCampaign({
  inputs,
  seed,
  concurrency,
  progress: (sent) => {
    if (sent - lastShown < 10_000 && sent < inputs) return;
    lastShown = sent;
    process.stderr.write(
      `fuzz: ${sent.toLocaleString('en-US')} / ${inputs.toLocaleString('en-US')} inputs\n`,
    );
  },
});
process.stdout.write(`${formatReport(report)}\n`);
process.exit(passed(report) ? 0 : 1);
