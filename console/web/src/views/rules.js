// The event bus's rules and targets with hit counts, and a tester: paste an event or name a
// member (its last event) and see which rules match and what each target would receive.
import { api } from '../api.js';
import { h, fmt, heading, table, pretty, field, errorBox } from '../dom.js';

export async function render(root) {
  root.append(heading('Rules'));
  const { rules = [], targets = [] } = await api('/console/api/rules');
  root.append(
    h('h2', null, 'Event-bus rules'),
    rules.length ? table('Event-bus rules with their hit counts', [
      { title: 'Rule', cell: (r) => r.name },
      { title: 'Pattern', cell: (r) => h('pre', { class: 'inline-json' }, pretty(r.pattern)) },
      { title: 'Targets', cell: (r) => (r.targets || []).join(', ') || '–' },
      { title: 'Hits', cell: (r) => h('span', { 'data-rule-hits': r.name }, fmt(r.hits)) },
    ], rules) : h('p', null, 'No rules.'),
    h('h2', null, 'Targets'),
    targets.length ? table('Targets', [
      { title: 'Target', cell: (t) => t.name },
      { title: 'Type', cell: (t) => t.type || '–' },
      { title: 'Input path', cell: (t) => t.inputPath || '(the whole event)' },
    ], targets) : h('p', null, 'No targets.'));

  const result = h('section', { 'aria-labelledby': 'rules-result-h', class: 'rules-result', 'aria-live': 'polite' });
  async function test(body) {
    result.replaceChildren(h('p', null, 'Testing…'));
    try {
      const r = await api('/console/api/rules/test', { method: 'POST', body });
      const matches = r.matches || [];
      const masked = r.masked !== false && !body.reveal;
      result.replaceChildren(
        h('h3', { id: 'rules-result-h' }, matches.length ? `${matches.length} ${matches.length === 1 ? 'rule matches' : 'rules match'}` : 'No rule matches'),
        masked ? h('p', { class: 'note' }, 'Personal data is masked. ',
          h('button', { type: 'button', class: 'reveal', onclick: () => test({ ...body, reveal: true }) }, 'Reveal personal data'))
          : h('p', { class: 'note' }, 'Revealed: this view is in the audit log.'),
        ...matches.map((m) => h('div', { class: 'match', 'data-rule': m.rule },
          h('h4', null, `Rule ${m.rule}${m.bus ? ` (bus ${m.bus})` : ''}`),
          (m.targets || []).map((t) => h('div', { class: 'target-input' },
            h('p', null, `Target ${t.name} would receive:`),
            h('pre', { tabindex: '0', 'data-masked': String(masked) }, pretty(t.input)))))),
        h('details', null, h('summary', null, 'The event tested'), h('pre', { 'data-masked': String(masked) }, pretty(r.event))));
    } catch (e) {
      if (e.status !== 401) result.replaceChildren(h('h3', { id: 'rules-result-h' }, 'Test failed'), errorBox(e));
    }
  }

  const [eventField, event] = field('Event (JSON)', { multiline: true, rows: 8, spellcheck: 'false', required: true, 'aria-describedby': 'rules-event-hint' });
  const eventForm = h('form', {
    class: 'card', 'aria-labelledby': 'rules-event-h',
    onsubmit: (ev) => {
      ev.preventDefault();
      let parsed;
      try { parsed = JSON.parse(event.value); } catch (e) {
        result.replaceChildren(h('h3', { id: 'rules-result-h' }, 'Not JSON'), errorBox(e));
        return;
      }
      test({ event: parsed });
    },
  }, h('h3', { id: 'rules-event-h' }, 'Paste an event'),
  h('p', { id: 'rules-event-hint', class: 'note' }, 'A member event as memberflow publishes it (CloudEvents: id, source, type, subject, time, data).'),
  eventField, h('button', { type: 'submit' }, 'Test event'));
  const [memberField, member] = field('Member id', { required: true, autocomplete: 'off' });
  const memberForm = h('form', {
    class: 'card', 'aria-labelledby': 'rules-member-h',
    onsubmit: (ev) => { ev.preventDefault(); test({ member: member.value.trim() }); },
  }, h('h3', { id: 'rules-member-h' }, "A member's last event"), memberField, h('button', { type: 'submit' }, "Test member's last event"));
  root.append(h('h2', null, 'Test the rules'),
    h('p', null, 'The bus\'s own matcher runs the test on the event\'s bus envelope (detail-type is the event\'s type, detail the event).'),
    h('div', { class: 'searches' }, eventForm, memberForm), result);
  return undefined;
}
