/**
 * Who may open the agent link: the upgrade's path and bearer, checked before any websocket exists.
 * The leader's link (server.ts) and a standby's door (ha/standby-door.ts) admit alike, so an
 * unauthenticated peer learns nothing from either.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type AgentIdentity, agentIdentityOf } from '../identity/nodes.ts';
import { bearerOf, type TokenStore } from '../identity/tokens.ts';
import { refuseUpgrade } from './close.ts';

/** The one path agents connect to. */
export const AGENT_CONNECT_PATH = '/api/v1/agents/connect';

/** True when `req` asks for the agent link's path. */
export function isAgentUpgrade(req: IncomingMessage): boolean {
  return new URL(req.url ?? '/', 'http://link').pathname === AGENT_CONNECT_PATH;
}

/** An upgrade's verdict: its caller, or refused (401 already answered on `socket`). */
export type Admission =
  | { admitted: true; bearer: string; identity: AgentIdentity }
  | { admitted: false; hasToken: boolean };

/** Checks the upgrade's bearer against `tokens`; answers 401 on `socket` when it does not pass. */
export function admitAgent(req: IncomingMessage, socket: Duplex, tokens: TokenStore): Admission {
  const bearer = bearerOf(req.headers.authorization);
  const identity = bearer === null ? null : agentIdentityOf(tokens, bearer);
  if (bearer === null || identity === null) {
    refuseUpgrade(socket, 401, 'a join token or node credential is required');
    return { admitted: false, hasToken: bearer !== null };
  }
  return { admitted: true, bearer, identity };
}
