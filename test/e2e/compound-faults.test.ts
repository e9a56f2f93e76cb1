// Issue 23: a second fault while the cluster repairs the first, in both durability modes. Two
// postgres nodes, synchronous replication, durability strict (the user's report), then the
// same with durability available (commits go on without a standby): the primary is killed, the
// standby promoted; the old primary returns and, while it is being rebuilt, the new primary is
// killed; then it starts again. Both nodes run: the cluster must find its primary again (the
// node that holds every acknowledged commit), rebuild the other, and lose nothing.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, e2eEngine, killDuringRejoin } from './harness.js';

const docker = await e2eEngine();

for (const durability of ['strict', 'available'] as const) {
  describe.skipIf(!docker)(`e2e: a second fault during the repair of the first (2 nodes, sync, ${durability})`, () => {
    let tc: TestCluster;

    beforeAll(async () => {
      tc = new TestCluster(docker!, `e2e-compound-${durability}`, durability === 'strict' ? 46 : 47, { nodes: 2, replication: 'sync', durability });
      await tc.up();
    });
    afterEach(async (ctx) => {
      if (ctx.task.result?.state === 'fail') await tc?.printDiagnostics(40);
    });
    afterAll(async () => {
      await tc?.destroy();
    });

    it('the new primary killed while the old one is being rebuilt, then started again: the cluster converges with no acknowledged write lost', async () => {
      const out = await killDuringRejoin(tc, 'compound_rows');
      console.log(`${durability}: healed ${out.healSeconds.toFixed(1)} s after ${out.second} started again; ${out.acked.length} writes acknowledged`);
      expect(out.lostAcked).toEqual([]);
      // With no backend up, status still names each backend's state (from pcp), and says where it came from.
      expect(out.downStatus.backends.map((b) => b.status)).toEqual(['down', 'down']);
      expect(out.downStatus.problems.join('\n')).toMatch(/SHOW pool_nodes failed on every pgpool node \(no backend up\?\); backend states from pcp_node_info/);
      const s = await tc.status();
      expect(tc.primaryOf(s)).toBe(out.second);
      // The repair was really interrupted: the returning node's first rebuild failed and was retried.
      expect(await tc.logs(out.first)).toMatch(/action=rejoin: WARNING: node \d is still held: pcp_recovery_node failed: ERROR/);
      expect(await tc.logs(out.second)).toMatch(/action=converge: pgpool has no primary and this node runs as one/);
    });
  });
}
