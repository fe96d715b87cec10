// Rendering a generation as it happens and once it is done (shared by playground and compare).

import { extension, h, ms, objectUrl, usd } from './dom.js';

export function progressText(event) {
  const who = event.provider ? ` at ${event.provider}` : '';
  return `${event.status}${who} · ${Number(event.elapsed_s || 0).toFixed(1)} s`;
}

export function quoteView(box, quote, problems = []) {
  box.classList.toggle('bad', Boolean(problems.length || (quote && !quote.eligible)));
  if (problems.length) {
    box.replaceChildren(...problems.map((p) => h('div', {}, p)));
    return;
  }
  if (!quote) { box.replaceChildren('Quote: …'); return; }
  if (!quote.eligible) {
    box.replaceChildren(h('div', {}, `Cannot run on ${quote.provider_name}: `, h('span', { dataset: { testid: 'quote-reason' } }, quote.reason || 'not eligible')));
    return;
  }
  const p = quote.parameters || {};
  const shape = p.width && p.height ? `${p.width}×${p.height}` : p.size || p.resolution || p.aspect_ratio || '';
  const children = [
    h('div', {}, 'Quote: up to ', h('span', { class: 'amount', dataset: { testid: 'quote-amount', value: quote.quote_usd }, title: `${quote.quote_usd} USD` }, usd(quote.quote_usd)),
      ` for ${p.n || 1} image${(p.n || 1) > 1 ? 's' : ''}${shape ? ` at ${shape}` : ''} on ${quote.provider_name}`),
  ];
  if (quote.limit_remaining !== null && quote.limit_remaining !== undefined) {
    children.push(h('div', { class: 'hint' }, `Credit left on this key: ${usd(quote.limit_remaining)}${quote.affordable === false ? ' — not enough for this request' : ''}`));
  }
  for (const warning of quote.warnings || []) children.push(h('div', { class: 'warn' }, `⚠ ${typeof warning === 'string' ? warning : warning.message || JSON.stringify(warning)}`));
  box.replaceChildren(...children);
}

export function partialFigure(partial) {
  return h('figure', { class: 'result partial', dataset: { testid: 'partial-preview', number: partial.number } },
    h('img', { src: objectUrl(partial.blob), alt: `partial image ${partial.number}` }),
    h('figcaption', {}, h('span', {}, `Partial preview ${partial.number}`), h('span', { class: 'spinner' })));
}

export function resultFigure(image, generationId, index) {
  const url = objectUrl(image.blob);
  const name = `imagegate-${generationId || 'image'}-${index + 1}.${extension(image.mediaType)}`;
  const caption = h('span', { class: 'muted' }, image.mediaType);
  const img = h('img', { src: url, alt: `generated image ${index + 1}` });
  img.addEventListener('load', () => { caption.textContent = `${img.naturalWidth}×${img.naturalHeight} · ${image.mediaType}`; });
  return h('figure', { class: 'result', dataset: { testid: 'result-image' } }, img,
    h('figcaption', {}, caption, h('a', { href: url, download: name, dataset: { testid: 'download' } }, 'Download')));
}

// Cost, latency, provider and generation id: from the ledger row when it is there.
export function metaList(result, record) {
  const cost = record?.cost_usd ?? (result.usage ? String(result.usage.cost) : null);
  const latency = record?.latency_ms;
  return h('dl', { class: 'meta', dataset: { testid: 'result-meta' } },
    h('dt', {}, 'Cost'), h('dd', { dataset: { testid: 'result-cost', value: cost ?? '' }, title: cost ? `${cost} USD` : '' }, usd(cost)),
    h('dt', {}, 'Latency'), h('dd', { dataset: { testid: 'result-latency' } },
      latency !== null && latency !== undefined ? `${ms(latency)} at the gateway · ${ms(result.elapsedMs)} in the browser` : ms(result.elapsedMs)),
    h('dt', {}, 'Provider'), h('dd', { dataset: { testid: 'result-provider' } }, record?.provider_name || '–'),
    h('dt', {}, 'Generation'), h('dd', {}, result.id
      ? h('a', { href: `#/generation/${encodeURIComponent(result.id)}`, class: 'mono', dataset: { testid: 'result-id' } }, result.id)
      : '–'),
    h('dt', {}, 'Images'), h('dd', {}, `${result.images.length}${result.partials ? ` (after ${result.partials} partial preview${result.partials > 1 ? 's' : ''})` : ''}`));
}
