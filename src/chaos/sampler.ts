import pg from 'pg';
import type { RoleTick, SampledRole } from './checker.js';

/**
 * Asks every postgres node directly (not through pgpool) what it is, every `intervalMs`, all
 * nodes at once: the nemesis's witness for "never two writable primaries". One connection per
 * node, kept; a node that does not answer within the bound is `silent` and its connection is
 * dropped (a frozen node completes the handshake and then never answers).
 */
export interface SampledNode {
  host: string;
  address: string;
}

export interface SamplerTarget {
  port: number;
  user: string;
  password: string;
}

/**
 * A primary counts as writable only if a commit completes within the bound: a transaction
 * that writes one WAL record (a logical message, which touches no table) and so waits for the
 * synchronous standby as any commit does. An xid alone is not enough: a commit that wrote no
 * WAL skips the synchronous wait (RecordTransactionCommit), and a cut-off primary answered at
 * once. Nor is `pg_stat_replication`: it lists a cut-off standby as streaming until
 * wal_sender_timeout. Both false alarms stopped 30-minute runs here (records in bench/results).
 */
const WRITE_PROBE_SQL = "BEGIN; SELECT pg_logical_emit_message(true, 'pgha-nemesis', ''); COMMIT";

export class RoleSampler {
  readonly ticks: RoleTick[] = [];
  private clients = new Map<string, pg.Client>();
  private running = false;
  private loop: Promise<void> | null = null;
  /** Called after each round (the nemesis stops at the first bad one). */
  onTick: (t: RoleTick) => void = () => {};

  constructor(
    private readonly nodes: SampledNode[],
    private readonly target: SamplerTarget,
    private readonly intervalMs = 500,
    private readonly timeoutMs = 400,
  ) {}

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await Promise.all([...this.clients.values()].map((c) => c.end().catch(() => {})));
    this.clients.clear();
  }

  private async run(): Promise<void> {
    while (this.running) {
      const at = Date.now();
      const answers = await Promise.all(this.nodes.map((n) => this.ask(n)));
      const tick: RoleTick = { at, roles: Object.fromEntries(this.nodes.map((n, i) => [n.host, answers[i]!])) };
      this.ticks.push(tick);
      this.onTick(tick);
      await new Promise((r) => setTimeout(r, Math.max(0, this.intervalMs - (Date.now() - at))));
    }
  }

  private async ask(node: SampledNode): Promise<SampledRole> {
    let c = this.clients.get(node.host);
    try {
      if (!c) {
        c = new pg.Client({ host: node.address, port: this.target.port, user: this.target.user, password: this.target.password, database: 'postgres', connectionTimeoutMillis: this.timeoutMs, query_timeout: this.timeoutMs, application_name: 'pgha-nemesis' });
        c.on('error', () => {});
        this.clients.set(node.host, c);
        await c.connect();
      }
      if ((await c.query<{ standby: boolean }>('SELECT pg_is_in_recovery() AS standby')).rows[0]!.standby) return 'standby';
    } catch {
      this.drop(node.host, c);
      return 'silent';
    }
    try {
      await c.query(WRITE_PROBE_SQL);
      return 'writable';
    } catch {
      // Its commit waits (or failed): a primary that acknowledges nothing. The session is in an
      // unknown state: a new one next round.
      this.drop(node.host, c);
      return 'primary';
    }
  }

  private drop(host: string, c: pg.Client | undefined): void {
    this.clients.delete(host);
    c?.end().catch(() => {});
  }
}

/** The rounds where some node's answer changed (what a record keeps of a long run), the first round included. */
export function roleChanges(ticks: RoleTick[]): RoleTick[] {
  return ticks.filter((t, i) => i === 0 || JSON.stringify(t.roles) !== JSON.stringify(ticks[i - 1]!.roles));
}
