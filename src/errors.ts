/**
 * Configuration problems are collected, never thrown one at a time: an entry point
 * reports every problem (one line each, naming where it is) before it exits.
 */
export interface Problem {
  /** Where the problem is: a JSON path (`pgpool.sha256`), a YAML path, a variable name. */
  where: string;
  /** What was expected, in one line. */
  message: string;
}

/** An error that carries the exit code the CLI ends with. Any other error ends it with 1. */
export abstract class PghaError extends Error {
  abstract readonly exitCode: number;
}

export class ConfigError extends PghaError {
  readonly exitCode = 2;

  constructor(
    readonly source: string,
    readonly problems: Problem[],
  ) {
    super(formatProblems(source, problems));
    this.name = 'ConfigError';
  }
}

/** Problems of several inputs, reported together. */
export class CombinedError extends PghaError {
  readonly exitCode = 2;

  constructor(readonly errors: ConfigError[]) {
    super(errors.map((e) => e.message).join('\n'));
    this.name = 'CombinedError';
  }
}

/**
 * A command that cannot run as asked or in the project's present state (stale generated
 * files, images not built): one reason per line, each printed with the `pgha:` prefix.
 */
export class UsageError extends PghaError {
  /** 2 for a command used wrongly; a command may refuse with its own code (pgha bump: 1, 3). */
  constructor(
    readonly reasons: string[],
    readonly exitCode: number = 2,
  ) {
    super(reasons.join('\n'));
    this.name = 'UsageError';
  }
}

export function formatProblems(source: string, problems: Problem[]): string {
  return problems.map((p) => `${source}: ${p.where}: ${p.message}`).join('\n');
}

/** Formats a zod issue path as a JSON path: `patches["4.7"][0].sha256`. */
export function jsonPath(path: ReadonlyArray<PropertyKey>): string {
  if (path.length === 0) return '(root)';
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) out += out ? `.${key}` : key;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}

/** One-line form of any error, for CLI output. */
export function oneLine(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** The exit code an error carries (configuration and usage problems: 2), else 1. */
export function exitCodeOf(err: unknown): number {
  return err instanceof PghaError ? err.exitCode : 1;
}

/**
 * What the CLI prints for an error: configuration problems as they are (each line names its
 * source), usage problems one `pgha:` line per reason, anything else as one `pgha:` message.
 */
export function errorReport(err: unknown): string {
  if (err instanceof ConfigError || err instanceof CombinedError) return err.message;
  if (err instanceof UsageError) return err.reasons.map((r) => `pgha: ${r}`).join('\n');
  return `pgha: ${oneLine(err)}`;
}
