import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dirtyTreeProblem, gitTree } from '../../src/git.js';
import { releaseImages } from '../../src/images/catalog.js';
import { labelProblems, manifestLabels, revisionProblem } from '../../src/images/labels.js';
import {
  buildStamp,
  dockerfileLabels,
  finalBase,
  imageTags,
  longestSuffix,
  TAG_GRAMMAR,
  tagSchemeTable,
  tagSuffixSchema,
  finalBaseArg,
  workflowOutputs,
  workflowPush,
} from '../../src/images/tags.js';
import { projectInput, renderProject, ROOT } from '../helpers.js';

const project = projectInput();
const { manifest: m, derived: d } = project;
const images = releaseImages(project.catalog);
const specOf = (name: string) => images.find((s) => s.name === name)!;
const REVISION = '0123456789abcdef0123456789abcdef01234567';
const stampLabels = { 'org.opencontainers.image.created': '2026-12-08T10:11:12.345Z', 'org.opencontainers.image.revision': REVISION };
const labelsOf = (name: string) => ({ ...manifestLabels(specOf(name), m, d), ...stampLabels });

describe('the tag scheme', () => {
  it('an immutable tag per build, the exact tag, and a moving tag per minor, for each release image', () => {
    const stamp = buildStamp(stampLabels);
    expect(stamp).toEqual({ date: '20261208', revision: '0123456' });
    const minor = d.pgpoolMinor;
    const tags = Object.fromEntries(images.map((s) => [s.name, imageTags(s, m, d, stamp as Exclude<typeof stamp, string>)]));
    expect(tags).toEqual({
      [`postgres/${m.debian.suite}`]: { immutable: `${d.tags.postgres}-20261208-0123456`, exact: d.tags.postgres, moving: `${m.postgres.major}-pgpool${minor}` },
      [`pgpool/${m.debian.suite}`]: { immutable: `${d.tags.pgpoolDebian}-20261208-0123456`, exact: d.tags.pgpoolDebian, moving: `${minor}-${m.debian.suite}` },
      'pgpool/alpine': { immutable: `${d.tags.pgpoolAlpine}-20261208-0123456`, exact: d.tags.pgpoolAlpine, moving: `${minor}-alpine` },
    });
    // Today's versions, as the issue names the tags.
    expect(tags[`postgres/${m.debian.suite}`]!.moving).toMatch(/^\d+-pgpool\d+\.\d+$/);
  });

  it('the date is the UTC date of the created label', () => {
    expect(buildStamp({ ...stampLabels, 'org.opencontainers.image.created': '2026-12-08T23:30:00-02:00' })).toMatchObject({ date: '20261209' });
  });

  it('no stamp without a created time or a full git revision: a line saying which', () => {
    expect(buildStamp({ 'org.opencontainers.image.revision': REVISION })).toBe("label org.opencontainers.image.created is missing: expected the build's time (pgha build sets it)");
    expect(buildStamp({ ...stampLabels, 'org.opencontainers.image.revision': 'unknown' })).toBe('label org.opencontainers.image.revision is "unknown": expected the 40-digit git commit it was built from (build in a git checkout)');
  });

  it('a suffix ends every tag; it follows Docker\'s tag grammar and keeps the longest tag within 128', () => {
    const stamp = buildStamp(stampLabels) as { date: string; revision: string };
    expect(Object.values(imageTags(specOf('pgpool/alpine'), m, d, stamp, 'rc1')).every((t) => t.endsWith('-rc1'))).toBe(true);
    const schema = tagSuffixSchema(project.catalog);
    const max = longestSuffix(project.catalog);
    for (const ok of ['rc1', 'test_2', 'a.b-c', 'x'.repeat(max)]) expect(schema.safeParse(ok).success, ok).toBe(true);
    for (const bad of ['', '-rc1', '.rc1', 'rc 1', 'rc/1', 'été', 'x'.repeat(max + 1)]) expect(schema.safeParse(bad).success, bad).toBe(false);
    const longest = Math.max(...images.map((s) => imageTags(s, m, d, stamp, 'x'.repeat(max)).immutable.length));
    expect(longest).toBe(128);
    expect(images.every((s) => Object.values(imageTags(s, m, d, stamp, 'x'.repeat(max))).every((t) => TAG_GRAMMAR.test(t)))).toBe(true);
  });

  it('docs/releases.md shows the scheme as the code makes it', () => {
    const page = readFileSync(join(ROOT, 'docs/releases.md'), 'utf8');
    expect(page, 'copy tagSchemeTable() (src/images/tags.ts) into docs/releases.md').toContain(tagSchemeTable());
  });
});

describe('what publish refuses', () => {
  const rendered = renderProject();

  it('the labels it checks are the ones the rendered Dockerfiles set', () => {
    for (const spec of images) {
      const dockerfile = rendered.get(`images/${spec.name}/Dockerfile`)!;
      const block = /^LABEL ((?:.*\\\n)*.*)$/m.exec(dockerfile)![1]!;
      const labels = Object.fromEntries([...block.matchAll(/([\w.-]+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
      const expected = manifestLabels(spec, m, d);
      expect(Object.fromEntries(Object.keys(expected).map((k) => [k, labels[k]])), spec.name).toEqual(expected);
      // The postgres image does not label its patches; a check for one would refuse every build.
      expect('io.pgha.pgpool.patches' in labels, spec.name).toBe(spec.kind === 'pgpool');
    }
  });

  it('labels that match the manifest: nothing; each that differs or is missing: one line', () => {
    const spec = specOf(`pgpool/${m.debian.suite}`);
    expect(labelProblems({ spec, labels: labelsOf(spec.name) }, m, d)).toEqual([]);
    const labels: Record<string, string> = { ...labelsOf(spec.name), 'io.pgha.pgpool.sha256': 'f'.repeat(64), 'org.opencontainers.image.version': '4.7.1-bookworm' };
    delete labels['io.pgha.pgpool.patches'];
    delete labels['org.opencontainers.image.created'];
    expect(labelProblems({ spec, labels }, m, d)).toEqual([
      `${spec.ref}: label org.opencontainers.image.version is "4.7.1-bookworm", the manifest says "${spec.tag}"; rebuild it (pgha build)`,
      `${spec.ref}: label io.pgha.pgpool.sha256 is "${'f'.repeat(64)}", the manifest says "${m.pgpool.tarball.sha256}"; rebuild it (pgha build)`,
      `${spec.ref}: label io.pgha.pgpool.patches is missing, the manifest says "${d.patches.map((p) => p.name).join(',')}"; rebuild it (pgha build)`,
      `${spec.ref}: label org.opencontainers.image.created is missing: expected the build's time (pgha build sets it)`,
    ]);
  });

  it('an image built from another commit than the checkout', () => {
    const image = { spec: specOf('pgpool/alpine'), labels: labelsOf('pgpool/alpine') };
    expect(revisionProblem(image, REVISION)).toBeNull();
    expect(revisionProblem(image, null)).toBeNull();
    expect(revisionProblem(image, 'f'.repeat(40))).toBe(`${image.spec.ref}: built from 0123456789ab, the checkout is at ffffffffffff; rebuild it (pgha build)`);
  });

  it('a dirty tree or no checkout: one line; a clean checkout: none', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-git-'));
    const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.invalid', ...args], { cwd: dir, stdio: 'pipe' });
    return (async () => {
      expect(dirtyTreeProblem(await gitTree(dir))).toBe('not a git checkout: a release must name the commit it was built from; pass --allow-dirty to publish anyway');
      git('init', '-q');
      writeFileSync(join(dir, 'a'), 'a\n');
      git('add', 'a');
      git('commit', '-qm', 'a');
      const clean = await gitTree(dir);
      expect(clean.head).toMatch(/^[0-9a-f]{40}$/);
      expect(dirtyTreeProblem(clean)).toBeNull();
      writeFileSync(join(dir, 'a'), 'b\n');
      writeFileSync(join(dir, 'new'), 'n\n');
      expect(dirtyTreeProblem(await gitTree(dir))).toBe('the git tree has uncommitted changes (a and 1 more); commit them, or pass --allow-dirty to publish anyway');
    })();
  });

  it('the CLI refuses bad flags, every one in its own line, exit 2, before it asks an engine', () => {
    const r = spawnSync('node', [join(ROOT, 'bin/pgha.js'), 'publish', '--registry', 'https://x', '--tag-suffix', '-rc1'], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, DOCKER_HOST: 'unix:///nonexistent/pgha-test-docker.sock' },
    });
    expect(r.status).toBe(2);
    const max = longestSuffix(project.catalog);
    expect(r.stderr.trim().split('\n')).toEqual([
      'pgha: --registry: expected a registry as HOST or HOST:PORT (no scheme, no path), e.g. 127.0.0.1:5000 or ghcr.io, got https://x',
      `pgha: --tag-suffix: expected letters, digits, "_", "." and "-", not starting with "." or "-", at most ${max} characters (every tag it ends stays within Docker's 128), got -rc1`,
    ]);
  });
});

describe('what the images workflow pushes (workflowPush)', () => {
  const rendered = renderProject();
  const dockerfileOf = (name: string) => rendered.get(`images/${name}/Dockerfile`)!;
  const at = { namespace: 'ghcr.io/Some-Owner', created: stampLabels['org.opencontainers.image.created'], revision: REVISION };
  const pushOf = (name: string, suffix?: string) => workflowPush(specOf(name), m, d, dockerfileOf(name), { ...at, suffix });

  it('the scheme\'s three tags, under the owner\'s namespace in lower case, one cache per context', () => {
    const stamp = buildStamp(stampLabels) as { date: string; revision: string };
    for (const spec of images) {
      const push = pushOf(spec.name);
      expect(push.image, spec.name).toBe(`ghcr.io/some-owner/${spec.ref.slice(0, spec.ref.lastIndexOf(':'))}`);
      expect(push.tags, spec.name).toEqual(Object.values(imageTags(spec, m, d, stamp)));
    }
    expect(pushOf('pgpool/alpine').tags).toEqual([`${d.tags.pgpoolAlpine}-20261208-0123456`, d.tags.pgpoolAlpine, `${d.pgpoolMinor}-alpine`]);
    // The two pgpool variants share a repository: each keeps its own cache tag.
    const caches = images.map((s) => pushOf(s.name).cache);
    expect(new Set(caches).size).toBe(images.length);
    expect(caches.every((c) => /^ghcr\.io\/some-owner\/pgha\/(postgres|pgpool):buildcache-[a-z]+$/.test(c)), caches.join(' ')).toBe(true);
    // A suffix (the workflow's "-main") ends every tag and changes no label.
    expect(pushOf('pgpool/alpine', 'main').tags.every((t) => t.endsWith('-main'))).toBe(true);
    expect(pushOf('pgpool/alpine', 'main').labels).toEqual(pushOf('pgpool/alpine').labels);
    expect(pushOf('pgpool/alpine', '').tags).toEqual(pushOf('pgpool/alpine').tags);
  });

  it('labels: the Dockerfile\'s own, the stamp and the base; pgha publish would accept the image', () => {
    for (const spec of images) {
      const { labels } = pushOf(spec.name);
      expect(labels, spec.name).toMatchObject(dockerfileLabels(dockerfileOf(spec.name)));
      expect(labels, spec.name).toMatchObject({ ...manifestLabels(spec, m, d), ...stampLabels, 'io.pgha.bases': 'upstream' });
      expect(labelProblems({ spec, labels }, m, d), spec.name).toEqual([]);
      expect(revisionProblem({ spec, labels }, REVISION), spec.name).toBeNull();
      // What metadata-action would otherwise set from the GitHub repository.
      for (const k of ['title', 'description', 'licenses']) expect(labels[`org.opencontainers.image.${k}`], `${spec.name} ${k}`).toBeTruthy();
    }
    expect(pushOf(`postgres/${m.debian.suite}`).labels['org.opencontainers.image.base.name']).toBe(`docker.io/library/${d.bases.postgres}`);
    expect(pushOf(`pgpool/${m.debian.suite}`).labels['org.opencontainers.image.base.name']).toBe(`docker.io/library/${d.bases.debian}`);
    // The Alpine variant's last stage is Alpine; the postgres image only lends it the client.
    expect(pushOf('pgpool/alpine').labels['org.opencontainers.image.base.name']).toBe(`docker.io/library/${d.bases.alpine}`);
  });

  it('the base of the last stage, as a registry names it', () => {
    const file = 'ARG A=alpine:3\nARG B=x/y:1\nFROM ${A} AS one\nFROM --platform=$BUILDPLATFORM ${B} AS two\n';
    expect(finalBase(file, {})).toBe('docker.io/x/y:1');
    expect(finalBase(file, { B: 'ghcr.io/o/base:2' })).toBe('ghcr.io/o/base:2');
    expect(finalBase(file, { B: 'localhost:5000/base' })).toBe('localhost:5000/base');
    expect(finalBase('FROM debian:bookworm-slim\n', {})).toBe('docker.io/library/debian:bookworm-slim');
    expect(() => finalBase('FROM ${C}\n', {})).toThrow('FROM ${C}: no build arg and no default for C');
  });

  it('refuses a stand-in, a revision that is not a commit, a label the step outputs cannot carry', () => {
    const standin = project.catalog.find((s) => s.kind === 'standin')!;
    expect(() => workflowPush(standin, m, d, 'FROM x\n', at)).toThrow('a stand-in base is never published');
    const spec = specOf('pgpool/alpine');
    expect(() => workflowPush(spec, m, d, dockerfileOf(spec.name), { ...at, revision: 'HEAD' })).toThrow('label org.opencontainers.image.revision is "HEAD"');
    const hashed = dockerfileOf(spec.name).replace('org.opencontainers.image.title="pgha pgpool"', 'org.opencontainers.image.title="pgha #1"');
    expect(() => workflowPush(spec, m, d, hashed, at)).toThrow('labels with a newline or "#": org.opencontainers.image.title');
  });

  it('as step outputs: image, cache, metadata-action\'s raw tags, one label a line', () => {
    const out = workflowOutputs({ image: 'r/i', tags: ['a', 'b'], cache: 'r/i:buildcache-x', labels: { k: 'v w', 'l.m': 'n=o' }, base: { name: 'docker.io/library/b:1', arg: 'B' } });
    expect(out).toBe('image=r/i\ncache=r/i:buildcache-x\nbase=docker.io/library/b:1\nbase_arg=B\ntags<<PGHA_EOF\ntype=raw,value=a\ntype=raw,value=b\nPGHA_EOF\nlabels<<PGHA_EOF\nk=v w\nl.m=n=o\nPGHA_EOF\n');
  });

  it('the base to pin by digest: the last FROM\'s build arg and its registry name; a literal last FROM is refused', () => {
    for (const spec of images) {
      const push = pushOf(spec.name);
      expect(push.base.name, spec.name).toBe(push.labels['org.opencontainers.image.base.name']);
      expect(dockerfileOf(spec.name), spec.name).toMatch(new RegExp(`^FROM \\$\\{${push.base.arg}\\}$`, 'm'));
    }
    expect(finalBaseArg('ARG A=a\nFROM ${A} AS x\nFROM $B\n')).toBe('B');
    expect(finalBaseArg('FROM ${A} AS x\nFROM debian:12\n')).toBeUndefined();
    const spec = specOf('pgpool/alpine');
    const literal = dockerfileOf(spec.name).replace(/^FROM \$\{\w+\}$/m, 'FROM alpine:3.23.3');
    expect(() => workflowPush(spec, m, d, literal, at)).toThrow('the last FROM names no build arg');
  });
});
