/** TLS material for tests: a CA and an allocator certificate made the way `tessera up` makes them. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureLocalTls, type LocalTls } from '../cli/local-ca.ts';
import { value } from './result.ts';

/** A fresh CA and a certificate for localhost, 127.0.0.1 and ::1 in a new temp dir. */
export async function makeTestTls(nowMs = Date.now()): Promise<LocalTls & { dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-tls-'));
  const made = value(await ensureLocalTls(dir, { dns: ['localhost'], ips: ['127.0.0.1', '::1'] }, nowMs));
  return { ...made, dir };
}
