// Key administration (admin keys only): list, create (the key is shown once), set a credit
// limit, revoke and re-enable, through /api/v1/keys.

import { api, session } from './api.js';
import { flash, h, usd, usdCell, when } from './dom.js';

function limitEditor(key, done) {
  const amount = h('input', { type: 'number', min: 0, step: '0.01', value: key.limit ?? '', placeholder: 'no limit', dataset: { testid: 'limit-input' }, 'aria-label': 'limit in USD' });
  const reset = h('select', { 'aria-label': 'limit reset' },
    ...[['', 'never resets'], ['daily', 'daily'], ['weekly', 'weekly'], ['monthly', 'monthly']].map(([v, t]) => h('option', { value: v }, t)));
  reset.value = key.limit_reset || '';
  const save = h('button', { type: 'submit', class: 'primary', dataset: { testid: 'limit-save' } }, 'Save');
  const form = h('form', { class: 'row' }, amount, reset, save, h('button', { type: 'button', onclick: () => done(false) }, 'Cancel'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body = { limit: amount.value === '' ? null : Number(amount.value), limit_reset: reset.value || null };
    try {
      await api(`api/v1/keys/${key.hash}`, { method: 'PATCH', body });
      flash(`Limit of ${key.name} saved.`, true);
      done(true);
    } catch (err) { flash(err.message); }
  });
  return form;
}

// Two clicks, no browser dialog: the first arms the button for a few seconds.
function confirmButton(text, armedText, action, testid) {
  const button = h('button', { type: 'button', class: 'danger', dataset: { testid } }, text);
  let armed = null;
  button.addEventListener('click', async () => {
    if (!armed) {
      button.textContent = armedText;
      armed = setTimeout(() => { armed = null; button.textContent = text; }, 4000);
      return;
    }
    clearTimeout(armed);
    armed = null;
    button.disabled = true;
    await action();
  });
  return button;
}

function keyRow(key, reload) {
  const status = key.disabled ? 'disabled' : 'active';
  const actions = h('td', { class: 'row' });
  const setState = async (disabled) => {
    try {
      await api(`api/v1/keys/${key.hash}`, { method: 'PATCH', body: { disabled } });
      flash(`${key.name} ${disabled ? 'revoked' : 're-enabled'}.`, true);
    } catch (err) { flash(err.message); }
    reload();
  };
  const editLimit = h('button', { type: 'button', dataset: { testid: 'limit-edit' } }, 'Limit…');
  editLimit.addEventListener('click', () => actions.replaceChildren(limitEditor(key, (changed) => (changed ? reload() : actions.replaceChildren(editLimit, toggle)))));
  const toggle = key.disabled
    ? h('button', { type: 'button', onclick: () => setState(false) }, 'Enable')
    : confirmButton('Revoke', 'Click again to revoke', () => setState(true), 'revoke');
  actions.append(editLimit, toggle);
  return h('tr', { dataset: { testid: 'key-row', hash: key.hash, status } },
    h('td', {}, h('strong', {}, key.name), ' ', key.is_admin ? h('span', { class: 'badge admin' }, 'admin') : null),
    h('td', { class: 'mono' }, key.label),
    h('td', {}, h('span', { class: `badge ${status}`, dataset: { testid: 'key-status' } }, status)),
    h('td', { class: 'num' }, usdCell(String(key.usage))),
    h('td', { class: 'num', dataset: { testid: 'key-limit' } }, key.limit === null ? '—' : usd(key.limit)),
    h('td', { class: 'num' }, key.limit_remaining === null ? '—' : usd(key.limit_remaining)),
    h('td', {}, key.limit_reset || '—'),
    h('td', {}, when(key.created_at)),
    actions);
}

function createForm(onCreated) {
  const name = h('input', { type: 'text', id: 'new-key-name', required: true, maxlength: 200, placeholder: 'team or service name', dataset: { testid: 'new-key-name' } });
  const limit = h('input', { type: 'number', id: 'new-key-limit', min: 0, step: '0.01', placeholder: 'none', dataset: { testid: 'new-key-limit' } });
  const reset = h('select', { id: 'new-key-reset' }, ...[['', 'never'], ['daily', 'daily'], ['weekly', 'weekly'], ['monthly', 'monthly']].map(([v, t]) => h('option', { value: v }, t)));
  const admin = h('input', { type: 'checkbox', id: 'new-key-admin' });
  const out = h('div');
  const form = h('form', { class: 'panel' }, h('h2', {}, 'Create a key'),
    h('div', { class: 'grid2' },
      h('div', { class: 'field' }, h('label', { for: 'new-key-name' }, 'Name'), name),
      h('div', { class: 'field' }, h('label', { for: 'new-key-limit' }, 'Credit limit (USD)'), limit),
      h('div', { class: 'field' }, h('label', { for: 'new-key-reset' }, 'Limit resets'), reset),
      h('div', { class: 'field' }, h('label', { for: 'new-key-admin' }, 'Admin'), h('label', { class: 'hint' }, admin, ' can manage keys and see every key’s spend'))),
    h('button', { type: 'submit', class: 'primary', dataset: { testid: 'new-key-create' } }, 'Create key'), out);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body = { name: name.value.trim(), admin: admin.checked };
    if (limit.value !== '') body.limit = Number(limit.value);
    if (reset.value) body.limit_reset = reset.value;
    try {
      const created = await api('api/v1/keys', { method: 'POST', body });
      const copy = h('button', { type: 'button' }, 'Copy');
      copy.addEventListener('click', async () => {
        try { await navigator.clipboard.writeText(created.key); copy.textContent = 'Copied'; } catch { copy.textContent = 'Select and copy it by hand'; }
      });
      out.replaceChildren(h('div', { class: 'once', dataset: { testid: 'new-key-once' } },
        h('strong', {}, `Key “${created.data.name}” created. Copy it now: it is shown once and only its hash is stored.`),
        h('code', { dataset: { testid: 'new-key-value' } }, created.key), copy));
      name.value = '';
      limit.value = '';
      onCreated();
    } catch (err) { flash(err.message); }
  });
  return form;
}

export async function renderAdmin(root) {
  if (!session.me?.is_management_key) {
    root.append(h('p', { class: 'panel' }, 'Key management needs an admin key.'));
    return;
  }
  const tbody = h('tbody');
  async function reload() {
    const { data } = await api('api/v1/keys');
    tbody.replaceChildren(...data.map((k) => keyRow(k, reload)));
  }
  root.append(h('h1', {}, 'API keys'), createForm(reload),
    h('section', { class: 'panel' },
      h('h2', {}, 'Keys'),
      h('div', { class: 'table-wrap' }, h('table', { class: 'data', dataset: { testid: 'keys' } },
        h('thead', {}, h('tr', {}, ...['Name', 'Key', 'Status'].map((t) => h('th', {}, t)),
          ...['Spent', 'Limit', 'Left'].map((t) => h('th', { class: 'num' }, t)), h('th', {}, 'Resets'), h('th', {}, 'Created'), h('th', {}, ''))),
        tbody))));
  await reload();
}
