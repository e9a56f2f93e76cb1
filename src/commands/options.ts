import { z } from 'zod';
import { UsageError } from '../errors.js';

/** A flag holding a whole number from min to max, as commander hands it over (a string). */
export const wholeNumber = (min: number, max: number) => {
  const expected = `expected a whole number from ${min} to ${max}`;
  return z.string().regex(/^[0-9]{1,9}$/, expected).transform(Number).pipe(z.number().min(min, expected).max(max, expected));
};

/**
 * Checks a command's flags against `schema`; every bad one is a line of one UsageError naming
 * the flag (from `flags`) and what was given, so nothing runs unless all are good.
 */
export function parseFlags<S extends z.ZodType>(schema: S, opts: object, flags: Record<string, string>): z.output<S> {
  const r = schema.safeParse(opts);
  if (r.success) return r.data;
  const given = opts as Record<string, unknown>;
  throw new UsageError(
    r.error.issues.map((i) => {
      const key = String(i.path[0]);
      const value = i.path.length > 1 ? (given[key] as unknown[])[Number(i.path[1])] : given[key];
      const shown = i.message.includes(', got ') || Array.isArray(value) ? '' : `, got ${String(value)}`;
      return `${flags[key] ?? key}: ${i.message}${shown}`;
    }),
  );
}
