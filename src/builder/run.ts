import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { execa } from 'execa';
import { buildImage } from '../docker/build.js';
import { ensureStandins } from '../docker/bases.js';
import { tryPull } from '../docker/engine.js';
import { logsOf } from '../docker/exec.js';
import type { Log } from '../log.js';
import type { RenderInput } from '../render/render.js';
import { defaultCacheDir, ensurePgpoolTarball } from '../sources/cache.js';
import { gitHead } from '../git.js';
import { imagePlans, upstreamBases, type BaseMode, type ImagePlan } from './plan.js';
import { finalBase, finalBaseRef } from '../images/tags.js';

export interface BuildOptions {
  projectRoot: string;
  /** Force the offline stand-ins. */
  offline?: boolean;
  /** Never fall back to stand-ins: fail when an upstream base can't be pulled. */
  noFallback?: boolean;
  only?: string[];
  noCache?: boolean;
  log: Log;
}

export interface ImageResult {
  name: string;
  tag: string;
  status: 'built' | 'not built';
  bases?: BaseMode;
  seconds?: number;
  sizeBytes?: number;
  reason?: string;
}

async function gitRevision(root: string): Promise<string> {
  return (await gitHead(root)) ?? 'unknown';
}

/**
 * The project's URL for org.opencontainers.image.source: $PGHA_IMAGE_SOURCE, else the git
 * origin when it is (or maps to) an https URL; undefined when neither says (no label rather
 * than a false one).
 */
export async function sourceUrl(root: string, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  if (env.PGHA_IMAGE_SOURCE) {
    if (!/^https?:\/\/\S+$/.test(env.PGHA_IMAGE_SOURCE)) throw new Error(`PGHA_IMAGE_SOURCE: expected an http(s) URL, got ${JSON.stringify(env.PGHA_IMAGE_SOURCE)}`);
    return env.PGHA_IMAGE_SOURCE;
  }
  try {
    return originToUrl((await execa('git', ['remote', 'get-url', 'origin'], { cwd: root, timeout: 10_000 })).stdout.trim());
  } catch {
    return undefined;
  }
}

/** An https URL for a git remote (https as it is, git@host:owner/repo.git mapped), or undefined. Pure. */
export function originToUrl(remote: string): string | undefined {
  const scp = /^git@([\w.-]+):([\w./-]+?)(?:\.git)?$/.exec(remote);
  if (scp) return `https://${scp[1]}/${scp[2]}`;
  const https = /^https:\/\/(?:[^@/]+@)?([\w.-]+\/[\w./-]+?)(?:\.git)?$/.exec(remote);
  return https ? `https://${https[1]}` : undefined;
}

/** Bounded: a command in a fresh container that does not end must not hang the build. */
const PROBE_TIMEOUT_MS = 60_000;

/** The PostgreSQL version an image really has, from `postgres --version` or `psql --version` run in it. */
async function installedPostgresVersion(docker: Docker, image: string, program: 'postgres' | 'psql'): Promise<string> {
  const container = await docker.createContainer({ Image: image, Entrypoint: [program], Cmd: ['--version'], NetworkDisabled: true });
  try {
    await container.start();
    const waited = await Promise.race([container.wait(), new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${program} --version did not end within ${PROBE_TIMEOUT_MS / 1000} s`)), PROBE_TIMEOUT_MS).unref())]);
    const out = await logsOf(container);
    const m = /\(PostgreSQL\) (\d+(?:\.\d+)*)/.exec(out);
    if (waited.StatusCode !== 0 || !m) throw new Error(`${image}: ${program} --version said ${JSON.stringify(out.trim())} (exit ${waited.StatusCode})`);
    return m[1]!;
  } finally {
    // v: the postgres image declares a VOLUME; without it every build leaves an anonymous volume behind.
    await container.remove({ force: true, v: true }).catch(() => {});
  }
}

/** Adds labels to a built image and moves its tag to the result (a FROM-only build: no layer). */
async function relabel(docker: Docker, plan: ImagePlan, logDir: string, labels: Record<string, string>): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'pgha-relabel-'));
  try {
    writeFileSync(join(dir, 'Dockerfile'), `FROM ${plan.ref}\n`);
    return await buildImage(docker, { name: plan.name, contextDir: dir, tags: [plan.ref], labels, logFile: join(logDir, `${plan.name.replace('/', '-')}.labels.log`) });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * org.opencontainers.image.base.name and .base.digest of the image a context's last stage is
 * built FROM. An upstream base is named as its registry does (docker.io/library/...) with the
 * digest it was pulled by (none when it was not pulled); a stand-in base, built on this machine,
 * has no registry digest: its local name and image ID, which is what the build used.
 */
async function baseLabels(docker: Docker, dockerfile: string, args: Record<string, string>, mode: BaseMode): Promise<Record<string, string>> {
  const text = readFileSync(dockerfile, 'utf8');
  const ref = finalBaseRef(text, args);
  const base = await docker.getImage(ref).inspect();
  if (mode === 'standin') return { 'org.opencontainers.image.base.name': ref, 'org.opencontainers.image.base.digest': base.Id };
  const pulled = base.RepoDigests?.map((d) => d.slice(d.indexOf('@') + 1)).find((d) => d.startsWith('sha256:'));
  // Not pulled from a registry (loaded from an archive): no digest to name, so no label.
  return { 'org.opencontainers.image.base.name': finalBase(text, args), ...(pulled ? { 'org.opencontainers.image.base.digest': pulled } : {}) };
}

/** Decides upstream or stand-in bases: pull upstream unless told otherwise, fall back when allowed. */
async function chooseBases(docker: Docker, plans: ImagePlan[], opts: BuildOptions): Promise<BaseMode> {
  if (opts.offline) {
    opts.log('--offline: building against the offline stand-in bases');
    return 'standin';
  }
  const failures: string[] = [];
  for (const ref of upstreamBases(plans)) {
    opts.log(`pulling ${ref}`);
    const reason = await tryPull(docker, ref, 30_000);
    if (reason) failures.push(`${ref}: ${reason}`);
  }
  if (!failures.length) return 'upstream';
  const why = `upstream base images can't be pulled:\n  ${failures.join('\n  ')}`;
  if (opts.noFallback) throw new Error(`${why}\n--no-fallback: not using the offline stand-ins`);
  opts.log(`${why}\nfalling back to the offline stand-in bases (pgha bases); use --no-fallback to forbid this`);
  return 'standin';
}

/** What a build reads of a loaded project: the manifest, derived and catalogued once (loadProject). */
export type BuildInput = Pick<RenderInput, 'manifest' | 'derived' | 'catalog'>;

/**
 * Builds every image of the catalog. The pgpool tarball is verified before any image is
 * built and streamed into each context from the source cache.
 */
export async function buildAll(docker: Docker, input: BuildInput, opts: BuildOptions): Promise<ImageResult[]> {
  const { manifest } = input;
  const all = imagePlans(input.catalog);
  const plans = all.filter((p) => !opts.only?.length || opts.only.includes(p.name));
  if (!plans.length) throw new Error(`--only matched no image (images: ${all.map((p) => p.name).join(', ')})`);
  const tarball = await ensurePgpoolTarball(manifest, defaultCacheDir(opts.projectRoot), opts.log);
  opts.log(`pgpool tarball ${tarball.path} (sha256 verified, from ${tarball.origin})`);

  const mode = await chooseBases(docker, plans, opts);
  const logDir = join(opts.projectRoot, 'results', 'logs');
  if (mode === 'standin') await ensureStandins(docker, manifest, { projectRoot: opts.projectRoot, logDir, log: opts.log });

  const revision = await gitRevision(opts.projectRoot);
  const source = await sourceUrl(opts.projectRoot);
  if (!source) opts.log('no org.opencontainers.image.source label: set PGHA_IMAGE_SOURCE to the project\'s URL (or give the git checkout an https origin)');
  const results: ImageResult[] = [];
  for (const plan of plans) {
    const args = mode === 'upstream' ? plan.upstream : plan.standin;
    if (!args) {
      opts.log(`NOT BUILT: ${plan.name}: ${plan.noStandinReason}`);
      results.push({ name: plan.name, tag: plan.ref, status: 'not built', reason: plan.noStandinReason });
      continue;
    }
    const started = Date.now();
    const id = await buildImage(docker, {
      name: plan.name,
      contextDir: join(opts.projectRoot, 'images', plan.name),
      extra: [{ name: input.derived.tarballFile, source: tarball.path }],
      tags: [plan.ref],
      buildargs: args,
      labels: {
        'org.opencontainers.image.revision': revision,
        'io.pgha.bases': mode,
        'io.pgha.base-images': Object.values(args).join(','),
      },
      logFile: join(logDir, `${plan.name.replace('/', '-')}.log`),
      noCache: opts.noCache,
    });
    // Labels only the built image can tell: the PostgreSQL it really runs (a stand-in base and
    // Debian's libpq carry Debian's 15.x, not the pinned release) and when it was made.
    const running = await installedPostgresVersion(docker, id, plan.kind === 'postgres' ? 'postgres' : 'psql');
    const labelled = await relabel(docker, plan, logDir, {
      ...(await baseLabels(docker, join(opts.projectRoot, 'images', plan.name, 'Dockerfile'), args, mode)),
      'org.opencontainers.image.created': new Date().toISOString(),
      'io.pgha.postgres.version': running,
      'io.pgha.postgres.pinned': manifest.postgres.version,
      ...(source ? { 'org.opencontainers.image.source': source } : {}),
    });
    if (running !== manifest.postgres.version) opts.log(`${plan.name}: runs PostgreSQL ${running} (${mode} bases; the manifest pins ${manifest.postgres.version}); labelled as it runs`);
    const info = await docker.getImage(labelled).inspect();
    results.push({ name: plan.name, tag: plan.ref, status: 'built', bases: mode, seconds: Math.round((Date.now() - started) / 100) / 10, sizeBytes: info.Size });
  }
  return results;
}

export function formatResults(results: ImageResult[]): string {
  return results
    .map((r) =>
      r.status === 'built'
        ? `built      ${r.tag.padEnd(36)} ${String(r.seconds).padStart(6)} s  ${(r.sizeBytes! / 1e6).toFixed(0).padStart(5)} MB  (${r.bases} bases)`
        : `NOT BUILT  ${r.tag.padEnd(36)} ${r.reason}`,
    )
    .join('\n');
}

