import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLUSTER_SECRETS } from '../render/compose.js';

/**
 * Creates the cluster's missing secret files under `<deployDir>/secrets/` (random, 0600),
 * leaving existing ones alone so a running cluster keeps its passwords. Returns the names made.
 */
export function ensureSecrets(deployDir: string): string[] {
  const dir = join(deployDir, 'secrets');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const made: string[] = [];
  for (const name of CLUSTER_SECRETS) {
    const path = join(dir, name);
    if (existsSync(path)) continue;
    // Written beside the target and renamed, so a crash never leaves a half-written secret.
    const tmp = `${path}.tmp-${process.pid}`;
    writeFileSync(tmp, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, path);
    made.push(name);
  }
  return made;
}
