import { PATHS } from '../images/facts.js';

/**
 * The arguments pgpool gives its hook scripts, named once. pgpool.conf's command lines and
 * the named assignments at the top of each script are both rendered from this table, so
 * no script body reads `$8` or `${11}`.
 */

/** pgpool's placeholders for failover_command, failback_command and follow_primary_command (pgpool.conf docs). */
export const PLACEHOLDERS = {
  '%d': 'failed_node_id', // the node detached: the failed one, or the standby to re-point
  '%h': 'failed_node_host',
  '%p': 'failed_node_port',
  '%D': 'failed_node_pgdata',
  '%m': 'new_main_node_id',
  '%H': 'new_main_node_host',
  '%M': 'old_main_node_id',
  '%P': 'old_primary_node_id',
  '%r': 'new_main_node_port',
  '%R': 'new_main_node_pgdata',
  '%N': 'old_primary_node_host',
  '%S': 'old_primary_node_port',
} as const;

export type Placeholder = keyof typeof PLACEHOLDERS;

/** The positional arguments pgpool_recovery passes to the recovery scripts, in order. */
export const RECOVERY_ARGUMENTS = {
  recovery_1st_stage: ['primary_pgdata', 'target_host', 'target_pgdata', 'primary_port', 'target_node_id', 'target_port', 'primary_host'],
  pgpool_remote_start: ['target_host', 'target_pgdata'],
} as const;

interface PgpoolHook {
  script: string;
  /** The placeholders the script reads, in the order they are passed. */
  takes: Placeholder[];
}

export const PGPOOL_HOOKS = {
  failover: { script: 'failover.sh', takes: ['%d', '%h', '%m', '%H', '%P', '%N'] },
  failback: { script: 'failback.sh', takes: ['%d', '%h', '%N'] },
  followPrimary: { script: 'follow_primary.sh', takes: ['%d', '%h', '%p', '%m', '%H', '%r', '%P'] },
} as const satisfies Record<string, PgpoolHook>;

const positional = (i: number) => (i < 9 ? `$${i + 1}` : `\${${i + 1}}`);

function assignments(names: readonly string[], used?: readonly string[]): string {
  const lines = names.flatMap((name, i) => (used && !used.includes(name) ? [] : [`${name}=${positional(i)}`]));
  return ['# Arguments, named in src/pgpool/hooks.ts:', ...lines].join('\n');
}

/** The command line of a hook in pgpool.conf and the assignments at the top of its script. */
export function pgpoolHook(hook: PgpoolHook) {
  return {
    command: `${PATHS.libDir}/${hook.script} ${hook.takes.join(' ')}`,
    assignments: assignments(hook.takes.map((p) => PLACEHOLDERS[p])),
  };
}

/** The assignments of a recovery script: only the arguments it reads, from their fixed positions. */
export function recoveryArguments(script: keyof typeof RECOVERY_ARGUMENTS, used: readonly string[]): string {
  const all: readonly string[] = RECOVERY_ARGUMENTS[script];
  for (const u of used) if (!all.includes(u)) throw new Error(`${script} has no argument ${u}`);
  return assignments(all, used);
}
