import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { writeFileAtomic } from '../fsutil.js';
import { PATHS } from '../images/facts.js';

async function keygen(path: string, comment: string): Promise<void> {
  try {
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path]);
  } catch (err) {
    const e = err as { code?: string; message: string };
    if (e.code === 'ENOENT') throw new Error('ssh-keygen not found: install openssh-client to generate the cluster\'s SSH keys');
    throw err;
  }
}

/** The nodes of a cluster by kind, and the network their SSH connections come from. */
export interface SshNodes {
  postgres: string[];
  pgpool: string[];
  subnet: string;
}

/**
 * Who may log in where, and as what kind of caller: pgpool nodes reach postgres nodes
 * (promote, follow, slots) and the other pgpool nodes (escalation clears the delegate IP);
 * postgres nodes reach the other postgres nodes (online recovery). Nobody reaches a node
 * from itself, and no postgres node reaches a pgpool node.
 */
export function sshCallers(nodes: SshNodes, host: string): { host: string; kind: 'postgres' | 'pgpool' }[] {
  const others = (list: string[]) => list.filter((h) => h !== host);
  if (nodes.pgpool.includes(host)) return others(nodes.pgpool).map((h) => ({ host: h, kind: 'pgpool' }));
  return [...others(nodes.pgpool).map((h) => ({ host: h, kind: 'pgpool' as const })), ...others(nodes.postgres).map((h) => ({ host: h, kind: 'postgres' as const }))];
}

/**
 * SSH material of every node under `<deployDir>/ssh/<host>/`: a host key and a client key per
 * node, made on first use and kept; authorized_keys and known_hosts (every node's host key
 * pinned as [host]:port) rewritten from them each time, so adding a node needs no hand edits.
 * Each authorized key is `restrict`ed, accepted only from the cluster network (`from=`), and
 * forced through the ssh-command dispatcher, which runs only the operations its caller's kind
 * needs there. Returns the hosts whose keys were made now.
 */
export async function ensureSshKeys(deployDir: string, nodes: SshNodes, sshPort: number): Promise<string[]> {
  const hosts = [...nodes.postgres, ...nodes.pgpool];
  const made: string[] = [];
  for (const host of hosts) {
    const dir = join(deployDir, 'ssh', host);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    let fresh = false;
    if (!existsSync(join(dir, 'ssh_host_ed25519_key'))) {
      await keygen(join(dir, 'ssh_host_ed25519_key'), `pgha host key of ${host}`);
      fresh = true;
    }
    if (!existsSync(join(dir, 'id_ed25519'))) {
      await keygen(join(dir, 'id_ed25519'), `postgres@${host}`);
      fresh = true;
    }
    if (fresh) made.push(host);
  }
  const pub = (host: string, file: string) => readFileSync(join(deployDir, 'ssh', host, `${file}.pub`), 'utf8').trim();
  const known = hosts.map((h) => `[${h}]:${sshPort} ${pub(h, 'ssh_host_ed25519_key').split(' ').slice(0, 2).join(' ')}\n`).join('');
  for (const host of hosts) {
    const authorized = sshCallers(nodes, host)
      .map((c) => `restrict,from="${nodes.subnet}",command="${PATHS.sshCommand} ${c.kind}" ${pub(c.host, 'id_ed25519')}\n`)
      .join('');
    writeFileAtomic(join(deployDir, 'ssh', host, 'authorized_keys'), authorized, 0o600);
    writeFileAtomic(join(deployDir, 'ssh', host, 'known_hosts'), known, 0o600);
  }
  return made;
}
