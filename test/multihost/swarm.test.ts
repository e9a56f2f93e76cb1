/**
 * Several hosts on Docker Swarm (issue 22), on the rig of three simulated hosts
 * (test/multihost/rig.ts): a registry, Swarm with three managers, the stack deployed with the
 * CLI under test (`pgha publish`, `pgha cluster up`), and faults on whole tasks and hosts.
 * One cluster serves every scenario, in order; each waits until the cluster is whole again.
 * Figures are printed (::figure lines), never asserted as times: the waits below are bounds
 * on correctness (the cluster came back at all), generous on a shared 2-core machine.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { Probe, type ProbeTarget } from '../../src/chaos/probe.js';
import { standinRefs } from '../../src/images/catalog.js';
import { healedProblem } from '../../src/deploy/lifecycle.js';
import { logsOf, sh, waitFor } from '../../src/docker/exec.js';
import { swarmContainers } from '../../src/swarm/containers.js';
import { engineOrSkip, ensureImages } from '../smoke/harness.js';
import { projectInput, ROOT } from '../helpers.js';
import { ensureHostImage, startRig, type Rig } from './rig.js';
import { loadProject } from '../../src/project.js';
import { topology, type Topology } from '../../src/cluster/topology.js';
import type { Cluster } from '../../src/cluster/schema.js';
import { hostOf } from '../../src/cluster/placement.js';
import { swarmStatus } from '../../src/swarm/deploy.js';
import type { Published } from '../../src/commands/publish.js';
import { s, type ChaosRecord } from '../../src/chaos/report.js';
import { readAttachedSbom } from '../../src/images/registry-api.js';
import { PORTS } from '../../src/images/facts.js';

const docker = await engineOrSkip();
const HOSTS = ['rig-a', 'rig-b', 'rig-c'];
const NAME = 'geo';
const DEFINITION = `name: ${NAME}
engine: swarm
hosts:
  - { name: rig-a, nodes: [pg0, pgpool0] }
  - { name: rig-b, nodes: [pg1, pgpool1] }
  - { name: rig-c, nodes: [pgpool2] }
postgres:
  nodes: 2
  replication: sync
pgpool:
  nodes: 3
`;

const figure = (name: string, value: string) => console.log(`::figure ${name}: ${value}`);

describe.skipIf(!docker)('multi-host: the cluster on a swarm of three simulated hosts', () => {
  let rig: Rig;
  let work: string;
  let cluster: Cluster;
  let topo: Topology;
  let deployDir: string;
  let firstPush: Published[] = [];
  const env = () => ({ ...process.env, DOCKER_CONFIG: rig.dockerConfig });
  const pgha = (args: string[]) => execa('npx', ['tsx', join(ROOT, 'src/cli.ts'), ...args], { cwd: ROOT, env: env(), all: true, reject: false });
  const status = () => swarmStatus({ engines: rig.engines, manager: HOSTS[0]! }, cluster, topo);
  const whole = (label: string, ms = 240_000) =>
    waitFor(label, async () => {
      const s = await status();
      const why = healedProblem(s);
      if (why) throw new Error(why);
      return s;
    }, ms, 2000);

  beforeAll(async () => {
    await ensureImages(docker!, ['postgres/bookworm', 'pgpool/bookworm']);
    work = mkdtempSync(join(tmpdir(), 'pgha-multihost-'));
    const image = await ensureHostImage(docker!, standinRefs(projectInput().manifest).debian, work);
    rig = await startRig(docker!, image, HOSTS, (l) => console.log(l));
    // --allow-dirty: the rig deploys what this working tree built; release discipline is not under test here.
    const published = await pgha(['publish', '--registry', rig.registry, '--allow-dirty', '--json']);
    expect(published.exitCode, published.all).toBe(0);
    firstPush = JSON.parse(published.stdout) as Published[];
    writeFileSync(join(work, 'cluster.yaml'), DEFINITION);
    const generated = await pgha(['generate', '--cluster', join(work, 'cluster.yaml'), '--out', join(work, 'out')]);
    expect(generated.exitCode, generated.all).toBe(0);
    deployDir = join(work, 'out', 'deploy', NAME);
    cluster = loadProject(ROOT, { cluster: join(work, 'cluster.yaml') }).cluster;
    topo = topology(cluster);
    const started = Date.now();
    const up = await pgha(['cluster', 'up', '--cluster', join(work, 'cluster.yaml'), '--dir', deployDir, '--registry', rig.registry, '--wait', '420']);
    console.log(up.all);
    expect(up.exitCode, up.all).toBe(0);
    figure('cluster up (deploy to whole)', `${Math.round((Date.now() - started) / 1000)} s`);
  });

  afterAll(async () => {
    await rig?.stop();
    // The tags publish made in this engine name a registry that is gone now.
    for (const p of firstPush) for (const tag of p.tags) await docker!.getImage(`${p.repository}:${tag}`).remove({ noprune: true }).catch(() => undefined);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('1: the stack has no static IP, no extra_hosts, no delegate IP, and pins every service to a host', () => {
    const text = readFileSync(join(deployDir, 'swarm', 'stack.yml'), 'utf8');
    expect(text).not.toMatch(/ipv4_address|extra_hosts|PGHA_DELEGATE_IP: ['"]?\d/);
    const stack = parse(text) as { services: Record<string, { deploy: { placement: { constraints: string[] } } }> };
    for (const [name, svc] of Object.entries(stack.services)) expect(svc.deploy.placement.constraints, name).toEqual([expect.stringMatching(/^node\.labels\.pgha\.host == rig-[abc]$/)]);
  });

  it('publish: the same build pushed again answers the same digests, under every tag of the scheme; each host pulled the images by digest', async () => {
    expect(firstPush.map((p) => p.image)).toEqual(['postgres/bookworm', 'pgpool/bookworm']);
    const again = await pgha(['publish', '--registry', rig.registry, '--allow-dirty', '--json']);
    expect(again.exitCode, again.all).toBe(0);
    const second = JSON.parse(again.stdout) as Published[];
    expect(second.map((p) => [p.image, p.tags.length, p.reference])).toEqual(firstPush.map((p) => [p.image, 3, p.reference]));
    for (const host of HOSTS) {
      const pulled = await rig.engines.get(host)!.listImages({ digests: true });
      for (const p of firstPush) expect(pulled.some((i) => (i.RepoDigests ?? []).includes(p.reference)), `${host} holds ${p.reference}`).toBe(true);
    }
    // The SBOM rides with each image as an OCI referrer; the same build attaches the same bytes.
    expect(second.map((p) => p.sbom.digest)).toEqual(firstPush.map((p) => p.sbom.digest));
    for (const p of firstPush) {
      const repo = p.repository.slice(rig.registry.length + 1);
      const sbom = JSON.parse((await readAttachedSbom(rig.registry, repo, p.digest))?.toString() ?? 'null') as { components?: { name: string; version?: string }[] } | null;
      expect(sbom?.components?.find((c) => c.name === 'pgpool-II'), `${p.image}: the attached SBOM lists pgpool-II`).toMatchObject({ version: projectInput().manifest.pgpool.version });
      // What a user's tooling reads from the registry: skopeo (Debian's) shows the image's labels.
      const inspected = await execa('skopeo', ['inspect', '--tls-verify=false', `docker://${p.reference}`]);
      const labels = (JSON.parse(inspected.stdout) as { Labels: Record<string, string> }).Labels;
      const local = (await docker!.getImage(p.ref).inspect()).Config.Labels;
      expect(labels, p.image).toEqual(local);
      expect(labels['org.opencontainers.image.revision'], p.image).toMatch(/^[0-9a-f]{40}$/);
    }
  });

  it('pgha cluster doctor passes every check on the swarm, its own (placement, one image per kind, secrets, name lookups) included', async () => {
    const r = await pgha(['cluster', 'doctor', '--cluster', join(work, 'cluster.yaml'), '--dir', deployDir]);
    console.log(r.all);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toContain('every postgres node runs the same image');
    expect(r.all).toContain('pg0 runs on rig-a only');
  });

  it('an application on the clients network reaches pgpool on every pgpool node, and not its pcp, watchdog or sshd', async () => {
    const host = hostOf(cluster.hosts, topo.pgpool[0]!.host)!;
    const image = (await (await swarmContainers(rig.engines, cluster)).get(topo.pgpool[0]!.host).inspect()).Config.Image;
    const ports = [PORTS.pgpool, PORTS.pcp, PORTS.watchdog, PORTS.ssh];
    const looks = topo.pgpool.flatMap((n) => ports.map((p) => `if timeout 2 bash -c ': >/dev/tcp/${n.host}/${p}' 2>/dev/null; then echo "${n.host}:${p} open"; else echo "${n.host}:${p} closed"; fi`));
    const app = await rig.engines.get(host)!.createContainer({ Image: image, Entrypoint: ['bash', '-c', looks.join('; ')], User: 'root', HostConfig: { NetworkMode: `${NAME}-clients` } });
    onTestFinished(() => app.remove({ force: true }).then(() => undefined, () => undefined));
    await app.start();
    await app.wait();
    const seen = [...(await app.logs({ stdout: true, stderr: true })).toString('latin1').matchAll(/pgpool\d+:\d+ (open|closed)/g)].map((m) => m[0]);
    expect(seen).toEqual(topo.pgpool.flatMap((n) => ports.map((p) => `${n.host}:${p} ${p === PORTS.pgpool ? 'open' : 'closed'}`)));
  });

  it('2: each postgres task and its data volume are on its own host only', async () => {
    for (const node of topo.postgres) {
      const home = hostOf(cluster.hosts, node.host);
      for (const host of HOSTS) {
        const engine = rig.engines.get(host)!;
        const tasks = await engine.listContainers({ all: true, filters: JSON.stringify({ label: [`com.docker.swarm.service.name=${NAME}_${node.host}`] }) });
        const volume = await engine.getVolume(`${NAME}-${node.host}-data`).inspect().then(() => true, () => false);
        expect([host, tasks.length > 0, volume]).toEqual([host, host === home, host === home]);
      }
    }
  });

  it('3: the primary\'s task killed: writes come back, nothing acknowledged is lost, the old primary returns as a standby, no pgpool restarts', async () => {
    const before = await whole('the cluster whole before the fault');
    const primary = before.backends.find((b) => b.role === 'primary')!.host;
    const restarts = await pgpoolStarts(rig, cluster, topo);
    const probe = await startProbe(rig, cluster, deployDir);
    onTestFinished(() => probe.stop());
    await sleep(5000);
    const containers = await swarmContainers(rig.engines, cluster);
    const killedAt = Date.now();
    await containers.get(primary).kill();
    const after = await whole('the cluster whole after the primary was killed', 300_000);
    const healedAt = Date.now();
    await sleep(3000);
    await probe.stop();
    const lostWrites = await lostAcked(probe);
    expect(lostWrites).toEqual([]);
    expect(after.backends.find((b) => b.host === primary)).toMatchObject({ role: 'standby', status: 'up', replicationState: 'streaming' });
    expect(await pgpoolStarts(rig, cluster, topo)).toEqual(restarts);
    const back = firstWriteAfter(probe, killedAt, 1000);
    expect(back, 'no acknowledged write after the kill').not.toBe('none');
    figure('kill primary task: first acknowledged write started 1 s or more after the kill', `${back} s`);
    figure('kill primary task: whole again (old primary streaming)', `${Math.round((healedAt - killedAt) / 1000)} s`);
  });

  // Scenarios 4 and 5 as a user runs them: pgha chaos powers the hosts off and on with the
  // commands it is given (here: the rig's engine containers), probing every pgpool node in order.
  it('4 and 5 through pgha chaos --fault host-kill-leader host-kill: a new leader, writes back, nothing lost, no surviving pgpool restarted, no postgres task elsewhere; each host back, its nodes rejoin', async () => {
    const before = await whole('the cluster whole before the host faults');
    const leader = before.watchdog.leader!.split(':')[0]!;
    const restarts = await pgpoolStarts(rig, cluster, topo);
    const results = join(work, 'results');
    const connect = (await probeTargets(rig, cluster)).map((t) => `${t.host}:${t.port}`).join(',');
    // Whatever happens, every host runs again for the next scenario.
    onTestFinished(async () => {
      for (const h of HOSTS) await startHost(rig, h);
    });
    const chaos = pgha(['chaos', '--cluster', join(work, 'cluster.yaml'), '--dir', deployDir, '--fault', 'host-kill-leader', 'host-kill', '--rounds', '1', '--down', '5', '--heal-timeout', '420', '--host-off', `docker kill ${rig.network}-{host}`, '--host-on', `docker start ${rig.network}-{host}`, '--connect', connect, '--results', results, '--json']);
    // While the leader's host is off: how long a survivor takes to look up a vanished task's name.
    const leaderHost = hostOf(cluster.hosts, leader)!;
    await waitFor(`${leaderHost} powered off by pgha chaos`, async () => !(await rig.containers.get(leaderHost)!.inspect()).State.Running, 120_000, 500);
    const offAt = Date.now();
    const survivor = topo.pgpool.find((n) => hostOf(cluster.hosts, n.host) !== leaderHost)!.host;
    // Docker's DNS forgets the vanished task once Swarm marks its node down: until then it resolves.
    let lookup = await lookupTime(rig, cluster, survivor, leader);
    while (lookup.includes('still resolves') && Date.now() - offAt < 60_000) {
      await sleep(1000);
      lookup = await lookupTime(rig, cluster, survivor, leader);
    }
    figure(`host-kill-leader ${leaderHost}: name lookup of the vanished ${leader} from ${survivor}, ${((Date.now() - offAt) / 1000).toFixed(0)} s after the power-off`, lookup);
    const r = await chaos;
    console.log(r.stderr);
    expect(r.exitCode, r.all).toBe(0);
    const rec = JSON.parse(r.stdout) as ChaosRecord;
    expect(rec.rounds.map((x) => [x.fault, x.notHealed])).toEqual([['host-kill-leader', undefined], ['host-kill', undefined]]);
    expect(rec.lostAcked).toEqual([]);
    const [lead, prim] = rec.rounds as [ChaosRecord['rounds'][0], ChaosRecord['rounds'][0]];
    expect(lead.metrics.leaderMs, 'a leader announced after the leader\'s host went').not.toBeNull();
    for (const x of rec.rounds) {
      expect(x.metrics.worstWriteUnavailableMs, `${x.fault}: writes came back`).not.toBeNull();
      // The record on stdout names each timeline; the file beside the recorded run carries the run's prefix.
      const runDir = join(results, readdirSync(results).find((d) => statSync(join(results, d)).isDirectory())!);
      expect(readdirSync(runDir).filter((f) => f.endsWith(`-${x.timeline}`)), `${x.fault}: its SVG timeline`).toHaveLength(1);
      figure(`${x.fault} ${x.targets.join(' ')}: new watchdog leader / writes unavailable (worst lane) / back as streaming standby after the host's return`, `${s(x.metrics.leaderMs)} / ${s(x.metrics.worstWriteUnavailableMs)} / ${s(x.metrics.rejoinMs)} s`);
    }
    // The old primary of round 2 is back on its own host and volume, as a standby.
    const after = await whole('the cluster whole after both host faults');
    expect(after.backends.find((b) => b.host === prim.before.primary)).toMatchObject({ role: 'standby', status: 'up', replicationState: 'streaming' });
    const killed = new Set(rec.rounds.map((x) => x.targets[0]!.split(' ')[0]!));
    const spared = topo.pgpool.filter((n) => !killed.has(hostOf(cluster.hosts, n.host)!)).map((n) => n.host);
    expect(await pgpoolStarts(rig, cluster, topo, spared)).toEqual(Object.fromEntries(spared.map((h) => [h, restarts[h]])));
    for (const node of topo.postgres) {
      for (const [h, engine] of rig.engines) {
        if (h === hostOf(cluster.hosts, node.host)) continue;
        const elsewhere = await engine.listContainers({ all: true, filters: JSON.stringify({ label: [`com.docker.swarm.service.name=${NAME}_${node.host}`] }) });
        expect([node.host, h, elsewhere.length]).toEqual([node.host, h, 0]);
      }
    }
    const holds = await leaseHolds(rig, cluster, topo);
    figure('containers that took a postgres task\'s volume lease, over the run so far', Object.entries(holds).map(([n, x]) => `${n} ${x.length}`).join(', '));
    for (const [n, x] of Object.entries(holds)) {
      expect(x.length, `${n}: no container took its volume lease`).toBeGreaterThan(0);
      expect(overlappingHolds(x), n).toEqual([]);
    }
  });

  // Not in CI (the issue asks for 1-5 there): before the lease one of its runs here never
  // promoted within 180 s (cause not found). PGHA_MULTIHOST_PARTITION=1 runs it.
  it.runIf(process.env.PGHA_MULTIHOST_PARTITION === '1')('6 through pgha chaos --fault host-partition: the primary\'s host cut off from the other hosts; the cut-off primary stops itself, the majority fails over, nothing acknowledged is lost; healed, it rejoins as a standby', async () => {
    const before = await whole('the cluster whole before the partition');
    const primary = before.backends.find((b) => b.role === 'primary')!.host;
    const host = hostOf(cluster.hosts, primary)!;
    const script = await cutScript(rig, work);
    // Healed whatever happens, even after a cut applied in part.
    onTestFinished(async () => {
      await execa('bash', [script, 'heal', host], { reject: false });
    });
    const results = join(work, 'results-partition');
    const connect = (await probeTargets(rig, cluster)).map((t) => `${t.host}:${t.port}`).join(',');
    const chaos = pgha(['chaos', '--cluster', join(work, 'cluster.yaml'), '--dir', deployDir, '--fault', 'host-partition', '--rounds', '1', '--hold', '30', '--heal-timeout', '420', '--host-cut', `bash ${script} cut {host}`, '--host-heal', `bash ${script} heal {host}`, '--connect', connect, '--results', results, '--json']);
    // The cut-off side, seen through its own engine (the socket is not on the cut network).
    await waitFor(`${host} cut off by pgha chaos`, async () => (await sh(rig.containers.get(host)!, 'iptables -S INPUT')).stdout.includes('-j DROP'), 120_000, 200);
    const cutAt = Date.now();
    const containers = await swarmContainers(rig.engines, cluster);
    await waitFor('the cut-off primary to stop postgres', async () => (await sh(containers.get(primary), 'pgha-node state', { user: 'postgres' })).stdout.trim().startsWith('held'), 60_000, 500);
    figure(`host-partition ${host}: the cut-off primary ${primary} stopped itself (from the cut, polled every 0.5 s)`, `${((Date.now() - cutAt) / 1000).toFixed(1)} s`);
    const r = await chaos;
    console.log(r.stderr);
    expect(r.exitCode, r.all).toBe(0);
    const rec = JSON.parse(r.stdout) as ChaosRecord;
    expect(rec.rounds.map((x) => [x.fault, x.notHealed])).toEqual([['host-partition', undefined]]);
    expect(rec.lostAcked).toEqual([]);
    const [round] = rec.rounds as [ChaosRecord['rounds'][0]];
    expect(round.metrics.promotionMs, 'the standby promoted on the majority side during the cut').not.toBeNull();
    figure(`host-partition ${round.targets.join(' ')}, 30 s: detection / promotion / writes unavailable (worst lane) / back as streaming standby after the heal`, `${s(round.metrics.detectionMs)} / ${s(round.metrics.promotionMs)} / ${s(round.metrics.worstWriteUnavailableMs)} / ${s(round.metrics.rejoinMs)} s`);
    const after = await whole('the cluster whole after the partition healed', 420_000);
    expect(after.backends.find((b) => b.host === primary)).toMatchObject({ role: 'standby', status: 'up', replicationState: 'streaming' });
    // Never two containers of one postgres task on its volume at once, around the partition too.
    for (const [n, x] of Object.entries(await leaseHolds(rig, cluster, topo))) expect(overlappingHolds(x), n).toEqual([]);
  });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The --host-cut/--host-heal commands for pgha chaos: a script taking `cut|heal HOST` that cuts
 * HOST off from the other hosts (or heals the cut) with DROP rules in HOST's container's own
 * network namespace, where its engine's Swarm gossip and overlay (vxlan) traffic pass. This
 * machine still reaches it (the probe, and the engine through its socket).
 */
async function cutScript(rig: Rig, work: string): Promise<string> {
  const cases: string[] = [];
  for (const host of rig.containers.keys()) {
    const ips: string[] = [];
    for (const [h, c] of rig.containers) if (h !== host) ips.push((await c.inspect()).NetworkSettings.Networks[rig.network]!.IPAddress);
    cases.push(`  ${host}) peers="${ips.join(' ')}" ;;`);
  }
  const file = join(work, 'cut.sh');
  writeFileSync(file, [
    '#!/bin/bash',
    '# cut.sh cut|heal HOST: DROP (or stop dropping) the other hosts in HOST\'s container.',
    'set -euo pipefail',
    'case "$2" in',
    ...cases,
    '  *) echo "unknown host $2" >&2; exit 2 ;;',
    'esac',
    'rules=()',
    'for ip in $peers; do',
    '  if [[ "$1" == cut ]]; then rules+=("iptables -I INPUT -s $ip -j DROP" "iptables -I OUTPUT -d $ip -j DROP")',
    '  else rules+=("iptables -D INPUT -s $ip -j DROP || true" "iptables -D OUTPUT -d $ip -j DROP || true"); fi',
    'done',
    `IFS=';'; exec docker exec "${rig.network}-$2" sh -ec "\${rules[*]}"`,
    '',
  ].join('\n'));
  return file;
}

/**
 * The containers of each postgres task on its host, as [from, to] intervals in which each held
 * the data volume's lease: from its log's "took the lease" line (whole seconds), to its end
 * (still running: now). Swarm can run an old and a new container of one task at once around a
 * partition or an engine restart (moby#39028); the lease must keep them from overlapping.
 */
async function leaseHolds(rig: Rig, cluster: Cluster, topo: Topology): Promise<Record<string, { id: string; from: number; to: number }[]>> {
  const out: Record<string, { id: string; from: number; to: number }[]> = {};
  for (const node of topo.postgres) {
    const engine = rig.engines.get(hostOf(cluster.hosts, node.host)!)!;
    const listed = await engine.listContainers({ all: true, filters: JSON.stringify({ label: [`com.docker.swarm.service.name=${NAME}_${node.host}`] }) });
    const holds: { id: string; from: number; to: number }[] = [];
    for (const c of listed) {
      const container = engine.getContainer(c.Id);
      const info = await container.inspect();
      const took = (await logsOf(container)).split('\n').filter((l) => l.includes('action=lease: took the lease'));
      for (const line of took) {
        holds.push({ id: c.Id.slice(0, 12), from: Date.parse(line.slice(0, 20)), to: info.State.Running ? Date.now() : Date.parse(info.State.FinishedAt) });
      }
    }
    out[node.host] = holds.sort((a, b) => a.from - b.from);
  }
  return out;
}

/** Lease holds of one task that overlap by more than the log's one-second resolution. */
function overlappingHolds(holds: { id: string; from: number; to: number }[]): string[] {
  return holds.slice(1).flatMap((h, i) => (h.from < holds[i]!.to - 1000 ? [`${holds[i]!.id} held it until ${new Date(holds[i]!.to).toISOString()}, ${h.id} took it at ${new Date(h.from).toISOString()}`] : []));
}

/** Starts a killed host's engine container again (a no-op when it runs). */
async function startHost(rig: Rig, host: string): Promise<void> {
  const c = rig.containers.get(host)!;
  if (!(await c.inspect()).State.Running) await c.start();
}

/** How long a surviving pgpool node takes to fail a lookup of `name` (Docker's DNS forgets a vanished task). */
async function lookupTime(rig: Rig, cluster: Cluster, from: string, name: string): Promise<string> {
  const containers = await swarmContainers(new Map([...rig.engines].filter(([h]) => h !== hostOf(cluster.hosts, name))), cluster);
  const r = await sh(containers.get(from), `s=$(date +%s%N); getent hosts ${name} >/dev/null; rc=$?; echo "$rc $(( ($(date +%s%N) - s) / 1000000 ))"`);
  const [rc, ms] = r.stdout.trim().split(' ');
  return `${ms} ms (${rc === '0' ? 'still resolves' : 'not found'})`;
}

/** Each pgpool task's container id and its start time (of `only`, else all): a restart or a replaced task changes it. */
async function pgpoolStarts(rig: Rig, cluster: Cluster, topo: Topology, only?: string[]): Promise<Record<string, string>> {
  const containers = await swarmContainers(rig.engines, cluster);
  const out: Record<string, string> = {};
  for (const n of topo.pgpool.filter((p) => !only || only.includes(p.host))) {
    const info = await containers.get(n.host).inspect();
    out[n.host] = `${info.Id.slice(0, 12)} ${info.State.StartedAt} restarts=${info.RestartCount}`;
  }
  return out;
}

/** Every pgpool node's host-mode port at its host's address on the rig network, in node order. */
async function probeTargets(rig: Rig, cluster: Cluster): Promise<{ host: string; port: number }[]> {
  const out: { host: string; port: number }[] = [];
  for (const { host: node, port } of topology(cluster).published) {
    const host = hostOf(cluster.hosts, node)!;
    out.push({ host: (await rig.containers.get(host)!.inspect()).NetworkSettings.Networks[rig.network]!.IPAddress, port });
  }
  return out;
}

/** The probe, through every pgpool node's host-mode port on its host, in order (the multi-host string's behaviour). */
async function startProbe(rig: Rig, cluster: Cluster, deployDir: string): Promise<Probe> {
  const password = readFileSync(join(deployDir, 'secrets', 'postgres_password'), 'utf8').trim();
  const targets: ProbeTarget[] = (await probeTargets(rig, cluster)).map((t) => ({ ...t, user: 'postgres', password, database: 'postgres' }));
  const probe = new Probe(targets[0]!, { intervalMs: 100, timeoutMs: 2000 }, targets.slice(1));
  await probe.prepare();
  probe.start();
  return probe;
}

async function lostAcked(probe: Probe): Promise<number[]> {
  const committed = await probe.committedSeqs(60_000);
  return probe.attempts.filter((a) => a.op === 'write' && a.ok && !committed.has(a.seq!)).map((a) => a.seq!);
}

/** Seconds from `at` to the first acknowledged write that started `guardMs` or more after it. */
function firstWriteAfter(probe: Probe, at: number, guardMs = 0): string {
  const first = probe.attempts.filter((a) => a.op === 'write' && a.ok && a.start >= at + guardMs).sort((a, b) => a.end - b.end)[0];
  return first ? ((first.end - at) / 1000).toFixed(1) : 'none';
}

