import type { Manifest } from '../manifest/schema.js';
import { shellEnvironment, type EnvVar } from '../shell/env.js';

/** Where the environment reference lives in the project tree. */
export const ENVIRONMENT_PAGE = 'docs/reference/environment.md';

/** Text safe inside a Markdown table cell: a bare `|` would end the cell, a line break the row. */
function cell(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
}

/** A default as the page shows it: shell text in a code span, or a word when there is none. */
function shownDefault(value: string): string {
  return value === '' ? 'empty' : `\`${cell(value)}\``;
}

/**
 * The reference page of every variable the pgha scripts read (name, default, meaning), in
 * the order env.ts declares them, which is the order pgha-env.sh sets them. Pure: the same
 * variables give the same page, byte for byte.
 */
export function renderEnvironmentReference(vars: EnvVar[], manifestSource = 'versions.json'): string {
  const lines = [
    '<!-- generated from src/shell/env.ts by pgha (npm run generate); do not edit -->',
    '# Environment reference',
    '',
    'Every variable the pgha shell scripts read, with its default and what it means. This page is',
    'generated from `src/shell/env.ts`, the one list the images\' `pgha-env.sh` is rendered from',
    `too, with the versions of \`${manifestSource}\`; \`npx pgha generate --check\` reports it when it`,
    'is out of date. Edit `src/shell/env.ts`, then run `npm run generate`.',
    '',
    'A container\'s environment overrides any default. A default may use an earlier variable',
    '(`${PGHA_HOME}`) or a command (`$(hostname)`); "empty": no default, the compose file or the',
    'cluster definition sets it where it is needed.',
    '',
    '| variable | default | meaning |',
    '| --- | --- | --- |',
    ...vars.map((v) => `| \`${v.name}\` | ${shownDefault(v.value)} | ${cell(v.doc)} |`),
    '',
  ];
  return lines.join('\n');
}

/** The generated documentation pages, keyed by their project path. */
export function renderDocs(manifest: Manifest, manifestSource?: string): Map<string, string> {
  return new Map([[ENVIRONMENT_PAGE, renderEnvironmentReference(shellEnvironment(manifest), manifestSource)]]);
}
