import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs a command in a running container and collects its output and exit code. */
export async function exec(container: Docker.Container, cmd: string[], opts: { user?: string; env?: string[] } = {}): Promise<ExecResult> {
  const e = await container.exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true, User: opts.user, Env: opts.env });
  const stream = await e.start({ hijack: true, stdin: false });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    stdout.on('data', (d: Buffer) => out.push(d));
    stderr.on('data', (d: Buffer) => err.push(d));
    container.modem.demuxStream(stream, stdout, stderr);
    stream.on('end', resolve);
    stream.on('error', reject);
  });
  const info = await e.inspect();
  return { exitCode: info.ExitCode ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

/** A bash script in the container; with `check`, a non-zero exit throws with the output. */
export async function sh(container: Docker.Container, script: string, opts: { user?: string; env?: string[]; check?: boolean } = {}): Promise<ExecResult> {
  const r = await exec(container, ['bash', '-c', script], opts);
  if (opts.check && r.exitCode !== 0) throw new Error(`'${script}' exited ${r.exitCode}:\n${r.stdout}${r.stderr}`);
  return r;
}

/** The container's log (stdout and stderr interleaved), for a container started without a TTY. */
export async function logsOf(container: Docker.Container): Promise<string> {
  return demuxLogs((await container.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer);
}

/** The container's log from `since` (epoch ms), each line prefixed with the engine's RFC 3339 timestamp. */
export async function timestampedLogsSince(container: Docker.Container, since: number): Promise<string> {
  const raw = await container.logs({ stdout: true, stderr: true, timestamps: true, since: Math.floor(since / 1000) - 1 }).catch(() => Buffer.alloc(0));
  return demuxLogs(raw as unknown as Buffer);
}

/** Non-TTY logs are multiplexed: an 8-byte frame header before each chunk. */
export function demuxLogs(buf: Buffer): string {
  const chunks: string[] = [];
  for (let i = 0; i + 8 <= buf.length; ) {
    const size = buf.readUInt32BE(i + 4);
    chunks.push(buf.subarray(i + 8, i + 8 + size).toString());
    i += 8 + size;
  }
  return chunks.join('');
}

/** Polls until `check` returns a truthy value or the deadline passes; the failure names what was awaited. */
export async function waitFor<T>(what: string, check: () => Promise<T | false | null | undefined>, timeoutMs = 90_000, intervalMs = 1000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
}
