import Handlebars from 'handlebars';
import type { Cluster } from '../cluster/schema.js';
import { topology } from '../cluster/topology.js';
import { ConfigError, type Problem } from '../errors.js';
import { imageCatalog, type ContextFile, type ImageSpec } from '../images/catalog.js';
import { PATHS, PORTS, ROLES } from '../images/facts.js';
import { derive, type Derived, type Manifest } from '../manifest/schema.js';
import { minorOf } from '../manifest/version.js';
import { formatValue, parseConf } from '../pgpool/conf.js';
import { PGPOOL_HOOKS, pgpoolHook, recoveryArguments, RECOVERY_ARGUMENTS } from '../pgpool/hooks.js';
import { checkKey, PARAM_TABLES } from '../pgpool/params.js';
import { renderShellEnvironment, shellEnvironment } from '../shell/env.js';
import { composeModel, renderCompose } from './compose.js';

/** Everything rendering needs, already read from disk: rendering itself touches nothing. */
export interface RenderInput {
  manifest: Manifest;
  cluster: Cluster;
  /** Where the cluster definition came from, for headers and messages. */
  clusterSource: string;
  /** Template texts keyed by path under templates/ (e.g. "pgpool/failover.sh.hbs"). */
  templates: Record<string, string>;
  /** Files copied verbatim into the contexts, keyed by their project path (e.g. "shell/lib/pgha-lib.sh"). */
  sources: Record<string, string>;
  /** Patch file texts keyed by their manifest path. */
  patches: Record<string, string>;
}

export type Rendered = Map<string, string>;

const GENERATED_BY = 'by pgha (npm run generate); do not edit';

function makeEngine(templates: Record<string, string>): typeof Handlebars {
  const hb = Handlebars.create();
  hb.registerHelper('onoff', (v: unknown) => (v ? 'on' : 'off'));
  hb.registerHelper('recoveryArgs', (script: keyof typeof RECOVERY_ARGUMENTS, ...rest: unknown[]) =>
    recoveryArguments(script, rest.slice(0, -1).map(String)),
  );
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
  const hb = makeEngine(templates);
  const out: Rendered = new Map();
  const problems: Problem[] = [];

  const renderOne = (template: string, context: object): string => {
    const text = templates[template];
    if (text === undefined) throw new Error(`missing template templates/${template}`);
    const header = (prefix: unknown) => `${String(prefix)} generated from templates/${template} ${GENERATED_BY}`;
    try {
      return hb.compile(text, { noEscape: true, strict: true })(context, { helpers: { header } });
    } catch (err) {
      throw new Error(`templates/${template}: ${(err as Error).message.split('\n')[0]}`);
    }
  };

  const base = {
    manifest,
    derived,
    ports: PORTS,
    paths: PATHS,
    roles: ROLES,
    patchNames: derived.patches.map((p) => p.name).join(','),
    hooks: { failover: pgpoolHook(PGPOOL_HOOKS.failover), followPrimary: pgpoolHook(PGPOOL_HOOKS.followPrimary) },
  };
  for (const image of imageCatalog(manifest)) {
    const dir = `images/${image.name}`;
    const ctx = { ...base, image, tools: image.tools };
    for (const file of image.files) {
      for (const [path, content] of contextFile(file, image, ctx)) out.set(`${dir}/${path}`, content);
    }
    if (image.kind === 'pgpool') problems.push(...confKeyProblems(`${dir}/pgpool.conf`, out.get(`${dir}/pgpool.conf`)!, manifest.pgpool.version));
  }

  function contextFile(file: ContextFile, image: ImageSpec, ctx: object): [string, string][] {
    if ('template' in file) return [[file.out, renderOne(file.template, ctx)]];
    if ('source' in file) {
      const text = input.sources[file.source];
      if (text === undefined) throw new Error(`missing source file ${file.source}`);
      return [[file.out, text]];
    }
    switch (file.generated) {
      case 'env':
        return [[file.out, renderShellEnvironment(`# generated from src/shell/env.ts ${GENERATED_BY}`, shellEnvironment(manifest, image.tools))]];
      case 'pgpool-params':
        return [[file.out, pgpoolParamList(manifest.pgpool.version)]];
      case 'patches':
        return patchFiles(derived, input.patches).map(([name, text]) => [`${file.out}/${name}`, text]);
    }
  }

  // Dev cluster.
  const topo = topology(cluster);
  const deployDir = `deploy/${cluster.name}`;
  const overrides = Object.entries(cluster.pgpool.settings)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, value]) => ({ key, value: formatValue(value) }));
  const clusterConf = renderOne('deploy/cluster.conf.hbs', {
    ...base,
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
      composeModel(manifest, cluster, topo),
    ),
  );

  if (problems.length) throw new ConfigError('render', problems.sort((a, b) => a.where.localeCompare(b.where, 'en', { numeric: true })));
  return new Map([...out.entries()].sort(([a], [b]) => a.localeCompare(b)));
}

/** The patch series file and a copy of each patch of the pinned minor, keyed by file name. */
function patchFiles(derived: Derived, patches: Record<string, string>): [string, string][] {
  const fileName = (path: string) => path.slice(path.lastIndexOf('/') + 1);
  const series = derived.patches.map((p) => [p.name, fileName(p.file), p.target, p.marker].join('\t')).join('\n');
  return [
    ['series', `# generated from versions.json (patches) ${GENERATED_BY}\n# name\tfile\ttarget\tmarker\n${series}\n`],
    ...derived.patches.map((p): [string, string] => {
      const text = patches[p.file];
      if (text === undefined) throw new Error(`patch file ${p.file} was not read`);
      // patch(1) skips text before the first hunk header, so the copy can say where it comes from.
      return [fileName(p.file), `# copy of ${p.file}, placed ${GENERATED_BY}\n${text}`];
    }),
  ];
}

function confKeyProblems(file: string, text: string, version: string): Problem[] {
  return parseConf(text).flatMap(({ key, line }) => {
    const message = checkKey(key, version);
    return message ? [{ where: `${file}:${line} ${key}`, message }] : [];
  });
}

/** The pinned version's parameter names, for the entrypoint's own check of mounted files. */
function pgpoolParamList(version: string): string {
  const table = PARAM_TABLES[minorOf(version)];
  if (!table) throw new Error(`no parameter table for pgpool ${version}`);
  return [
    `# generated from data/pgpool-params ${GENERATED_BY}. pgpool.conf parameters of pgpool ${table.release}`,
    ...table.plain.map((k) => `plain ${k}`),
    ...table.indexed.map((k) => `indexed ${k}`),
    '',
  ].join('\n');
}
