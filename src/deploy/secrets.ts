import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../fsutil.js';
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
    // Atomic, so a crash never leaves a half-written secret.
    writeFileAtomic(path, `${randomBytes(24).toString('base64url')}\n`, 0o600);
    made.push(name);
  }
  return made;
}
