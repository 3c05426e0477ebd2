/**
 * Reads a YAML or JSON document a user hands a command with `-f` (a policy, rules, a workload).
 * YAML is a superset of JSON, so one parser reads both; `-` reads stdin. Errors name the file.
 */
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { tesseraError } from '../../common/errors.ts';
import { failure } from '../errors.ts';

/** The parsed document in `path` (`-` = stdin); a CliError (exit 1) when unreadable or malformed. */
export async function readDataFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = path === '-' ? await readStdin() : await readFile(path, 'utf8');
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw failure(tesseraError('TESSERA_E_INVALID_CONFIG', `cannot read ${path}: ${why}`, { field: '-f' }));
  }
  try {
    return parse(text) as unknown;
  } catch (e) {
    const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw failure(
      tesseraError('TESSERA_E_INVALID_SPEC', `${path} is not valid YAML or JSON: ${why}`, { field: '-f' }),
    );
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}
