// A chaos timeline as a person sees it: rendered by headless Chromium (Debian's package)
// from the SVG `pgha chaos` writes, then the picture is read back pixel by pixel.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import type { Attempt } from '../../src/chaos/probe.js';
import { timelineSvg } from '../../src/chaos/timeline.js';
import { toolMissing } from '../helpers.js';

const T0 = Date.parse('2026-11-22T06:00:00Z');

function attempts(): Attempt[] {
  const out: Attempt[] = [];
  for (const lane of ['new', 'pooled'] as const) {
    for (let t = 0; t < 20_000; t += 100) {
      const ok = t < 5_000 || t >= 9_000;
      for (const op of ['write', 'read'] as const) out.push({ lane, op, start: T0 + t, end: T0 + t + 40, ok, error: ok ? undefined : 'refused' });
    }
  }
  return out;
}

describe.skipIf(toolMissing('chromium'))('chaos timeline in a browser', () => {
  it('renders with the successful (green) and failed (red) attempts visible', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-timeline-'));
    const svg = join(dir, 'round.svg');
    const png = join(dir, 'round.png');
    const marks = { from: T0, to: T0 + 20_000, injected: T0 + 5_000, fault: T0 + 5_000, restarted: T0 + 10_000, healed: T0 + 15_000 };
    const events = [{ at: T0 + 7_000, host: 'pgpool0', kind: 'detected' as const, text: 'received degenerate backend request for node_id: 0' }];
    writeFileSync(svg, timelineSvg('kill-primary, round 1', attempts(), events, marks));
    execFileSync('chromium', ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', `--screenshot=${png}`, '--window-size=1200,320', `file://${svg}`], { stdio: 'ignore', timeout: 60_000 });
    const image = PNG.sync.read(readFileSync(png));
    expect(image.width).toBe(1200);
    let green = 0;
    let red = 0;
    let ink = 0;
    for (let i = 0; i < image.data.length; i += 4) {
      const [r, g, b] = [image.data[i]!, image.data[i + 1]!, image.data[i + 2]!];
      if (Math.abs(r - 0x2e) < 24 && Math.abs(g - 0x9e) < 24 && Math.abs(b - 0x44) < 24) green++;
      if (Math.abs(r - 0xd6) < 24 && Math.abs(g - 0x27) < 24 && Math.abs(b - 0x28) < 24) red++;
      if (r + g + b < 3 * 200) ink++;
    }
    // 4 lanes x 20 s: the outage (4 s) in red, the rest in green, ~4:1.
    expect(red).toBeGreaterThan(1000);
    expect(green).toBeGreaterThan(2 * red);
    expect(ink).toBeGreaterThan(green + red);
  });
});
