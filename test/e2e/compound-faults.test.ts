// Issue 23: a second fault while the cluster repairs the first. Two postgres nodes, synchronous
// replication, durability strict (the user's report): the primary is killed, the standby
// promoted; the old primary returns and, while it is being rebuilt, the new primary is killed;
// then it starts again. Both nodes run: the cluster must find its primary again (the node that
// holds every acknowledged commit), rebuild the other, and lose nothing. The same sequence with
// durability available runs on the disk-full suite's cluster (same shape, one cluster less).
import { afterAll, afterEach, beforeAll, describe, it } from 'vitest';
import { TestCluster, e2eEngine, expectConverged, killDuringRejoin } from './harness.js';

const docker = await e2eEngine();

describe.skipIf(!docker)('e2e: a second fault during the repair of the first (2 nodes, sync, strict)', () => {
  let tc: TestCluster;

  beforeAll(async () => {
    tc = new TestCluster(docker!, 'e2e-compound-strict', 46, { nodes: 2, replication: 'sync', durability: 'strict' });
    await tc.up();
  });
  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail') await tc?.printDiagnostics(40);
  });
  afterAll(async () => {
    await tc?.destroy();
  });

  it('the new primary killed while the old one is being rebuilt, then started again: the cluster converges with no acknowledged write lost', async () => {
    await expectConverged(tc, await killDuringRejoin(tc, 'compound_rows'), 'strict');
  });
});
