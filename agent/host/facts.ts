/**
 * What systeminformation says about this host, read once per process by a short-lived child
 * (probe.mjs) so the library's code never stays resident in the agent (agent/README.md, "Memory").
 * Null where the probe could not run or said nothing usable: callers fall back to `node:os`.
 */
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { z } from 'zod';

const PROBE = fileURLToPath(new URL('./probe.mjs', import.meta.url));

/** Long enough for a cold start on a loaded node; an agent must not hang on its host's facts. */
const PROBE_TIMEOUT_MS = 20_000;

const text = z.string().nullable();
const count = z.number().int().positive().nullable();
const probeSchema = z.object({
  hostname: text,
  distro: z.string(),
  kernel: text,
  arch: text,
  cpuModel: z.string(),
  cores: count,
  physicalCores: count,
  memoryBytes: z.number().positive().nullable(),
  interfaces: z.array(z.object({ ip4: z.string(), internal: z.boolean(), operstate: z.string() })),
});

/** The probe's answer. */
export type HostProbe = z.infer<typeof probeSchema>;

let once: Promise<HostProbe | null> | null = null;

/** The host's facts as the probe reads them, once per process; null when it failed (never rejects). */
export function probeHost(): Promise<HostProbe | null> {
  once ??= runProbe();
  return once;
}

async function runProbe(): Promise<HostProbe | null> {
  try {
    const { stdout } = await execa(process.execPath, [PROBE], { timeout: PROBE_TIMEOUT_MS, env: {} });
    const parsed = probeSchema.safeParse(JSON.parse(stdout));
    return parsed.success ? parsed.data : null;
  } catch {
    // A locked-down container may refuse what the library shells out to: the agent still starts.
    return null;
  }
}
