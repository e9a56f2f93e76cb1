import { chmodSync, closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readSync, renameSync, rmSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { join } from 'node:path';

/**
 * Writes `data` to `path` through a temporary file beside it and a rename, so a reader (or a
 * crash) never sees a half-written file. With `mode`, the file gets exactly that mode,
 * whatever the umask.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode?: number): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, data, mode === undefined ? undefined : { mode });
    if (mode !== undefined) chmodSync(tmp, mode);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** Every file under `dir`, as paths relative to it, depth first with names in sorted order. */
export function walkFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const p = rel ? `${rel}/${name}` : name;
      if (statSync(join(dir, p)).isDirectory()) walk(p);
      else out.push(p);
    }
  };
  walk('');
  return out;
}

/** The largest input file (a manifest, a cluster definition) pgha reads: both are a few KiB. */
export const INPUT_LIMIT_BYTES = 1024 * 1024;

/** An input file that cannot be read as one: `missing` when there is nothing at the path. */
export class InputFileError extends Error {
  constructor(
    message: string,
    readonly missing = false,
  ) {
    super(message);
    this.name = 'InputFileError';
  }
}

/** What an errno of open() or read() means for an input file, in one line. */
const READ_ERRORS: Record<string, string> = {
  EACCES: 'cannot be read: permission denied',
  EPERM: 'cannot be read: permission denied',
  ELOOP: 'cannot be read: symbolic links in a loop',
  ENOTDIR: 'cannot be read: a part of its path is not a directory',
  ENAMETOOLONG: 'cannot be read: the name is too long',
  ENXIO: 'expected a regular file, got a socket or a device with nothing behind it',
  EISDIR: 'expected a regular file, got a directory',
};

function fileKind(s: Stats): string {
  if (s.isDirectory()) return 'a directory';
  if (s.isFIFO()) return 'a named pipe';
  if (s.isSocket()) return 'a socket';
  if (s.isCharacterDevice() || s.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/**
 * The bytes of the regular file at `path`, at most `limit` of them, else an InputFileError
 * with one line saying why. Opened without blocking (a named pipe with no writer would hang)
 * and checked by type on the open descriptor (a directory, a device such as /dev/zero, a
 * pipe are refused, whatever a link pointed at), and read up to the limit only, whatever
 * size the file claims (/proc files claim 0).
 */
export function readInputBytes(path: string, limit = INPUT_LIMIT_BYTES): Buffer {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (code === 'ENOENT') throw new InputFileError('not found', true);
    throw new InputFileError(READ_ERRORS[code] ?? `cannot be read (${code || (err as Error).message})`);
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw new InputFileError(`expected a regular file, got ${fileKind(stats)}`);
    const tooBig = () => new InputFileError(`expected a file of at most ${limit} bytes, got more`);
    if (stats.size > limit) throw tooBig();
    const buf = Buffer.alloc(limit + 1);
    let length = 0;
    for (;;) {
      const n = readSync(fd, buf, length, buf.length - length, null);
      if (n === 0) break;
      length += n;
      if (length > limit) throw tooBig();
    }
    return buf.subarray(0, length);
  } catch (err) {
    if (err instanceof InputFileError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? '';
    throw new InputFileError(READ_ERRORS[code] ?? `cannot be read (${code || (err as Error).message})`);
  } finally {
    closeSync(fd);
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The text of the input file at `path` (as readInputBytes), which must be UTF-8: a byte
 * sequence that is not would otherwise be read as U+FFFD and written on as that.
 */
export function readInputText(path: string, limit = INPUT_LIMIT_BYTES): string {
  const bytes = readInputBytes(path, limit);
  try {
    return UTF8.decode(bytes);
  } catch {
    throw new InputFileError('expected UTF-8 text');
  }
}

/**
 * Whether there is anything at `path`, a link followed or not: an input that is a broken or
 * looping link is then read and refused, not taken for absent.
 */
export function somethingAt(path: string): boolean {
  return lstatSync(path, { throwIfNoEntry: false }) !== undefined;
}
