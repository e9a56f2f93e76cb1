import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';

/** A signature check or a metadata field that does not hold: the chain stops, never tries around it. */
export class NotVerified extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotVerified';
  }
}

/** What gpgv vouched for: the signed text only (never the bytes around it) and who signed it. */
export interface SignedText {
  text: string;
  fingerprints: string[];
}

/** gpgv's status lines: the good signatures (VALIDSIG) and any bad one (BADSIG). Pure. */
export function readGpgvStatus(status: string): { valid: string[]; bad: string[]; missing: string[] } {
  const lines = status.split('\n').filter((l) => l.startsWith('[GNUPG:] '));
  const field = (kind: string) => lines.filter((l) => l.split(' ')[1] === kind).map((l) => l.split(' ')[2] ?? '');
  return { valid: field('VALIDSIG'), bad: field('BADSIG'), missing: field('NO_PUBKEY') };
}

/**
 * Checks a clearsigned InRelease with gpgv against `keyring` and returns the text it signed.
 * Debian signs with two keys (the current and the previous release's): one good signature is
 * enough, as for apt, and a bad one refuses the file whatever else it carries. gpgv's exit
 * status alone cannot say that (it is 2 when one of two keys is missing).
 */
export function verifyClearsigned(data: Buffer, keyring: string, timeoutMs: number): SignedText {
  if (!existsSync(keyring)) throw new NotVerified(`the keyring ${keyring} is missing (Debian's debian-archive-keyring package)`);
  const scratch = mkdtempSync(join(tmpdir(), 'pgha-gpgv-'));
  try {
    const signed = join(scratch, 'InRelease');
    const out = join(scratch, 'signed-text');
    writeFileSync(signed, data);
    // An empty GNUPGHOME of its own: nothing of the user's configuration takes part.
    const run = spawnSync('gpgv', ['--status-fd', '1', '--keyring', keyring, '--output', out, signed], {
      encoding: 'utf8',
      timeout: timeoutMs,
      env: { ...process.env, GNUPGHOME: scratch, LC_ALL: 'C' },
    });
    if (run.error) throw new NotVerified(`gpgv did not run: ${run.error.message}`);
    const { valid, bad, missing } = readGpgvStatus(run.stdout ?? '');
    if (bad.length) throw new NotVerified(`bad signature (key ${bad.join(', ')})`);
    if (valid.length === 0 || !existsSync(out)) {
      const why = missing.length ? `signed only by keys not in ${keyring}: ${missing.join(', ')}` : `no good signature by a key of ${keyring}`;
      throw new NotVerified(why);
    }
    return { text: readFileSync(out, 'utf8'), fingerprints: valid };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

const sha256Line = z.object({
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex digits'),
  size: z.coerce.number().int().nonnegative(),
  path: z.string().regex(/^[\w.+/-]+$/, 'expected a relative path'),
});

const inReleaseFields = z.object({
  suite: z.string({ error: 'expected a Suite field' }).min(1, 'expected a Suite field'),
  codename: z.string().optional(),
  date: z.string({ error: 'expected a Date field' }).min(1, 'expected a Date field'),
  validUntil: z.string().optional(),
  sha256: z.array(sha256Line).min(1, 'expected a SHA256 list of the indexes'),
});

/** The fields of an InRelease the chain uses. */
export type InRelease = z.infer<typeof inReleaseFields>;

/** The fields of one deb822 paragraph: name (lower case) -> value, continuation lines joined by \n. Pure. */
export function deb822Fields(paragraph: string): Map<string, string> {
  const fields = new Map<string, string>();
  let current: string | undefined;
  for (const line of paragraph.split('\n')) {
    if (/^[ \t]/.test(line) && current) {
      fields.set(current, `${fields.get(current)}\n${line.trim()}`);
      continue;
    }
    const m = /^([\w-]+):[ \t]*(.*)$/.exec(line);
    if (!m) continue;
    current = m[1]!.toLowerCase();
    fields.set(current, m[2]!.trim());
  }
  return fields;
}

/** Reads the signed text of an InRelease; a missing or malformed field is one line naming it. */
export function parseInRelease(text: string): InRelease {
  const f = deb822Fields(text);
  const sha256 = (f.get('sha256') ?? '')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [hash, size, path] = l.split(/\s+/);
      return { sha256: hash, size, path };
    });
  const parsed = inReleaseFields.safeParse({ suite: f.get('suite'), codename: f.get('codename'), date: f.get('date'), validUntil: f.get('valid-until'), sha256 });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new NotVerified(`InRelease: ${issue.path.join('.') || 'fields'}: ${issue.message}`);
  }
  return parsed.data;
}
