import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../bin/tessera.js', import.meta.url));

describe('processIo', () => {
  it('ends quietly with status 0 when the reader closes the pipe early (tessera ... | head)', async () => {
    const child = spawn(process.execPath, [BIN, 'agent', '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    // A reader gone before the first write (`| head -1` that has already exited): every write fails.
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(stderr).not.toContain('EPIPE');
    expect(code).toBe(0);
  });
});
