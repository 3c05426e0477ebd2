import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { distroName, hostFacts, physicalCores } from '../../../agent/gpu/host.ts';

describe('hostFacts', () => {
  it('reports this machine: hostname, OS, CPU and memory in MiB', async () => {
    const facts = await hostFacts();
    expect(facts.hostname).toBe(os.hostname());
    expect(facts.os.length).toBeGreaterThan(0);
    expect(facts.kernel).toBe(os.release());
    expect(facts.arch).toBe(os.arch());
    expect(facts.cpuModel.length).toBeGreaterThan(0);
    expect(facts.cpuCores).toBe(os.cpus().length);
    expect(facts.cpuPhysicalCores).toBeGreaterThan(0);
    expect(facts.cpuPhysicalCores).toBeLessThanOrEqual(facts.cpuCores);
    // The /proc/meminfo total, rounded down to MiB.
    expect(Math.abs(facts.memoryTotalMiB - os.totalmem() / 1024 / 1024)).toBeLessThan(2);
  });

  it('names the distribution from os-release: PRETTY_NAME, else NAME and VERSION', () => {
    expect(
      distroName(
        'NAME="Ubuntu"\nVERSION="22.04.4 LTS (Jammy Jellyfish)"\nPRETTY_NAME="Ubuntu 22.04.4 LTS"\n',
      ),
    ).toBe('Ubuntu 22.04.4 LTS');
    expect(distroName("NAME='Rocky Linux'\nVERSION=9.3\n")).toBe('Rocky Linux 9.3');
    expect(distroName('# nothing here\n')).toBe('');
  });

  it('counts physical cores as distinct (physical id, core id) pairs, null when cpuinfo has none', () => {
    const cpu = (pkg: number, core: number) =>
      `processor\t: 0\nphysical id\t: ${pkg}\ncore id\t\t: ${core}\n`;
    // Two sockets of two cores, each with two hardware threads: 8 logical, 4 physical.
    const smt = [0, 1].flatMap((p) => [0, 1].flatMap((c) => [cpu(p, c), cpu(p, c)]));
    expect(physicalCores(smt.join('\n'))).toBe(4);
    expect(physicalCores('processor\t: 0\nmodel name\t: ARMv8\n')).toBeNull();
  });
});
