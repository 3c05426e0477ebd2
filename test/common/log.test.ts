import { describe, expect, it } from 'vitest';
import { createLogger, type LogLevel, parseLogLevel } from '../../common/log.ts';

function collector() {
  const lines: string[] = [];
  return {
    lines,
    stream: { write: (line: string) => lines.push(line) },
    parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const now = () => Date.UTC(2025, 0, 2, 3, 4, 5, 678);

describe('createLogger', () => {
  it('writes one JSON object per line with time, level, msg and fields', () => {
    const c = collector();
    createLogger({ stream: c.stream, now }).info('agent connected', { node: 'gpu-1', gpus: 8 });
    expect(c.lines).toHaveLength(1);
    expect(c.lines[0]?.endsWith('\n')).toBe(true);
    expect(c.lines[0]?.trimEnd()).not.toContain('\n');
    expect(c.parsed()[0]).toEqual({
      time: '2025-01-02T03:04:05.678Z',
      level: 'info',
      msg: 'agent connected',
      node: 'gpu-1',
      gpus: 8,
    });
  });

  it('drops lines below the level, info by default', () => {
    const c = collector();
    const log = createLogger({ stream: c.stream, now });
    log.debug('hidden');
    log.info('i');
    log.warn('w');
    log.error('e');
    expect(c.parsed().map((l) => l.level)).toEqual(['info', 'warn', 'error']);
    expect(log.isEnabled('debug')).toBe(false);
    expect(log.level).toBe('info');

    const quiet = collector();
    const warnOnly = createLogger({ stream: quiet.stream, level: 'warn', now });
    warnOnly.info('no');
    warnOnly.error('yes');
    expect(quiet.parsed().map((l) => l.msg)).toEqual(['yes']);
    expect(warnOnly.level).toBe('warn');
    expect(warnOnly.child({ component: 'x' }).level).toBe('warn');
  });

  it('adds base and child fields to every line, later ones winning', () => {
    const c = collector();
    const log = createLogger({ stream: c.stream, now, fields: { component: 'allocator', epoch: 1 } });
    log.child({ component: 'link', node: 'n1' }).warn('lease expired', { epoch: 2 });
    expect(c.parsed()[0]).toMatchObject({ component: 'link', node: 'n1', epoch: 2, msg: 'lease expired' });
  });

  it('writes a child field once, the child replacing its parent', () => {
    const c = collector();
    createLogger({ stream: c.stream, now, fields: { component: 'allocator' } })
      .child({ component: 'link' })
      .info('x');
    expect(c.lines[0]?.match(/"component"/g)).toHaveLength(1);
    expect(c.parsed()[0]).toMatchObject({ component: 'link' });
  });

  it('writes a message as given, with no printf-style formatting', () => {
    const c = collector();
    createLogger({ stream: c.stream, now }).info('100%s done %d', { n: 1 });
    expect(c.parsed()[0]).toMatchObject({ msg: '100%s done %d', n: 1 });
  });

  it('hands out its pino instance, writing the same line shape at the same level', () => {
    const c = collector();
    const log = createLogger({ stream: c.stream, now, level: 'warn', fields: { component: 'api' } });
    log.pino.info({ requestId: 'req-1' }, 'dropped');
    log.pino.error({ requestId: 'req-2', err: new Error('boom') }, 'request failed');
    expect(c.parsed()).toEqual([
      {
        time: '2025-01-02T03:04:05.678Z',
        level: 'error',
        msg: 'request failed',
        component: 'api',
        requestId: 'req-2',
        err: expect.objectContaining({
          name: 'Error',
          message: 'boom',
          stack: expect.stringContaining('boom'),
        }),
      },
    ]);
  });

  it('never lets a field overwrite time, level or msg', () => {
    const c = collector();
    createLogger({ stream: c.stream, now }).error('real', { msg: 'fake', level: 'debug' });
    expect(c.parsed()[0]).toMatchObject({ msg: 'real', level: 'error', msg_: 'fake', level_: 'debug' });
  });

  it('keeps an Error message and stack, and writes bigint as a string', () => {
    const c = collector();
    createLogger({ stream: c.stream, now }).error('failed', { err: new Error('boom'), bytes: 10n });
    const line = c.parsed()[0] ?? {};
    const logged = line.err as { name?: unknown; message?: unknown; stack?: unknown };
    expect(logged).toMatchObject({ name: 'Error', message: 'boom' });
    expect(String(logged.stack)).toContain('boom');
    expect(line.bytes).toBe('10');
  });

  it('does not throw on circular fields', () => {
    const c = collector();
    const loop: Record<string, unknown> = { a: 1 };
    loop.self = loop;
    const e = new Error('self');
    e.cause = e;
    createLogger({ stream: c.stream, now }).info('x', { loop, e });
    expect(c.parsed()[0]).toMatchObject({
      loop: { a: 1, self: '[Circular]' },
      e: { message: 'self', cause: '[Circular]' },
    });
  });
});

describe('parseLogLevel', () => {
  it.each(['debug', 'info', 'warn', 'error', ' WARN '] as const)('accepts %j', (s) => {
    const r = parseLogLevel(s);
    expect(r.ok && r.value).toBe(s.trim().toLowerCase() as LogLevel);
  });

  it('refuses unknown levels, listing the accepted ones', () => {
    const r = parseLogLevel('verbose');
    if (r.ok) throw new Error('expected a refusal');
    expect(r.error.message).toContain('"verbose"');
    expect(r.error.message).toContain('debug, info, warn, error');
  });
});
