/**
 * `tessera workspace open NAME` (and the runai verbs of workload-verbs.ts): prints where a workspace's tool is served (the allocator's
 * `/serve/PROJECT/NAME/`) and how to call it: the URL alone needs a token that may read the project,
 * sent as `Authorization: Bearer`, unless the workspace is public.
 */
import type { Command } from 'commander';
import { tesseraError } from '../../common/errors.ts';
import { addClientOptions } from '../client/connect.ts';
import { type OutputFormat, outputOption, printData } from '../client/output.ts';
import { connectToWorkload, projectOption, workloadArgument } from '../client/resolve.ts';
import { failure } from '../errors.ts';
import type { CliContext } from './index.ts';
import { addWorkloadVerbs } from './workload-verbs.ts';

const EXAMPLES = `
Examples:
  tessera workspace open notebook -p vision
  curl -H "Authorization: Bearer $TESSERA_TOKEN" "$(tessera workspace open notebook -p vision -o json | jq -r .url)"
`;

/** What `open` prints. */
export interface WorkspaceOpen {
  name: string;
  project: string;
  url: string;
  tool: string | null;
  phase: string;
  readyReplicas: number;
  public: boolean;
}

/** The text form: the URL first (so `| head -1` gets it), then how to send the token. */
export function openText(o: WorkspaceOpen): string {
  const lines = [o.url, `workspace ${o.name} (project ${o.project}, ${o.phase}, tool ${o.tool ?? 'none'})`];
  if (o.readyReplicas === 0)
    lines.push('not ready yet: a request waits for it (up to a minute) or answers 503');
  lines.push(
    o.public
      ? 'public: no token needed where the allocator allows public serving'
      : 'send a token that may read the project: curl -H "Authorization: Bearer $TESSERA_TOKEN" URL (tessera login stores one; tessera token create makes one)',
  );
  return `${lines.join('\n')}\n`;
}

/** Adds `workspace open` and the runai verbs (`workspace submit|list|describe|...`) to `command`. */
export function configure(command: Command, ctx: CliContext): void {
  const { io } = ctx;
  command.description(
    "Open a workspace's served tool (jupyter, vscode or custom); submit, list, describe, suspend, resume, delete workspaces and read their logs.",
  );
  addWorkloadVerbs(command, ctx, 'workspace');
  addClientOptions(
    command
      .command('open')
      .description("Print the URL of a workspace's tool and how to send your token to it.")
      .addArgument(workloadArgument())
      .addOption(projectOption())
      .addOption(outputOption())
      .addHelpText('after', EXAMPLES),
  ).action(async (ref: string, _flags: unknown, cmd: Command) => {
    const flags = cmd.opts<{ output: OutputFormat }>();
    const { workload } = await connectToWorkload(ref, cmd);
    const w = workload;
    if (w.url === undefined)
      throw failure(
        tesseraError(
          'TESSERA_E_INVALID_SPEC',
          `${w.name} is a ${w.type} workload, which is not served; tessera workspace open takes a workspace (or an inference workload)`,
        ),
      );
    const open: WorkspaceOpen = {
      name: w.name,
      project: w.project,
      url: w.url,
      tool: w.tool ?? null,
      phase: w.phase,
      readyReplicas: w.readyReplicas ?? 0,
      public: w.public === true,
    };
    printData(io, flags.output, open, openText);
  });
}
