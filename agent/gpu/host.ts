/**
 * Facts about the node itself (hostname, OS, CPU, memory) that the agent reports beside its GPUs,
 * from Node's `os` module, /etc/os-release and /proc/cpuinfo. Read directly rather than through a
 * system-information library: the agent is a resident daemon, and such a library's code would stay
 * in its memory for good after one read at start (see "Memory" in agent/README.md).
 */
import { readFile } from 'node:fs/promises';
import os from 'node:os';

/** The node's static facts. Memory in MiB, like every other memory figure in Tessera. */
export interface HostFacts {
  hostname: string;
  /** Distribution and release, e.g. `Ubuntu 22.04.4 LTS`, or the platform where there is none. */
  os: string;
  kernel: string;
  arch: string;
  cpuModel: string;
  /** Logical cores (hardware threads): what the scheduler's cpuMillis are counted against. */
  cpuCores: number;
  cpuPhysicalCores: number;
  memoryTotalMiB: number;
}

const BYTES_PER_MIB = 1024 * 1024;

/** The distribution's name from os-release(5) text: PRETTY_NAME, else NAME and VERSION; '' if none. */
export function distroName(osRelease: string): string {
  const fields = new Map<string, string>();
  for (const line of osRelease.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m !== null) fields.set(m[1] ?? '', (m[2] ?? '').replace(/^(["'])(.*)\1$/, '$2'));
  }
  const pretty = fields.get('PRETTY_NAME');
  if (pretty !== undefined && pretty !== '') return pretty;
  return [fields.get('NAME'), fields.get('VERSION')].filter((s) => s !== undefined && s !== '').join(' ');
}

/** Physical cores in /proc/cpuinfo text (distinct physical id and core id pairs); null when it does not say. */
export function physicalCores(cpuinfo: string): number | null {
  const cores = new Set<string>();
  for (const block of cpuinfo.split(/\n\s*\n/)) {
    const pkg = /^physical id\s*:\s*(\d+)/m.exec(block)?.[1];
    const core = /^core id\s*:\s*(\d+)/m.exec(block)?.[1];
    if (pkg !== undefined && core !== undefined) cores.add(`${pkg}:${core}`);
  }
  return cores.size > 0 ? cores.size : null;
}

/** Reads the node's hostname, OS, CPU and memory; never rejects (a file it cannot read leaves Node's answer). */
export async function hostFacts(): Promise<HostFacts> {
  const [osRelease, cpuinfo] = await Promise.all([
    readFile('/etc/os-release', 'utf8').catch(() => readFile('/usr/lib/os-release', 'utf8').catch(() => '')),
    readFile('/proc/cpuinfo', 'utf8').catch(() => ''),
  ]);
  const cpus = os.cpus();
  const logical = cpus.length || 1;
  return {
    hostname: os.hostname(),
    os: distroName(osRelease) || os.platform(),
    kernel: os.release(),
    arch: os.arch(),
    cpuModel: cpus[0]?.model.trim() || 'unknown',
    cpuCores: logical,
    cpuPhysicalCores: Math.min(physicalCores(cpuinfo) ?? logical, logical),
    memoryTotalMiB: Math.floor(os.totalmem() / BYTES_PER_MIB),
  };
}
