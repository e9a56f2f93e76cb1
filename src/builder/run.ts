import { join } from 'node:path';
import type Docker from 'dockerode';
import { execa } from 'execa';
import { buildImage } from '../docker/build.js';
import { ensureStandins } from '../docker/bases.js';
import { tryPull } from '../docker/engine.js';
import type { Log } from '../log.js';
import { derive, type Manifest } from '../manifest/schema.js';
import { defaultCacheDir, ensurePgpoolTarball } from '../sources/cache.js';
import { imagePlans, upstreamBases, type BaseMode, type ImagePlan } from './plan.js';

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
  try {
    return (await execa('git', ['rev-parse', 'HEAD'], { cwd: root })).stdout.trim();
  } catch {
    return 'unknown';
  }
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

/**
 * Builds every image of the manifest. The pgpool tarball is verified before any image is
 * built and streamed into each context from the source cache.
 */
export async function buildAll(docker: Docker, manifest: Manifest, opts: BuildOptions): Promise<ImageResult[]> {
  const plans = imagePlans(manifest).filter((p) => !opts.only?.length || opts.only.includes(p.name));
  if (!plans.length) throw new Error(`--only matched no image (images: ${imagePlans(manifest).map((p) => p.name).join(', ')})`);
  const tarball = await ensurePgpoolTarball(manifest, defaultCacheDir(opts.projectRoot), opts.log);
  opts.log(`pgpool tarball ${tarball.path} (sha256 verified, from ${tarball.origin})`);

  const mode = await chooseBases(docker, plans, opts);
  const logDir = join(opts.projectRoot, 'results', 'logs');
  if (mode === 'standin') await ensureStandins(docker, manifest, { projectRoot: opts.projectRoot, logDir, log: opts.log });

  const revision = await gitRevision(opts.projectRoot);
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
      extra: [{ name: derive(manifest).tarballFile, source: tarball.path }],
      tags: [plan.ref],
      buildargs: args,
      labels: {
        'org.opencontainers.image.revision': revision,
        'org.opencontainers.image.source': 'pgha',
        'io.pgha.bases': mode,
        'io.pgha.base-images': Object.values(args).join(','),
      },
      logFile: join(logDir, `${plan.name.replace('/', '-')}.log`),
      noCache: opts.noCache,
    });
    const info = await docker.getImage(id).inspect();
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

