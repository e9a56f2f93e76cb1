// Fault 8 of issue 11: the primary's data volume runs full. pg0's volume is a small ext4 file
// system on a loop device, made by this test before the cluster starts. Filled by the postgres account, as a runaway log or temporary files
// would: the primary, below its reserve with a synchronous standby that has all its WAL, stops
// and is held; pgpool promotes the standby; status and doctor name the node and the cause;
// once the space is freed the node rejoins as a standby by itself.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { parse, stringify } from 'yaml';
import { TestCluster, Writer, e2eEngine, expectConverged, killDuringRejoin, lost, sh, waitFor } from './harness.js';

const docker = await e2eEngine();

describe.skipIf(!docker)('e2e: the primary\'s data volume runs full (2 postgres nodes, synchronous replication)', () => {
  let tc: TestCluster;
  const work = mkdtempSync(join(tmpdir(), 'pgha-e2e-disk-'));
  const image = join(work, 'pg0-data.img');
  let loop = '';

  beforeAll(async () => {
    tc = new TestCluster(docker!, 'e2e-disk', 44, { nodes: 2, replication: 'sync' });
    await execa('truncate', ['-s', '400M', image]);
    await execa('mkfs.ext4', ['-q', '-F', image]);
    loop = (await execa('losetup', ['--find', '--show', image])).stdout.trim();
    // pg0's data volume on that device: the test's own deploy directory gets driver options for
    // it (compose creates the volume; `cluster up` of the CLI would refuse this edited file).
    const composeFile = join(tc.dir, 'docker-compose.yml');
    const model = parse(readFileSync(composeFile, 'utf8')) as { volumes: Record<string, unknown> };
    model.volumes['pg0-data'] = { driver: 'local', driver_opts: { type: 'ext4', device: loop } };
    writeFileSync(composeFile, stringify(model, { version: '1.1' }));
    await tc.up();
  });
  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail') await tc?.printDiagnostics();
  });
  afterAll(async () => {
    await tc?.destroy();
    if (loop) await execa('losetup', ['-d', loop]).catch((err) => console.error(`losetup -d ${loop}: ${(err as Error).message}`));
    rmSync(work, { recursive: true, force: true });
  });

  it('scenario 18: the primary\'s volume fills up under writes: it hands over to the standby, status and doctor name the node and the cause, no acknowledged write lost; freed, it rejoins as a standby', async () => {
    expect(tc.primaryOf(await tc.status())).toBe('pg0');
    const pg0 = tc.container('pg0');
    const df = (await sh(pg0, 'df -P -m /var/lib/postgresql | tail -1', { check: true })).stdout.trim().split(/\s+/);
    expect(df[0]).toBe(loop);

    await tc.query('CREATE TABLE disk_rows (id int PRIMARY KEY)');
    const writer = new Writer(tc, 'disk_rows', 10);
    await writer.ackedMore(50);
    const filledAt = Date.now();
    // dd stops at "No space left on device": as the postgres account sees the file system.
    const fill = await sh(pg0, 'dd if=/dev/zero of=/var/lib/postgresql/runaway.log bs=1M 2>&1', { user: 'postgres' });
    expect(fill.stdout).toContain('No space left on device');

    await waitFor('pg1 to be the primary', async () => tc.primaryOf(await tc.status()) === 'pg1', 120_000, 500);
    console.log(`volume filled -> pg1 primary in pgpool's view: ${((Date.now() - filledAt) / 1000).toFixed(1)} s`);
    await writer.ackedMore(50);
    const { acked, errors } = await writer.stop();
    console.log(`writer errors during the handover: ${errors.length}; kinds: ${[...new Set(errors.map((e) => e.replace(/\d+/g, 'N')))].slice(0, 4).join(' | ') || 'none'}`);

    // The node says why it stopped; status and doctor name it and the cause.
    expect(await tc.logs('pg0')).toMatch(/node=pg0 action=disk: the data volume has \d+ MB free \(reserve 128 MB\) and a standby has all the WAL: stopping postgres/);
    const health = await sh(pg0, '/usr/local/bin/pgha-node health');
    expect(health.exitCode).not.toBe(0);
    expect(health.stdout).toMatch(/^held: the data volume ran full \(\d+ MB free\); rejoins once 256 MB are free/);
    const status = await tc.cli('status');
    expect(status.stdout).toMatch(/problem: pg0: data volume 100% used, \d MB free \(reserve 128 MB\).*postgres stopped and held, it rejoins as a standby once 256 MB are free/);
    const doctor = await tc.cli('doctor');
    expect(doctor.exitCode).not.toBe(0);
    expect(doctor.stdout).toMatch(/FAIL\s+data volume of pg0 has room: pg0: data volume 100% used/);
    // The same verdict for scripts.
    const doctorJson = await tc.cli('doctor', '--json');
    expect(doctorJson.exitCode).toBe(1);
    const verdict = JSON.parse(doctorJson.stdout) as { ok: boolean; failed: number; checks: { name: string; ok: boolean; detail: string }[] };
    expect(verdict.ok).toBe(false);
    expect(verdict.failed).toBe(verdict.checks.filter((c) => !c.ok).length);
    expect(verdict.checks.find((c) => c.name === 'data volume of pg0 has room')).toMatchObject({ ok: false, detail: expect.stringMatching(/^pg0: data volume 100% used/) });
    // Held: not writable, not even directly.
    await expect(tc.onNode('pg0', 'SELECT 1')).rejects.toThrow();
    expect(lost(acked, (await tc.onNode('pg1', 'SELECT id FROM disk_rows ORDER BY id')).split('\n').filter(Boolean).map(Number))).toEqual([]);

    // Space freed: the node asks to be rebuilt and comes back as pg1's standby.
    await sh(pg0, 'rm /var/lib/postgresql/runaway.log', { check: true });
    await tc.waitReady('pg0 to rejoin as a standby', 180_000);
    expect(await tc.onNode('pg0', 'SELECT sender_host FROM pg_stat_wal_receiver')).toBe('pg1');
    expect(await tc.logs('pg0')).toMatch(/node=pg0 action=disk: the data volume has \d+ MB free again: asking to be rebuilt as a standby/);
    expect(lost(acked, (await tc.onNode('pg0', 'SELECT id FROM disk_rows ORDER BY id')).split('\n').filter(Boolean).map(Number))).toEqual([]);
    const doctorAfter = await tc.cli('doctor');
    expect(doctorAfter.stdout).toMatch(/ok\s+data volume of pg0 has room/);
  });

  // Issue 23's compound fault with durability available (this cluster's default), here rather
  // than on a cluster of its own: compound-faults.test.ts runs it with strict.
  it('a second fault during the repair of the first (durability available): the new primary killed while the old one is being rebuilt, then started again: the cluster converges with no acknowledged write lost', async () => {
    expect(tc.cluster.postgres.durability).toBe('available');
    await expectConverged(tc, await killDuringRejoin(tc, 'compound_rows'), 'available');
  });
});
