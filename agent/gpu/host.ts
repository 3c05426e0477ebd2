/**
 * Facts about the node itself (hostname, OS, CPU, memory) that the agent reports beside its GPUs,
 * read through systeminformation (in a short-lived child, agent/host/facts.ts), with Node's `os`
 * module filling any field it cannot read.
 */
import os from 'node:os';
import { probeHost } from '../host/facts.ts';

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

/** Reads the node's hostname, OS, CPU and memory; never rejects (falls back to `node:os`). */
export async function hostFacts(): Promise<HostFacts> {
  const p = await probeHost();
  const cpus = os.cpus();
  return {
    hostname: p?.hostname || os.hostname(),
    os: p?.distro || os.platform(),
    kernel: p?.kernel || os.release(),
    arch: p?.arch || os.arch(),
    cpuModel: p?.cpuModel || cpus[0]?.model.trim() || 'unknown',
    cpuCores: p?.cores || cpus.length,
    cpuPhysicalCores: p?.physicalCores || p?.cores || cpus.length,
    memoryTotalMiB: Math.floor((p?.memoryBytes || os.totalmem()) / BYTES_PER_MIB),
  };
}
