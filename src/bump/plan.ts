import { versionFields, type Manifest, type PatchSpec } from '../manifest/schema.js';
import { compareVersions, minorOf } from '../manifest/version.js';

/** The pinned components `pgha bump` moves. */
export const COMPONENTS = ['pgpool', 'postgres', 'alpine'] as const;
export type Component = (typeof COMPONENTS)[number];
export type Targets = Partial<Record<Component, string>>;

export interface BumpFlags {
  allowMajor?: boolean;
  allowDowngrade?: boolean;
}

export interface Change {
  component: Component;
  from: string;
  to: string;
}

export interface BumpPlan {
  changes: Change[];
  /** Components already at the version asked for. */
  unchanged: Component[];
  /** The manifest after the bump; for pgpool its tarball sha256 is still the old one until fetched. */
  next: Manifest;
  /** Set when the PostgreSQL major changes (only with allowMajor). */
  major?: { from: number; to: number };
  /** Patch sets of minors no longer pinned, dropped from the manifest with their files. */
  dropped: PatchSpec[];
}

/**
 * Reads `component version` pairs ("pgpool 4.7.3 postgres 15.20") and checks each version
 * with the manifest's own format. Every problem is collected.
 */
export function parseTargets(args: string[]): { targets: Targets; problems: string[] } {
  const targets: Targets = {};
  const problems: string[] = [];
  if (args.length === 0) problems.push(`expected one or more "<component> <version>" pairs, the component one of ${COMPONENTS.join(', ')}`);
  for (let i = 0; i < args.length; i += 2) {
    const name = args[i]!;
    const version = args[i + 1];
    if (!(COMPONENTS as readonly string[]).includes(name)) {
      problems.push(`${name}: expected a component, one of ${COMPONENTS.join(', ')}`);
      continue;
    }
    const component = name as Component;
    if (version === undefined) {
      problems.push(`${component}: expected a version after the component`);
      continue;
    }
    if (component in targets) {
      problems.push(`${component}: named twice`);
      continue;
    }
    const checked = versionFields[component].safeParse(version);
    if (!checked.success) {
      problems.push(`${component} ${version}: ${checked.error.issues.map((i) => i.message).join('; ')}`);
      continue;
    }
    targets[component] = version;
  }
  return { targets, problems };
}

function currentVersion(m: Manifest, c: Component): string {
  return m[c].version;
}

/**
 * Decides what a bump changes in the manifest and refuses what it must not do without a
 * flag: a downgrade, a PostgreSQL major change, a pgpool minor with no patch set. Pure.
 */
export function planBump(m: Manifest, targets: Targets, flags: BumpFlags = {}): { plan: BumpPlan; problems: string[] } {
  const problems: string[] = [];
  const changes: Change[] = [];
  const unchanged: Component[] = [];
  const next: Manifest = structuredClone(m);
  let major: BumpPlan['major'];
  let dropped: PatchSpec[] = [];

  for (const component of COMPONENTS) {
    const to = targets[component];
    if (to === undefined) continue;
    const from = currentVersion(m, component);
    const order = compareVersions(to, from);
    if (order === 0) {
      unchanged.push(component);
      continue;
    }
    if (order < 0 && !flags.allowDowngrade) {
      problems.push(`${component}: ${from} -> ${to} is a downgrade; pass --allow-downgrade to do it anyway`);
      continue;
    }
    if (component === 'postgres') {
      const toMajor = Number(to.split('.')[0]);
      if (toMajor !== m.postgres.major) {
        if (!flags.allowMajor) {
          problems.push(`postgres: ${from} -> ${to} changes the major version (${m.postgres.major} -> ${toMajor}); existing data directories need an upgrade: pass --allow-major to do it anyway`);
          continue;
        }
        major = { from: m.postgres.major, to: toMajor };
        next.postgres.major = toMajor;
      }
      next.postgres.version = to;
    } else if (component === 'pgpool') {
      const fromMinor = minorOf(from);
      const toMinor = minorOf(to);
      if (!(toMinor in m.patches)) {
        const old = m.patches[fromMinor] ?? [];
        const port = old.map((p) => `${p.file} (changes ${p.target})`).join(', ');
        problems.push(
          `pgpool: ${to} has no patch set: port the ${fromMinor} patches to ${toMinor} under patches/pgpool/${toMinor}/ and list them as patches["${toMinor}"] in versions.json${port ? `: ${port}` : ''}`,
        );
        continue;
      }
      // Only the release's own name moves (pgpool-II-4.7.2 -> pgpool-II-4.7.3): a version
      // elsewhere in the URL (a host, a path) is not this one, and a URL without the name
      // cannot be moved by a guess.
      const url = renamedOnce(m.pgpool.tarball.url, `pgpool-II-${from}`, `pgpool-II-${to}`);
      const topDir = renamedOnce(m.pgpool.tarball.topDir, `pgpool-II-${from}`, `pgpool-II-${to}`);
      if (url === undefined || topDir === undefined) {
        problems.push(`pgpool: pgpool.tarball.url and .topDir must each name pgpool-II-${from} exactly once to be moved to ${to}; edit versions.json by hand (url ${m.pgpool.tarball.url}, topDir ${m.pgpool.tarball.topDir})`);
        continue;
      }
      next.pgpool.version = to;
      next.pgpool.tarball.url = url;
      next.pgpool.tarball.topDir = topDir;
      if (fromMinor !== toMinor) {
        // The manifest pins one pgpool: the set of a minor no longer built goes (git keeps it).
        dropped = Object.entries(next.patches).flatMap(([minor, set]) => (minor === toMinor ? [] : set));
        next.patches = { [toMinor]: next.patches[toMinor]! };
      }
    } else {
      next.alpine.version = to;
    }
    changes.push({ component, from, to });
  }
  return { plan: { changes, unchanged, next, major, dropped }, problems };
}

/** `text` with its single occurrence of `name` replaced, or undefined when it has none or several. */
function renamedOnce(text: string, name: string, next: string): string | undefined {
  const parts = text.split(name);
  return parts.length === 2 ? parts.join(next) : undefined;
}

/** What an operator must plan before a new PostgreSQL major meets old data directories. */
export function majorUpgradeAdvice(major: { from: number; to: number }): string {
  return [
    `PostgreSQL ${major.from} -> ${major.to}: data directories made by ${major.from} cannot be opened by ${major.to}.`,
    `The new postgres image refuses to start on one (one line in its log, no restart loop). Before rolling it out, plan the upgrade:`,
    `  - pg_upgrade with both majors' binaries (a container of the old image and one of the new over the same volume), or`,
    `  - pg_dumpall from the old cluster and a restore into new volumes of the new one;`,
    `then rebuild every standby from the upgraded primary (pcp_recovery_node).`,
  ].join('\n');
}
