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
  // A row's fetch status (the progress bar, "Nothing new to fetch.", an
  // error, a fetch under way) lives here, not in the row's elements: live
  // events rebuild the list at any moment (an offer, a notification, the
  // reload after a fetch), and a message written into a row that has just
  // been replaced would be lost. Each row is painted from it when built.
  const status = new Map(); // mid -> {text, pct, error, busy}
  const done = new Map(); // mid -> Set of version numbers known to be here
  const shown = new Map(); // mid -> paint function of the row on screen
  const setStatus = (mid, change) => {
    const s = { ...status.get(mid), ...change };
    status.set(mid, s);
    shown.get(mid)?.(s);
  };
  const isDone = (mid, v) => done.get(mid)?.has(v) || false;
  const markDone = (mid, v) => { if (!done.has(mid)) done.set(mid, new Set()); done.get(mid).add(v); };
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
      shown.clear();
      fill(incoming, h('p', { class: ex.code === 'network_off' ? 'muted' : 'error', role: 'alert', text: ex.message }));
      return;
    }
    shown.clear();
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
    const buttons = [];
    // paint shows the row's status: pct null hides the bar, text '' all.
    const paint = (s) => {
      state.hidden = !s.text;
      barText.textContent = s.text || '';
      bar.hidden = s.pct === null || s.pct === undefined;
      if (!bar.hidden) bar.value = s.pct;
      showError(err, s.error || null);
      for (const b of buttons) {
        b.disabled = !!s.busy;
        if (s.busy) b.setAttribute('aria-busy', 'true'); else b.removeAttribute('aria-busy');
      }
    };
    // A subscribe or a fetch answers with the versions that arrived.
    const fetched = (r) => {
      for (const v of r.versions) markDone(x.mimei, v.version);
      const n = r.versions.length;
      setStatus(x.mimei, { busy: false, text: n ? `Fetched ${count(n, 'version')}.` : 'Nothing new to fetch.', pct: null });
      if (n) loadIncoming();
      loadSubs();
    };
    const act = (text, aria, path, body, cls = 'small') => {
      const b = h('button', { type: 'button', class: cls, 'aria-label': aria, text });
      b.addEventListener('click', async () => {
        if (status.get(x.mimei)?.busy) return;
        setStatus(x.mimei, { busy: true, error: null, text: 'Fetching…', pct: 0 });
        let r;
        try {
          r = await post(path, body);
        } catch (ex) {
          setStatus(x.mimei, { busy: false, text: '', pct: null, error: ex });
          return;
        }
        fetched(r);
      });
      buttons.push(b);
      return b;
    };
    // The owner stopped sharing it: nothing new can be fetched.
    const live = writable && !x.revoked;
    const actions = h('span', { class: 'actions' },
      live && !x.subscribed ? act('Subscribe', `Subscribe to ${label}`, '/subscriptions', { mimei: x.mimei }, 'small primary') : null,
      live ? act('Fetch now', `Fetch ${label} now`, `/mimei/${esc(x.mimei)}/fetch`, {}) : null,
      x.versions ? h('a', { class: 'button small', href: filesLink(x.mimei), 'aria-label': `Open ${label} in Files`, text: 'Open in Files' }) : null);
    const li = h('li', { class: 'item', 'data-mid': x.mimei },
      h('span', { class: 'name', title: x.mimei }, label, ' ',
        x.revoked ? h('span', { class: 'badge warn', title: `The owner stopped sharing it ${when(x.revoked)}; what was fetched stays`, text: 'Revoked' })
          : x.subscribed ? h('span', { class: 'badge ok', text: 'Subscribed' }) : null,
        x.write ? h('span', { class: 'tag', text: 'writer' }) : h('span', { class: 'tag', text: 'reader' })),
      h('span', { class: 'meta', text: `from ${who(x.from, x.from_name)} · ${when(x.received)} · ${x.versions ? count(x.versions, 'version') + ' here' : 'not fetched yet'}` }),
      actions, state, err);
    if (x.versions) li.append(browser(x.mimei, label));
    paint(status.get(x.mimei) || {});
    shown.set(x.mimei, paint);
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
    events.subscribe(['share.offered', 'share.received', 'share.notified', 'share.revoked'], soon(loadIncoming)),
    events.subscribe(['share.received', 'share.failed', 'share.revoked'], soon(loadSubs)),
    // Progress and receipts of a version already here are stale (the stream
    // can lag behind the answer to the fetch that brought it): they would
    // overwrite a newer message.
    events.subscribe(['share.progress'], (d) => {
      if (isDone(d.mimei, d.version)) return;
      const total = d.total_bytes || 0;
      setStatus(d.mimei, { text: `Version ${d.version}: ${bytes(d.bytes)} of ${bytes(total)}`, pct: total ? Math.round((d.bytes / total) * 100) : 0 });
    }),
    events.subscribe(['share.received'], (d) => {
      if (isDone(d.mimei, d.version)) return;
      markDone(d.mimei, d.version);
      // A version pushed to a subscription: the bar gives way to a line.
      const s = status.get(d.mimei);
      if (s && !s.busy && s.pct !== null && s.pct !== undefined) setStatus(d.mimei, { text: `Fetched version ${d.version}.`, pct: null, error: null });
    }),
    events.subscribe(['share.failed'], (d) => {
      if (isDone(d.mimei, d.version)) return;
      setStatus(d.mimei, { text: '', pct: null, error: new Error(`Fetching version ${d.version} failed: ${d.error}`) });
    }),
    events.subscribe(['share.offer_failed'], (d) => flash(`Could not tell ${who(d.persona)} about the share: ${d.error}. They can still fetch it.`)),
  ];
  loadMine().catch((ex) => fill(mine, h('p', { class: 'error', role: 'alert', text: ex.message })))
    .then(() => { loadIncoming(); loadSubs(); });
  return () => { Object.values(timers).forEach(clearTimeout); timers = {}; offs.forEach((o) => o()); };
}
