// Messages: the list (live, searchable, paged) and one message with its content and the trace of what the rules did.
import { h, fill, getJson, getText, post, when, ms, bytes, badge, endingText, pretty, codeBlock, copyText, failure, toast, empty, disclosure } from './lib.js';
import { navigate } from './app.js';

const statuses = ['queued', 'processing', 'retrying', 'processed', 'failed', 'inline', 'bounced', 'rejected'];

/** "from:alice to:example.com subject:hello status:failed rest" → the list's query parameters. */
export function parseSearch(text) {
  const query = {};
  const rest = [];
  for (const match of text.matchAll(/(\w+):("[^"]*"|\S+)|("[^"]*"|\S+)/g)) {
    const [, key, value, word] = match;
    const unquote = s => s.replace(/^"(.*)"$/, '$1');
    if (key && ['from', 'to', 'subject', 'status'].includes(key.toLowerCase())) query[key.toLowerCase()] = unquote(value);
    else rest.push(unquote(word ?? `${key}:${value}`));
  }
  if (rest.length) query.q = rest.join(' ');
  return query;
}

/** Whether a message the live stream announces belongs in the list as filtered (the server's rules, approximately). */
function matches(message, query) {
  const has = (value, part) => (value ?? '').toLowerCase().includes(part.toLowerCase());
  const recipients = message.envelope.recipients.join(' ');
  if (query.status && message.status !== query.status) return false;
  if (query.from && !has(message.envelope.mailFrom, query.from)) return false;
  if (query.to && !has(recipients, query.to)) return false;
  if (query.subject && !has(message.subject, query.subject)) return false;
  if (query.q && !(has(message.envelope.mailFrom, query.q) || has(recipients, query.q) || has(message.subject, query.q) || message.messageId === query.q)) return false;
  return true;
}

function row(message) {
  const href = `/messages/${encodeURIComponent(message.messageId)}`;
  const open = () => navigate(href);
  return h('tr', {
    tabindex: 0, 'data-row': '', 'data-id': message.messageId, class: 'clickable',
    onclick: event => { if (!event.target.closest('a')) open(); },
    onkeydown: event => { if (event.key === 'Enter') open(); },
  },
  h('td', { class: 'nowrap muted' }, when(message.receivedAt)),
  h('td', {}, badge(message.status)),
  h('td', { class: 'ellipsis' }, message.envelope.mailFrom || '<>'),
  h('td', { class: 'ellipsis' }, message.envelope.recipients.join(', ')),
  h('td', { class: 'ellipsis subject' }, h('a', { href }, message.subject ?? '(no subject)')),
  h('td', { class: 'ellipsis muted' }, endingText(message.ending)),
  h('td', { class: 'nowrap muted num' }, bytes(message.size)));
}

export async function messagesView(context) {
  const search = context.params.get('search') ?? '';
  const query = parseSearch(search);
  const input = h('input', { type: 'search', name: 'search', value: search, placeholder: 'Search: sender, recipient, subject — or from: to: subject: status:', 'aria-label': 'Search messages', autocomplete: 'off' });
  const status = h('select', { name: 'status', 'aria-label': 'Status' },
    h('option', { value: '' }, 'Any status'),
    statuses.map(s => h('option', { value: s, selected: query.status === s }, s)));
  const submit = () => {
    const text = [input.value.replace(/\bstatus:\S+/g, '').trim(), status.value ? `status:${status.value}` : ''].filter(Boolean).join(' ');
    navigate(text ? `/messages?search=${encodeURIComponent(text)}` : '/messages', { replace: true });
  };
  status.addEventListener('change', submit);
  const form = h('form', { class: 'toolbar', role: 'search', onsubmit: event => { event.preventDefault(); submit(); } },
    input, status, h('button', { type: 'submit' }, 'Search'),
    search ? h('a', { class: 'button ghost', href: '/messages' }, 'Clear') : null);

  const body = h('tbody');
  const table = h('table', { class: 'list messages' },
    h('thead', {}, h('tr', {}, ['Received', 'Status', 'From', 'To', 'Subject', 'Evaluation', 'Size'].map(t => h('th', {}, t)))), body);
  const more = h('div', { class: 'more' });
  const count = h('span', { class: 'muted' });
  fill(context.main, h('header', { class: 'page-head' }, h('h1', {}, 'Messages'), count), form, table, more);

  let shown = 0;
  const load = async token => {
    const parameters = new URLSearchParams({ limit: '50', ...query });
    if (token) parameters.set('nextToken', token);
    const page = await getJson(`/api/messages?${parameters}`);
    if (!context.shown) return;
    body.append(...page.messages.map(row));
    shown += page.messages.length;
    count.textContent = shown === 0 ? '' : `${shown}${page.nextToken ? '+' : ''} shown`;
    fill(more, page.nextToken ? h('button', { type: 'button', class: 'ghost', onclick: () => load(page.nextToken).catch(e => fill(more, failure(e))) }, 'Older messages') : null);
    if (shown === 0) fill(more, empty(search ? 'No message matches.' : 'No mail yet. Send some to the SMTP listener and it appears here.'));
  };
  await load();

  context.subscribe((kind, message) => {
    if (kind !== 'message') return;
    const existing = body.querySelector(`tr[data-id="${CSS.escape(message.messageId)}"]`);
    if (!matches(message, query)) {
      existing?.remove();
      return;
    }
    const fresh = row(message);
    if (existing) {
      const focused = document.activeElement === existing;
      existing.replaceWith(fresh);
      if (focused) fresh.focus();
    } else {
      fresh.classList.add('arrived');
      body.prepend(fresh);
      shown++;
      count.textContent = `${shown} shown`;
      if (more.querySelector('.empty')) fill(more);
    }
  });
}

// ---------------------------------------------------------------------------------------------------------------
// One message

const tabs = ['trace', 'html', 'text', 'headers', 'raw', 'attachments', 'mail'];

export function messageView(id) {
  return async context => {
    const url = `/api/messages/${encodeURIComponent(id)}`;
    let [detail, content, invocations, deliveries] = await Promise.all([
      getJson(url),
      getJson(`${url}/content`).catch(() => null),
      getJson(`${url}/invocations`).catch(() => ({ invocations: [] })),
      getJson('/api/deliveries?limit=1000').catch(() => ({ deliveries: [] })),
    ]);
    if (!context.shown) return;
    let tab = tabs.includes(location.hash.slice(1)) ? location.hash.slice(1) : 'trace';
    const head = h('div');
    const traceBox = h('section', { class: 'trace', 'aria-label': 'Trace' });
    const contentBox = h('section', { class: 'content' });
    const tabBar = h('div', { class: 'tabs', role: 'tablist' });

    const drawHead = () => fill(head, header(detail, content, context));
    const drawTrace = () => fill(traceBox, h('h2', {}, 'Trace'), timeline(detail, invocations.invocations, deliveries.deliveries));
    const drawTabs = () => {
      fill(tabBar, tabs.filter(t => t !== 'trace').map(t => {
        const label = { html: 'HTML', text: 'Text', headers: 'Headers', raw: 'Raw', attachments: `Attachments (${content?.attachments.length ?? 0})`, mail: 'SES mail' }[t];
        return h('button', { type: 'button', role: 'tab', 'aria-selected': String(tab === t), onclick: () => { tab = t; history.replaceState(null, '', `#${t}`); drawTabs(); drawContent(); } }, label);
      }));
    };
    const drawContent = () => fill(contentBox, tabBar, contentTab(tab === 'trace' ? (content?.hasHtml ? 'html' : 'text') : tab, id, detail, content));
    if (tab === 'trace') tab = content?.hasHtml ? 'html' : 'text';
    drawHead();
    drawTrace();
    drawTabs();
    drawContent();
    fill(context.main, head, h('div', { class: 'message-grid' }, traceBox, contentBox));

    // The trace grows while the message is processed, and again when it is replayed.
    let refreshing = null;
    context.subscribe(kind => {
      if (kind !== 'message' && kind !== 'invocation') return;
      refreshing ??= setTimeout(async () => {
        refreshing = null;
        try {
          const [next, calls, sent] = await Promise.all([getJson(url), getJson(`${url}/invocations`), getJson('/api/deliveries?limit=1000')]);
          if (!context.shown) return;
          const changed = JSON.stringify(next) !== JSON.stringify(detail) || calls.invocations.length !== invocations.invocations.length || JSON.stringify(sent) !== JSON.stringify(deliveries);
          [detail, invocations, deliveries] = [next, calls, sent];
          if (changed) {
            drawHead();
            drawTrace();
          }
        } catch {
          // The next event tries again.
        }
      }, 150);
    });
  };
}

function header(detail, content, context) {
  const m = detail.message;
  const id = m.messageId;
  const replay = h('button', { type: 'button', title: 'Run the message through the rules in force now', onclick: async () => {
    replay.disabled = true;
    try {
      const result = await post(`/api/messages/${encodeURIComponent(id)}/replay`);
      toast(`Replaying under configuration version ${result.ruleSetVersion}`);
    } catch (error) {
      toast(error.message, 'bad');
    } finally {
      replay.disabled = false;
    }
  } }, 'Replay');
  const copyEvent = h('button', { type: 'button', class: 'ghost', title: 'Copy the SES event a Lambda function got for this message', onclick: async () => {
    try {
      const text = await getText(`/api/messages/${encodeURIComponent(id)}/event`);
      await copyText(pretty(text));
      toast('SES event copied');
    } catch (error) {
      toast(error.message, 'bad');
    }
  } }, 'Copy SES event');
  const e = m.envelope;
  const from = content?.headers.find(x => x.name.toLowerCase() === 'from')?.value;
  return h('header', { class: 'message-head' },
    h('div', { class: 'crumbs' }, h('a', { href: '/messages' }, 'Messages'), ' / ', h('code', {}, id)),
    h('div', { class: 'title-row' },
      h('h1', {}, m.subject ?? '(no subject)'),
      h('div', { class: 'actions' }, replay, h('a', { class: 'button ghost', href: `/api/messages/${encodeURIComponent(id)}/raw`, download: `${id}.eml` }, 'Download .eml'), copyEvent)),
    h('div', { class: 'status-row' }, badge(m.status), m.ending ? h('span', { class: 'ending' }, endingText(m.ending)) : null,
      m.nextAttemptAt ? h('span', { class: 'muted' }, 'next attempt ', when(m.nextAttemptAt)) : null),
    h('dl', { class: 'envelope' },
      h('dt', {}, 'From'), h('dd', {}, from ? `${from} ` : '', h('span', { class: 'muted' }, `envelope ${e.mailFrom || '<>'}`)),
      h('dt', {}, 'To'), h('dd', {}, e.recipients.join(', ')),
      h('dt', {}, 'Received'), h('dd', {}, when(m.receivedAt), h('span', { class: 'muted' }, ` from ${e.clientName ?? '?'} [${e.remoteAddress ?? '?'}]${e.tls ? ` over ${e.tlsProtocol ?? 'TLS'}` : ', no TLS'}`)),
      h('dt', {}, 'Size'), h('dd', {}, bytes(m.size), h('span', { class: 'muted' }, ` · configuration version ${m.ruleSetVersion}`))));
}

function contentTab(tab, id, detail, content) {
  const base = `/api/messages/${encodeURIComponent(id)}`;
  if (!content && tab !== 'mail') return empty('The content of this message is no longer stored.');
  switch (tab) {
    case 'html': {
      if (!content.hasHtml) return empty('This message has no HTML body.');
      // No allow-scripts, no allow-same-origin: the body gets an origin of its own and runs nothing; the document's
      // own policy keeps remote content out until asked.
      const frame = h('iframe', { class: 'html-body', title: 'HTML body', sandbox: 'allow-popups allow-popups-to-escape-sandbox', referrerpolicy: 'no-referrer', src: `/console/messages/${encodeURIComponent(id)}/html` });
      const remote = h('button', { type: 'button', class: 'ghost small', onclick: () => {
        frame.src = `/console/messages/${encodeURIComponent(id)}/html?remote=1`;
        remote.replaceWith(h('span', { class: 'muted small' }, 'Remote content loaded'));
      } }, 'Load remote content');
      return h('div', {}, h('div', { class: 'frame-bar' }, h('span', { class: 'muted small' }, 'Scripts never run here; remote images and styles are blocked.'), remote), frame);
    }
    case 'text':
      return content.text ? h('pre', { class: 'body-text' }, content.text) : empty('This message has no text body.');
    case 'headers':
      return h('table', { class: 'headers' }, h('tbody', {}, content.headers.map(x => h('tr', {}, h('th', {}, x.name), h('td', {}, x.value)))));
    case 'raw': {
      const box = h('div', {}, h('div', { class: 'loading' }, 'Loading…'));
      getText(`${base}/raw`).then(text => fill(box, codeBlock(text, { label: 'RFC 5322 source' })), e => fill(box, failure(e)));
      return box;
    }
    case 'attachments':
      return content.attachments.length === 0 ? empty('No attachments.') : h('ul', { class: 'attachments' }, content.attachments.map(a =>
        h('li', {}, h('a', { href: `${base}/parts/${a.index}`, download: a.fileName }, a.fileName), h('span', { class: 'muted' }, ` ${a.contentType} · ${bytes(a.size)}${a.attachment ? '' : ' · inline'}`))));
    case 'mail':
      return detail.mail ? codeBlock(JSON.stringify(detail.mail, null, 2), { label: 'The mail object actions see' }) : empty('Not available.');
    default:
      return empty('');
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The trace as a timeline: runs (the first, then each replay), rules in each run, actions in each rule, and under a
// Lambda action the invocation (event, result, log, AWS calls); under an action with a topic, its notification and
// deliveries.

const requestIdPattern = /request ([0-9a-f-]{36})/;

function timeline(detail, invocations, deliveries) {
  const trace = detail.trace;
  if (trace.length === 0) return empty('Nothing has happened to this message yet.');
  const start = new Date(trace[0].at).getTime();
  const offset = at => `+${ms(new Date(at).getTime() - start)}`;
  const byRequest = new Map(invocations.map(i => [i.requestId, i]));
  const used = new Set();

  const runs = [];
  let run = { title: 'Received', entries: [] };
  for (const entry of trace) {
    if (entry.kind === 'note') {
      runs.push(run);
      run = { title: 'Replay', note: entry, entries: [] };
    } else {
      run.entries.push(entry);
    }
  }
  runs.push(run);

  const items = [];
  runs.forEach((r, index) => {
    if (r.note) items.push(h('li', { class: 'step note' }, h('div', { class: 'step-head' }, h('span', { class: 'kind' }, 'replay'), h('span', { class: 'detail' }, r.note.detail), h('span', { class: 'at' }, offset(r.note.at)))));
    let rule = null;
    let actionItems = new Map();
    for (const entry of r.entries) {
      switch (entry.kind) {
        case 'received':
        case 'verdicts':
          items.push(h('li', { class: `step ${entry.kind}` }, h('div', { class: 'step-head' },
            h('span', { class: 'kind' }, entry.kind), h('span', { class: 'detail' }, entry.detail ?? ''), h('span', { class: 'at' }, offset(entry.at)))));
          break;
        case 'rule': {
          const list = h('ol', { class: 'actions' });
          rule = h('li', { class: 'step rule' },
            h('div', { class: 'step-head' }, h('span', { class: 'kind' }, 'rule'), h('strong', { class: 'rule-name' }, entry.rule),
              h('span', { class: 'detail muted' }, `for ${(entry.recipients ?? []).join(', ')}`), h('span', { class: 'at' }, offset(entry.at))),
            list);
          rule.list = list;
          actionItems = new Map();
          items.push(rule);
          break;
        }
        case 'action': {
          const item = actionEntry(entry, byRequest, used, invocations, offset);
          const key = `${entry.rule}/${entry.action}`;
          // Calls and notifications of the action were recorded before the action's own entry.
          const earlier = actionItems.get(key);
          if (earlier?.pending) item.extra.prepend(...earlier.pending);
          actionItems.set(key, item);
          if (rule) rule.list.append(item.element);
          else items.push(item.element);
          break;
        }
        case 'aws-call':
        case 'notification':
        case 'bounce': {
          const key = `${entry.rule}/${entry.action}`;
          const node = sideEntry(entry, deliveries);
          const holder = actionItems.get(key);
          // A function's calls show in its invocation, when the invocation is known.
          if (entry.kind === 'aws-call' && invocations.length && entry.actionType === 'Lambda') break;
          if (holder?.extra) holder.extra.append(node);
          else actionItems.set(key, { pending: [...(holder?.pending ?? []), node] });
          break;
        }
        case 'end':
          items.push(h('li', { class: `step end ${index < runs.length - 1 ? 'past' : ''}` }, h('div', { class: 'step-head' },
            h('span', { class: 'kind' }, 'end'), h('span', { class: 'detail' }, entry.detail ?? ''), h('span', { class: 'at' }, offset(entry.at)))));
          break;
        default:
          items.push(h('li', { class: 'step' }, h('div', { class: 'step-head' }, h('span', { class: 'kind' }, entry.kind), h('span', { class: 'detail' }, entry.detail ?? ''))));
      }
    }
  });
  const others = invocations.filter(i => !used.has(i.requestId));
  if (others.length) {
    items.push(h('li', { class: 'step rule' }, h('div', { class: 'step-head' }, h('span', { class: 'kind' }, 'async'), h('strong', {}, 'Asynchronous invocations')),
      h('ol', { class: 'actions' }, others.map(i => h('li', { class: 'action' }, invocationPanel(i, true))))));
  }
  return h('ol', { class: 'timeline' }, items);
}

function actionEntry(entry, byRequest, used, invocations, offset) {
  const extra = h('div', { class: 'action-extra' });
  const requestId = (entry.detail ?? '').match(requestIdPattern)?.[1] ?? (entry.error ?? '').match(requestIdPattern)?.[1];
  const invocation = requestId ? byRequest.get(requestId) : null;
  if (invocation) {
    used.add(requestId);
    extra.append(invocationPanel(invocation, entry.outcome !== 'ok'));
  } else if (entry.actionType === 'Lambda' && requestId) {
    extra.append(h('div', { class: 'muted small' }, `Invocation ${requestId}: its record is kept in memory and the server has restarted since.`));
  }
  const element = h('li', { class: `action outcome-${entry.outcome}` },
    h('div', { class: 'step-head' },
      h('span', { class: 'position' }, `${(entry.action ?? 0) + 1}`),
      h('span', { class: 'type' }, entry.actionType),
      badge(entry.outcome),
      h('span', { class: 'detail' }, entry.detail ?? ''),
      h('span', { class: 'duration' }, ms(entry.durationMs)),
      h('span', { class: 'at' }, offset(entry.at))),
    entry.error ? h('div', { class: 'error' }, entry.error) : null,
    extra);
  return { element, extra };
}

function sideEntry(entry, deliveries) {
  if (entry.kind === 'aws-call') {
    return h('div', { class: 'side aws-call' }, h('span', { class: 'kind' }, 'aws call'), h('code', {}, entry.detail));
  }
  if (entry.kind === 'notification') {
    const snsId = (entry.detail ?? '').match(/as message (\S+) for/)?.[1];
    const mine = snsId ? deliveries.filter(d => d.messageId === snsId) : [];
    return h('div', { class: 'side notification' }, h('span', { class: 'kind' }, 'notification'), badge(entry.outcome ?? 'ok'), h('span', {}, entry.detail),
      mine.length ? h('ul', { class: 'deliveries' }, mine.map(d => h('li', {}, badge(d.status), ` ${d.subscriptionArn.split(':').slice(-2).join(':')} · ${d.attempts} attempt${d.attempts === 1 ? '' : 's'}`, d.lastError ? h('span', { class: 'error-text' }, ` ${d.lastError}`) : null))) : null);
  }
  return h('div', { class: 'side bounce' }, h('span', { class: 'kind' }, entry.kind), h('span', {}, entry.detail));
}

/** One function invocation: what went in, what came out, its log and its calls. */
export function invocationPanel(invocation, open) {
  const i = invocation;
  return h('div', { class: 'invocation' },
    h('div', { class: 'invocation-head' },
      h('span', { class: 'kind' }, 'λ'),
      h('a', { href: `/functions/${encodeURIComponent(i.functionName)}` }, i.functionName),
      i.errorType ? badge('error') : badge(i.disposition ?? 'CONTINUE'),
      h('span', { class: 'muted' }, ms(i.durationMs), i.initDurationMs ? ` (init ${ms(i.initDurationMs)})` : ''),
      h('code', { class: 'muted small' }, i.requestId)),
    i.errorType ? h('div', { class: 'error' }, `${i.errorType}: ${i.errorMessage ?? ''}`) : null,
    i.awsCalls.length ? h('ul', { class: 'calls' }, i.awsCalls.map(c => h('li', {}, h('code', {}, c)))) : null,
    i.log?.length ? h('div', { class: 'log small-log' }, i.log.map(l => logLine(l))) : null,
    disclosure('Event', codeBlock(pretty(i.event))),
    disclosure(i.errorType ? 'Error document' : 'Result', codeBlock(pretty(i.result)), open && !!i.errorType));
}

export function logLine(line) {
  const text = line.text;
  const marker = /^(START|END|REPORT|INIT_START) /.test(text);
  return h('div', { class: `line ${marker ? 'marker' : ''} ${/\b(ERROR|Error|error)\b/.test(text) ? 'err' : ''}` },
    h('span', { class: 'ts' }, new Date(line.at).toISOString().slice(11, 23)), h('span', { class: 'text' }, text));
}
