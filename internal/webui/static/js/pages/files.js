// Files: the MiMei list, and for one MiMei its file tree (browse, upload by
// picker or drag and drop with progress, download, preview images and
// text) and its versions (back up, restore, release, diff).

import { ApiError, del, fetchBlob, fileURL, get, post, upload } from '../api.js';
import * as events from '../events.js';
import { busy, bytes, copyButton, errorBox, field, fill, flash, h, section, short, showError, when } from '../ui.js';

// count says "1 file", "3 files".
const count = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

const PREVIEW_TEXT_MAX = 256 << 10;
const PREVIEW_IMAGE_MAX = 20 << 20;

const dec = (s) => { try { return decodeURIComponent(s); } catch { return s; } };
const enc = (p) => p.split('/').filter(Boolean).map(encodeURIComponent).join('/');
const link = (mid, p) => `#/files/${encodeURIComponent(mid)}${p ? '/' + enc(p) : ''}`;
const join = (dir, name) => (dir ? `${dir}/${name}` : name);

export function render(main, { match }) {
  if (!match[1]) return list(main);
  const mid = dec(match[1]);
  const dir = (match[2] || '').split('/').filter(Boolean).map(dec).join('/');
  return mimei(main, mid, dir);
}

// list shows every MiMei and a form to create one.
function list(main) {
  const box = h('div', { 'aria-busy': 'true' }, h('p', { class: 'muted', text: 'Loading…' }));
  const type = field('Type', { value: 'files', required: true, maxlength: 64, name: 'app_type' }, 'What the MiMei holds, for apps: "files" for a plain folder.');
  const err = errorBox();
  const btn = h('button', { type: 'submit', class: 'primary', text: 'Create MiMei' });
  const form = h('form', { class: 'row-form', 'aria-label': 'Create a MiMei' }, type.wrap, btn);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(btn, async () => {
      try {
        const m = await post('/mimei', { app_type: type.input.value.trim() });
        showError(err, null);
        location.hash = link(m.id, '');
      } catch (ex) { showError(err, ex); }
    });
  });

  fill(main,
    h('h1', { text: 'Files' }),
    section('Your MiMei', h('p', { class: 'muted', text: 'Each MiMei is a versioned folder with its own database.' }), box),
    section('New MiMei', form, err));

  async function load() {
    try {
      const { mimei } = await get('/mimei');
      box.removeAttribute('aria-busy');
      if (!mimei.length) { fill(box, h('p', { text: 'No MiMei yet: create one below.' })); return; }
      mimei.sort((a, b) => String(b.modified || b.created).localeCompare(String(a.modified || a.created)));
      fill(box, h('ul', { class: 'list', id: 'mimei-list' }, mimei.map((m) => h('li', { class: 'item' },
        h('a', { href: link(m.id, ''), class: 'name', title: m.id }, h('code', { text: short(m.id, 8) })),
        h('span', { class: 'tag', text: m.app_type + (m.ext ? '.' + m.ext : '') }),
        h('span', { class: 'meta', text: `${count(m.files, 'file')} · ${bytes(m.bytes)} · ${count(m.versions, 'version')} · ${when(m.modified || m.created)}` })))));
    } catch (ex) {
      box.removeAttribute('aria-busy');
      fill(box, h('p', { class: 'error', role: 'alert', text: ex.message }));
    }
  }
  load();
  return events.subscribe(['file.put', 'mimei.backup'], load);
}

// mimei shows one MiMei at the folder dir.
function mimei(main, mid, dir) {
  let previewURL = null;
  const head = h('div', { class: 'muted' }, 'Loading…');
  const entries = h('div', { 'aria-busy': 'true' }, h('p', { class: 'muted', text: 'Loading…' }));
  const uploads = h('ul', { class: 'uploads', 'aria-label': 'Uploads', 'aria-live': 'polite' });
  const preview = h('section', { class: 'card', id: 'preview', 'aria-label': 'Preview', hidden: true });
  const versions = h('div', {}, h('p', { class: 'muted', text: 'Loading…' }));
  const diffBox = h('div', { id: 'diff', 'aria-live': 'polite' });

  // Breadcrumbs: Files › MiMei › each folder.
  const crumbs = [h('a', { href: '#/files', text: 'Files' }), h('a', { href: link(mid, ''), title: mid, text: short(mid, 6) })];
  const segs = dir ? dir.split('/') : [];
  segs.forEach((s, i) => crumbs.push(h('a', { href: link(mid, segs.slice(0, i + 1).join('/')), text: s })));
  crumbs[crumbs.length - 1].setAttribute('aria-current', 'page');

  // Upload: a file picker (the visible label is its button) and a drop zone.
  const picker = h('input', { type: 'file', id: 'upload-input', multiple: true, class: 'visually-hidden' });
  picker.addEventListener('change', () => { start([...picker.files]); picker.value = ''; });
  const pickLabel = h('label', { for: 'upload-input', class: 'button primary', text: 'Upload files' });
  const drop = h('div', { class: 'dropzone', id: 'dropzone', role: 'region', 'aria-label': 'Drop files here to upload' },
    h('p', {}, 'Drop files here, or ', pickLabel, picker));
  drop.addEventListener('dragover', (e) => { e.preventDefault(); e.dataTransfer.dropEffect = 'copy'; drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    start([...(e.dataTransfer?.files || [])]);
  });

  const folder = field('New folder', { name: 'folder', maxlength: 255, autocomplete: 'off' });
  const folderErr = errorBox();
  const folderBtn = h('button', { type: 'submit', text: 'Create folder' });
  const folderForm = h('form', { class: 'row-form', 'aria-label': 'Create a folder' }, folder.wrap, folderBtn);
  folderForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const name = folder.input.value.trim();
    if (!name) { showError(folderErr, new Error('Type a name for the folder.')); return; }
    busy(folderBtn, async () => {
      try {
        await post(`/mimei/${encodeURIComponent(mid)}/mkdir`, { path: join(dir, name) });
        folder.input.value = '';
        showError(folderErr, null);
        loadFiles();
      } catch (ex) { showError(folderErr, ex); }
    });
  });

  const memo = field('Note for this version', { name: 'memo', maxlength: 200, autocomplete: 'off' });
  const backupErr = errorBox();
  const backupBtn = h('button', { type: 'submit', class: 'primary', id: 'backup', text: 'Back up now' });
  const backupForm = h('form', { class: 'row-form', 'aria-label': 'Back up' }, memo.wrap, backupBtn);
  backupForm.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(backupBtn, async () => {
      try {
        const v = await post(`/mimei/${encodeURIComponent(mid)}/backup`, memo.input.value.trim() ? { memo: memo.input.value.trim() } : {});
        memo.input.value = '';
        showError(backupErr, null);
        flash(`Backed up as version ${v.number}.`, 'ok');
        loadVersions();
        loadHead();
      } catch (ex) { showError(backupErr, ex); }
    });
  });

  fill(main,
    h('nav', { class: 'crumbs', 'aria-label': 'Folder path' }, crumbs.flatMap((c, i) => (i ? [h('span', { 'aria-hidden': 'true', text: '›' }), c] : [c]))),
    h('h1', { text: segs.length ? segs[segs.length - 1] : 'MiMei' }),
    head,
    h('div', { class: 'grid wide' },
      section('Folder', drop, uploads, entries, folderForm, folderErr),
      preview),
    section('Versions', backupForm, backupErr, versions, diffBox));

  const base = `/mimei/${encodeURIComponent(mid)}`;

  async function loadHead() {
    try {
      const m = await get(base);
      fill(head, h('p', { class: 'idline' }, h('code', { class: 'id', text: m.id }), copyButton(m.id, 'MiMei ID')),
        h('p', { class: 'muted', text: `${m.app_type} · ${count(m.files, 'file')} · ${bytes(m.bytes)} · ${count(m.versions, 'version')}` }));
    } catch (ex) {
      fill(head, h('p', { class: 'error', role: 'alert', text: ex.message }));
    }
  }

  async function loadFiles() {
    try {
      const l = await get(`${base}/ls${dir ? '/' + enc(dir) : ''}`);
      entries.removeAttribute('aria-busy');
      const items = l.entries.slice().sort((a, b) => (b.dir - a.dir) || a.name.localeCompare(b.name));
      if (!items.length) { fill(entries, h('p', { class: 'muted', text: 'This folder is empty.' })); return; }
      fill(entries, h('ul', { class: 'list', id: 'entries', 'aria-label': 'Files and folders' }, items.map(entry)));
    } catch (ex) {
      entries.removeAttribute('aria-busy');
      fill(entries, h('p', { class: 'error', role: 'alert', text: ex.message }));
    }
  }

  function entry(f) {
    const p = join(dir, f.name);
    if (f.dir) {
      return h('li', { class: 'item' },
        h('a', { href: link(mid, p), class: 'name' }, f.name, h('span', { 'aria-hidden': 'true', text: '/' })),
        h('span', { class: 'meta', text: 'folder' }),
        h('span', { class: 'actions' }, h('button', { type: 'button', class: 'small danger', 'aria-label': `Delete folder ${f.name}`, text: 'Delete', on: { click: () => remove(f, p) } })));
    }
    return h('li', { class: 'item', 'data-path': p },
      h('button', { type: 'button', class: 'name link', 'aria-label': `Preview ${f.name}`, on: { click: () => show(f, p) } },
        f.name),
      h('span', { class: 'meta', text: `${bytes(f.size)} · ${when(f.mod_time)}` }),
      h('span', { class: 'actions' },
        h('a', { class: 'button small', href: fileURL(mid, p), download: f.name, 'aria-label': `Download ${f.name}`, text: 'Download' }),
        h('button', { type: 'button', class: 'small danger', 'aria-label': `Delete ${f.name}`, text: 'Delete', on: { click: () => remove(f, p) } })));
  }

  async function remove(f, p) {
    if (!window.confirm(`Delete ${f.dir ? 'the folder' : ''} "${f.name}"${f.dir ? ' and everything in it' : ''}? Backed-up versions keep it.`)) return;
    try {
      await del(`${base}/files/${enc(p)}${f.dir ? '?recursive=1' : ''}`);
      loadFiles();
    } catch (ex) { flash(ex.message); }
  }

  function freePreview() {
    if (previewURL) URL.revokeObjectURL(previewURL);
    previewURL = null;
  }

  async function show(f, p) {
    freePreview();
    const mime = (f.mime || '').split(';')[0];
    const isImage = mime.startsWith('image/');
    const isText = mime.startsWith('text/') || /^application\/(json|xml|javascript|x-sh|toml|yaml)/.test(mime);
    const title = h('h2', { id: 'preview-title', text: f.name });
    const close = h('button', { type: 'button', class: 'small', text: 'Close preview', on: { click: () => { freePreview(); preview.hidden = true; } } });
    fill(preview, h('div', { class: 'preview-head' }, title, close), h('p', { class: 'muted', text: `${mime || 'unknown type'} · ${bytes(f.size)}` }));
    preview.hidden = false;
    if (!isImage && !isText) {
      preview.append(h('p', { text: 'No preview for this type of file. Download it to open it.' }));
      return;
    }
    if (isImage && f.size > PREVIEW_IMAGE_MAX) {
      preview.append(h('p', { text: `This image is larger than ${bytes(PREVIEW_IMAGE_MAX)}: download it to see it.` }));
      return;
    }
    try {
      const max = isText && f.size > PREVIEW_TEXT_MAX ? PREVIEW_TEXT_MAX : 0;
      const { blob, partial } = await fetchBlob(fileURL(mid, p), max);
      if (isImage) {
        previewURL = URL.createObjectURL(blob);
        preview.append(h('img', { src: previewURL, alt: `Preview of ${f.name}`, class: 'preview-img' }));
      } else {
        preview.append(h('pre', { class: 'preview-text', tabindex: 0, 'aria-label': `Text of ${f.name}`, text: await blob.text() }));
        if (partial) preview.append(h('p', { class: 'muted', text: `Only the first ${bytes(PREVIEW_TEXT_MAX)} are shown.` }));
      }
    } catch (ex) {
      preview.append(h('p', { class: 'error', role: 'alert', text: ex.message }));
    }
    title.setAttribute('tabindex', '-1');
    title.focus();
  }

  // start uploads files one after another into the folder shown.
  async function start(files) {
    if (!files.length) return;
    for (const file of files) {
      const bar = h('progress', { max: 100, value: 0, 'aria-label': `Uploading ${file.name}` });
      const pct = h('span', { class: 'pct', text: '0%' });
      const row = h('li', { class: 'upload', 'data-name': file.name }, h('span', { class: 'name', text: file.name }), bar, pct);
      uploads.append(row);
      try {
        await upload(mid, join(dir, file.name), file, (sent, total) => {
          const v = total ? Math.round((sent / total) * 100) : 100;
          bar.value = v;
          pct.textContent = `${v}%`;
        });
        bar.value = 100;
        pct.textContent = '100% · done';
        row.classList.add('done');
      } catch (ex) {
        row.classList.add('failed');
        pct.textContent = 'failed';
        row.append(h('p', { class: 'error', role: 'alert', text: `${file.name}: ${ex instanceof ApiError ? ex.message : String(ex)}` }));
      }
    }
    loadFiles();
    loadHead();
  }

  async function loadVersions() {
    try {
      const l = await get(`${base}/versions`);
      if (!l.versions.length) { fill(versions, h('p', { class: 'muted', text: 'No versions yet: "Back up now" freezes the files and database as version 0.' })); return; }
      fill(versions, h('ul', { class: 'list', id: 'versions' }, l.versions.slice().reverse().map(version)));
    } catch (ex) {
      fill(versions, h('p', { class: 'error', role: 'alert', text: ex.message }));
    }
  }

  function version(v) {
    const marks = [v.last && 'last', v.release && 'release', v.pinned && 'pinned'].filter(Boolean);
    const act = (label, aria, fn) => h('button', { type: 'button', class: 'small', 'aria-label': aria, text: label, on: { click: (e) => busy(e.currentTarget, fn) } });
    return h('li', { class: 'item', 'data-version': v.number },
      h('span', { class: 'name' }, `Version ${v.number}`, marks.map((m) => h('span', { class: 'tag', text: m }))),
      h('span', { class: 'meta', text: `${when(v.time)}${v.memo ? ' · ' + v.memo : ''}` }),
      h('span', { class: 'actions' },
        act('Diff', `Compare version ${v.number} with the current files`, () => diff(v.number)),
        act('Restore', `Restore version ${v.number}`, async () => {
          if (!window.confirm(`Replace the current files and database with version ${v.number}? Back up first to keep the current state.`)) return;
          try { await post(`${base}/restore`, { version: String(v.number) }); flash(`Version ${v.number} restored.`, 'ok'); loadFiles(); loadHead(); } catch (ex) { flash(ex.message); }
        }),
        v.release ? null : act('Release', `Mark version ${v.number} as the release`, async () => {
          try { await post(`${base}/release`, { version: String(v.number) }); loadVersions(); } catch (ex) { flash(ex.message); }
        })));
  }

  async function diff(n) {
    try {
      const d = await get(`${base}/diff?from=${n}&to=cur`);
      const rows = [...d.files.map((c) => `${c.op} ${c.dir ? 'folder' : 'file'} ${c.path}`), ...d.keys.map((k) => `${k.op} key ${k.key}`)];
      fill(diffBox, h('h3', { text: `Changes from version ${n} to now` }),
        rows.length ? h('ul', { class: 'diff' }, rows.map((r) => h('li', { class: r.split(' ')[0], text: r }))) : h('p', { text: 'No changes.' }));
    } catch (ex) { fill(diffBox, h('p', { class: 'error', role: 'alert', text: ex.message })); }
  }

  loadHead();
  loadFiles();
  loadVersions();

  let timer = null;
  const offFiles = events.subscribe(['file.put'], (d) => {
    if (d && d.mimei === mid) { clearTimeout(timer); timer = setTimeout(() => { loadFiles(); loadHead(); }, 300); }
  });
  const offBackup = events.subscribe(['mimei.backup'], (d) => { if (d && d.mimei === mid) loadVersions(); });
  return () => { clearTimeout(timer); offFiles(); offBackup(); freePreview(); };
}
