import { describe, expect, it } from 'vitest';
import { withHamiCacheIn } from '../../../agent/runtime/hami-cache.ts';

describe('withHamiCacheIn', () => {
  it("moves HAMi-core's accounting file into a dir the pod writes, keeping its per-epoch name", () => {
    const env = {
      CUDA_DEVICE_MEMORY_SHARED_CACHE: '/var/lib/tessera/agent/pods/p1/hami-core-e3.cache',
      A: '1',
    };
    expect(withHamiCacheIn(env, '/var/lib/tessera/pods/p1')).toEqual({
      CUDA_DEVICE_MEMORY_SHARED_CACHE: '/var/lib/tessera/pods/p1/hami-core-e3.cache',
      A: '1',
    });
    expect(withHamiCacheIn(env, '/tmp').CUDA_DEVICE_MEMORY_SHARED_CACHE).toBe('/tmp/hami-core-e3.cache');
    // The input is not changed (it is the runner's record of the pod's env).
    expect(env.CUDA_DEVICE_MEMORY_SHARED_CACHE).toBe('/var/lib/tessera/agent/pods/p1/hami-core-e3.cache');
  });

  it('leaves an env without HAMi-core as it is', () => {
    expect(withHamiCacheIn({ PATH: '/bin' }, '/tmp')).toEqual({ PATH: '/bin' });
  });
});
