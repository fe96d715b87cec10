// Forms built from an endpoint's capability descriptors (GET …/endpoints): enums become
// choices, ranges bounded number inputs, only the parameters that endpoint accepts are shown,
// and its passthrough allowlist becomes `provider.options.<slug>` fields.

import { h, objectUrl } from './dom.js';

const LABELS = {
  aspect_ratio: 'Aspect ratio',
  resolution: 'Resolution',
  size: 'Size',
  quality: 'Quality',
  n: 'Images (n)',
  output_format: 'Output format',
  output_compression: 'Compression (0–100)',
  background: 'Background',
  seed: 'Seed',
};
const ORDER = ['aspect_ratio', 'resolution', 'size', 'quality', 'n', 'output_format', 'output_compression', 'background', 'seed'];

function enumField(name, desc) {
  const select = h('select', { name, id: `param-${name}` }, h('option', { value: '' }, 'default'));
  for (const value of desc.values) select.append(h('option', { value }, value));
  return { input: select, read: () => select.value || undefined };
}

function rangeField(name, desc) {
  const input = h('input', {
    type: 'number', name, id: `param-${name}`, min: desc.min, max: desc.max, step: 1,
    placeholder: `${desc.min}–${desc.max}`, value: name === 'n' ? String(Math.max(1, desc.min)) : '',
  });
  return {
    input,
    read: () => (input.value === '' ? undefined : Number(input.value)),
    check: () => (input.checkValidity() ? null : `${LABELS[name] || name} must be a whole number from ${desc.min} to ${desc.max}`),
  };
}

function seedField(name) {
  const input = h('input', { type: 'number', name, id: `param-${name}`, step: 1, min: 0, max: 4294967295, placeholder: 'random' });
  return {
    input,
    read: () => (input.value === '' ? undefined : Number(input.value)),
    check: () => (input.checkValidity() ? null : 'Seed must be a whole number from 0 to 4294967295'),
  };
}

function booleanField(name) {
  const input = h('input', { type: 'checkbox', name, id: `param-${name}` });
  return { input, read: () => (input.checked ? true : undefined) };
}

function parseOption(text) {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  try { return JSON.parse(trimmed); } catch { return trimmed; }
}

// Returns {el, read()}; read() gives {params, options, problems}.
export function paramForm(endpoint, onChange) {
  const params = endpoint.supported_parameters || {};
  const rank = (name) => (ORDER.includes(name) ? ORDER.indexOf(name) : ORDER.length);
  const names = Object.keys(params).filter((n) => n !== 'input_references').sort((a, b) => rank(a) - rank(b));
  const fields = {};
  const grid = h('div', { class: 'grid2' });
  for (const name of names) {
    const desc = params[name];
    let field;
    if (desc.type === 'enum') field = enumField(name, desc);
    else if (desc.type === 'range') field = rangeField(name, desc);
    else if (name === 'seed') field = seedField(name);
    else field = booleanField(name);
    fields[name] = field;
    field.input.addEventListener('input', onChange);
    field.input.addEventListener('change', onChange);
    grid.append(h('div', { class: 'field' }, h('label', { for: field.input.id }, LABELS[name] || name), field.input));
  }
  const passthrough = endpoint.allowed_passthrough_parameters || [];
  const options = {};
  let details = null;
  if (passthrough.length) {
    details = h('details', { class: 'options' },
      h('summary', {}, `Provider options (provider.options.${endpoint.provider_slug})`),
      h('p', { class: 'hint' }, 'Passed to this provider as is. A value is read as JSON when it parses, else as text.'));
    for (const key of passthrough) {
      const input = h('input', { type: 'text', id: `opt-${key}`, name: key, placeholder: 'JSON or text' });
      input.addEventListener('input', onChange);
      options[key] = input;
      details.append(h('div', { class: 'field' }, h('label', { for: input.id }, key), input));
    }
  }
  return {
    el: h('div', {}, grid, details),
    read() {
      const out = {};
      const problems = [];
      for (const [name, field] of Object.entries(fields)) {
        const problem = field.check ? field.check() : null;
        if (problem) problems.push(problem);
        const value = field.read();
        if (value !== undefined) out[name] = value;
      }
      const opts = {};
      for (const [key, input] of Object.entries(options)) {
        const value = parseOption(input.value);
        if (value !== undefined) opts[key] = value;
      }
      return { params: out, options: opts, problems };
    },
  };
}

let pasteTarget = null;
document.addEventListener('paste', (event) => pasteTarget?.(event));

function readAsDataUrl(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

// Reference images: choose files, drop them, or paste them. Thumbnails use object URLs; the
// data URLs sent to the API stay in memory, never in the DOM.
export function referencePicker(max, onChange) {
  const refs = [];
  const thumbs = h('div', { class: 'thumbs' });
  const input = h('input', { type: 'file', accept: 'image/*', multiple: true, id: 'ref-files', dataset: { testid: 'ref-input' } });
  const count = h('span', {});
  const box = h('div', { class: 'refs', dataset: { testid: 'refs' } },
    h('label', { for: 'ref-files' }, 'Reference images ', h('span', { class: 'hint' }, `(up to ${max}: choose, drop or paste)`)),
    input, count, thumbs);

  function render() {
    thumbs.replaceChildren(...refs.map((ref, index) => h('div', { class: 'thumb' },
      h('img', { src: ref.thumb, alt: ref.name, title: ref.name }),
      h('button', { type: 'button', title: 'Remove', 'aria-label': `Remove ${ref.name}`, onclick: () => { refs.splice(index, 1); render(); onChange(); } }, '×'))));
    count.textContent = refs.length ? ` ${refs.length} attached` : '';
  }

  async function add(files) {
    for (const file of files) {
      if (!file.type.startsWith('image/')) continue;
      if (refs.length >= max) break;
      refs.push({ name: file.name || 'pasted image', thumb: objectUrl(file), dataUrl: await readAsDataUrl(file) });
    }
    render();
    onChange();
  }

  input.addEventListener('change', () => { add(Array.from(input.files || [])); input.value = ''; });
  box.addEventListener('dragover', (e) => { e.preventDefault(); box.classList.add('over'); });
  box.addEventListener('dragleave', () => box.classList.remove('over'));
  box.addEventListener('drop', (e) => { e.preventDefault(); box.classList.remove('over'); add(Array.from(e.dataTransfer?.files || [])); });
  pasteTarget = (event) => {
    const files = Array.from(event.clipboardData?.files || []).filter((f) => f.type.startsWith('image/'));
    if (files.length) { event.preventDefault(); add(files); }
  };
  return {
    el: box,
    read: () => refs.map((ref) => ({ type: 'image_url', image_url: { url: ref.dataUrl } })),
    get count() { return refs.length; },
    detach() { pasteTarget = null; },
  };
}
