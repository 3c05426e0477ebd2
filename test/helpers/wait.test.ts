import { describe, expect, it } from 'vitest';
import { GiveUp, until } from './wait.ts';

describe('until', () => {
  it('returns the first truthy value of the check', async () => {
    let n = 0;
    expect(await until(() => (++n >= 3 ? n : null), 'the third check')).toBe(3);
    expect(await until(async () => 'now', 'an async check')).toBe('now');
  });

  it('names what it waited for and the last error when it times out', async () => {
    await expect(until(() => false, 'the moon', 60)).rejects.toThrow(
      'timed out after 60 ms waiting for the moon',
    );
    await expect(
      until(
        () => {
          throw new Error('refused');
        },
        'the server',
        60,
      ),
    ).rejects.toThrow('waiting for the server (last error: refused)');
  });

  it('stops at once on a GiveUp', async () => {
    const t0 = Date.now();
    await expect(
      until(
        () => {
          throw new GiveUp('it exited');
        },
        'the process',
        5000,
      ),
    ).rejects.toThrow('it exited');
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});
