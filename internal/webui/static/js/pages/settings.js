// Settings: this browser's session, every console session (revoke), log
// out, and pairing another device by a one-time code and QR. A read-only
// browser may only log itself out.

import { del, get, post } from '../api.js';
import { busy, canWrite, errorBox, fill, flash, h, qrImage, readOnlyNote, section, showError, when } from '../ui.js';

export function render(main, { session, logout }) {
  const me = session.whoami || {};
  const writable = canWrite(session);
  const current = me.session && (me.session.id || me.session);
  const sessions = h('div', {}, h('p', { class: 'muted', text: 'Loading…' }));
  const pairBox = h('div', { id: 'pairing', 'aria-live': 'polite' });
  const pairErr = errorBox();
  const pairBtn = h('button', { type: 'button', class: 'primary', id: 'pair', text: 'Pair another device' });
  pairBtn.addEventListener('click', () => busy(pairBtn, async () => {
    try {
      const p = await post('/console/pair', {});
      showError(pairErr, null);
      fill(pairBox,
        h('p', {}, 'On the other device, open this node\'s page and type the code, or scan the QR code. It works once, until ', when(p.expires), '.'),
        h('p', { class: 'code', id: 'pair-code', text: p.code }),
        p.qr_svg ? qrImage(p.qr_svg, 'QR code of the pairing link') : null,
        p.url ? h('p', {}, h('a', { href: p.url, id: 'pair-url', rel: 'noreferrer', text: p.url })) : null);
    } catch (ex) { showError(pairErr, ex); }
  }));
  const outBtn = h('button', { type: 'button', id: 'logout', text: 'Log out' });
  outBtn.addEventListener('click', () => busy(outBtn, async () => {
    try {
      await post('/console/logout', {});
      logout();
    } catch (ex) { flash(ex.message); }
  }));

  fill(main,
    h('h1', { text: 'Settings' }),
    h('div', { class: 'grid' },
      section('This browser',
        h('p', { text: me.kind === 'session' ? `Logged in with a session${me.scope ? ` (${me.scope})` : ''}.` : `Logged in with the API token${me.scope ? ` (${me.scope})` : ''}.` }),
        writable ? null : readOnlyNote(),
        outBtn),
      writable ? section('Pair another device',
        h('p', { text: 'A phone or another computer can use this node too: pair it with a one-time code.' }),
        pairBtn, pairErr, pairBox) : null),
    section('Sessions', sessions));

  async function load() {
    try {
      const r = await get('/console/sessions');
      const list = Array.isArray(r) ? r : (r && r.sessions) || [];
      if (!list.length) { fill(sessions, h('p', { class: 'muted', text: 'No sessions.' })); return; }
      fill(sessions, h('ul', { class: 'list', id: 'sessions' }, list.map((s) => {
        const mine = s.current || (current && s.id === current);
        const err = errorBox();
        const btn = h('button', { type: 'button', class: 'small danger', 'aria-label': `Revoke session ${s.name || s.id}`, text: mine ? 'Revoke (log out here)' : 'Revoke' });
        btn.addEventListener('click', () => busy(btn, async () => {
          try {
            await del(`/console/sessions/${encodeURIComponent(s.id)}`);
            if (mine) { logout(); return; }
            load();
          } catch (ex) { showError(err, ex); }
        }));
        return h('li', { class: 'item', 'data-session': s.id },
          h('span', { class: 'name' }, s.name || s.id, mine ? h('span', { class: 'tag', text: 'this browser' }) : null),
          h('span', { class: 'meta', text: [s.kind, s.created && `since ${when(s.created)}`, (s.last_seen || s.last_used) && `last used ${when(s.last_seen || s.last_used)}`, s.expires && `expires ${when(s.expires)}`].filter(Boolean).join(' · ') }),
          writable ? h('span', { class: 'actions' }, btn) : null, err);
      })));
    } catch (ex) {
      fill(sessions, h('p', { class: 'error', role: 'alert', text: ex.message }));
    }
  }
  load();
}
