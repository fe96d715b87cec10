// This browser session's generations: thumbnails (object URLs of small WebP copies), their
// prompts and costs; a click opens the full image with its details and a download link.

import { extension, h, ms, objectUrl, usd, when } from './dom.js';
import { listGenerations, pruneGallery } from './store.js';

function viewer(entry) {
  const dialog = h('dialog', { dataset: { testid: 'viewer' } });
  const images = entry.images.map((img, i) => {
    const url = objectUrl(img.blob);
    return h('figure', { class: 'result' }, h('img', { src: url, alt: `image ${i + 1}` }),
      h('figcaption', {}, h('span', { class: 'muted' }, img.width ? `${img.width}×${img.height}` : img.mediaType),
        h('a', { href: url, download: `imagegate-${entry.id}-${i + 1}.${extension(img.mediaType)}` }, 'Download')));
  });
  dialog.append(
    h('div', { class: 'viewer' }, h('div', {}, ...images),
      h('div', {},
        h('h2', {}, entry.model),
        h('p', {}, entry.prompt),
        h('dl', { class: 'meta' },
          h('dt', {}, 'Cost'), h('dd', { title: `${entry.costUsd} USD` }, usd(entry.costUsd)),
          h('dt', {}, 'Latency'), h('dd', {}, ms(entry.latencyMs)),
          h('dt', {}, 'Provider'), h('dd', {}, entry.providerName || '–'),
          h('dt', {}, 'When'), h('dd', {}, when(new Date(entry.createdAt).toISOString())),
          h('dt', {}, 'Generation'), h('dd', {}, h('a', { href: `#/generation/${encodeURIComponent(entry.id)}`, class: 'mono', onclick: () => dialog.close() }, entry.id))),
        h('h3', {}, 'Parameters'),
        h('pre', { class: 'json' }, JSON.stringify(entry.params, null, 2)),
        h('button', { type: 'button', onclick: () => dialog.close() }, 'Close'))));
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
}

export async function renderGallery(root) {
  const entries = await listGenerations();
  const total = entries.reduce((sum, e) => sum + Number(e.costUsd || 0), 0);
  const clearButton = h('button', { type: 'button', class: 'danger' }, 'Clear gallery');
  clearButton.addEventListener('click', async () => { await pruneGallery({ everything: true }); root.replaceChildren(); await renderGallery(root); });
  root.append(h('div', { class: 'row' },
    h('h1', {}, 'This session’s gallery'),
    h('span', { class: 'muted', dataset: { testid: 'gallery-summary' } }, `${entries.length} generation${entries.length === 1 ? '' : 's'} · ${usd(total.toFixed(10))}`),
    h('span', { class: 'spacer' }), entries.length ? clearButton : null));
  if (!entries.length) {
    root.append(h('p', { class: 'panel muted' }, 'Nothing yet: generations made in this tab appear here (kept in this browser until you sign out).'));
    return;
  }
  root.append(h('div', { class: 'gallery', dataset: { testid: 'gallery' } }, ...entries.map((entry) => h('button', {
    type: 'button', class: 'card', dataset: { testid: 'gallery-item', id: entry.id }, onclick: () => viewer(entry),
  },
  h('img', { src: objectUrl(entry.images[0].thumb || entry.images[0].blob), alt: entry.prompt, loading: 'lazy' }),
  h('div', { class: 'body' },
    h('div', { class: 'prompt', dataset: { testid: 'gallery-prompt' } }, entry.prompt),
    h('div', { class: 'row muted' }, h('span', {}, entry.model), h('span', { class: 'spacer' }),
      h('strong', { dataset: { testid: 'gallery-cost', value: entry.costUsd ?? '' } }, usd(entry.costUsd))),
    h('div', { class: 'muted' }, `${entry.providerName || ''} · ${entry.images.length} image${entry.images.length > 1 ? 's' : ''}`))))));
}
