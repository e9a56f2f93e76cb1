import { z } from 'zod';
import { shown } from '../errors.js';
import { PARAM_TABLES, supportedMinors } from '../pgpool/params.js';
import { minorOf } from './version.js';

const sha256 = z
  .string()
  .regex(/^[0-9a-f]{64}$/, 'expected a sha256: 64 lowercase hexadecimal characters');

/**
 * An integer from min to max, with one issue for any number outside: zod's own int check
 * would add a second ("expected int to be <=9007199254740991") for a huge one.
 */
export const integer = (min: number, max: number) =>
  z
    .number()
    .min(min)
    .max(max)
    .refine(Number.isInteger, { message: 'expected an integer', when: (payload) => payload.issues.length === 0 });

const semver3 = (what: string) =>
  z.string().regex(/^\d+\.\d+\.\d+$/, `expected ${what} version like 1.2.3`);

/** One patch applied to the pgpool source tree before it is compiled. */
export const patchSchema = z.strictObject({
  /** Short name, used in logs, build args and the image label. */
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'expected a lowercase name of letters, digits and dashes'),
  /** Path of the patch file, relative to the project root. */
  file: z.string().regex(/^patches\/pgpool\/\d+\.\d+\/[A-Za-z0-9_][A-Za-z0-9._-]*\.patch$/, 'expected patches/pgpool/<minor>/<name>.patch, the name of letters, digits, ".", "_" and "-"'),
  sha256,
  /** The source file the patch changes, relative to the unpacked tarball (a field of the tab-separated series file). */
  target: z
    .string()
    .regex(
      /^(?!\.{1,2}(\/|$))(?!.*\/\.{1,2}(\/|$))[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/,
      'expected the path of the patched source file inside the tarball: segments of letters, digits, ".", "_" and "-" joined by "/", without a leading "/", "." or ".."',
    ),
  /**
   * A fixed string that is present in `target` only once the patch is applied. The
   * build greps for it after patching (grep -F, from a tab-separated series file), so a
   * patch that silently did nothing fails.
   */
  marker: z
    .string()
    .min(4, 'expected a marker string of at least 4 characters')
    .regex(/^[\x20-\x7e]+$/, 'expected a marker of printable ASCII characters (no tab, line break or other control character)'),
  why: z.string().min(1, 'expected a one-line reason for the patch'),
});

/**
 * The version fields `pgha bump` sets, with the format each takes (one home for the format:
 * the manifest and the bump command's arguments are checked by the same schema).
 */
export const versionFields = {
  postgres: z.string().regex(/^\d+\.\d+$/, 'expected a PostgreSQL version like 15.17'),
  pgpool: semver3('a Pgpool-II'),
  alpine: semver3('an Alpine'),
};

export const manifestSchema = z
  .strictObject({
    $comment: z.string().optional(),
    postgres: z.strictObject({
      major: integer(12, 18),
      /** Exact version of the official Debian `postgres` base image tag. */
      version: versionFields.postgres,
    }),
    pgpool: z.strictObject({
      version: versionFields.pgpool,
      tarball: z.strictObject({
        // Printable ASCII only: the URL parser drops a tab or a line break without a word.
        url: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }).refine((u) => /^[\x21-\x7e]+$/.test(u), { message: 'expected an http(s) URL of printable ASCII characters (non-ASCII ones percent-encoded)', when: (p) => p.issues.length === 0 }),
        sha256,
        /** Directory the tarball unpacks to. */
        topDir: z.string().regex(/^(?!\.{1,2}$)[A-Za-z0-9._-]+$/, 'expected a single directory name of letters, digits, ".", "_" and "-", not "." or ".."'),
      }),
    }),
    alpine: z.strictObject({ version: versionFields.alpine }),
    debian: z.strictObject({
      suite: z.enum(['bookworm', 'trixie'], { error: 'expected a Debian suite: bookworm or trixie' }),
    }),
    /** Patch sets keyed by pgpool minor ("4.7"). */
    patches: z.record(z.string().regex(/^\d+\.\d+$/, 'expected a pgpool minor like 4.7'), z.array(patchSchema)),
  })
  .superRefine((m, ctx) => {
    // A field the schema refused holds the raw input here: comparing it would add a second line.
    const refused = (...path: string[]) => ctx.issues.some((i) => path.every((p, k) => String(i.path?.[k]) === p));
    const [major] = m.postgres.version.split('.');
    if (!refused('postgres') && Number(major) !== m.postgres.major) {
      ctx.addIssue({
        code: 'custom',
        path: ['postgres', 'version'],
        message: `expected a ${m.postgres.major}.x version to match postgres.major, got ${shown(m.postgres.version)}`,
      });
    }
    const minor = minorOf(m.pgpool.version);
    const versionOk = !refused('pgpool', 'version');
    if (versionOk && !(minor in m.patches)) {
      ctx.addIssue({
        code: 'custom',
        path: ['pgpool', 'version'],
        message: `pgpool ${m.pgpool.version} has no patch set: expected patches["${minor}"] (known: ${Object.keys(m.patches).join(', ') || 'none'})`,
      });
    }
    if (versionOk && !PARAM_TABLES[minor]) {
      ctx.addIssue({
        code: 'custom',
        path: ['pgpool', 'version'],
        message: `pgpool ${minor} has no pgpool.conf parameter table (supported: ${supportedMinors().join(', ')})`,
      });
    }
    if (versionOk && !refused('pgpool', 'tarball', 'url') && !m.pgpool.tarball.url.includes(m.pgpool.version)) {
      ctx.addIssue({
        code: 'custom',
        path: ['pgpool', 'tarball', 'url'],
        message: `expected the URL of the ${m.pgpool.version} tarball, got ${shown(m.pgpool.tarball.url)}`,
      });
    }
    for (const [minorKey, set] of Object.entries(m.patches)) {
      set.forEach((p, i) => {
        if (!refused('patches', minorKey, String(i), 'file') && !p.file.startsWith(`patches/pgpool/${minorKey}/`)) {
          ctx.addIssue({
            code: 'custom',
            path: ['patches', minorKey, i, 'file'],
            message: `expected a file under patches/pgpool/${minorKey}/, got ${shown(p.file)}`,
          });
        }
      });
      const names = set.map((p) => p.name);
      names.forEach((n, i) => {
        if (names.indexOf(n) !== i) {
          ctx.addIssue({ code: 'custom', path: ['patches', minorKey, i, 'name'], message: `duplicate patch name ${shown(n)}` });
        }
      });
    }
  });

export type Manifest = z.infer<typeof manifestSchema>;
export type PatchSpec = z.infer<typeof patchSchema>;

/** Values derived from the manifest that templates and the builder share. */
export interface Derived {
  pgpoolMinor: string;
  patches: PatchSpec[];
  bases: {
    /** Debian base of the postgres image: the official image. */
    postgres: string;
    /** Source of the Postgres client binaries for the Alpine pgpool image. */
    postgresAlpine: string;
    alpine: string;
    debian: string;
  };
  tags: {
    postgres: string;
    pgpoolAlpine: string;
    pgpoolDebian: string;
  };
  tarballFile: string;
}

export function derive(m: Manifest): Derived {
  const minor = minorOf(m.pgpool.version);
  const alpineMinor = minorOf(m.alpine.version);
  return {
    pgpoolMinor: minor,
    patches: m.patches[minor] ?? [],
    bases: {
      postgres: `postgres:${m.postgres.version}-${m.debian.suite}`,
      postgresAlpine: `postgres:${m.postgres.version}-alpine${alpineMinor}`,
      alpine: `alpine:${m.alpine.version}`,
      debian: `debian:${m.debian.suite}-slim`,
    },
    tags: {
      postgres: `${m.postgres.version}-pgpool${m.pgpool.version}`,
      pgpoolAlpine: `${m.pgpool.version}-alpine${alpineMinor}`,
      pgpoolDebian: `${m.pgpool.version}-${m.debian.suite}`,
    },
    tarballFile: `pgpool-II-${m.pgpool.version}.tar.gz`,
  };
}
