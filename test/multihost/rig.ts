/**
 * A rig of simulated hosts for the multi-host tests: Docker engines in containers on this
 * machine (../shared/NOTES.md, "Several hosts"), a registry they pull from, Swarm with every
 * host a manager, and a Docker context per host (in a DOCKER_CONFIG of the rig's own) that
 * the CLI under test finds them by. Everything here is created by the rig and removed by
 * `stop()`; nothing touches a container or network it did not create.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { buildImage } from '../../src/docker/build.js';
import { imageExists } from '../../src/docker/engine.js';
import { waitFor } from '../../src/docker/exec.js';
import { dockerContextDir } from '../../src/swarm/engines.js';

const HOST_CONTEXT = join(import.meta.dirname, 'host');
/** The port the registry answers on, on this machine's loopback and inside every host. */
const REGISTRY_PORT_BASE = 15000;

export interface Rig {
  id: string;
  /** The hosts' names (their Swarm node hostnames), in order. */
  hosts: string[];
  /** The engine of each host, reached through the socket the rig binds out of it. */
  engines: Map<string, Docker>;
  /** The host container of each host, on this machine's engine: what host faults act on. */
  containers: Map<string, Docker.Container>;
  /** The registry as every engine names it: 127.0.0.1:<port>. */
  registry: string;
  /** The DOCKER_CONFIG that holds a context per host. */
  dockerConfig: string;
  /** The rig's bridge network on this machine's engine (host-partition disconnects from it). */
  network: string;
  stop(): Promise<void>;
}

/** The host image, tagged with a hash of its context: rebuilt when the Dockerfile or the script changes. */
export async function ensureHostImage(docker: Docker, debianBase: string, logDir: string): Promise<string> {
  const hash = createHash('sha256');
  for (const f of ['Dockerfile', 'rig-host.sh']) hash.update(readFileSync(join(HOST_CONTEXT, f)));
  const ref = `pgha-rig/host:${hash.digest('hex').slice(0, 12)}`;
  if (await imageExists(docker, ref)) return ref;
  await buildImage(docker, { name: 'rig-host', contextDir: HOST_CONTEXT, tags: [ref], buildargs: { DEBIAN_BASE: debianBase }, logFile: join(logDir, 'rig-host.log') });
  return ref;
}

/** What a host container needs to run an engine here: --privileged fails on these machines. */
const ENGINE_HOST_CONFIG = {
  CapAdd: ['ALL'],
  CapDrop: ['SYS_RESOURCE'],
  SecurityOpt: ['seccomp=unconfined', 'apparmor=unconfined'],
  // The engine's cgroups and mounts: without a private cgroup namespace dockerd cannot create its own.
  CgroupnsMode: 'private',
};

async function ipOn(container: Docker.Container, network: string): Promise<string> {
  return (await container.inspect()).NetworkSettings.Networks[network]!.IPAddress;
}

/** Starts the registry, the hosts, Swarm (every host a manager) and one context per host. */
export async function startRig(docker: Docker, image: string, hosts: string[], log: (line: string) => void): Promise<Rig> {
  // The pid repeats across CI containers; a random part keeps two runs' rigs apart.
  const id = `${process.pid}${randomBytes(2).toString('hex')}`;
  const network = `pgha-rig-${id}`;
  const dir = join(tmpdir(), `pgha-rig-${id}`);
  const port = REGISTRY_PORT_BASE + Math.floor(Math.random() * 1000);
  const created: Docker.Container[] = [];
  const stop = async () => {
    for (const c of created) await c.remove({ force: true, v: true }).catch(() => undefined);
    await docker.getNetwork(network).remove().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await docker.createNetwork({ Name: network, Driver: 'bridge', Labels: { 'io.pgha.rig': id } });
    const registry = await docker.createContainer({
      name: `${network}-registry`,
      Image: image,
      Cmd: ['registry'],
      ExposedPorts: { '5000/tcp': {} },
      Labels: { 'io.pgha.rig': id },
      HostConfig: { NetworkMode: network, PortBindings: { '5000/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port) }] } },
    });
    created.push(registry);
    await registry.start();
    const registryIp = await ipOn(registry, network);
    const engines = new Map<string, Docker>();
    const containers = new Map<string, Docker.Container>();
    for (const host of hosts) {
      mkdirSync(join(dir, host), { recursive: true });
      const c = await docker.createContainer({
        name: `${network}-${host}`,
        Hostname: host,
        Image: image,
        Cmd: ['engine'],
        Env: [`RIG_REGISTRY=${registryIp}:5000`, `RIG_REGISTRY_PORT=${port}`],
        Labels: { 'io.pgha.rig': id },
        HostConfig: { ...ENGINE_HOST_CONFIG, NetworkMode: network, Binds: [`${join(dir, host)}:/run/rig`] },
      });
      created.push(c);
      await c.start();
      containers.set(host, c);
      engines.set(host, new Docker({ socketPath: join(dir, host, 'docker.sock') }));
    }
    for (const [host, engine] of engines) await waitFor(`the engine of ${host}`, () => engine.ping().then(() => true).catch(() => false), 120_000, 1000);
    log(`rig ${id}: ${hosts.length} engines answer`);
    await formSwarm(engines, containers, network, hosts);
    log(`rig ${id}: swarm of ${hosts.length} managers`);
    const dockerConfig = join(dir, 'docker-config');
    for (const host of hosts) writeContext(dockerConfig, host, `unix://${join(dir, host, 'docker.sock')}`);
    return { id, hosts, engines, containers, registry: `127.0.0.1:${port}`, dockerConfig, network, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Swarm with the first host initialising and every other joining as a manager (three managers keep Raft's quorum with one lost). */
async function formSwarm(engines: Map<string, Docker>, containers: Map<string, Docker.Container>, network: string, hosts: string[]): Promise<void> {
  const first = engines.get(hosts[0]!)!;
  const firstIp = await ipOn(containers.get(hosts[0]!)!, network);
  await first.swarmInit({ ListenAddr: '0.0.0.0:2377', AdvertiseAddr: `${firstIp}:2377` });
  const token = ((await first.swarmInspect()) as { JoinTokens: { Manager: string } }).JoinTokens.Manager;
  for (const host of hosts.slice(1)) {
    const ip = await ipOn(containers.get(host)!, network);
    await engines.get(host)!.swarmJoin({ ListenAddr: '0.0.0.0:2377', AdvertiseAddr: `${ip}:2377`, RemoteAddrs: [`${firstIp}:2377`], JoinToken: token });
  }
}

/** A Docker context as `docker context create NAME --docker host=URL` writes it. */
function writeContext(dockerConfig: string, name: string, url: string): void {
  const meta = join(dockerContextDir(dockerConfig, name));
  mkdirSync(meta, { recursive: true });
  writeFileSync(join(meta, 'meta.json'), JSON.stringify({ Name: name, Metadata: {}, Endpoints: { docker: { Host: url, SkipTLSVerify: false } } }));
}
