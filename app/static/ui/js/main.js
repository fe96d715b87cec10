// The single-page app: sign-in, hash routes, and the header.

import { ApiError, api, session } from './api.js';
import { clear, flash, h, releaseUrls, usd } from './dom.js';
import { pruneGallery } from './store.js';
import { renderPlayground } from './playground.js';
import { renderCompare } from './compare.js';
import { renderGallery } from './gallery.js';
import { renderDashboard } from './dashboard.js';
import { renderAdmin } from './admin.js';
import { renderRecord } from './record.js';

const ROUTES = {
  playground: renderPlayground,
  compare: renderCompare,
  gallery: renderGallery,
  dashboard: renderDashboard,
  admin: renderAdmin,
  generation: renderRecord,
};

const view = document.getElementById('view');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
let renderSeq = 0;

function parseHash() {
  const [path, query = ''] = location.hash.replace(/^#\/?/, '').split('?');
  const [name, ...rest] = path.split('/');
  return { name: name || 'playground', arg: rest.map(decodeURIComponent).join('/'), query: new URLSearchParams(query) };
}

async function signIn(key) {
  const { data } = await api('api/v1/key', { key });
  session.set(key);
  session.me = data;
}

function signOut() {
  pruneGallery({ everything: true }).catch(() => {});
  session.clear();
  session.me = null;
  location.hash = '#/playground';
  route();
}

function renderSignIn() {
  const input = h('input', { type: 'password', id: 'api-key', autocomplete: 'off', placeholder: 'sk-ig-v1-…', required: true });
  const error = h('p', { class: 'error-box', hidden: true });
  const form = h('form', { class: 'panel signin', dataset: { testid: 'signin' } },
    h('h1', {}, 'Sign in to imagegate'),
    h('p', {}, 'Use an API key of this gateway. It is kept in this browser tab only (session storage) and sent to this gateway alone.'),
    h('div', { class: 'field' }, h('label', { for: 'api-key' }, 'API key'), input),
    h('button', { class: 'primary', type: 'submit' }, 'Sign in'),
    error);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      await signIn(input.value.trim());
      route();
    } catch (err) {
      error.textContent = err instanceof ApiError && err.status === 401 ? 'That key is not valid on this gateway.' : String(err.message || err);
      error.hidden = false;
    }
  });
  view.replaceChildren(form);
  input.focus();
}

function renderHeader() {
  const me = session.me;
  nav.hidden = !me;
  nav.querySelector('[data-route="admin"]').hidden = !me?.is_management_key;
  clear(who);
  if (!me) return;
  const limit = me.limit === null || me.limit === undefined ? 'no limit' : `limit ${usd(me.limit)}`;
  who.append(
    h('span', { dataset: { testid: 'who' }, title: `spent ${me.usage} USD` }, `${me.label}${me.is_management_key ? ' (admin)' : ''} · spent ${usd(me.usage)} · ${limit}`),
    h('button', { type: 'button', onclick: signOut, dataset: { testid: 'signout' } }, 'Sign out'),
  );
}

export async function refreshMe() {
  if (!session.key) return;
  session.me = (await api('api/v1/key')).data;
  renderHeader();
}

async function route() {
  releaseUrls();
  const seq = ++renderSeq;
  if (session.key && !session.me) {
    try { await signIn(session.key); } catch { session.clear(); }
  }
  renderHeader();
  if (!session.me) { renderSignIn(); return; }
  const { name, arg, query } = parseHash();
  const render = ROUTES[name] || renderPlayground;
  for (const link of nav.querySelectorAll('a[data-route]')) link.classList.toggle('active', link.dataset.route === name);
  const root = h('div', { dataset: { view: name } });
  view.replaceChildren(root);
  try {
    await render(root, { arg, query, isCurrent: () => seq === renderSeq, refreshMe });
  } catch (err) {
    if (seq === renderSeq) root.append(h('p', { class: 'error-box' }, String(err.message || err)));
  }
}

window.addEventListener('hashchange', route);
window.addEventListener('ig:unauthorized', () => {
  if (!session.key) return;
  flash('The gateway no longer accepts this key: sign in again.');
  session.clear();
  session.me = null;
  route();
});
pruneGallery().catch(() => {});
route();
