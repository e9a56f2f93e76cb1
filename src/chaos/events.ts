/**
 * What the nodes logged during a round, as named moments: found in the container logs
 * (with the engine's timestamps, the same clock as the probe's) by the lines pgpool 4.7,
 * PostgreSQL and the pgha scripts print.
 */
export interface ClusterEvent {
  /** Epoch milliseconds. */
  at: number;
  host: string;
  kind: EventKind;
  /** The log line, shortened. */
  text: string;
}

export const EVENT_PATTERNS = {
  /** A pgpool health check gave up on a backend and asked for its detachment. */
  detected: /received degenerate backend request for node_id: \d+ from pid/,
  consensus: /we have got the consensus to perform the failover/,
  failoverStart: /=== Starting degeneration/,
  /** The standby's postgres received the promotion. */
  promoted: /received promote request/,
  failoverDone: /action=failover: done: \S+ is the primary|=== Failover done/,
  followStart: /Starting follow primary command for node/,
  escalation: /action=escalation: becoming leader/,
  leaderElected: /I am the cluster leader node|I am announcing my self as leader/,
  watchdogLost: /is lost|lost the connection with|is shutting down|remote node .* is not replying/,
  vipUp: /action=vip-up: .* added to/,
  vipDown: /action=vip-down: .* removed from/,
  rejoin: /action=rejoin:|action=rebuild:|action=follow:/,
  ready: /database system is ready to accept connections/,
} as const;

export type EventKind = keyof typeof EVENT_PATTERNS;

/** Splits `docker logs --timestamps` output (one RFC 3339 timestamp per line) into events. */
export function parseEvents(host: string, log: string): ClusterEvent[] {
  const events: ClusterEvent[] = [];
  for (const line of log.split('\n')) {
    const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z) (.*)$/.exec(line);
    if (!m) continue;
    const at = Date.parse(m[1]!);
    if (Number.isNaN(at)) continue;
    for (const [kind, re] of Object.entries(EVENT_PATTERNS) as [EventKind, RegExp][]) {
      if (re.test(m[2]!)) {
        events.push({ at, host, kind, text: m[2]!.replace(/^\S+ \S+:? /, '').slice(0, 160) });
        break;
      }
    }
  }
  return events;
}

/** The first event of a kind at or after `from`, on any host or on the given ones. */
export function firstEvent(events: ClusterEvent[], kind: EventKind, from: number, hosts?: string[]): ClusterEvent | undefined {
  return events.filter((e) => e.kind === kind && e.at >= from && (!hosts || hosts.includes(e.host))).sort((a, b) => a.at - b.at)[0];
}
