import { closeSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createRotatingLogWriter,
  logPath,
  openLogForPod,
  readLogTail,
  rotateByRename,
  rotateCopyTruncate,
  rotatedPath,
} from '../../../agent/runner/logs.ts';

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-logs-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const read = (p: string): string => (existsSync(p) ? readFileSync(p, 'utf8') : '<none>');

describe('the rotating writer (files the agent writes)', () => {
  it('rotates before a chunk that would pass the cap, keeping maxFiles', () => {
    const path = logPath(dir, 'events');
    const w = createRotatingLogWriter(path, { maxBytes: 100, maxFiles: 2 });
    for (const c of ['a', 'b', 'c', 'd']) w.write(c.repeat(60));
    w.close();
    expect(read(path)).toBe('d'.repeat(60));
    expect(read(rotatedPath(path, 1))).toBe('c'.repeat(60));
    expect(read(rotatedPath(path, 2))).toBe('b'.repeat(60));
    expect(existsSync(rotatedPath(path, 3))).toBe(false);
  });

  it('fills up to the cap exactly, and a chunk bigger than the cap gets a file of its own', () => {
    const path = logPath(dir, 'events');
    const w = createRotatingLogWriter(path, { maxBytes: 100, maxFiles: 3 });
    w.write('a'.repeat(40));
    w.write('b'.repeat(60));
    expect(read(path)).toBe(`${'a'.repeat(40)}${'b'.repeat(60)}`);
    w.write('c'.repeat(150));
    w.write('d');
    w.close();
    expect(read(rotatedPath(path, 2))).toHaveLength(100);
    expect(read(rotatedPath(path, 1))).toBe('c'.repeat(150));
    expect(read(path)).toBe('d');
  });

  it('a new writer (a restarted agent) counts what the file already holds', () => {
    const path = logPath(dir, 'events');
    const w1 = createRotatingLogWriter(path, { maxBytes: 100, maxFiles: 1 });
    w1.write('x'.repeat(90));
    w1.close();
    const w2 = createRotatingLogWriter(path, { maxBytes: 100, maxFiles: 1 });
    w2.write('y'.repeat(20));
    w2.close();
    expect(read(rotatedPath(path, 1))).toBe('x'.repeat(90));
    expect(read(path)).toBe('y'.repeat(20));
  });
});

describe('copy-truncate rotation (files a pod writes through its own descriptor)', () => {
  it("the pod's O_APPEND descriptor writes at the start of the truncated file, leaving no hole", () => {
    const fd = openLogForPod(dir, 'stdout');
    const path = logPath(dir, 'stdout');
    writeSync(fd, `${'x'.repeat(149)}\n`);
    expect(rotateCopyTruncate(path, { maxBytes: 100, maxFiles: 3 })).toEqual({ size: 150, keptFrom: 0 });
    writeSync(fd, 'after\n');
    closeSync(fd);
    expect(read(path)).toBe('after\n');
    expect(read(rotatedPath(path, 1))).toBe(`${'x'.repeat(149)}\n`);
  });

  it('does nothing under the cap, and keeps only the last cap bytes when over twice the cap', () => {
    const path = logPath(dir, 'stdout');
    closeSync(openLogForPod(dir, 'stdout'));
    writeFileSync(path, 'small');
    expect(rotateCopyTruncate(path, { maxBytes: 100, maxFiles: 3 })).toBeNull();
    writeFileSync(path, `${'o'.repeat(250)}${'n'.repeat(100)}`);
    expect(rotateCopyTruncate(path, { maxBytes: 100, maxFiles: 3 })).toEqual({ size: 350, keptFrom: 250 });
    expect(read(rotatedPath(path, 1))).toBe('n'.repeat(100));
    expect(read(path)).toBe('');
  });

  it('rotateByRename starts a fresh file and shifts older ones', () => {
    const path = logPath(dir, 'stdout');
    closeSync(openLogForPod(dir, 'stdout'));
    writeFileSync(path, 'epoch1');
    rotateByRename(path, { maxBytes: 100, maxFiles: 3 });
    writeFileSync(path, 'epoch2');
    rotateByRename(path, { maxBytes: 100, maxFiles: 3 });
    expect(existsSync(path)).toBe(false);
    expect(read(rotatedPath(path, 1))).toBe('epoch2');
    expect(read(rotatedPath(path, 2))).toBe('epoch1');
  });
});

describe('readLogTail', () => {
  it('reads the last bytes across rotated files, oldest first', () => {
    const path = logPath(dir, 'stdout');
    closeSync(openLogForPod(dir, 'stdout'));
    writeFileSync(rotatedPath(path, 2), 'one\n');
    writeFileSync(rotatedPath(path, 1), 'two\n');
    writeFileSync(path, 'three\n');
    expect(readLogTail(dir, 1000)).toBe('one\ntwo\nthree\n');
    expect(readLogTail(dir, 8)).toBe('o\nthree\n');
    expect(readLogTail(dir, 0)).toBe('');
    expect(readLogTail(dir, 100, 'stderr')).toBe('');
  });

  it('drops a multi-byte character cut at the start instead of garbling it', () => {
    closeSync(openLogForPod(dir, 'stdout'));
    writeFileSync(logPath(dir, 'stdout'), 'é€ok');
    // '€' is 3 bytes; asking for 4 bytes cuts into it.
    expect(readLogTail(dir, 4)).toBe('ok');
    expect(readLogTail(dir, 5)).toBe('€ok');
  });
});
