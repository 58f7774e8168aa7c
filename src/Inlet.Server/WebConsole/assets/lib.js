// Small helpers shared by the views: building DOM (text is always set as text, never parsed as HTML), talking to
// the JSON API, and formatting.

/** Builds an element: h('a', { href: '/x', class: 'link' }, 'text', child). Strings become text nodes. */
export function h(tag, attributes, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') element.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces the children of an element. */
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function check(response) {
  if (response.ok) return response;
  let code = String(response.status);
  let message = response.statusText;
  try {
    const body = await response.json();
    code = body.code ?? code;
    message = body.message ?? message;
  } catch {
    // Not a JSON error.
  }
  throw new ApiError(response.status, code, message);
}

export async function getJson(path) {
  return (await check(await fetch(path, { headers: { accept: 'application/json' } }))).json();
}

export async function getText(path) {
  return (await check(await fetch(path))).text();
}

/**
 * A state-changing request. The custom header marks it as the console's: a cross-site form cannot send one, and a
 * cross-site script would need a CORS preflight that the server never grants.
 */
export async function post(path, body, contentType = 'application/json') {
  const response = await check(await fetch(path, {
    method: 'POST',
    headers: { 'X-Inlet-Console': '1', ...(body === undefined ? {} : { 'content-type': contentType }) },
    body,
  }));
  const type = response.headers.get('content-type') ?? '';
  return type.includes('json') ? response.json() : null;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const dateFormat = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric' });

/** "14:03:12" today, "Mar 3, 2025 14:03:12" otherwise; the full ISO time in the title. */
export function when(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  const today = new Date().toDateString() === date.toDateString();
  return h('time', { datetime: iso, title: iso }, today ? timeFormat.format(date) : `${dateFormat.format(date)} ${timeFormat.format(date)}`);
}

export function ms(value) {
  if (value === undefined || value === null) return '';
  if (value < 1) return `${value.toFixed(2)} ms`;
  if (value < 1000) return `${Math.round(value)} ms`;
  return `${(value / 1000).toFixed(value < 10000 ? 2 : 1)} s`;
}

export function bytes(value) {
  if (value < 1024) return `${value} B`;
  if (value < 1024 * 1024) return `${(value / 1024).toFixed(1)} KB`;
  return `${(value / 1024 / 1024).toFixed(1)} MB`;
}

/** A status word as a coloured badge; the colour follows the word's meaning. */
export function badge(text, kind) {
  const tone = kind ?? ({
    processed: 'ok', delivered: 'ok', ok: 'ok', sent: 'ok', confirmed: 'ok', active: 'ok', CONTINUE: 'ok',
    queued: 'wait', processing: 'wait', pending: 'wait', retrying: 'warn', held: 'wait', inline: 'wait',
    failed: 'bad', rejected: 'bad', dead: 'bad', expired: 'bad', bounced: 'warn', error: 'bad',
    'stop-rule': 'stop', 'stop-rule-set': 'stop', STOP_RULE: 'stop', STOP_RULE_SET: 'stop', unsupported: 'muted', disabled: 'muted',
  })[text] ?? 'muted';
  return h('span', { class: `badge ${tone}` }, text);
}

/** How a finished message's evaluation ended, in a few words. */
export function endingText(ending) {
  if (!ending) return '';
  switch (ending.disposition) {
    case 'stop-rule-set': return `STOP_RULE_SET by ${ending.actionType} in ${ending.rule}`;
    case 'all-rules-ran': return `${ending.rulesRun} rule${ending.rulesRun === 1 ? '' : 's'} ran`;
    case 'no-rule': return 'no rule applied';
    case 'rejected': return 'rejected';
    default: return ending.disposition;
  }
}

export function pretty(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** A block of code or JSON, scrollable, with a copy button. */
export function codeBlock(text, { label, className } = {}) {
  const copy = h('button', { type: 'button', class: 'ghost small copy', onclick: async () => {
    await copyText(text);
    copy.textContent = 'Copied';
    setTimeout(() => { copy.textContent = 'Copy'; }, 1500);
  } }, 'Copy');
  return h('div', { class: `code ${className ?? ''}` }, label ? h('div', { class: 'code-label' }, label, copy) : copy, h('pre', {}, text));
}

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // No clipboard (an insecure context or no permission): select a copy for the user instead.
    const area = h('textarea', { class: 'offscreen' });
    area.value = text;
    document.body.append(area);
    area.select();
    document.execCommand('copy');
    area.remove();
  }
}

/** A message shown in place of a view's content when loading it failed. */
export function failure(error) {
  return h('div', { class: 'notice bad', role: 'alert' }, error instanceof ApiError ? `${error.code}: ${error.message}` : String(error));
}

/** Shows a short message at the bottom of the window. */
export function toast(text, tone = 'ok') {
  const box = document.getElementById('toasts');
  const item = h('div', { class: `toast ${tone}`, role: 'status' }, text);
  box.append(item);
  setTimeout(() => item.remove(), 4000);
}

export function empty(text) {
  return h('div', { class: 'empty' }, text);
}

/** A <details> block. */
export function disclosure(summary, content, open = false) {
  return h('details', { open }, h('summary', {}, summary), content);
}
