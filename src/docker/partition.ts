import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A network partition of one container, made on this host's firewall: every packet the bridge
 * forwards from or to its address is dropped (the DOCKER-USER chain, which Docker leaves to the
 * administrator). The container keeps its interface, its address and its /etc/hosts, as a host
 * behind a cut cable does; `docker network disconnect` would instead remove the interface,
 * reconnect it under a new name and rewrite /etc/hosts, which no real partition does.
 * Container-to-container traffic reaches iptables only with br_netfilter on (Docker turns it
 * on); the engine must run on this host, and this process must be root.
 */
export interface Partition {
  /** Removes exactly the rules this partition added. */
  heal(): Promise<void>;
}

const BRIDGE_NF = '/proc/sys/net/bridge/bridge-nf-call-iptables';

function rules(address: string, tag: string): string[][] {
  return ['-s', '-d'].map((dir) => ['DOCKER-USER', dir, address, '-m', 'comment', '--comment', tag, '-j', 'DROP']);
}

async function iptables(args: string[]): Promise<void> {
  try {
    await run('iptables', ['-w', '5', ...args], { timeout: 15_000 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    const why = e.code === 'ENOENT' ? 'iptables is not installed' : (e.stderr || e.message).trim().split('\n')[0];
    throw new Error(`iptables ${args.join(' ')}: ${why} (partitions need root on the engine's host)`);
  }
}

/** Cuts `address` off the bridge in both directions until `heal()`. `tag` names the rules (e.g. the cluster). */
export async function cutOff(address: string, tag: string): Promise<Partition> {
  const bridged = await readFile(BRIDGE_NF, 'utf8').catch(() => '0');
  if (bridged.trim() !== '1') throw new Error(`${BRIDGE_NF} is not 1: traffic between containers on a bridge bypasses iptables here, so a partition cannot be made`);
  const added: string[][] = [];
  try {
    for (const rule of rules(address, tag)) {
      await iptables(['-I', ...rule]);
      added.push(rule);
    }
  } catch (err) {
    for (const rule of added) await iptables(['-D', ...rule]).catch(() => {});
    throw err;
  }
  return {
    heal: async () => {
      for (const rule of added.splice(0)) await iptables(['-D', ...rule]);
    },
  };
}
