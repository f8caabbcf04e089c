// Login: a pairing code (from `peer console pair` or another logged-in
// browser) is the usual way; on the node's own computer the API token may
// be pasted instead. Either is exchanged once for an HttpOnly session
// cookie; the browser keeps neither the code nor the token.

import { post } from '../api.js';
import { busy, errorBox, field, fill, h, showError } from '../ui.js';

// codeFromURL finds a pairing code in a link such as …/#/pair/ABCD-EFGH-JKLM
// or …?code=ABCD-EFGH-JKLM (the QR code's link).
function codeFromURL() {
  const m = /^#\/?pair\/([^?]+)/.exec(location.hash);
  if (m) return decodeURIComponent(m[1]);
  const q = location.hash.split('?')[1] || location.search.slice(1);
  return new URLSearchParams(q).get('code') || '';
}

function browserName() {
  const ua = navigator.userAgent;
  const b = /Firefox/.test(ua) ? 'Firefox' : /Edg\//.test(ua) ? 'Edge' : /Chrom/.test(ua) ? 'Chromium' : /Safari/.test(ua) ? 'Safari' : 'Browser';
  const os = /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Mac/.test(ua) ? 'macOS' : /Windows/.test(ua) ? 'Windows' : /Linux/.test(ua) ? 'Linux' : '';
  return os ? `${b} on ${os}` : b;
}

export function render(main, { loggedIn }) {
  const name = field('Name for this browser', { value: browserName(), autocomplete: 'off', maxlength: 64, name: 'name' },
    'Shown in the list of sessions, so you can tell them apart.');

  const code = field('Pairing code', {
    value: codeFromURL(), autocomplete: 'one-time-code', autocapitalize: 'characters', spellcheck: 'false',
    placeholder: 'XXXX-XXXX-XXXX', required: true, name: 'code',
  }, 'Run "peer console pair" on the node, or choose "Pair another device" in Settings on a browser that is logged in.');
  const codeErr = errorBox();
  const codeBtn = h('button', { type: 'submit', class: 'primary', text: 'Log in' });
  const codeForm = h('form', { class: 'stack', 'aria-label': 'Log in with a pairing code' }, code.wrap, codeBtn, codeErr);
  codeForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const c = code.input.value.trim().toUpperCase().replace(/\s+/g, '');
    if (!c) { showError(codeErr, new Error('Type the pairing code first.')); code.input.focus(); return; }
    busy(codeBtn, async () => {
      try {
        await post('/console/session', { code: c, name: name.input.value.trim() });
        showError(codeErr, null);
        await loggedIn();
      } catch (err) {
        showError(codeErr, err);
        code.input.focus();
      }
    });
  });

  const token = field('API token', { type: 'password', autocomplete: 'off', spellcheck: 'false', required: true, name: 'token' },
    'It is in the api.token file of the node\'s data directory. It is sent once, to start a session, and not stored in this browser. This works only on the node\'s own computer.');
  const tokErr = errorBox();
  const tokBtn = h('button', { type: 'submit', text: 'Log in with the token' });
  const tokForm = h('form', { class: 'stack', 'aria-label': 'Log in with the API token' }, token.wrap, tokBtn, tokErr);
  tokForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const t = token.input.value.trim();
    if (!t) { showError(tokErr, new Error('Paste the API token first.')); token.input.focus(); return; }
    busy(tokBtn, async () => {
      try {
        await post('/console/local', { token: t, name: name.input.value.trim() });
        token.input.value = '';
        showError(tokErr, null);
        await loggedIn();
      } catch (err) {
        showError(tokErr, err);
        token.input.focus();
      }
    });
  });

  fill(main,
    h('h1', { text: 'Log in to your node' }),
    h('div', { class: 'card login' },
      h('p', { text: 'This browser is not logged in to this node yet.' }),
      name.wrap,
      codeForm,
      h('details', { class: 'alt' },
        h('summary', { text: 'This computer: paste the API token' }),
        tokForm)));
  (code.input.value ? codeBtn : code.input).focus();
}
