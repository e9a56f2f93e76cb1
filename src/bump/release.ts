import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PatchSpec } from '../manifest/schema.js';
import { extractKinds, extractParams, type ParamTable } from '../pgpool/extract.js';

/** How one patch of the set fared against a new release. */
export interface PatchCheck {
  name: string;
  ok: boolean;
  /** On failure: patch's own output (the failing hunk) or the missing marker. */
  detail?: string;
}

export interface ReleaseCheck {
  patches: PatchCheck[];
  /** The release's pgpool.conf parameter table, read from its source. */
  params: ParamTable;
}

/** Bounded: a hung tar or patch must not hang the bump. */
const STEP_TIMEOUT_MS = 120_000;

function run(cmd: string, args: string[], input?: string) {
  return spawnSync(cmd, args, { input, encoding: 'utf8', timeout: STEP_TIMEOUT_MS });
}

/**
 * Unpacks a pgpool release tarball in a scratch directory, applies every patch of its
 * minor's set the way the image build does (forward only, no fuzz, no offset), checks each
 * marker is present afterwards, and reads the parameter table from its
 * src/config/pool_config_variables.c. The scratch directory is removed whatever happens.
 */
export function checkRelease(tarball: Buffer, topDir: string, version: string, patches: PatchSpec[], patchText: (p: PatchSpec) => string): ReleaseCheck {
  const scratch = mkdtempSync(join(tmpdir(), 'pgha-bump-'));
  try {
    const file = join(scratch, 'release.tar.gz');
    writeFileSync(file, tarball);
    const untar = run('tar', ['-xzf', file, '-C', scratch]);
    if (untar.status !== 0) throw new Error(`the tarball does not unpack: ${(untar.stderr || untar.error?.message || '').trim()}`);
    const src = join(scratch, topDir);
    if (!existsSync(src)) throw new Error(`the tarball does not unpack to ${topDir}/`);
    // The tree says which release it is: a URL that served another one is caught here.
    const configure = join(src, 'configure');
    const said = existsSync(configure) ? /^PACKAGE_VERSION='([^']*)'/m.exec(readFileSync(configure, 'utf8'))?.[1] : undefined;
    if (said !== version) throw new Error(`the tarball is not pgpool ${version}: its configure says PACKAGE_VERSION=${said ?? '(none)'}`);
    const results = patches.map((p) => applyOne(src, p, patchText(p)));
    const configSource = join(src, 'src/config/pool_config_variables.c');
    if (!existsSync(configSource)) throw new Error(`the release has no src/config/pool_config_variables.c to read its parameters from`);
    const text = readFileSync(configSource, 'utf8');
    return { patches: results, params: { ...extractParams(text), kinds: extractKinds(text) } };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function applyOne(src: string, p: PatchSpec, text: string): PatchCheck {
  const args = ['-d', src, '-p1', '--forward', '--batch', '--fuzz=0'];
  const dry = run('patch', [...args, '--dry-run'], text);
  const out = `${dry.stdout ?? ''}${dry.stderr ?? ''}`.trim();
  if (dry.error) return { name: p.name, ok: false, detail: `patch did not run: ${dry.error.message}` };
  // A hunk that needed an offset or fuzz moved: the patch tests refuse it, so the bump does too.
  if (dry.status !== 0 || /^Hunk #\d+ (FAILED|succeeded at \d+ (with fuzz|\(offset))/m.test(out) || /Reversed \(or previously applied\) patch detected/.test(out)) {
    return { name: p.name, ok: false, detail: `${p.file} does not apply cleanly to ${p.target}:\n${out}` };
  }
  const real = run('patch', args, text);
  if (real.status !== 0) return { name: p.name, ok: false, detail: `${p.file}: ${(real.stdout ?? '') + (real.stderr ?? '')}`.trim() };
  const target = join(src, p.target);
  if (!existsSync(target) || !readFileSync(target, 'utf8').includes(p.marker)) {
    return { name: p.name, ok: false, detail: `${p.file} applied, but its marker is not in ${p.target}: ${p.marker}` };
  }
  return { name: p.name, ok: true };
}
