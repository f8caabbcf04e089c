// Small DOM helpers: build elements without HTML strings (nothing from the
// network is ever parsed as HTML), format sizes and times, show messages.

// h builds an element. props: class, text, on: {event: fn}, and any other
// key as an attribute (false/null/undefined leave it out; value, checked and
// disabled are set as properties). Children are nodes, strings or arrays.
export function h(tag, props = {}, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k === 'on') for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k === 'value' || k === 'checked' || k === 'disabled') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, kids);
  return el;
}

function append(el, kids) {
  for (const k of kids.flat(Infinity)) {
    if (k === null || k === undefined || k === false) continue;
    el.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
}

// clear empties an element and fills it with the given children.
export function fill(el, ...kids) {
  el.replaceChildren();
  append(el, kids);
  return el;
}

let ids = 0;
// uid gives a fresh element ID, for label/for and aria-describedby pairs.
export function uid(prefix = 'f') {
  ids += 1;
  return `${prefix}-${ids}`;
}

// field is a labelled input: returns {wrap, input}.
export function field(label, attrs = {}, hint) {
  const id = attrs.id || uid();
  const hintEl = hint ? h('p', { class: 'hint', id: id + '-hint', text: hint }) : null;
  const input = h('input', { type: 'text', ...attrs, id, 'aria-describedby': hintEl ? id + '-hint' : null });
  const wrap = h('div', { class: 'field' }, h('label', { for: id, text: label }), input, hintEl);
  return { wrap, input };
}

export function bytes(n) {
  if (n === undefined || n === null) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = Number(n);
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return (i === 0 ? String(v) : v.toFixed(v < 10 ? 1 : 0)) + ' ' + units[i];
}

export function when(t) {
  if (!t) return '—';
  const d = new Date(t);
  if (Number.isNaN(d.getTime()) || d.getFullYear() < 1971) return '—';
  return d.toLocaleString();
}

export function duration(seconds) {
  const s = Math.floor(seconds || 0);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

// errorBox is a place for a form's error: role=alert, so screen readers
// announce it when it is filled.
export function errorBox() {
  return h('p', { class: 'error', role: 'alert', hidden: true });
}

// showError puts an error's plain-words message in a box made by errorBox.
export function showError(box, err) {
  if (!err) {
    box.hidden = true;
    box.textContent = '';
    return;
  }
  box.textContent = err.message || String(err);
  box.hidden = false;
}

// flash shows a message at the top of the page (errors stay until closed).
export function flash(msg, kind = 'error') {
  const el = document.getElementById('alert');
  fill(el, h('span', { text: msg }),
    h('button', { type: 'button', class: 'link', 'aria-label': 'Dismiss message', text: '×', on: { click: () => { el.hidden = true; } } }));
  el.className = 'alert ' + kind;
  el.hidden = false;
}

// copyButton copies text to the clipboard and says so.
export function copyButton(text, what) {
  const btn = h('button', { type: 'button', class: 'small', 'aria-label': `Copy ${what}`, text: 'Copy' });
  btn.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
      btn.textContent = 'Copied';
    } catch {
      btn.textContent = 'Select and copy';
      const sel = window.getSelection();
      const code = btn.previousElementSibling;
      if (code && sel) { sel.selectAllChildren(code); }
    }
    setTimeout(() => { btn.textContent = 'Copy'; }, 2000);
  });
  return btn;
}

// busy disables a button while an async action runs.
export async function busy(btn, fn) {
  btn.disabled = true;
  btn.setAttribute('aria-busy', 'true');
  try {
    return await fn();
  } finally {
    btn.disabled = false;
    btn.removeAttribute('aria-busy');
  }
}

export function section(title, ...kids) {
  const id = uid('s');
  return h('section', { class: 'card', 'aria-labelledby': id }, h('h2', { id, text: title }), ...kids);
}

// short shortens a long ID for tables; the full one is in the title.
export function short(id, keep = 10) {
  if (!id || id.length <= keep * 2 + 1) return id || '';
  return id.slice(0, keep) + '…' + id.slice(-6);
}

// canWrite reports whether this browser's session may change things: a
// session of scope "read" may only GET (the node answers 403 otherwise).
export function canWrite(session) {
  const me = (session && session.whoami) || {};
  return me.scope !== 'read';
}

// readOnlyNote is the line a page shows instead of its write controls.
export function readOnlyNote() {
  return h('p', { class: 'muted readonly-note', text: 'This browser has read-only access.' });
}

// qrImage shows a QR code the node drew as an image: an <img> never runs
// what an SVG might carry.
export function qrImage(svg, alt, attrs = {}) {
  return h('img', { class: 'qr', alt, src: 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(svg), ...attrs });
}

// count says "1 file", "3 files".
export const count = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

// settle turns a failed promise into its error, so one missing part does
// not blank a page.
export const settle = (p) => p.then((v) => ({ v }), (e) => ({ e }));

// decodeSegment decodes one segment of the location hash, keeping it as it
// is when it is not valid percent-encoding.
export const decodeSegment = (s) => { try { return decodeURIComponent(s); } catch { return s; } };

// shownName renders a file name or path for the page. Names come from
// others too (a contact's versions, stores made before names were
// checked): control characters (C0, DEL, C1), line separators and
// bidirectional controls are shown as escapes (\x1b, \u0085, \u202e) and
// the name is put in double quotes, as `peer ls` shows it; a printable
// name is shown as it is. Text is set with textContent all the same.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const UNSAFE_ALL = new RegExp(UNSAFE.source, 'g');
export function shownName(s) {
  s = String(s ?? '');
  if (!UNSAFE.test(s) && !s.startsWith('"')) return s;
  const esc = s.replace(/[\\"]/g, (c) => '\\' + c).replace(UNSAFE_ALL, (c) => {
    const n = c.charCodeAt(0);
    return n < 0x80 ? '\\x' + n.toString(16).padStart(2, '0') : '\\u' + n.toString(16).padStart(4, '0');
  });
  return `"${esc}"`;
}
