import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { originToUrl, sourceUrl } from '../../src/builder/run.js';
import { buildCommand } from '../../src/commands/build.js';
import { UsageError } from '../../src/errors.js';
import { loadProject } from '../../src/project.js';
import { drift, renderedUnder, writeRendered } from '../../src/render/files.js';
import { render } from '../../src/render/render.js';
import { ROOT } from '../helpers.js';

// Nothing here may reach a Docker engine: DOCKER_HOST names a socket that does not exist, so a
// build that got past its checks would fail on connecting, not build anything.
const NO_ENGINE = 'unix:///nonexistent/pgha-test-docker.sock';

/** A copy of the project's inputs with images/ freshly rendered into it. */
function projectCopy(): string {
  const root = mkdtempSync(join(tmpdir(), 'pgha-build-'));
  for (const entry of ['versions.json', 'templates', 'shell', 'patches']) cpSync(join(ROOT, entry), join(root, entry), { recursive: true });
  writeRendered(renderedUnder(render(loadProject(root, { cluster: null })), 'images'), root);
  return root;
}

describe('pgha build', () => {
  let savedHost: string | undefined;
  beforeEach(() => {
    savedHost = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = NO_ENGINE;
  });
  afterEach(() => {
    if (savedHost === undefined) delete process.env.DOCKER_HOST;
    else process.env.DOCKER_HOST = savedHost;
  });

  it('refuses, one line naming the file, when a file under images/ differs from a fresh render; asks no engine', async () => {
    const root = projectCopy();
    const file = join(root, 'images/pgpool/alpine/pgpool.conf');
    writeFileSync(file, `${readFileSync(file, 'utf8')}# edited by hand\n`);
    const err = await buildCommand(root, { fallback: true, cache: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(2);
    expect((err as UsageError).reasons).toEqual([`${file}: differs from a fresh render of the manifest and templates; run pgha generate, or pgha build --regenerate`]);
  });

  it('with --regenerate writes the fresh render first, then goes on to the engine', async () => {
    const root = projectCopy();
    const file = join(root, 'images/pgpool/alpine/pgpool.conf');
    const fresh = readFileSync(file, 'utf8');
    writeFileSync(file, `${fresh}# edited by hand\n`);
    const said = vi.spyOn(console, 'error').mockImplementation(() => {});
    await expect(buildCommand(root, { fallback: true, cache: true, regenerate: true })).rejects.toThrow(/^no Docker engine answers at /);
    expect(said.mock.calls).toEqual([['pgha: images/ regenerated: 0 new, 1 changed, 0 removed']]);
    said.mockRestore();
    expect(readFileSync(file, 'utf8')).toBe(fresh);
    expect(drift(renderedUnder(render(loadProject(root, { cluster: null })), 'images'), root)).toEqual({ changed: [], missing: [], extra: [] });
  });

  it('the CLI exits 2 with one pgha: line per stale file before it connects to an engine', () => {
    // A manifest whose Alpine version differs from the one images/ was rendered from.
    const dir = mkdtempSync(join(tmpdir(), 'pgha-build-cli-'));
    const manifest = JSON.parse(readFileSync(join(ROOT, 'versions.json'), 'utf8'));
    const other = join(dir, 'versions.json');
    writeFileSync(other, JSON.stringify({ ...manifest, alpine: { version: '3.23.99' } }));
    const r = spawnSync('node', [join(ROOT, 'bin/pgha.js'), 'build', '--manifest', other], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, DOCKER_HOST: NO_ENGINE } });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^pgha: ${ROOT}/images/pgpool/alpine/Dockerfile: differs from a fresh render of the manifest and templates; run pgha generate, or pgha build --regenerate$`, 'm'));
    expect(r.stderr).not.toMatch(/Docker engine/);
    expect(r.stdout).toBe('');
  });
});

describe('org.opencontainers.image.source', () => {
  it('is an https URL made from the git origin, or nothing', () => {
    expect(originToUrl('git@github.com:acme/pgha.git')).toBe('https://github.com/acme/pgha');
    expect(originToUrl('https://github.com/acme/pgha.git')).toBe('https://github.com/acme/pgha');
    expect(originToUrl('https://token@gitlab.example.org/ops/pgha')).toBe('https://gitlab.example.org/ops/pgha');
    expect(originToUrl('/work/main')).toBeUndefined();
    expect(originToUrl('file:///srv/git/pgha.git')).toBeUndefined();
  });

  it('PGHA_IMAGE_SOURCE wins, and must be a URL', async () => {
    expect(await sourceUrl(ROOT, { PGHA_IMAGE_SOURCE: 'https://example.org/pgha' })).toBe('https://example.org/pgha');
    await expect(sourceUrl(ROOT, { PGHA_IMAGE_SOURCE: 'pgha' })).rejects.toThrow('PGHA_IMAGE_SOURCE: expected an http(s) URL, got "pgha"');
  });
});
