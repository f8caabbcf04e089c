// The app's entry: find out whether this browser is logged in, then route
// on location.hash ("#/files/<mid>/<path>") to one page at a time. A page
// is a function render(main, params) that fills <main> and may return a
// function to call when it is left (to unsubscribe from events, free
// previews).

import { get, onLoggedOut } from './api.js';
import * as events from './events.js';
import { bytes, fill, flash, h, short } from './ui.js';
import * as login from './pages/login.js';
import * as home from './pages/home.js';
import * as files from './pages/files.js';
import * as database from './pages/database.js';
import * as contacts from './pages/contacts.js';
import * as sharing from './pages/sharing.js';
import * as network from './pages/network.js';
import * as settings from './pages/settings.js';

const routes = [
  { re: /^\/?$/, page: home, title: 'Home', nav: '#/' },
  { re: /^\/files(?:\/([^/]+)(?:\/(.*))?)?$/, page: files, title: 'Files', nav: '#/files' },
  { re: /^\/db(?:\/([^/]+))?\/?$/, page: database, title: 'Database', nav: '#/db' },
  { re: /^\/contacts\/?$/, page: contacts, title: 'Contacts', nav: '#/contacts' },
  { re: /^\/sharing\/?$/, page: sharing, title: 'Sharing', nav: '#/sharing' },
  { re: /^\/network\/?$/, page: network, title: 'Network', nav: '#/network' },
  { re: /^\/settings\/?$/, page: settings, title: 'Settings', nav: '#/settings' },
];

const session = { whoami: null };
let leave = null;
const main = () => document.getElementById('main');

function route() {
  if (leave) { try { leave(); } catch { /* a page's cleanup must not stop navigation */ } }
  leave = null;
  document.getElementById('alert').hidden = true;
  const hash = location.hash.replace(/^#/, '').split('?')[0] || '/'; // pages decode segments
  if (!session.whoami) {
    document.title = 'Log in · Peer';
    leave = login.render(main(), { loggedIn });
    return;
  }
  for (const r of routes) {
    const m = r.re.exec(hash);
    if (!m) continue;
    document.title = `${r.title} · Peer`;
    for (const a of document.querySelectorAll('#nav a')) {
      if (a.getAttribute('href') === r.nav) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    leave = r.page.render(main(), { match: m, session, logout }) || null;
    return;
  }
  document.title = 'Not found · Peer';
  fill(main(), h('h1', { text: 'Page not found' }), h('p', {}, 'There is no page here. ', h('a', { href: '#/', text: 'Go home' }), '.'));
}

// loggedIn is called by the login page once the node has set the cookie.
async function loggedIn() {
  await check();
  if (session.whoami) {
    if (/^#\/?(login|pair)/.test(location.hash)) location.hash = '#/';
    route();
  }
}

// check asks the node who we are: 401 means not logged in.
async function check() {
  try {
    session.whoami = await get('/console/whoami');
  } catch (e) {
    session.whoami = null;
    if (e.status !== 401) throw e;
  }
  document.getElementById('nav').hidden = !session.whoami;
  if (session.whoami) {
    events.connect();
    get('/status').then((s) => showDisk(s.disk), () => {});
  } else {
    events.disconnect();
    showDisk(null);
  }
}

// showDisk shows the banner of a disk that is filling up (the status's
// disk, or a disk.* event's payload), or hides it.
function showDisk(d) {
  const el = document.getElementById('disk');
  if (!d || !session.whoami || d.level === 'ok') {
    el.hidden = true;
    return;
  }
  const free = `${bytes(d.free)} free of ${bytes(d.total)}`;
  if (d.read_only) {
    el.textContent = `Disk full (${free}): the node started without room to write, so it only serves reads. Free space on the disk, then restart the node.`;
  } else if (d.level === 'full') {
    el.textContent = `Disk full (${free}): new files, fetches and backups are refused below the ${bytes(d.reserve)} reserve. ` +
      'Delete MiMei or old versions, then run peer store gc, or free space on the disk.';
  } else {
    el.textContent = `Disk space is low (${free}): new data will be refused below ${bytes(d.reserve)}.`;
  }
  el.hidden = false;
}

async function logout() {
  session.whoami = null;
  events.disconnect();
  document.getElementById('nav').hidden = true;
  route();
}

function showLive(state) {
  const el = document.getElementById('live');
  const text = { live: 'Live', connecting: 'Reconnecting…', closed: 'Offline', off: '' }[state];
  el.textContent = text;
  el.className = `live ${state}`;
  el.title = state === 'live' ? 'Receiving live updates from the node' : '';
}

async function start() {
  events.onState(showLive);
  // Never silent: a version from another device that the working files
  // did not take (they had changes of their own) is announced on any page.
  events.subscribe(['disk.ok', 'disk.low', 'disk.full'], (d) => showDisk(d));
  events.subscribe(['share.diverged'], (d) => {
    if (!d) return;
    flash(`Version ${d.version} of MiMei ${short(d.mimei, 8)} arrived from another device while its files had changes made here. ` +
      'Both are kept: open it in Files to compare.');
  });
  // The browser gives up on the stream only when the node refuses it (the
  // session ended): find out, and show the login page if so.
  events.onState((s) => { if (s === 'closed' && session.whoami) check().then(() => { if (!session.whoami) route(); }, () => {}); });
  onLoggedOut(() => { if (session.whoami) logout(); });
  // After following a link, keyboard and screen-reader users start at the
  // new page's content, not at the link they used.
  window.addEventListener('hashchange', () => { route(); main().focus({ preventScroll: true }); });
  try {
    await check();
  } catch (e) {
    fill(main(), h('h1', { text: 'Cannot reach the node' }), h('p', { class: 'error', role: 'alert', text: e.message }),
      h('button', { type: 'button', text: 'Try again', on: { click: start } }));
    return;
  }
  route();
}

start();
