import { hostOf, type HostPlacement } from '../cluster/placement.js';
import type { Topology } from '../cluster/topology.js';
import type { ClusterContainers } from '../deploy/inspect.js';
import { cutOff, type Partition } from '../docker/partition.js';
import type { HostPower } from './power.js';

/**
 * The faults `pgha chaos` injects, each on containers of the cluster it was pointed at and
 * nothing else. A fault names its targets from the cluster's state just before it.
 */
export const FAULTS = ['kill-primary', 'pause-primary', 'pause-standby', 'isolate-primary', 'kill-leader', 'kill-leader-and-primary', 'restart-old-primary', 'host-kill', 'host-kill-leader', 'host-partition'] as const;
export type FaultName = (typeof FAULTS)[number];

/** Faults that power a whole host off and on (--host-off, --host-on): the primary's host, the watchdog leader's. */
export const POWER_FAULTS: readonly FaultName[] = ['host-kill', 'host-kill-leader'];
/** Faults that cut a whole host off from the other hosts and heal it (--host-cut, --host-heal): the primary's. */
export const CUT_FAULTS: readonly FaultName[] = ['host-partition'];
/** Faults that need several hosts. */
export const HOST_FAULTS: readonly FaultName[] = [...POWER_FAULTS, ...CUT_FAULTS];
/**
 * Faults that need one host's engine: the cut-off uses iptables on this machine's bridge, and a
 * restart starts the killed container itself (on a swarm, Swarm replaces a task on its own).
 */
export const SINGLE_HOST_FAULTS: readonly FaultName[] = ['isolate-primary', 'restart-old-primary'];

export interface FaultTiming {
  /** How long a paused node stays frozen, an isolated node or host cut off (pause-*, isolate-primary, host-partition). */
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
  /** host-partition: `off` cuts a host off from the others, `on` heals the cut. */
  cut?: HostPower;
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

/**
 * The primary's host cut off from the other hosts for `holdSeconds`, then healed: every node on
 * it still runs and sees only its own host (the primary's isolation guard must stop it, the
 * majority fail it over).
 */
function hostPartitionPlan(ctx: FaultContext, holdSeconds: number): FaultPlan {
  const host = hostOf(ctx.hosts, ctx.primary);
  if (!host || !ctx.cut) throw new Error(`${ctx.primary}: a host partition needs the cluster's hosts and --host-cut/--host-heal`);
  const cut = ctx.cut;
  const on = ctx.hosts!.find((h) => h.name === host)!.nodes;
  return { targets: [`${host} (${on.join(' ')})`], inject: () => cut.off(host), holdSeconds, release: () => cut.on(host), downSeconds: 0 };
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
    case 'host-partition':
      return hostPartitionPlan(ctx, timing.holdSeconds);
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
