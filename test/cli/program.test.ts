import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../cli/commands/index.ts';
import { bufferIo } from '../../cli/io.ts';
import { runCli } from '../../cli/program.ts';
import { createProgress } from '../../cli/progress.ts';

async function tessera(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const io = bufferIo();
  const code = await runCli(args, io);
  return { code, stdout: io.stdout, stderr: io.stderr };
}

describe('tessera program', () => {
  it('prints its version from package.json', async () => {
    const r = await tessera('--version');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('lists every registered command in its help', async () => {
    const r = await tessera('--help');
    expect(r.code).toBe(0);
    for (const c of COMMANDS) expect(r.stdout).toContain(c.name);
  });

  it("shows a command's own flags in `help <command>`", async () => {
    const r = await tessera('help', 'simulate');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--policy');
  });

  it('exits 2 with a formatted error on an unknown command or option', async () => {
    const unknown = await tessera('simulat');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^TESSERA_E_INVALID_CONFIG: unknown command 'simulat'/);
    const option = await tessera('simulate', '--nodes', 'n.csv', '--pods', 'p.csv', '--nodez', 'x');
    expect(option.code).toBe(2);
    expect(option.stderr).toContain("unknown option '--nodez'");
  });

  it('exits 2 and shows help when no command is given', async () => {
    const r = await tessera();
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Usage: tessera');
  });

  it('registers commands that load and configure', async () => {
    for (const c of COMMANDS) {
      const mod = await c.load();
      expect(typeof mod.configure).toBe('function');
    }
  });
});

describe('progress bar', () => {
  it('draws on a terminal and erases itself when done', () => {
    const io = bufferIo();
    io.errIsTty = true;
    let clock = 0;
    const p = createProgress(io, 'run', () => clock);
    p.update(0.5, 'half');
    clock += 10;
    p.update(0.6, 'skipped: redraws are throttled');
    p.done();
    expect(io.stderr).toContain('50% half');
    expect(io.stderr).not.toContain('skipped');
    expect(io.stderr.endsWith('\r\x1b[K')).toBe(true);
    expect(io.stdout).toBe('');
  });

  it('stays silent when stderr is not a terminal', () => {
    const io = bufferIo();
    const p = createProgress(io, 'run');
    p.update(0.5, 'half');
    p.done();
    expect(io.stderr).toBe('');
  });
});
