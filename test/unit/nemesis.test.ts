// The nemesis's pure parts: the schedule drawn from a seed, and the checker, which must fail
// on a record with two writable primaries, a lost write, or a cluster that never healed.
import { describe, expect, it } from 'vitest';
import { checkRun, DEFAULT_LIMITS, type CheckInput, type RoleTick } from '../../src/chaos/checker.js';
import { roleChanges } from '../../src/chaos/sampler.js';
import { describeEpisode, drawSchedule, NEMESIS_KINDS, parseDuration } from '../../src/chaos/schedule.js';
import { parseChaosPlan, type ChaosCommandOptions } from '../../src/commands/chaos.js';

const tick = (at: number, roles: RoleTick['roles']): RoleTick => ({ at, roles });

/** A run with nothing wrong: one writable primary throughout, every write present, every episode healed in 20 s. */
function goodRun(): CheckInput {
  return {
    replication: 'sync',
    ticks: [tick(0, { pg0: 'writable', pg1: 'standby' }), tick(500, { pg0: 'silent', pg1: 'standby' }), tick(1000, { pg0: 'silent', pg1: 'writable' })],
    acked: [1, 2, 3].map((seq) => ({ seq, at: seq * 100 })),
    committed: [1, 2, 3],
    primaryFaultsAt: [400],
    heals: [{ episode: 1, released: 10_000, healedAt: 30_000 }],
    limits: DEFAULT_LIMITS,
    restarts: [{ container: 'c-pg0', before: 0, after: 0 }],
  };
}

const failed = (input: CheckInput) => checkRun(input).filter((c) => !c.ok).map((c) => c.check);

describe('nemesis schedule', () => {
  it('the same seed draws the same episodes; another seed others', () => {
    const a = drawSchedule(42, 50);
    expect(drawSchedule(42, 50)).toEqual(a);
    expect(drawSchedule(43, 50)).not.toEqual(a);
    // The first episodes of a longer draw are the same: a longer run only adds to the end.
    expect(drawSchedule(42, 80).slice(0, 50)).toEqual(a);
  });

  it('draws every kind of fault, compound episodes, and values within the shape', () => {
    const episodes = drawSchedule(7, 300);
    const faults = episodes.flatMap((e) => e.faults);
    expect(new Set(faults.map((f) => f.kind))).toEqual(new Set(NEMESIS_KINDS));
    expect(new Set(faults.map((f) => f.target))).toEqual(new Set(['primary', 'standby', 'leader', 'pgpool']));
    const compound = episodes.filter((e) => e.faults.length === 2).length;
    expect(compound).toBeGreaterThan(300 * 0.3);
    expect(compound).toBeLessThan(300 * 0.5);
    for (const e of episodes) {
      expect(e.quietMs).toBeGreaterThanOrEqual(5_000);
      expect(e.quietMs).toBeLessThanOrEqual(20_000);
      expect(e.faults[0]!.afterMs).toBe(0);
      for (const f of e.faults) expect(f.lastsMs).toBeGreaterThanOrEqual(3_000);
      if (e.faults[1]) expect(e.faults[1].afterMs).toBeGreaterThanOrEqual(2_000);
    }
    // Isolation is of postgres nodes only (the bridge cut of a pgpool node is another issue's fault).
    expect(faults.filter((f) => f.kind === 'isolate').every((f) => f.target === 'primary' || f.target === 'standby')).toBe(true);
  });

  it('describes an episode in one line, the second fault with its delay', () => {
    expect(describeEpisode({ n: 3, quietMs: 7000, faults: [{ kind: 'kill', target: 'primary', pick: 0, afterMs: 0, lastsMs: 12_000 }, { kind: 'pause', target: 'standby', pick: 5, afterMs: 8100, lastsMs: 4200 }] })).toBe(
      '3: after 7.0 s quiet: kill primary 12.0 s; +8.1 s pause standby#5 4.2 s',
    );
  });

  it('durations: seconds, minutes, hours', () => {
    expect(parseDuration('10m')).toBe(600_000);
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('90')).toBe(90_000);
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(parseDuration('1.5m')).toBeNull();
    expect(parseDuration('ten')).toBeNull();
  });
});

describe('nemesis checker', () => {
  it('a run with nothing wrong passes every check', () => {
    const results = checkRun(goodRun());
    expect(results.map((c) => c.check)).toEqual(['one-writable-primary', 'no-lost-write', 'healed', 'no-restart-loop']);
    expect(failed(goodRun())).toEqual([]);
  });

  it('two writable primaries in one sampling round fail, naming when and which', () => {
    const run = goodRun();
    run.ticks.push(tick(1500, { pg0: 'writable', pg1: 'writable' }));
    expect(failed(run)).toEqual(['one-writable-primary']);
    expect(checkRun(run)[0]!.detail).toBe('1 sampling rounds with two writable primaries, first at 1970-01-01T00:00:01.500Z: pg0 writable, pg1 writable');
  });

  it('a primary whose commit did not complete is not writable: a cut-off old primary beside the new one passes', () => {
    const run = goodRun();
    run.ticks.push(tick(1500, { pg0: 'primary', pg1: 'writable' }));
    expect(failed(run)).toEqual([]);
  });

  it('no sample at all fails: the check cannot have looked', () => {
    expect(failed({ ...goodRun(), ticks: [] })).toEqual(['one-writable-primary']);
  });

  it('a lost acknowledged write fails with synchronous replication', () => {
    expect(failed({ ...goodRun(), committed: [1, 3] })).toEqual(['no-lost-write']);
    expect(checkRun({ ...goodRun(), committed: [1, 3] })[1]!.detail).toBe('1 acknowledged writes lost with synchronous replication: 2');
    expect(failed({ ...goodRun(), committed: null })).toEqual(['no-lost-write']);
  });

  it('asynchronous: a write lost within the window before a fault on the primary is reported, one acknowledged long before fails', () => {
    const inWindow = { ...goodRun(), replication: 'async' as const, committed: [1, 3] };
    expect(failed(inWindow)).toEqual([]);
    expect(checkRun(inWindow)[1]!.detail).toMatch(/^1 acknowledged writes lost \(asynchronous replication\)/);
    const early = { ...inWindow, primaryFaultsAt: [60_000] };
    expect(failed(early)).toEqual(['no-lost-write']);
  });

  it('a cluster that never healed, or healed after the limit, fails', () => {
    expect(failed({ ...goodRun(), heals: [{ episode: 1, released: 10_000, healedAt: null }] })).toEqual(['healed']);
    expect(failed({ ...goodRun(), heals: [{ episode: 2, released: 10_000, healedAt: 70_001 }] })).toEqual(['healed']);
    expect(checkRun({ ...goodRun(), heals: [{ episode: 2, released: 10_000, healedAt: 70_001 }] })[2]!.detail).toBe('episode 2: healed after 60.0 s (limit 60.0 s)');
  });

  it('an episode whose heal was cut short by another failed check is not counted as never healed', () => {
    const run = { ...goodRun(), heals: [{ episode: 1, released: 10_000, healedAt: 30_000 }, { episode: 2, released: 50_000, healedAt: null, interrupted: true }] };
    expect(failed(run)).toEqual([]);
    expect(checkRun(run)[2]!.detail).toBe('1 episodes, each healed within 60.0 s (episode 2: the run stopped on another check before it healed)');
  });

  it('a container the engine restarted again and again fails', () => {
    expect(failed({ ...goodRun(), restarts: [{ container: 'c-pgpool1', before: 1, after: 5 }] })).toEqual(['no-restart-loop']);
    expect(failed({ ...goodRun(), restarts: [{ container: 'c-pgpool1', before: 1, after: 3 }] })).toEqual([]);
  });

  it('the record keeps the rounds where a role changed', () => {
    const ticks = [tick(0, { pg0: 'writable' }), tick(500, { pg0: 'writable' }), tick(1000, { pg0: 'silent' }), tick(1500, { pg0: 'silent' })];
    expect(roleChanges(ticks).map((t) => t.at)).toEqual([0, 1000]);
  });
});

describe('pgha chaos --fault random: flags', () => {
  const base: ChaosCommandOptions = { fault: ['random'], rounds: '1', intervalMs: '100', timeoutMs: '2000', warmup: '5', hold: '20', down: '10', healTimeout: '180', results: false };
  it('random with a seed and a duration is the nemesis', () => {
    const plan = parseChaosPlan({ ...base, seed: '7', duration: '3m' });
    expect(plan.mode).toBe('nemesis');
    if (plan.mode === 'nemesis') expect([plan.options.seed, plan.options.durationMs, plan.options.limits.healMs]).toEqual([7, 180_000, 60_000]);
    const lenient = parseChaosPlan({ ...base, seed: '7', healLimit: '180' });
    if (lenient.mode === 'nemesis') expect(lenient.options.limits.healMs).toBe(180_000);
  });
  it('every bad flag is a line naming it', () => {
    expect(() => parseChaosPlan({ ...base, fault: ['random', 'kill-primary'], seed: 'x', duration: '3 weeks' })).toThrow(
      /--fault: expected random alone[\s\S]*--seed: expected a whole number[\s\S]*--duration: expected a duration from 10s to 24h/,
    );
    expect(() => parseChaosPlan({ ...base, fault: ['kill-primary'], seed: '3' })).toThrow('--seed: expected only with --fault random');
  });
});
