// Topics and subscriptions, deliveries, the asynchronous invocation queue (with re-drive), the outbox, and About.
import { h, fill, getJson, getText, post, when, bytes, badge, codeBlock, empty, toast } from './lib.js';
import { navigate, info } from './app.js';

function table(headings, rows) {
  return h('table', { class: 'list' }, h('thead', {}, h('tr', {}, headings.map(t => h('th', {}, t)))), h('tbody', {}, rows));
}

function filterBar(path, current, values) {
  return h('div', { class: 'segmented', role: 'group', 'aria-label': 'Status' }, ['all', ...values].map(v =>
    h('a', { class: 'button ghost small', href: v === 'all' ? path : `${path}?status=${v}`, 'aria-current': (current ?? 'all') === v ? 'true' : null }, v)));
}

export async function topicsView(context) {
  const [{ topics }, { subscriptions }] = await Promise.all([getJson('/api/topics'), getJson('/api/subscriptions')]);
  if (!context.shown) return;
  fill(context.main,
    h('header', { class: 'page-head' }, h('h1', {}, 'Topics')),
    topics.length === 0 ? empty('No SNS topics. Declare Topics in inlet.yaml or use aws sns create-topic.') :
      table(['Name', 'ARN', 'Subscriptions'], topics.map(t => h('tr', {}, h('td', {}, h('strong', {}, t.name)), h('td', {}, h('code', {}, t.topicArn)), h('td', { class: 'num' }, t.subscriptions)))),
    h('h2', {}, 'Subscriptions'),
    subscriptions.length === 0 ? empty('No subscriptions.') :
      table(['Topic', 'Protocol', 'Endpoint', 'State'], subscriptions.map(s => h('tr', {},
        h('td', {}, s.topicArn.split(':').pop()), h('td', {}, s.protocol), h('td', { class: 'ellipsis' }, h('code', {}, s.endpoint)),
        h('td', {}, s.confirmed ? badge('confirmed') : badge('pending'))))),
    h('p', {}, h('a', { href: '/deliveries?status=failed' }, 'Failed deliveries'), ' · ', h('a', { href: '/deliveries' }, 'All deliveries')));
}

export async function deliveriesView(context) {
  const status = context.params.get('status');
  const { deliveries } = await getJson(`/api/deliveries?limit=500${status ? `&status=${encodeURIComponent(status)}` : ''}`);
  if (!context.shown) return;
  fill(context.main,
    h('header', { class: 'page-head' }, h('h1', {}, 'Deliveries'), filterBar('/deliveries', status, ['pending', 'delivered', 'failed', 'rejected'])),
    deliveries.length === 0 ? empty('No deliveries.') :
      table(['Created', 'Status', 'Topic', 'Subscription', 'Type', 'Attempts', 'Delivered', 'Last error', ''], deliveries.map(d => h('tr', { class: d.status === 'failed' || d.status === 'rejected' ? 'bad-row' : '' },
        h('td', { class: 'nowrap' }, when(d.createdAt)), h('td', {}, badge(d.status)), h('td', {}, d.topicArn.split(':').pop()),
        h('td', { class: 'ellipsis' }, h('code', { title: d.subscriptionArn }, d.subscriptionArn.split(':').pop().slice(0, 8))),
        h('td', {}, d.messageType), h('td', { class: 'num' }, d.attempts), h('td', { class: 'nowrap' }, when(d.deliveredAt)),
        h('td', { class: 'ellipsis error-text', title: d.lastError ?? '' }, d.lastError ?? ''),
        h('td', {}, d.status === 'failed' || d.status === 'rejected' ? h('button', { type: 'button', class: 'small', onclick: async event => {
          event.target.disabled = true;
          try {
            await post(`/api/deliveries/${encodeURIComponent(d.id)}/redrive`);
            toast('Delivery queued again');
            navigate(location.pathname + location.search, { replace: true });
          } catch (error) {
            toast(error.message, 'bad');
            event.target.disabled = false;
          }
        } }, 'Re-drive') : '')))));
}

export async function invocationsView(context) {
  const [dead, pending] = await Promise.all([getJson('/api/invocations?status=dead'), getJson('/api/invocations?status=pending')]);
  if (!context.shown) return;
  const row = (i, redrive) => h('tr', {},
    h('td', { class: 'nowrap' }, when(i.createdAt)),
    h('td', {}, h('a', { href: `/functions/${encodeURIComponent(i.functionName)}` }, i.functionName)),
    h('td', {}, i.source?.startsWith('ses:') ? h('a', { href: `/messages/${encodeURIComponent(i.source.slice(4))}` }, 'SES message') : i.source ?? ''),
    h('td', { class: 'num' }, i.attempts),
    h('td', { class: 'ellipsis error-text', title: i.lastError ?? '' }, i.lastError ?? ''),
    h('td', {}, redrive ? h('button', { type: 'button', class: 'small', onclick: async event => {
      event.target.disabled = true;
      try {
        await post(`/api/invocations/${encodeURIComponent(i.id)}/redrive`);
        toast(`Invocation of ${i.functionName} queued again`);
        navigate('/invocations', { replace: true });
      } catch (error) {
        toast(error.message, 'bad');
        event.target.disabled = false;
      }
    } }, 'Re-drive') : when(i.nextAttemptAt)));
  fill(context.main,
    h('header', { class: 'page-head' }, h('h1', {}, 'Asynchronous invocations')),
    h('p', { class: 'muted' }, 'Event invocations wait here between attempts; after their retries, or when too old, they are dead-lettered and can be re-driven.'),
    h('h2', {}, 'Dead-lettered'),
    dead.invocations.length === 0 ? empty('None.') : table(['Created', 'Function', 'Source', 'Attempts', 'Why', ''], dead.invocations.map(i => row(i, true))),
    h('h2', {}, 'Pending'),
    pending.invocations.length === 0 ? empty('None.') : table(['Created', 'Function', 'Source', 'Attempts', 'Last error', 'Next attempt'], pending.invocations.map(i => row(i, false))));
}

export async function outboxView(context) {
  const { messages } = await getJson('/api/outbox?limit=200');
  if (!context.shown) return;
  fill(context.main,
    h('header', { class: 'page-head' }, h('h1', {}, 'Outbox')),
    h('p', { class: 'muted' }, 'Bounces and mail sent through the SES sending APIs: held here when no relay is configured, or on their way through it.'),
    messages.length === 0 ? empty('Nothing sent yet.') :
      table(['Created', 'Kind', 'Status', 'From', 'To', 'Subject', 'Size', 'Attempts'], messages.map(m => {
        const href = `/outbox/${encodeURIComponent(m.id)}`;
        return h('tr', { tabindex: 0, 'data-row': '', class: 'clickable', onclick: e => { if (!e.target.closest('a')) navigate(href); }, onkeydown: e => { if (e.key === 'Enter') navigate(href); } },
          h('td', { class: 'nowrap' }, when(m.createdAt)), h('td', {}, m.kind), h('td', {}, badge(m.status)),
          h('td', { class: 'ellipsis' }, m.mailFrom || '<>'), h('td', { class: 'ellipsis' }, m.recipient),
          h('td', { class: 'ellipsis' }, h('a', { href }, m.subject || '(no subject)')), h('td', { class: 'num' }, bytes(m.size)), h('td', { class: 'num' }, m.attempts));
      })));
}

export function outboxItemView(id) {
  return async context => {
    const [{ messages }, raw] = await Promise.all([getJson('/api/outbox?limit=1000'), getText(`/api/outbox/${encodeURIComponent(id)}/raw`)]);
    if (!context.shown) return;
    const m = messages.find(x => x.id === id);
    fill(context.main,
      h('div', { class: 'crumbs' }, h('a', { href: '/outbox' }, 'Outbox'), ' / ', h('code', {}, id)),
      h('header', { class: 'page-head' }, h('h1', {}, m?.subject || '(no subject)'),
        h('a', { class: 'button ghost', href: `/api/outbox/${encodeURIComponent(id)}/raw`, download: `${id}.eml` }, 'Download .eml')),
      m ? h('dl', { class: 'envelope' },
        h('dt', {}, 'Kind'), h('dd', {}, m.kind, m.messageId ? [' of ', h('a', { href: `/messages/${encodeURIComponent(m.messageId)}` }, 'the received message')] : ''),
        h('dt', {}, 'Status'), h('dd', {}, badge(m.status), m.lastError ? h('span', { class: 'error-text' }, ` ${m.lastError}`) : ''),
        h('dt', {}, 'From'), h('dd', {}, m.mailFrom || '<>'),
        h('dt', {}, 'To'), h('dd', {}, m.recipient),
        h('dt', {}, 'Created'), h('dd', {}, when(m.createdAt), m.sentAt ? [' · sent ', when(m.sentAt)] : '')) : null,
      codeBlock(raw, { label: 'Content' }));
  };
}

export async function aboutView(context) {
  fill(context.main,
    h('header', { class: 'page-head' }, h('h1', {}, 'Inlet'), h('span', { class: 'muted' }, `version ${info.version}`)),
    h('p', {}, 'A self-hosted implementation of Amazon SES email receiving: SMTP in, receipt rules, actions (Lambda, SNS, S3, Bounce, Stop, AddHeader), and the SES, SNS, Lambda and S3 APIs on this endpoint.'),
    h('section', { class: 'card' }, h('h2', {}, 'Listeners'), h('dl', { class: 'config' },
      h('dt', {}, 'SMTP'), h('dd', {}, h('code', {}, info.smtp)),
      h('dt', {}, 'HTTP'), h('dd', {}, h('code', {}, info.http)),
      h('dt', {}, 'HTTPS'), h('dd', {}, h('code', {}, info.https ?? 'off')),
      h('dt', {}, 'AWS CLI'), h('dd', {}, h('code', {}, `aws --endpoint-url http://${info.http} ses|sns|lambda|s3api …`)))),
    h('section', { class: 'card' }, h('h2', {}, 'Endpoints'), h('ul', {},
      h('li', {}, h('a', { href: '/api/messages' }, '/api/messages'), ': message records and their traces'),
      h('li', {}, h('a', { href: '/api/outbox' }, '/api/outbox'), ': the outbox'),
      h('li', {}, h('a', { href: '/metrics' }, '/metrics'), ': Prometheus metrics'),
      h('li', {}, h('a', { href: '/health' }, '/health')))),
    h('section', { class: 'card' }, h('h2', {}, 'Documentation'), h('ul', {}, info.documents.map(d => h('li', {}, h('a', { href: `/docs/${d}` }, d))))),
    h('section', { class: 'card', id: 'keys' }, h('h2', {}, 'Keyboard'), h('dl', { class: 'config keys' },
      [['/', 'search the list'], ['j / k', 'next / previous row'], ['Enter', 'open the row'], ['g m', 'messages'], ['g r', 'rules'], ['g f', 'functions'],
        ['g t', 'topics'], ['g d', 'deliveries'], ['g i', 'invocations'], ['g o', 'outbox'], ['g a', 'about'], ['Esc', 'leave a field']]
        .map(([k, v]) => [h('dt', {}, h('kbd', {}, k)), h('dd', {}, v)]))));
  if (location.hash === '#keys') document.getElementById('keys')?.scrollIntoView();
}


