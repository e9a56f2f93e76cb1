import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { imagePlans } from './build/plan.js';
import { defaultCacheDir, ensurePgpoolTarball } from './sources/cache.js';
import { resolve } from 'node:path';
import { buildAll, formatResults } from './build/run.js';
import { ensureStandins } from './docker/bases.js';
import { connectEngine } from './docker/engine.js';
import { Command, Option } from 'commander';
import { checkClusterShape, loadCluster } from './cluster/load.js';
import { CombinedError, ConfigError, oneLine } from './errors.js';
import { loadManifest } from './manifest/load.js';
import { derive } from './manifest/schema.js';
import { readPatches, readTemplates, drift, writeRendered } from './render/files.js';
import { render } from './render/render.js';
import { clusterImages } from './render/compose.js';
import { topology } from './cluster/topology.js';
import { clusterDown, clusterUp, deployFiles, missingImages, staleDeployFiles } from './deploy/lifecycle.js';
import { clusterStatus, formatStatus } from './deploy/inspect.js';
import { doctor, formatChecks } from './deploy/doctor.js';

const PROJECT_ROOT = resolve(import.meta.dirname, '..');

interface CommonOptions {
  manifest: string;
  cluster?: string;
}

function loadInputs(opts: CommonOptions) {
  let manifest;
  try {
    manifest = loadManifest(opts.manifest, PROJECT_ROOT);
  } catch (err) {
    // Report the cluster definition's own problems too before exiting.
    const clusterProblems = checkClusterShape(opts.cluster);
    if (err instanceof ConfigError && clusterProblems) throw new CombinedError([err, clusterProblems]);
    throw err;
  }
  const { cluster, source } = loadCluster(opts.cluster, manifest);
  return { manifest, cluster, clusterSource: source };
}

function renderProject(opts: CommonOptions, inputs = loadInputs(opts)) {
  return render({
    ...inputs,
    templates: readTemplates(resolve(PROJECT_ROOT, 'templates')),
    patches: readPatches(inputs.manifest, PROJECT_ROOT),
  });
}

function manifestOption(): Option {
  return new Option('--manifest <file>', 'version manifest').default('versions.json');
}

function withCommon(cmd: Command): Command {
  return cmd
    .addOption(manifestOption())
    .addOption(new Option('--cluster <file>', 'cluster definition (default: cluster.yaml when present, else built-in defaults)'));
}

const program = new Command()
  .name('pgha')
  .description('Version-locked build contexts for a highly available PostgreSQL + Pgpool-II cluster')
  .showHelpAfterError();

withCommon(program.command('validate'))
  .description('check the manifest and the cluster definition; print every problem, one line each')
  .action((opts: CommonOptions) => {
    const { manifest, clusterSource } = loadInputs(opts);
    renderProject(opts); // rendering also checks every pgpool.conf key it would write
    const d = derive(manifest);
    console.log(`ok: ${opts.manifest} (postgres ${manifest.postgres.version}, pgpool ${manifest.pgpool.version}, ${d.patches.length} patches) and ${clusterSource}`);
  });

withCommon(program.command('generate'))
  .description('render images/ and deploy/ from the manifest and cluster definition')
  .option('--out <dir>', 'render under this directory instead of the project tree')
  .option('--check', 'write nothing; exit 1 when the committed files differ from a fresh render')
  .action((opts: CommonOptions & { out?: string; check?: boolean }) => {
    const rendered = renderProject(opts);
    const root = opts.out ? resolve(opts.out) : PROJECT_ROOT;
    if (opts.check) {
      const d = drift(rendered, root);
      const lines = [...d.changed.map((p) => `changed: ${p}`), ...d.missing.map((p) => `missing: ${p}`), ...d.extra.map((p) => `not generated: ${p}`)];
      if (lines.length) {
        console.error(`${lines.join('\n')}\ngenerated files are out of date: run npm run generate and commit the result`);
        process.exitCode = 1;
      } else console.log(`up to date: ${rendered.size} generated files`);
      return;
    }
    const d = writeRendered(rendered, root);
    const touched = d.changed.length + d.missing.length + d.extra.length;
    console.log(`${rendered.size} files rendered under ${root}: ${d.missing.length} new, ${d.changed.length} changed, ${d.extra.length} removed${touched ? '' : ' (no changes)'}`);
  });

program
  .command('sources')
  .description('fetch the pgpool tarball into the source cache and verify its sha256')
  .addOption(manifestOption())
  .option('--into-contexts', 'also copy it into every build context under images/, for plain `docker build`')
  .action(async (opts: { manifest: string; intoContexts?: boolean }) => {
    const manifest = loadManifest(opts.manifest, PROJECT_ROOT);
    const tarball = await ensurePgpoolTarball(manifest, defaultCacheDir(PROJECT_ROOT), say);
    console.log(`${tarball.path} (sha256 ${manifest.pgpool.tarball.sha256}, from ${tarball.origin})`);
    if (opts.intoContexts) {
      for (const plan of imagePlans(manifest)) {
        const dest = resolve(PROJECT_ROOT, 'images', plan.name, derive(manifest).tarballFile);
        copyFileSync(tarball.path, dest);
        console.log(`copied to ${dest}`);
      }
    }
  });

program
  .command('bases')
  .description('build the offline stand-ins for the upstream base images (debootstrapped Debian, Debian postgresql)')
  .addOption(manifestOption())
  .option('--rebuild', 'rebuild them even when present')
  .action(async (opts: { manifest: string; rebuild?: boolean }) => {
    const manifest = loadManifest(opts.manifest, PROJECT_ROOT);
    const docker = await connectEngine();
    const refs = await ensureStandins(docker, manifest, { projectRoot: PROJECT_ROOT, logDir: resolve(PROJECT_ROOT, 'results/logs'), rebuild: opts.rebuild, log: say });
    console.log(`stand-in bases: ${refs.debian}, ${refs.postgres}`);
  });

program
  .command('build')
  .description('build the images through the Docker engine (upstream bases, else the offline stand-ins)')
  .addOption(manifestOption())
  .option('--offline', 'build against the offline stand-in bases without trying to pull')
  .option('--no-fallback', 'fail when an upstream base cannot be pulled, instead of using the stand-ins')
  .option('--only <names...>', 'build only these images (postgres/bookworm, pgpool/bookworm, pgpool/alpine)')
  .option('--no-cache', 'do not reuse cached layers')
  .action(async (opts: { manifest: string; offline?: boolean; fallback: boolean; only?: string[]; cache: boolean }) => {
    const manifest = loadManifest(opts.manifest, PROJECT_ROOT);
    const docker = await connectEngine();
    const results = await buildAll(docker, manifest, {
      projectRoot: PROJECT_ROOT,
      offline: opts.offline,
      noFallback: !opts.fallback,
      only: opts.only,
      noCache: !opts.cache,
      log: say,
    });
    mkdirSync(resolve(PROJECT_ROOT, 'results'), { recursive: true });
    writeFileSync(resolve(PROJECT_ROOT, 'results/last-build.json'), JSON.stringify(results, null, 2) + '\n');
    console.log(formatResults(results));
  });

interface ClusterOptions extends CommonOptions {
  dir?: string;
}

/** The cluster definition, its topology, deploy files and directory, for the `cluster` commands. */
function clusterInputs(opts: ClusterOptions) {
  const inputs = loadInputs(opts);
  const rendered = renderProject(opts, inputs);
  const { manifest, cluster } = inputs;
  const dir = resolve(opts.dir ?? resolve(PROJECT_ROOT, 'deploy', cluster.name));
  const images = Object.values(clusterImages(derive(manifest), cluster));
  return { cluster, topo: topology(cluster), files: deployFiles(rendered, cluster), dir, images };
}

function withCluster(cmd: Command): Command {
  return withCommon(cmd).option('--dir <dir>', 'the cluster\'s deploy directory (default: deploy/<cluster name>)');
}

const clusterCmd = program.command('cluster').description('run the dev cluster: up, down, status, doctor');

withCluster(clusterCmd.command('up'))
  .description('create secrets and SSH keys when missing, start the cluster with compose, wait until it is ready')
  .option('--wait <seconds>', 'how long to wait for the cluster to become ready', '240')
  .action(async (opts: ClusterOptions & { wait: string }) => {
    const { cluster, topo, files, dir, images } = clusterInputs(opts);
    let problems = staleDeployFiles(files, dir);
    const docker = problems.length ? null : await connectEngine();
    if (docker) problems = await missingImages(docker, images);
    if (problems.length || !docker) {
      console.error(problems.map((p) => `pgha: ${p}`).join('\n'));
      process.exitCode = 2;
      return;
    }
    const status = await clusterUp(docker, cluster, topo, dir, { say, waitSeconds: Number(opts.wait) });
    console.log(formatStatus(status));
    console.log(`ready: connect with psql -h ${topo.delegateIp} -p ${cluster.pgpool.port} -U postgres (password in ${resolve(dir, 'secrets/postgres_password')})`);
  });

withCluster(clusterCmd.command('down'))
  .description('stop and remove the cluster\'s containers and network (data volumes stay unless --volumes)')
  .option('--volumes', 'also remove the data volumes')
  .action(async (opts: ClusterOptions & { volumes?: boolean }) => {
    const { cluster, dir } = clusterInputs(opts);
    await clusterDown(cluster, dir, { volumes: Boolean(opts.volumes) });
    say(`cluster ${cluster.name} is down${opts.volumes ? ' and its volumes removed' : '; data volumes kept'}`);
  });

withCluster(clusterCmd.command('status'))
  .description('backends (id, host, status, role, lag) and the watchdog (leader, VIP holder), as a table')
  .option('--json', 'print JSON for scripts')
  .action(async (opts: ClusterOptions & { json?: boolean }) => {
    const { cluster, topo } = clusterInputs(opts);
    const status = await clusterStatus(await connectEngine(), cluster, topo);
    console.log(opts.json ? JSON.stringify(status, null, 2) : formatStatus(status));
    if (!status.askedPgpool) process.exitCode = 1;
  });

withCluster(clusterCmd.command('doctor'))
  .description('check SSH, sudo, pcp, pool_passwd, backends and the VIP from inside the cluster; exit 1 on any failure')
  .action(async (opts: ClusterOptions) => {
    const { cluster, topo } = clusterInputs(opts);
    const checks = await doctor(await connectEngine(), cluster, topo);
    console.log(formatChecks(checks));
    const failed = checks.filter((c) => !c.ok).length;
    console.log(failed ? `${failed} of ${checks.length} checks failed` : `all ${checks.length} checks passed`);
    if (failed) process.exitCode = 1;
  });

function say(line: string): void {
  console.log(`pgha: ${line}`);
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  const isConfig = err instanceof ConfigError || err instanceof CombinedError;
  console.error(isConfig ? (err as Error).message : `pgha: ${oneLine(err)}`);
  process.exitCode = isConfig ? 2 : 1;
}
