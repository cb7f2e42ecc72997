// Hand-written SVG charts: a sparkline for live series (lag, append rate) and a bar chart for
// per-day figures. Each chart is role="img" with a label that says what it shows in words.
import { svg } from './dom.js';

// values: numbers, oldest first. The line spans the box; max is at least 1 so an idle series
// lies flat on the base line.
export function sparkline(values, { width = 160, height = 34, label = '' } = {}) {
  const max = Math.max(1, ...values);
  const step = values.length > 1 ? width / (values.length - 1) : 0;
  const y = (v) => (height - 3 - (v / max) * (height - 6)).toFixed(1);
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${y(v)}`).join(' ');
  const last = values.at(-1);
  return svg('svg', {
    class: 'spark', width, height, viewBox: `-2 0 ${width + 4} ${height}`, role: 'img', 'aria-label': label,
  },
  svg('line', { class: 'base', x1: 0, x2: width, y1: height - 3, y2: height - 3 }),
  values.length > 1 ? svg('polyline', { points }) : null,
  values.length ? svg('circle', { cx: ((values.length - 1) * step).toFixed(1), cy: y(last), r: 2.5 }) : null);
}

// points: [{label, value}], oldest first; format(value) labels the axis and the tooltips.
export function barChart(points, { label = '', format = String, alt = false } = {}) {
  const width = 640;
  const height = 220;
  const left = 64;
  const bottom = 24;
  const top = 10;
  const plotW = width - left - 8;
  const plotH = height - top - bottom;
  const max = niceCeiling(Math.max(0, ...points.map((p) => p.value)));
  const slot = plotW / Math.max(points.length, 1);
  const barW = Math.max(2, Math.min(48, slot * 0.7));
  const y = (v) => top + plotH - (v / max) * plotH;

  const grid = [0, 0.5, 1].map((f) => [
    svg('line', { class: 'grid', x1: left, x2: width - 8, y1: y(max * f), y2: y(max * f) }),
    svg('text', { x: left - 6, y: y(max * f) + 4, 'text-anchor': 'end' }, format(max * f)),
  ]);
  const bars = points.map((p, i) => svg('rect', {
    class: alt ? 'bar alt' : 'bar',
    x: (left + i * slot + (slot - barW) / 2).toFixed(1),
    y: y(p.value).toFixed(1),
    width: barW.toFixed(1),
    height: Math.max(0, top + plotH - y(p.value)).toFixed(1),
  }, svg('title', {}, `${p.label}: ${format(p.value)}`)));
  // Every label when they fit, else the first, the middle and the last.
  const shown = points.length <= 10 ? points.map((_, i) => i)
    : [0, Math.floor((points.length - 1) / 2), points.length - 1];
  const xLabels = shown.map((i) => svg('text', {
    x: left + i * slot + slot / 2, y: height - 6, 'text-anchor': 'middle',
  }, points[i].label));
  return svg('svg', { class: 'chart', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': label },
    grid, bars, xLabels);
}

// The smallest of 2, 4, 10, 20, 40, 100, … that is at least `value`: an axis top whose half is
// a round number.
function niceCeiling(value) {
  for (let scale = 1; ; scale *= 10) {
    for (const step of [2, 4, 10]) {
      if (step * scale >= value) return step * scale;
    }
  }
}
