/**
 * `tessera agent --pods FILE`: a JSON list of pod specs, validated, their GPUs named by index or
 * UUID resolved against the node's inventory, and started unless already running or already run.
 * The agent runs them until an allocator assigns pods (agent/README.md, "--pods FILE").
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { err, ok, type Result, tesseraError } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import { type GpuGrant, MILLI_PER_GPU, parseMemoryMiB } from '../common/resources.ts';
import type { Agent } from './agent.ts';
import type { GpuInventory } from './gpu/index.ts';
import type { PodSpec } from './runner/index.ts';

/** Starts the file's pods, skipping those already running (adopted) or already run (fencing). */
export function startFilePods(agent: Agent, specs: FilePod[], log: Logger): Result<void> {
  for (const p of specs) {
    const spec = resolveGrants(p, agent.inventory);
    if (!spec.ok) return spec;
    const known = agent.status().pods.find((s) => s.podId === p.podId && s.epoch === spec.value.epoch);
    if (known !== undefined) {
      log.info(
        `pod ${p.podId} epoch ${known.epoch} is already known here (${known.state}); not started again`,
      );
      continue;
    }
    const r = agent.startPod(spec.value);
    if (!r.ok) return r;
  }
  return ok(undefined);
}

const Quantity = z.union([z.number(), z.string()]);
const FileGrantSchema = z
  .object({
    uuid: z.string().optional(),
    index: z.number().int().nonnegative().optional(),
    gpuMilli: z.number().int().min(1).max(MILLI_PER_GPU).default(MILLI_PER_GPU),
    memoryMiB: Quantity,
    memoryLimitMiB: Quantity.optional(),
  })
  .refine(
    (g) => (g.uuid === undefined) !== (g.index === undefined),
    'a grant names its GPU by uuid or index',
  );
const FilePodSchema = z.object({
  podId: z.string().min(1),
  workload: z.string().optional(),
  project: z.string().default('default'),
  epoch: z.number().int().nonnegative().default(1),
  command: z.array(z.string()).min(1),
  env: z.record(z.string(), z.string()).default({}),
  workingDir: z.string().optional(),
  grants: z.array(FileGrantSchema).default([]),
  priority: z.number().default(0),
  graceSeconds: z.number().nonnegative().default(10),
  readiness: z
    .object({ linePrefix: z.string().nullable().optional(), delayMs: z.number().nullable().optional() })
    .optional(),
  // Run in a container (`--runtime container`); as in the workload spec, without the pull secret.
  image: z.string().min(1).optional(),
  imagePullPolicy: z.enum(['IfNotPresent', 'Always', 'Never']).optional(),
  runAsUser: z.number().int().nonnegative().optional(),
  runAsGroup: z.number().int().nonnegative().optional(),
  mounts: z
    .array(z.object({ hostPath: z.string(), containerPath: z.string(), readOnly: z.boolean().default(true) }))
    .optional(),
  cpuMillis: z.number().int().nonnegative().optional(),
  memoryMiB: z.number().int().nonnegative().optional(),
});
export type FilePod = z.infer<typeof FilePodSchema>;

/** Reads a `--pods` file: a JSON list of pod specs (see agent/README.md), validated. */
export async function readPodsFile(file: string): Promise<Result<FilePod[]>> {
  const bad = (why: string) =>
    err(
      tesseraError('TESSERA_E_INVALID_SPEC', `--pods ${file}: ${why}`, {
        field: 'pods',
        context: { path: file },
      }),
    );
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    return bad(e instanceof Error ? e.message : String(e));
  }
  const parsed = z.array(FilePodSchema).safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return bad(issue === undefined ? 'invalid' : `[${issue.path.join('.')}]: ${issue.message}`);
  }
  return ok(parsed.data);
}

/** A file pod as a PodSpec: GPUs named by index resolved to UUIDs, memory quantities to MiB. */
function resolveGrants(p: FilePod, inventory: GpuInventory): Result<PodSpec> {
  const grants: GpuGrant[] = [];
  for (const [i, g] of p.grants.entries()) {
    const field = `pods[${p.podId}].grants[${i}]`;
    const gpu = inventory.gpus.find((x) => (g.uuid === undefined ? x.index === g.index : x.uuid === g.uuid));
    if (gpu === undefined) {
      const which = g.uuid ?? `index ${g.index}`;
      return err(tesseraError('TESSERA_E_INVALID_SPEC', `${field}: no GPU ${which} on this node`, { field }));
    }
    const memoryMiB = parseMemoryMiB(g.memoryMiB, `${field}.memoryMiB`);
    if (!memoryMiB.ok) return memoryMiB;
    const limit = parseMemoryMiB(g.memoryLimitMiB ?? memoryMiB.value, `${field}.memoryLimitMiB`);
    if (!limit.ok) return limit;
    grants.push({
      uuid: gpu.uuid,
      gpuMilli: g.gpuMilli,
      memoryMiB: memoryMiB.value,
      memoryLimitMiB: limit.value,
    });
  }
  const { readiness, workingDir, ...rest } = p;
  return ok({
    ...rest,
    workload: p.workload ?? p.podId,
    grants,
    ...(workingDir === undefined ? {} : { workingDir }),
    ...(readiness === undefined ? {} : { readiness }),
  });
}
