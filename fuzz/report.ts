/** What a fuzz run counted, and its text form for `npm run fuzz`. */
import type { Outcome } from './send.ts';

/** How one request ended: its status class, no answer in time, or a connection closed unanswered. */
export type OutcomeClass = '1xx' | '2xx' | '3xx' | '4xx' | '5xx' | 'hang' | 'reset';

/** One request worth showing: what was sent and what came back. */
export interface Sample {
  route: string;
  request: string;
  outcome: string;
}

/** Everything a run found. */
export interface FuzzReport {
  seed: number;
  /** HTTP requests, raw requests and websocket frames sent. */
  inputs: number;
  http: number;
  raw: number;
  frames: number;
  sessions: number;
  byClass: Record<OutcomeClass, number>;
  byRoute: Record<string, Partial<Record<OutcomeClass, number>>>;
  /** Websocket upgrades by HTTP status (101: opened), and closes by code. */
  upgrades: Record<string, number>;
  closes: Record<string, number>;
  serverErrors: Sample[];
  hangs: Sample[];
  /** Connections closed without an answer: expected for a body over the limit, shown to be sure. */
  resets: Sample[];
  /** Requests answered but slower than a second, and the slowest answer in ms. */
  slow: number;
  slowestMs: number;
  /** Sessions the allocator neither closed nor let us close within the deadline. */
  wsHangs: number;
  crashed: boolean;
  crashOutput: string;
  /** Lines the allocator logged at error (every 500 is one). */
  errorLogLines: number;
  errorLogSamples: string[];
  /** After the fuzzing: did a workload get placed on a fresh sim node? */
  stillSchedules: { ok: boolean; detail: string; cyclesBefore: number; cyclesAfter: number };
  durationMs: number;
}

/** An empty report for `seed`. */
export function emptyReport(seed: number): FuzzReport {
  return {
    seed,
    inputs: 0,
    http: 0,
    raw: 0,
    frames: 0,
    sessions: 0,
    byClass: { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0, hang: 0, reset: 0 },
    byRoute: {},
    upgrades: {},
    closes: {},
    serverErrors: [],
    hangs: [],
    resets: [],
    slow: 0,
    slowestMs: 0,
    wsHangs: 0,
    crashed: false,
    crashOutput: '',
    errorLogLines: 0,
    errorLogSamples: [],
    stillSchedules: { ok: false, detail: 'not run', cyclesBefore: 0, cyclesAfter: 0 },
    durationMs: 0,
  };
}

/** The class of an outcome. */
export function classOf(o: Outcome): OutcomeClass {
  if (o.kind !== 'status') return o.kind;
  const c = Math.floor(o.status / 100);
  return c <= 1 ? '1xx' : c === 2 ? '2xx' : c === 3 ? '3xx' : c === 4 ? '4xx' : '5xx';
}

/** Counts one request's outcome under its route. */
export function count(r: FuzzReport, route: string, o: Outcome): OutcomeClass {
  const c = classOf(o);
  r.byClass[c] += 1;
  const row = r.byRoute[route] ?? {};
  row[c] = (row[c] ?? 0) + 1;
  r.byRoute[route] = row;
  return c;
}

/** True when the run found nothing wrong. */
export function passed(r: FuzzReport): boolean {
  return (
    !r.crashed &&
    r.byClass['5xx'] === 0 &&
    r.byClass.hang === 0 &&
    r.wsHangs === 0 &&
    r.errorLogLines === 0 &&
    r.stillSchedules.ok
  );
}

const n = (x: number) => x.toLocaleString('en-US');

/** The report as text: totals first, then every route, then whatever went wrong. */
export function formatReport(r: FuzzReport): string {
  const classes = Object.keys(r.byClass) as OutcomeClass[];
  const out: string[] = [];
  out.push(
    `fuzz seed ${r.seed}: ${n(r.inputs)} inputs (${n(r.http)} HTTP requests, ${n(r.raw)} raw requests, ${n(r.frames)} websocket frames in ${n(r.sessions)} sessions) in ${(r.durationMs / 1000).toFixed(1)} s`,
  );
  out.push(`requests by outcome: ${classes.map((c) => `${c} ${n(r.byClass[c])}`).join(', ')}`);
  out.push(
    `websocket upgrades: ${Object.entries(r.upgrades)
      .map(([k, v]) => `${k} ${n(v)}`)
      .join(', ')}; closes: ${Object.entries(r.closes)
      .map(([k, v]) => `${k} ${n(v)}`)
      .join(', ')}`,
  );
  out.push(`answers slower than 1 s: ${n(r.slow)}; slowest ${n(Math.round(r.slowestMs))} ms`);
  out.push(
    `crashes ${r.crashed ? 1 : 0}, 5xx ${n(r.byClass['5xx'])}, hangs ${n(r.byClass.hang + r.wsHangs)}, allocator error lines ${n(r.errorLogLines)}`,
  );
  out.push(
    `still schedules: ${r.stillSchedules.ok ? 'yes' : 'NO'} (${r.stillSchedules.detail}; scheduler cycles ${n(r.stillSchedules.cyclesBefore)} -> ${n(r.stillSchedules.cyclesAfter)})`,
  );
  out.push('', 'by route:');
  const width = Math.max(...Object.keys(r.byRoute).map((k) => k.length));
  for (const [route, row] of Object.entries(r.byRoute).sort(([a], [b]) => a.localeCompare(b))) {
    const cells = classes.filter((c) => (row[c] ?? 0) > 0).map((c) => `${c} ${n(row[c] ?? 0)}`);
    out.push(`  ${route.padEnd(width)}  ${cells.join(', ')}`);
  }
  for (const [title, list] of [
    ['5xx answers', r.serverErrors],
    ['hangs', r.hangs],
    ['connections closed without an answer', r.resets],
  ] as const) {
    if (list.length === 0) continue;
    out.push('', `${title} (first ${list.length}):`);
    for (const s of list) out.push(`  ${s.request}\n    -> ${s.outcome}`);
  }
  if (r.errorLogSamples.length > 0)
    out.push('', 'allocator error lines (first few):', ...r.errorLogSamples.map((l) => `  ${l}`));
  if (r.crashed) out.push('', 'allocator crashed; its last output:', r.crashOutput);
  return out.join('\n');
}
