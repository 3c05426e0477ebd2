import { describe, expect, it } from 'vitest';
import { probeHost } from '../../../agent/host/facts.ts';
import { defaultAdvertiseAddress } from '../../../agent/network.ts';

describe('host probe', () => {
  it('reads the host through systeminformation in a child, once per process', async () => {
    const first = probeHost();
    expect(probeHost()).toBe(first);
    const p = await first;
    expect(p).not.toBeNull();
    expect(p?.distro.length).toBeGreaterThan(0);
    expect(p?.cores).toBeGreaterThan(0);
    expect(p?.interfaces.some((i) => i.internal && i.ip4 === '127.0.0.1')).toBe(true);
    // The agent's default advertise address is the probe's first external, not-down IPv4, else loopback.
    const external = p?.interfaces.find((i) => !i.internal && i.ip4 !== '' && i.operstate !== 'down');
    expect(await defaultAdvertiseAddress()).toBe(external?.ip4 ?? '127.0.0.1');
  });

  it('loads no systeminformation into the process asking', async () => {
    await probeHost();
    const loaded = Object.keys((await import('node:module')).createRequire(import.meta.url).cache);
    expect(loaded.some((f) => f.includes('systeminformation'))).toBe(false);
  });
});
