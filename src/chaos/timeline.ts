import type { ClusterEvent } from './events.js';
import type { RoundMarks } from './metrics.js';
import { LANES, type Attempt } from './probe.js';

/**
 * One round as a picture a person opens in a browser: a lane per probe kind (new
 * connections and the pooled connection, writes and reads), a mark per attempt coloured by
 * outcome, the runner's moments (fault, release, restart, healed) as vertical lines and
 * what the nodes logged as labels under the lanes.
 */
const WIDTH = 1200;
const LEFT = 150;
const RIGHT = 20;
const LANE_HEIGHT = 26;
const TOP = 40;
const COLOURS = { ok: '#2e9e44', error: '#d62728', fault: '#d62728', released: '#ff7f0e', restarted: '#1f77b4', healed: '#2e9e44' } as const;

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A fault in effect from `from` to `to`, drawn as a shaded band over the lanes (the nemesis's episodes). */
export interface FaultBand {
  label: string;
  from: number;
  to: number;
}

export function timelineSvg(title: string, attempts: Attempt[], events: ClusterEvent[], marks: RoundMarks, bands: FaultBand[] = []): string {
  const span = Math.max(1, marks.to - marks.from);
  const x = (t: number) => LEFT + ((t - marks.from) / span) * (WIDTH - LEFT - RIGHT);
  const lanes = LANES.flatMap((lane) => (['write', 'read'] as const).map((op) => ({ lane, op, label: `${lane === 'new' ? 'new connection' : 'pooled connection'} ${op}` })));
  const lanesBottom = TOP + lanes.length * LANE_HEIGHT;
  const shown = events.filter((e) => e.at >= marks.from && e.at <= marks.to).sort((a, b) => a.at - b.at);
  const labelTop = lanesBottom + 40;
  const height = labelTop + shown.length * 14 + 20;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">${escape(title)}</text>`,
  ];
  lanes.forEach((l, i) => {
    const y = TOP + i * LANE_HEIGHT;
    out.push(`<text x="10" y="${y + 16}">${escape(l.label)}</text>`, `<rect x="${LEFT}" y="${y + 2}" width="${WIDTH - LEFT - RIGHT}" height="${LANE_HEIGHT - 4}" fill="#f3f3f3"/>`);
    for (const a of attempts) {
      if (a.lane !== l.lane || a.op !== l.op || a.start < marks.from || a.start > marks.to) continue;
      const w = Math.max(1.5, x(a.end) - x(a.start));
      const tip = `${new Date(a.start).toISOString()} ${a.ok ? `ok${a.server ? ` on ${a.server}` : ''}` : `error: ${a.error ?? ''}`}${a.seq !== undefined ? ` (seq ${a.seq})` : ''}`;
      out.push(`<rect x="${x(a.start).toFixed(1)}" y="${y + 4}" width="${w.toFixed(1)}" height="${LANE_HEIGHT - 8}" fill="${a.ok ? COLOURS.ok : COLOURS.error}"><title>${escape(tip)}</title></rect>`);
    }
  });
  bands.forEach((b, i) => {
    const from = Math.max(marks.from, b.from);
    const to = Math.min(marks.to, b.to);
    out.push(`<rect x="${x(from).toFixed(1)}" y="${TOP}" width="${Math.max(1, x(to) - x(from)).toFixed(1)}" height="${lanesBottom - TOP}" fill="${COLOURS.fault}" fill-opacity="0.12"><title>${escape(b.label)}</title></rect>`, `<text x="${(x(from) + 3).toFixed(1)}" y="${TOP + 12 + i * 12}" fill="${COLOURS.fault}">${escape(b.label)}</text>`);
  });
  // Time axis: a tick every 5 s from the fault, labelled relative to it.
  for (let t = marks.fault - Math.floor((marks.fault - marks.from) / 5000) * 5000; t <= marks.to; t += 5000) {
    out.push(`<line x1="${x(t).toFixed(1)}" y1="${lanesBottom}" x2="${x(t).toFixed(1)}" y2="${lanesBottom + 6}" stroke="#555"/>`, `<text x="${x(t).toFixed(1)}" y="${lanesBottom + 18}" text-anchor="middle">${((t - marks.fault) / 1000).toFixed(0)} s</text>`);
  }
  const moments: [keyof typeof COLOURS, number | null | undefined][] = [['fault', marks.fault], ['released', marks.released], ['restarted', marks.restarted], ['healed', marks.healed]];
  for (const [name, t] of moments) {
    if (t === undefined || t === null) continue;
    out.push(`<line x1="${x(t).toFixed(1)}" y1="${TOP - 6}" x2="${x(t).toFixed(1)}" y2="${lanesBottom}" stroke="${COLOURS[name]}" stroke-width="2" stroke-dasharray="5,3"/>`, `<text x="${x(t).toFixed(1)}" y="${TOP - 8}" fill="${COLOURS[name]}" text-anchor="middle">${name}</text>`);
  }
  shown.forEach((e, i) => {
    const y = labelTop + i * 14;
    out.push(
      `<line x1="${x(e.at).toFixed(1)}" y1="${lanesBottom + 22}" x2="${x(e.at).toFixed(1)}" y2="${y - 4}" stroke="#bbb"/>`,
      `<text x="${x(e.at).toFixed(1)}" y="${y}" fill="#333" text-anchor="${x(e.at) > WIDTH * 0.6 ? 'end' : 'start'}">${escape(`${e.at >= marks.fault ? '+' : ''}${((e.at - marks.fault) / 1000).toFixed(1)} s ${e.host} ${e.kind}: ${e.text.slice(0, 90)}`)}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('\n');
}
