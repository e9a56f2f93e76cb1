import type Docker from 'dockerode';
import type { Topology } from '../cluster/topology.js';
import type { ClusterContainers } from '../deploy/inspect.js';
import { cutOff, type Partition } from '../docker/partition.js';

/**
 * The faults `pgha chaos` injects, each on containers of the cluster it was pointed at and
 * nothing else. A fault names its targets from the cluster's state just before it.
 */
export const FAULTS = ['kill-primary', 'pause-primary', 'pause-standby', 'isolate-primary', 'kill-leader', 'kill-leader-and-primary', 'restart-old-primary'] as const;
export type FaultName = (typeof FAULTS)[number];

export interface FaultTiming {
  /** How long a paused node stays frozen, an isolated one cut off (pause-*, isolate-primary). */
  holdSeconds: number;
  /** restart-old-primary: how long the killed primary stays down after the failover. */
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
  docker: Docker;
  containers: ClusterContainers;
  topo: Topology;
  primary: string;
  leader: string;
}

export function planFault(name: FaultName, ctx: FaultContext, timing: FaultTiming): FaultPlan {
  const { containers } = ctx;
  const kill = (hosts: string[]) => () => Promise.all(hosts.map((h) => containers.get(h).kill())).then(() => {});
  const start = (hosts: string[]) => () => Promise.all(hosts.map((h) => containers.get(h).start())).then(() => {});
  const killPlan = (hosts: string[], downSeconds: number): FaultPlan => ({ targets: hosts, inject: kill(hosts), holdSeconds: 0, downSeconds, restart: start(hosts) });
  switch (name) {
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
