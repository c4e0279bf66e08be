// The console's shell: login, hash routing (#/flow, #/dlq, #/member, #/rules, #/audit),
// the navigation and the shared notice area.
import 'uplot/dist/uPlot.min.css';
import './app.css';
import { api, hasToken, setToken, whenUnauthorized, operatorLogin, ApiError } from './api.js';
import { h, field, heading, notify, errorBox } from './dom.js';
import * as flow from './views/flow.js';
import * as dlq from './views/dlq.js';
import * as member from './views/member.js';
import * as rules from './views/rules.js';
import * as audit from './views/audit.js';

const views = { flow, dlq, member, rules, audit };
const titles = { flow: 'Flow', dlq: 'DLQs', member: 'Member lookup', rules: 'Rules', audit: 'Audit log', login: 'Log in' };
let cleanup = null;
let session = null;


function parseHash() {
  const raw = location.hash.startsWith('#/') ? location.hash.slice(2) : '';
  const [path, query = ''] = raw.split('?');
  const segments = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { name: segments[0] || 'flow', segments, params: new URLSearchParams(query) };
}

function showChrome(on) {
  document.getElementById('nav').hidden = !on;
  document.getElementById('session').hidden = !on;
  if (on && session) document.getElementById('session-who').textContent = `${session.subject} (${session.mode})`;
}

async function route() {
  if (cleanup) { cleanup(); cleanup = null; }
  const main = document.getElementById('main');
  notify('');
  const root = h('div', { class: 'view' });
  main.replaceChildren(root);
  if (!hasToken()) { showChrome(false); renderLogin(root); return; }
  showChrome(true);
  const r = parseHash();
  const view = views[r.name];
  if (!view) { location.hash = '#/flow'; return; }
  document.title = `${titles[r.name]} · memberflow console`;
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.view === r.name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  try {
    // A view renders into its own element: one left behind by a later navigation is detached.
    cleanup = view.render(root, r) || null;
    if (cleanup instanceof Promise) cleanup = await cleanup;
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) root.append(errorBox(e));
  }
  const title = root.querySelector('.view-title');
  if (title && document.activeElement === document.body && main.contains(title)) title.focus();
}

async function startSession(accessToken) {
  setToken(accessToken);
  try {
    session = await api('/console/api/session');
  } catch (e) {
    setToken(null);
    throw e;
  }
  if (!location.hash.startsWith('#/')) location.hash = '#/flow';
  await route();
  document.querySelector('.view-title')?.focus();
}

function renderLogin(root) {
  document.title = 'Log in · memberflow console';
  const message = h('p', { class: 'error', role: 'alert' });
  const fail = (e) => {
    message.textContent = e.status === 403
      ? 'That token lacks the scope member:operate.'
      : `Login failed: ${e.message}`;
  };

  const [idField, clientId] = field('Client id', { name: 'client_id', value: 'memberflow-operator', autocomplete: 'username', required: true });
  const [secretField, secret] = field('Client secret', { name: 'client_secret', type: 'password', autocomplete: 'current-password', required: true });
  const embedded = h('form', {
    class: 'card', 'aria-labelledby': 'login-embedded-h',
    onsubmit: async (ev) => {
      ev.preventDefault();
      message.textContent = '';
      try {
        const t = await operatorLogin(clientId.value.trim(), secret.value);
        secret.value = '';
        await startSession(t.access_token);
      } catch (e) { fail(e); }
    },
  },
  h('h2', { id: 'login-embedded-h' }, 'Operator login (embedded issuer)'),
  h('p', null, 'The embedded issuer gives the operator client a short-lived token with the scope member:operate.'),
  idField, secretField,
  h('button', { type: 'submit' }, 'Log in'));

  const [tokenField, pasted] = field('Bearer token', { name: 'token', multiline: true, rows: 3, autocomplete: 'off', spellcheck: 'false', required: true });
  const external = h('form', {
    class: 'card', 'aria-labelledby': 'login-token-h',
    onsubmit: async (ev) => {
      ev.preventDefault();
      message.textContent = '';
      try {
        await startSession(pasted.value.trim().replace(/^Bearer\s+/i, ''));
        pasted.value = '';
      } catch (e) { fail(e); }
    },
  },
  h('h2', { id: 'login-token-h' }, 'Use a token (external issuer)'),
  h('p', null, 'Paste an access token with the scope member:operate. It is kept in this page only.'),
  tokenField,
  h('button', { type: 'submit' }, 'Use token'));

  root.append(heading('Log in'), message, h('div', { class: 'login' }, embedded, external));
}

whenUnauthorized(() => {
  session = null;
  route();
  notify('The session has ended: log in again.');
});

document.getElementById('logout').addEventListener('click', () => {
  setToken(null);
  session = null;
  route();
  notify('Logged out.');
});
document.getElementById('skip-link').addEventListener('click', (ev) => {
  ev.preventDefault();
  document.getElementById('main').focus();
});
window.addEventListener('hashchange', route);
route();
