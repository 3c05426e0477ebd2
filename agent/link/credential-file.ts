/**
 * The node's own credential on disk, `<data>/node-credential.json` (mode 0600). The allocator hands it
 * over in Welcome, on joining and again on later connections (rotation), and a join token registers
 * only a node name not yet known, so a restarted agent must present this credential or it cannot come
 * back as the same node. Written durably (durable-json.ts): a crash leaves the old credential or the
 * new one, and the new one is on disk before the agent relies on it.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { ok, type Result } from '../../common/errors.ts';
import { readJsonRecord, writeJsonDurable } from '../durable-json.ts';

/** The file's name under the agent's data dir. */
export const CREDENTIAL_FILE = 'node-credential.json';

const Saved = z.object({ node: z.string(), credential: z.string().min(1) });

/** Loads and saves one node's credential. */
export interface CredentialKeeper {
  /** The saved credential of this node; null when none is saved (or it is another node's). */
  load(): Result<string | null>;
  /** Saves `credential` durably; the error says why it could not. */
  save(credential: string): Result<void>;
}

/** The credential file of `node` in the agent data dir `dataDir`. */
export function credentialFile(dataDir: string, node: string): CredentialKeeper {
  const path = join(dataDir, CREDENTIAL_FILE);
  return {
    load() {
      const saved = readJsonRecord(path, Saved, {
        what: 'node credential',
        consequence: `; the agent presents its --token instead, and if ${node} is registered already an admin must run tessera node reset ${node}`,
      });
      if (!saved.ok) return saved;
      // Started under another --node name: this credential speaks only for the old one.
      return ok(saved.value !== null && saved.value.node === node ? saved.value.credential : null);
    },
    save: (credential) =>
      writeJsonDurable(path, { node, credential, savedAt: new Date().toISOString() }, 'node credential'),
  };
}
