import type { Log } from '../log.js';

/** The CLI's progress lines: on stdout, prefixed `pgha:`. */
export const say: Log = (line) => console.log(`pgha: ${line}`);
