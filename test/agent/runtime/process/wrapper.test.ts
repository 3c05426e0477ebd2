import { describe, expect, it } from 'vitest';
import { wrapperArgv } from '../../../../agent/runtime/process/wrapper.ts';

describe('the pod wrapper argv', () => {
  it('joins every procs file, then drops to the pod user, then runs the command unchanged', () => {
    const argv = wrapperArgv(['/cg/a/cgroup.procs', '/cg/b/cgroup.procs'], { uid: 200001, gid: 200001 }, [
      'python',
      'train.py',
      '--lr',
      '$HOME',
    ]);
    expect(argv.slice(0, 2)).toEqual(['/bin/sh', '-c']);
    expect(argv.slice(3)).toEqual([
      'tessera-pod',
      '2',
      '/cg/a/cgroup.procs',
      '/cg/b/cgroup.procs',
      'setpriv',
      '--reuid=200001',
      '--regid=200001',
      '--clear-groups',
      '--no-new-privs',
      '--',
      'python',
      'train.py',
      '--lr',
      '$HOME',
    ]);
  });

  it('without a cgroup or a user to become, only runs the command', () => {
    expect(wrapperArgv([], null, ['true']).slice(3)).toEqual(['tessera-pod', '0', 'true']);
  });
});
