// One raw archive line (GET /console/api/archive?key=K&line=N): masked, with an explicit,
// audited reveal.
import { api, qs } from '../api.js';
import { h, pretty, errorBox } from '../dom.js';

// What the endpoint returns: the archived line (an object or its text) possibly inside an
// envelope with its key and line number.
function lineOf(body) {
  if (body && typeof body === 'object' && !Array.isArray(body)) {
    for (const k of ['record', 'raw', 'text']) if (k in body) return body[k];
  }
  return body;
}

export function rawLineViewer(key, line, label = 'Show raw line') {
  const out = h('div', { class: 'raw-out' });
  const show = h('button', { type: 'button', 'aria-expanded': 'false' }, label);
  const box = h('div', { class: 'raw' }, show, out);
  async function load(reveal) {
    out.replaceChildren(h('p', { role: 'status' }, 'Loading…'));
    try {
      const body = await api(`/console/api/archive?${qs({ key, line, reveal: reveal ? 1 : undefined })}`);
      const value = lineOf(body);
      const masked = body && typeof body === 'object' && 'masked' in body ? body.masked : !reveal;
      const pre = h('pre', { class: 'raw-line', tabindex: '0', 'data-masked': String(masked), 'aria-label': `Raw line ${line} of ${key}${masked ? ', personal data masked' : ''}` },
        typeof value === 'string' ? value : pretty(value));
      const parts = [h('p', { class: 'raw-caption' }, `${key}, line ${line}`, masked ? ' (personal data masked)' : ' (revealed: this view is in the audit log)'), pre];
      if (masked) {
        parts.push(h('button', { type: 'button', class: 'reveal', onclick: () => load(true) }, 'Reveal personal data'));
      }
      out.replaceChildren(...parts);
    } catch (e) {
      if (e.status !== 401) out.replaceChildren(errorBox(e));
    }
  }
  show.addEventListener('click', () => {
    if (show.getAttribute('aria-expanded') === 'true') {
      show.setAttribute('aria-expanded', 'false');
      show.textContent = label;
      out.replaceChildren();
      return;
    }
    show.setAttribute('aria-expanded', 'true');
    show.textContent = 'Hide raw line';
    load(false);
  });
  return box;
}
