/** Whether a command can be started: by its path, or found on a PATH value. */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** True when `cmd` names an executable file: itself when it holds a '/', else on `path` (a PATH value). */
export function findExecutable(cmd: string, path: string | undefined = process.env.PATH): boolean {
  const ok = (p: string): boolean => {
    try {
      accessSync(p, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (cmd.includes('/')) return ok(cmd);
  return (path ?? '').split(delimiter).some((d) => d !== '' && ok(join(d, cmd)));
}
