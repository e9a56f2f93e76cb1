import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { addChangelogEntry, CHANGELOG_FILE, changelogEntry } from '../bump/changelog.js';
import { checkReleases, describeFindings, EXIT_UNREACHABLE, targetsFrom, type Finding } from '../bump/check.js';
import { describeParamDiff, diffParams } from '../bump/params-diff.js';
import { majorUpgradeAdvice, parseTargets, planBump, type BumpFlags, type Targets } from '../bump/plan.js';
import { checkRelease } from '../bump/release.js';
import { UsageError } from '../errors.js';
import { writeFileAtomic } from '../fsutil.js';
import { loadManifestAndPatches } from '../manifest/load.js';
import { derive } from '../manifest/schema.js';
import { minorOf } from '../manifest/version.js';
import { paramTableFile, PARAM_TABLES, useParamTable } from '../pgpool/params.js';
import { loadProjectWithManifest, MANIFEST_FILE } from '../project.js';
import { drift, writeRendered } from '../render/files.js';
import { render } from '../render/render.js';
import { defaultCacheDir, downloadPgpoolRelease, sha256Of } from '../sources/cache.js';
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

  let targets: Targets;
  let usageProblems: string[] = [];
  if (opts.check || opts.latest) {
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
    targets = targetsFrom(findings);
    if (Object.keys(targets).length === 0) {
      console.log('every pinned version is the newest of its line: nothing to bump');
      return 0;
    }
  } else {
    const parsed = parseTargets(args);
    usageProblems = parsed.problems;
    targets = parsed.targets;
  }

  // Every problem at once: the arguments that make no sense (exit 2) and the bumps refused (exit 1).
  const { plan, problems } = planBump(manifest, targets, opts);
  if (usageProblems.length || problems.length) throw new UsageError([...usageProblems, ...problems, 'nothing written'], usageProblems.length ? 2 : 1);
  for (const c of plan.unchanged) say(`${c} is already ${manifest[c].version}`);
  if (plan.changes.length === 0) {
    console.log('nothing to bump');
    return 0;
  }
  const { next } = plan;
  const summary: string[] = [`## pgha bump: ${plan.changes.map((c) => `${c.component} ${c.from} -> ${c.to}`).join(', ')}`, ''];
  /** Project files to write, by path relative to the root (the manifest is written last, apart). */
  const writes = new Map<string, string>();
  /** The verified tarball for the source cache (outside the project). */
  let cacheWrite: { path: string; data: Buffer } | undefined;
  const removes: string[] = [];
  let tarball: { sha256: string; origin: string } | undefined;
  let patchesLine: string | undefined;
  let paramsLine: string | undefined;

  const pgpool = plan.changes.find((c) => c.component === 'pgpool');
  if (pgpool) {
    const fetched = await downloadPgpoolRelease(pgpool.to, next.pgpool.tarball.url, say, { timeoutMs: 60_000 });
    const sha256 = sha256Of(fetched.data);
    next.pgpool.tarball.sha256 = sha256;
    tarball = { sha256, origin: fetched.origin };
    const toMinor = minorOf(pgpool.to);
    const set = next.patches[toMinor]!;
    const release = checkRelease(fetched.data, next.pgpool.tarball.topDir, pgpool.to, set, (p) => readFileSync(join(root, p.file), 'utf8'));
    const failed = release.patches.filter((p) => !p.ok);
    if (failed.length) {
      throw new UsageError([...failed.map((p) => `patch ${p.name}: ${p.detail}`), `pgpool ${pgpool.to}: ${failed.length} of ${set.length} patches do not apply; nothing written`], 1);
    }
    patchesLine = `${set.length} of ${set.length} apply to ${pgpool.to} without fuzz or offset and leave their markers (${set.map((p) => p.name).join(', ')})`;
    const fromMinor = minorOf(pgpool.from);
    const old = PARAM_TABLES[fromMinor];
    const diff = old ? describeParamDiff(diffParams(old, release.params)) : `no table of ${fromMinor} to compare with`;
    paramsLine = `${old ? `${old.release}` : fromMinor} -> ${pgpool.to}: ${diff}`;
    // The project is checked and rendered below against the parameters the new release has.
    useParamTable(toMinor, { release: pgpool.to, ...release.params });
    writes.set(`data/pgpool-params/${toMinor}.json`, paramTableFile(pgpool.to, release.params));
    const cached = join(defaultCacheDir(root), derive(next).tarballFile);
    if (!existsSync(cached)) cacheWrite = { path: cached, data: fetched.data };
    summary.push(`- tarball: sha256 ${sha256}, fetched from ${fetched.origin}`, `- patches: ${patchesLine}`, `- pgpool.conf parameters: ${paramsLine}`);
  }
  for (const p of plan.dropped) removes.push(p.file);
  if (plan.dropped.length) summary.push(`- dropped with the minor no longer pinned: ${plan.dropped.map((p) => p.file).join(', ')}`);

  // The manifest as it will be written, checked with the project it belongs to: a pgpool.conf
  // key that the templates or the cluster definition use and the new release lacks fails here.
  const manifestText = JSON.stringify(next, null, 2) + '\n';
  let rendered;
  try {
    rendered = render(loadProjectWithManifest(root, manifestText, manifestName));
  } catch (err) {
    throw new UsageError([`the project does not build with ${plan.changes.map((c) => `${c.component} ${c.to}`).join(', ')}:`, ...(err as Error).message.split('\n'), 'nothing written'], 1);
  }
  const d = drift(rendered, root);
  const generated = [...d.changed, ...d.missing, ...d.extra];
  summary.push(`- generated files: ${generated.length} changed${generated.length ? ` (${byContext(generated)})` : ''}`);

  const changelogPath = join(root, CHANGELOG_FILE);
  const entry = changelogEntry({
    date: opts.date ?? new Date().toISOString().slice(0, 10),
    next,
    changes: plan.changes,
    tarball,
    patches: patchesLine,
    params: paramsLine,
    dropped: plan.dropped.map((p) => p.file),
  });
  writes.set(CHANGELOG_FILE, addChangelogEntry(existsSync(changelogPath) ? readFileSync(changelogPath, 'utf8') : undefined, entry));
  if (plan.major) summary.push('', majorUpgradeAdvice(plan.major));

  summary.push(`- files: ${[...writes.keys(), manifestName, ...removes.map((r) => `${r} (removed)`)].join(', ')}`);
  console.log(summary.join('\n'));
  if (opts.dryRun) {
    console.log('\ndry run: nothing written');
    return 0;
  }

  // Every check has passed: write. Each file goes through a temporary file and a rename; the
  // source cache first (not part of the project), the manifest last, so a failure midway
  // leaves versions.json as it was and `pgha generate --check` pointing at the difference.
  const write = (path: string, data: string | Buffer) => {
    mkdirSync(dirname(path), { recursive: true });
    writeFileAtomic(path, data);
  };
  if (cacheWrite) write(cacheWrite.path, cacheWrite.data);
  writeRendered(rendered, root);
  for (const [path, data] of writes) write(join(root, path), data);
  write(manifestPath, manifestText);
  for (const file of removes) rmSync(join(root, file), { force: true });
  return 0;
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
