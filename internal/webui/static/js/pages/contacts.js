// Contacts: invite someone (a one-time invite code to give to one person),
// accept an invite, and the address book: pet names, persona IDs, online
// state, rename, block and unblock, connect, remove.

import { api, del, get, post } from '../api.js';
import * as events from '../events.js';
import { busy, canWrite, copyButton, errorBox, field, fill, flash, h, qrImage, readOnlyNote, section, short, showError, when } from '../ui.js';

const esc = encodeURIComponent;

export function render(main, { session }) {
  const writable = canWrite(session);
  const list = h('div', { 'aria-busy': 'true' }, h('p', { class: 'muted', text: 'Loading…' }));
  let renaming = null; // {persona, value} while a rename form is open
  const pending = h('div', {});

  // ---- invite: create one, show its code, list those still pending ----
  const inviteBox = h('div', { id: 'invite', 'aria-live': 'polite' });
  const inviteErr = errorBox();
  const forName = field('Their name here (optional)', { name: 'contact_name', maxlength: 64, autocomplete: 'off' }, 'What you will call whoever accepts; by default the name they suggest.');
  const inviteBtn = h('button', { type: 'button', class: 'primary', id: 'create-invite', text: 'Create invite' });
  inviteBtn.addEventListener('click', () => busy(inviteBtn, async () => {
    try {
      const body = {};
      const name = forName.input.value.trim();
      if (name) body.contact_name = name;
      const inv = await post('/invites?qr=1', body);
      forName.input.value = '';
      showError(inviteErr, null);
      fill(inviteBox,
        h('p', {}, 'Give this code to one person: they paste it under "Accept an invite" on their node. It works once, until ', when(inv.expires), '.'),
        h('div', { class: 'idline' }, h('code', { class: 'invite-link', id: 'invite-link', text: inv.link }), copyButton(inv.link, 'invite code')),
        // An <img> never runs scripts: the SVG from the node is never part of the page's DOM.
        inv.qr_svg ? qrImage(inv.qr_svg, 'QR code of the invite', { id: 'invite-qr' }) : null);
      loadPending();
    } catch (ex) { showError(inviteErr, ex); }
  }));

  // ---- accept someone's invite ----
  const code = field('Invite code', { name: 'invite', autocomplete: 'off', spellcheck: 'false', required: true }, 'The code starts with "peer:invite:".');
  const pet = field('Name for them (optional)', { name: 'name', maxlength: 64, autocomplete: 'off' }, 'Your own name for this contact; by default the name the invite suggests.');
  const acceptErr = errorBox();
  const acceptBtn = h('button', { type: 'submit', class: 'primary', text: 'Accept invite' });
  const acceptForm = h('form', { class: 'stack accept-form', 'aria-label': 'Accept an invite' }, code.wrap, pet.wrap, acceptBtn);
  acceptForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const link = code.input.value.replace(/\s+/g, '');
    if (!link) { showError(acceptErr, new Error('Paste the invite code you were given.')); return; }
    busy(acceptBtn, async () => {
      try {
        const body = { link };
        const name = pet.input.value.trim();
        if (name) body.name = name;
        const c = await post('/invites/accept', body);
        showError(acceptErr, null);
        code.input.value = '';
        pet.input.value = '';
        flash(`${c.name} is now a contact.`, 'ok');
        load();
      } catch (ex) { showError(acceptErr, ex); }
    });
  });

  fill(main,
    h('h1', { text: 'Contacts' }),
    writable ? h('div', { class: 'grid' },
      section('Invite someone',
        h('p', { class: 'muted', text: 'An invite makes the two of you contacts: your nodes can then find each other and share MiMei.' }),
        forName.wrap, inviteBtn, inviteErr, inviteBox, pending),
      section('Accept an invite', acceptForm, acceptErr)) : readOnlyNote(),
    section('Your contacts', list));

  async function loadPending() {
    if (!writable) return;
    try {
      const invs = await get('/invites');
      if (!invs.length) { fill(pending); return; }
      fill(pending, h('h3', { text: 'Pending invites' }),
        h('ul', { class: 'list', id: 'pending-invites' }, invs.map((inv) => {
          const btn = h('button', { type: 'button', class: 'small danger', 'aria-label': `Cancel invite ${inv.id}`, text: 'Cancel' });
          btn.addEventListener('click', () => busy(btn, async () => {
            try { await del(`/invites/${esc(inv.id)}`); loadPending(); } catch (ex) { flash(ex.message); }
          }));
          return h('li', { class: 'item', 'data-invite': inv.id },
            h('code', { class: 'name', text: inv.id }),
            h('span', { class: 'meta', text: `${inv.contact_name ? `for ${inv.contact_name} · ` : ''}valid until ${when(inv.expires)}` }),
            h('span', { class: 'actions' }, btn));
        })));
    } catch (ex) {
      fill(pending, h('p', { class: 'error', role: 'alert', text: ex.message }));
    }
  }

  async function load() {
    let cs;
    try {
      cs = await get('/contacts');
    } catch (ex) {
      list.removeAttribute('aria-busy');
      fill(list, h('p', { class: ex.code === 'network_off' ? 'muted' : 'error', role: 'alert', text: ex.message }));
      return;
    }
    list.removeAttribute('aria-busy');
    if (!cs.length) {
      fill(list, h('p', { class: 'muted', text: writable ? 'No contacts yet: create an invite, or accept one.' : 'No contacts yet.' }));
      return;
    }
    cs.sort((a, b) => a.name.localeCompare(b.name));
    if (renaming && !cs.some((c) => c.persona === renaming.persona)) renaming = null;
    const typing = !!document.activeElement?.closest?.('#contacts form.rename');
    fill(list, h('ul', { class: 'list', id: 'contacts', 'aria-label': 'Contacts' }, cs.map(row)));
    if (typing) list.querySelector('form.rename input')?.focus();
  }

  function row(c) {
    const err = errorBox();
    const li = h('li', { class: 'item', 'data-persona': c.persona });
    const ref = `/contacts/${esc(c.persona)}`;
    const act = (text, label, fn, cls = 'small') => {
      const b = h('button', { type: 'button', class: cls, 'aria-label': label, text });
      b.addEventListener('click', () => busy(b, async () => {
        try { await fn(); showError(err, null); } catch (ex) { showError(err, ex); }
      }));
      return b;
    };
    const status = c.blocked
      ? h('span', { class: 'badge bad status', text: 'Blocked' })
      : h('span', { class: `badge ${c.online ? 'ok' : ''} status`, text: c.online ? 'Online' : 'Offline' });
    const seen = c.online || c.blocked ? '' : ` · last seen ${when(c.last_seen)}`;
    const actions = !writable ? null : h('span', { class: 'actions' },
      act('Rename', `Rename ${c.name}`, async () => renameForm()),
      !c.blocked && !c.online ? act('Connect', `Connect to ${c.name}`, async () => { await post('/peers/connect', { target: c.persona }); load(); }) : null,
      c.blocked
        ? act('Unblock', `Unblock ${c.name}`, async () => { await del(`/blocks/${esc(c.persona)}`); load(); })
        : act('Block', `Block ${c.name}`, async () => {
          if (!window.confirm(`Block ${c.name}? Their devices are disconnected and refused until you unblock them.`)) return;
          await post('/blocks', { target: c.persona });
          load();
        }, 'small danger'),
      act('Remove', `Remove ${c.name}`, async () => {
        if (!window.confirm(`Remove ${c.name} from your contacts? What you shared with them stays shared.`)) return;
        await del(ref);
        load();
      }, 'small danger'));

    // renameForm opens the rename form in this row; the list is rebuilt on
    // events, so what is typed is kept in renaming and the form reopened.
    function renameForm(value = c.name, focus = true) {
      renaming = { persona: c.persona, value };
      const f = field(`New name for ${c.name}`, { name: 'name', value, maxlength: 64, autocomplete: 'off', required: true });
      f.input.addEventListener('input', () => { if (renaming?.persona === c.persona) renaming.value = f.input.value; });
      const save = h('button', { type: 'submit', class: 'small primary', text: 'Save name' });
      const cancel = h('button', { type: 'button', class: 'small', text: 'Cancel', on: { click: () => { renaming = null; form.remove(); } } });
      const form = h('form', { class: 'row-form wide rename', 'aria-label': `Rename ${c.name}` }, f.wrap, save, cancel);
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        const name = f.input.value.trim();
        if (!name) { showError(err, new Error('Type a name.')); return; }
        busy(save, async () => {
          try {
            await api('PATCH', ref, { name });
            renaming = null;
            showError(err, null);
            load();
          } catch (ex) { showError(err, ex); }
        });
      });
      li.querySelector('form.rename')?.remove();
      li.insertBefore(form, err);
      if (focus) { f.input.focus(); f.input.select(); }
    }

    fill(li,
      h('span', { class: 'name' }, h('span', { class: 'pet', text: c.name }), ' ', status),
      h('span', { class: 'meta' },
        h('span', { class: 'idline' }, h('code', { class: 'id', title: c.persona, text: short(c.persona, 14) }), copyButton(c.persona, `persona ID of ${c.name}`)),
        `added ${when(c.added)}${seen}`),
      actions, err);
    if (writable && renaming?.persona === c.persona) renameForm(renaming.value, false);
    return li;
  }

  let timer = null;
  const soon = () => { clearTimeout(timer); timer = setTimeout(() => { load(); loadPending(); }, 200); };
  const off = events.subscribe(['contact.added', 'contact.online', 'contact.offline', 'peer.blocked', 'peer.connected', 'peer.disconnected'], soon);
  load();
  loadPending();
  return () => { clearTimeout(timer); off(); };
}
