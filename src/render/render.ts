import Handlebars from 'handlebars';
import type { Cluster } from '../cluster/schema.js';
import { topology } from '../cluster/topology.js';
import { ConfigError, type Problem } from '../errors.js';
import { clusterImages, type ContextFile, type ImageSpec } from '../images/catalog.js';
import { PATHS, PGPOOL_POOL, PORTS, RECOVERY_TIMEOUT_SECONDS, ROLES } from '../images/facts.js';
import type { Derived, Manifest } from '../manifest/schema.js';
import { minorOf } from '../manifest/version.js';
import { confLine, CONTROL_CHARACTERS, formatValue, managedBy, parseConf, readBack, type ConfEntry } from '../pgpool/conf.js';
import { PGPOOL_HOOKS, pgpoolHook, recoveryArguments, RECOVERY_ARGUMENTS } from '../pgpool/hooks.js';
import { checkKey, type ParamTables } from '../pgpool/params.js';
import { renderShellEnvironment, shellEnvironment } from '../shell/env.js';
import { composeModel, initComposeModel, renderCompose } from './compose.js';
import { KUBERNETES_CLUSTER_CONF, KUBERNETES_DIR, kubernetesModels, renderKubernetes } from './kubernetes.js';
import { stackModel } from './swarm.js';

/** Everything rendering needs, already read from disk: rendering itself touches nothing. */
export interface RenderInput {
  manifest: Manifest;
  /** derive(manifest), computed once by whoever loaded the manifest. */
  derived: Derived;
  /** imageCatalog(manifest, derived): built once per command and handed down. */
  catalog: ImageSpec[];
  /**
   * The pgpool.conf parameter table of each minor, which every rendered key is checked
   * against: the committed ones (PARAM_TABLES), or with `pgha bump` the one it just extracted.
   */
  paramTables: ParamTables;
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

/** Renders one template with a context; a failure names the template. */
type RenderTemplate = (template: string, context: object) => string;

function templateRenderer(templates: Record<string, string>): RenderTemplate {
  const hb = makeEngine(templates);
  return (template, context) => {
    const text = templates[template];
    if (text === undefined) throw new Error(`missing template templates/${template}`);
    const header = (prefix: unknown) => `${String(prefix)} generated from templates/${template} ${GENERATED_BY}`;
    try {
      return hb.compile(text, { noEscape: true, strict: true })(context, { helpers: { header } });
    } catch (err) {
      throw new Error(`templates/${template}: ${(err as Error).message.split('\n')[0]}`);
    }
  };
}

/** What every template sees: the manifest and the facts of the images. */
function baseContext({ manifest, derived }: RenderInput) {
  return {
    manifest,
    derived,
    ports: PORTS,
    pool: PGPOOL_POOL,
    paths: PATHS,
    roles: ROLES,
    recoveryTimeoutSeconds: RECOVERY_TIMEOUT_SECONDS,
    patchNames: derived.patches.map((p) => p.name).join(','),
    hooks: { failover: pgpoolHook(PGPOOL_HOOKS.failover), failback: pgpoolHook(PGPOOL_HOOKS.failback), followPrimary: pgpoolHook(PGPOOL_HOOKS.followPrimary) },
  };
}
type BaseContext = ReturnType<typeof baseContext>;

/**
 * Renders every generated file: the build contexts under images/ and the dev cluster under
 * deploy/. Pure: same input, same output, byte for byte. Fails with every unknown or
 * renamed pgpool.conf key it renders, named with its file and line.
 */
export function render(input: RenderInput): Rendered {
  const renderTemplate = templateRenderer(input.templates);
  const base = baseContext(input);
  const problems: Problem[] = [];
  const out: Rendered = new Map([...renderImages(input, renderTemplate, base, problems), ...renderDeploy(input, renderTemplate, base, problems)]);
  if (problems.length) throw new ConfigError('render', problems.sort((a, b) => a.where.localeCompare(b.where, 'en', { numeric: true })));
  return new Map([...out.entries()].sort(([a], [b]) => a.localeCompare(b)));
}

/** The build contexts under images/, one per catalog entry; each pgpool.conf's keys checked into `problems`. */
function renderImages(input: RenderInput, renderTemplate: RenderTemplate, base: BaseContext, problems: Problem[]): Rendered {
  const out: Rendered = new Map();
  for (const image of input.catalog) {
    const dir = `images/${image.name}`;
    const ctx = { ...base, image, tools: image.tools };
    for (const file of image.files) {
      for (const [path, content] of contextFile(input, file, renderTemplate, ctx)) out.set(`${dir}/${path}`, content);
    }
    if (image.kind === 'pgpool') {
      const file = `${dir}/pgpool.conf`;
      const conf = parseConfProblems(file, out.get(file)!);
      problems.push(...conf.problems, ...duplicateKeys(file, conf.entries), ...confKeyProblems(file, conf.entries, input));
    }
  }
  return out;
}

/** One file of a build context (a directory of them, for the patches) as [path, text] pairs. */
function contextFile(input: RenderInput, file: ContextFile, renderTemplate: RenderTemplate, ctx: object): [string, string][] {
  if ('template' in file) return [[file.out, renderTemplate(file.template, ctx)]];
  if ('source' in file) {
    const text = input.sources[file.source];
    if (text === undefined) throw new Error(`missing source file ${file.source}`);
    return [[file.out, text]];
  }
  switch (file.generated) {
    case 'env':
      return [[file.out, renderShellEnvironment(`# generated from src/shell/env.ts ${GENERATED_BY}`, shellEnvironment(input.manifest))]];
    case 'pgpool-params':
      return [[file.out, pgpoolParamList(input.manifest.pgpool.version, input.paramTables)]];
    case 'patches':
      return patchFiles(input.derived, input.patches).map(([name, text]) => [`${file.out}/${name}`, text]);
  }
}

/** The dev cluster under deploy/<name>/: pgpool's cluster.conf, compose's .env and the compose file. */
function renderDeploy(input: RenderInput, renderTemplate: RenderTemplate, base: BaseContext, problems: Problem[]): Rendered {
  const { cluster, clusterSource } = input;
  if (CONTROL_CHARACTERS.test(clusterSource)) {
    // loadCluster refuses such a name; a caller that builds the input itself gets the same answer.
    throw new Error(`expected a cluster definition name without line breaks or other control characters, got ${JSON.stringify(clusterSource)}`);
  }
  const topo = topology(cluster);
  const deployDir = `deploy/${cluster.name}`;
  const k8sDir = `${deployDir}/${KUBERNETES_DIR}`;
  // kustomize reads no file above the kustomization's directory: there, cluster.conf lives in it.
  const clusterConfFile = cluster.engine === 'kubernetes' ? `${k8sDir}/${KUBERNETES_CLUSTER_CONF}` : `${deployDir}/pgpool/cluster.conf`;
  const clusterConf = renderClusterConf(input, renderTemplate, { ...base, cluster, clusterSource, topology: topo, watchdog: topo.pgpool.length > 1 }, clusterConfFile, problems);
  const images = clusterImages(input.catalog, cluster);
  const from = `versions.json and the cluster definition ${clusterSource}`;
  if (cluster.engine === 'kubernetes') {
    const header = `# generated by pgha (npm run generate) from ${from}; do not edit`;
    return new Map([
      [clusterConfFile, clusterConf],
      ...kubernetesModels(images, cluster, topo).map(([file, docs]): [string, string] => [`${k8sDir}/${file}`, renderKubernetes(`${header}\n# apply with kubectl apply -k ${k8sDir}: see docs/kubernetes.md`, docs)]),
      [`${k8sDir}/init.yml`, renderCompose(`${header}\n# fills ${deployDir} with the secrets, SSH and TLS material the Secret and ConfigMap are made from`, initComposeModel(images, cluster, topo))],
    ]);
  }
  if (cluster.engine === 'swarm') {
    return new Map([
      [clusterConfFile, clusterConf],
      [`${deployDir}/swarm/stack.yml`, renderCompose(`# generated by pgha (npm run generate) from ${from}; do not edit\n# deploy: see docs/swarm.md`, stackModel(images, cluster, topo, clusterConf))],
      [`${deployDir}/swarm/init.yml`, renderCompose(`# generated by pgha (npm run generate) from ${from}; do not edit\n# fills ${deployDir} with the secrets, SSH and TLS material the stack's secrets are made from`, initComposeModel(images, cluster, topo))],
    ]);
  }
  return new Map([
    [clusterConfFile, clusterConf],
    // Plain `docker compose up` in the deploy directory (v1 and v2 read .env there) then acts on
    // the same project as `pgha cluster up`, whatever the directory is called.
    [`${deployDir}/.env`, `# generated by pgha (npm run generate) from the cluster definition ${clusterSource}; do not edit\nCOMPOSE_PROJECT_NAME=${cluster.name}\n`],
    [`${deployDir}/docker-compose.yml`, renderCompose(`# generated by pgha (npm run generate) from ${from}; do not edit`, composeModel(images, cluster, topo))],
  ]);
}

/** A cluster's pgpool.settings as cluster.conf overrides, sorted by key; a bad or pgha-managed key goes into `problems`. */
function settingsOverrides(cluster: Cluster, clusterConfFile: string, problems: Problem[]): ConfOverride[] {
  const overrides: ConfOverride[] = [];
  for (const [key, value] of Object.entries(cluster.pgpool.settings).sort(([a], [b]) => a.localeCompare(b))) {
    const where = `${clusterConfFile} pgpool.settings.${JSON.stringify(key).slice(1, -1)}`;
    try {
      confLine(key, value);
    } catch (err) {
      problems.push({ where, message: (err as Error).message });
      continue;
    }
    const managed = managedBy(key);
    if (managed) problems.push({ where, message: `${key} is set from ${managed.field}; change it there` });
    else overrides.push({ key, value: formatValue(value), intended: readBack(value) });
  }
  return overrides;
}

interface ConfOverride {
  key: string;
  /** As written into the file. */
  value: string;
  /** As pgpool should read it back. */
  intended: string;
}

/** cluster.conf: the template's own settings, then the cluster's overrides, checked as pgpool will read them. */
function renderClusterConf(input: RenderInput, renderTemplate: RenderTemplate, context: object, clusterConfFile: string, problems: Problem[]): string {
  const overrides = settingsOverrides(input.cluster, clusterConfFile, problems);
  const clusterConf = renderTemplate('deploy/cluster.conf.hbs', { ...context, overrides });
  // What pgpool reads from the file must be the template's own settings and then exactly the
  // overrides: a value that broke out of its quotes would show here as a key of its own.
  const managedPart = parseConfProblems(clusterConfFile, renderTemplate('deploy/cluster.conf.hbs', { ...context, overrides: [] }));
  const rendered = parseConfProblems(clusterConfFile, clusterConf);
  problems.push(...managedPart.problems, ...rendered.problems);
  if (!managedPart.problems.length && !rendered.problems.length) {
    const expected = [...managedPart.entries.map((e) => ({ key: e.key, value: e.value })), ...overrides.map((o) => ({ key: o.key, value: o.intended }))];
    const unexpected = unexpectedEntries(clusterConfFile, rendered.entries, expected);
    problems.push(...duplicateKeys(clusterConfFile, managedPart.entries));
    problems.push(...(unexpected.length ? unexpected : confKeyProblems(clusterConfFile, rendered.entries, input)));
  }
  return clusterConf;
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

/** The settings pgpool reads from a rendered file, or the line where it would stop with a syntax error. */
function parseConfProblems(file: string, text: string): { entries: ConfEntry[]; problems: Problem[] } {
  try {
    return { entries: parseConf(text), problems: [] };
  } catch (err) {
    return { entries: [], problems: [{ where: file, message: `pgpool would not start: ${(err as Error).message}` }] };
  }
}

function confKeyProblems(file: string, entries: ConfEntry[], { manifest, paramTables }: RenderInput): Problem[] {
  return entries.flatMap(({ key, line }) => {
    const message = checkKey(key, manifest.pgpool.version, paramTables);
    return message ? [{ where: `${file}:${line} ${key}`, message }] : [];
  });
}

/** A key set twice in one file: the later silently wins in pgpool. */
function duplicateKeys(file: string, entries: ConfEntry[]): Problem[] {
  const first = new Map<string, number>();
  return entries.flatMap(({ key, line }) => {
    const at = first.get(key);
    if (at === undefined) {
      first.set(key, line);
      return [];
    }
    return [{ where: `${file}:${line} ${key}`, message: `set again (first at line ${at}); pgpool would take the later value` }];
  });
}

/** The first place where what pgpool reads differs from what was meant to be written, as one problem. */
function unexpectedEntries(file: string, actual: ConfEntry[], expected: { key: string; value: string }[]): Problem[] {
  const show = (e: { key: string; value: string } | undefined) => (e ? `${e.key} = ${JSON.stringify(e.value)}` : 'nothing');
  for (let i = 0; i < Math.max(actual.length, expected.length); i++) {
    const a = actual[i];
    const e = expected[i];
    if (a && e && a.key === e.key && a.value === e.value) continue;
    return [{ where: a ? `${file}:${a.line} ${a.key}` : file, message: `pgpool would read ${show(a)} where pgha meant ${show(e)}` }];
  }
  return [];
}

/** The pinned version's parameter names, for the entrypoint's own check of mounted files. */
function pgpoolParamList(version: string, tables: ParamTables): string {
  const table = tables[minorOf(version)];
  if (!table) throw new Error(`no parameter table for pgpool ${version}`);
  return [
    `# generated from data/pgpool-params ${GENERATED_BY}. pgpool.conf parameters of pgpool ${table.release}`,
    ...table.plain.map((k) => `plain ${k}`),
    ...table.indexed.map((k) => `indexed ${k}`),
    '',
  ].join('\n');
}
