import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import { z } from 'zod';
import { MAX_BACKEND_CONNECTIONS, parseCluster } from '../../src/cluster/load.js';
import { clusterSchema } from '../../src/cluster/schema.js';
import { generateCommand } from '../../src/commands/generate.js';
import { validateCommand } from '../../src/commands/validate.js';
import { ConfigError, errorReport, exitCodeOf, UNPRINTABLE } from '../../src/errors.js';
import { INPUT_LIMIT_BYTES } from '../../src/fsutil.js';
import { parseManifest, parseManifestAndPatches } from '../../src/manifest/load.js';
import { manifestSchema } from '../../src/manifest/schema.js';
import { TIMING_KEYS } from '../../src/pgpool/conf.js';
import { ROOT } from '../helpers.js';

// Hostile input to `pgha validate` and `pgha generate`: each row is refused with exit 2, one
// line naming the field (in --json too) and nothing written. The field fuzz at the end walks
// the schemas, so a field added later is fed the same values without a new row.

/** A command run as the CLI runs it (src/cli.ts): its output, and the exit code of what it threw. */
function cli(command: () => number): { status: number; stdout: string; stderr: string } {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  const error = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  let status: number;
  try {
    status = command();
  } catch (e) {
    err.push(errorReport(e));
    status = exitCodeOf(e);
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
  return { status, stdout: out.map((l) => `${l}\n`).join(''), stderr: err.map((l) => `${l}\n`).join('') };
}

const dir = mkdtempSync(join(tmpdir(), 'pgha-hostile-'));
const manifestText = readFileSync(join(ROOT, 'versions.json'), 'utf8');
const manifest = parseManifest(manifestText, 'versions.json', ROOT);
let fileNo = 0;
/** A new file in the test directory holding `content`; its path. */
const file = (content: string | Buffer, ext = 'yaml') => {
  const path = join(dir, `input-${fileNo++}.${ext}`);
  writeFileSync(path, content);
  return path;
};
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * What a row feeds the commands: a cluster definition or a manifest (its text, or a path made
 * by `path()` for odd file kinds), and the one line expected after "<source>: ".
 */
interface Row {
  name: string;
  cluster?: string | (() => string);
  manifest?: string | Buffer | (() => string);
  line: RegExp;
}

const clusterRows: Row[] = [
  ...Object.entries(TIMING_KEYS).map(([key, field]) => ({
    name: `pgpool.settings.${key}, which timings sets`,
    cluster: `pgpool:\n  settings:\n    ${key}: 0\n`,
    line: new RegExp(`^pgpool\\.settings\\.${key}: ${key} is set from ${escape(field)}; change it there$`),
  })),
  { name: 'an index past pgpool\'s backends', cluster: 'pgpool:\n  settings:\n    health_check_period999: 5\n', line: /^pgpool\.settings\.health_check_period999: expected an index from 0 to 127 .*got 999$/ },
  { name: 'the index one past the last backend', cluster: 'pgpool:\n  settings:\n    health_check_database128: postgres\n', line: /^pgpool\.settings\.health_check_database128: expected an index from 0 to 127 .*got 128$/ },
  { name: 'a huge index', cluster: 'pgpool:\n  settings:\n    health_check_database99999999999999999999: postgres\n', line: /^pgpool\.settings\.health_check_database99999999999999999999: expected an index from 0 to 127/ },
  { name: 'a second spelling of index 0', cluster: 'pgpool:\n  settings:\n    health_check_database00: postgres\n', line: /^pgpool\.settings\.health_check_database00: expected the index without leading zeros \(pgpool reads health_check_database00 as health_check_database0\)$/ },
  { name: 'initScripts with a compose variable', cluster: 'postgres:\n  initScripts: ./init${HOME}\n', line: /^postgres\.initScripts: expected a path without '\$' .*, got \.\/init\$\{HOME\}$/ },
  { name: 'initScripts with a tab', cluster: 'postgres:\n  initScripts: "./a\\tb"\n', line: /^postgres\.initScripts: expected a path without .*tabs.*, got "\.\/a\\tb"$/ },
  { name: 'initScripts with U+2028', cluster: 'postgres:\n  initScripts: "./a\\Lb"\n', line: /^postgres\.initScripts: expected a path without .*, got "\.\/a\\u2028b"$/ },
  { name: 'initScripts with NEL', cluster: 'postgres:\n  initScripts: "./a\\Nb"\n', line: /^postgres\.initScripts: expected a path without .*, got "\.\/a\\u0085b"$/ },
  { name: 'initScripts with a lone surrogate', cluster: 'postgres:\n  initScripts: "./a\\udc00"\n', line: /^postgres\.initScripts: expected a path without .*, got "\.\/a\\udc00"$/ },
  {
    name: 'pools whose max_connections PostgreSQL refuses (num_init_children)',
    cluster: 'pgpool:\n  settings:\n    num_init_children: 100000\n    max_pool: 1\n',
    line: new RegExp(`^pgpool\\.settings\\.num_init_children: expected pgpool\\.nodes x num_init_children x max_pool to fit .*at most ${MAX_BACKEND_CONNECTIONS}\\), got pools that need ${3 * 100000 + 3 + 2 * 3 + 20}$`),
  },
  { name: 'pools whose max_connections PostgreSQL refuses (max_pool)', cluster: 'pgpool:\n  settings:\n    max_pool: 2147483647\n', line: /^pgpool\.settings\.max_pool: expected pgpool\.nodes x num_init_children x max_pool to fit/ },
  { name: 'postgres.port on sshd\'s', cluster: 'postgres:\n  port: 2222\n', line: /^postgres\.port: expected a port other than 2222 \(sshd\) and 9187 \(the metrics exporter\), which the container also listens on, got 2222$/ },
  { name: 'postgres.port on the exporter\'s', cluster: 'postgres:\n  port: 9187\n', line: /^postgres\.port: expected a port other than 2222 \(sshd\) and 9187 .*got 9187$/ },
  { name: 'pgpool.port on sshd\'s', cluster: 'pgpool:\n  port: 2222\n  publish:\n    firstPort: 7000\n', line: /^pgpool\.port: expected a port other than 2222 \(sshd\), which the container also listens on, got 2222$/ },
  { name: 'pgpool.pcpPort on sshd\'s', cluster: 'pgpool:\n  pcpPort: 2222\n', line: /^pgpool\.pcpPort: expected a port other than 2222 \(sshd\)/ },
  { name: 'pgpool.watchdogPort on sshd\'s', cluster: 'pgpool:\n  watchdogPort: 2222\n', line: /^pgpool\.watchdogPort: expected a port other than 2222 \(sshd\)/ },
  { name: 'an unknown key forging an ok line', cluster: '"x\\nok: versions.json": 1\n', line: /^\(root\): Unrecognized key: "x\\nok: versions\.json"$/ },
  { name: 'an escape sequence in a refused value', cluster: 'network:\n  subnet: "\\e[2J10.0.0.0/8"\n', line: /^network\.subnet: expected an IPv4 CIDR like 172\.30\.0\.0\/24, got "\\u001b\[2J10\.0\.0\.0\/8"$/ },
  { name: 'an escape sequence in a settings key', cluster: 'pgpool:\n  settings:\n    "a\\e[2J": 1\n', line: /^pgpool\.settings\["a\\u001b\[2J"\]: expected a pgpool\.conf parameter name/ },
  { name: '__proto__ as a settings key', cluster: 'pgpool:\n  settings:\n    __proto__: 1\n', line: /^pgpool\.settings\.__proto__: pgpool 4\.7\.2 has no parameter __proto__$/ },
  { name: 'constructor as a settings key', cluster: 'pgpool:\n  settings:\n    constructor: 1\n', line: /^pgpool\.settings\.constructor: pgpool 4\.7\.2 has no parameter constructor$/ },
  { name: 'toString as a settings key', cluster: 'pgpool:\n  settings:\n    toString: x\n', line: /^pgpool\.settings\.toString: pgpool 4\.7\.2 has no parameter toString$/ },
  { name: 'a lone surrogate in a settings value', cluster: 'pgpool:\n  settings:\n    log_line_prefix: "a\\udc00"\n', line: /^pgpool\.settings\.log_line_prefix: expected a single line without control characters, got "\\udc00" at offset 1$/ },
  { name: 'invalid UTF-8 (a surrogate encoded)', cluster: () => file(Buffer.from([0x6e, 0x61, 0x6d, 0x65, 0x3a, 0x20, 0xed, 0xb0, 0x80, 0x0a])), line: /^\(file\): expected UTF-8 text$/ },
];

const manifestRows: Row[] = [
  {
    name: 'a second sha256 that hides the first',
    manifest: manifestText.replace(/"sha256": "/, `"sha256": "${'0'.repeat(64)}", "sha256": "`),
    line: /^pgpool\.tarball\.sha256: expected each key once in its object, got it again \(JSON readers keep only the last\)$/,
  },
  { name: '__proto__ in the manifest', manifest: manifestText.replace('{', '{"__proto__": {},'), line: /^\(root\): Unrecognized key: "__proto__"$/ },
  { name: 'an unknown manifest key forging an ok line', manifest: manifestText.replace('{', '{"x\\nok: y": 1,'), line: /^\(root\): Unrecognized key: "x\\nok: y"$/ },
  {
    name: 'an escape sequence in the tarball URL',
    manifest: manifestText.replace(/"url": "([^"]*)"/, '"url": "$1\\u001b[2J"'),
    line: /^pgpool\.tarball\.url: expected an http\(s\) URL of printable ASCII characters/,
  },
  { name: 'invalid UTF-8 in the manifest', manifest: Buffer.concat([Buffer.from('{"$comment": "'), Buffer.from([0xed, 0xb0, 0x80]), Buffer.from(`",${manifestText.slice(manifestText.indexOf('{') + 1)}`)]), line: /^\(file\): expected UTF-8 text$/ },
];

/** The odd kinds of file an input may be, each refused for --cluster and --manifest alike. */
const kindRows: { name: string; path: () => string; line: RegExp }[] = [
  { name: 'a directory', path: () => mkdtempSync(join(dir, 'd-')), line: /^\(file\): expected a regular file, got a directory$/ },
  {
    name: 'a named pipe (no writer: reading would wait forever)',
    path: () => {
      const p = join(dir, `fifo-${fileNo++}`);
      spawnSync('mkfifo', [p]);
      return p;
    },
    line: /^\(file\): expected a regular file, got a named pipe$/,
  },
  {
    name: 'a loop of symbolic links',
    path: () => {
      const a = join(dir, `loop-a-${fileNo}`);
      const b = join(dir, `loop-b-${fileNo++}`);
      symlinkSync(b, a);
      symlinkSync(a, b);
      return a;
    },
    line: /^\(file\): cannot be read: symbolic links in a loop$/,
  },
  { name: '/dev/zero (grows without bound)', path: () => '/dev/zero', line: /^\(file\): expected a regular file, got a device$/ },
  { name: 'a file past the size limit', path: () => file(`# ${'x'.repeat(INPUT_LIMIT_BYTES)}\n`), line: new RegExp(`^\\(file\\): expected a file of at most ${INPUT_LIMIT_BYTES} bytes, got more$`) },
  { name: 'a missing file', path: () => join(dir, 'nothing-here'), line: /^\(file\): (cluster definition|manifest) not found$/ },
];

/** Runs validate, validate --json and generate --out on a row's inputs; checks exit 2, the one line, and that nothing was written. */
function expectRefused(opts: { manifest?: string; cluster?: string }, line: RegExp) {
  const source = opts.cluster ?? opts.manifest!;
  const text = cli(() => validateCommand(ROOT, opts));
  expect(text.status).toBe(2);
  expect(text.stdout).toBe('');
  const lines = text.stderr.split('\n').slice(0, -1);
  expect(lines, text.stderr).toHaveLength(1);
  expect(lines[0]!.startsWith(`${source}: `), lines[0]).toBe(true);
  expect(lines[0]!.slice(source.length + 2)).toMatch(line);
  expect(UNPRINTABLE.test(text.stderr.slice(0, -1))).toBe(false);

  const json = cli(() => validateCommand(ROOT, { ...opts, json: true }));
  expect(json.status).toBe(2);
  const verdict = JSON.parse(json.stdout) as { ok: boolean; problems: { source: string; where: string; message: string }[] };
  expect(verdict.ok).toBe(false);
  expect(verdict.problems.map((p) => `${p.where}: ${p.message}`)).toEqual([lines[0]!.slice(source.length + 2)]);

  const out = join(dir, `out-${fileNo++}`);
  const gen = cli(() => generateCommand(ROOT, { ...opts, out }));
  expect(gen.status).toBe(2);
  expect(gen.stderr).toBe(text.stderr);
  expect(existsSync(out)).toBe(false);
}

describe('hostile input: refused with exit 2, one line naming the field, nothing written', () => {
  it.each(clusterRows)('cluster definition: $name', ({ cluster, line }) => {
    expectRefused({ cluster: typeof cluster === 'function' ? cluster() : file(cluster!) }, line);
  });

  it.each(manifestRows)('manifest: $name', ({ manifest, line }) => {
    expectRefused({ manifest: typeof manifest === 'function' ? manifest() : file(manifest!, 'json') }, line);
  });

  it.each(kindRows)('an input that is $name', ({ path, line }) => {
    expectRefused({ cluster: path() }, line);
    expectRefused({ manifest: path() }, line);
  });

  it('an input that cannot be read (permission denied), even for root', () => {
    const locked = mkdtempSync(join(dir, 'locked-'));
    const path = join(locked, 'cluster.yaml');
    writeFileSync(path, '{}\n');
    chmodSync(path, 0);
    chmodSync(locked, 0o700);
    if (process.getuid?.() !== 0) {
      expectRefused({ cluster: path }, /^\(file\): cannot be read: permission denied$/);
      return;
    }
    // Root reads anything: the CLI runs as nobody instead, for whom the directory is closed.
    const r = spawnSync('node', [join(ROOT, 'bin/pgha.js'), 'validate', '--json', '--cluster', path], {
      cwd: ROOT,
      encoding: 'utf8',
      uid: 65534,
      gid: 65534,
      env: { ...process.env, HOME: tmpdir() },
    });
    expect(r.status, r.stderr).toBe(2);
    expect(JSON.parse(r.stdout)).toEqual({ ok: false, problems: [{ source: path, where: '(file)', message: 'cannot be read: permission denied' }] });
  });

  it('generate --out with an empty name is refused before anything is read or written', () => {
    const r = cli(() => generateCommand(ROOT, { out: '' }));
    expect(r).toEqual({ status: 2, stdout: '', stderr: 'pgha: --out: expected a directory, got an empty name\n' });
  });
});

describe('valid input still passes', () => {
  const accepted = (yaml: string) => parseCluster(yaml, 'c.yaml', manifest);

  it('the committed manifest and cluster definition', () => {
    const r = cli(() => validateCommand(ROOT, {}));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ok: versions\.json .* and cluster\.yaml\n$/);
  });

  it('a cluster definition behind a symbolic link, and a manifest whose objects share key names', () => {
    const link = join(dir, 'link.yaml');
    symlinkSync(join(ROOT, 'cluster.yaml'), link);
    expect(cli(() => validateCommand(ROOT, { cluster: link, manifest: join(ROOT, 'versions.json') })).status).toBe(0);
  });

  it('timings through timings:, indexed settings within range, ports of their own, a plain initScripts path', () => {
    const c = accepted(
      'timings:\n  healthCheck:\n    periodSeconds: 5\npostgres:\n  port: 5433\n  initScripts: "./init scripts/été"\npgpool:\n  port: 6432\n  publish:\n    firstPort: 6432\n  settings:\n    health_check_period1: 5\n    health_check_database127: postgres\n',
    );
    expect(c.timings.healthCheck.periodSeconds).toBe(5);
    expect(c.postgres.initScripts).toBe('./init scripts/été');
    expect(c.pgpool.settings).toEqual({ health_check_period1: 5, health_check_database127: 'postgres' });
  });

  it('pools right at the max_connections PostgreSQL accepts, not one more', () => {
    // One pgpool node: max_connections = children x max_pool + 3 + 2 + 20.
    const children = MAX_BACKEND_CONNECTIONS - 25;
    expect(() => accepted(`pgpool:\n  nodes: 1\n  settings:\n    num_init_children: ${children}\n    max_pool: 1\n`)).not.toThrow();
    expect(() => accepted(`pgpool:\n  nodes: 1\n  settings:\n    num_init_children: ${children + 1}\n    max_pool: 1\n`)).toThrow(ConfigError);
  });
});

// Every field of both schemas, found by walking them, is fed each of these; none may be
// accepted, and each must be refused in exactly one line naming that field.
const HOSTILE_VALUES: unknown[] = ['line\nok: forged', '\u001b[2Jx', '\udc00', '${HOME}', 1e308, -1e308, 2.5, [], { a: 1 }, null];

/** The paths of a schema's fields (an object's own fields, through defaults and optionals). */
function fieldPaths(schema: z.ZodType, path: string[] = []): string[][] {
  let s: z.ZodType = schema;
  while (s instanceof z.ZodDefault || s instanceof z.ZodPrefault || s instanceof z.ZodOptional) s = s.unwrap() as z.ZodType;
  if (s instanceof z.ZodObject) return Object.entries(s.shape as Record<string, z.ZodType>).flatMap(([k, v]) => fieldPaths(v, [...path, k]));
  return [path];
}

/** `base` with `value` at `path` (objects on the way made when missing). */
function withValue(base: Record<string, unknown>, path: string[], value: unknown): Record<string, unknown> {
  const copy = structuredClone(base);
  let at = copy;
  for (const k of path.slice(0, -1)) at = (at[k] ??= {}) as Record<string, unknown>;
  at[path.at(-1)!] = value;
  return copy;
}

function problemsOf(parse: () => unknown): string[] {
  try {
    parse();
  } catch (err) {
    if (err instanceof ConfigError) return err.message.split('\n').map((l) => l.slice(l.indexOf(': ') + 2));
    throw err;
  }
  return [];
}

describe('every field refuses hostile values in one line naming it', () => {
  const clusterFields = fieldPaths(clusterSchema);
  const manifestFields = fieldPaths(manifestSchema).filter((p) => p[0] !== '$comment');
  const manifestJson = JSON.parse(manifestText) as Record<string, unknown>;

  it('finds the fields by walking the schemas', () => {
    expect(clusterFields.map((p) => p.join('.'))).toEqual(expect.arrayContaining(['postgres.initScripts', 'pgpool.settings', 'timings.watchdog.lifePoint', 'tls.enabled']));
    expect(manifestFields.map((p) => p.join('.'))).toEqual(expect.arrayContaining(['pgpool.tarball.url', 'patches', 'debian.suite']));
  });

  it.each(HOSTILE_VALUES.map((v) => [JSON.stringify(v) ?? String(v), v]))('cluster definition: every field given %s', (_, value) => {
    for (const path of clusterFields) {
      const field = path.join('.');
      const problems = problemsOf(() => parseCluster(stringify(withValue({}, path, value)), 'c.yaml', manifest));
      expect(problems, field).toHaveLength(1);
      expect(/^[[.:]/.test(problems[0]!.slice(field.length)) && problems[0]!.startsWith(field), `${field}: ${problems[0]}`).toBe(true);
      expect(UNPRINTABLE.test(problems[0]!), problems[0]).toBe(false);
    }
  });

  it.each(HOSTILE_VALUES.map((v) => [JSON.stringify(v) ?? String(v), v]))('manifest: every field given %s', (_, value) => {
    for (const path of manifestFields) {
      const field = path.join('.');
      const problems = problemsOf(() => parseManifestAndPatches(JSON.stringify(withValue(manifestJson, path, value)), 'm.json', ROOT));
      expect(problems, field).toHaveLength(1);
      expect(/^[[.:]/.test(problems[0]!.slice(field.length)) && problems[0]!.startsWith(field), `${field}: ${problems[0]}`).toBe(true);
      expect(UNPRINTABLE.test(problems[0]!), problems[0]).toBe(false);
    }
  });
});

beforeAll(() => mkdirSync(dir, { recursive: true }));
afterAll(() => spawnSync('rm', ['-rf', dir]));
