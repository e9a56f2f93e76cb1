import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { writeFileAtomic } from '../fsutil.js';

async function keygen(path: string, comment: string): Promise<void> {
  try {
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path]);
  } catch (err) {
    const e = err as { code?: string; message: string };
    if (e.code === 'ENOENT') throw new Error('ssh-keygen not found: install openssh-client to generate the cluster\'s SSH keys');
    throw err;
  }
}

/**
 * SSH material of every node under `<deployDir>/ssh/<host>/`: a host key and a client key per
 * node, made on first use and kept; authorized_keys (every node's client key, `restrict`ed)
 * and known_hosts (every node's host key pinned as [host]:port) rewritten from them each time,
 * so adding a node needs no hand edits. Returns the hosts whose keys were made now.
 */
export async function ensureSshKeys(deployDir: string, hosts: string[], sshPort: number): Promise<string[]> {
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
  const authorized = hosts.map((h) => `restrict ${pub(h, 'id_ed25519')}\n`).join('');
  const known = hosts.map((h) => `[${h}]:${sshPort} ${pub(h, 'ssh_host_ed25519_key').split(' ').slice(0, 2).join(' ')}\n`).join('');
  for (const host of hosts) {
    writeFileAtomic(join(deployDir, 'ssh', host, 'authorized_keys'), authorized, 0o600);
    writeFileAtomic(join(deployDir, 'ssh', host, 'known_hosts'), known, 0o600);
  }
  return made;
}
