// Database: the MiMei list, and for one MiMei its database space: keys
// grouped by type with their values (SCAN with a MATCH filter, paged by
// the cursor), and for a browser that may write, setting a string key and
// deleting a key. Everything goes through POST /api/v1/mimei/{mid}/db, one
// Redis-like command at a time.

import { get, post } from '../api.js';
import * as events from '../events.js';
import { busy, canWrite, copyButton, count, decodeSegment, errorBox, field, fill, h, readOnlyNote, section, short, showError, when } from '../ui.js';

const PAGE = 50; // keys examined per SCAN
const MAX_ITEMS = 100; // elements shown of a hash, list, set or sorted set
const MAX_TEXT = 300; // characters shown of one value
const PARALLEL = 6; // key reads in flight at once

const TYPES = [['string', 'Strings'], ['hash', 'Hashes'], ['list', 'Lists'], ['set', 'Sets'], ['zset', 'Sorted sets']];


export function render(main, { match, session }) {
  if (!match[1]) return list(main);
  return database(main, decodeSegment(match[1]), canWrite(session));
}

// list shows every MiMei, each a link to its database.
function list(main) {
  const box = h('div', { 'aria-busy': 'true' }, h('p', { class: 'muted', text: 'Loading…' }));
  fill(main,
    h('h1', { text: 'Database' }),
    section('Your MiMei', h('p', { class: 'muted', text: 'Each MiMei has a database of keys next to its files. Pick one to see its keys.' }), box));

  async function load() {
    try {
      const { mimei } = await get('/mimei');
      box.removeAttribute('aria-busy');
      if (!mimei.length) {
        fill(box, h('p', {}, 'No MiMei yet: create one on the ', h('a', { href: '#/files', text: 'Files' }), ' page.'));
        return;
      }
      mimei.sort((a, b) => String(b.modified || b.created).localeCompare(String(a.modified || a.created)));
      fill(box, h('ul', { class: 'list', id: 'db-mimei-list' }, mimei.map((m) => h('li', { class: 'item' },
        h('a', { href: `#/db/${encodeURIComponent(m.id)}`, class: 'name', title: m.id, 'aria-label': `Database of ${m.id}` }, h('code', { text: short(m.id, 8) })),
        h('span', { class: 'tag', text: m.app_type + (m.ext ? '.' + m.ext : '') }),
        h('span', { class: 'meta', text: `${count(m.versions, 'version')} · ${when(m.modified || m.created)}` })))));
    } catch (ex) {
      box.removeAttribute('aria-busy');
      fill(box, h('p', { class: 'error', role: 'alert', text: ex.message }));
    }
  }
  load();
  return events.subscribe(['mimei.backup'], load);
}

// clip shortens a long value for the table and says so.
function clip(s) {
  if (s === null || s === undefined) return h('span', { class: 'muted', text: '(nil)' });
  if (s.length <= MAX_TEXT) return s;
  return [s.slice(0, MAX_TEXT), h('span', { class: 'muted', text: ` … (first ${MAX_TEXT} of ${s.length} characters)` })];
}

const bulk = (r) => (r && r.kind === 'bulk' ? r.bulk : null);
const strings = (r) => ((r && r.array) || []).map(bulk);

// database shows one MiMei's database space.
function database(main, mid, writable) {
  const base = `/mimei/${encodeURIComponent(mid)}`;
  const cmd = (...args) => post(`${base}/db`, { args: args.map(String) });
  const keys = new Map(); // key -> {type, value node}
  let cursor = '0';
  let pattern = '*';
  let gen = 0; // bumped by each fresh load, so a stale one stops

  const crumbs = h('nav', { class: 'crumbs', 'aria-label': 'Where' },
    h('a', { href: '#/db', text: 'Database' }), h('span', { 'aria-hidden': 'true', text: '›' }),
    h('a', { href: `#/db/${encodeURIComponent(mid)}`, title: mid, 'aria-current': 'page', text: short(mid, 6) }));
  const head = h('div', {},
    h('p', { class: 'idline' }, h('code', { class: 'id', text: mid }), copyButton(mid, 'MiMei ID')),
    h('p', {}, h('a', { href: `#/files/${encodeURIComponent(mid)}`, text: 'Files of this MiMei' })));

  const filter = field('Filter keys', { name: 'match', value: '', placeholder: 'user:*', autocomplete: 'off', spellcheck: 'false' },
    '* matches any run of characters, ? one character, [abc] one of a, b, c. Empty: every key.');
  const filterBtn = h('button', { type: 'submit', text: 'Filter' });
  const refreshBtn = h('button', { type: 'button', id: 'db-refresh', text: 'Refresh' });
  const filterForm = h('form', { class: 'row-form', 'aria-label': 'Find keys' }, filter.wrap, filterBtn, refreshBtn);
  filterForm.addEventListener('submit', (e) => {
    e.preventDefault();
    pattern = filter.input.value.trim() || '*';
    busy(filterBtn, reload);
  });
  refreshBtn.addEventListener('click', () => busy(refreshBtn, reload));

  const summary = h('p', { class: 'muted', id: 'db-summary', 'aria-live': 'polite' });
  const table = h('div', { class: 'db-table', 'aria-busy': 'true' }, h('p', { class: 'muted', text: 'Loading…' }));
  const loadErr = errorBox();
  const moreBtn = h('button', { type: 'button', id: 'db-more', text: 'Load more', hidden: true });
  moreBtn.addEventListener('click', () => busy(moreBtn, () => page(gen)));

  fill(main, crumbs, h('h1', { text: 'Database' }), head,
    section('Keys', filterForm, summary, loadErr, table, moreBtn),
    writable ? h('div', { class: 'grid' }, setForm(), delForm()) : readOnlyNote());

  // readKey fetches a key's type and its value (capped) as a table cell's
  // content; type "none" means the key is gone.
  async function readKey(key) {
    const type = (await cmd('TYPE', key)).status;
    let value = null;
    switch (type) {
      case 'string':
        value = h('span', { class: 'db-str' }, clip(bulk(await cmd('GET', key))));
        break;
      case 'hash': {
        const [n, r] = await Promise.all([cmd('HLEN', key), cmd('HSCAN', key, '0', 'COUNT', MAX_ITEMS)]);
        const fv = strings(r.array && r.array[1]);
        const rows = [];
        for (let i = 0; i + 1 < fv.length && rows.length < MAX_ITEMS; i += 2) rows.push([fv[i], fv[i + 1]]);
        value = pairs(['Field', 'Value'], rows, n.int);
        break;
      }
      case 'list': {
        const [n, r] = await Promise.all([cmd('LLEN', key), cmd('LRANGE', key, 0, MAX_ITEMS - 1)]);
        value = pairs(['Index', 'Value'], strings(r).map((v, i) => [String(i), v]), n.int);
        break;
      }
      case 'set': {
        const [n, r] = await Promise.all([cmd('SCARD', key), cmd('SSCAN', key, '0', 'COUNT', MAX_ITEMS)]);
        value = items(strings(r.array && r.array[1]).slice(0, MAX_ITEMS), n.int);
        break;
      }
      case 'zset': {
        const [n, r] = await Promise.all([cmd('ZCARD', key), cmd('ZRANGE', key, 0, MAX_ITEMS - 1, 'WITHSCORES')]);
        const ms = (r.array || []).map((x) => (x.kind === 'bulk' ? x.bulk : x.float || String(x.int)));
        const rows = [];
        for (let i = 0; i + 1 < ms.length; i += 2) rows.push([ms[i], ms[i + 1]]);
        value = pairs(['Member', 'Score'], rows, n.int);
        break;
      }
      default:
        break;
    }
    return { type, value };
  }

  // pairs is a two-column table of a hash, list or sorted set.
  function pairs(cols, rows, total) {
    if (!rows.length) return h('span', { class: 'muted', text: '(empty)' });
    return [h('table', { class: 'db-inner' },
      h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col', text: c })))),
      h('tbody', {}, rows.map(([a, b]) => h('tr', {}, h('td', {}, clip(a)), h('td', {}, clip(b)))))),
    more(rows.length, total)];
  }

  function items(vals, total) {
    if (!vals.length) return h('span', { class: 'muted', text: '(empty)' });
    return [h('ul', { class: 'db-set' }, vals.map((v) => h('li', {}, clip(v)))), more(vals.length, total)];
  }

  function more(shown, total) {
    return total > shown ? h('p', { class: 'muted hint', text: `First ${shown} of ${total} shown.` }) : null;
  }

  // readAll reads keys a few at a time.
  async function readAll(names) {
    const out = new Map();
    let next = 0;
    async function worker() {
      while (next < names.length) {
        const k = names[next];
        next += 1;
        out.set(k, await readKey(k));
      }
    }
    await Promise.all(Array.from({ length: Math.min(PARALLEL, names.length) }, worker));
    return out;
  }

  // page reads the next SCAN pages until some keys come (a MATCH can skip
  // whole pages) or the scan is over.
  async function page(g) {
    try {
      let found = [];
      for (let round = 0; round < 20 && !found.length; round += 1) {
        const r = await cmd('SCAN', cursor, 'MATCH', pattern, 'COUNT', PAGE);
        if (g !== gen) return;
        cursor = bulk(r.array[0]) || '0';
        found = strings(r.array[1]).filter((k) => k !== null);
        if (cursor === '0') break;
      }
      const got = await readAll(found);
      if (g !== gen) return;
      for (const [k, v] of got) if (v.type !== 'none') keys.set(k, v);
      showError(loadErr, null);
    } catch (ex) {
      if (g === gen) showError(loadErr, ex);
    }
    if (g === gen) draw();
  }

  async function reload() {
    gen += 1;
    cursor = '0';
    keys.clear();
    await page(gen);
  }

  function draw() {
    table.removeAttribute('aria-busy');
    moreBtn.hidden = cursor === '0';
    const filtered = pattern !== '*' ? ` matching ${pattern}` : '';
    summary.textContent = `${count(keys.size, 'key')}${filtered}${cursor === '0' ? '' : ' so far'}.`;
    if (!keys.size) {
      fill(table, h('p', { class: 'muted', text: cursor === '0' ? (pattern === '*' ? 'This database has no keys.' : 'No keys match.') : 'No keys yet: load more.' }));
      return;
    }
    const groups = TYPES.map(([type, title]) => {
      const ks = [...keys].filter(([, v]) => v.type === type).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      if (!ks.length) return null;
      return h('tbody', { 'data-type': type },
        h('tr', { class: 'db-group' }, h('th', { colspan: 2, scope: 'colgroup', text: `${title} (${ks.length})` })),
        ks.map(([k, v]) => h('tr', { 'data-key': k, 'data-type': type },
          h('th', { scope: 'row', class: 'db-key' }, h('code', { text: k })),
          h('td', { class: 'db-value' }, v.value))));
    });
    fill(table, h('table', { id: 'db-keys', class: 'db' },
      h('caption', { class: 'visually-hidden', text: 'Keys and their values, grouped by type' }),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: 'Key' }), h('th', { scope: 'col', text: 'Value' }))),
      groups));
  }

  // update re-reads one key after a change made here.
  async function update(key) {
    const v = await readKey(key);
    if (v.type === 'none') keys.delete(key);
    else keys.set(key, v);
    draw();
  }

  function setForm() {
    const key = field('Key', { name: 'set-key', autocomplete: 'off', spellcheck: 'false', required: true });
    const val = field('Value', { name: 'set-value', autocomplete: 'off', spellcheck: 'false' });
    const err = errorBox();
    const btn = h('button', { type: 'submit', class: 'primary', text: 'Set key' });
    const form = h('form', { class: 'stack db-form', 'aria-label': 'Set a string key' }, key.wrap, val.wrap, btn, err);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const k = key.input.value;
      if (!k) { showError(err, new Error('Type the key to set.')); return; }
      busy(btn, async () => {
        try {
          await cmd('SET', k, val.input.value);
          showError(err, null);
          key.input.value = '';
          val.input.value = '';
          await update(k);
        } catch (ex) { showError(err, ex); }
      });
    });
    return section('Set a string key', h('p', { class: 'muted', text: 'Replaces the key, whatever its type, with a string.' }), form);
  }

  function delForm() {
    const key = field('Key to delete', { name: 'del-key', autocomplete: 'off', spellcheck: 'false', required: true });
    const err = errorBox();
    const btn = h('button', { type: 'submit', class: 'danger', text: 'Delete key' });
    const form = h('form', { class: 'stack db-form', 'aria-label': 'Delete a key' }, key.wrap, btn, err);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const k = key.input.value;
      if (!k) { showError(err, new Error('Type the key to delete.')); return; }
      busy(btn, async () => {
        try {
          const r = await cmd('DEL', k);
          if (!r.int) { showError(err, new Error(`There is no key "${k}".`)); return; }
          showError(err, null);
          key.input.value = '';
          await update(k);
        } catch (ex) { showError(err, ex); }
      });
    });
    return section('Delete a key', h('p', { class: 'muted', text: 'Backed-up versions keep it.' }), form);
  }

  reload();
  // There is no event for a database write: a new version (a backup here or
  // one received from another device) is the sign that it may have changed.
  let timer = null;
  const off = events.subscribe(['mimei.backup', 'share.received'], (d) => {
    if (d && d.mimei === mid) { clearTimeout(timer); timer = setTimeout(reload, 300); }
  });
  return () => { clearTimeout(timer); off(); gen += 1; };
}
