/** Where progress lines go: one line per call, without a trailing newline. */
export type Log = (line: string) => void;
