import { execa } from 'execa';
import { HOST_NAME } from '../cluster/schema.js';

/**
 * How `pgha chaos` takes a whole host away and brings it back (the host-kill faults): two
 * commands the operator gives, run on this machine with `{host}` replaced by the host's name
 * from cluster.yaml. A lab powers a VM off and on, a rig stops the engine's container; what
 * the command does is the operator's choice, pgha only runs it, bounded, and checks its exit.
 */
export interface HostPower {
  off: (host: string) => Promise<void>;
  on: (host: string) => Promise<void>;
}

/** The placeholder a power command must hold. */
export const HOST_PLACEHOLDER = '{host}';

/** Bound on one power command: a hung hypervisor call must not hang the run. */
export const POWER_COMMAND_MS = 120_000;


/**
 * A power command template as argv: split on blanks (no shell: nothing is interpreted), `{host}`
 * in at least one argument. Returns the problem instead when it is not usable.
 */
export function parsePowerCommand(flag: string, template: string): string[] | { problem: string } {
  const argv = template.trim().split(/\s+/).filter(Boolean);
  if (!argv.length) return { problem: `${flag}: expected a command, got nothing` };
  if (!argv.some((a) => a.includes(HOST_PLACEHOLDER))) return { problem: `${flag}: expected ${HOST_PLACEHOLDER} in the command (the host's name from cluster.yaml), got ${template}` };
  return argv;
}

/** The argv for one host: `{host}` replaced in every argument. */
export function powerArgv(argv: string[], host: string): string[] {
  if (!HOST_NAME.test(host)) throw new Error(`host name ${JSON.stringify(host)}: expected letters, digits, '.', '_' or '-'`);
  return argv.map((a) => a.split(HOST_PLACEHOLDER).join(host));
}

/** HostPower from two parsed templates: each run bounded, a non-zero exit an error naming the command. */
export function hostPower(off: string[], on: string[], timeoutMs = POWER_COMMAND_MS): HostPower {
  const run = async (argv: string[], host: string) => {
    const [cmd, ...args] = powerArgv(argv, host);
    const r = await execa(cmd!, args, { reject: false, all: true, timeout: timeoutMs });
    if (r.exitCode !== 0 || r.timedOut) throw new Error(`${[cmd, ...args].join(' ')}: ${r.timedOut ? `no end after ${timeoutMs / 1000} s` : `exit ${r.exitCode ?? r.signal}`}: ${String(r.all ?? '').trim().split('\n').pop() ?? ''}`);
  };
  return { off: (host) => run(off, host), on: (host) => run(on, host) };
}
