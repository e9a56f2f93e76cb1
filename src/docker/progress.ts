import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { logUpdateStderr as logUpdate } from 'log-update';

/**
 * Shows a build as it streams, on stderr (progress; stdout is for results): on a TTY one live
 * line (step n/N, current instruction, elapsed); elsewhere plain lines prefixed with the
 * image name. The whole log goes to a file.
 */
export class BuildProgress {
  private readonly log: WriteStream;
  private readonly started = Date.now();
  private step = '';
  private instruction = '';
  private readonly tail: string[] = [];
  private readonly live: boolean;
  private partial = '';

  constructor(
    readonly name: string,
    readonly logFile: string,
    live = process.stderr.isTTY === true && process.env.CI !== 'true',
  ) {
    mkdirSync(dirname(logFile), { recursive: true });
    this.log = createWriteStream(logFile);
    this.live = live;
  }

  elapsed(): string {
    return `${Math.round((Date.now() - this.started) / 1000)}s`;
  }

  /** Feeds text from the engine's `stream` field; it may hold partial lines. */
  write(text: string): void {
    this.log.write(text);
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop() ?? '';
    for (const raw of lines) this.line(raw.replace(/\r/g, ''));
  }

  private line(line: string): void {
    this.tail.push(line);
    if (this.tail.length > 40) this.tail.shift();
    const m = /^Step (\d+\/\d+) : (.*)$/.exec(line);
    if (m) {
      this.step = m[1]!;
      this.instruction = m[2]!;
    }
    if (this.live) {
      logUpdate(`${this.name}: step ${this.step || '?'} ${this.instruction.slice(0, 90)} (${this.elapsed()})`);
    } else if (line.trim()) {
      process.stderr.write(`[${this.name}] ${line}\n`);
    }
  }

  /** The failing step and its last lines, for the error message. */
  failureSummary(): string {
    return `failed at step ${this.step || '?'}: ${this.instruction}\n${this.tail.slice(-15).map((l) => `  | ${l}`).join('\n')}\nfull log: ${this.logFile}`;
  }

  async close(status: string): Promise<void> {
    if (this.partial) this.line(this.partial);
    if (this.live) {
      logUpdate(`${this.name}: ${status} (${this.elapsed()})`);
      logUpdate.done();
    } else {
      process.stderr.write(`[${this.name}] ${status} (${this.elapsed()})\n`);
    }
    await new Promise<void>((resolve) => this.log.end(resolve));
  }
}
