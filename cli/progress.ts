/**
 * A one-line progress bar on stderr. It draws only when stderr is a terminal, so pipes, CI logs
 * and `-o json | jq` see nothing of it; stdout is never touched.
 */
import type { CliIo } from './io.ts';

/** A running progress bar; `update` is cheap to call often, it redraws at most every 100 ms. */
export interface Progress {
  /** `fraction` of all work is done (0..1); `label` says what is running now. */
  update(fraction: number, label: string): void;
  /** Erases the bar so the next output starts on a clean line. */
  done(): void;
}

const BAR_WIDTH = 30;
const REDRAW_MS = 100;

const SILENT: Progress = { update() {}, done() {} };

/** A bar titled `title` on `io.err`, or a no-op when stderr is not a terminal. */
export function createProgress(io: CliIo, title: string, now: () => number = Date.now): Progress {
  if (!io.errIsTty) return SILENT;
  let lastDrawMs = Number.NEGATIVE_INFINITY;
  let drawn = false;
  return {
    update(fraction, label) {
      const t = now();
      if (t - lastDrawMs < REDRAW_MS && fraction < 1) return;
      lastDrawMs = t;
      const f = Math.min(1, Math.max(0, fraction));
      const filled = Math.round(f * BAR_WIDTH);
      const bar = `${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}`;
      const pct = `${Math.floor(f * 100)}`.padStart(3);
      // \r + erase-line redraws in place instead of scrolling one line per update.
      io.err(`\r\x1b[K${title} [${bar}] ${pct}% ${label}`);
      drawn = true;
    },
    done() {
      if (drawn) io.err('\r\x1b[K');
      drawn = false;
    },
  };
}
