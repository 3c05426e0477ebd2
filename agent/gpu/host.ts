/**
 * Facts about the node itself (hostname, OS, CPU, memory) that the agent reports beside its GPUs,
 * read through systeminformation, with Node's `os` module filling any field it cannot read.
 */
import os from 'node:os';
import si from 'systeminformation';

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
  // systeminformation shells out on some platforms and can fail in a locked-down container; the agent
  // must still start, so each source fails on its own and `os` stands in.
  const [osInfo, cpu, mem] = await Promise.all([
    si.osInfo().catch(() => null),
    si.cpu().catch(() => null),
    si.mem().catch(() => null),
  ]);
  const cpus = os.cpus();
  const distro = [osInfo?.distro, osInfo?.release].filter((s) => s !== undefined && s !== '').join(' ');
  const cpuModel = [cpu?.manufacturer, cpu?.brand].filter((s) => s !== undefined && s !== '').join(' ');
  return {
    hostname: osInfo?.hostname || os.hostname(),
    os: distro || os.platform(),
    kernel: osInfo?.kernel || os.release(),
    arch: osInfo?.arch || os.arch(),
    cpuModel: cpuModel || cpus[0]?.model || 'unknown',
    cpuCores: cpu?.cores || cpus.length,
    cpuPhysicalCores: cpu?.physicalCores || cpu?.cores || cpus.length,
    memoryTotalMiB: Math.floor((mem?.total || os.totalmem()) / BYTES_PER_MIB),
  };
}
