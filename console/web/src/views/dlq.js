// The DLQ workbench: every DLQ with its reason groups; a DLQ's entries (masked) with their
// detail and coordinates, an audited reveal, redrive (dry run first, a rate cap, then a
// confirm) of one entry, a reason group or all, and JSONL export.
import { api, qs, download } from '../api.js';
import { h, fmt, pos, when, heading, table, dl, pretty, uid, errorBox, notify } from '../dom.js';
import { rawLineViewer } from './raw.js';

const dlqLink = (name, reason) => `#/dlq/${encodeURIComponent(name)}${reason ? `?${qs({ reason })}` : ''}`;

// Redrive `selection` ({ids} | {reason} | {}) of `dlq`: a dry run says what would happen, then
// a confirm does it at the rate cap.
function redrivePanel(dlq, selection, what, onDone, onClose) {
  const headingId = uid('redrive');
  const rateId = uid('rate');
  const rate = h('input', { id: rateId, type: 'number', min: '1', max: '10000', step: '1', value: '100', required: true, inputmode: 'numeric' });
  const result = h('div', { class: 'result', role: 'status', 'aria-live': 'polite' });
  const dry = h('button', { type: 'button' }, 'Dry run');
  const confirm = h('button', { type: 'button', class: 'danger', hidden: true }, 'Confirm redrive');
  const close = h('button', { type: 'button', class: 'secondary' }, 'Close');
  const rateValue = () => {
    const v = Number(rate.value);
    if (!(v > 0 && v <= 10000)) throw new Error('the rate cap must be between 1 and 10000 per second');
    return v;
  };
  let canConfirm = false;
  async function send(dryRun) {
    dry.disabled = confirm.disabled = true;
    result.replaceChildren(h('p', null, dryRun ? 'Dry run…' : 'Redriving…'));
    try {
      const r = await api(`/console/api/dlqs/${encodeURIComponent(dlq)}/redrive`, {
        method: 'POST', body: { ...selection, dryRun, ratePerSecond: rateValue() },
      });
      if (dryRun) {
        result.replaceChildren(h('p', { class: 'summary', 'data-redrive': 'dry-run' }, `Dry run: ${r.summary}`),
          dl([['Selected', fmt(r.selected)], ['Would redrive', fmt(r.wouldRedrive)], ['Would keep', fmt(r.wouldKeep)]], { class: 'inline' }));
        confirm.hidden = false;
        confirm.textContent = `Confirm redrive of ${fmt(r.wouldRedrive)}`;
        canConfirm = r.wouldRedrive > 0;
      } else {
        result.replaceChildren(h('p', { class: 'summary', 'data-redrive': 'done' }, `Done: ${r.summary}`),
          dl([['Selected', fmt(r.selected)], ['Redriven', fmt(r.redriven)], ['Kept', fmt(r.kept)], ['Members released', fmt(r.membersReleased)]], { class: 'inline' }));
        confirm.hidden = true;
        canConfirm = false;
        notify(`Redrive of ${what} on ${dlq}: ${r.summary}`);
        onDone();
      }
    } catch (e) {
      if (e.status !== 401) result.replaceChildren(errorBox(e));
    } finally {
      dry.disabled = false;
      confirm.disabled = !canConfirm;
    }
  }
  dry.addEventListener('click', () => send(true));
  confirm.addEventListener('click', () => send(false));
  close.addEventListener('click', onClose);
  const panel = h('section', { class: 'panel', 'aria-labelledby': headingId },
    h('h3', { id: headingId }, `Redrive ${what} of ${dlq}`),
    h('p', null, 'A dry run first says what would happen; nothing changes until you confirm.'),
    h('div', { class: 'field' }, h('label', { for: rateId }, 'Rate cap (entries per second)'), rate),
    h('div', { class: 'actions' }, dry, confirm, close),
    result);
  return { panel, focus: () => dry.focus() };
}

function entryDetail(dlq, e, openRedrive) {
  const c = e.coordinates || {};
  const body = h('pre', { class: 'body', tabindex: '0', 'data-masked': 'true', 'aria-label': 'Entry body, personal data masked' }, pretty(e.body));
  const caption = h('p', { class: 'body-caption' }, 'Body (personal data masked)');
  const reveal = h('button', { type: 'button', class: 'reveal' }, 'Reveal personal data');
  reveal.addEventListener('click', async () => {
    reveal.disabled = true;
    try {
      const r = await api(`/console/api/dlqs/${encodeURIComponent(dlq)}/reveal`, { method: 'POST', body: { id: e.id } });
      body.textContent = pretty(r.body);
      body.dataset.masked = String(r.masked !== false ? r.masked : false);
      body.setAttribute('aria-label', 'Entry body, revealed');
      caption.textContent = 'Body (revealed: this view is in the audit log)';
      reveal.remove();
    } catch (err) {
      reveal.disabled = false;
      if (err.status !== 401) caption.after(errorBox(err));
    }
  });
  return h('div', { class: 'detail' },
    h('h4', null, 'Coordinates'),
    dl([
      ['Entry id', e.id],
      ['Topic', c.topic ?? '–'],
      ['Partition', pos(c.partition)],
      ['Offset', pos(c.offset)],
      ['Archive object', c.archiveKey ?? '–'],
      ['Archive line', pos(c.archiveLine)],
      ['Stage', e.stage || '–'],
      ['Receive count', fmt(e.receiveCount)],
    ], { class: 'inline' }),
    c.archiveKey && c.archiveLine !== undefined ? rawLineViewer(c.archiveKey, c.archiveLine) : null,
    caption, body,
    h('div', { class: 'actions' }, reveal,
      h('button', { type: 'button', onclick: () => openRedrive({ ids: [e.id] }, 'this entry') }, 'Redrive this entry…'),
      e.memberId ? h('a', { href: `#/member?${qs({ member: e.memberId })}` }, 'Member lineage') : null));
}

function entriesTable(dlq, entries, openRedrive) {
  const rows = [];
  for (const e of entries) {
    const detailId = uid('entry');
    const toggle = h('button', { type: 'button', class: 'link', 'aria-expanded': 'false', 'aria-controls': detailId }, 'Details');
    const cell = h('td', { colspan: '7' });
    const detailRow = h('tr', { id: detailId, class: 'detail-row', hidden: true }, cell);
    toggle.addEventListener('click', () => {
      const open = toggle.getAttribute('aria-expanded') !== 'true';
      toggle.setAttribute('aria-expanded', String(open));
      detailRow.hidden = !open;
      if (open && !cell.firstChild) cell.append(entryDetail(dlq, e, openRedrive));
    });
    const c = e.coordinates || {};
    rows.push(h('tr', { 'data-entry': e.id },
      h('td', null, when(e.sentAt)),
      h('td', null, e.reason || '–'),
      h('td', null, e.memberId || '–'),
      h('td', { class: 'mono' }, e.messageId || '–'),
      h('td', { class: 'num' }, fmt(e.receiveCount)),
      h('td', null, c.partition !== undefined ? `p${c.partition} @ ${c.offset}` : '–'),
      h('td', null, toggle)), detailRow);
  }
  return h('table', null,
    h('caption', null, 'Entries (personal data masked)'),
    h('thead', null, h('tr', null, ['Sent', 'Reason', 'Member', 'Message id', 'Receives', 'Source', 'Detail'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', null, rows));
}

export function render(root, { segments, params }) {
  const name = segments[1];
  const reason = params.get('reason') || '';
  root.append(heading(name ? `DLQ ${name}${reason ? `: ${reason}` : ''}` : 'DLQ workbench'));
  if (name) root.append(h('p', null, h('a', { href: '#/dlq' }, '← All DLQs')));
  const body = h('div');
  root.append(body);
  // The redrive panel outlives a reload of the lists (its result stays in view).
  const panelSlot = h('div', { class: 'panel-slot' });

  function openRedrive(selection, what) {
    const { panel, focus } = redrivePanel(name, selection, what, load, () => { panelSlot.replaceChildren(); });
    panelSlot.replaceChildren(panel);
    focus();
  }

  async function load() {
    const { dlqs } = await api('/console/api/dlqs');
    const content = [];
    if (!name) {
      content.push(table('Dead-letter queues', [
        { title: 'DLQ', cell: (d) => h('a', { href: dlqLink(d.name) }, d.name) },
        { title: 'Depth', cell: (d) => h('span', { 'data-dlq-depth': d.name }, fmt(d.depth)) },
        { title: 'In flight', cell: (d) => fmt(d.inFlight) },
        { title: 'Oldest entry', cell: (d) => when(d.oldestAt) },
        { title: 'Reasons', cell: (d) => (d.groups?.length ? h('ul', { class: 'plain' }, d.groups.map((g) => h('li', null, h('a', { href: dlqLink(d.name, g.reason) }, g.reason), `: ${fmt(g.count)}`))) : '–') },
      ], dlqs));
      body.replaceChildren(...content);
      return;
    }
    const d = dlqs.find((x) => x.name === name);
    if (!d) { body.replaceChildren(errorBox(new Error(`no DLQ named ${name}`))); return; }
    content.push(dl([['Depth', fmt(d.depth)], ['In flight', fmt(d.inFlight)], ['Oldest entry', when(d.oldestAt)], ['Queue', d.queue]], { class: 'inline' }));
    if (d.truncated) content.push(h('p', { class: 'note' }, 'Groups are counted over the first 10,000 entries.'));
    content.push(h('h2', null, 'Reason groups'));
    content.push(d.groups?.length ? table(`Entries of ${name} by reason`, [
      { title: 'Reason', cell: (g) => h('a', { href: dlqLink(name, g.reason), 'aria-current': g.reason === reason ? 'true' : null }, g.reason) },
      { title: 'Count', cell: (g) => fmt(g.count) },
      { title: 'Oldest', cell: (g) => when(g.oldestAt) },
      { title: 'Actions', cell: (g) => h('div', { class: 'actions' },
        h('button', { type: 'button', onclick: () => openRedrive({ reason: g.reason }, `reason ${g.reason}`) }, `Redrive ${g.reason}…`),
        h('button', { type: 'button', class: 'secondary', onclick: () => exportJsonl(g.reason) }, `Export ${g.reason}`)) },
    ], d.groups) : h('p', null, 'This DLQ is empty.'));
    content.push(h('div', { class: 'actions' },
      h('button', { type: 'button', onclick: () => openRedrive({}, 'all entries'), disabled: !d.depth }, 'Redrive all…'),
      h('button', { type: 'button', class: 'secondary', onclick: () => exportJsonl('') }, 'Export all (JSONL)')));
    content.push(panelSlot);

    const { entries } = await api(`/console/api/dlqs/${encodeURIComponent(name)}/entries?${qs({ reason, limit: 100 })}`);
    content.push(h('h2', null, reason ? `Entries with reason ${reason}` : 'Entries'));
    content.push(entries.length ? entriesTable(name, entries, openRedrive) : h('p', null, 'No entries.'));
    if (entries.length >= 100) content.push(h('p', { class: 'note' }, 'The first 100 entries are shown; export gives all of them.'));
    body.replaceChildren(...content);
  }

  async function exportJsonl(r) {
    try {
      const size = await download(`/console/api/dlqs/${encodeURIComponent(name)}/export?${qs({ reason: r })}`, `${name}-dlq${r ? `-${r}` : ''}.jsonl`);
      notify(`Exported ${fmt(size)} bytes of ${name}${r ? ` (${r})` : ''} as JSONL.`);
    } catch (e) {
      if (e.status !== 401) body.prepend(errorBox(e));
    }
  }

  return load().then(() => undefined);
}
