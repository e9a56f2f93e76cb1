import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENVIRONMENT_PAGE, renderDocs, renderEnvironmentReference } from '../../src/docs/env-reference.js';
import { loadProjectManifest } from '../../src/project.js';
import { drift, writeRendered } from '../../src/render/files.js';
import { shellEnvironment } from '../../src/shell/env.js';
import { ROOT } from '../helpers.js';

const manifest = loadProjectManifest(ROOT);

/** The table rows of a page: cells split on pipes that are not escaped. */
function rows(page: string): string[][] {
  return page
    .split('\n')
    .filter((l) => l.startsWith('| `'))
    .map((l) => l.slice(2, -2).split(/(?<!\\) \| /));
}

describe('the environment reference page', () => {
  const vars = shellEnvironment(manifest);
  const page = renderEnvironmentReference(vars);

  it('says it is generated, from what, and how to change it', () => {
    expect(page.split('\n')[0]).toBe('<!-- generated from src/shell/env.ts by pgha (npm run generate); do not edit -->');
    expect(page).toContain('Edit `src/shell/env.ts`, then run `npm run generate`.');
  });

  it('has one row per variable, in the order env.ts declares them, with its default and meaning', () => {
    const table = rows(page);
    expect(table.map((r) => r[0])).toEqual(vars.map((v) => `\`${v.name}\``));
    const node = table.find((r) => r[0] === '`PGHA_NODE`')!;
    expect(node).toEqual(['`PGHA_NODE`', '`$(hostname)`', "this node's name (compose service name)"]);
    expect(table.find((r) => r[0] === '`PGHA_PGPOOL_VERSION`')![1]).toBe(`\`${manifest.pgpool.version}\``);
    expect(table.find((r) => r[0] === '`PGHA_ROLE_FILE`')![1]).toBe('`${PGHA_HOME}/.node_role`');
    expect(table.find((r) => r[0] === '`PGHA_DELEGATE_IP`')![1]).toBe('empty');
  });

  it('keeps a pipe or a line break in a meaning inside its cell', () => {
    const [row] = rows(renderEnvironmentReference([{ name: 'X', value: 'a|b', doc: 'one | two\nthree' }]));
    expect(row).toEqual(['`X`', '`a\\|b`', 'one \\| two three']);
  });

  it('is the page generate writes, under docs/reference/', () => {
    expect([...renderDocs(manifest)]).toEqual([[ENVIRONMENT_PAGE, page]]);
    expect(ENVIRONMENT_PAGE).toMatch(/^docs\/reference\//);
  });
});

describe('generated docs beside hand-written ones', () => {
  it('only docs/reference/ is owned: a hand-written page is neither drift nor removed, a stale reference page is', () => {
    const root = mkdtempSync(join(tmpdir(), 'pgha-docs-'));
    mkdirSync(join(root, 'docs/reference'), { recursive: true });
    writeFileSync(join(root, 'docs/building.md'), '# Building\n');
    writeFileSync(join(root, 'docs/reference/old.md'), '# gone\n');
    const rendered = renderDocs(manifest);
    expect(writeRendered(rendered, root)).toEqual({ changed: [], missing: [ENVIRONMENT_PAGE], extra: ['docs/reference/old.md'] });
    expect(drift(rendered, root)).toEqual({ changed: [], missing: [], extra: [] });
  });
});
