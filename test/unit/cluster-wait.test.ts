import { describe, expect, it } from 'vitest';
import type { ClusterStatus } from '../../src/deploy/inspect.js';
import { changesOnly, shortCause, waitingFor, waitingLine } from '../../src/deploy/lifecycle.js';

// What psql says while pgpool is not listening yet: a normal moment of every start.
const REFUSED = [
  'psql: error: connection to server at "localhost" (::1), port 9999 failed: Cannot assign requested address',
  '\tIs the server running on that host and accepting TCP/IP connections?',
  'connection to server at "localhost" (127.0.0.1), port 9999 failed: Connection refused',
  '\tIs the server running on that host and accepting TCP/IP connections?',
].join('\n');

const status = (over: Partial<ClusterStatus>): ClusterStatus => ({
  askedPgpool: null,
  backends: [],
  watchdog: { leader: null, quorum: null, nodes: [], vipHolders: [], delegateIp: '172.28.0.100' },
  problems: [],
  ...over,
});

describe('what cluster up waits for', () => {
  it('reduces a pgpool error to its cause in a few words', () => {
    expect(shortCause(REFUSED)).toBe('connection refused');
    expect(shortCause('exit 124: timed out')).toBe('no answer');
    expect(shortCause('psql: error: connection to server at "localhost" (127.0.0.1), port 9999 failed: FATAL:  password authentication failed for user "pgpool"\n')).toBe(
      'password authentication failed for user "pgpool"',
    );
    expect(shortCause(`psql: error: ${'x'.repeat(100)}`)).toHaveLength(60);
  });

  it('names the pgpool nodes by cause, on one line, when no pgpool answers', () => {
    const s = status({
      problems: [`pgpool0: SHOW pool_nodes failed: ${REFUSED}`, `pgpool1: pcp_watchdog_info failed: ERROR: connection to socket failed`, `pgpool2: SHOW pool_nodes failed: ${REFUSED}`, 'no pgpool node answered'],
    });
    const what = waitingFor(s)!;
    expect(what).toBe('pgpool on pgpool0, pgpool2: connection refused; pgpool1: connection to socket failed');
    expect(what).not.toContain('\n');
    expect(waitingLine(what, 12)).toBe('waiting: pgpool on pgpool0, pgpool2: connection refused; pgpool1: connection to socket failed (12 s)');
  });

  it('says what is missing once pgpool answers, and nothing when the cluster is whole', () => {
    expect(waitingFor(status({ problems: ['no pgpool node answered'] }))).toBe('no pgpool node answered');
    const up = { id: 0, host: 'pg0', status: 'up', role: 'primary', lag: null, replicationState: '', syncState: '', container: 'running', disk: null };
    const whole = status({
      askedPgpool: 'pgpool0',
      backends: [up],
      watchdog: { leader: 'pgpool0', quorum: 'QUORUM EXIST', nodes: [{ host: 'pgpool0', state: 'LEADER', container: 'running', holdsVip: true }], vipHolders: ['pgpool0'], delegateIp: '172.28.0.100' },
    });
    expect(waitingFor(whole)).toBeNull();
    expect(waitingFor({ ...whole, watchdog: { ...whole.watchdog, leader: null } })).toBe('no watchdog leader');
  });

  it('off a terminal, prints a line only when what it waits for changes', () => {
    const lines: string[] = [];
    const progress = changesOnly((l) => lines.push(l));
    progress.update('pgpool on pgpool0: connection refused', 2);
    progress.update('pgpool on pgpool0: connection refused', 4);
    progress.update('no watchdog leader', 6);
    progress.done();
    expect(lines).toEqual(['waiting: pgpool on pgpool0: connection refused (2 s)', 'waiting: no watchdog leader (6 s)']);
  });
});
