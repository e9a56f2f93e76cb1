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
  return problems.map((p) => `${source}: ${oneLineText(p.where)}: ${oneLineText(p.message)}`).join('\n');
}

/**
 * Control characters (C0, DEL, C1), the Unicode line and paragraph separators and lone
 * surrogates: what may not reach a terminal or a generated file as it is (a line break
 * forges a line of its own, an escape sequence drives the terminal, a lone surrogate is
 * written as U+FFFD).
 */
export const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const UNPRINTABLE_ALL = new RegExp(UNPRINTABLE.source, 'g');

/** `text` with each unprintable character escaped as JSON writes it (\n, \u001b): one line, safe on a terminal. */
export function oneLineText(text: string): string {
  // JSON's short escapes where it has one (\n, \t), else \u and the code unit: JSON.stringify
  // leaves DEL, C1 and the line separators as they are.
  return text.replace(UNPRINTABLE_ALL, (c) => ({ '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t' })[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * An input value as a message shows it: as it is when it is printable ASCII without blanks
 * (a port, an address, a path), else JSON-quoted, so its bounds, blanks and any control
 * character are visible and nothing it holds acts on the terminal or forges a line.
 */
export function shown(value: unknown): string {
  const text = String(value);
  return typeof value !== 'string' || /^[\x21-\x7e]+$/.test(text) ? text : oneLineText(JSON.stringify(text));
}

/** Formats a zod issue path as a JSON path: `patches["4.7"][0].sha256`. */
export function jsonPath(path: ReadonlyArray<PropertyKey>): string {
  if (path.length === 0) return '(root)';
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) out += out ? `.${key}` : key;
    else out += `[${oneLineText(JSON.stringify(String(key)))}]`;
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
  if (err instanceof UsageError) return err.reasons.map((r) => `pgha: ${oneLineText(r)}`).join('\n');
  return `pgha: ${oneLine(err)}`;
}
