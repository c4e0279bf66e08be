// Member lookup: by member id, message id or Kafka partition and offset (GET
// /console/api/lineage); the member's timeline from raw record to deliveries, each raw record
// with its archived line.
import { api, qs } from '../api.js';
import { h, fmt, pos, when, heading, dl, field, uid } from '../dom.js';
import { rawLineViewer } from './raw.js';

const RESULT_TEXT = {
  applied: 'applied', noop: 'no change', stale: 'stale', duplicate: 'duplicate', rejected: 'rejected',
  skipped: 'skipped', parked: 'parked', dead_lettered: 'dead-lettered', pending: 'pending',
  erased: 'erased', not_applied: 'not applied', unknown: 'unknown',
};

function queueText(q) {
  if (typeof q !== 'object' || q === null) return String(q);
  return [q.name, q.groupId && `group ${q.groupId}`, q.dedupId && `dedup id ${q.dedupId}`].filter(Boolean).join(', ');
}

function searchForms(params) {
  const go = (q) => { location.hash = `#/member?${qs(q)}`; };
  const [memberField, member] = field('Member id', { name: 'member', value: params.get('member') || '', required: true, autocomplete: 'off' });
  const [messageField, message] = field('Message id', { name: 'message', value: params.get('message') || '', required: true, autocomplete: 'off' });
  const [partField, partition] = field('Partition', { name: 'partition', type: 'number', min: '0', step: '1', value: params.get('partition') || '', required: true });
  const [offField, offset] = field('Offset', { name: 'offset', type: 'number', min: '0', step: '1', value: params.get('offset') || '', required: true });
  const form = (title, fields, onsubmit, button) => {
    const id = uid('search');
    return h('form', { class: 'card search', 'aria-labelledby': id, onsubmit: (ev) => { ev.preventDefault(); onsubmit(); } },
      h('h2', { id }, title), ...fields, h('button', { type: 'submit' }, button));
  };
  return h('div', { class: 'searches' },
    form('By member', [memberField], () => go({ member: member.value.trim() }), 'Find member'),
    form('By message', [messageField], () => go({ message: message.value.trim() }), 'Find message'),
    form('By Kafka position', [partField, offField], () => go({ partition: partition.value, offset: offset.value }), 'Find record'));
}

function isQueried(r, query) {
  if (!query) return false;
  if (query.messageId !== undefined || query.message !== undefined) return r.messageId === (query.messageId ?? query.message);
  if (query.partition !== undefined && query.offset !== undefined) return r.partition === Number(query.partition) && r.offset === Number(query.offset);
  return false;
}

// docs/console.md gives a record's partition, offset and archive {key, line} at its top level;
// they are read from its `coordinates` (as a DLQ entry's) too.
function normalize(r) {
  const c = r.coordinates || {};
  const archive = r.archive || (c.archiveKey ? { key: c.archiveKey, line: c.archiveLine } : null);
  return { ...r, partition: r.partition ?? c.partition, offset: r.offset ?? c.offset, topic: r.topic ?? c.topic, archive };
}

function delivery(d) {
  const state = d.at ? when(d.at) : d.delivered === true ? 'delivered' : d.delivered === false ? 'not delivered' : '';
  return `${d.target}${state ? `: ${state}` : ''}`;
}

function recordItem(r, queried) {
  const result = r.result || 'pending';
  const titleId = uid('rec');
  const w = r.write;
  const ev = r.event;
  const deliveries = r.deliveries || [];
  return h('li', {
    class: `record result-${result}${queried ? ' queried' : ''}`, 'data-partition': r.partition, 'data-offset': r.offset,
    'data-result': result, 'aria-current': queried ? 'true' : null,
  },
  h('article', { 'aria-labelledby': titleId },
    h('h3', { id: titleId },
      h('span', { class: `result-badge result-${result}` }, RESULT_TEXT[result] || result),
      ` partition ${pos(r.partition)}, offset ${pos(r.offset)}`,
      queried ? h('span', { class: 'tag' }, 'the record searched for') : null),
    dl([
      ['Reason', r.reason || undefined],
      ['Message id', h('span', { class: 'mono' }, r.messageId || '–')],
      ['Source', `${r.topic || '–'}${r.timestamp ? `, ${when(r.timestamp)}` : ''}`],
      ['Raw record', r.archive ? h('span', null, h('span', { class: 'mono' }, r.archive.key), `, line ${pos(r.archive.line)}`) : '–'],
      ['Ledger', r.ledger ? `${r.ledger.outcome || '–'}${r.ledger.reason ? ` (${r.ledger.reason})` : ''}${r.ledger.completedAt ? `, ${when(r.ledger.completedAt)}` : ''}` : '–'],
      ['Queue message', r.queue ? queueText(r.queue) : undefined],
      ['API write', w ? `version ${pos(w.version)}, changed: ${(w.changedFields || []).join(', ') || 'nothing'}${w.at ? `, ${when(w.at)}` : ''}` : '–'],
      ['Event', ev ? h('span', null, h('span', { class: 'mono' }, ev.id), ev.type ? ` (${ev.type})` : '') : '–'],
      ['Lake object', ev?.lakeObject ? h('span', { class: 'mono' }, ev.lakeObject) : '–'],
      ['Deliveries', deliveries.length ? h('ul', { class: 'plain' }, deliveries.map((d) => h('li', null, delivery(d)))) : '–'],
    ], { class: 'record-facts' }),
    r.archive ? rawLineViewer(r.archive.key, r.archive.line) : null));
}

export async function render(root, { params }) {
  root.append(heading('Member lookup'), searchForms(params));
  const q = {};
  for (const k of ['member', 'message', 'partition', 'offset']) if (params.get(k)) q[k] = params.get(k);
  if (!Object.keys(q).length) return undefined;
  const out = h('section', { 'aria-labelledby': 'lineage-h', class: 'lineage' }, h('p', { role: 'status' }, 'Looking up…'));
  root.append(out);
  const l = await api(`/console/api/lineage?${qs(q)}`);
  const records = (l.records || []).map(normalize);
  const query = l.query || q;
  out.replaceChildren(
    h('h2', { id: 'lineage-h' }, `Member ${l.memberId}`),
    h('p', null, `${records.length} record${records.length === 1 ? '' : 's'}, oldest first. `,
      h('a', { href: `#/member?${qs({ member: l.memberId })}` }, 'All of this member')),
    records.length ? h('ol', { class: 'timeline' }, records.map((r) => recordItem(r, isQueried(r, query)))) : h('p', null, 'No records.'));
  return undefined;
}
