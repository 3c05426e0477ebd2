/**
 * The node's network as the agent reports it: the address its pods are reached at and the host port
 * range the allocator assigns their ports from (`--advertise-address`, `--port-range`). Pods share
 * the host's network, so these are the host's own.
 */
import { err, ok, type Result, tesseraError } from '../common/errors.ts';
import type { PortRange } from '../common/wire.ts';
import { probeHost } from './host/facts.ts';

/**
 * The default `--port-range`: a thousand ports below Linux's ephemeral range (32768-60999 by default
 * overlaps it, but outgoing connections take ephemeral ports only when free, and a listener bound
 * first keeps its port).
 */
export const DEFAULT_PORT_RANGE: PortRange = { first: 40_000, last: 40_999 };

/** The address reported when the host has no non-internal IPv4 interface (a laptop offline, a test). */
export const LOOPBACK_ADDRESS = '127.0.0.1';

/** `FIRST-LAST` as a port range, 1 <= FIRST <= LAST <= 65535, or why not. */
export function parsePortRange(text: string): Result<PortRange> {
  const m = /^(\d{1,5})-(\d{1,5})$/.exec(text.trim());
  const first = Number(m?.[1]);
  const last = Number(m?.[2]);
  if (m === null || first < 1 || last > 65_535 || last < first)
    return err(
      tesseraError(
        'TESSERA_E_INVALID_CONFIG',
        `port range ${JSON.stringify(text)} is not FIRST-LAST with 1 <= FIRST <= LAST <= 65535 (e.g. ${DEFAULT_PORT_RANGE.first}-${DEFAULT_PORT_RANGE.last})`,
        { field: 'port-range' },
      ),
    );
  return ok({ first, last });
}

/** The first non-internal IPv4 address of the host whose link is not down (systeminformation, via the host probe), else 127.0.0.1; never rejects. */
export async function defaultAdvertiseAddress(): Promise<string> {
  const probe = await probeHost();
  for (const i of probe?.interfaces ?? [])
    if (!i.internal && i.ip4 !== '' && i.operstate !== 'down') return i.ip4;
  return LOOPBACK_ADDRESS;
}
