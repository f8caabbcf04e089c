// Files: the MiMei list, and for one MiMei its file tree (browse, upload by
// picker or drag and drop with progress, download, preview images and
// text) and its versions (back up, restore, release, diff). Dropping a
// folder, or picking one, uploads its whole tree. A read-only browser sees
// everything but none of the controls that change things.

import { ApiError, del, fetchBlob, fileURL, get, post, upload } from '../api.js';
import * as events from '../events.js';
import { busy, bytes, canWrite, copyButton, count, decodeSegment, errorBox, field, fill, flash, h, readOnlyNote, section, short, showError, shownName, when } from '../ui.js';


const PREVIEW_TEXT_MAX = 256 << 10;
const PREVIEW_IMAGE_MAX = 20 << 20;

const enc = (p) => p.split('/').filter(Boolean).map(encodeURIComponent).join('/');
const link = (mid, p) => `#/files/${encodeURIComponent(mid)}${p ? '/' + enc(p) : ''}`;
const join = (dir, name) => (dir ? `${dir}/${name}` : name);
// quotedName is a name in quotes for a sentence (escaped names come quoted).
const quotedName = (name) => { const s = shownName(name); return s.startsWith('"') ? s : `"${s}"`; };

export function render(main, { match, session }) {
  const writable = canWrite(session);
  if (!match[1]) return list(main, writable);
  const mid = decodeSegment(match[1]);
  const dir = (match[2] || '').split('/').filter(Boolean).map(decodeSegment).join('/');
  // Someone else's MiMei received here (shared with us) has no working
  // copy: the node says so (shows: the version reads of cur show) and reads
  // of cur give its newest version, to read. Find out first.
  fill(main, h('h1', { text: 'MiMei' }), h('p', { class: 'muted', text: 'Loading…' }));
  let leave = null;
  let left = false;
  get(`/mimei/${encodeURIComponent(mid)}`).then((m) => (m.shows != null ? 'cur' : ''), () => '').then((view) => {
    if (!left) leave = mimei(main, mid, dir, writable && !view, view);
  });
  return () => { left = true; if (leave) leave(); };
}

// list shows every MiMei and a form to create one.
function list(main, writable) {
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
    writable ? section('New MiMei', form, err) : readOnlyNote());

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

// mimei shows one MiMei at the folder dir: its working files, or with view
// 'cur' for a MiMei with no working copy, its newest version (read only:
// the node answers reads of its cur with that version).
function mimei(main, mid, dir, writable, view) {
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
  segs.forEach((s, i) => crumbs.push(h('a', { href: link(mid, segs.slice(0, i + 1).join('/')), text: shownName(s) })));
  crumbs[crumbs.length - 1].setAttribute('aria-current', 'page');

  // Upload: a file picker and a folder picker (the visible labels are
  // their buttons) and a drop zone that takes files and folders.
  const picker = h('input', { type: 'file', id: 'upload-input', multiple: true, class: 'visually-hidden' });
  picker.addEventListener('change', () => { start([...picker.files]); picker.value = ''; });
  const pickLabel = h('label', { for: 'upload-input', class: 'button primary', text: 'Upload files' });
  const folderPicker = h('input', { type: 'file', id: 'upload-folder-input', webkitdirectory: true, multiple: true, class: 'visually-hidden' });
  folderPicker.addEventListener('change', () => {
    start([...folderPicker.files].map((file) => ({ file, rel: file.webkitRelativePath || file.name })));
    folderPicker.value = '';
  });
  const folderLabel = h('label', { for: 'upload-folder-input', class: 'button', text: 'Upload folder' });
  const drop = h('div', { class: 'dropzone', id: 'dropzone', role: 'region', 'aria-label': 'Drop files or folders here to upload' },
    h('p', {}, 'Drop files or folders here, or ', pickLabel, picker, ' ', folderLabel, folderPicker));
  drop.addEventListener('dragover', (e) => { e.preventDefault(); e.dataTransfer.dropEffect = 'copy'; drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const dt = e.dataTransfer;
    // Entries can be had only while the event is dispatched: take them now,
    // read the folders after.
    const items = [...(dt?.items || [])].filter((i) => i.kind === 'file');
    const entries = items.map((i) => (i.webkitGetAsEntry ? i.webkitGetAsEntry() : null));
    if (!entries.some((en) => en && en.isDirectory)) {
      start([...(dt?.files || [])]);
      return;
    }
    const loose = items.map((i, n) => (entries[n] ? null : i.getAsFile()));
    walkDrop(entries, loose).then(({ files, empty }) => start(files, empty),
      (ex) => flash(`Could not read the dropped folder: ${ex.message || ex}`));
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
    h('h1', { text: segs.length ? shownName(segs[segs.length - 1]) : 'MiMei' }),
    head,
    view ? h('p', { class: 'muted', id: 'version-view', text: 'Someone shared this MiMei with you: these are the files of the newest version received. New versions arrive by themselves while you subscribe.' })
      : writable ? null : readOnlyNote(),
    h('div', { class: 'grid wide' },
      section('Folder', writable ? [drop, uploads] : null, entries, writable ? [folderForm, folderErr] : null),
      preview),
    section('Versions', writable ? [backupForm, backupErr] : null, versions, diffBox));

  const base = `/mimei/${encodeURIComponent(mid)}`;

  async function loadHead() {
    try {
      const m = await get(base);
      fill(head, h('p', { class: 'idline' }, h('code', { class: 'id', text: m.id }), copyButton(m.id, 'MiMei ID')),
        h('p', { class: 'muted', text: view ? `${m.app_type} · showing version ${m.shows ?? m.last} · ${count(m.versions, 'version')} here · owner ${short(m.rights.owner, 14)}`
          : `${m.app_type} · ${count(m.files, 'file')} · ${bytes(m.bytes)} · ${count(m.versions, 'version')}` }),
        // Versions from another device (or a writer) that the working
        // files did not take, because they had changes of their own.
        m.diverged ? h('p', { class: 'alert error', id: 'diverged', role: 'status', text:
          `${m.diverged === 1 ? 'A version' : `${m.diverged} versions`} arrived from another device while these files had changes made here` +
          `${m.base != null ? ` since version ${m.base}` : ''}. Both are kept: compare with Diff below, bring over what you want and back up, or restore a version to take it.` }) : null);
    } catch (ex) {
      fill(head, h('p', { class: 'error', role: 'alert', text: ex.message }));
    }
  }

  // The node lists a folder a page at a time (1000 entries): the first
  // page shows and "Show more" adds the next; a reload (after an upload, a
  // delete, an event) fetches as many pages as were shown.
  let listed = [];
  let next = '';
  let pages = 1;
  let gen = 0;
  const lsPage = (after) => {
    const q = new URLSearchParams();
    if (view) q.set('version', view);
    if (after) q.set('after', after);
    const qs = q.toString();
    return get(`${base}/ls${dir ? '/' + enc(dir) : ''}${qs ? `?${qs}` : ''}`);
  };

  async function loadFiles(more = false) {
    const mine = ++gen;
    try {
      let got = more ? listed : [];
      let after = more ? next : '';
      for (let i = 0; i < (more ? 1 : pages); i++) {
        const l = await lsPage(after);
        got = got.concat(l.entries);
        after = l.next || '';
        if (!after) break;
      }
      if (mine !== gen) return; // a newer load is under way
      listed = got;
      next = after;
      if (more) pages++;
      entries.removeAttribute('aria-busy');
      const items = listed.slice().sort((a, b) => (b.dir - a.dir) || a.name.localeCompare(b.name));
      if (!items.length) { fill(entries, h('p', { class: 'muted', text: 'This folder is empty.' })); return; }
      fill(entries, h('ul', { class: 'list', id: 'entries', 'aria-label': 'Files and folders' }, items.map(entry)),
        next ? h('p', { class: 'muted' }, `Showing the first ${items.length} entries. `,
          h('button', { type: 'button', class: 'small', id: 'more-entries', text: 'Show more', on: { click: (e) => busy(e.currentTarget, () => loadFiles(true)) } })) : null);
    } catch (ex) {
      if (mine !== gen) return;
      entries.removeAttribute('aria-busy');
      fill(entries, h('p', { class: 'error', role: 'alert', text: ex.message }));
    }
  }

  function entry(f) {
    const p = join(dir, f.name);
    if (f.dir) {
      return h('li', { class: 'item' },
        h('a', { href: link(mid, p), class: 'name' }, shownName(f.name), h('span', { 'aria-hidden': 'true', text: '/' })),
        h('span', { class: 'meta', text: 'folder' }),
        writable ? h('span', { class: 'actions' }, h('button', { type: 'button', class: 'small danger', 'aria-label': `Delete folder ${shownName(f.name)}`, text: 'Delete', on: { click: () => remove(f, p) } })) : null);
    }
    return h('li', { class: 'item', 'data-path': p },
      h('button', { type: 'button', class: 'name link', 'aria-label': `Preview ${shownName(f.name)}`, on: { click: () => show(f, p) } },
        shownName(f.name)),
      h('span', { class: 'meta', text: `${bytes(f.size)} · ${when(f.mod_time)}` }),
      h('span', { class: 'actions' },
        h('a', { class: 'button small', href: fileURL(mid, p, view), download: f.name, 'aria-label': `Download ${shownName(f.name)}`, text: 'Download' }),
        writable ? h('button', { type: 'button', class: 'small danger', 'aria-label': `Delete ${shownName(f.name)}`, text: 'Delete', on: { click: () => remove(f, p) } }) : null));
  }

  async function remove(f, p) {
    if (!window.confirm(`Delete ${f.dir ? 'the folder' : ''} ${quotedName(f.name)}${f.dir ? ' and everything in it' : ''}? Backed-up versions keep it.`)) return;
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
    const title = h('h2', { id: 'preview-title', text: shownName(f.name) });
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
      const { blob, partial } = await fetchBlob(fileURL(mid, p, view), max);
      if (isImage) {
        previewURL = URL.createObjectURL(blob);
        preview.append(h('img', { src: previewURL, alt: `Preview of ${shownName(f.name)}`, class: 'preview-img' }));
      } else {
        preview.append(h('pre', { class: 'preview-text', tabindex: 0, 'aria-label': `Text of ${shownName(f.name)}`, text: await blob.text() }));
        if (partial) preview.append(h('p', { class: 'muted', text: `Only the first ${bytes(PREVIEW_TEXT_MAX)} are shown.` }));
      }
    } catch (ex) {
      preview.append(h('p', { class: 'error', role: 'alert', text: ex.message }));
    }
    title.setAttribute('tabindex', '-1');
    title.focus();
  }

  // start uploads files one after another into the folder shown. Each is
  // a File, or {file, rel} with its path relative to that folder (from a
  // folder picked or dropped); empty lists folders that hold no files.
  async function start(files, empty = []) {
    if (!files.length && !empty.length) return;
    for (const item of files) {
      const file = item instanceof File ? item : item.file;
      const rel = item instanceof File ? file.name : item.rel;
      const bar = h('progress', { max: 100, value: 0, 'aria-label': `Uploading ${rel}` });
      const pct = h('span', { class: 'pct', text: '0%' });
      const row = h('li', { class: 'upload', 'data-name': rel }, h('span', { class: 'name', text: shownName(rel) }), bar, pct);
      uploads.append(row);
      try {
        await upload(mid, join(dir, rel), file, (sent, total) => {
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
        row.append(h('p', { class: 'error', role: 'alert', text: `${rel}: ${ex instanceof ApiError ? ex.message : String(ex)}` }));
      }
    }
    for (const rel of empty) {
      try {
        await post(`${base}/mkdir`, { path: join(dir, rel), parents: true });
      } catch (ex) { flash(`${rel}: ${ex.message}`); }
    }
    loadFiles();
    loadHead();
  }

  async function loadVersions() {
    try {
      const l = await get(`${base}/versions`);
      if (!l.versions.length) { fill(versions, h('p', { class: 'muted', text: writable ? 'No versions yet: "Back up now" freezes the files and database as version 0.' : 'No versions yet.' })); return; }
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
        view ? null : act('Diff', `Compare version ${v.number} with the current files`, () => diff(v.number)),
        writable ? act('Restore', `Restore version ${v.number}`, async () => {
          if (!window.confirm(`Replace the current files and database with version ${v.number}? Back up first to keep the current state.`)) return;
          try { await post(`${base}/restore`, { version: String(v.number) }); flash(`Version ${v.number} restored.`, 'ok'); loadFiles(); loadHead(); } catch (ex) { flash(ex.message); }
        }) : null,
        v.release || !writable ? null : act('Release', `Mark version ${v.number} as the release`, async () => {
          try { await post(`${base}/release`, { version: String(v.number) }); loadVersions(); } catch (ex) { flash(ex.message); }
        })));
  }

  async function diff(n) {
    try {
      const d = await get(`${base}/diff?from=${n}&to=cur`);
      // The node lists the first changes of each kind and counts them all.
      const more = (truncated, total, listed, what) => truncated && total > listed ? [`… and ${total - listed} more ${what} change${total - listed === 1 ? '' : 's'}`] : [];
      const rows = [...d.files.map((c) => `${c.op} ${c.dir ? 'folder' : 'file'} ${shownName(c.path)}`), ...more(d.files_truncated, d.file_count, d.files.length, 'file'),
        ...d.keys.map((k) => `${k.op} key ${shownName(k.key)}`), ...more(d.keys_truncated, d.key_count, d.keys.length, 'key')];
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
  const offBackup = events.subscribe(['mimei.backup', 'share.received', 'share.diverged'], (d) => {
    if (!d || d.mimei !== mid) return;
    loadVersions();
    loadHead();
    // A version from another device may have moved the working files.
    if (view || d.moved_cur) loadFiles();
  });
  return () => { clearTimeout(timer); offFiles(); offBackup(); freePreview(); };
}

// walkDrop reads the trees of dropped folders: every file with its path
// relative to the drop (the dropped folder's name first), and the folders
// that hold nothing. loose[i] is the File of an item with no entry.
async function walkDrop(entries, loose) {
  const files = [];
  const empty = [];
  const fileOf = (en) => new Promise((resolve, reject) => en.file(resolve, reject));
  // A directory reader gives its entries in batches until an empty one.
  const children = async (en) => {
    const reader = en.createReader();
    const all = [];
    for (;;) {
      const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
      if (!batch.length) return all;
      all.push(...batch);
    }
  };
  const rel = (en) => en.fullPath.replace(/^\/+/, '');
  async function walk(en) {
    if (en.isFile) {
      files.push({ file: await fileOf(en), rel: rel(en) });
      return;
    }
    const kids = await children(en);
    if (!kids.length) empty.push(rel(en));
    for (const k of kids) await walk(k);
  }
  for (let i = 0; i < entries.length; i += 1) {
    if (entries[i]) await walk(entries[i]);
    else if (loose[i]) files.push(loose[i]);
  }
  return { files, empty };
}
