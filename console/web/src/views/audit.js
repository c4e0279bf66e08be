// The audit log (GET /console/api/audit): who did what, when, to how many; newest first.
import { api } from '../api.js';
import { h, fmt, when, heading, table } from '../dom.js';

export async function render(root) {
  root.append(heading('Audit log'));
  const out = h('div');
  const refresh = h('button', { type: 'button' }, 'Refresh');
  root.append(h('p', null, 'Every action that changes something, every reveal of personal data and every export. Newest first.'),
    h('div', { class: 'actions' }, refresh), out);
  async function load() {
    const { entries = [] } = await api('/console/api/audit?limit=200');
    out.replaceChildren(entries.length ? table('Audit entries, newest first', [
      { title: 'When', cell: (e) => when(e.at) },
      { title: 'Who', cell: (e) => e.who },
      { title: 'Action', cell: (e) => e.action },
      { title: 'Target', cell: (e) => e.target || '–' },
      { title: 'Count', cell: (e) => fmt(e.count) },
      { title: 'Detail', cell: (e) => e.detail || '–' },
    ], entries, { rowAttrs: (e) => ({ 'data-action': e.action }) }) : h('p', null, 'Nothing audited yet.'));
  }
  refresh.addEventListener('click', () => load().catch(() => {}));
  await load();
  return undefined;
}
