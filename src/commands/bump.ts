import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { addChangelogEntry, CHANGELOG_FILE, changelogEntry } from '../bump/changelog.js';
import { checkReleases, describeFindings, EXIT_UNREACHABLE, targetsFrom, type Finding } from '../bump/check.js';
import { describeParamDiff, diffParams } from '../bump/params-diff.js';
import { majorUpgradeAdvice, parseTargets, planBump, type BumpFlags, type BumpPlan, type Change, type Targets } from '../bump/plan.js';
import { checkRelease } from '../bump/release.js';
import { UsageError } from '../errors.js';
import { writeFileAtomic } from '../fsutil.js';
import { loadManifestAndPatches } from '../manifest/load.js';
import { derive, type Manifest } from '../manifest/schema.js';
import { minorOf } from '../manifest/version.js';
import { paramTableFile, PARAM_TABLES, useParamTable, type ParamTables } from '../pgpool/params.js';
import { loadProjectWithManifest, MANIFEST_FILE } from '../project.js';
import { drift, writeRendered } from '../render/files.js';
import { render, type Rendered } from '../render/render.js';
import { defaultCacheDir, downloadPgpoolRelease, sha256Of } from '../sources/cache.js';
import { describeOrigin } from '../sources/origin.js';
import { say } from './say.js';

export interface BumpOptions extends BumpFlags {
  manifest?: string;
  dryRun?: boolean;
  /** Look up the newest releases and report them (writes nothing). */
  check?: boolean;
  /** Bump every component to the newest release of its pinned line. */
  latest?: boolean;
  json?: boolean;
  /** The changelog entry's date (YYYY-MM-DD); default today (UTC). */
  date?: string;
}

/**
 * `pgha bump`: moves pinned versions and everything that follows from them (the tarball's
 * sha256, the parameter table, the generated files, the changelog) in one step. Every check
 * runs before anything is written; a refusal or a failed check writes nothing. Returns the
 * exit status.
 */
export async function bumpCommand(root: string, args: string[], opts: BumpOptions): Promise<number> {
  const manifestPath = opts.manifest ? resolve(opts.manifest) : join(root, MANIFEST_FILE);
  const manifestName = opts.manifest ?? MANIFEST_FILE;
  const { manifest } = loadManifestAndPatches(manifestPath, root, manifestName);

  const asked = await askedTargets(manifest, args, opts);
  if (typeof asked === 'number') return asked;
  // Every problem at once: the arguments that make no sense (exit 2) and the bumps refused (exit 1).
  const { plan, problems } = planBump(manifest, asked.targets, opts);
  if (asked.usageProblems.length || problems.length) throw new UsageError([...asked.usageProblems, ...problems, 'nothing written'], asked.usageProblems.length ? 2 : 1);
  for (const c of plan.unchanged) say(`${c} is already ${manifest[c].version}`);
  if (plan.changes.length === 0) {
    console.log('nothing to bump');
    return 0;
  }

  const bump = await prepareBump(root, manifestName, plan, opts);
  console.log(bump.summary.join('\n'));
  if (opts.dryRun) {
    console.log('\ndry run: nothing written');
    return 0;
  }
  applyBump(root, manifestPath, bump);
  return 0;
}

/** The targets of the bump: from the arguments, or from the upstream listings (--latest); --check reports and ends (its exit status). */
async function askedTargets(manifest: Manifest, args: string[], opts: BumpOptions): Promise<{ targets: Targets; usageProblems: string[] } | number> {
  if (!opts.check && !opts.latest) {
    const parsed = parseTargets(args);
    return { targets: parsed.targets, usageProblems: parsed.problems };
  }
  if (args.length) throw new UsageError([`--check and --latest take no "<component> <version>" pairs (got ${args.join(' ')})`]);
  const findings = await checkReleases(manifest);
  const unreachable = findings.filter((f) => f.newest === null);
  if (opts.check) {
    console.log(opts.json ? JSON.stringify(findingsReport(findings), null, 2) : describeFindings(findings));
    return unreachable.length ? EXIT_UNREACHABLE : 0;
  }
  if (unreachable.length) {
    throw new UsageError([...unreachable.map((f) => `${f.component}: unreachable: ${f.source} (${f.error})`), 'nothing bumped: a source could not be read'], EXIT_UNREACHABLE);
  }
  const targets = targetsFrom(findings);
  if (Object.keys(targets).length === 0) {
    console.log('every pinned version is the newest of its line: nothing to bump');
    return 0;
  }
  return { targets, usageProblems: [] };
}

/** A bump checked whole and ready to write: nothing of it is on disk yet. */
interface PreparedBump {
  /** What `pgha bump` prints: the change, each check's result, the files it writes. */
  summary: string[];
  rendered: Rendered;
  /** Project files to write, by path relative to the root (the manifest is written last, apart). */
  writes: Map<string, string>;
  manifestText: string;
  /** The verified tarball for the source cache (outside the project). */
  cacheWrite?: { path: string; data: Buffer };
  removes: string[];
}

/** What a new pgpool release brings: its verified tarball, the patch check, its parameter table. */
interface PgpoolRelease {
  tarball: { sha256: string; origin: string };
  patchesLine: string;
  paramsLine: string;
  /** The tables to check and render against: the committed ones with the new minor's replaced. */
  paramTables: ParamTables;
  tableFile: { path: string; text: string };
  cacheWrite?: { path: string; data: Buffer };
}

/**
 * Fetches the new pgpool release, checks its sha256 into `next`, checks that every patch of
 * the new minor applies, and extracts its parameter table. Writes nothing.
 */
async function fetchPgpoolRelease(root: string, pgpool: Change, next: Manifest): Promise<PgpoolRelease> {
  const fetched = await downloadPgpoolRelease(pgpool.to, next.pgpool.tarball.url, say, { timeoutMs: 60_000 }).catch((err: unknown) => {
    throw new UsageError([`${(err as Error).message}; nothing written`], 1);
  });
  const sha256 = sha256Of(fetched.data);
  next.pgpool.tarball.sha256 = sha256;
  const toMinor = minorOf(pgpool.to);
  const set = next.patches[toMinor]!;
  const release = checkRelease(fetched.data, next.pgpool.tarball.topDir, pgpool.to, set, (p) => readFileSync(join(root, p.file), 'utf8'));
  const failed = release.patches.filter((p) => !p.ok);
  if (failed.length) {
    throw new UsageError([...failed.map((p) => `patch ${p.name}: ${p.detail}`), `pgpool ${pgpool.to}: ${failed.length} of ${set.length} patches do not apply; nothing written`], 1);
  }
  const fromMinor = minorOf(pgpool.from);
  const old = PARAM_TABLES[fromMinor];
  const diff = old ? describeParamDiff(diffParams(old, release.params)) : `no table of ${fromMinor} to compare with`;
  const table = { release: pgpool.to, ...release.params };
  // Loading the project (the manifest's and the cluster definition's checks) reads the shared
  // tables; rendering is handed its own below.
  useParamTable(toMinor, table);
  const cached = join(defaultCacheDir(root), derive(next).tarballFile);
  return {
    tarball: { sha256, origin: describeOrigin(fetched.origin) },
    patchesLine: `${set.length} of ${set.length} apply to ${pgpool.to} without fuzz or offset and leave their markers (${set.map((p) => p.name).join(', ')})`,
    paramsLine: `${old ? `${old.release}` : fromMinor} -> ${pgpool.to}: ${diff}`,
    paramTables: { ...PARAM_TABLES, [toMinor]: table },
    tableFile: { path: `data/pgpool-params/${toMinor}.json`, text: paramTableFile(pgpool.to, release.params) },
    cacheWrite: existsSync(cached) ? undefined : { path: cached, data: fetched.data },
  };
}

/** Every check of the bump, in memory: the release, the project rendered with the new manifest, the changelog entry. */
async function prepareBump(root: string, manifestName: string, plan: BumpPlan, opts: BumpOptions): Promise<PreparedBump> {
  const { next } = plan;
  const summary: string[] = [`## pgha bump: ${plan.changes.map((c) => `${c.component} ${c.from} -> ${c.to}`).join(', ')}`, ''];
  const writes = new Map<string, string>();
  const pgpoolChange = plan.changes.find((c) => c.component === 'pgpool');
  const pgpool = pgpoolChange ? await fetchPgpoolRelease(root, pgpoolChange, next) : undefined;
  if (pgpool) {
    writes.set(pgpool.tableFile.path, pgpool.tableFile.text);
    // First after the heading: where the bytes every later build trusts came from.
    summary.splice(2, 0, `**Tarball origin**: ${pgpool.tarball.origin}`, '');
    summary.push(`- tarball: sha256 ${pgpool.tarball.sha256}`, `- patches: ${pgpool.patchesLine}`, `- pgpool.conf parameters: ${pgpool.paramsLine}`);
  }
  const removes = plan.dropped.map((p) => p.file);
  if (plan.dropped.length) summary.push(`- dropped with the minor no longer pinned: ${removes.join(', ')}`);

  // The manifest as it will be written, checked with the project it belongs to: a pgpool.conf
  // key that the templates or the cluster definition use and the new release lacks fails here.
  const manifestText = JSON.stringify(next, null, 2) + '\n';
  const rendered = renderBumped(root, manifestText, manifestName, plan, pgpool?.paramTables);
  const d = drift(rendered, root);
  const generated = [...d.changed, ...d.missing, ...d.extra];
  summary.push(`- generated files: ${generated.length} changed${generated.length ? ` (${byContext(generated)})` : ''}`);

  const changelogPath = join(root, CHANGELOG_FILE);
  const entry = changelogEntry({
    date: opts.date ?? new Date().toISOString().slice(0, 10),
    next,
    changes: plan.changes,
    tarball: pgpool?.tarball,
    patches: pgpool?.patchesLine,
    params: pgpool?.paramsLine,
    dropped: removes,
  });
  writes.set(CHANGELOG_FILE, addChangelogEntry(existsSync(changelogPath) ? readFileSync(changelogPath, 'utf8') : undefined, entry));
  if (plan.major) summary.push('', majorUpgradeAdvice(plan.major));
  summary.push(`- files: ${[...writes.keys(), manifestName, ...removes.map((r) => `${r} (removed)`)].join(', ')}`);
  return { summary, rendered, writes, manifestText, cacheWrite: pgpool?.cacheWrite, removes };
}

/** The project rendered with the manifest about to be written, or a refusal that names why and writes nothing. */
function renderBumped(root: string, manifestText: string, manifestName: string, plan: BumpPlan, paramTables: ParamTables | undefined): Rendered {
  try {
    const project = loadProjectWithManifest(root, manifestText, manifestName);
    return render(paramTables ? { ...project, paramTables } : project);
  } catch (err) {
    throw new UsageError([`the project does not build with ${plan.changes.map((c) => `${c.component} ${c.to}`).join(', ')}:`, ...(err as Error).message.split('\n'), 'nothing written'], 1);
  }
}

/**
 * Every check has passed: write. Each file goes through a temporary file and a rename; the
 * source cache first (not part of the project), the manifest last, so a failure midway
 * leaves versions.json as it was and `pgha generate --check` pointing at the difference.
 */
function applyBump(root: string, manifestPath: string, bump: PreparedBump): void {
  const write = (path: string, data: string | Buffer) => {
    mkdirSync(dirname(path), { recursive: true });
    writeFileAtomic(path, data);
  };
  if (bump.cacheWrite) write(bump.cacheWrite.path, bump.cacheWrite.data);
  writeRendered(bump.rendered, root);
  for (const [path, data] of bump.writes) write(join(root, path), data);
  write(manifestPath, bump.manifestText);
  for (const file of bump.removes) rmSync(join(root, file), { force: true });
}

/** The --json form of --check: the findings and whether every source answered. */
function findingsReport(findings: Finding[]) {
  return { complete: findings.every((f) => f.newest !== null), components: findings };
}

/** Generated paths counted by build context (images/pgpool/alpine: 24, ...): a summary, not a listing. */
function byContext(paths: string[]): string {
  const counts = new Map<string, number>();
  for (const p of paths) {
    const context = p.split('/').slice(0, p.startsWith('images/') ? 3 : 2).join('/');
    counts.set(context, (counts.get(context) ?? 0) + 1);
  }
  return [...counts].map(([c, n]) => `${c}: ${n}`).join(', ');
}
