import Handlebars from 'handlebars';
import type { Cluster } from '../cluster/schema.js';
import { topology } from '../cluster/topology.js';
import { ConfigError, type Problem } from '../errors.js';
import { derive, type Manifest } from '../manifest/schema.js';
import { formatValue, parseConf } from '../pgpool/conf.js';
import { checkKey, PARAM_TABLES } from '../pgpool/params.js';
import { composeModel, renderCompose } from './compose.js';

/** Everything rendering needs, already read from disk: rendering itself touches nothing. */
export interface RenderInput {
  manifest: Manifest;
  cluster: Cluster;
  /** Where the cluster definition came from, for headers and messages. */
  clusterSource: string;
  /** Template texts keyed by path under templates/ (e.g. "pgpool/failover.sh.hbs"). */
  templates: Record<string, string>;
  /** Patch file texts keyed by their manifest path. */
  patches: Record<string, string>;
}

export type Rendered = Map<string, string>;

/** Image defaults that do not depend on any one cluster; the cluster's file overrides ports. */
export const IMAGE_DEFAULTS = {
  sshPort: 2222,
  postgresPort: 5432,
  pgpool: { port: 9999, pcpPort: 9898, watchdogPort: 9000, heartbeatPort: 9694 },
};

interface Variant {
  name: string;
  family: 'debian' | 'alpine';
  description: string;
  tag: string;
  tools: { ip: string; arping: string; pingDir: string };
}

/** One file of a build context: which template makes it and under what name. */
const POSTGRES_FILES: [out: string, template: string][] = [
  ['Dockerfile', 'postgres/Dockerfile.hbs'],
  ['entrypoint.sh', 'postgres/entrypoint.sh.hbs'],
  ['postgres-run.sh', 'postgres/postgres-run.sh.hbs'],
  ['pgha-node.sh', 'postgres/pgha-node.sh.hbs'],
  ['recovery_1st_stage', 'postgres/recovery_1st_stage.hbs'],
  ['pgpool_remote_start', 'postgres/pgpool_remote_start.hbs'],
  ['supervisord.conf', 'postgres/supervisord.conf.hbs'],
  ['sshd_config', 'shared/sshd_config.hbs'],
  ['sudoers', 'shared/sudoers.hbs'],
  ['pgha-lib.sh', 'shared/pgha-lib.sh.hbs'],
  ['apply-patches.sh', 'shared/apply-patches.sh.hbs'],
];

const PGPOOL_FILES: [out: string, template: string][] = [
  ['entrypoint.sh', 'pgpool/entrypoint.sh.hbs'],
  ['pgpool.conf', 'pgpool/pgpool.conf.hbs'],
  ['pool_hba.conf', 'pgpool/pool_hba.conf.hbs'],
  ['failover.sh', 'pgpool/failover.sh.hbs'],
  ['follow_primary.sh', 'pgpool/follow_primary.sh.hbs'],
  ['escalation.sh', 'pgpool/escalation.sh.hbs'],
  ['vip.sh', 'pgpool/vip.sh.hbs'],
  ['garp.sh', 'pgpool/garp.sh.hbs'],
  ['sshd_config', 'shared/sshd_config.hbs'],
  ['sudoers', 'shared/sudoers.hbs'],
  ['pgha-lib.sh', 'shared/pgha-lib.sh.hbs'],
  ['apply-patches.sh', 'shared/apply-patches.sh.hbs'],
];

function headerLine(prefix: string, template: string): string {
  return `${prefix} generated from templates/${template} by pgha (npm run generate); do not edit`;
}

function makeEngine(templates: Record<string, string>): typeof Handlebars {
  const hb = Handlebars.create();
  hb.registerHelper('onoff', (v: unknown) => (v ? 'on' : 'off'));
  for (const [path, text] of Object.entries(templates)) {
    const m = /^partials\/(.+)\.hbs$/.exec(path);
    if (m) hb.registerPartial(m[1]!, text);
  }
  return hb;
}

/**
 * Renders every generated file: the build contexts under images/ and the dev cluster under
 * deploy/. Pure: same input, same output, byte for byte. Fails with every unknown or
 * renamed pgpool.conf key it renders, named with its file and line.
 */
export function render(input: RenderInput): Rendered {
  const { manifest, cluster, templates } = input;
  const derived = derive(manifest);
  const topo = topology(cluster);
  const hb = makeEngine(templates);
  const out: Rendered = new Map();
  const problems: Problem[] = [];

  const renderOne = (template: string, context: object): string => {
    const text = templates[template];
    if (text === undefined) throw new Error(`missing template templates/${template}`);
    const header = (prefix: unknown) => headerLine(String(prefix), template);
    try {
      return hb.compile(text, { noEscape: true, strict: true })(context, { helpers: { header } });
    } catch (err) {
      throw new Error(`templates/${template}: ${(err as Error).message.split('\n')[0]}`);
    }
  };

  const patchSeries = derived.patches.map((p) => [p.name, fileName(p.file), p.target, p.marker].join('\t')).join('\n');
  const patchFiles = (dir: string) => {
    out.set(`${dir}/patches/series`, `# generated from versions.json (patches) by pgha (npm run generate); do not edit\n# name\tfile\ttarget\tmarker\n${patchSeries}\n`);
    for (const p of derived.patches) {
      const text = input.patches[p.file];
      if (text === undefined) throw new Error(`patch file ${p.file} was not read`);
      // patch(1) skips text before the first hunk header, so the copy can say where it comes from.
      out.set(`${dir}/patches/${fileName(p.file)}`, `# copy of ${p.file}, placed by pgha (npm run generate); do not edit\n${text}`);
    }
  };
  const base = { manifest, derived, ...IMAGE_DEFAULTS, patchNames: derived.patches.map((p) => p.name).join(',') };

  // Postgres image: Debian, FROM the official postgres image.
  const postgresDir = `images/postgres/${manifest.debian.suite}`;
  const postgresCtx = { ...base, tools: { ip: '/usr/sbin/ip', arping: '/usr/sbin/arping', pingDir: '/bin' } };
  for (const [file, template] of POSTGRES_FILES) out.set(`${postgresDir}/${file}`, renderOne(template, postgresCtx));
  patchFiles(postgresDir);

  // Offline stand-in for the official postgres base, built by `pgha bases`.
  out.set('images/standin/postgres/Dockerfile', renderOne('standin/postgres.Dockerfile.hbs', base));

  // Pgpool image: Alpine and Debian variants from the same templates.
  const variants: Variant[] = [
    {
      name: 'alpine',
      family: 'alpine',
      description: `Alpine ${manifest.alpine.version}`,
      tag: derived.tags.pgpoolAlpine,
      tools: { ip: '/sbin/ip', arping: '/usr/local/sbin/arping', pingDir: '/usr/local/libexec/pgha-ping' },
    },
    {
      name: manifest.debian.suite,
      family: 'debian',
      description: `Debian ${manifest.debian.suite}`,
      tag: derived.tags.pgpoolDebian,
      tools: { ip: '/sbin/ip', arping: '/usr/local/sbin/arping', pingDir: '/bin' },
    },
  ];
  const paramList = pgpoolParamList(manifest.pgpool.version);
  for (const variant of variants) {
    const dir = `images/pgpool/${variant.name}`;
    const ctx = { ...base, variant, tools: variant.tools };
    out.set(`${dir}/Dockerfile`, renderOne(`pgpool/Dockerfile.${variant.family}.hbs`, ctx));
    for (const [file, template] of PGPOOL_FILES) out.set(`${dir}/${file}`, renderOne(template, ctx));
    out.set(`${dir}/pgpool-params.txt`, paramList);
    patchFiles(dir);
    problems.push(...confKeyProblems(`${dir}/pgpool.conf`, out.get(`${dir}/pgpool.conf`)!, manifest.pgpool.version));
  }

  // Dev cluster.
  const deployDir = `deploy/${cluster.name}`;
  const overrides = Object.entries(cluster.pgpool.settings)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, value]) => ({ key, value: formatValue(value) }));
  const clusterConf = renderOne('deploy/cluster.conf.hbs', {
    cluster,
    clusterSource: input.clusterSource,
    topology: topo,
    watchdog: topo.pgpool.length > 1,
    overrides,
  });
  out.set(`${deployDir}/pgpool/cluster.conf`, clusterConf);
  problems.push(...confKeyProblems(`${deployDir}/pgpool/cluster.conf`, clusterConf, manifest.pgpool.version));
  out.set(
    `${deployDir}/docker-compose.yml`,
    renderCompose(
      `# generated by pgha (npm run generate) from versions.json and the cluster definition ${input.clusterSource}; do not edit`,
      composeModel(derived, cluster, topo),
    ),
  );

  if (problems.length) throw new ConfigError('render', problems);
  return new Map([...out.entries()].sort(([a], [b]) => a.localeCompare(b)));
}

function fileName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function confKeyProblems(file: string, text: string, version: string): Problem[] {
  return parseConf(text).flatMap(({ key, line }) => {
    const message = checkKey(key, version);
    return message ? [{ where: `${file}:${line} ${key}`, message }] : [];
  });
}

/** The pinned version's parameter names, for the entrypoint's own check of mounted files. */
function pgpoolParamList(version: string): string {
  const table = PARAM_TABLES[version.split('.').slice(0, 2).join('.')];
  if (!table) throw new Error(`no parameter table for pgpool ${version}`);
  return [
    `# generated from data/pgpool-params by pgha (npm run generate); do not edit. pgpool.conf parameters of pgpool ${table.release}`,
    ...table.plain.map((k) => `plain ${k}`),
    ...table.indexed.map((k) => `indexed ${k}`),
    '',
  ].join('\n');
}
