// Browser tests of the web app, driven by ui_test.go (which starts two real
// nodes and passes their addresses and tokens in PEER_UI_* variables).
// Chromium is the system's, headless, with every request that is not to
// loopback refused. Any console error or uncaught exception fails the run,
// except the few a step names as expected (a 401 before logging in).
// Screenshots of every page at desktop and phone widths go to
// PEER_UI_SCREENSHOTS.

import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { deflateSync } from 'node:zlib';
import path from 'node:path';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set: run this through go test ./test/ui`);
  return v;
};
const A = { url: env('PEER_UI_A_URL'), token: env('PEER_UI_A_TOKEN'), persona: env('PEER_UI_A_PERSONA'), device: env('PEER_UI_A_DEVICE') };
const B = { url: env('PEER_UI_B_URL'), token: env('PEER_UI_B_TOKEN'), persona: env('PEER_UI_B_PERSONA'), device: env('PEER_UI_B_DEVICE') };
const SHOTS = env('PEER_UI_SCREENSHOTS');
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

// ---- bookkeeping: steps, console errors, requests off loopback ----------

let passed = 0;
let failed = 0;
const problems = [];
let allowed = []; // regexps of console errors the current step expects

let skipping = false; // after a failure the rest would only fail in its wake

async function step(name, fn) {
  if (skipping) {
    console.log(`skip ${name}`);
    return;
  }
  const t0 = Date.now();
  try {
    await fn();
    passed += 1;
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failed += 1;
    console.log(`FAIL ${name}: ${e.stack || e}`);
  } finally {
    allowed = [];
  }
  if (problems.length) {
    failed += 1;
    console.log(`FAIL ${name}: browser reported:\n  ${problems.join('\n  ')}`);
    problems.length = 0;
  }
  if (failed) skipping = true;
}

// expect lets console errors matching re happen during the rest of a step.
const expect = (...re) => { allowed.push(...re); };

function watch(page, label) {
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = m.text();
    if (allowed.some((re) => re.test(text))) return;
    problems.push(`[${label}] console error: ${text} (${m.location().url})`);
  });
  page.on('pageerror', (e) => problems.push(`[${label}] uncaught: ${e.stack || e}`));
  return page;
}

const loopback = (u) => /^(blob:|data:|about:)/.test(u) || /^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?\//.test(u);

async function newContext(browser, viewport, label) {
  const ctx = await browser.newContext({ viewport, acceptDownloads: true, isMobile: viewport.width < 500, hasTouch: viewport.width < 500 });
  // The app loads nothing from elsewhere: any such request fails the run.
  await ctx.route('**/*', (route) => {
    const u = route.request().url();
    if (loopback(u)) return route.continue();
    problems.push(`[${label}] request off loopback refused: ${u}`);
    return route.abort();
  });
  const page = watch(await ctx.newPage(), label);
  page.setDefaultTimeout(15000);
  return { ctx, page };
}

async function shot(page, name, kind) {
  // The event stream keeps a request open, so "network idle" never comes:
  // wait instead until no part of the page is still loading.
  await page.waitForFunction(() => !document.querySelector('[aria-busy="true"]') &&
    ![...document.querySelectorAll('main p')].some((p) => p.textContent === 'Loading…'));
  await page.screenshot({ path: path.join(SHOTS, `${name}-${kind}.png`), fullPage: true });
}

// noHorizontalScroll: the page fits its viewport's width.
async function noHorizontalScroll(page, what) {
  const { sw, iw } = await page.evaluate(() => ({ sw: document.documentElement.scrollWidth, iw: window.innerWidth }));
  assert.ok(sw <= iw, `${what}: page is ${sw} px wide in a ${iw} px viewport (horizontal scroll)`);
}

// labelled: every control has an accessible name.
async function labelled(page, what) {
  const unnamed = await page.evaluate(() => {
    const name = (el) => (el.getAttribute('aria-label') || (el.labels && [...el.labels].map((l) => l.textContent).join(' ')) ||
      (el.getAttribute('aria-labelledby') && document.getElementById(el.getAttribute('aria-labelledby'))?.textContent) ||
      (el.tagName !== 'INPUT' && el.textContent) || el.getAttribute('title') || '').trim();
    return [...document.querySelectorAll('button, input, select, textarea, a[href], summary')]
      .filter((el) => !name(el)).map((el) => el.outerHTML.slice(0, 120));
  });
  assert.deepEqual(unnamed, [], `${what}: controls without a label`);
}

async function go(page, hash, heading) {
  await page.goto(`${A.url}/${hash}`);
  if (heading) await page.getByRole('heading', { level: 1, name: heading }).waitFor();
}

async function api(method, p, body, headers = {}) {
  const res = await fetch(A.url + p, { method, headers: { Authorization: `Bearer ${A.token}`, ...headers }, body });
  const text = await res.text();
  assert.ok(res.ok, `${method} ${p}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

// png draws a w×h RGB gradient as a PNG, so the preview has a real image.
function png(w, h) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => { let c = 0xffffffff; for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8); return (c ^ 0xffffffff) >>> 0; };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const c = Buffer.alloc(4); c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr[8] = 8; ihdr[9] = 2;
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const o = y * (w * 3 + 1) + 1 + x * 3;
    raw[o] = (x * 255) / w; raw[o + 1] = (y * 255) / h; raw[o + 2] = 160;
  }
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

// drop fires a synthetic drop of files on a selector, as a drag from the
// desktop would.
async function drop(page, selector, files) {
  const dt = await page.evaluateHandle((fs) => {
    const d = new DataTransfer();
    for (const f of fs) d.items.add(new File([Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0))], f.name, { type: f.type }));
    return d;
  }, files.map((f) => ({ name: f.name, type: f.type, b64: f.buffer.toString('base64') })));
  await page.dispatchEvent(selector, 'dragover', { dataTransfer: dt });
  await page.dispatchEvent(selector, 'drop', { dataTransfer: dt });
}

async function uploaded(page, name) {
  const row = page.locator(`li.upload[data-name="${name}"]`).last();
  await row.locator('.pct', { hasText: '100% · done' }).waitFor();
  assert.equal(await row.locator('progress').evaluate((p) => p.value), 100, `${name}: progress bar not at 100`);
}

// ---- the run -------------------------------------------------------------

const browser = await chromium.launch({
  executablePath: env('PEER_UI_CHROMIUM'),
  headless: true,
  // CI runs as root, where Chromium's sandbox cannot start. Every request
  // not to loopback goes to a proxy that does not exist (Chromium sends
  // loopback past any proxy; Playwright's own proxy option would undo that),
  // and the browser's own background traffic is off.
  args: [...(process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : []),
    '--proxy-server=http://127.0.0.1:9',
    '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
    '--disable-domain-reliability', '--disable-features=Translate,OptimizationHints,MediaRouter'],
});

const desk = await newContext(browser, DESKTOP, 'desktop');
const phone = await newContext(browser, PHONE, 'phone');
const page = desk.page;
const hello = Buffer.from('Hello from the browser test.\nSecond line: ünïcödé ✓\n');
const picture = png(96, 64);
const blob = randomBytes(3 << 20);
let mid = '';

try {
  await step('the app is served with a strict CSP and no token', async () => {
    const res = await fetch(`${A.url}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-security-policy'), /script-src 'self'/);
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  });

  await step('not logged in: the login page, at desktop and phone widths', async () => {
    expect(/status of 401/);
    await go(page, '', 'Log in to your node');
    assert.equal(await page.locator('#nav').isHidden(), true, 'navigation shown before login');
    await labelled(page, 'login');
    await shot(page, 'login', 'desktop');
    await go(phone.page, '', 'Log in to your node');
    await noHorizontalScroll(phone.page, 'login at 390 px');
    await shot(phone.page, 'login', 'phone');
  });

  await step('a wrong token is refused with a clear message', async () => {
    expect(/status of 401/);
    await page.getByText('This computer: paste the API token').click();
    await page.getByLabel('API token', { exact: true }).fill('not-the-token-0000000000');
    await page.getByRole('button', { name: 'Log in with the token' }).click();
    const msg = page.getByRole('alert').filter({ hasText: /wrong API token/i });
    await msg.waitFor();
    console.log(`     the node's no, as shown: "${(await msg.textContent()).trim()}"`);
  });

  await step('log in with the local API token: the session cookie is HttpOnly', async () => {
    await page.getByLabel('API token', { exact: true }).fill(A.token);
    await page.getByRole('button', { name: 'Log in with the token' }).click();
    await page.getByRole('heading', { level: 1, name: 'Home' }).waitFor();
    const cookies = await desk.ctx.cookies(A.url);
    const c = cookies.find((x) => x.name === 'peer_session');
    assert.ok(c && c.httpOnly, 'no HttpOnly peer_session cookie');
    assert.equal(await page.evaluate(() => document.cookie.includes('peer_session')), false);
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
    assert.ok(!stored.includes(A.token), 'the token was stored in the browser');
    assert.equal(await page.getByLabel('API token', { exact: true }).count(), 0);
  });

  await step('Home: persona and device IDs as text, online, storage', async () => {
    await page.locator('code.id', { hasText: A.persona }).waitFor();
    await page.locator('code.id', { hasText: A.device }).waitFor();
    await page.locator('#online', { hasText: 'Online' }).waitFor();
    await page.locator('#disk-used').waitFor();
    await page.locator('#live', { hasText: 'Live' }).waitFor();
    await page.getByText('Show QR codes').click();
    for (const alt of ['QR code of the persona ID', 'QR code of the device ID']) {
      const qr = page.getByAltText(alt);
      await qr.waitFor();
      assert.ok(await qr.evaluate((i) => i.complete && i.naturalWidth > 0), `${alt}: did not render`);
    }
    await labelled(page, 'home');
  });

  await step('keyboard: Tab reaches the navigation, and focus is visible', async () => {
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Home' }).waitFor();
    await page.keyboard.press('Tab'); // the skip link
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => ({ text: document.activeElement.textContent, outline: getComputedStyle(document.activeElement).outlineStyle }));
    assert.equal(focused.text, 'Home');
    assert.notEqual(focused.outline, 'none', 'no visible focus');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Files' }).waitFor();
  });

  await step('pair a second browser (phone width) by a one-time code', async () => {
    await go(page, '#/settings', 'Settings');
    await page.getByRole('button', { name: 'Pair another device' }).click();
    const code = (await page.locator('#pair-code').textContent()).trim();
    assert.match(code, /^[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}$/);
    const qr = page.locator('img.qr');
    await qr.waitFor();
    assert.ok(await qr.evaluate((i) => i.complete && i.naturalWidth > 0), 'the QR code did not render');
    await phone.page.getByLabel('Pairing code', { exact: true }).fill(code.toLowerCase());
    await phone.page.getByRole('button', { name: 'Log in', exact: true }).click();
    await phone.page.getByRole('heading', { level: 1, name: 'Home' }).waitFor();
    await phone.page.locator('code.id', { hasText: A.persona }).waitFor();
    // The code works once.
    expect(/status of 401/);
    const again = await fetch(`${A.url}/api/v1/console/session`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ code }) });
    assert.equal(again.status, 401, 'a pairing code worked twice');
    await shot(page, 'settings', 'desktop');
  });

  await step('Files: create a MiMei', async () => {
    await go(page, '#/files', 'Files');
    await page.getByLabel('Type', { exact: true }).fill('files');
    await page.getByRole('button', { name: 'Create MiMei' }).click();
    await page.getByRole('heading', { level: 1, name: 'MiMei' }).waitFor();
    mid = decodeURIComponent(new URL(page.url()).hash.split('/')[2]);
    assert.match(mid, /^m/);
    await page.getByText('This folder is empty.').waitFor();
  });

  await step('upload by the file picker: progress reaches 100%', async () => {
    await page.locator('#upload-input').setInputFiles({ name: 'hello.txt', mimeType: 'text/plain', buffer: hello });
    await uploaded(page, 'hello.txt');
    await page.locator('#entries li[data-path="hello.txt"]').waitFor();
  });

  await step('upload by drag and drop: two files, progress reaches 100%', async () => {
    await drop(page, '#dropzone', [{ name: 'picture.png', type: 'image/png', buffer: picture }, { name: 'random.bin', type: 'application/octet-stream', buffer: blob }]);
    await uploaded(page, 'picture.png');
    await uploaded(page, 'random.bin');
    await page.locator('#entries li[data-path="random.bin"]').waitFor();
    const st = await api('GET', `/api/v1/mimei/${mid}/stat/random.bin`);
    assert.equal(st.size, blob.length);
  });

  await step('download gives back the same bytes', async () => {
    const [dl] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download random.bin' }).click()]);
    assert.equal(dl.suggestedFilename(), 'random.bin');
    const got = await readFile(await dl.path());
    assert.equal(got.length, blob.length);
    assert.ok(got.equals(blob), 'downloaded bytes differ from those uploaded');
    const [dl2] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download hello.txt' }).click()]);
    assert.ok((await readFile(await dl2.path())).equals(hello));
  });

  await step('preview text and an image', async () => {
    await page.getByRole('button', { name: 'Preview hello.txt' }).click();
    const pre = page.locator('#preview pre.preview-text');
    await pre.waitFor();
    assert.equal(await pre.textContent(), hello.toString('utf8'));
    await page.getByRole('button', { name: 'Preview picture.png' }).click();
    const img = page.locator('#preview img.preview-img');
    await img.waitFor();
    await page.waitForFunction(() => document.querySelector('#preview img')?.naturalWidth === 96);
  });

  await step('the node says no: a clear message (folder exists)', async () => {
    await page.getByLabel('New folder', { exact: true }).fill('docs');
    await page.getByRole('button', { name: 'Create folder' }).click();
    await page.locator('#entries li a', { hasText: 'docs' }).waitFor();
    expect(/status of 409/);
    await page.getByLabel('New folder', { exact: true }).fill('docs');
    await page.getByRole('button', { name: 'Create folder' }).click();
    const msg = page.getByRole('alert').filter({ hasText: /already exists/i });
    await msg.waitFor();
    console.log(`     the node's no, as shown: "${(await msg.textContent()).trim()}"`);
  });

  await step('back up now, then a live update and a diff', async () => {
    await page.getByLabel('Note for this version', { exact: true }).fill('first backup');
    await page.getByRole('button', { name: 'Back up now' }).click();
    await page.locator('#versions li[data-version="0"]', { hasText: 'first backup' }).waitFor();
    // A file written by another client shows up through the event stream.
    await api('PUT', `/api/v1/mimei/${mid}/files/later.txt`, 'written by the API\n', { 'Content-Type': 'text/plain' });
    await page.locator('#entries li[data-path="later.txt"]').waitFor();
    await page.getByRole('button', { name: 'Compare version 0 with the current files' }).click();
    await page.locator('#diff li.added', { hasText: 'later.txt' }).waitFor();
  });

  await step('browse into a folder and back', async () => {
    await page.locator('#entries li a', { hasText: 'docs' }).click();
    await page.getByRole('heading', { level: 1, name: 'docs' }).waitFor();
    await page.locator('#upload-input').setInputFiles({ name: 'note.md', mimeType: 'text/markdown', buffer: Buffer.from('# note\n') });
    await uploaded(page, 'note.md');
    const st = await api('GET', `/api/v1/mimei/${mid}/stat/docs/note.md`);
    assert.equal(st.size, 7);
    await page.getByRole('navigation', { name: 'Folder path' }).getByRole('link').nth(1).click();
    await page.getByRole('heading', { level: 1, name: 'MiMei' }).waitFor();
  });

  await step('Database: keys by type and their values', async () => {
    const db = (...args) => api('POST', `/api/v1/mimei/${mid}/db`, JSON.stringify({ args }), { 'Content-Type': 'application/json' });
    await db('SET', 'greeting', 'hello, world');
    await db('HSET', 'user:1', 'name', 'Ada', 'lang', 'en');
    await db('RPUSH', 'queue', 'first', 'second', 'third');
    await db('SADD', 'tags', 'red', 'green');
    await db('ZADD', 'scores', '10', 'ann', '2.5', 'bob');
    await db('SET', 'long', 'x'.repeat(1000));
    await go(page, `#/db/${encodeURIComponent(mid)}`, 'Database');
    const row = (k) => page.locator(`#db-keys tr[data-key="${k}"]`);
    const text = async (k) => (await row(k).textContent()).replace(/\s+/g, ' ');
    await row('greeting').waitFor();
    const want = { greeting: ['string', /hello, world/], 'user:1': ['hash', /lang\s*en.*name\s*Ada/], queue: ['list', /0\s*first\s*1\s*second\s*2\s*third/],
      tags: ['set', /green.*red/], scores: ['zset', /bob\s*2\.5.*ann\s*10/], long: ['string', /first 300 of 1000 characters/] };
    for (const [k, [type, re]] of Object.entries(want)) {
      assert.equal(await row(k).getAttribute('data-type'), type, `${k}: type`);
      assert.match(await text(k), re, `${k}: value`);
    }
    await page.locator('#db-keys tbody[data-type="hash"] th', { hasText: 'Hashes (1)' }).waitFor();
    // The filter is a MATCH pattern.
    await page.getByLabel('Filter keys', { exact: true }).fill('user:*');
    await page.getByRole('button', { name: 'Filter', exact: true }).click();
    await page.waitForFunction(() => document.querySelectorAll('#db-keys tr[data-key]').length === 1);
    await row('user:1').waitFor();
    await page.getByLabel('Filter keys', { exact: true }).fill('');
    await page.getByRole('button', { name: 'Filter', exact: true }).click();
    await row('greeting').waitFor();
    // A key written by another client shows after Refresh.
    await db('SET', 'from-api', 'written elsewhere');
    await page.getByRole('button', { name: 'Refresh' }).click();
    await row('from-api').waitFor();
    // Set and delete through the page.
    await page.getByLabel('Key', { exact: true }).fill('made-here');
    await page.getByLabel('Value', { exact: true }).fill('in the browser');
    await page.getByRole('button', { name: 'Set key' }).click();
    await row('made-here').filter({ hasText: 'in the browser' }).waitFor();
    assert.equal((await db('GET', 'made-here')).bulk, 'in the browser');
    await page.getByLabel('Key to delete', { exact: true }).fill('greeting');
    await page.getByRole('button', { name: 'Delete key' }).click();
    await row('greeting').waitFor({ state: 'detached' });
    assert.equal((await db('EXISTS', 'greeting')).int || 0, 0);
    await page.getByLabel('Key to delete', { exact: true }).fill('no-such-key');
    await page.getByRole('button', { name: 'Delete key' }).click();
    await page.getByRole('alert').filter({ hasText: 'There is no key "no-such-key".' }).waitFor();
    await labelled(page, 'database');
  });

  await step('Files: upload a folder with the folder picker, keeping its tree', async () => {
    const { mkdtemp, mkdir, writeFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const root = path.join(await mkdtemp(path.join(tmpdir(), 'peer-ui-')), 'tree');
    await mkdir(path.join(root, 'sub', 'deeper'), { recursive: true });
    await writeFile(path.join(root, 'top.txt'), 'top\n');
    await writeFile(path.join(root, 'sub', 'mid.txt'), 'middle file\n');
    await writeFile(path.join(root, 'sub', 'deeper', 'low.txt'), 'the lowest file\n');
    await go(page, `#/files/${encodeURIComponent(mid)}`, 'MiMei');
    await page.locator('#upload-folder-input').setInputFiles(root);
    for (const f of ['tree/top.txt', 'tree/sub/mid.txt', 'tree/sub/deeper/low.txt']) await uploaded(page, f);
    await page.locator('#entries li a', { hasText: 'tree' }).waitFor();
    const ls = await api('GET', `/api/v1/mimei/${mid}/ls/tree/sub`);
    assert.deepEqual(ls.entries.map((e) => e.name).sort(), ['deeper', 'mid.txt']);
    assert.equal((await api('GET', `/api/v1/mimei/${mid}/stat/tree/sub/deeper/low.txt`)).size, 16);
  });

  await step('Files: a folder larger than a page shows the first 1000 entries and "Show more" the rest', async () => {
    const big = await api('POST', '/api/v1/mimei', JSON.stringify({ app_type: 'files' }), { 'Content-Type': 'application/json' });
    const names = Array.from({ length: 1005 }, (_, i) => `f${String(i).padStart(4, '0')}.txt`);
    for (let i = 0; i < names.length; i += 50) {
      await Promise.all(names.slice(i, i + 50).map((n) => api('PUT', `/api/v1/mimei/${big.id}/files/${n}`, 'x', { 'Content-Type': 'text/plain' })));
    }
    await go(page, `#/files/${encodeURIComponent(big.id)}`, 'MiMei');
    await page.locator('#entries li[data-path="f0999.txt"]').waitFor();
    assert.equal(await page.locator('#entries li').count(), 1000);
    await page.getByRole('button', { name: 'Show more' }).click();
    await page.locator('#entries li[data-path="f1004.txt"]').waitFor();
    assert.equal(await page.locator('#entries li').count(), 1005);
    assert.equal(await page.getByRole('button', { name: 'Show more' }).count(), 0);
  });

  await step('read-only session: no write controls', async () => {
    const pair = await api('POST', '/api/v1/console/pair', JSON.stringify({ scope: 'read', name: 'read-only test' }), { 'Content-Type': 'application/json' });
    const ro = await newContext(browser, DESKTOP, 'readonly');
    try {
      expect(/status of 401/);
      await go(ro.page, '', 'Log in to your node');
      await ro.page.getByLabel('Pairing code', { exact: true }).fill(pair.code);
      await ro.page.getByRole('button', { name: 'Log in', exact: true }).click();
      await ro.page.getByRole('heading', { level: 1, name: 'Home' }).waitFor();
      const note = () => ro.page.getByText('This browser has read-only access.').waitFor();
      const none = async (what, loc) => assert.equal(await loc.count(), 0, `read-only: ${what} shown`);
      await go(ro.page, '#/files', 'Files');
      await ro.page.locator('#mimei-list').waitFor();
      await note();
      await none('Create MiMei', ro.page.getByRole('button', { name: 'Create MiMei' }));
      await go(ro.page, `#/files/${encodeURIComponent(mid)}`, 'MiMei');
      await ro.page.locator('#entries li[data-path="hello.txt"]').waitFor();
      await ro.page.locator('#versions li[data-version="0"]').waitFor();
      await note();
      for (const sel of ['#dropzone', '#upload-input', '#upload-folder-input', '#backup']) await none(sel, ro.page.locator(sel));
      for (const name of [/^Delete/, /^Restore version/, /^Mark version/, /^Create folder/]) await none(String(name), ro.page.getByRole('button', { name }));
      await ro.page.getByRole('link', { name: 'Download hello.txt' }).waitFor();
      await ro.page.getByRole('button', { name: 'Compare version 0 with the current files' }).waitFor();
      await go(ro.page, `#/db/${encodeURIComponent(mid)}`, 'Database');
      await note();
      // It reads the database (the node lets a read session run commands
      // that only read).
      await ro.page.locator('#db-keys tr[data-key="user:1"]', { hasText: 'Ada' }).waitFor();
      await none('Set key', ro.page.getByRole('button', { name: 'Set key' }));
      await none('Delete key', ro.page.getByRole('button', { name: 'Delete key' }));
      await go(ro.page, '#/settings', 'Settings');
      await ro.page.locator('#sessions li').first().waitFor();
      await note();
      await none('Pair another device', ro.page.getByRole('button', { name: 'Pair another device' }));
      await none('Revoke', ro.page.getByRole('button', { name: /^Revoke/ }));
      // A read-only browser may still log itself out (and leaves no session).
      await ro.page.getByRole('button', { name: 'Log out' }).click();
      await ro.page.getByRole('heading', { level: 1, name: 'Log in to your node' }).waitFor();
    } finally {
      await ro.ctx.close();
    }
  });

  await step('Network: the connection from the other node, direct', async () => {
    await go(page, '#/network', 'Network');
    await page.locator('#reachability').waitFor();
    await page.locator('#conns li', { hasText: 'direct' }).first().waitFor();
    const titles = await page.locator('#conns li .name').evaluateAll((els) => els.map((e) => e.title));
    assert.ok(titles.includes(B.device), `no connection to ${B.device}: ${titles}`);
  });

  // ---- two nodes: A invites B, shares a MiMei, B's UI receives it ----------

  const b = { ctx: null, page: null };
  const apiB = async (method, p, body) => {
    const res = await fetch(B.url + p, { method, headers: { Authorization: `Bearer ${B.token}`, 'Content-Type': 'application/json' }, body: body && JSON.stringify(body) });
    const text = await res.text();
    assert.ok(res.ok, `B: ${method} ${p}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  const contactRow = (p, persona) => p.locator(`#contacts li[data-persona="${persona}"]`);

  await step('log a browser into node B with its own token', async () => {
    Object.assign(b, await newContext(browser, DESKTOP, 'b'));
    expect(/status of 401/);
    await b.page.goto(`${B.url}/`);
    await b.page.getByRole('heading', { level: 1, name: 'Log in to your node' }).waitFor();
    await b.page.getByText('This computer: paste the API token').click();
    await b.page.getByLabel('API token', { exact: true }).fill(B.token);
    await b.page.getByRole('button', { name: 'Log in with the token' }).click();
    await b.page.getByRole('heading', { level: 1, name: 'Home' }).waitFor();
    await b.page.locator('#live', { hasText: 'Live' }).waitFor();
    // B's warning threshold is above any disk: its pages carry the banner,
    // A's do not.
    await b.page.locator('#disk', { hasText: 'Disk space is low' }).waitFor();
    assert.equal(await page.locator('#disk').isVisible(), false);
  });

  await step('Contacts: A creates an invite, B accepts it, each lists the other', async () => {
    await go(page, '#/contacts', 'Contacts');
    // A names whoever accepts: B arrives in A's list as Bobby.
    await page.getByLabel('Their name here (optional)', { exact: true }).fill('Bobby');
    await page.getByRole('button', { name: 'Create invite' }).click();
    const link = (await page.locator('#invite-link').textContent()).trim();
    assert.match(link, /^peer:invite:\S+$/);
    await page.waitForFunction(() => document.querySelector('#invite-qr')?.naturalWidth > 0);
    await page.locator('#pending-invites li', { hasText: 'for Bobby' }).first().waitFor();
    await shot(page, 'contacts-invite', 'desktop');
    await b.page.goto(`${B.url}/#/contacts`);
    await b.page.getByRole('heading', { level: 1, name: 'Contacts' }).waitFor();
    await b.page.getByLabel('Invite code', { exact: true }).fill(link);
    await b.page.getByRole('button', { name: 'Accept invite' }).click();
    await contactRow(b.page, A.persona).locator('.status', { hasText: 'Online' }).waitFor();
    // A's page was not reloaded: B arrives by the event stream, and the
    // used invite leaves the pending list.
    await contactRow(page, B.persona).locator('.status', { hasText: 'Online' }).waitFor();
    await page.waitForFunction(() => !document.querySelector('#pending-invites li'));
    assert.equal(await contactRow(page, B.persona).locator('code.id').getAttribute('title'), B.persona);
    await contactRow(page, B.persona).locator('.pet', { hasText: /^Bobby$/ }).waitFor();
  });

  await step('Contacts: a pet name set in A\'s UI', async () => {
    await contactRow(page, B.persona).getByRole('button', { name: /^Rename / }).click();
    await contactRow(page, B.persona).getByRole('textbox', { name: /^New name for / }).fill('Bob');
    await contactRow(page, B.persona).getByRole('button', { name: 'Save name' }).click();
    await contactRow(page, B.persona).locator('.pet', { hasText: /^Bob$/ }).waitFor();
    const c = await api('GET', `/api/v1/contacts/${encodeURIComponent(B.persona)}`);
    assert.equal(c.name, 'Bob');
  });

  await step('Sharing: A shares the MiMei with Bob as reader; it shows up live in B\'s UI', async () => {
    await b.page.goto(`${B.url}/#/sharing`);
    await b.page.getByRole('heading', { level: 1, name: 'Sharing' }).waitFor();
    await b.page.getByText('Nobody has shared a MiMei with you yet.').waitFor();
    await go(page, '#/sharing', 'Sharing');
    await page.getByLabel('MiMei', { exact: true }).selectOption(mid);
    await page.getByLabel('Contact', { exact: true }).selectOption({ label: 'Bob' });
    await page.getByLabel('Role', { exact: true }).selectOption('reader');
    await page.getByRole('button', { name: 'Share', exact: true }).click();
    await page.locator(`#my-shares li[data-mid="${mid}"] li[data-persona="${B.persona}"]`, { hasText: 'Bob' }).waitFor();
    const row = b.page.locator(`#shared-with-me li[data-mid="${mid}"]`);
    await row.waitFor();
    assert.match(await row.locator('.meta').textContent(), /not fetched yet/);
  });

  await step('Sharing: B subscribes; the files arrive; hello.txt downloads with the same bytes', async () => {
    const row = b.page.locator(`#shared-with-me li[data-mid="${mid}"]`);
    await row.getByRole('button', { name: /^Subscribe to / }).click();
    await row.locator('.badge', { hasText: 'Subscribed' }).waitFor();
    // The badge is on a row rebuilt after the subscribe answered: the
    // answer's message survived the rebuild.
    await row.locator('.fetch-state', { hasText: 'Fetched 1 version.' }).waitFor();
    await b.page.locator(`#subscriptions li[data-mid="${mid}"]`, { hasText: 'newest here: version 0' }).waitFor();
    await row.locator('summary').click();
    await row.locator('li[data-path="random.bin"]').waitFor();
    await row.locator('li[data-path="picture.png"]').waitFor();
    const [dl] = await Promise.all([b.page.waitForEvent('download'), row.getByRole('link', { name: 'Download hello.txt' }).click()]);
    assert.equal(dl.suggestedFilename(), 'hello.txt');
    assert.ok((await readFile(await dl.path())).equals(hello), 'hello.txt arrived at B with other bytes');
    await row.getByRole('button', { name: /^Fetch .* now$/ }).click();
    await row.locator('.fetch-state', { hasText: 'Nothing new to fetch.' }).waitFor();
  });

  await step('Sharing: B\'s list is rebuilt by a live event while "Fetch now" runs; its answer still shows', async () => {
    const row = b.page.locator(`#shared-with-me li[data-mid="${mid}"]`);
    // Hold B's fetch request until the list has been rebuilt under it.
    let arrived;
    const intercepted = new Promise((r) => { arrived = r; });
    let release;
    const gate = new Promise((r) => { release = r; });
    const fetchURL = `${B.url}/api/v1/mimei/${encodeURIComponent(mid)}/fetch`;
    await b.page.route(fetchURL, async (route) => { arrived(); await gate; await route.continue(); });
    try {
      await row.evaluate((el) => { el.dataset.before = 'rebuild'; });
      await row.getByRole('button', { name: /^Fetch .* now$/ }).click();
      await intercepted;
      await row.locator('.fetch-state', { hasText: 'Fetching…' }).waitFor();
      // A shares another MiMei with Bob: the offer reaches B's page as an
      // event, and the page rebuilds its list of what is shared with it.
      const other = await api('POST', '/api/v1/mimei', JSON.stringify({ app_type: 'notes' }), { 'Content-Type': 'application/json' });
      await api('POST', `/api/v1/mimei/${other.id}/shares`, JSON.stringify({ with: B.persona }), { 'Content-Type': 'application/json' });
      await b.page.locator(`#shared-with-me li[data-mid="${other.id}"]`).waitFor();
      assert.equal(await row.evaluate((el) => el.dataset.before), undefined, 'the row was not rebuilt');
      // The new row shows the fetch under way, and cannot start another.
      await row.locator('.fetch-state', { hasText: 'Fetching…' }).waitFor();
      assert.equal(await row.getByRole('button', { name: /^Fetch .* now$/ }).isDisabled(), true, 'Fetch now is enabled during a fetch');
    } finally {
      release();
    }
    await row.locator('.fetch-state', { hasText: 'Nothing new to fetch.' }).waitFor();
    await b.page.unroute(fetchURL);
  });

  await step('Sharing: a new version backed up in A\'s UI reaches B\'s subscription', async () => {
    await page.goto(`${A.url}/#/files/${encodeURIComponent(mid)}`);
    await page.getByRole('heading', { level: 1, name: 'MiMei' }).waitFor();
    await page.getByLabel('Note for this version', { exact: true }).fill('for Bob');
    await page.getByRole('button', { name: 'Back up now' }).click();
    await page.locator('#versions li[data-version="1"]').waitFor();
    await b.page.locator(`#subscriptions li[data-mid="${mid}"]`, { hasText: 'newest here: version 1' }).waitFor();
    const row = b.page.locator(`#shared-with-me li[data-mid="${mid}"]`);
    await row.locator('li[data-path="later.txt"]').waitFor();
    await shot(b.page, 'sharing-received', 'desktop');
    await row.getByRole('link', { name: /^Open .* in Files$/ }).click();
    await b.page.getByRole('heading', { level: 1, name: 'MiMei' }).waitFor();
    await b.page.locator('#versions li[data-version="1"]').waitFor();
    // B's Files page shows the files of the newest version received, to
    // read: download it there too, and see no write controls.
    await b.page.locator('#version-view').waitFor();
    await b.page.locator('#entries li[data-path="later.txt"]').waitFor();
    const [dl] = await Promise.all([b.page.waitForEvent('download'), b.page.getByRole('link', { name: 'Download hello.txt' }).click()]);
    assert.ok((await readFile(await dl.path())).equals(hello), 'hello.txt from B\'s Files page has other bytes');
    assert.equal(await b.page.locator('#dropzone, #backup').count(), 0, 'write controls on a MiMei shared with B');
    await b.page.getByRole('button', { name: 'Preview hello.txt' }).click();
    await b.page.locator('#preview pre', { hasText: 'Hello from the browser test.' }).waitFor();
    await shot(b.page, 'mimei-shared', 'desktop');
  });

  await step('Sharing: A stops sharing with Bob in A\'s UI; B\'s page shows it revoked, live', async () => {
    await b.page.goto(`${B.url}/#/sharing`);
    await b.page.getByRole('heading', { level: 1, name: 'Sharing' }).waitFor();
    const row = b.page.locator(`#shared-with-me li[data-mid="${mid}"]`);
    await row.locator('.badge', { hasText: 'Subscribed' }).waitFor();
    await go(page, '#/sharing', 'Sharing');
    page.once('dialog', (d) => d.accept());
    await page.locator(`#my-shares li[data-mid="${mid}"]`).getByRole('button', { name: /^Stop sharing .* with Bob$/ }).click();
    await page.locator(`#my-shares li[data-mid="${mid}"] li[data-persona="${B.persona}"]`).waitFor({ state: 'detached' });
    // B's page was not reloaded: the revocation arrives by the event stream.
    await row.locator('.badge', { hasText: 'Revoked' }).waitFor();
    assert.equal(await row.getByRole('button', { name: /^Fetch .* now$/ }).count(), 0, 'Fetch now offered for a revoked MiMei');
    await b.page.locator(`#subscriptions li[data-mid="${mid}"]`).waitFor({ state: 'detached' });
  });

  await step('Contacts: block and unblock in B\'s UI, then connect again', async () => {
    await b.page.goto(`${B.url}/#/contacts`);
    await b.page.getByRole('heading', { level: 1, name: 'Contacts' }).waitFor();
    const row = contactRow(b.page, A.persona);
    b.page.once('dialog', (d) => d.accept());
    await row.getByRole('button', { name: /^Block / }).click();
    await row.locator('.status', { hasText: 'Blocked' }).waitFor();
    assert.ok((await apiB('GET', '/api/v1/blocks')).personas.includes(A.persona), 'A is not on B\'s block list');
    // A's UI sees B go away.
    await go(page, '#/contacts', 'Contacts');
    await contactRow(page, B.persona).locator('.status', { hasText: 'Offline' }).waitFor();
    await row.getByRole('button', { name: /^Unblock / }).click();
    await row.locator('.status', { hasText: /^(Online|Offline)$/ }).waitFor();
    assert.deepEqual((await apiB('GET', '/api/v1/blocks')).personas, []);
    if (await row.getByRole('button', { name: /^Connect to / }).count()) await row.getByRole('button', { name: /^Connect to / }).click();
    await row.locator('.status', { hasText: 'Online' }).waitFor();
    await contactRow(page, B.persona).locator('.status', { hasText: 'Online' }).waitFor();
  });

  await step('screenshots of every page at 1280×800 and 390×844, no horizontal scroll', async () => {
    const pages = [['home', '', 'Home'], ['files', '#/files', 'Files'], ['mimei', `#/files/${encodeURIComponent(mid)}`, 'MiMei'],
      ['database', `#/db/${encodeURIComponent(mid)}`, 'Database'], ['contacts', '#/contacts', 'Contacts'], ['sharing', '#/sharing', 'Sharing'],
      ['network', '#/network', 'Network'], ['settings', '#/settings', 'Settings']];
    for (const [name, hash, heading] of pages) {
      for (const [p, kind] of [[page, 'desktop'], [phone.page, 'phone']]) {
        await p.goto(`${A.url}/${hash}`);
        await p.getByRole('heading', { level: 1, name: heading }).waitFor();
        if (name === 'mimei') {
          await p.getByRole('button', { name: 'Preview picture.png' }).click();
          await p.waitForFunction(() => document.querySelector('#preview img')?.naturalWidth === 96);
        }
        await noHorizontalScroll(p, `${name} at ${kind} width`);
        await labelled(p, name);
        if (!(name === 'settings' && kind === 'desktop')) await shot(p, name, kind);
      }
    }
  });

  await step('Settings: sessions listed; revoking one logs that browser out', async () => {
    await go(page, '#/settings', 'Settings');
    const rows = page.locator('#sessions li');
    await rows.nth(1).waitFor();
    assert.equal(await rows.count(), 2);
    const other = rows.filter({ hasNotText: 'this browser' });
    await other.getByRole('button', { name: /^Revoke session/ }).click();
    await page.waitForFunction(() => document.querySelectorAll('#sessions li').length === 1);
    expect(/status of 401/);
    await phone.page.reload();
    await phone.page.getByRole('heading', { level: 1, name: 'Log in to your node' }).waitFor();
  });

  await step('log out', async () => {
    expect(/status of 401/);
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('heading', { level: 1, name: 'Log in to your node' }).waitFor();
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Log in to your node' }).waitFor();
  });
} finally {
  await browser.close();
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
