/**
 * The fence guard's log levels (agent/fence-guard-log.mjs): pino's names, lines below the level
 * dropped, the rest JSON lines shaped as the agent's; and the guard refusing a level it does not know.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  createGuardLog,
  DEFAULT_GUARD_LOG_LEVEL,
  GUARD_LOG_LEVELS,
  isGuardLogLevel,
} from '../../agent/fence-guard-log.mjs';
import { fenceGuardScript } from '../../agent/fence-guard-start.ts';

function collect(level: Parameters<typeof createGuardLog>[0]): {
  lines: Record<string, unknown>[];
  log: ReturnType<typeof createGuardLog>;
} {
  const lines: Record<string, unknown>[] = [];
  const log = createGuardLog(level, (line) => lines.push(JSON.parse(line) as Record<string, unknown>));
  return { lines, log };
}

describe('fence guard log', () => {
  it("accepts pino's level names, least severe first, and defaults to info", () => {
    expect(GUARD_LOG_LEVELS).toEqual(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);
    expect(DEFAULT_GUARD_LOG_LEVEL).toBe('info');
    for (const l of GUARD_LOG_LEVELS) expect(isGuardLogLevel(l)).toBe(true);
    expect(isGuardLogLevel('loud')).toBe(false);
    expect(isGuardLogLevel('INFO')).toBe(false);
  });

  it('drops lines below its level and writes the others as JSON lines', () => {
    const { lines, log } = collect('warn');
    log('debug', 'polled');
    log('info', 'fence guard watching');
    log('warn', 'deadline passed: stopping pod', { podId: 'p' });
    log('error', 'could not record the kills');
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      ['warn', 'deadline passed: stopping pod'],
      ['error', 'could not record the kills'],
    ]);
    expect(lines[0]).toMatchObject({ component: 'fence-guard', pid: process.pid, podId: 'p' });
    expect(typeof lines[0]?.time).toBe('string');
  });

  it('writes every line at trace and only fatal ones at fatal', () => {
    const low = collect('trace');
    for (const l of GUARD_LOG_LEVELS) low.log(l, l);
    expect(low.lines.map((l) => l.msg)).toEqual(GUARD_LOG_LEVELS);
    const high = collect('fatal');
    for (const l of GUARD_LOG_LEVELS) high.log(l, l);
    expect(high.lines.map((l) => l.msg)).toEqual(['fatal']);
  });

  it('refuses a level it does not know', () => {
    expect(() => createGuardLog('loud' as 'info')).toThrow(/unknown log level loud; accepted: trace, debug/);
  });

  it('the guard exits with its usage line on an unknown --log-level', () => {
    const r = spawnSync(process.execPath, [fenceGuardScript(), '/nonexistent', '1', '--log-level', 'loud'], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '' },
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('[--log-level trace|debug|info|warn|error|fatal]');
  });
});
