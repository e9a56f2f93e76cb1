import { hostOf, type HostPlacement } from '../cluster/placement.js';
import type { Topology } from '../cluster/topology.js';
import type { ClusterContainers } from '../deploy/inspect.js';
import { cutOff, type Partition } from '../docker/partition.js';
import type { HostPower } from './power.js';

/**
 * The faults `pgha chaos` injects, each on containers of the cluster it was pointed at and
 * nothing else. A fault names its targets from the cluster's state just before it.
 */
export const FAULTS = ['kill-primary', 'pause-primary', 'pause-standby', 'isolate-primary', 'kill-leader', 'kill-leader-and-primary', 'restart-old-primary', 'host-kill', 'host-kill-leader'] as const;
export type FaultName = (typeof FAULTS)[number];

/** Faults that need several hosts: the primary's host, the watchdog leader's host, powered off and on. */
export const HOST_FAULTS: readonly FaultName[] = ['host-kill', 'host-kill-leader'];
/**
 * Faults that need one host's engine: the cut-off uses iptables on this machine's bridge, and a
 * restart starts the killed container itself (on a swarm, Swarm replaces a task on its own).
 */
export const SINGLE_HOST_FAULTS: readonly FaultName[] = ['isolate-primary', 'restart-old-primary'];

export interface FaultTiming {
  /** How long a paused node stays frozen, an isolated one cut off (pause-*, isolate-primary). */
  holdSeconds: number;
  /** restart-old-primary, host-kill*: how long the killed primary (or host) stays down once writes are back. */
  downSeconds: number;
}

export interface FaultPlan {
  /** Containers (hosts) the fault touches. */
  targets: string[];
  /** Injects the fault. */
  inject: () => Promise<void>;
  /** Seconds to wait after injecting before `release` (pause, isolation). */
  holdSeconds: number;
  release?: () => Promise<void>;
  /** After writes came back: seconds to wait, then `restart` (killed containers). */
  downSeconds: number;
  restart?: () => Promise<void>;
}

export interface FaultContext {
  containers: ClusterContainers;
  topo: Topology;
  /** A swarm's placement: Swarm restarts a killed task itself, and host faults need it. */
  hosts?: HostPlacement[];
  power?: HostPower;
  primary: string;
  leader: string;
}

/** A whole host off (the host of `node`): every node on it gone at once; on again after the writes came back. */
function hostKillPlan(ctx: FaultContext, node: string, downSeconds: number): FaultPlan {
  // A watchdog member may be named with its port (pgpool0:9000 ...): the node is the name before it.
  const host = hostOf(ctx.hosts, node.split(':')[0]!);
  if (!host || !ctx.power) throw new Error(`${node}: a host fault needs the cluster's hosts and --host-off/--host-on`);
  const power = ctx.power;
  const on = ctx.hosts!.find((h) => h.name === host)!.nodes;
  return { targets: [`${host} (${on.join(' ')})`], inject: () => power.off(host), holdSeconds: 0, downSeconds, restart: () => power.on(host) };
}

export function planFault(name: FaultName, ctx: FaultContext, timing: FaultTiming): FaultPlan {
  const { containers } = ctx;
  const kill = (hosts: string[]) => () => Promise.all(hosts.map((h) => containers.get(h).kill())).then(() => {});
  const start = (hosts: string[]) => () => Promise.all(hosts.map((h) => containers.get(h).start())).then(() => {});
  // On a swarm the killed task is replaced by Swarm: starting the old container too would be a second.
  const killPlan = (hosts: string[], downSeconds: number): FaultPlan => ({ targets: hosts, inject: kill(hosts), holdSeconds: 0, downSeconds, restart: ctx.hosts ? undefined : start(hosts) });
  switch (name) {
    case 'host-kill':
      return hostKillPlan(ctx, ctx.primary, timing.downSeconds);
    case 'host-kill-leader':
      return hostKillPlan(ctx, ctx.leader, timing.downSeconds);
    case 'kill-primary':
      return killPlan([ctx.primary], 0);
    case 'restart-old-primary':
      return killPlan([ctx.primary], timing.downSeconds);
    case 'kill-leader':
      return killPlan([ctx.leader], 0);
    case 'kill-leader-and-primary':
      return killPlan([ctx.leader, ctx.primary], 0);
    case 'pause-primary':
    case 'pause-standby': {
      // The first standby in node order: with synchronous replication, the one the primary
      // waits for when it is the only one.
      const host = name === 'pause-primary' ? ctx.primary : ctx.topo.postgres.map((n) => n.host).find((h) => h !== ctx.primary)!;
      const c = containers.get(host);
      // The cgroup freezer stops every process of the node at once, as a stalled VM would; its
      // kernel still completes TCP handshakes, which is what makes this fault hard.
      return { targets: [host], inject: () => c.pause(), holdSeconds: timing.holdSeconds, release: () => c.unpause(), downSeconds: 0 };
    }
    case 'isolate-primary': {
      const node = ctx.topo.postgres.find((n) => n.host === ctx.primary)!;
      let partition: Partition | null = null;
      return {
        targets: [ctx.primary],
        inject: async () => {
          partition = await cutOff(node.address, `pgha-chaos ${containers.name(ctx.primary)}`);
        },
        holdSeconds: timing.holdSeconds,
        release: async () => {
          await partition?.heal();
        },
        downSeconds: 0,
      };
    }
  }
}
