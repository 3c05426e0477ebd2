import { describe, expect, it } from 'vitest';
import type { CgroupLayout } from '../../../../agent/runtime/cgroup.ts';
import {
  cgroupFromPath,
  cgroupPathOfProc,
  endFromState,
  isRunning,
  parseInspect,
} from '../../../../agent/runtime/container/inspect.ts';

const ID = '38e07e7a0c6fa77546f9b0796fb882278be533eb9165732ca56510642bfce5b7';

/** The fields podman 4.3.1 printed for a running container (trimmed to what is read). */
const running = JSON.stringify([
  {
    Id: ID,
    Name: 'tessera-pod-1-e3',
    State: {
      Status: 'running',
      Running: true,
      OOMKilled: false,
      Pid: 10421,
      ExitCode: 0,
      Error: '',
      CgroupPath: `/tessera/node-a/libpod-${ID}`,
    },
    Config: { Labels: { 'tessera.pod': 'pod-1', 'tessera.epoch': '3', 'tessera.node': 'node-a' } },
  },
]);

describe('parseInspect', () => {
  it('reads id, name, status, pid, cgroup path and labels', () => {
    const [s] = parseInspect(running);
    expect(s).toEqual({
      id: ID,
      name: 'tessera-pod-1-e3',
      status: 'running',
      pid: 10421,
      exitCode: 0,
      oomKilled: false,
      error: '',
      cgroupPath: `/tessera/node-a/libpod-${ID}`,
      labels: { 'tessera.pod': 'pod-1', 'tessera.epoch': '3', 'tessera.node': 'node-a' },
    });
    expect(s && isRunning(s)).toBe(true);
  });
  it('yields nothing for `[]` (no such container), garbage, or entries without an id', () => {
    expect(parseInspect('[]')).toEqual([]);
    expect(parseInspect('Error: no such object')).toEqual([]);
    expect(parseInspect('[{"State":{}}]')).toEqual([]);
  });
});

describe('endFromState', () => {
  const base = parseInspect(running)[0];
  if (base === undefined) throw new Error('fixture');
  it('keeps a crash exit code', () => {
    expect(endFromState({ ...base, status: 'exited', exitCode: 7 })).toEqual({
      exitCode: 7,
      signal: null,
      reason: null,
    });
  });
  it('names the signal of 128+n and says OOMKilled when podman does', () => {
    expect(endFromState({ ...base, status: 'exited', exitCode: 137, oomKilled: true })).toEqual({
      exitCode: 137,
      signal: 'SIGKILL',
      reason: 'OOMKilled',
    });
    expect(endFromState({ ...base, status: 'exited', exitCode: 143 }).signal).toBe('SIGTERM');
  });
  it('passes on podman own error for the container', () => {
    expect(
      endFromState({ ...base, status: 'exited', exitCode: 127, error: 'OCI runtime error' }).reason,
    ).toBe('OCI runtime error');
  });
});

describe('cgroupFromPath', () => {
  const hybrid: CgroupLayout = {
    mode: 'hybrid',
    unified: '/sys/fs/cgroup/unified',
    v1: { memory: '/sys/fs/cgroup/memory', freezer: '/sys/fs/cgroup/freezer', pids: '/sys/fs/cgroup/pids' },
    unifiedControllers: [],
  };
  const path = `/tessera/node-a/libpod-${ID}`;
  it('puts the same relative path under each hierarchy that has it (cgroupfs manager)', () => {
    expect(cgroupFromPath(hybrid, path, (d) => !d.startsWith('/sys/fs/cgroup/pids'))).toEqual({
      unified: `/sys/fs/cgroup/unified${path}`,
      v1: { memory: `/sys/fs/cgroup/memory${path}`, freezer: `/sys/fs/cgroup/freezer${path}` },
    });
  });
  it('is null for a container that does not run or a host without cgroups', () => {
    expect(cgroupFromPath(hybrid, '', () => true)).toBeNull();
    expect(cgroupFromPath(hybrid, path, () => false)).toBeNull();
    expect(
      cgroupFromPath({ mode: 'none', unified: null, v1: {}, unifiedControllers: [] }, path, () => true),
    ).toBeNull();
  });
});

describe('cgroupPathOfProc', () => {
  it('reads the v2 line of /proc/<pid>/cgroup, else the v1 freezer line', () => {
    const hybrid = `9:name=systemd:/tessera/n1/libpod-${ID}\n6:freezer:/tessera/n1/libpod-${ID}\n0::/tessera/n1/libpod-${ID}\n`;
    expect(cgroupPathOfProc(hybrid)).toBe(`/tessera/n1/libpod-${ID}`);
    expect(cgroupPathOfProc(`4:cpu,freezer:/a/b\n0::/\n`)).toBe('/a/b');
    expect(cgroupPathOfProc('')).toBe('');
  });
});
