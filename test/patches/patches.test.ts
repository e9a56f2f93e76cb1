import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLSSocket } from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
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

/**
 * Patch 0003 under TLS, against pgpool itself: the patched tree compiled on this host, run in
 * raw mode with one backend, a mock on 127.0.0.1 that does only what a frozen or stalled
 * PostgreSQL does. `ssl = on` covers pgpool -> backend as well.
 */
type MockMode = 'frozen' | 'tls-then-silent' | 'tls-handshake-stalls';

/** Configures and compiles only what the pgpool binary needs (parser, watchdog, src). */
function buildPgpool(src: string): string {
  const run = (args: string[]) => execFileSync(args[0]!, args.slice(1), { cwd: src, stdio: 'ignore' });
  run(['./configure', '--with-openssl']);
  run(['make', '-j2', '-C', 'src/parser']);
  run(['make', '-j2', '-C', 'src/watchdog']);
  run(['make', '-j2', '-C', 'src', 'pgpool']);
  return join(src, 'src/pgpool');
}

/**
 * The compiled patched pgpool, kept between runs under a key of everything that goes into it
 * (the pinned tarball, every patch and the script applying them, the compiler, OpenSSL and
 * libpq versions), as a compiler cache would: the compile costs minutes of a CI run, and the
 * same inputs give the same binary. A changed patch is a new key, so it is compiled again.
 */
function patchedPgpool(): string {
  const key = createHash('sha256').update(manifest.pgpool.tarball.sha256);
  const inputs = [...rendered].filter(([p]) => p.startsWith('images/pgpool/alpine/patches/') || p === 'images/pgpool/alpine/apply-patches.sh').sort(([a], [b]) => a.localeCompare(b));
  for (const [path, content] of inputs) key.update(path).update(content);
  for (const [cmd, arg] of [['cc', '--version'], ['openssl', 'version'], ['pg_config', '--version']] as const) key.update(execFileSync(cmd, [arg], { encoding: 'utf8' }));
  const dir = join(process.env.PGHA_BUILD_CACHE ?? join(homedir(), '.cache', 'pgha', 'pgpool-build'), key.digest('hex').slice(0, 24));
  const binary = join(dir, 'pgpool');
  if (existsSync(binary)) {
    console.log(`patched pgpool from the build cache: ${binary}`);
    return binary;
  }
  const src = unpack();
  const r = applyPatches(src, contextPatches());
  expect(r.status, r.stderr).toBe(0);
  const built = buildPgpool(src);
  mkdirSync(dir, { recursive: true });
  // Copied then renamed: a run stopped halfway leaves no half-written binary under the key.
  copyFileSync(built, `${binary}.partial`);
  renameSync(`${binary}.partial`, binary);
  console.log(`patched pgpool compiled and kept in the build cache: ${binary}`);
  return binary;
}

/** A mock backend: frozen (accepts, never answers), or answers the SSLRequest with 'S' and then
 * completes the TLS handshake and goes silent, or goes silent before its ServerHello. */
function mockBackend(mode: MockMode, key: Buffer, cert: Buffer): Promise<{ server: Server; port: number; seen: string[] }> {
  const seen: string[] = [];
  const keep: Socket[] = [];
  const server = createServer((s) => {
    keep.push(s);
    s.on('error', () => {});
    seen.push('connection');
    if (mode === 'frozen') return;
    s.once('data', () => {
      s.write('S');
      if (mode === 'tls-handshake-stalls') return;
      const t = new TLSSocket(s, { isServer: true, key, cert });
      t.on('secure', () => seen.push('tls'));
      t.on('data', () => seen.push('startup packet over TLS'));
      t.on('error', () => {});
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    server.on('close', () => keep.forEach((s) => s.destroy()));
    resolve({ server, port: (server.address() as { port: number }).port, seen });
  }));
}

function pgpoolConf(dir: string, backendPort: number, flag: string): string {
  const port = 20000 + (process.pid % 20000);
  return [
    "backend_clustering_mode = 'raw'", "listen_addresses = '127.0.0.1'", `port = ${port}`,
    "pcp_listen_addresses = ''", `pcp_port = ${port + 1}`, `unix_socket_directories = '${dir}'`,
    `pcp_socket_dir = '${dir}'`, `pid_file_name = '${dir}/pgpool.pid'`, `work_dir = '${dir}'`,
    "backend_hostname0 = '127.0.0.1'", `backend_port0 = ${backendPort}`, `backend_flag0 = '${flag}'`,
    'num_init_children = 1', 'max_pool = 1', 'sr_check_period = 0', 'use_watchdog = off',
    'health_check_period = 1', 'health_check_timeout = 2', 'health_check_max_retries = 0',
    "health_check_user = 'pgpool'", 'connect_timeout = 1000', 'failover_on_backend_error = off',
    'ssl = on', `ssl_key = '${dir}/key.pem'`, `ssl_cert = '${dir}/cert.pem'`, '',
  ].join('\n');
}

/** The children of a process, from /proc (pid and command line). */
function childrenOf(ppid: number): { pid: number; cmd: string }[] {
  const out: { pid: number; cmd: string }[] = [];
  for (const name of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== ppid) continue;
      out.push({ pid: Number(name), cmd: readFileSync(`/proc/${name}/cmdline`, 'utf8') });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

const sleepMs = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until the log has `count` lines matching `re`; returns the log. */
async function waitForLog(log: () => string, re: RegExp, count: number, ms: number): Promise<string> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if ((log().match(new RegExp(re.source, 'g')) ?? []).length >= count) break;
    await sleepMs(100);
  }
  return log();
}

describe('health check under TLS (patch 0003; pgpool compiled from the patched source, a mock backend)', () => {
  let pgpool = '';
  let tlsFiles: { key: Buffer; cert: Buffer } | undefined;
  const running: { proc: ChildProcess; server: Server }[] = [];

  beforeAll(() => {
    if (!tarball || toolMissing('cc') || toolMissing('make') || toolMissing('openssl') || toolMissing('pg_config')) return;
    if (!existsSync('/usr/include/openssl/ssl.h')) {
      if (IN_CI) throw new Error('the OpenSSL headers (libssl-dev) are required under CI=true');
      return;
    }
    pgpool = patchedPgpool();
    const dir = mkdtempSync(join(tmpdir(), 'pgha-cert-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=mock',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    tlsFiles = { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
  });

  afterEach(async () => {
    for (const { proc, server } of running.splice(0)) {
      const children = childrenOf(proc.pid!);
      proc.kill('SIGINT');
      await sleepMs(500);
      for (const p of [proc.pid!, ...children.map((c) => c.pid)]) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      server.close();
    }
  });

  /** Starts a mock backend and pgpool against it; returns its log and the mock's view. */
  async function start(mode: MockMode, flag = 'ALLOW_TO_FAILOVER') {
    const mock = await mockBackend(mode, tlsFiles!.key, tlsFiles!.cert);
    const dir = mkdtempSync(join(tmpdir(), 'pgha-pgpool-'));
    writeFileSync(join(dir, 'key.pem'), tlsFiles!.key, { mode: 0o600 });
    writeFileSync(join(dir, 'cert.pem'), tlsFiles!.cert);
    writeFileSync(join(dir, 'pgpool.conf'), pgpoolConf(dir, mock.port, flag));
    writeFileSync(join(dir, 'pcp.conf'), '');
    const proc = spawn(pgpool, ['-n', '-f', join(dir, 'pgpool.conf'), '-F', join(dir, 'pcp.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
    running.push({ proc, server: mock.server });
    let log = '';
    proc.stdout!.on('data', (d) => (log += d));
    proc.stderr!.on('data', (d) => (log += d));
    const healthCheck = () => childrenOf(proc.pid!).find((c) => c.cmd.includes('health check process(0)'))?.pid;
    return { log: () => log, seen: mock.seen, healthCheck };
  }

  it('a backend that completes the TLS handshake and then says nothing is declared down within the timeout', async (ctx) => {
    if (!pgpool) ctx.skip(`tarball, compiler or OpenSSL headers unavailable ${unavailable}`);
    const run = await start('tls-then-silent');
    // health_check_timeout = 2: unpatched, OpenSSL retried the interrupted read for ever.
    const log = await waitForLog(run.log, /health check failed on node 0 \(timeout:1\)/, 1, 8_000);
    expect(run.seen).toContain('tls');
    expect(run.seen).toContain('startup packet over TLS');
    expect(log).toContain('health check failed on node 0 (timeout:1)');
  });

  it('a TLS handshake that stalls is an error at the timeout, not a fall back to clear text', async (ctx) => {
    if (!pgpool) ctx.skip(`tarball, compiler or OpenSSL headers unavailable ${unavailable}`);
    const run = await start('tls-handshake-stalls');
    const log = await waitForLog(run.log, /health check failed on node 0 \(timeout:1\)/, 1, 8_000);
    expect(log).toContain('health check failed on node 0 (timeout:1)');
  });

  it('timed-out checks under TLS leave no socket behind (the health check process\'s fds do not grow)', async (ctx) => {
    if (!pgpool) ctx.skip(`tarball, compiler or OpenSSL headers unavailable ${unavailable}`);
    // A frozen backend never answers the SSLRequest; failover disallowed, so the checks go on.
    const run = await start('frozen', 'DISALLOW_TO_FAILOVER');
    const failed = /health check failed on node 0 but failover is disallowed/;
    await waitForLog(run.log, failed, 1, 8_000);
    const pid = run.healthCheck();
    expect(pid, 'no health check process').toBeDefined();
    const fds = () => readdirSync(`/proc/${pid}/fd`).length;
    // Sampled while the next attempt is in its connection (one socket open), after 1 and 5 failures.
    await sleepMs(1_500);
    const after1 = fds();
    const log = await waitForLog(run.log, failed, 5, 20_000);
    expect((log.match(new RegExp(failed.source, 'g')) ?? []).length).toBeGreaterThanOrEqual(5);
    await sleepMs(1_500);
    expect(fds(), `fds after 1 failure: ${after1}`).toBeLessThanOrEqual(after1);
  });
});

describe('sr-check cycle bound (patch 0004; its functions compiled from the source)', () => {
  const harnesses: Record<'patched' | 'unpatched', { cycle: string; exit: string }> = {
    patched: { cycle: '', exit: '' },
    unpatched: { cycle: '', exit: '' },
  };
  const fn = (text: string, head: string) => {
    const start = text.indexOf(head);
    expect(start, `${head} not found`).toBeGreaterThanOrEqual(0);
    return text.slice(start, text.indexOf('\n}\n', start) + 3);
  };

  /**
   * Two harnesses from pool_worker_child.c as the given patch set leaves it: the bound's
   * arithmetic under UBSan, and the exit path: the lock held, sr_check_will_die() run as
   * proc_exit() runs it after a FATAL, then the rest of the exit outlasting the cycle's alarm.
   * The lock's shared memory is not under test: its release writes one line.
   */
  function compile(worker: string, name: string) {
    const dir = mkdtempSync(join(tmpdir(), `pgha-sr-${name}-`));
    const cycle = [
      '#include <stdio.h>', '#include <stdlib.h>',
      'static struct { int connect_timeout; } cfg, *pool_config = &cfg;',
      fn(worker, 'static unsigned int\nsr_check_cycle_seconds(void)\n{'),
      'int main(int argc, char **argv) { cfg.connect_timeout = atoi(argv[1]); printf("%u\\n", sr_check_cycle_seconds()); return 0; }',
    ].join('\n');
    const exit = [
      '#include <signal.h>', '#include <stdbool.h>', '#include <unistd.h>',
      '#define RETSIGTYPE void', '#define POOL_EXIT_AND_RESTART 1', 'typedef long Datum;',
      'static volatile bool follow_primary_lock_acquired;',
      'static void pool_release_follow_primary_lock(bool remote) { (void) write(1, "release\\n", 8); }',
      'static RETSIGTYPE sr_check_cycle_expired(int sig);',
      fn(worker, 'static RETSIGTYPE\nsr_check_cycle_expired(int sig)\n{'),
      fn(worker, 'static void\nsr_check_will_die(int code, Datum arg)\n{'),
      'int main(void) {',
      '  struct sigaction act = {0};',
      '  act.sa_handler = sr_check_cycle_expired; act.sa_flags = SA_RESTART; sigaction(SIGALRM, &act, NULL);',
      '  follow_primary_lock_acquired = 1;',
      '  alarm(1);',
      '  sr_check_will_die(0, 0);',
      '  sleep(2);',
      '  return 0;',
      '}',
    ].join('\n');
    writeFileSync(join(dir, 'cycle.c'), cycle);
    writeFileSync(join(dir, 'exit.c'), exit);
    execFileSync('cc', ['-fsanitize=undefined', '-fno-sanitize-recover=all', '-o', join(dir, 'cycle'), join(dir, 'cycle.c')]);
    execFileSync('cc', ['-Wall', '-Werror', '-Wno-unused-function', '-o', join(dir, 'exit'), join(dir, 'exit.c')]);
    return { cycle: join(dir, 'cycle'), exit: join(dir, 'exit') };
  }

  beforeAll(() => {
    if (!tarball || toolMissing('cc')) return;
    const target = 'src/streaming_replication/pool_worker_child.c';
    const patched = unpack();
    const r = applyPatches(patched, contextPatches());
    expect(r.status, r.stderr).toBe(0);
    harnesses.patched = compile(readFileSync(join(patched, target), 'utf8'), 'patched');
    // The control: 0004 as it was before its hardening (kept beside this test).
    const control = readFileSync(join(ROOT, 'test/patches/control-0004-before-hardening.patch'));
    const older = unpack();
    const p = spawnSync('patch', ['-d', older, '-p1', '--forward', '--batch'], { input: control, encoding: 'utf8' });
    expect(p.status, `control 0004: ${p.stdout}`).toBe(0);
    harnesses.unpatched = compile(readFileSync(join(older, target), 'utf8'), 'control');
  });

  const cycle = (bin: string, ms: number) => spawnSync(bin, [String(ms)], { encoding: 'utf8' });

  it('patched: the bound is twice connect_timeout in whole seconds, at least 5 s, for any connect_timeout', (ctx) => {
    if (!harnesses.patched.cycle) ctx.skip(`tarball unavailable: ${unavailable}`);
    const cases: [number, string][] = [[0, '5'], [1000, '5'], [2001, '6'], [10000, '20'], [2147483647, '4294968']];
    for (const [ms, want] of cases) {
      const r = cycle(harnesses.patched.cycle, ms);
      expect(r.stderr, `connect_timeout ${ms}`).toBe('');
      expect(r.stdout.trim(), `connect_timeout ${ms}`).toBe(want);
    }
  });

  it('control (0004 before the hardening): connect_timeout + 999 overflows near INT_MAX', (ctx) => {
    if (!harnesses.unpatched.cycle) ctx.skip(`tarball unavailable: ${unavailable}`);
    const r = cycle(harnesses.unpatched.cycle, 2147483647);
    expect(r.stderr).toMatch(/signed integer overflow/);
  });

  it('patched: a FATAL during a cycle releases the follow primary lock once', (ctx) => {
    if (!harnesses.patched.exit) ctx.skip(`tarball unavailable: ${unavailable}`);
    const r = spawnSync(harnesses.patched.exit, { encoding: 'utf8', timeout: 10_000 });
    expect(r.stdout).toBe('release\n');
  });

  it('control (0004 before the hardening): the cycle alarm released it a second time during the exit', (ctx) => {
    if (!harnesses.unpatched.exit) ctx.skip(`tarball unavailable: ${unavailable}`);
    const r = spawnSync(harnesses.unpatched.exit, { encoding: 'utf8', timeout: 10_000 });
    expect(r.stdout).toBe('release\nrelease\n');
  });
});
