import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type CheckpointFs,
  checkpointPath,
  emptyCheckpoint,
  type RunnerCheckpoint,
  readCheckpoint,
  writeCheckpoint,
} from '../../../agent/runner/checkpoint.ts';
import { failure, GPU0, podSpec, value } from './helpers.ts';

let dir = '';
beforeEach(() => {
  dir = fs.mkdtempSync(join(tmpdir(), 'tessera-ckpt-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const sample: RunnerCheckpoint = {
  version: 2,
  pods: [
    {
      spec: podSpec({
        command: ['python', 'train.py'],
        env: { A: '1' },
        grants: [{ uuid: GPU0, gpuMilli: 500, memoryMiB: 100, memoryLimitMiB: 200 }],
        readiness: { linePrefix: 'UP', delayMs: null },
      }),
      ref: {
        kind: 'process',
        pid: 1234,
        startTimeTicks: 99,
        cgroup: {
          unified: '/sys/fs/cgroup/unified/tessera/n/p1-e1',
          v1: { memory: '/sys/fs/cgroup/memory/tessera/n/p1-e1' },
        },
        uid: 200000,
        gid: 200000,
      },
      pid: 1234,
      startTimeTicks: 99,
      startedAtMs: 1_700_000_000_000,
      state: 'ready',
      exitCode: null,
      signal: null,
      reason: null,
    },
  ],
  epochs: { p1: 1, gone: 4 },
};

/** Real node:fs, recording each call so the order of the durable write can be checked. */
function recordingFs(calls: string[]): CheckpointFs {
  const names = new Map<number, string>();
  return {
    openSync(p, f, m) {
      const fd = fs.openSync(p, f, m);
      names.set(fd, p === dir ? 'dir' : p.includes('.tmp-') ? 'tmp' : p);
      calls.push(`open ${names.get(fd)}`);
      return fd;
    },
    writeSync(fd, d) {
      calls.push(`write ${names.get(fd)}`);
      return fs.writeSync(fd, d);
    },
    fsyncSync(fd) {
      calls.push(`fsync ${names.get(fd)}`);
      fs.fsyncSync(fd);
    },
    fchmodSync(fd, m) {
      calls.push(`chmod ${names.get(fd)}`);
      fs.fchmodSync(fd, m);
    },
    closeSync(fd) {
      calls.push(`close ${names.get(fd)}`);
      fs.closeSync(fd);
    },
    renameSync(a, b) {
      calls.push(
        `rename ${a.includes('.tmp-') ? 'tmp' : a} -> ${b === checkpointPath(dir) ? 'checkpoint' : b}`,
      );
      fs.renameSync(a, b);
    },
    rmSync: (p, o) => fs.rmSync(p, o),
    readFileSync: (p, e) => fs.readFileSync(p, e),
  };
}

function fail(): never {
  throw new Error('sample has no pod');
}

describe('runner checkpoint', () => {
  it('round-trips what it wrote', () => {
    const path = checkpointPath(dir);
    value(writeCheckpoint(path, sample));
    expect(value(readCheckpoint(path))).toEqual(sample);
  });

  it('keeps a container that ended before its pid was seen (pid 0) beside the others', () => {
    const path = checkpointPath(dir);
    const first = sample.pods[0] ?? fail();
    const ended: RunnerCheckpoint = {
      ...sample,
      pods: [
        first,
        {
          ...first,
          spec: { ...first.spec, podId: 'quick', image: 'localhost/x:1' },
          ref: {
            kind: 'container',
            id: 'c'.repeat(64),
            name: 'tessera-quick-e1',
            pid: 0,
            startTimeTicks: 0,
            cgroup: null,
          },
          pid: null,
          startTimeTicks: null,
          state: 'exited',
          exitCode: 0,
        },
      ],
    };
    value(writeCheckpoint(path, ended));
    expect(value(readCheckpoint(path))).toEqual(ended);
  });

  it('no file is an empty checkpoint (the first start)', () => {
    expect(value(readCheckpoint(checkpointPath(dir)))).toEqual(emptyCheckpoint());
  });

  it('writes a temp file, fsyncs it, renames it over, then fsyncs the directory', () => {
    const calls: string[] = [];
    value(writeCheckpoint(checkpointPath(dir), sample, recordingFs(calls)));
    expect(calls).toEqual([
      'open tmp',
      'chmod tmp',
      'write tmp',
      'fsync tmp',
      'close tmp',
      'rename tmp -> checkpoint',
      'open dir',
      'fsync dir',
      'close dir',
    ]);
    expect(fs.readdirSync(dir)).toEqual(['runner-checkpoint.json']);
  });

  it('a failed write leaves the old checkpoint and no temp file, and says which file', () => {
    const path = checkpointPath(dir);
    value(writeCheckpoint(path, sample));
    const io: CheckpointFs = {
      ...recordingFs([]),
      fsyncSync() {
        throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
      },
    };
    const e = failure(writeCheckpoint(path, emptyCheckpoint(), io));
    expect(e.message).toContain(path);
    expect(e.message).toContain('EIO');
    expect(fs.readdirSync(dir)).toEqual(['runner-checkpoint.json']);
    expect(value(readCheckpoint(path))).toEqual(sample);
  });

  it('a corrupt file is an error naming it, moved aside to .corrupt-<ts>, never a throw', () => {
    const path = checkpointPath(dir);
    fs.writeFileSync(path, '{"version":1,"pods":[{"spec":');
    const e = failure(readCheckpoint(path, { now: () => 1234 }));
    expect(e.message).toContain(path);
    expect(e.message).toContain('not valid JSON');
    expect(e.message).toContain(`${path}.corrupt-1234`);
    expect(fs.readdirSync(dir)).toEqual(['runner-checkpoint.json.corrupt-1234']);
    // The next start is clean: no file, nothing to adopt.
    expect(value(readCheckpoint(path))).toEqual(emptyCheckpoint());
  });

  it('valid JSON of the wrong shape is corrupt too, and the message names the field', () => {
    const path = checkpointPath(dir);
    const bad = { ...sample, pods: [{ ...sample.pods[0], pid: 'twelve' }] };
    fs.writeFileSync(path, JSON.stringify(bad));
    const e = failure(readCheckpoint(path, { now: () => 5 }));
    expect(e.message).toContain('pods.0.pid');
    expect(fs.existsSync(`${path}.corrupt-5`)).toBe(true);
  });

  it('version 1 (pid and pgid, before runtimes) is read with each pid as a process ref without a cgroup', () => {
    const path = checkpointPath(dir);
    const { ref: _ref, ...pod } = sample.pods[0] ?? fail();
    fs.writeFileSync(path, JSON.stringify({ ...sample, version: 1, pods: [{ ...pod, pgid: 1234 }] }));
    const read = value(readCheckpoint(path));
    expect(read.version).toBe(2);
    expect(read.pods[0]?.ref).toEqual({ kind: 'process', pid: 1234, startTimeTicks: 99, cgroup: null });
    expect(read.pods[0]).not.toHaveProperty('pgid');
  });

  it('the spec keeps its image, user and limits through a write and a read', () => {
    const path = checkpointPath(dir);
    const base = sample.pods[0] ?? fail();
    const spec = { ...base.spec, image: 'nvcr.io/x:1', runAsUser: 1000, memoryMiB: 512, cpuMillis: 1500 };
    value(writeCheckpoint(path, { ...sample, pods: [{ ...base, spec }] }));
    expect(value(readCheckpoint(path)).pods[0]?.spec).toEqual(spec);
  });

  it('a newer format version is refused but left in place for the newer agent', () => {
    const path = checkpointPath(dir);
    fs.writeFileSync(path, JSON.stringify({ ...sample, version: 3 }));
    expect(failure(readCheckpoint(path)).message).toContain('version 3');
    expect(fs.readdirSync(dir)).toEqual(['runner-checkpoint.json']);
  });
});
