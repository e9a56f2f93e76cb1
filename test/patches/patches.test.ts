import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { derive } from '../../src/manifest/schema.js';
import { extractParams } from '../../src/pgpool/extract.js';
import { PARAM_TABLES } from '../../src/pgpool/params.js';
import { defaultCacheDir, ensurePgpoolTarball } from '../../src/sources/cache.js';
import { hasCommand, IN_CI, projectInput, renderProject, ROOT, toolMissing } from '../helpers.js';

const input = projectInput();
const { manifest } = input;
const derived = derive(manifest);
const rendered = renderProject();
const topDir = manifest.pgpool.tarball.topDir;

let tarball: string | undefined;
let unavailable = '';

beforeAll(async () => {
  try {
    tarball = (await ensurePgpoolTarball(manifest, defaultCacheDir(ROOT), () => {}, { timeoutMs: 60_000 })).path;
  } catch (err) {
    if (IN_CI) throw err;
    unavailable = (err as Error).message;
  }
});

/** A fresh unpacked copy of the pinned tarball. */
function unpack(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pgha-src-'));
  execFileSync('tar', ['-xzf', tarball!, '-C', dir]);
  return join(dir, topDir);
}

/** The build context's patch directory (series + patches), written out as the Dockerfile sees it. */
function contextPatches(series?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'pgha-patches-'));
  const ctx = 'images/pgpool/alpine';
  for (const [path, content] of rendered) {
    if (path.startsWith(`${ctx}/patches/`)) writeFileSync(join(dir, path.slice(`${ctx}/patches/`.length)), content);
  }
  if (series !== undefined) writeFileSync(join(dir, 'series'), series);
  writeFileSync(join(dir, 'apply-patches.sh'), rendered.get(`${ctx}/apply-patches.sh`)!);
  return dir;
}

function applyPatches(src: string, patchDir: string, skip = '') {
  return spawnSync('bash', [join(patchDir, 'apply-patches.sh'), src, patchDir, skip], { encoding: 'utf8' });
}

describe('patch set against the real pinned tarball', () => {
  it('the tarball comes from the source cache with the pinned sha256', (ctx) => {
    if (!tarball) ctx.skip(`tarball unavailable: ${unavailable}`);
    expect(readFileSync(tarball!).length).toBeGreaterThan(1_000_000);
  });

  it('every hunk of every patch applies cleanly, without fuzz or offset', (ctx) => {
    if (!tarball) ctx.skip(`tarball unavailable: ${unavailable}`);
    const src = unpack();
    for (const p of derived.patches) {
      const r = spawnSync('patch', ['-d', src, '-p1', '--forward', '--batch', '--dry-run'], { input: readFileSync(join(ROOT, p.file)), encoding: 'utf8' });
      expect(r.status, `${p.name}: ${r.stdout}${r.stderr}`).toBe(0);
      expect(r.stdout, p.name).not.toMatch(/FAILED|fuzz|offset|Reversed/i);
    }
  });

  it("the build's apply-patches.sh applies the set and proves each change is present", (ctx) => {
    if (!tarball) ctx.skip(`tarball unavailable: ${unavailable}`);
    const src = unpack();
    const r = applyPatches(src, contextPatches());
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(`${derived.patches.length} patch(es) applied and verified`);
    for (const p of derived.patches) expect(readFileSync(join(src, p.target), 'utf8')).toContain(p.marker);
  });

  it('fails the build when a patch is already applied (nothing to do is not success)', (ctx) => {
    if (!tarball) ctx.skip(`tarball unavailable: ${unavailable}`);
    const src = unpack();
    const patches = contextPatches();
    expect(applyPatches(src, patches).status).toBe(0);
    expect(applyPatches(src, patches).status).not.toBe(0);
  });

  it("fails the build when a patch applies but its marker is missing", (ctx) => {
    if (!tarball) ctx.skip(`tarball unavailable: ${unavailable}`);
    const p = derived.patches[0]!;
    const series = `${p.name}\t${p.file.split('/').pop()}\t${p.target}\tthis text is not in the patched file\n`;
    const r = applyPatches(unpack(), contextPatches(series));
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`${p.name} applied but its change is missing from ${p.target}`);
  });

  it('the committed 4.7 key table is what the pinned tarball defines', (ctx) => {
    if (!tarball) ctx.skip(`tarball unavailable: ${unavailable}`);
    const src = unpack();
    const table = extractParams(readFileSync(join(src, 'src/config/pool_config_variables.c'), 'utf8'));
    const committed = PARAM_TABLES['4.7']!;
    expect(table).toEqual({ plain: committed.plain, indexed: committed.indexed, aliases: committed.aliases });
  });
});

describe('watchdog ping RTT parsing (get_result compiled from the source)', () => {
  const IPUTILS = 'PING 10.0.0.2 (10.0.0.2) 56(84) bytes of data.\n\n--- 10.0.0.2 ping statistics ---\n3 packets transmitted, 3 received, 0% packet loss, time 2043ms\nrtt min/avg/max/mdev = 0.045/0.052/0.060/0.006 ms\n';
  const BUSYBOX = 'PING 10.0.0.2 (10.0.0.2): 56 data bytes\n\n--- 10.0.0.2 ping statistics ---\n3 packets transmitted, 3 packets received, 0% packet loss\nround-trip min/avg/max = 0.061/0.070/0.079 ms\n';
  const harnesses: Record<'patched' | 'unpatched', string> = { patched: '', unpatched: '' };

  /** Compiles pgpool's own get_result() out of wd_ping.c with a tiny main that feeds it stdin. */
  function compile(src: string, name: string): string {
    const file = readFileSync(join(src, 'src/watchdog/wd_ping.c'), 'utf8');
    const start = file.indexOf('static double\nget_result(char *ping_data)\n{');
    const end = file.indexOf('\n}\n', start);
    expect(start, 'get_result() not found in wd_ping.c').toBeGreaterThan(0);
    const dir = mkdtempSync(join(tmpdir(), `pgha-rtt-${name}-`));
    const harness = [
      '#include <errno.h>',
      '#include <stdio.h>',
      '#include <stdlib.h>',
      '#include <string.h>',
      '/* pgpool logging is not under test: the macro drops its arguments unevaluated. */',
      '#define ereport(level, rest) ((void) 0)',
      file.slice(start, end + 3),
      'int main(void) {',
      '  static char buf[8192];',
      '  size_t n = fread(buf, 1, sizeof(buf) - 1, stdin);',
      '  buf[n] = 0;',
      '  printf("%.3f\\n", get_result(n ? buf : NULL));',
      '  return 0;',
      '}',
    ].join('\n');
    writeFileSync(join(dir, 'harness.c'), harness);
    execFileSync('cc', ['-Wall', '-Werror', '-o', join(dir, 'rtt'), join(dir, 'harness.c')]);
    return join(dir, 'rtt');
  }

  const run = (bin: string, stdin: string) => execFileSync(bin, { input: stdin, encoding: 'utf8' }).trim();

  beforeAll(() => {
    if (!tarball || toolMissing('cc')) return;
    const pristine = unpack();
    harnesses.unpatched = compile(pristine, 'unpatched');
    const patched = unpack();
    const r = applyPatches(patched, contextPatches());
    expect(r.status, r.stderr).toBe(0);
    harnesses.patched = compile(patched, 'patched');
  });

  it('patched: reads the average from iputils and BusyBox summaries, -1 for garbage', (ctx) => {
    if (!harnesses.patched) ctx.skip(`tarball unavailable: ${unavailable}`);
    const bin = harnesses.patched;
    expect(run(bin, IPUTILS)).toBe('0.052');
    expect(run(bin, BUSYBOX)).toBe('0.070');
    expect(run(bin, '')).toBe('-1.000');
    expect(run(bin, 'hello/world/a/b/c/d/e\n')).toBe('-1.000');
    expect(run(bin, 'round-trip min/avg/max = abc/def/ghi ms\n')).toBe('-1.000');
    expect(run(bin, 'round-trip min/avg/max = 0.061\n')).toBe('-1.000');
    expect(run(bin, '3 packets transmitted, 0 packets received, 100% packet loss\n')).toBe('-1.000');
  });

  it('unpatched: the bug is real: BusyBox output gives -1, so the VIP is never confirmed', (ctx) => {
    if (!harnesses.unpatched) ctx.skip(`tarball unavailable: ${unavailable}`);
    expect(run(harnesses.unpatched, IPUTILS)).toBe('0.052');
    expect(run(harnesses.unpatched, BUSYBOX)).toBe('-1.000');
  });

  it('patched: parses what BusyBox and iputils ping really print on this machine', (ctx) => {
    if (!harnesses.patched) ctx.skip(`tarball unavailable: ${unavailable}`);
    if (toolMissing('busybox')) ctx.skip('busybox not installed');
    const busybox = execFileSync('busybox', ['ping', '-q', '-c', '2', '127.0.0.1'], { encoding: 'utf8' });
    expect(busybox).toMatch(/round-trip min\/avg\/max = /);
    const avg = Number(/= [\d.]+\/([\d.]+)\//.exec(busybox)![1]);
    expect(Number(run(harnesses.patched, busybox))).toBeCloseTo(avg, 3);
    if (hasCommand('ping') && !/BusyBox/.test(execFileSync('sh', ['-c', 'ping -V 2>&1 || true'], { encoding: 'utf8' }))) {
      const iputils = execFileSync('ping', ['-q', '-c', '2', '127.0.0.1'], { encoding: 'utf8' });
      const iavg = Number(/= [\d.]+\/([\d.]+)\//.exec(iputils)![1]);
      expect(Number(run(harnesses.patched, iputils))).toBeCloseTo(iavg, 3);
    }
  });
});

