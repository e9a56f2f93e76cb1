import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execa } from 'execa';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import pg from 'pg';
import { expect } from 'vitest';
import { parseCluster } from '../../src/cluster/load.js';
import type { ClusterInput, Cluster } from '../../src/cluster/schema.js';
import { topology, type Topology } from '../../src/cluster/topology.js';
import { compose, composeCommand } from '../../src/deploy/compose.js';
import { backendStates, clusterStatus, clusterContainers, vipHolders, type ClusterStatus } from '../../src/deploy/inspect.js';
import { clusterImages } from '../../src/images/catalog.js';
import { clusterDown, clusterUp, deployFiles, healedProblem, readiness, writeDeployFiles } from '../../src/deploy/lifecycle.js';
import { logsOf, sh, timestampedLogsSince, waitFor } from '../../src/docker/exec.js';
import { render } from '../../src/render/render.js';
import { stringify } from 'yaml';
import { IN_CI, projectInput, ROOT } from '../helpers.js';
import { engineOrSkip, ensureImages } from '../smoke/harness.js';

export { waitFor, logsOf, sh };

/**
 * One dev cluster of the e2e suite: rendered from the project's templates with a cluster
 * definition of the test's own (its own name and subnet, so it never meets the dev cluster),
 * started with the same code as `pgha cluster up`, torn down with its volumes afterwards.
 */
export class TestCluster {
  readonly dir: string;
  readonly cluster: Cluster;
  readonly topo: Topology;
  /** The cluster definition as a file, for running the pgha CLI against this cluster. */
  readonly definitionFile: string;
  /** The postgres role's password (read from the cluster's secrets at up()). */
  password = '';

  constructor(
    readonly docker: Docker,
    name: string,
    subnetIndex: number,
    overrides: ClusterInput['postgres'] = {},
  ) {
    const input = projectInput();
    const definition: ClusterInput = {
      name,
      network: { subnet: `172.31.${subnetIndex}.0/24`, delegateIp: `172.31.${subnetIndex}.100` },
      postgres: { nodes: 2, replication: 'async', ...overrides },
      // Published ports of its own, clear of the dev cluster's 9999-10001 and of the other suites'.
      pgpool: { nodes: 3, variant: 'debian', publish: { firstPort: 20000 + subnetIndex * 10 } },
    };
    this.cluster = parseCluster(stringify(definition), `${name} (test)`, input.manifest);
    this.topo = topology(this.cluster);
    this.dir = mkdtempSync(join(tmpdir(), `pgha-e2e-${name}-`));
    this.definitionFile = join(this.dir, 'cluster.yaml');
    writeFileSync(this.definitionFile, stringify(definition));
    const rendered = render({ ...input, cluster: this.cluster, clusterSource: `${name} (test)` });
    writeDeployFiles(deployFiles(rendered, this.cluster), this.dir);
  }

  get vip(): string {
    return this.topo.delegateIp;
  }

  /** What `clusterUp` said while it started the cluster (`cluster up` prints the same). */
  upLog: string[] = [];

  async up(): Promise<ClusterStatus> {
    const say = (l: string) => {
      this.upLog.push(l);
      console.log(`[${this.cluster.name}] ${l}`);
    };
    const status = await clusterUp(this.docker, this.cluster, this.topo, this.dir, { say, waitSeconds: 240 });
    this.password = readFileSync(join(this.dir, 'secrets/postgres_password'), 'utf8').trim();
    return status;
  }

  /**
   * What a user does without the pgha CLI: `docker compose up -d` run in the deploy directory,
   * no flags (the project name comes from its .env); then waits until the cluster is ready.
   */
  async upWithPlainCompose(): Promise<ClusterStatus> {
    // Debian's standalone docker-compose (1.29) where it is installed: the pgha CLI runs
    // `docker compose` (v2) when that is there, so the two generations are both exercised.
    const standalone = await execa('docker-compose', ['version', '--short'], { reject: false }).catch(() => null);
    const cmd = standalone?.exitCode === 0 ? ['docker-compose'] : await composeCommand();
    console.log(`[${this.cluster.name}] plain up with ${cmd.join(' ')} ${standalone?.exitCode === 0 ? standalone.stdout.trim() : ''}`);
    await execa(cmd[0]!, [...cmd.slice(1), 'up', '-d'], { cwd: this.dir, all: true });
    // As cluster up waits: every standby streaming as pgpool reports it, too.
    const status = await this.waitReady('the cluster started by plain docker compose up to become ready', 240_000, healedProblem);
    this.password = readFileSync(join(this.dir, 'secrets/postgres_password'), 'utf8').trim();
    return status;
  }

  async down(opts = { volumes: true }): Promise<void> {
    await clusterDown(this.cluster, this.dir, opts);
  }

  async destroy(): Promise<void> {
    // For a person reading a failure: the containers and deploy directory stay (never in CI).
    if (process.env.PGHA_E2E_KEEP === '1' && process.env.CI !== 'true') {
      console.log(`[${this.cluster.name}] kept (PGHA_E2E_KEEP=1): ${this.dir}`);
      return;
    }
    // Thrown away with its volumes: no graceful stop is owed. With the services' own grace
    // periods (up to 60 s) a teardown took 30-70 s between two files of a rehearsal.
    await this.compose(['down', '-v', '-t', '1']).catch((err) => console.error(`[${this.cluster.name}] down failed: ${(err as Error).message}`));
    rmSync(this.dir, { recursive: true, force: true });
  }

  compose(args: string[]) {
    return compose(this.dir, this.cluster.name, args, { all: true });
  }

  container(host: string): Docker.Container {
    return clusterContainers(this.docker, this.cluster).get(host);
  }

  containerName(host: string): string {
    return `${this.cluster.name}-${host}`;
  }

  status(): Promise<ClusterStatus> {
    return clusterStatus(clusterContainers(this.docker, this.cluster), this.cluster, this.topo);
  }

  /** Until `check` finds nothing missing (readiness by default; healedProblem: standbys streaming too). */
  async waitReady(what: string, timeoutMs = 180_000, check: (s: ClusterStatus) => string | null = readiness): Promise<ClusterStatus> {
    return waitFor(what, async () => {
      const s = await this.status();
      const why = check(s);
      if (why) throw new Error(why);
      return s;
    }, timeoutMs, 2000);
  }

  vipHolders(): Promise<string[]> {
    return vipHolders(clusterContainers(this.docker, this.cluster), this.topo);
  }

  /** A client connection through the delegate IP, as an application would open one. */
  async client(): Promise<pg.Client> {
    const c = new pg.Client({ host: this.vip, port: this.cluster.pgpool.port, user: 'postgres', password: this.password, database: 'postgres', connectionTimeoutMillis: 5000, statement_timeout: 15000 });
    c.on('error', () => {}); // a dying backend must not crash the test process
    await c.connect();
    return c;
  }

  async query<T extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> {
    const c = await this.client();
    try {
      return (await c.query<T>(sql, params)).rows;
    } finally {
      await c.end().catch(() => {});
    }
  }

  /**
   * psql (libpq, which knows multi-host strings; node-postgres does not) on the Docker host's
   * network, as a client on the host would connect: a throw-away container of the postgres image.
   */
  psqlFromHost(conninfo: string, sql: string) {
    return this.fromHost('psql', [conninfo, '-X', '-At', '-c', sql], 60_000);
  }

  /** How many of `times` sessions in a row (one libpq connection each) from the host connect and answer SELECT 1. */
  async sessionsFromHost(conninfo: string, times: number): Promise<number> {
    const loop = 'n=0; for _ in $(seq "$2"); do if psql "$1" -X -At -c "SELECT 1" >/dev/null; then n=$((n + 1)); fi; done; echo "$n"';
    const r = await this.fromHost('bash', ['-c', loop, 'sessions', conninfo, String(times)], 120_000);
    return Number(r.stdout.trim());
  }

  /** `entrypoint args` in a throw-away container of the postgres image on the Docker host's network, with the cluster's password. */
  private fromHost(entrypoint: string, args: string[], timeout: number) {
    const image = clusterImages(projectInput().catalog, this.cluster).postgres;
    return execa('docker', ['run', '--rm', '--network', 'host', '-e', `PGPASSWORD=${this.password}`, '--entrypoint', entrypoint, image, ...args], { reject: false, timeout });
  }

  /** SQL on one postgres node directly (local socket, as postgres), bypassing pgpool. */
  async onNode(host: string, sql: string, database = 'postgres'): Promise<string> {
    const r = await sh(this.container(host), `psql -X -At -v ON_ERROR_STOP=1 -d ${database} -c "${sql.replace(/"/g, '\\"')}"`, { user: 'postgres' });
    if (r.exitCode !== 0) throw new Error(`${host}: ${sql}: ${r.stderr.trim()}`);
    return r.stdout.trim();
  }

  /** Runs the pgha CLI on this cluster (`pgha cluster <args> --cluster <file> --dir <dir>`). */
  cli(...args: string[]) {
    return execa('node', [join(ROOT, 'bin/pgha.js'), 'cluster', ...args, '--cluster', this.definitionFile, '--dir', this.dir], { cwd: ROOT, reject: false });
  }

  /** Runs `pgha chaos <args> --json` on this cluster, recording under a fresh directory (`results`, RESULTS.md beside it). */
  chaos(results: string, ...args: string[]) {
    return execa('node', [join(ROOT, 'bin/pgha.js'), 'chaos', ...args, '--json', '--results', join(results, 'results'), '--cluster', this.definitionFile, '--dir', this.dir], { cwd: ROOT, reject: false, timeout: 600_000 });
  }

  async logs(host: string): Promise<string> {
    return logsOf(this.container(host));
  }

  /**
   * After a failed test: each node's last pgha steps and pgpool/postgres errors, on stdout,
   * so a CI log says what the cluster was doing (its containers are removed afterwards).
   */
  async printDiagnostics(lines = 25): Promise<void> {
    const out: string[] = [];
    for (const n of [...this.topo.postgres, ...this.topo.pgpool]) {
      const log = await this.logs(n.host).catch((err) => `(no log: ${(err as Error).message})`);
      const picked = log.split('\n').filter((l) => /pgha\[|FATAL|ERROR|PANIC|state changed|escalation/.test(l)).slice(-lines);
      out.push(`--- ${n.host} (last ${picked.length} pgha/error/watchdog lines)`, ...picked.map((l) => l.slice(0, 300)));
    }
    console.log(`[${this.cluster.name}] diagnostics after a failure:\n${out.join('\n')}`);
  }

  /** Every pgpool node's log, concatenated (failover scripts run on whichever node leads). */
  async pgpoolLogs(): Promise<string> {
    const parts: string[] = [];
    for (const n of this.topo.pgpool) parts.push(await this.logs(n.host).catch(() => ''));
    return parts.join('\n');
  }

  primaryOf(s: ClusterStatus): string | undefined {
    return s.backends.find((b) => b.role === 'primary' && b.status === 'up')?.host;
  }
}

/**
 * Inserts ids one by one through the delegate IP, reconnecting after errors, and remembers
 * which inserts the server acknowledged: the rows a client was told are committed.
 */
export class Writer {
  /** Next id per cluster and table, so a second writer on the same table never repeats an id. */
  private static nextIds = new Map<string, number>();
  readonly acked: number[] = [];
  readonly errors: string[] = [];
  private running = true;
  private loop: Promise<void>;

  constructor(private readonly tc: TestCluster, private readonly table: string, private readonly pauseMs = 50) {
    this.loop = this.run();
  }

  private get key(): string {
    return `${this.tc.cluster.name}.${this.table}`;
  }

  private takeId(): number {
    const id = Writer.nextIds.get(this.key) ?? 1;
    Writer.nextIds.set(this.key, id + 1);
    return id;
  }

  private async run(): Promise<void> {
    let client: pg.Client | null = null;
    while (this.running) {
      try {
        client ??= await this.tc.client();
        const id = this.takeId();
        await client.query(`INSERT INTO ${this.table}(id) VALUES ($1)`, [id]);
        this.acked.push(id);
      } catch (err) {
        this.errors.push((err as Error).message);
        await client?.end().catch(() => {});
        client = null;
        await new Promise((r) => setTimeout(r, 500));
      }
      await new Promise((r) => setTimeout(r, this.pauseMs));
    }
    await client?.end().catch(() => {});
  }

  /** Waits until at least `n` more inserts are acknowledged. */
  async ackedMore(n: number, timeoutMs = 120_000): Promise<void> {
    const target = this.acked.length + n;
    await waitFor(`${n} more acknowledged inserts into ${this.table}`, async () => this.acked.length >= target, timeoutMs, 200);
  }

  async stop(): Promise<{ acked: number[]; errors: string[] }> {
    this.running = false;
    await this.loop;
    return { acked: this.acked, errors: this.errors };
  }
}

/** The ids acknowledged to the client that are missing from `ids` (must be empty). */
export function lost(acked: number[], ids: number[]): number[] {
  const have = new Set(ids);
  return acked.filter((id) => !have.has(id));
}

/** The engine for the e2e suite, or null (suite skipped) outside CI when no engine or compose is there; under CI=true either missing fails. */
export async function e2eEngine(): Promise<Docker | null> {
  const docker = await engineOrSkip();
  if (!docker) return null;
  try {
    await composeCommand();
  } catch (err) {
    if (IN_CI) throw err;
    return null;
  }
  await ensureImages(docker, ['postgres/bookworm', 'pgpool/bookworm']);
  return docker;
}

/** Lines of `host`'s log written at or after `since` (epoch ms). */
export async function logSince(tc: TestCluster, host: string, since: number): Promise<string> {
  return timestampedLogsSince(tc.container(host), since);
}

export interface CompoundOutcome {
  /** The node that was primary first, and the one promoted after it was killed. */
  first: string;
  second: string;
  /** Seconds from starting the second node again until the cluster was whole (healedProblem). */
  healSeconds: number;
  acked: number[];
  /** Acknowledged ids missing through pgpool at the end. */
  lostAcked: number[];
  /** `pgha cluster status` while both nodes were down in pgpool. */
  downStatus: ClusterStatus;
}

/**
 * Issue 23's compound fault: kill the primary; once the standby is promoted, start the old
 * primary and, while it is being rebuilt (its pcp_recovery_node under way), kill the new
 * primary; then start that one too. Writes run through the delegate IP all along. Returns once
 * the cluster is whole again (every node up, one primary, every standby streaming and attached)
 * or throws after `healMs`.
 */
export async function killDuringRejoin(tc: TestCluster, table: string, healMs = 180_000): Promise<CompoundOutcome> {
  const whole = await tc.waitReady('the cluster whole before the compound fault', 180_000, healedProblem);
  const first = tc.primaryOf(whole)!;
  const second = tc.topo.postgres.map((n) => n.host).find((h) => h !== first)!;
  await tc.query(`CREATE TABLE IF NOT EXISTS ${table} (id int PRIMARY KEY)`);
  const writer = new Writer(tc, table, 20);
  try {
    await writer.ackedMore(50);
    await tc.container(first).kill();
    await waitFor(`${second} promoted`, async () => {
      const s = await tc.status().catch(() => null);
      return s && tc.primaryOf(s) === second;
    }, 120_000, 500);
    const restartedAt = Date.now();
    await tc.container(first).start();
    // The rebuild is under way once the returning node has asked pgpool for it.
    await waitFor(`${first} to ask pgpool to rebuild it`, async () => /action=rejoin: asking pgpool/.test(await logSince(tc, first, restartedAt)), 120_000, 200);
    await tc.container(second).kill();
    // The second fault is real once pgpool has seen it (pcp answers while no backend is up).
    // pcp, not SHOW pool_nodes (which needs a backend up, and none is).
    await waitFor(`pgpool to mark ${second} down`, async () => {
      const states = await backendStates(tc.container(tc.topo.pgpool[0]!.host), tc.cluster).catch(() => null);
      return states?.find((b) => b.host === second)?.status === 'down';
      // pgpool takes no decision while an online recovery runs (40 s when its primary is gone).
    }, 120_000, 500);
    const downStatus = await tc.status();
    const startedAt = Date.now();
    await tc.container(second).start();
    await tc.waitReady('the cluster whole again after the compound fault', healMs, healedProblem);
    const healSeconds = (Date.now() - startedAt) / 1000;
    await writer.ackedMore(20, 60_000);
    const { acked } = await writer.stop();
    const have = (await tc.query<{ id: number }>(`SELECT id FROM ${table}`)).map((r) => r.id);
    return { first, second, healSeconds, acked, lostAcked: lost(acked, have), downStatus };
  } finally {
    await writer.stop();
  }
}

/**
 * What the compound fault must end in, in either durability mode: no acknowledged write lost,
 * pcp's view while no backend was up, the second node primary again, the first node's rebuild
 * really interrupted and retried, and the second node's convergence.
 */
export async function expectConverged(tc: TestCluster, out: CompoundOutcome, label: string): Promise<void> {
  console.log(`${label}: healed ${out.healSeconds.toFixed(1)} s after ${out.second} started again; ${out.acked.length} writes acknowledged`);
  expect(out.lostAcked).toEqual([]);
  // With no backend up, status still names each backend's state (from pcp), and says where it came from.
  expect(out.downStatus.backends.map((b) => b.status)).toEqual(['down', 'down']);
  expect(out.downStatus.problems.join('\n')).toMatch(/SHOW pool_nodes failed on every pgpool node \(no backend up\?\); backend states from pcp_node_info/);
  expect(tc.primaryOf(await tc.status())).toBe(out.second);
  // The repair was really interrupted: the returning node's first rebuild failed and was retried.
  expect(await tc.logs(out.first)).toMatch(/action=rejoin: WARNING: node \d is still held: pcp_recovery_node failed: ERROR/);
  expect(await tc.logs(out.second)).toMatch(/action=converge: pgpool has no primary and this node runs as one/);
}
