import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderDocs } from '../../src/docs/env-reference.js';
import { anchorsOf, longProseLines, MAX_PROSE_LINE, relativeLinks, slug } from '../../src/docs/markdown.js';
import { walkFiles } from '../../src/fsutil.js';
import { loadProjectManifest } from '../../src/project.js';
import { ROOT } from '../helpers.js';

/** README.md and every page under docs/, as project paths. */
const pages = ['README.md', ...walkFiles(join(ROOT, 'docs')).filter((p) => p.endsWith('.md')).map((p) => `docs/${p}`)].sort();
const text = new Map(pages.map((p) => [p, readFileSync(join(ROOT, p), 'utf8')]));

/** Every link of the given pages that does not resolve, as "page:line target: why". */
function deadLinks(read: (path: string) => string | undefined, exists: (path: string) => boolean, paths: string[]): string[] {
  const dead: string[] = [];
  for (const page of paths) {
    for (const { line, target } of relativeLinks(read(page)!)) {
      const [file, anchor] = target.split('#', 2) as [string, string | undefined];
      const to = file === '' ? page : relative(ROOT, resolve(ROOT, dirname(page), decodeURIComponent(file)));
      const where = `${page}:${line} ${target}`;
      if (to.startsWith('..')) dead.push(`${where}: outside the project`);
      else if (!exists(to)) dead.push(`${where}: no such file`);
      else if (anchor !== undefined) {
        const body = to.endsWith('.md') ? read(to) : undefined;
        if (body === undefined) dead.push(`${where}: an anchor into a file that is not a Markdown page`);
        else if (!anchorsOf(body).has(anchor)) dead.push(`${where}: no heading with that anchor in ${to}`);
      }
    }
  }
  return dead;
}

const onDisk = (path: string) => text.get(path) ?? (existsSync(join(ROOT, path)) && statSync(join(ROOT, path)).isFile() ? readFileSync(join(ROOT, path), 'utf8') : undefined);

describe('the docs', () => {
  it('exist: the front page and the pages it sends readers to', () => {
    expect(pages).toContain('README.md');
    expect(pages).toContain('docs/README.md');
    expect(pages).toContain('docs/reference/environment.md');
  });

  it('every relative link and #anchor in README.md and docs/ resolves', () => {
    expect(deadLinks(onDisk, (p) => existsSync(join(ROOT, p)), pages)).toEqual([]);
  });

  it('every docs page is reachable from the front page or the docs index', () => {
    const linked = new Set<string>();
    for (const page of ['README.md', 'docs/README.md']) {
      for (const { target } of relativeLinks(text.get(page)!)) {
        linked.add(relative(ROOT, resolve(ROOT, dirname(page), target.split('#')[0]!)));
      }
    }
    expect(pages.filter((p) => p.startsWith('docs/') && p !== 'docs/README.md' && !linked.has(p))).toEqual([]);
  });

  it(`no prose line is longer than ${MAX_PROSE_LINE} characters (code blocks, table rows and URLs exempt)`, () => {
    const long = pages.flatMap((p) => longProseLines(text.get(p)!).map((l) => `${p}:${l.line} (${[...l.text].length} characters)`));
    expect(long).toEqual([]);
  });

  it('the environment reference is current: generated from src/shell/env.ts', () => {
    for (const [path, content] of renderDocs(loadProjectManifest(ROOT))) {
      expect(text.get(path), `${path}: run \`npm run generate\` and commit the result`).toBe(content);
    }
  });

  it('the checks can fail: a dead link, a dead anchor, a long line', () => {
    const fixture = new Map([
      ['docs/a.md', '# A page\n\n## Same\n\n## Same\n\nSee [b](b.md#missing), [self](#same-1), [gone](nothing.md), [dup](#same-2).\nA [link over\ntwo lines](c.md), `[in code](x.md)`.\n'],
      ['docs/b.md', '# B\n'],
    ]);
    const dead = deadLinks((p) => fixture.get(p), (p) => fixture.has(p), ['docs/a.md']);
    expect(dead).toEqual([
      'docs/a.md:7 b.md#missing: no heading with that anchor in docs/b.md',
      'docs/a.md:7 nothing.md: no such file',
      'docs/a.md:7 #same-2: no heading with that anchor in docs/a.md',
      'docs/a.md:8 c.md: no such file',
    ]);
    expect(longProseLines(`${'x'.repeat(MAX_PROSE_LINE + 1)}\n| ${'y'.repeat(200)} |\n\`\`\`\n${'z'.repeat(200)}\n\`\`\`\n`).map((l) => l.line)).toEqual([1]);
  });

  it("anchors follow GitHub's rules", () => {
    expect(slug('Measuring: `pgha chaos` and `npm run bench`')).toBe('measuring-pgha-chaos-and-npm-run-bench');
    expect(slug('Failover scenarios (`test/e2e`)')).toBe('failover-scenarios-teste2e');
    expect(slug('Gotchas met while building this (and handled)')).toBe('gotchas-met-while-building-this-and-handled');
    expect(slug('PGHA_* variables')).toBe('pgha_-variables');
    expect([...anchorsOf('# X\n## X\n```\n# not a heading\n```\n## X\n')]).toEqual(['x', 'x-1', 'x-2']);
  });
});
