import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { derive } from '../../src/manifest/schema.js';
import { standinRefs } from '../../src/images/catalog.js';
import { defaultCacheDir, ensurePgpoolTarball } from '../../src/sources/cache.js';
import { IN_CI, ROOT } from '../helpers.js';
import { engineOrSkip, ensureImages, manifest, plans } from './harness.js';

const docker = await engineOrSkip();

/** A docker CLI that can build with BuildKit: Debian's 20.10 has it built in; newer ones need buildx. */
function buildkitCli(): string[] | null {
  for (const cli of ['/usr/bin/docker', 'docker']) {
    const v = spawnSync(cli, ['version', '--format', '{{.Client.Version}}'], { encoding: 'utf8' });
    if (v.status !== 0) continue;
    if (/^20\./.test(v.stdout.trim())) return [cli, 'build'];
    if (spawnSync(cli, ['buildx', 'version']).status === 0) return [cli, 'buildx', 'build', '--load'];
  }
  return null;
}

describe.skipIf(!docker)('Dockerfiles build with BuildKit too', () => {
  const cli = buildkitCli();
  if (!cli && IN_CI) throw new Error('CI=true and no docker CLI that builds with BuildKit (docker 20.10 or buildx)');

  for (const name of ['postgres/bookworm', 'pgpool/bookworm']) {
    it.skipIf(!cli)(`${name}`, async () => {
      await ensureImages(docker!, [name]); // makes sure the stand-in bases exist when they are used
      const built = await docker!.getImage(plans[name]!.ref).inspect();
      const standin = built.Config.Labels?.['io.pgha.bases'] === 'standin';
      const args = standin ? plans[name]!.standin! : plans[name]!.upstream;
      const ctx = join(mkdtempSync(join(tmpdir(), 'pgha-buildkit-')), 'ctx');
      cpSync(join(ROOT, 'images', name), ctx, { recursive: true });
      const tarball = await ensurePgpoolTarball(manifest, defaultCacheDir(ROOT));
      copyFileSync(tarball.path, join(ctx, derive(manifest).tarballFile));
      const tag = `pgha-buildkit/${name.replace('/', '-')}:test`;
      const r = spawnSync(
        cli![0]!,
        [...cli!.slice(1), '--progress=plain', ...Object.entries(args).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]), '-t', tag, ctx],
        { encoding: 'utf8', env: { ...process.env, DOCKER_BUILDKIT: '1' }, maxBuffer: 256 * 1024 * 1024 },
      );
      expect(r.status, r.stderr.split('\n').slice(-30).join('\n')).toBe(0);
      // The BuildKit image runs the same entry point.
      const check = execFileSync(cli![0]!, ['run', '--rm', '--entrypoint', 'bash', tag, '-c', 'test -x /usr/local/bin/entrypoint.sh && ls /usr/local/lib/pgha'], { encoding: 'utf8' });
      expect(check).toContain('pgha-lib.sh');
      execFileSync(cli![0]!, ['rmi', tag], { stdio: 'ignore' });
    });
  }

  it.skipIf(!cli)('the stand-in postgres base', () => {
    const r = spawnSync(cli![0]!, [...cli!.slice(1), '--build-arg', `DEBIAN_BASE=${standinRefs(manifest).debian}`, '-t', 'pgha-buildkit/standin:test', join(ROOT, 'images/standin/postgres')], {
      encoding: 'utf8',
      env: { ...process.env, DOCKER_BUILDKIT: '1' },
      maxBuffer: 256 * 1024 * 1024,
    });
    expect(r.status, r.stderr.split('\n').slice(-30).join('\n')).toBe(0);
    execFileSync(cli![0]!, ['rmi', 'pgha-buildkit/standin:test'], { stdio: 'ignore' });
  });

});
