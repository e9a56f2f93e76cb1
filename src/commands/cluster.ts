import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { topology } from '../cluster/topology.js';
import { clusterContainers, clusterStatus, formatStatus, type ClusterContainers } from '../deploy/inspect.js';
import type { Cluster } from '../cluster/schema.js';
import { swarmContainers } from '../swarm/containers.js';
import { swarmDown, swarmUp } from '../swarm/deploy.js';
import { swarmTarget } from '../swarm/target.js';
import { swarmDoctor } from '../swarm/doctor.js';
import { registrySchema } from './publish.js';
import { connectionStrings, metricsEndpoints } from '../deploy/connect.js';
import { doctor, formatChecks } from '../deploy/doctor.js';
import { changesOnly, clusterDown, clusterUp, deployFiles, missingImages, staleDeployFiles, waitingLine, type WaitProgress } from '../deploy/lifecycle.js';
import type Docker from 'dockerode';
import { connectEngine, imageExists } from '../docker/engine.js';
import { UsageError } from '../errors.js';
import { clusterImages, releaseImages, type ImageSpec } from '../images/catalog.js';
import { loadProject, type ProjectOptions } from '../project.js';
import { render } from '../render/render.js';
import { logUpdateStderr } from 'log-update';
import { z } from 'zod';
import { buildCommand } from './build.js';
import { parseFlags, wholeNumber } from './options.js';
import { say } from './say.js';

export interface ClusterOptions extends ProjectOptions {
  /** The cluster's deploy directory (default: deploy/<cluster name> in the root). */
  dir?: string;
}

/**
 * The postgres password of a cluster started from `dir` (what chaos and bench connect with);
 * its absence means the cluster was never started here.
 */
export function runningClusterPassword(clusterName: string, dir: string): string {
  const file = join(dir, 'secrets/postgres_password');
  if (!existsSync(file)) throw new UsageError([`cluster ${clusterName} is not running here: ${file} is missing; start it with pgha cluster up`]);
  return readFileSync(file, 'utf8').trim();
}

export type ClusterUpOptions = ClusterOptions & {
  /** engine: swarm: the registry `pgha publish` pushed the images to; the stack pins them by digest there. */
  registry?: string;
  /** Seconds to wait for the cluster to become ready. */
  wait: string;
  /** Build the cluster's images the engine lacks before starting (`./dev up` uses it). */
  build?: boolean;
};
export type ClusterDownOptions = ClusterOptions & { volumes?: boolean };
export type ClusterStatusOptions = ClusterOptions & { json?: boolean };

/**
 * The cluster definition, its topology, deploy files and directory, and its images; `swarm`
 * lets an engine: swarm cluster through. An engine: kubernetes cluster is refused, one line:
 * no pgha command drives it.
 */
export function clusterInputs(root: string, opts: ClusterOptions, engines: { swarm?: boolean } = {}) {
  const project = loadProject(root, opts);
  const { catalog, cluster } = project;
  if (cluster.engine === 'kubernetes') {
    throw new UsageError([`${project.clusterSource}: engine: kubernetes is rendered only: apply deploy/${cluster.name}/k8s with kubectl apply -k (see docs/kubernetes.md)`]);
  }
  if (cluster.engine === 'swarm' && !engines.swarm) {
    throw new UsageError([`${project.clusterSource}: engine: swarm: pgha bench drives a compose cluster only so far; pgha cluster up|down|status|doctor and pgha chaos drive a swarm (docs/swarm.md)`]);
  }
  const rendered = render(project);
  const dir = resolve(opts.dir ?? resolve(root, 'deploy', cluster.name));
  const images = clusterImages(catalog, cluster);
  return { cluster, topo: topology(cluster), files: deployFiles(rendered, cluster), dir, images, catalog };
}

/**
 * `pgha cluster up`: refuses (before asking the engine anything) when the deploy directory
 * differs from a fresh render, and when an image is not built; else starts the cluster and
 * waits until it is ready.
 */
export async function clusterUpCommand(root: string, opts: ClusterUpOptions): Promise<void> {
  // Flags first: a bad --wait is refused before anything is started.
  const { wait, registry } = parseFlags(
    z.object({ wait: wholeNumber(1, 86_400), registry: registrySchema.optional() }),
    { wait: opts.wait, registry: opts.registry },
    { wait: '--wait', registry: '--registry' },
  );
  const { cluster, topo, files, dir, images, catalog } = clusterInputs(root, opts, { swarm: true });
  const stale = staleDeployFiles(files, dir);
  if (stale.length) throw new UsageError(stale);
  const docker = await connectEngine();
  if (cluster.engine === 'swarm') {
    if (!registry) throw new UsageError(['--registry: engine: swarm needs the images in a registry every host pulls from: pgha publish --registry HOST[:PORT] first']);
    const status = await swarmUp(docker, await swarmTarget(cluster), cluster, topo, dir, { say, waitSeconds: wait, progress: changesOnly(say), images, registry });
    console.log(formatStatus(status));
    console.log(`ready; the password is in ${resolve(dir, 'secrets/postgres_password')}`);
    const published = connectionStrings(cluster, topo, resolve(dir, 'tls/ca.crt')).published;
    if (published) console.log(`  through each host's published port (a dead host is skipped): psql "${published}"`);
    console.log(`  from a container on the ${cluster.name}-clients network: host=pgpool port=${cluster.pgpool.port}`);
    return;
  }
  if (opts.build) await buildMissing(root, opts, docker, catalog, Object.values(images));
  const missing = await missingImages(docker, Object.values(images));
  if (missing.length) throw new UsageError(missing);
  const status = await clusterUp(docker, cluster, topo, dir, { say, waitSeconds: wait, progress: process.stderr.isTTY ? liveLine() : changesOnly(say) });
  console.log(formatStatus(status));
  const conn = connectionStrings(cluster, topo, resolve(dir, 'tls/ca.crt'));
  console.log(`ready; the password is in ${resolve(dir, 'secrets/postgres_password')}`);
  console.log(`  through the delegate IP (Linux Docker host, cluster network): psql "${conn.delegateIp}"`);
  if (conn.published) console.log(`  through the published ports (any platform; a dead pgpool node is skipped): psql "${conn.published}"`);
  console.log(`  metrics (Prometheus, cluster network): ${metricsEndpoints(topo).join(' ')}`);
}

/** `cluster up --build`: builds, as `pgha build --only` does, the cluster's images the engine lacks. */
async function buildMissing(root: string, opts: ClusterUpOptions, docker: Docker, catalog: readonly ImageSpec[], refs: string[]): Promise<void> {
  const absent: string[] = [];
  for (const ref of refs) if (!(await imageExists(docker, ref))) absent.push(ref);
  if (!absent.length) {
    say(`images present: ${refs.join(', ')}`);
    return;
  }
  const names = releaseImages(catalog)
    .filter((spec) => absent.includes(spec.ref))
    .map((spec) => spec.name);
  say(`building the missing images: ${names.join(', ')}`);
  await buildCommand(root, { manifest: opts.manifest, only: names, fallback: true, cache: true });
}

/** The waiting line rewritten in place on the terminal (stderr), gone when the wait ends. */
function liveLine(): WaitProgress {
  return {
    update: (what, seconds) => logUpdateStderr(`pgha: ${waitingLine(what, seconds)}`),
    done: () => logUpdateStderr.clear(),
  };
}

/** `pgha cluster down`: removes the containers and network; the data volumes too with `volumes`. */
export async function clusterDownCommand(root: string, opts: ClusterDownOptions): Promise<void> {
  const { cluster, topo, dir } = clusterInputs(root, opts, { swarm: true });
  if (cluster.engine === 'swarm') await swarmDown(await swarmTarget(cluster), cluster, topo, { volumes: Boolean(opts.volumes) });
  else await clusterDown(cluster, dir, { volumes: Boolean(opts.volumes) });
  say(`cluster ${cluster.name} is down${opts.volumes ? ' and its volumes removed' : '; data volumes kept'}`);
}

/** `pgha cluster status`: backends and watchdog. Returns the exit status: 1 when no pgpool answered. */
export async function clusterStatusCommand(root: string, opts: ClusterStatusOptions): Promise<number> {
  const { cluster, topo } = clusterInputs(root, opts, { swarm: true });
  const status = await clusterStatus(await containersOf(cluster), cluster, topo);
  console.log(opts.json ? JSON.stringify(status, null, 2) : formatStatus(status));
  return status.askedPgpool ? 0 : 1;
}

/** `pgha cluster doctor`: checks from inside the cluster. Returns the exit status: 1 when any check failed. */
export async function clusterDoctorCommand(root: string, opts: ClusterOptions & { json?: boolean }): Promise<number> {
  const { cluster, topo } = clusterInputs(root, opts, { swarm: true });
  const checks = await doctor(await containersOf(cluster), cluster, topo);
  if (cluster.engine === 'swarm') {
    const target = await swarmTarget(cluster);
    checks.push(...(await swarmDoctor(target.engines, target.engines.get(target.manager)!, cluster, topo)));
  }
  const failed = checks.filter((c) => !c.ok).length;
  if (opts.json) {
    console.log(JSON.stringify({ ok: failed === 0, failed, checks }, null, 2));
  } else {
    console.log(formatChecks(checks));
    console.log(failed ? `${failed} of ${checks.length} checks failed` : `all ${checks.length} checks passed`);
  }
  return failed ? 1 : 0;
}

/** The cluster's containers: by compose name on the local engine, or by service label on each swarm host's engine. */
async function containersOf(cluster: Cluster): Promise<ClusterContainers> {
  if (cluster.engine === 'swarm') return swarmContainers((await swarmTarget(cluster)).engines, cluster);
  return clusterContainers(await connectEngine(), cluster);
}
