/**
 * The few things the docs check needs to know about a Markdown page: its headings' anchors as
 * GitHub makes them, its relative links, and its prose lines that are too long. Pure functions
 * of the page's text.
 */

/** Longest prose line the docs allow. Code blocks, table rows and URLs are exempt. */
export const MAX_PROSE_LINE = 100;

export interface PageLine {
  /** 1-based line number. */
  line: number;
  text: string;
  /** Inside a fenced code block (the fence lines included). */
  code: boolean;
}

/** The page's lines, each marked as inside a fenced code block or not. */
export function pageLines(markdown: string): PageLine[] {
  let fence: string | undefined;
  return markdown.split('\n').map((text, i) => {
    const m = /^\s*(```+|~~~+)/.exec(text);
    if (fence === undefined && m) {
      fence = m[1]![0]!.repeat(m[1]!.length);
      return { line: i + 1, text, code: true };
    }
    if (fence !== undefined) {
      if (m && m[1]!.startsWith(fence)) fence = undefined;
      return { line: i + 1, text, code: true };
    }
    return { line: i + 1, text, code: false };
  });
}

/**
 * The anchor GitHub gives a heading: its text without Markdown markup, lower-cased, every
 * character other than a letter, a digit, a space, `-` or `_` dropped, spaces made `-`.
 */
export function slug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{N}\p{M} _-]/gu, '').replace(/ /g, '-');
}

/** Every anchor a page has: one per heading, a repeated one suffixed -1, -2, ... as GitHub does. */
export function anchorsOf(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const { text, code } of pageLines(markdown)) {
    const m = code ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(text);
    if (!m) continue;
    const base = slug(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

export interface Link {
  line: number;
  /** The target as written: `page.md#anchor`, `#anchor`, `../dir/`, ... */
  target: string;
}

/**
 * Inline links and images outside code (fenced blocks and code spans), external ones left out.
 * A link's text may run over several lines, as wrapped prose does; its line is where it starts.
 */
export function relativeLinks(markdown: string): Link[] {
  const prose = pageLines(markdown)
    .map(({ text, code }) => (code ? '' : text.replace(/(`+)(?:(?!\1).)+?\1/g, (span) => ' '.repeat(span.length))))
    .join('\n');
  const links: Link[] = [];
  for (const m of prose.matchAll(/!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
    const target = m[1]!;
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
    links.push({ line: prose.slice(0, m.index).split('\n').length, target });
  }
  return links;
}

/**
 * Prose lines longer than MAX_PROSE_LINE characters. Exempt: lines in fenced code blocks,
 * table rows (a table cell cannot wrap), and the length of URLs (a link target cannot wrap).
 */
export function longProseLines(markdown: string): PageLine[] {
  return pageLines(markdown).filter(({ text, code }) => {
    if (code || /^\s*\|/.test(text)) return false;
    return [...text.replace(/\bhttps?:\/\/\S+/g, '')].length > MAX_PROSE_LINE;
  });
}
