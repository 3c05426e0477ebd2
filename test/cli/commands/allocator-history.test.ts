/** `tessera allocator --history-interval` and `--history-window`: the usage history's ring, checked once at start. */
import { describe, expect, it } from 'vitest';
import { parseHistoryFlags } from '../../../cli/commands/allocator.ts';
import { CliError } from '../../../cli/errors.ts';

const refused = (f: Parameters<typeof parseHistoryFlags>[0]): string => {
  try {
    parseHistoryFlags(f);
  } catch (e) {
    if (e instanceof CliError) return e.message;
    throw e;
  }
  throw new Error(`accepted ${JSON.stringify(f)}`);
};

describe('tessera allocator --history-interval, --history-window', () => {
  it('takes the defaults as a day of one-minute samples, and durations as written', () => {
    expect(parseHistoryFlags({ historyInterval: '1m', historyWindow: '24h' })).toEqual({
      historyIntervalMs: 60_000,
      historyWindowMs: 86_400_000,
    });
    expect(parseHistoryFlags({ historyInterval: '200ms', historyWindow: '10m' })).toEqual({
      historyIntervalMs: 200,
      historyWindowMs: 600_000,
    });
  });

  it('refuses an interval under 100 ms, a window shorter than one sample, and more than a week of minutes', () => {
    expect(refused({ historyInterval: '50ms', historyWindow: '1h' })).toMatch(/at least 100ms/);
    expect(refused({ historyInterval: '1m', historyWindow: '30s' })).toMatch(
      /at least one --history-interval/,
    );
    expect(refused({ historyInterval: '1s', historyWindow: '24h' })).toMatch(
      /86400 samples.*more than 10080/,
    );
    expect(refused({ historyInterval: 'soon', historyWindow: '1h' })).toMatch(/--history-interval/);
  });
});
