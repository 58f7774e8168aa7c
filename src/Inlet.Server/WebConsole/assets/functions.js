// Functions: the list, and one function with its configuration, recent invocations, an invoke form and its log,
// which follows live.
import { h, fill, getJson, getText, post, when, ms, bytes, badge, failure, empty } from './lib.js';
import { invocationPanel, logLine } from './messages.js';
import { navigate } from './app.js';

export async function functionsView(context) {
  const { functions } = await getJson('/api/functions');
  if (!context.shown) return;
  fill(context.main,
    h('header', { class: 'page-head' }, h('h1', {}, 'Functions')),
    functions.length === 0 ? empty('No functions. Declare Functions in inlet.yaml or create one with aws lambda create-function.') :
      h('table', { class: 'list' },
        h('thead', {}, h('tr', {}, ['Name', 'Runtime', 'Handler', 'Timeout', 'Memory'].map(t => h('th', {}, t)))),
        h('tbody', {}, functions.map(f => {
          const href = `/functions/${encodeURIComponent(f.functionName)}`;
          return h('tr', { tabindex: 0, 'data-row': '', class: 'clickable', onclick: e => { if (!e.target.closest('a')) navigate(href); }, onkeydown: e => { if (e.key === 'Enter') navigate(href); } },
            h('td', {}, h('a', { href }, f.functionName)), h('td', {}, f.runtime), h('td', {}, h('code', {}, f.url ?? f.handler)),
            h('td', { class: 'num' }, `${f.timeout} s`), h('td', { class: 'num' }, `${f.memorySize} MB`));
        }))));
}

export function functionView(name) {
  return async context => {
    const base = `/api/functions/${encodeURIComponent(name)}`;
    const [config, history, recent, tail] = await Promise.all([
      getJson(base),
      getJson(`${base}/invocations?limit=50`),
      getJson('/api/messages?limit=20').catch(() => ({ messages: [] })),
      getText(`${base}/logs?tail=200`).catch(() => ''),
    ]);
    if (!context.shown) return;

    const invocations = h('tbody');
    const drawInvocation = i => h('tr', {},
      h('td', { class: 'nowrap' }, when(i.startedAt)),
      h('td', { class: 'num' }, ms(i.durationMs)),
      h('td', {}, i.errorType ? badge('error') : badge(i.disposition ?? 'CONTINUE')),
      h('td', { class: 'ellipsis' }, source(i.source)),
      h('td', { class: 'ellipsis error-text' }, i.errorType ? `${i.errorType}: ${i.errorMessage ?? ''}` : ''),
      h('td', {}, h('code', { class: 'small muted' }, i.requestId.slice(0, 8))));
    invocations.append(...history.invocations.map(drawInvocation));

    // The log: the newest lines now, then each line as the function writes it.
    const log = h('div', { class: 'log', tabindex: 0, 'aria-label': `Log of ${name}`, role: 'log' });
    for (const text of tail.split('\n').filter(Boolean)) log.append(h('div', { class: `line ${/^(START|END|REPORT) /.test(text) ? 'marker' : ''}` }, h('span', { class: 'text' }, text)));
    let paused = false;
    const pause = h('button', { type: 'button', class: 'ghost small', onclick: () => { paused = !paused; pause.textContent = paused ? 'Follow' : 'Pause'; } }, 'Pause');
    const clear = h('button', { type: 'button', class: 'ghost small', onclick: () => log.replaceChildren() }, 'Clear');

    const output = h('div', { 'aria-live': 'polite' });
    const choice = h('select', { name: 'message', 'aria-label': 'Stored message' },
      h('option', { value: '' }, 'Custom event (below)'),
      recent.messages.map(m => h('option', { value: m.messageId }, `${m.subject ?? '(no subject)'} — ${m.envelope.mailFrom || '<>'} — ${m.messageId.slice(0, 12)}`)));
    const custom = h('textarea', { rows: 4, spellcheck: 'false', 'aria-label': 'Event JSON' });
    custom.value = '{}';
    const invoke = h('button', { type: 'submit' }, 'Invoke');
    const form = h('form', { class: 'invoke', onsubmit: async event => {
      event.preventDefault();
      invoke.disabled = true;
      try {
        const result = choice.value
          ? await post(`${base}/invoke?message=${encodeURIComponent(choice.value)}`)
          : await post(`${base}/invoke`, custom.value);
        fill(output, invocationPanel(result, true));
      } catch (error) {
        fill(output, failure(error));
      } finally {
        invoke.disabled = false;
      }
    } }, h('label', {}, 'Event of a stored message', choice), h('label', { class: 'wide' }, 'or a custom event', custom), h('div', {}, invoke));

    const env = Object.entries(config.environment ?? {});
    fill(context.main,
      h('div', { class: 'crumbs' }, h('a', { href: '/functions' }, 'Functions'), ' / ', config.functionName),
      h('header', { class: 'page-head' }, h('h1', {}, config.functionName), h('span', { class: 'muted' }, config.runtime)),
      h('div', { class: 'function-grid' },
        h('section', { class: 'card' }, h('h2', {}, 'Configuration'),
          h('dl', { class: 'config' },
            item('ARN', h('code', {}, config.functionArn)),
            item('Handler', h('code', {}, config.url ?? config.handler)),
            item('Code', config.codePath ? h('code', {}, config.codePath) : '—', config.codeSize ? h('span', { class: 'muted' }, ` ${bytes(config.codeSize)}`) : null),
            item('Timeout', `${config.timeout} s`),
            item('Memory', `${config.memorySize} MB`),
            item('Role', config.role ? h('code', {}, config.role) : '—'),
            item('Concurrency', config.reservedConcurrentExecutions ?? 'unreserved'),
            item('Async retries', `${config.maximumRetryAttempts}, events kept ${Math.round(config.maximumEventAgeInSeconds / 60)} min`),
            item('Modified', when(config.lastModified))),
          env.length ? h('table', { class: 'headers' }, h('caption', {}, 'Environment'), h('tbody', {}, env.map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, h('code', {}, v)))))) : null),
        h('section', { class: 'card' }, h('h2', {}, 'Invoke'), form, output)),
      h('section', { class: 'card' }, h('div', { class: 'card-head' }, h('h2', {}, 'Log'), h('span', { class: 'live-dot' }, 'following'), pause, clear), log),
      h('section', { class: 'card' }, h('h2', {}, 'Recent invocations'),
        h('table', { class: 'list' }, h('thead', {}, h('tr', {}, ['Started', 'Duration', 'Result', 'Source', 'Error', 'Request'].map(t => h('th', {}, t)))), invocations),
        history.invocations.length ? null : h('p', { class: 'muted', id: 'no-invocations' }, 'None since the server started.')));
    log.scrollTop = log.scrollHeight;

    context.subscribe((kind, data) => {
      if (kind === 'log') {
        const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
        log.append(logLine(data));
        while (log.childElementCount > 2000) log.firstElementChild.remove();
        if (!paused && atBottom) log.scrollTop = log.scrollHeight;
      } else if (kind === 'invocation' && data.functionName === config.functionName) {
        document.getElementById('no-invocations')?.remove();
        const fresh = drawInvocation(data);
        fresh.classList.add('arrived');
        invocations.prepend(fresh);
      }
    }, { follow: config.functionName });
  };
}

function item(label, ...value) {
  return [h('dt', {}, label), h('dd', {}, value)];
}

function source(text) {
  if (!text) return '';
  const [kind, id] = text.split(/:(.*)/);
  if ((kind === 'ses' || kind === 'console') && id) return h('a', { href: `/messages/${encodeURIComponent(id)}` }, kind === 'ses' ? 'SES message' : 'console, message', ' ', h('code', {}, id.slice(0, 12)));
  return text;
}
