/**
 * The Node and V8 flags the agent process runs with wherever it is deployed: `tessera up` passes
 * them on the agents' command line; the systemd unit (systemd/tessera-agent.service) and the chart's
 * DaemonSet set them as NODE_OPTIONS, and test/deploy/agent-flags.test.ts holds all three to this
 * list. Measured with `npm run bench -- --only agent` (8 simulated GPUs at 1 Hz; figures in
 * agent/README.md, "Memory"):
 *
 * - `--max-semi-space-size=1`: V8's young generation capped at 1 MiB per semi-space (16 MiB by
 *   default on 64-bit). An idle agent allocates little and keeps less; the default lets the young
 *   generation grow to tens of MB of resident pages before a scavenge. The cost is more frequent,
 *   smaller scavenges, well under 1 % of a core at 1 Hz sampling.
 * - `--v8-pool-size=1`: one V8 platform thread for background compilation and GC instead of four;
 *   each thread that allocates gets its own malloc arena, whose pages stay resident.
 */
export const AGENT_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1', '--v8-pool-size=1'];
