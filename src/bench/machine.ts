import { cpus, release, totalmem } from 'node:os';
import type Docker from 'dockerode';
import { execa } from 'execa';
import type { Machine } from '../chaos/report.js';

/** A record's file stamp: the time of day it was taken (HHMMSS, UTC). */
export const stampOf = (m: Machine) => m.date.slice(11, 19).replace(/:/g, '');

/** The machine and commit a benchmark ran on; a commit with uncommitted changes outside bench/ is marked `-dirty`. */
export async function machineInfo(docker: Docker, root: string): Promise<Machine> {
  const git = async (...args: string[]) => (await execa('git', args, { cwd: root, reject: false })).stdout.trim();
  const commit = (await git('rev-parse', '--short', 'HEAD')) || 'unknown';
  // bench/ holds the results themselves (RESULTS.md is rewritten by every run): not a change to what was measured.
  const dirty = (await git('status', '--porcelain', '--untracked-files=no', '--', '.', ':!bench')) !== '';
  const version = await docker.version().catch(() => null);
  return {
    date: new Date().toISOString(),
    commit: `${commit}${dirty ? '-dirty' : ''}`,
    cores: cpus().length,
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    engine: version ? `Docker Engine ${version.Version} (API ${version.ApiVersion})` : 'engine version unknown',
  };
}
