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

describe('health check timer against a backend that accepts and never answers (health_check.c compiled from the source)', () => {
  const harnesses: Record<'patched' | 'unpatched', string> = { patched: '', unpatched: '' };

  /**
   * A listening socket that never accepts still completes the TCP handshake in the kernel, as
   * a frozen host does. The harness connects to it, installs the health check's SIGALRM
   * handler with the very statement health_check.c uses before its alarm(), sets a 1 s alarm
   * and reads, as pool_read() does while authenticating.
   */
  function compile(src: string, name: string): string {
    const hc = readFileSync(join(src, 'src/main/health_check.c'), 'utf8');
    const sig = readFileSync(join(src, 'src/utils/pool_signal.c'), 'utf8');
    const fn = (text: string, head: string) => {
      const start = text.indexOf(head);
      expect(start, `${head} not found`).toBeGreaterThanOrEqual(0);
      return text.slice(start, text.indexOf('\n}\n', start) + 3);
    };
    const install = /\n\s*([^\n;]+);\n\s*alarm\(pool_config->health_check_params\[node\]\.health_check_timeout\);/.exec(hc);
    expect(install, 'the statement before the health check alarm() not found').not.toBeNull();
    const setter = hc.includes('health_check_set_alarm_handler(void)\n{') ? fn(hc, 'static void\nhealth_check_set_alarm_handler(void)\n{') : '';
    const harness = [
      '#include <arpa/inet.h>', '#include <errno.h>', '#include <netinet/in.h>', '#include <signal.h>',
      '#include <stdio.h>', '#include <string.h>', '#include <sys/socket.h>', '#include <unistd.h>',
      'typedef void (*pool_sighandler_t) (int);',
      '#define RETSIGTYPE void',
      '#define HAVE_POSIX_SIGNALS',
      '/* signal masks are not under test */',
      '#define POOL_SETMASK(mask) ((void) 0)',
      'static volatile sig_atomic_t health_check_timer_expired;',
      fn(sig, 'pool_sighandler_t\npool_signal(int signo, pool_sighandler_t func)\n{'),
      fn(hc, 'static RETSIGTYPE health_check_timer_handler(int sig)\n{'),
      setter,
      'int main(void) {',
      '  struct sockaddr_in a; socklen_t len = sizeof(a); char buf[16];',
      '  int l = socket(AF_INET, SOCK_STREAM, 0), c = socket(AF_INET, SOCK_STREAM, 0);',
      '  memset(&a, 0, sizeof(a)); a.sin_family = AF_INET; a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);',
      '  if (bind(l, (struct sockaddr *) &a, sizeof(a)) || listen(l, 4) || getsockname(l, (struct sockaddr *) &a, &len)) return 2;',
      '  if (connect(c, (struct sockaddr *) &a, sizeof(a))) return 3;',
      `  ${install![1]};`,
      '  alarm(1);',
      '  ssize_t n = read(c, buf, sizeof(buf));',
      '  if (n < 0 && errno == EINTR && health_check_timer_expired) { puts("timed out"); return 0; }',
      '  printf("read returned %zd\\n", n); return 1;',
      '}',
    ].join('\n');
    const dir = mkdtempSync(join(tmpdir(), `pgha-hc-${name}-`));
    writeFileSync(join(dir, 'harness.c'), harness);
    execFileSync('cc', ['-Wall', '-Werror', '-Wno-unused-function', '-o', join(dir, 'hc'), join(dir, 'harness.c')]);
    return join(dir, 'hc');
  }

  beforeAll(() => {
    if (!tarball || toolMissing('cc')) return;
    harnesses.unpatched = compile(unpack(), 'unpatched');
    const patched = unpack();
    const r = applyPatches(patched, contextPatches());
    expect(r.status, r.stderr).toBe(0);
    harnesses.patched = compile(patched, 'patched');
  });

  it('patched: the 1 s health check timer ends the read', (ctx) => {
    if (!harnesses.patched) ctx.skip(`tarball unavailable: ${unavailable}`);
    const r = spawnSync(harnesses.patched, { encoding: 'utf8', timeout: 10_000 });
    expect(r.signal, 'the read was still blocked after 10 s').toBeNull();
    expect(r.stdout.trim()).toBe('timed out');
    expect(r.status).toBe(0);
  });

  it('unpatched: the bug is real: the timer fires and the read goes on waiting', (ctx) => {
    if (!harnesses.unpatched) ctx.skip(`tarball unavailable: ${unavailable}`);
    // Five times the timer; still blocked, so the harness is killed by the bound.
    const r = spawnSync(harnesses.unpatched, { encoding: 'utf8', timeout: 5_000 });
    expect(r.signal).toBe('SIGTERM');
    expect(r.stdout).toBe('');
  });
});
