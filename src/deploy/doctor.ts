import type Docker from 'dockerode';
import pLimit from 'p-limit';
import type { Cluster } from '../cluster/schema.js';
import type { Topology } from '../cluster/topology.js';
import { sh } from '../docker/exec.js';
import { PATHS, ROLES } from '../images/facts.js';
import { sshAccess } from '../cluster/topology.js';
import { backendStates, clusterContainers, dataVolume, type ClusterContainers, diskProblem, poolNodes, REMOTE_STEP_SECONDS, vipHolders, watchdogInfo } from './inspect.js';

export interface Check {
  name: string;
  ok: boolean;
  /** On failure: what was seen and what to check. */
  detail: string;
}

const LIB = `. ${PATHS.libDir}/pgha-lib.sh`;

/** A check's command, bounded: a node that accepts and never answers fails the check, it does not hang doctor. */
const bounded = (script: string) => `timeout ${REMOTE_STEP_SECONDS} bash -c '${script.replace(/'/g, `'\\''`)}'`;

/** What every group of checks works with: the cluster's containers and the nodes running. */
interface DoctorRun {
  cluster: Cluster;
  topo: Topology;
  c: ClusterContainers;
  running: Set<string>;
}

/** Adds one check to a probe's own list. */
type Add = (name: string, ok: boolean, detail?: string) => void;
/** A group of checks that depends on no other group: probes run side by side. */
type Probe = (add: Add) => Promise<void>;

/**
 * How many probes run at once. Each mostly waits on a remote step (an SSH handshake, a pcp or
 * psql login); run one after the other, a three-node cluster's 52 checks took 110 s.
 */
const DOCTOR_CONCURRENCY = 4;

/** pcp_node_count as the pcp user against `host` (a node of its own, or the delegate IP), bounded. */
const pcpNodeCount = (host: string, cluster: Cluster) => bounded(`PCPPASSFILE=${PATHS.pcpPassFile} pcp_node_count -h ${host} -p ${cluster.pgpool.pcpPort} -U ${ROLES.pcp} -w`);

/**
 * The seed's gotchas, checked from inside the running cluster: SSH on the pgha port between
 * nodes with the mounted keys and pinned host keys, sudo for ip/arping on pgpool nodes, pcp
 * authentication (on pgpool nodes and from postgres nodes, the path pcp_recovery_node takes),
 * pool_passwd decrypting with .pgpoolkey (a scram login through pgpool), every backend
 * reachable, and the delegate IP on exactly one node.
 */
export async function doctor(containers: ClusterContainers, cluster: Cluster, topo: Topology): Promise<Check[]> {
  const run: DoctorRun = { cluster, topo, c: containers, running: new Set() };
  // The containers first: the other probes are made for the running nodes only.
  const first = await runProbe((add) => checkContainers(run, add));
  const limit = pLimit(DOCTOR_CONCURRENCY);
  const later = await Promise.all(probesFor(run).map((p) => limit(() => runProbe(p))));
  return [...first, ...later.flat()];
}

/** Every group of checks after the containers', in the order doctor prints them. */
function probesFor(run: DoctorRun): Probe[] {
  const { topo, running } = run;
  return [
    ...sshProbes(run),
    ...topo.pgpool.filter((p) => running.has(p.host)).map((p): Probe => (add) => checkPgpoolNode(run, p.host, add)),
    ...topo.postgres.filter((s) => running.has(s.host)).map((s): Probe => (add) => checkPostgresNode(run, s.host, add)),
    (add) => checkPoolNodes(run, add),
    (add) => checkPgpoolViews(run, add),
    (add) => checkDelegateIp(run, add),
  ];
}

/** One probe's checks, in the order it added them. */
async function runProbe(probe: Probe): Promise<Check[]> {
  const checks: Check[] = [];
  await probe((name, ok, detail = '') => checks.push({ name, ok, detail }));
  return checks;
}

/** Every node's container is running; the others are left out of the checks that follow. */
async function checkContainers({ topo, c, running }: DoctorRun, add: Add): Promise<void> {
  for (const n of [...topo.postgres, ...topo.pgpool]) {
    const state = await c.state(n.host);
    if (state === 'running') running.add(n.host);
    else add(`container ${c.name(n.host)} running`, false, `state ${state}: start it with pgha cluster up`);
  }
}

/**
 * SSH: pgpool → postgres (failover, follow), postgres → postgres (recovery_1st_stage), pgpool →
 * pgpool (escalation), one probe per caller and callee. Every key is forced through ssh-command:
 * it answers ping, and must refuse anything else.
 */
function sshProbes({ topo, c, running }: DoctorRun): Probe[] {
  const grants = sshAccess(topo);
  return [...topo.postgres, ...topo.pgpool].flatMap((to) =>
    grants
      .filter((g) => g.host === to.host && running.has(g.caller) && running.has(to.host))
      .map(({ caller: from }): Probe => async (add) => {
        const r = await sh(c.get(from), bounded(`${LIB}; pgha_ssh ${to.host} ping`), { user: 'postgres' });
        add(`ssh ${from} → ${to.host}`, r.exitCode === 0, r.exitCode === 0 ? '' : `${r.stderr.trim().split('\n').pop()}: check sshd on ${to.host}, ${PATHS.sshMount} on both, and ${to.host}'s entry in known_hosts`);
        if (r.exitCode !== 0) return;
        const other = await sh(c.get(from), bounded(`${LIB}; pgha_ssh ${to.host} id`), { user: 'postgres' });
        const refused = other.exitCode !== 0 && /refused/.test(other.stderr);
        add(`ssh ${from} → ${to.host} runs nothing but pgha's operations`, refused, refused ? '' : `'id' over SSH exited ${other.exitCode} (${other.stdout.trim()}): authorized_keys on ${to.host} must force ${PATHS.sshCommand}`);
      }),
  );
}

/** One pgpool node: its sudo rules, a pcp login, a scram login through it, and every backend reachable from it. */
async function checkPgpoolNode({ cluster, topo, c }: DoctorRun, host: string, add: Add): Promise<void> {
  const box = c.get(host);
  const list = await sh(box, bounded('sudo -n -l'), { user: 'postgres' });
  const rules = list.stdout.split('\n').filter((l) => /^\s+\(root\)/.test(l)).map((l) => l.trim());
  const expected = `(root) NOPASSWD: ${['up', 'down', 'announce'].map((a) => `${PATHS.vipWrapper} ${a}`).join(', ')}`;
  add(`sudo on ${host} allows only ${PATHS.vipWrapper} up|down|announce`, rules.length === 1 && rules[0] === expected, `sudo -l shows ${JSON.stringify(rules)}: check ${PATHS.sudoersFile} in the image`);
  const pcp = await sh(box, pcpNodeCount('localhost', cluster), { user: 'postgres' });
  add(`pcp login on ${host}`, pcp.exitCode === 0, pcp.exitCode === 0 ? '' : `${pcp.stderr.trim()}: check pcp_password and ${PATHS.pcpConf}`);
  const login = await sh(
    box,
    bounded(`PGPASSWORD="$(cat ${PATHS.secretsMount}/postgres_password)" PGCONNECT_TIMEOUT=5 psql -X -h localhost -p ${cluster.pgpool.port} -U postgres -d postgres -At -c 'SELECT 1'`),
  );
  add(`pool_passwd decrypts with .pgpoolkey on ${host}`, login.exitCode === 0, login.exitCode === 0 ? '' : `scram login as postgres through pgpool failed: ${login.stderr.trim()}`);
  for (const b of topo.postgres) {
    const r = await sh(box, `pg_isready -q -h ${b.host} -p ${cluster.postgres.port} -t 5`);
    add(`backend ${b.host} reachable from ${host}`, r.exitCode === 0, r.exitCode === 0 ? '' : `pg_isready exit ${r.exitCode}: is postgres up on ${b.host} (or held behind .do_not_start)?`);
  }
}

/** One postgres node: a pcp login through the delegate IP or a pgpool node (pcp_recovery_node's path), and room on its data volume. */
async function checkPostgresNode({ cluster, topo, c }: DoctorRun, host: string, add: Add): Promise<void> {
  // Without a delegate IP (a swarm) the node asks the watchdog leader; any pgpool node takes the same login.
  const target = topo.delegateIp || topo.pgpool[0]!.host;
  const r = await sh(c.get(host), pcpNodeCount(target, cluster), { user: 'postgres' });
  add(`pcp login from ${host} through ${target} (pcp_recovery_node's path)`, r.exitCode === 0, r.exitCode === 0 ? '' : `${r.stderr.trim()}: check pcp_password is mounted on ${host}`);
  const disk = await dataVolume(c.get(host));
  const problem = disk ? diskProblem(host, disk) : `${host}: pgha-node disk did not answer`;
  add(`data volume of ${host} has room`, problem === null, problem ?? '');
}

/** pool_nodes through the first running pgpool node: one primary up, every standby attached and streaming. */
async function checkPoolNodes({ cluster, topo, c, running }: DoctorRun, add: Add): Promise<void> {
  const firstPgpool = topo.pgpool.find((p) => running.has(p.host));
  if (!firstPgpool) return;
  try {
    const rows = await poolNodes(c.get(firstPgpool.host), cluster);
    const primaries = rows.filter((r) => r[6] === 'primary' && r[3] === 'up');
    add('exactly one primary up in pool_nodes', primaries.length === 1, primaries.length === 1 ? '' : `pool_nodes shows ${primaries.length} primaries up`);
    for (const r of rows.filter((row) => row[6] === 'standby')) {
      add(`standby ${r[1]} attached and streaming`, r[3] === 'up' && r[11] === 'streaming', `pgpool status ${r[3]}, replication ${r[11] || 'none'}`);
    }
  } catch (err) {
    add('pool_nodes through pgpool', false, (err as Error).message);
  }
}

/**
 * Every pgpool node should see the backends as the leader does: a standby pgpool can keep a
 * stale "down" (docs/failure-modes.md, "Known problems"), which matters once it serves clients or leads.
 */
async function checkPgpoolViews({ cluster, topo, c, running }: DoctorRun, add: Add): Promise<void> {
  const pgpools = topo.pgpool.filter((p) => running.has(p.host));
  if (pgpools.length <= 1) return;
  const views = new Map<string, Map<string, string> | null>();
  await Promise.all(pgpools.map(async (p) => {
    const states = await backendStates(c.get(p.host), cluster);
    views.set(p.host, states && new Map(states.map((b) => [b.host, b.status])));
  }));
  const leader = await watchdogInfo(c.get(pgpools[0]!.host), cluster).then((w) => w.nodes.find((n) => n['Status Name'] === 'LEADER')?.['Host Name']).catch(() => undefined);
  const leaderView = leader ? views.get(leader) : undefined;
  if (!leader || !leaderView) return;
  for (const p of pgpools.filter((x) => x.host !== leader)) {
    const view = views.get(p.host);
    const differ = view ? [...leaderView].filter(([host, status]) => view.get(host) !== status).map(([host, status]) => `${host} ${view.get(host) ?? 'missing'} (leader: ${status})`) : ['no pcp answer'];
    add(`${p.host} sees the backends as the leader ${leader} does`, differ.length === 0, `${differ.join(', ')}: restart ${c.name(p.host)} to resync it from the leader`);
  }
}

/** The delegate IP (when the cluster has one) on exactly one node. */
async function checkDelegateIp({ topo, c }: DoctorRun, add: Add): Promise<void> {
  if (!topo.delegateIp) return;
  const holders = await vipHolders(c, topo);
  add(`delegate IP ${topo.delegateIp} on exactly one node`, holders.length === 1, holders.length === 1 ? `held by ${holders[0]}` : `held by ${holders.length ? holders.join(', ') : 'nobody'}`);
}

export function formatChecks(checks: Check[]): string {
  return checks.map((c) => `${c.ok ? 'ok  ' : 'FAIL'}  ${c.name}${c.detail && (!c.ok || c.detail.startsWith('held')) ? `: ${c.detail}` : ''}`).join('\n');
}
