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

export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: Problem[],
  ) {
    super(formatProblems(source, problems));
    this.name = 'ConfigError';
  }
}

/** Problems of several inputs, reported together. */
export class CombinedError extends Error {
  constructor(readonly errors: ConfigError[]) {
    super(errors.map((e) => e.message).join('\n'));
    this.name = 'CombinedError';
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
  if (err instanceof ConfigError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}
