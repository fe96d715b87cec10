// Charts drawn as SVG and plain HTML: no chart library to ship.

import { h } from './dom.js';

const NS = 'http://www.w3.org/2000/svg';

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

// Bars per day. `series` is [{value: day => number, className}] stacked bottom-up.
export function dayChart(days, series, { format = String, label = '' } = {}) {
  const width = 640;
  const height = 190;
  const left = 56;
  const bottom = 22;
  const top = 10;
  const plotW = width - left - 8;
  const plotH = height - top - bottom;
  const totals = days.map((d) => series.reduce((sum, one) => sum + one.value(d), 0));
  const max = Math.max(...totals, 0);
  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': label });
  for (const frac of [0, 0.5, 1]) {
    const y = top + plotH * (1 - frac);
    svg.append(s('line', { class: 'axis', x1: left, x2: width - 8, y1: y, y2: y }));
    svg.append(s('text', { x: left - 6, y: y + 3, 'text-anchor': 'end' }, max ? format(max * frac) : frac ? '' : format(0)));
  }
  const slot = plotW / Math.max(1, days.length);
  const barW = Math.max(2, slot * 0.7);
  days.forEach((day, i) => {
    let base = top + plotH;
    const x = left + i * slot + (slot - barW) / 2;
    for (const one of series) {
      const v = one.value(day);
      if (!v || !max) continue;
      const hgt = (v / max) * plotH;
      base -= hgt;
      svg.append(s('rect', { class: `bar ${one.className || ''}`, x, y: base, width: barW, height: hgt },
        s('title', {}, `${day.date}: ${one.name ? `${one.name} ` : ''}${format(v)}`)));
    }
  });
  const marks = days.length > 2 ? [0, Math.floor((days.length - 1) / 2), days.length - 1] : days.map((_, i) => i);
  for (const i of marks) {
    svg.append(s('text', { x: left + i * slot + slot / 2, y: height - 6, 'text-anchor': 'middle' }, days[i].date.slice(5)));
  }
  return svg;
}

export function legend(items) {
  return h('div', { class: 'legend' }, ...items.map(([name, color]) => {
    const swatch = h('i');
    swatch.style.background = color;
    return h('span', {}, swatch, name);
  }));
}

// Horizontal bars, one per item, widths relative to the largest.
export function barList(items, { label, value, display }) {
  const max = Math.max(0, ...items.map(value));
  return h('div', { class: 'barlist' }, ...items.map((item) => {
    const fill = h('div', { class: 'fill' });
    fill.style.width = `${max ? Math.max(1, (value(item) / max) * 100) : 0}%`;
    return h('div', { class: 'item' }, h('span', {}, label(item)), h('strong', {}, display(item)), h('div', { class: 'track' }, fill));
  }));
}
