import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { hostFacts } from '../../../agent/gpu/host.ts';

describe('hostFacts', () => {
  it('reports this machine: hostname, OS, CPU and memory in MiB', async () => {
    const facts = await hostFacts();
    expect(facts.hostname).toBe(os.hostname());
    expect(facts.os.length).toBeGreaterThan(0);
    expect(facts.kernel.length).toBeGreaterThan(0);
    expect(facts.arch).toBe(os.arch());
    expect(facts.cpuModel.length).toBeGreaterThan(0);
    expect(facts.cpuCores).toBeGreaterThan(0);
    expect(facts.cpuPhysicalCores).toBeGreaterThan(0);
    expect(facts.cpuPhysicalCores).toBeLessThanOrEqual(facts.cpuCores);
    // systeminformation and Node read the same /proc/meminfo total, up to rounding to MiB.
    expect(Math.abs(facts.memoryTotalMiB - os.totalmem() / 1024 / 1024)).toBeLessThan(2);
  });
});
