import pg from 'pg';

/**
 * The chaos probe: clients that use the cluster through the delegate IP as applications do,
 * and record every attempt. Two lanes run side by side: `new` opens a connection for every
 * tick (a CLI, a cron job), `pooled` keeps one connection and reconnects only after an error
 * (a pooled application). Each tick writes an increasing sequence number, then reads.
 */
export const LANES = ['new', 'pooled'] as const;
export type Lane = (typeof LANES)[number];

/** The probe's own table; created at start, dropped at the end. */
export const PROBE_TABLE = 'pgha_chaos_probe';

export interface Attempt {
  lane: Lane;
  op: 'write' | 'read';
  /** The sequence number a write tried to commit. */
  seq?: number;
  /** Epoch milliseconds when the attempt started and ended. */
  start: number;
  end: number;
  ok: boolean;
  error?: string;
  /** The backend that served it (inet_server_addr()), as an address. */
  server?: string;
}

export interface ProbeTarget {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

export interface ProbeOptions {
  intervalMs: number;
  /** Bound on each connect and each statement: a frozen backend must not stall the lane. */
  timeoutMs: number;
}

function client(target: ProbeTarget, timeoutMs: number): pg.Client {
  const c = new pg.Client({ ...target, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs, application_name: 'pgha-chaos' });
  c.on('error', () => {}); // a dying backend surfaces on the next query; it must not crash the run
  return c;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Ends a client within a bound: end() waits for the server to close its side, and a pgpool
 * child stuck on a backend whose host vanished (no reset, a black hole) was seen never to, so
 * the lane hung. After the bound the socket is destroyed.
 */
async function close(c: pg.Client | null, boundMs = 2000): Promise<void> {
  if (!c) return;
  const ended = await Promise.race([c.end().then(() => true, () => true), sleep(boundMs).then(() => false)]);
  if (!ended) (c as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}

export class Probe {
  readonly attempts: Attempt[] = [];
  private nextSeq = 1;
  private running = false;
  private loops: Promise<void>[] = [];

  /**
   * `alternates`: further pgpool nodes, tried in order when the target does not connect, as
   * libpq does with a multi-host string (a swarm cluster has no delegate IP).
   */
  constructor(
    private readonly target: ProbeTarget,
    private readonly opts: ProbeOptions,
    private readonly alternates: ProbeTarget[] = [],
  ) {}

  /** A connected client: the target, else the first alternate that connects; the last error when none does. */
  private async connect(timeoutMs: number): Promise<pg.Client> {
    let last: unknown;
    for (const t of [this.target, ...this.alternates]) {
      const c = client(t, timeoutMs);
      try {
        await c.connect();
        return c;
      } catch (err) {
        last = err;
        await close(c);
      }
    }
    throw last;
  }

  /** Creates the probe table (a leftover of an interrupted run is replaced). */
  async prepare(): Promise<void> {
    await this.admin(`DROP TABLE IF EXISTS ${PROBE_TABLE}; CREATE TABLE ${PROBE_TABLE} (seq bigint PRIMARY KEY, lane text NOT NULL, written_at timestamptz NOT NULL DEFAULT clock_timestamp())`);
  }

  /** The size of every database of the cluster, in MB (what a rejoin or a clone has to deal with). */
  async databaseMB(): Promise<number> {
    const rows = await this.retry(10_000, async (c) => (await c.query<{ mb: string }>('SELECT round(sum(pg_database_size(datname)) / 1048576) AS mb FROM pg_database')).rows);
    return Number(rows[0]?.mb ?? 0);
  }

  start(): void {
    this.running = true;
    this.loops = LANES.map((lane) => this.loop(lane));
  }

  /** Stops the lanes; a second call (a test's cleanup after its own) waits for the same end. */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  /** Every sequence number the table holds now (read through the delegate IP, retried within `deadlineMs`). */
  async committedSeqs(deadlineMs: number): Promise<Set<number>> {
    const rows = await this.retry(deadlineMs, async (c) => (await c.query<{ seq: string }>(`SELECT seq FROM ${PROBE_TABLE}`)).rows);
    return new Set(rows.map((r) => Number(r.seq)));
  }

  async drop(deadlineMs: number): Promise<void> {
    await this.retry(deadlineMs, (c) => c.query(`DROP TABLE IF EXISTS ${PROBE_TABLE}`));
  }

  private async admin(sql: string): Promise<void> {
    await this.retry(10_000, (c) => c.query(sql));
  }

  private async retry<T>(deadlineMs: number, work: (c: pg.Client) => Promise<T>): Promise<T> {
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      let c: pg.Client | null = null;
      try {
        c = await this.connect(Math.max(this.opts.timeoutMs, 5000));
        return await work(c);
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await sleep(500);
      } finally {
        await close(c);
      }
    }
  }

  private async loop(lane: Lane): Promise<void> {
    let pooled: pg.Client | null = null;
    while (this.running) {
      const tick = Date.now();
      let c: pg.Client | null = lane === 'pooled' ? pooled : null;
      try {
        if (!c) {
          c = await this.connect(this.opts.timeoutMs);
          if (lane === 'pooled') pooled = c;
        }
      } catch (err) {
        // The connection failed: both operations of this tick fail with it.
        const end = Date.now();
        for (const op of ['write', 'read'] as const) this.attempts.push({ lane, op, start: tick, end, ok: false, error: `connect: ${message(err)}` });
        await close(c);
        pooled = null;
        await sleep(Math.max(0, tick + this.opts.intervalMs - Date.now()));
        continue;
      }
      const wrote = await this.attempt(lane, 'write', c, this.nextSeq++);
      const read = wrote ? await this.attempt(lane, 'read', c) : false;
      if (lane === 'new' || !wrote || !read) {
        await close(c);
        if (lane === 'pooled') pooled = null;
      }
      await sleep(Math.max(0, tick + this.opts.intervalMs - Date.now()));
    }
    await close(pooled);
  }

  private async attempt(lane: Lane, op: 'write' | 'read', c: pg.Client, seq?: number): Promise<boolean> {
    const start = Date.now();
    try {
      const r =
        op === 'write'
          ? await c.query<{ server: string }>(`INSERT INTO ${PROBE_TABLE} (seq, lane) VALUES ($1, $2) RETURNING host(inet_server_addr()) AS server`, [seq, lane])
          : await c.query<{ server: string }>(`SELECT host(inet_server_addr()) AS server, (SELECT max(seq) FROM ${PROBE_TABLE}) AS seen`);
      this.attempts.push({ lane, op, seq, start, end: Date.now(), ok: true, server: r.rows[0]?.server });
      return true;
    } catch (err) {
      this.attempts.push({ lane, op, seq, start, end: Date.now(), ok: false, error: message(err) });
      return false;
    }
  }
}

function message(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 200);
}
