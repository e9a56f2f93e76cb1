import type Docker from 'dockerode';
import { PATHS } from '../images/facts.js';
import { sh } from '../docker/exec.js';
import type { BenchIo } from './run.js';
import { BENCH_OFFSETS, benchAddress, benchContainerName, nodeHosts, type BenchSide } from './layout.js';
import { BENCH_DB, sslEnv, type Endpoint, type Series, type Target } from './plan.js';
import {
  BENCH_RUN_DIR,
  GENERATED_PGPOOL_CONF,
  SAMPLE_PGPOOL_DIR,
  generatedPgpoolEnv,
  generatedPgpoolOverrides,
  haproxyCfg,
  pgbouncerIni,
  samplePgpoolOverrides,
  type PgbouncerPoolMode,
} from './proxies.js';

/** What the bench's containers borrow from a running pgpool node: its network, its TLS and secrets mounts, its environment, the cluster's file. */
export interface ClusterSide {
  network: string;
  /** The bind source of the nodes' TLS directory; null when the cluster runs without TLS. */
  tlsDir: string | null;
  secretsDir: string;
  nodeEnv: Record<string, string>;
  clusterConf: string;
}

export async function clusterSide(io: BenchIo): Promise<ClusterSide> {
  const node = io.docker.getContainer(`${io.cluster.name}-${io.topo.pgpool[0]!.host}`);
  const info = await node.inspect();
  const source = (dest: string) => info.Mounts.find((m) => m.Destination === dest)?.Source ?? null;
  const secretsDir = source(PATHS.secretsMount);
  if (!secretsDir) throw new Error(`${info.Name.slice(1)} mounts nothing at ${PATHS.secretsMount}: the bench's pgpool copy needs the cluster's secrets`);
  const nodeEnv = Object.fromEntries((info.Config.Env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
  const conf = await sh(node, `cat ${PATHS.pgpoolEtc}/cluster.conf`, { check: true });
  return { network: Object.keys(info.NetworkSettings.Networks)[0]!, tlsDir: source(PATHS.tlsMount), secretsDir, nodeEnv, clusterConf: conf.stdout };
}

interface SideSpec {
  side: BenchSide;
  image: string;
  env?: string[];
  binds?: string[];
  /** Default: sleep, and the bench starts what runs in it. */
  entrypoint?: string[];
}

/**
 * One of the bench's containers on the cluster's network at its own address, the nodes' names
 * in its /etc/hosts; removed by the caller with its anonymous volumes (v: the bench image is
 * the postgres image's, which declares a VOLUME).
 */
export async function startSide(io: BenchIo, side: ClusterSide, spec: SideSpec): Promise<Docker.Container> {
  const name = benchContainerName(io.cluster, spec.side);
  await io.docker.getContainer(name).remove({ force: true, v: true }).catch(() => {});
  const c = await io.docker.createContainer({
    name,
    Image: spec.image,
    Entrypoint: spec.entrypoint ?? ['sleep'],
    Cmd: spec.entrypoint ? [] : ['infinity'],
    User: 'root',
    Env: [`PGPASSWORD=${io.password}`, ...(spec.env ?? [])],
    // The images' own health checks ask for what these containers do not run (a watchdog, a node).
    Healthcheck: { Test: ['NONE'] },
    HostConfig: { NetworkMode: side.network, AutoRemove: false, Binds: spec.binds ?? [], ExtraHosts: nodeHosts(io.topo) },
    NetworkingConfig: { EndpointsConfig: { [side.network]: { IPAMConfig: { IPv4Address: benchAddress(io.topo, BENCH_OFFSETS[spec.side]) } } } },
  });
  await c.start();
  return c;
}

/** The nodes' TLS directory, read-only where the nodes have it: pgbench verifies every target against its CA. */
export const tlsBind = (side: ClusterSide) => (side.tlsDir ? [`${side.tlsDir}:${PATHS.tlsMount}:ro`] : []);

/** Copies of the cluster's certificate, key and CA in `dir`, the key readable by `owner` only (pgbouncer and pgpool run unprivileged). */
const copyTls = (dir: string, owner: string) =>
  [`install -d -o ${owner} -m 0700 ${dir}`, ...['server.crt', 'server.key', 'ca.crt'].map((f) => `install -o ${owner} -m 0600 ${PATHS.tlsMount}/${f} ${dir}/${f}`)].join('\n');

/** pgbouncer in a container of its own, in front of the primary, configured for the series. */
export async function startPgbouncer(io: BenchIo, side: ClusterSide, which: 'pgbouncer' | 'pgbouncer-session', primary: Endpoint, series: Series, largestClients: number): Promise<{ container: Docker.Container; ini: string }> {
  const mode: PgbouncerPoolMode = which === 'pgbouncer' ? 'transaction' : 'session';
  const ini = pgbouncerIni(primary, mode, series, largestClients);
  const container = await startSide(io, side, { side: which, image: io.benchImage, binds: tlsBind(side) });
  const d = BENCH_RUN_DIR;
  const setup = [
    'set -e',
    `install -d -o postgres -m 0700 ${d}`,
    `printf '"postgres" "%s"\\n' "$PGPASSWORD" >${d}/userlist.txt`,
    `cat >${d}/pgbouncer.ini <<'EOF'\n${ini}EOF`,
    ...(series === 'tls' ? [copyTls(`${d}/tls`, 'postgres')] : []),
    `chown -R postgres ${d}`,
    `chmod 0600 ${d}/userlist.txt`,
    `runuser -u postgres -- pgbouncer -d ${d}/pgbouncer.ini`,
  ].join('\n');
  await sh(container, setup, { check: true });
  return { container, ini };
}

/** HAProxy in a container of its own: a TCP relay to the primary. */
export async function startHaproxy(io: BenchIo, side: ClusterSide, primary: Endpoint): Promise<{ container: Docker.Container; cfg: string }> {
  const cfg = haproxyCfg(primary);
  const container = await startSide(io, side, { side: 'haproxy', image: io.benchImage });
  await sh(container, `set -e\ninstall -d -m 0700 ${BENCH_RUN_DIR}\ncat >${BENCH_RUN_DIR}/haproxy.cfg <<'EOF'\n${cfg}EOF\nhaproxy -D -f ${BENCH_RUN_DIR}/haproxy.cfg`, { check: true });
  return { container, cfg };
}

/**
 * pgpool with its upstream sample config (samplePgpoolOverrides): the cluster's pgpool binary,
 * none of the generated settings. The password reaches pool_passwd from the container's
 * environment, in plain text (pgpool's TEXT prefix), inside the container only.
 */
export async function startSamplePgpool(io: BenchIo, side: ClusterSide, backends: Endpoint[], series: Series, children: number): Promise<{ container: Docker.Container; overrides: string }> {
  const overrides = samplePgpoolOverrides(backends, series, children);
  const container = await startSide(io, side, { side: 'pgpool-sample', image: io.pgpoolImage, binds: tlsBind(side) });
  const d = SAMPLE_PGPOOL_DIR;
  const setup = [
    'set -e',
    `install -d -o postgres -g postgres -m 0700 ${d}`,
    `cp /usr/local/etc/pgpool.conf.sample ${d}/pgpool.conf`,
    `cat >>${d}/pgpool.conf <<'EOF'\n${overrides}EOF`,
    ...(series === 'tls' ? [copyTls(d, 'postgres')] : []),
    `printf 'postgres:TEXT%s\\n' "$PGPASSWORD" >${d}/pool_passwd`,
    `: >${d}/pcp.conf`,
    `chown postgres:postgres ${d} ${d}/pgpool.conf ${d}/pool_passwd ${d}/pcp.conf`,
    `chmod 0600 ${d}/pool_passwd`,
    // su -s: both variants have it (Debian's util-linux, Alpine's BusyBox).
    `su -s /bin/sh postgres -c 'exec setsid pgpool -n -D -f ${d}/pgpool.conf -F ${d}/pcp.conf' >${d}/pgpool.log 2>&1 </dev/null &`,
  ].join('\n');
  await sh(container, setup, { check: true });
  return { container, overrides };
}

/**
 * The generated pgpool, run beside the cluster: the cluster's pgpool image with its own
 * entrypoint, the nodes' secrets and (tls series) TLS directory, and the cluster's file plus
 * the bench's lines (generatedPgpoolOverrides: no watchdog, no failover commands, headroom).
 */
export async function startGeneratedPgpool(io: BenchIo, side: ClusterSide, series: Series, children: number): Promise<{ container: Docker.Container; conf: string }> {
  const conf = `${side.clusterConf}${generatedPgpoolOverrides(children)}`;
  const env = Object.entries(generatedPgpoolEnv(side.nodeEnv, series)).map(([k, v]) => `${k}=${v}`);
  const container = await startSide(io, side, {
    side: 'pgpool',
    image: io.pgpoolImage,
    env: [...env, `PGHA_BENCH_CONF=${conf}`],
    binds: [`${side.secretsDir}:${PATHS.secretsMount}:ro`, ...(series === 'tls' ? tlsBind(side) : [])],
    entrypoint: ['bash', '-c', `printf '%s' "$PGHA_BENCH_CONF" >${GENERATED_PGPOOL_CONF} && exec ${PATHS.entrypoint}`],
  });
  return { container, conf };
}

/** Waits (60 s at most) until a target answers pgbench's user with the series' TLS settings, asked from the pgbench container. */
export async function waitForTarget(pgbench: Docker.Container, target: Target, at: Endpoint, series: Series, logOf: () => Promise<string>): Promise<void> {
  const ready = await sh(pgbench, `for _ in $(seq 60); do PGCONNECT_TIMEOUT=2 psql -X -q -At -h ${at.host} -p ${at.port} -U postgres -d ${BENCH_DB} -c 'SELECT 1' >/dev/null 2>&1 && exit 0; sleep 1; done; exit 1`, { env: sslEnv(series) });
  if (ready.exitCode !== 0) throw new Error(`${target} (${series}) did not answer within 60 s at ${at.host}:${at.port}: ${(await logOf()).trim().split('\n').slice(-15).join(' | ')}`);
}

