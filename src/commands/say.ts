import type { Log } from '../log.js';

/** The CLI's progress and status lines: on stderr, prefixed `pgha:` (stdout is for results). */
export const say: Log = (line) => console.error(`pgha: ${line}`);
