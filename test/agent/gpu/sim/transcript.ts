/** Reads fixtures/nvidia-smi-cli_*.txt: real invocations with their exit code, stdout and stderr. */
import { readFileSync } from 'node:fs';

export interface CapturedRun {
  /** Arguments after `nvidia-smi`, as typed (split on spaces). */
  args: string[];
  command: string;
  exitCode: number;
  stdout: string;
  stderr: string;
}

export function readTranscript(file: string): CapturedRun[] {
  const text = readFileSync(file, 'utf8');
  const runs: CapturedRun[] = [];
  for (const block of text.split(/^### \$ /m).slice(1)) {
    const firstNewline = block.indexOf('\n');
    const command = block.slice(0, firstNewline);
    const rest = block.slice(firstNewline + 1);
    const m = /^--- rc=(\d+) stdout:\n/.exec(rest);
    if (m === null) throw new Error(`bad transcript block: ${command}`);
    const body = rest.slice(m[0].length);
    const split = body.lastIndexOf('--- stderr:\n');
    runs.push({
      command,
      args: command.split(' ').slice(1),
      exitCode: Number(m[1]),
      stdout: body.slice(0, split),
      stderr: body.slice(split + '--- stderr:\n'.length),
    });
  }
  return runs;
}

/** A CSV cell reduced to its shape: digits become N, a GPU UUID becomes UUID. */
export function cellShape(cell: string): string {
  return cell.replace(/GPU-[0-9a-f-]{36}/g, 'UUID').replace(/\d+/g, 'N');
}

export function rowShape(line: string): string[] {
  return line.split(', ').map(cellShape);
}
