import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CREDENTIAL_FILE, credentialFile } from '../../../agent/link/credential-file.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'tessera-cred-'));
  dirs.push(d);
  return d;
}

describe('the node credential file', () => {
  it('keeps the credential of its node across restarts, readable by its owner alone', () => {
    const dir = dataDir();
    expect(credentialFile(dir, 'gpu-07').load()).toEqual({ ok: true, value: null });
    expect(credentialFile(dir, 'gpu-07').save('tn.abc.secret').ok).toBe(true);
    expect(credentialFile(dir, 'gpu-07').load()).toEqual({ ok: true, value: 'tn.abc.secret' });
    expect(statSync(join(dir, CREDENTIAL_FILE)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(join(dir, CREDENTIAL_FILE), 'utf8'))).toMatchObject({
      node: 'gpu-07',
      credential: 'tn.abc.secret',
    });
  });

  it("ignores another node's credential: an agent renamed with --node joins as the new name", () => {
    const dir = dataDir();
    credentialFile(dir, 'gpu-07').save('tn.abc.secret');
    expect(credentialFile(dir, 'gpu-08').load()).toEqual({ ok: true, value: null });
  });

  it('moves a corrupt file aside and says how to recover', () => {
    const dir = dataDir();
    writeFileSync(join(dir, CREDENTIAL_FILE), '{not json');
    const r = credentialFile(dir, 'gpu-07').load();
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.message).toContain(join(dir, CREDENTIAL_FILE));
    expect(r.error.message).toContain('tessera node reset gpu-07');
    expect(credentialFile(dir, 'gpu-07').load()).toEqual({ ok: true, value: null });
  });
});
