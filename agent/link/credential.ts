/**
 * Which bearer the link presents: the node's own credential when it has one (saved between runs by
 * credential-file.ts), else the configured token (a join token). A fresh credential from Welcome is
 * taken once saved; a saved one the allocator refuses (401: reset, or a new cluster) gives way to
 * the configured token. Split from client.ts, which only asks for the current one.
 */
import { formatError } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import type { CredentialKeeper } from './credential-file.ts';

/** The link's bearer and how it changes. */
export interface LinkCredential {
  current(): string;
  /** A credential from Welcome. */
  adopt(fresh: string): void;
  /** The upgrade was refused with 401: a saved credential is dropped for the configured token. */
  refused(): void;
}

/** Starts from the saved credential of this node, else `token`. */
export function createLinkCredential(
  token: string,
  keeper: CredentialKeeper | undefined,
  log: Logger,
): LinkCredential {
  let credential = token;
  const saved = keeper?.load();
  if (saved !== undefined && !saved.ok)
    log.error('node credential unreadable; presenting the configured token', {
      error: formatError(saved.error),
    });
  else if (saved?.value != null) credential = saved.value;

  return {
    current: () => credential,
    /**
     * Taken once saved. Unsaved, the current one is kept (the allocator keeps the credential a
     * connection presented valid), since a restart would read that one from disk; only a join token,
     * which cannot bring this node back, gives way to an unsaved credential.
     */
    adopt(fresh) {
      const result = keeper?.save(fresh);
      if (result === undefined || result.ok || credential === token) {
        if (result !== undefined && !result.ok)
          log.error('node credential not saved: after a restart this agent cannot rejoin as its node', {
            error: formatError(result.error),
          });
        credential = fresh;
        return;
      }
      log.error('node credential not saved; keeping the current one', { error: formatError(result.error) });
    },
    refused() {
      if (credential === token) return;
      // Revoked (tessera node reset) or unknown to this allocator (a new cluster): join again.
      log.warn('the saved node credential was refused (401); joining with the configured token');
      credential = token;
    },
  };
}
