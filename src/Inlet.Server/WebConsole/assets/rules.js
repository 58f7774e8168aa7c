// Rules: every rule set (the active one first and marked), its rules in order, and a dry run of a message.
import { h, fill, getJson, post, badge, failure, empty } from './lib.js';

const sample = `From: Alice <alice@sender.example>
To: info@example.com
Subject: Hello from the dry run
Message-ID: <dry-run@sender.example>
Content-Type: text/plain; charset=utf-8

Which rules would see this message?
`;

export async function rulesView(context) {
  const rules = await getJson('/api/rules');
  if (!context.shown) return;
  const sets = [...rules.ruleSets].sort((a, b) => Number(b.active) - Number(a.active));
  fill(context.main,
    h('header', { class: 'page-head' }, h('h1', {}, 'Rules'), h('span', { class: 'muted' }, `configuration version ${rules.version}`)),
    rules.activeRuleSet ? null : h('div', { class: 'notice warn' }, 'No rule set is active: every recipient is refused with 550 5.1.1.'),
    sets.length === 0 ? empty('No rule sets. Declare ReceiptRuleSets in inlet.yaml or create one with aws ses create-receipt-rule-set.') : sets.map(ruleSet),
    rules.filters.length ? h('section', { class: 'card' }, h('h2', {}, 'IP filters'),
      h('table', { class: 'list' }, h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', {}, 'Policy'), h('th', {}, 'CIDR'))),
        h('tbody', {}, rules.filters.map(f => h('tr', {}, h('td', {}, f.name), h('td', {}, badge(f.policy, f.policy === 'Allow' ? 'ok' : 'bad')), h('td', {}, h('code', {}, f.cidr))))))) : null,
    dryRun());
}

function ruleSet(set) {
  return h('section', { class: `card rule-set ${set.active ? 'active' : ''}` },
    h('h2', {}, set.name, set.active ? badge('active') : h('span', { class: 'muted small' }, ' inactive')),
    set.rules.length === 0 ? empty('No rules.') : h('ol', { class: 'rules' }, set.rules.map(rule =>
      h('li', { class: rule.enabled ? '' : 'disabled' },
        h('div', { class: 'rule-head' },
          h('strong', {}, rule.name),
          rule.enabled ? null : badge('disabled'),
          rule.tlsPolicy === 'Require' ? badge('TLS required', 'warn') : null,
          rule.scanEnabled ? badge('scan', 'muted') : null,
          h('span', { class: 'recipients' }, rule.recipients.length ? rule.recipients.map(r => h('code', { class: 'chip' }, r)) : h('span', { class: 'muted' }, 'every recipient'))),
        h('ol', { class: 'rule-actions' }, rule.actions.map(a => h('li', {}, h('span', { class: 'type' }, a.type), h('span', { class: 'muted' }, a.effect),
          a.receipt.functionArn ? h('a', { class: 'fn-link', href: `/functions/${encodeURIComponent(a.receipt.functionArn.split(':').pop())}` }, a.receipt.functionArn.split(':').pop()) : null)))))));
}

function dryRun() {
  const message = h('textarea', { name: 'message', rows: 10, spellcheck: 'false', 'aria-label': 'Message source' });
  message.value = sample;
  const file = h('input', { type: 'file', accept: '.eml,message/rfc822,text/plain', 'aria-label': 'Upload a message', onchange: async () => {
    if (file.files[0]) message.value = await file.files[0].text();
  } });
  const to = h('input', { name: 'to', value: 'info@example.com', 'aria-label': 'Recipients', placeholder: 'recipients, separated by spaces or commas' });
  const from = h('input', { name: 'from', value: 'alice@sender.example', 'aria-label': 'Envelope sender' });
  const tls = h('input', { type: 'checkbox', name: 'tls' });
  const result = h('div', { class: 'dry-result', 'aria-live': 'polite' });
  const run = async event => {
    event.preventDefault();
    const parameters = new URLSearchParams({ from: from.value.trim(), tls: String(tls.checked) });
    for (const r of to.value.split(/[\s,;]+/).filter(Boolean)) parameters.append('to', r);
    try {
      fill(result, describe(await post(`/api/rules/test?${parameters}`, message.value, 'message/rfc822')));
    } catch (error) {
      fill(result, failure(error));
    }
  };
  return h('section', { class: 'card' }, h('h2', {}, 'Dry run'),
    h('p', { class: 'muted' }, 'Which rules and actions would run for a message, under the rules in force now. Nothing is stored or executed.'),
    h('form', { class: 'dry-run', onsubmit: run },
      h('label', {}, 'Recipients', to),
      h('label', {}, 'Envelope sender', from),
      h('label', { class: 'inline' }, tls, ' received over TLS'),
      h('label', { class: 'wide' }, 'Message (RFC 5322 source)', message),
      h('label', { class: 'inline wide' }, 'or upload a file:', file),
      h('div', {}, h('button', { type: 'submit' }, 'Run the rules'))),
    result);
}

function describe(test) {
  return h('div', {},
    h('p', {}, h('strong', {}, test.outcome), test.ruleSet ? ` · rule set ${test.ruleSet}` : ''),
    test.unmatched.length ? h('p', { class: 'notice warn' }, `Refused at RCPT (no enabled rule matches): ${test.unmatched.join(', ')}`) : null,
    h('ol', { class: 'rules' }, test.rules.map(rule => h('li', {},
      h('div', { class: 'rule-head' }, h('strong', {}, rule.name), h('span', { class: 'recipients' }, rule.recipients.map(r => h('code', { class: 'chip' }, r)))),
      h('ol', { class: 'rule-actions' }, rule.actions.map(a => h('li', {}, h('span', { class: 'type' }, a.type), h('span', { class: 'muted' }, a.effect))))))));
}
