// Small DOM and formatting helpers. Text always goes in as text nodes (never as HTML).

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'text') el.textContent = value;
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'value' && 'value' in el) el.value = value;
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

// Object URLs live until the view that made them is left (see releaseUrls in main.js), so a
// gallery never keeps megabytes of decoded images alive, nor base64 in the DOM.
const viewUrls = new Set();

export function objectUrl(blob) {
  const url = URL.createObjectURL(blob);
  viewUrls.add(url);
  return url;
}

export function releaseUrls() {
  for (const url of viewUrls) URL.revokeObjectURL(url);
  viewUrls.clear();
}

// USD amounts arrive as exact decimal strings; they are shown rounded, the exact value in the title.
export function usd(value) {
  if (value === null || value === undefined || value === '') return '–';
  const n = Number(value);
  if (!Number.isFinite(n)) return String(value);
  if (n === 0) return '$0';
  const abs = Math.abs(n);
  if (abs >= 1) return `$${n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
  // below a dollar: four significant digits at least, never fewer than four decimals
  const digits = Math.min(10, Math.max(4, 3 - Math.floor(Math.log10(abs))));
  const [whole, fraction = ''] = n.toFixed(digits).replace(/0+$/, '').split('.');
  return `$${whole}.${fraction.padEnd(2, '0')}`;
}

export function usdCell(value) {
  return h('span', { title: value === null || value === undefined ? '' : `${value} USD`, dataset: { value: value ?? '' } }, usd(value));
}

export function int(value) {
  return Number(value || 0).toLocaleString('en-US');
}

export function ms(value) {
  if (value === null || value === undefined) return '–';
  return value >= 10000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`;
}

export function when(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' });
}

let flashTimer = null;

export function flash(message, ok = false) {
  const box = document.getElementById('flash');
  box.textContent = message;
  box.classList.toggle('ok', ok);
  box.hidden = false;
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => { box.hidden = true; }, ok ? 4000 : 9000);
}

export function debounce(fn, waitMs) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), waitMs);
  };
}

export function b64ToBlob(b64, type) {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i += 1) bytes[i] = bin.charCodeAt(i);
  return new Blob([bytes], { type: type || 'image/png' });
}

export function extension(mediaType) {
  return { 'image/jpeg': 'jpg', 'image/webp': 'webp', 'image/svg+xml': 'svg', 'image/gif': 'gif' }[mediaType] || 'png';
}

export function randomId() {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
