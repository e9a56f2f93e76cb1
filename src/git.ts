import { execa } from 'execa';

/** A checkout as `pgha publish` sees it: the commit checked out and what differs from it. */
export interface GitTree {
  /** The commit checked out (40 hex digits), or null outside a git checkout. */
  head: string | null;
  /** `git status --porcelain` lines: changed, staged and untracked (not ignored) files. */
  changes: string[];
}

const git = (root: string, ...args: string[]) => execa('git', args, { cwd: root, timeout: 30_000, reject: false });

/** The commit checked out at `root` (40 hex digits), or null outside a git checkout. */
export async function gitHead(root: string): Promise<string | null> {
  const head = await git(root, 'rev-parse', '--verify', 'HEAD');
  return head.exitCode === 0 ? head.stdout.trim() : null;
}

/** Reads the checkout at `root` (the edge: runs git). */
export async function gitTree(root: string): Promise<GitTree> {
  const head = await gitHead(root);
  if (head === null) return { head: null, changes: [] };
  const status = await git(root, 'status', '--porcelain');
  if (status.exitCode !== 0) throw new Error(`git status in ${root} failed: ${String(status.stderr).trim()}`);
  return { head, changes: status.stdout.split('\n').filter((l) => l.trim() !== '') };
}

/**
 * The line that refuses a release from this tree (null: it is clean): a tree that is not a
 * checkout, or holds changes no commit has, cannot be named by the revision in a tag.
 */
export function dirtyTreeProblem(tree: GitTree): string | null {
  const allow = 'commit them, or pass --allow-dirty to publish anyway';
  if (tree.head === null) return 'not a git checkout: a release must name the commit it was built from; pass --allow-dirty to publish anyway';
  if (!tree.changes.length) return null;
  const first = tree.changes[0]!.slice(3);
  const more = tree.changes.length > 1 ? ` and ${tree.changes.length - 1} more` : '';
  return `the git tree has uncommitted changes (${first}${more}); ${allow}`;
}
