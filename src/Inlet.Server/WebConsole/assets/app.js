// The console: a layout, a router over the views' URLs (each view has one, so it can be shared), the live stream
// from the server, and the keyboard shortcuts.
import { h, fill, failure } from './lib.js';
import { messagesView, messageView } from './messages.js';
import { rulesView } from './rules.js';
import { functionsView, functionView } from './functions.js';
import { topicsView, deliveriesView, invocationsView, outboxView, outboxItemView, aboutView } from './pages.js';

export const info = JSON.parse(document.getElementById('inlet-info').textContent);

const routes = [
  [/^\/(?:messages\/?)?$/, () => messagesView],
  [/^\/messages\/([^/]+)$/, m => messageView(decodeURIComponent(m[1]))],
  [/^\/rules$/, () => rulesView],
  [/^\/functions$/, () => functionsView],
  [/^\/functions\/([^/]+)$/, m => functionView(decodeURIComponent(m[1]))],
  [/^\/topics$/, () => topicsView],
  [/^\/deliveries$/, () => deliveriesView],
  [/^\/invocations$/, () => invocationsView],
  [/^\/outbox$/, () => outboxView],
  [/^\/outbox\/([^/]+)$/, m => outboxItemView(decodeURIComponent(m[1]))],
  [/^\/about$/, () => aboutView],
];

const sections = [
  ['Messages', '/messages', 'm'],
  ['Rules', '/rules', 'r'],
  ['Functions', '/functions', 'f'],
  ['Topics', '/topics', 't'],
  ['Deliveries', '/deliveries', 'd'],
  ['Invocations', '/invocations', 'i'],
  ['Outbox', '/outbox', 'o'],
  ['About', '/about', 'a'],
];

const main = h('main', { id: 'main', tabindex: '-1' });
const live = h('span', { class: 'live', title: 'Live updates from the server' }, 'connecting');
const nav = h('nav', { 'aria-label': 'Sections' },
  h('a', { class: 'brand', href: '/messages' }, h('img', { src: '/console/icon.svg', alt: '', width: 22, height: 22 }), 'Inlet'),
  h('ul', {}, sections.map(([name, path, key]) =>
    h('li', {}, h('a', { href: path, dataset: { section: path }, title: `${name} (g then ${key})` }, name)))),
  h('div', { class: 'nav-foot' }, live, h('span', { class: 'version' }, info.version.split('+')[0])));
document.body.prepend(h('div', { class: 'layout' }, nav, main), h('div', { id: 'toasts', 'aria-live': 'polite' }));

// One stream of server-sent events for the whole page; a view that follows a function's log asks for it, and the
// stream is opened again with that function named.
let source = null;
let followed = null;
const listeners = new Set();

function connect() {
  source?.close();
  // Live again only once this stream is open: until then, what it follows is not being sent.
  live.textContent = 'connecting';
  live.classList.remove('on');
  source = new EventSource(followed ? `/api/events?function=${encodeURIComponent(followed)}` : '/api/events');
  source.onopen = () => { live.textContent = 'live'; live.classList.add('on'); };
  source.onerror = () => { live.textContent = 'reconnecting'; live.classList.remove('on'); };
  for (const kind of ['message', 'invocation', 'log']) {
    source.addEventListener(kind, event => {
      const data = JSON.parse(event.data);
      for (const listener of listeners) listener(kind, data);
    });
  }
}

/** Calls listener(kind, data) for every event until the view changes. */
export function subscribe(listener, { follow } = {}) {
  listeners.add(listener);
  if ((follow ?? null) !== followed) {
    followed = follow ?? null;
    connect();
  }
  return () => listeners.delete(listener);
}

let cleanup = [];
let current = 0;

/** Every view gets a context: where to draw, a way to register cleanup, and whether it is still shown. */
async function render() {
  for (const undo of cleanup) undo();
  cleanup = [];
  const run = ++current;
  const path = location.pathname.replace(/\/+$/, '') || '/';
  for (const link of nav.querySelectorAll('a[data-section]')) {
    const active = path === link.dataset.section || path.startsWith(link.dataset.section + '/') || (path === '/' && link.dataset.section === '/messages');
    link.toggleAttribute('aria-current', active);
    if (active) link.setAttribute('aria-current', 'page');
  }
  const route = routes.find(([pattern]) => pattern.test(path));
  const context = {
    main,
    params: new URLSearchParams(location.search),
    onLeave: undo => cleanup.push(undo),
    subscribe: (listener, options) => cleanup.push(subscribe(listener, options)),
    get shown() { return run === current; },
  };
  if (!route) {
    fill(main, h('h1', {}, 'Not found'), h('p', {}, 'No view has this address. ', h('a', { href: '/messages' }, 'Messages')));
    return;
  }
  if (followed && !path.startsWith('/functions/')) {
    followed = null;
    connect();
  }
  try {
    fill(main, h('div', { class: 'loading' }, 'Loading…'));
    await route[1](path.match(route[0]))(context);
  } catch (error) {
    if (run === current) fill(main, failure(error));
  }
}

export function navigate(url, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  connect();
render();
  if (!replace) window.scrollTo(0, 0);
}

document.addEventListener('click', event => {
  const link = event.target.closest('a[href]');
  if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  if (link.target || link.hasAttribute('download')) return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith('/api/') || url.pathname.startsWith('/docs/') || url.pathname.startsWith('/console/')) return;
  event.preventDefault();
  navigate(url.pathname + url.search + url.hash);
});

window.addEventListener('popstate', render);

// Keyboard: "/" searches, "g" then a letter goes to a section, "?" shows the shortcuts; lists take j/k and Enter.
let pendingG = false;
document.addEventListener('keydown', event => {
  const target = event.target;
  if (event.ctrlKey || event.metaKey || event.altKey || target.closest('input, textarea, select, [contenteditable]')) {
    if (event.key === 'Escape' && target.blur) target.blur();
    return;
  }
  if (pendingG) {
    pendingG = false;
    const section = sections.find(s => s[2] === event.key);
    if (section) {
      event.preventDefault();
      navigate(section[1]);
    }
    return;
  }
  if (event.key === 'g') {
    pendingG = true;
    setTimeout(() => { pendingG = false; }, 1000);
  } else if (event.key === '/') {
    const search = main.querySelector('input[type=search]');
    if (search) {
      event.preventDefault();
      search.focus();
      search.select();
    }
  } else if (event.key === '?') {
    navigate('/about#keys');
  } else if (event.key === 'j' || event.key === 'k') {
    const rows = [...main.querySelectorAll('[data-row]')];
    if (rows.length === 0) return;
    const at = rows.indexOf(document.activeElement);
    const next = event.key === 'j' ? Math.min(rows.length - 1, at + 1) : Math.max(0, at < 0 ? 0 : at - 1);
    rows[next].focus();
    event.preventDefault();
  }
});

connect();
render();
