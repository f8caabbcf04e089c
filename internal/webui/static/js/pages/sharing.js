// Sharing: share a MiMei of ours with a contact (reader or writer) and
// stop sharing it; what others shared with us (subscribe, fetch now, its
// files once fetched); and our subscriptions.

import { del, fileURL, get, post } from '../api.js';
import * as events from '../events.js';
import { busy, bytes, canWrite, count, errorBox, fill, flash, h, readOnlyNote, section, settle, short, showError, uid, when } from '../ui.js';

const esc = encodeURIComponent;
const filesLink = (mid) => `#/files/${esc(mid)}`;
const enc = (p) => p.split('/').filter(Boolean).map(esc).join('/');

// select is a labelled <select>: returns {wrap, input}.
function select(label, options, attrs = {}) {
  const id = uid();
  const input = h('select', { id, ...attrs }, options.map(([value, text]) => h('option', { value, text })));
  return { wrap: h('div', { class: 'field' }, h('label', { for: id, text: label }), input), input };
}

// mimeiName says what a MiMei is for people: its type and a short ID.
const mimeiName = (m) => `${m.app_type || 'MiMei'}${m.ext ? '.' + m.ext : ''} ${short(m.id || m.mimei, 8)}`;

export function render(main, { session }) {
  const writable = canWrite(session);
  const loading = () => h('p', { class: 'muted', text: 'Loading…' });
  const formBox = h('div', {}, loading());
  const mine = h('div', {}, loading());
  const incoming = h('div', {}, loading());
  const subs = h('div', {}, loading());
  const progress = new Map(); // mid -> {bar, text} of the row shown
  let names = new Map(); // persona -> pet name
  const opened = new Set(); // MiMei whose file list is open

  fill(main,
    h('h1', { text: 'Sharing' }),
    writable ? null : readOnlyNote(),
    h('div', { class: 'grid' },
      writable ? section('Share a MiMei', formBox) : null,
      section('Shared by you', mine)),
    section('Shared with me', incoming),
    section('Subscriptions', subs));

  const who = (persona, name) => name || names.get(persona) || short(persona, 12);

  // ---- what we share -------------------------------------------------------

  async function loadMine() {
    const [ms, ps, cs] = await Promise.all([settle(get('/mimei')), settle(get('/personas')), settle(get('/contacts'))]);
    if (!cs.e) names = new Map(cs.v.map((c) => [c.persona, c.name]));
    if (ms.e) {
      fill(mine, h('p', { class: 'error', role: 'alert', text: ms.e.message }));
      fill(formBox, h('p', { class: 'muted', text: 'The store is not available.' }));
      return;
    }
    const me = new Set(ps.e ? [] : ps.v.personas.map((p) => p.id));
    const own = ms.v.mimei.filter((m) => me.has(m.rights?.owner || m.author));
    own.sort((a, b) => String(b.modified || b.created).localeCompare(String(a.modified || a.created)));
    if (writable) shareForm(own, cs.e ? null : cs.v, cs.e);
    const shares = await Promise.all(own.map((m) => settle(get(`/mimei/${esc(m.id)}/shares`))));
    const rows = [];
    own.forEach((m, i) => {
      const s = shares[i].v;
      if (!s) {
        if (shares[i].e.code !== 'network_off') rows.push(h('li', { class: 'item' }, h('span', { class: 'name', text: mimeiName(m) }), h('span', { class: 'meta error', text: shares[i].e.message })));
        return;
      }
      const people = [...s.writers.map((p) => ({ ...p, write: true })), ...s.readers.filter((r) => !s.writers.some((w) => w.persona === r.persona))];
      if (!people.length && !s.public) return;
      rows.push(h('li', { class: 'item', 'data-mid': m.id },
        h('a', { class: 'name', href: filesLink(m.id), title: m.id, text: mimeiName(m) }),
        h('span', { class: 'meta', text: `${s.public ? 'public · ' : ''}${count(s.published, 'version')} published · ${count(s.subscribers, 'subscribed device')}` }),
        h('ul', { class: 'list wide sharees', 'aria-label': `Shared ${mimeiName(m)} with` }, people.map((p) => sharee(m, p)))));
    });
    if (shares.some((x) => x.e && x.e.code === 'network_off')) {
      fill(mine, h('p', { class: 'muted', text: shares.find((x) => x.e).e.message }));
      return;
    }
    fill(mine, rows.length ? h('ul', { class: 'list', id: 'my-shares' }, rows)
      : h('p', { class: 'muted', text: own.length ? 'You share none of your MiMei yet.' : 'You have no MiMei yet: create one in Files.' }));
  }

  function sharee(m, p) {
    const name = who(p.persona, p.name);
    const err = errorBox();
    const btn = writable ? h('button', { type: 'button', class: 'small danger', 'aria-label': `Stop sharing ${mimeiName(m)} with ${name}`, text: 'Stop sharing' }) : null;
    btn?.addEventListener('click', () => busy(btn, async () => {
      if (!window.confirm(`Stop sharing this MiMei with ${name}? What they already fetched stays theirs; new versions are sealed against them.`)) return;
      try { await del(`/mimei/${esc(m.id)}/shares/${esc(p.persona)}`); loadMine(); } catch (ex) { showError(err, ex); }
    }));
    return h('li', { class: 'item', 'data-persona': p.persona },
      h('span', { class: 'name', title: p.persona, text: name }),
      h('span', { class: 'meta', text: p.write ? 'writer: may also make versions' : 'reader' }),
      h('span', { class: 'actions' }, btn), err);
  }

  function shareForm(own, contacts, contactsErr) {
    if (!own.length) { fill(formBox, h('p', { class: 'muted' }, 'You have no MiMei to share: ', h('a', { href: '#/files', text: 'create one in Files' }), '.')); return; }
    if (contactsErr) { fill(formBox, h('p', { class: contactsErr.code === 'network_off' ? 'muted' : 'error', text: contactsErr.message })); return; }
    const people = contacts.filter((c) => !c.blocked);
    if (!people.length) { fill(formBox, h('p', { class: 'muted' }, 'To share, first add a contact: ', h('a', { href: '#/contacts', text: 'Contacts' }), '.')); return; }
    const keep = { mimei: formBox.querySelector('select[name="mimei"]')?.value, with: formBox.querySelector('select[name="with"]')?.value };
    const mSel = select('MiMei', own.map((m) => [m.id, `${mimeiName(m)} · ${count(m.files, 'file')}`]), { name: 'mimei' });
    const cSel = select('Contact', people.map((c) => [c.persona, c.name]), { name: 'with' });
    const rSel = select('Role', [['reader', 'Reader: may fetch it'], ['writer', 'Writer: may also make versions']], { name: 'role' });
    if (keep.mimei && own.some((m) => m.id === keep.mimei)) mSel.input.value = keep.mimei;
    if (keep.with && people.some((c) => c.persona === keep.with)) cSel.input.value = keep.with;
    const err = errorBox();
    const btn = h('button', { type: 'submit', class: 'primary', text: 'Share' });
    const form = h('form', { class: 'stack share-form', 'aria-label': 'Share a MiMei' }, mSel.wrap, cSel.wrap, rSel.wrap, btn);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      busy(btn, async () => {
        try {
          await post(`/mimei/${esc(mSel.input.value)}/shares`, { with: cSel.input.value, write: rSel.input.value === 'writer' || undefined });
          showError(err, null);
          flash(`Shared with ${cSel.input.selectedOptions[0].textContent}.`, 'ok');
          loadMine();
        } catch (ex) { showError(err, ex); }
      });
    });
    fill(formBox, h('p', { class: 'muted', text: 'The contact is told at once; their node fetches the MiMei sealed, so only those you share with can read it.' }), form, err);
  }

  // ---- shared with us ------------------------------------------------------

  async function loadIncoming() {
    let list;
    try {
      list = await get('/shared');
    } catch (ex) {
      progress.clear();
      fill(incoming, h('p', { class: ex.code === 'network_off' ? 'muted' : 'error', role: 'alert', text: ex.message }));
      return;
    }
    progress.clear();
    // A file list opened a moment ago may not have had its toggle event yet.
    for (const d of incoming.querySelectorAll('li[data-mid] > details.files')) {
      if (d.open) opened.add(d.parentElement.dataset.mid);
      else opened.delete(d.parentElement.dataset.mid);
    }
    if (!list.length) { fill(incoming, h('p', { class: 'muted', text: 'Nobody has shared a MiMei with you yet.' })); return; }
    list.sort((a, b) => String(b.received).localeCompare(String(a.received)));
    fill(incoming, h('ul', { class: 'list', id: 'shared-with-me', 'aria-label': 'Shared with me' }, list.map(incomingRow)));
  }

  function incomingRow(x) {
    const label = mimeiName({ ...x, id: x.mimei });
    const err = errorBox();
    const bar = h('progress', { max: 100, value: 0, 'aria-label': `Fetching ${label}` });
    const barText = h('span', { class: 'muted fetch-state' });
    const state = h('div', { class: 'wide fetch', 'aria-live': 'polite', hidden: true }, bar, ' ', barText);
    // say shows how a fetch goes: pct null hides the bar, text '' all.
    const say = (text, pct) => {
      state.hidden = !text;
      barText.textContent = text;
      bar.hidden = pct === null || pct === undefined;
      if (!bar.hidden) bar.value = pct;
    };
    progress.set(x.mimei, { say, err });
    const act = (text, aria, fn, cls = 'small') => {
      const b = h('button', { type: 'button', class: cls, 'aria-label': aria, text });
      b.addEventListener('click', () => busy(b, async () => {
        showError(err, null);
        say('Fetching…', 0);
        try { await fn(); } catch (ex) { say(''); showError(err, ex); }
      }));
      return b;
    };
    const fetched = (r) => {
      const n = r.versions.length;
      say(n ? `Fetched ${count(n, 'version')}.` : 'Nothing new to fetch.');
      if (n) loadIncoming();
      loadSubs();
    };
    const actions = h('span', { class: 'actions' },
      writable && !x.subscribed ? act('Subscribe', `Subscribe to ${label}`, async () => fetched(await post('/subscriptions', { mimei: x.mimei })), 'small primary') : null,
      writable ? act('Fetch now', `Fetch ${label} now`, async () => fetched(await post(`/mimei/${esc(x.mimei)}/fetch`, {}))) : null,
      x.versions ? h('a', { class: 'button small', href: filesLink(x.mimei), 'aria-label': `Open ${label} in Files`, text: 'Open in Files' }) : null);
    const li = h('li', { class: 'item', 'data-mid': x.mimei },
      h('span', { class: 'name', title: x.mimei }, label, ' ',
        x.subscribed ? h('span', { class: 'badge ok', text: 'Subscribed' }) : null,
        x.write ? h('span', { class: 'tag', text: 'writer' }) : h('span', { class: 'tag', text: 'reader' })),
      h('span', { class: 'meta', text: `from ${who(x.from, x.from_name)} · ${when(x.received)} · ${x.versions ? count(x.versions, 'version') + ' here' : 'not fetched yet'}` }),
      actions, state, err);
    if (x.versions) li.append(browser(x.mimei, label));
    return li;
  }

  // browser lists the files of the newest version held of a MiMei shared
  // with us (a replica's own working state stays empty), with downloads.
  function browser(mid, label) {
    const box = h('div', {});
    const det = h('details', { class: 'wide files' }, h('summary', { text: 'Files', 'aria-label': `Files of ${label}` }), box);
    let loaded = false;
    // The list is rebuilt on every event: a list the user opened stays open.
    det.addEventListener('toggle', () => { if (det.open) opened.add(mid); else opened.delete(mid); });
    const show = async (dir) => {
      try {
        const l = await get(`/mimei/${esc(mid)}/ls${dir ? '/' + enc(dir) : ''}?version=last`);
        const items = l.entries.slice().sort((a, b) => (b.dir - a.dir) || a.name.localeCompare(b.name));
        const up = dir ? h('li', {}, h('button', { type: 'button', class: 'link', 'aria-label': 'Up one folder', text: '↑ ..', on: { click: () => show(dir.split('/').slice(0, -1).join('/')) } })) : null;
        fill(box, h('p', { class: 'muted', text: `Newest version held${dir ? ` · /${dir}` : ''}` }),
          items.length || up ? h('ul', { class: 'list shared-files' }, up, items.map((f) => {
            const p = dir ? `${dir}/${f.name}` : f.name;
            if (f.dir) return h('li', { 'data-path': p }, h('button', { type: 'button', class: 'link', 'aria-label': `Open folder ${f.name}`, text: `${f.name}/`, on: { click: () => show(p) } }));
            return h('li', { class: 'file', 'data-path': p },
              h('span', { class: 'fname', text: f.name }), h('span', { class: 'muted', text: bytes(f.size) }),
              h('a', { class: 'button small', href: fileURL(mid, p, 'last'), download: f.name, 'aria-label': `Download ${f.name}`, text: 'Download' }));
          })) : h('p', { class: 'muted', text: 'No files.' }));
      } catch (ex) {
        fill(box, h('p', { class: 'error', role: 'alert', text: ex.message }));
      }
    };
    det.addEventListener('toggle', () => { if (det.open && !loaded) { loaded = true; show(''); } });
    if (opened.has(mid)) { det.open = true; loaded = true; show(''); }
    return det;
  }

  // ---- subscriptions -------------------------------------------------------

  async function loadSubs() {
    let list;
    try {
      list = await get('/subscriptions');
    } catch (ex) {
      fill(subs, h('p', { class: ex.code === 'network_off' ? 'muted' : 'error', role: 'alert', text: ex.message }));
      return;
    }
    if (!list.length) { fill(subs, h('p', { class: 'muted', text: 'No subscriptions: subscribe to a MiMei shared with you to keep it up to date.' })); return; }
    fill(subs, h('ul', { class: 'list', id: 'subscriptions', 'aria-label': 'Subscriptions' }, list.map((s) => {
      const err = errorBox();
      const btn = writable ? h('button', { type: 'button', class: 'small danger', 'aria-label': `Unsubscribe from ${short(s.mimei, 8)}`, text: 'Unsubscribe' }) : null;
      btn?.addEventListener('click', () => busy(btn, async () => {
        try { await del(`/subscriptions/${esc(s.mimei)}`); loadSubs(); loadIncoming(); } catch (ex) { showError(err, ex); }
      }));
      const held = s.have ? `newest here: version ${s.have - 1}` : 'nothing fetched yet';
      return h('li', { class: 'item', 'data-mid': s.mimei },
        s.have ? h('a', { class: 'name', href: filesLink(s.mimei), title: s.mimei, text: short(s.mimei, 8) }) : h('span', { class: 'name', title: s.mimei, text: short(s.mimei, 8) }),
        h('span', { class: 'meta', text: `from ${who(s.owner)} · ${held} · since ${when(s.since)}${s.checked ? ` · checked ${when(s.checked)}` : ''}` }),
        h('span', { class: 'actions' }, btn),
        s.error ? h('p', { class: 'error', text: s.error }) : null, err);
    })));
  }

  // ---- live updates --------------------------------------------------------

  let timers = {};
  const soon = (fn) => () => { clearTimeout(timers[fn.name]); timers[fn.name] = setTimeout(fn, 200); };
  const offs = [
    events.subscribe(['share.shared', 'share.unshared', 'share.offer_failed', 'share.published', 'contact.added', 'mimei.backup'], soon(loadMine)),
    events.subscribe(['share.offered', 'share.received', 'share.notified'], soon(loadIncoming)),
    events.subscribe(['share.received', 'share.failed'], soon(loadSubs)),
    events.subscribe(['share.progress'], (d) => {
      const p = progress.get(d.mimei);
      const total = d.total_bytes || 0;
      if (p) p.say(`Version ${d.version}: ${bytes(d.bytes)} of ${bytes(total)}`, total ? Math.round((d.bytes / total) * 100) : 0);
    }),
    events.subscribe(['share.failed'], (d) => {
      const p = progress.get(d.mimei);
      if (!p) return;
      p.say('');
      showError(p.err, new Error(`Fetching version ${d.version} failed: ${d.error}`));
    }),
    events.subscribe(['share.offer_failed'], (d) => flash(`Could not tell ${who(d.persona)} about the share: ${d.error}. They can still fetch it.`)),
  ];
  loadMine().catch((ex) => fill(mine, h('p', { class: 'error', role: 'alert', text: ex.message })))
    .then(() => { loadIncoming(); loadSubs(); });
  return () => { Object.values(timers).forEach(clearTimeout); timers = {}; offs.forEach((o) => o()); };
}
