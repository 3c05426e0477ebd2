/**
 * Which GPUs a container sees: by CDI where the node has a spec for `nvidia.com/gpu` (NVIDIA's
 * Container Toolkit writes one with `nvidia-ctk cdi generate`, and it also brings the driver's
 * libraries and tools into the container), else the granted `/dev/nvidia<minor>` nodes plus the
 * shared control nodes; simulated GPUs need only their state dir.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { err, ok, type Result, tesseraError } from '../../../common/errors.ts';
import type { GpuGrant } from '../../../common/resources.ts';

/** The control nodes every CUDA process opens, added where the host has them. */
export const SHARED_DEVICE_NODES = ['/dev/nvidiactl', '/dev/nvidia-uvm', '/dev/nvidia-uvm-tools'] as const;

/** True when a CDI spec in `dirs` declares the `nvidia.com/gpu` kind (JSON or YAML). */
export function hasNvidiaCdiSpec(dirs: readonly string[]): boolean {
  for (const dir of dirs) {
    let names: string[] = [];
    try {
      names = readdirSync(dir).filter((n) => /\.(json|ya?ml)$/.test(n));
    } catch {
      continue;
    }
    for (const n of names) {
      try {
        if (/["']?kind["']?\s*:\s*["']?nvidia\.com\/gpu\b/.test(readFileSync(join(dir, n), 'utf8')))
          return true;
      } catch {
        // Unreadable spec: podman could not use it either.
      }
    }
  }
  return false;
}

/** How a node exposes GPUs to containers. */
export type GpuAccess =
  | { kind: 'cdi' }
  | { kind: 'nodes'; minorNumberOf: (uuid: string) => number | null; exists: (path: string) => boolean }
  | { kind: 'sim'; stateDir: string };

/** The `--device` values and extra binds for a pod's grants (pure given `access`). */
export function gpuDevices(
  grants: readonly GpuGrant[],
  access: GpuAccess,
): Result<{ devices: string[]; mounts: { hostPath: string; containerPath: string; readOnly: boolean }[] }> {
  if (grants.length === 0) return ok({ devices: [], mounts: [] });
  const uuids = [...new Set(grants.map((g) => g.uuid))];
  if (access.kind === 'sim') {
    return ok({
      devices: [],
      mounts: [{ hostPath: access.stateDir, containerPath: access.stateDir, readOnly: false }],
    });
  }
  if (access.kind === 'cdi') return ok({ devices: uuids.map((u) => `nvidia.com/gpu=${u}`), mounts: [] });
  const devices: string[] = [];
  for (const u of uuids) {
    const minor = access.minorNumberOf(u);
    if (minor === null) {
      return err(
        tesseraError(
          'TESSERA_E_GPU_DRIVER',
          `GPU ${u} has no known device minor number, so its /dev/nvidia<minor> node cannot be chosen; generate a CDI spec (nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml)`,
          { context: { gpu: u } },
        ),
      );
    }
    devices.push(`/dev/nvidia${minor}`);
  }
  for (const d of SHARED_DEVICE_NODES) if (access.exists(d)) devices.push(d);
  return ok({ devices, mounts: [] });
}

/** The access this node offers, looked up at launch (a CDI spec may be generated after the agent starts). */
export function detectGpuAccess(
  cdiSpecDirs: readonly string[],
  simStateDir: string | null,
  minorNumberOf: (uuid: string) => number | null,
): GpuAccess {
  if (simStateDir !== null) return { kind: 'sim', stateDir: simStateDir };
  if (hasNvidiaCdiSpec(cdiSpecDirs)) return { kind: 'cdi' };
  return { kind: 'nodes', minorNumberOf, exists: existsSync };
}
