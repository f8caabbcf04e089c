// The node's HTTP API, as the browser uses it: a session cookie (sent by the
// browser, never readable by scripts), the CSRF header on every unsafe
// request, and errors turned into plain words.

export const BASE = '/api/v1';

// ApiError is a refusal by the node (or no answer at all): status 0 means
// the node could not be reached.
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

const listeners = new Set();
// onLoggedOut calls fn whenever the node answers 401: the session ended,
// was revoked, or never was.
export function onLoggedOut(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

const safe = (method) => method === 'GET' || method === 'HEAD';

// toError builds an ApiError from a failed answer's status and body. The
// API answers {"code","message"} ({"error":{…}} is accepted too) and its
// messages are written for people: shown as they are, as a sentence.
export function toError(status, body) {
  let e = null;
  try { e = body ? JSON.parse(body) : null; } catch { e = null; }
  if (e && typeof e.error === 'object' && e.error) e = e.error;
  const code = (e && e.code) || `http_${status}`;
  let msg = (e && e.message) || (body && body.length < 200 ? body.trim() : '') || `The node answered with status ${status}.`;
  msg = msg.charAt(0).toUpperCase() + msg.slice(1);
  if (!/[.!?]$/.test(msg)) msg += '.';
  return new ApiError(status, code, msg);
}

const offline = () => new ApiError(0, 'offline', 'Cannot reach the node. Is it still running?');

// loggedOut tells the app that the session is gone, unless the 401 came
// from logging in (a wrong code or token) or from the login check itself.
const loginPaths = ['/console/local', '/console/session', '/console/whoami'];
function loggedOut(status, path) {
  if (status === 401 && !loginPaths.includes(path)) listeners.forEach((fn) => fn());
}

// api sends one request and returns the decoded JSON answer (null for 204).
// body, when given, is sent as JSON.
export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (!safe(method)) headers['X-Peer-CSRF'] = '1';
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(BASE + path, init);
  } catch {
    throw offline();
  }
  const text = await res.text();
  if (!res.ok) {
    loggedOut(res.status, path);
    throw toError(res.status, text);
  }
  if (!text) return null;
  return JSON.parse(text);
}

export const get = (path) => api('GET', path);
export const post = (path, body = {}) => api('POST', path, body);
export const del = (path) => api('DELETE', path);

// filePath escapes each segment of a slash-separated path for a URL.
export function filePath(p) {
  return p.split('/').filter(Boolean).map(encodeURIComponent).join('/');
}

export function fileURL(mid, p, version) {
  const q = version && version !== 'cur' ? `?version=${encodeURIComponent(version)}` : '';
  return `${BASE}/mimei/${encodeURIComponent(mid)}/files/${filePath(p)}${q}`;
}

// upload streams a file to the MiMei's file space with XMLHttpRequest,
// whose upload events report progress (fetch has none):
// onProgress(sentBytes, totalBytes). It resolves to the stored FileInfo.
export function upload(mid, path, file, onProgress) {
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open('PUT', `${fileURL(mid, path)}?parents=1`);
    x.withCredentials = true;
    x.setRequestHeader('X-Peer-CSRF', '1');
    if (file.lastModified) x.setRequestHeader('X-Peer-Mtime', String(file.lastModified));
    x.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable) onProgress(e.loaded, e.total);
    });
    x.addEventListener('load', () => {
      if (x.status >= 200 && x.status < 300) {
        onProgress(file.size, file.size);
        try { resolve(JSON.parse(x.responseText)); } catch { resolve(null); }
      } else {
        loggedOut(x.status, '/mimei');
        reject(toError(x.status, x.responseText));
      }
    });
    x.addEventListener('error', () => reject(offline()));
    x.addEventListener('abort', () => reject(new ApiError(0, 'aborted', 'The upload was cancelled.')));
    x.send(file);
  });
}

// fetchBlob reads a file for a preview: its first max bytes when max is
// given (only for a file longer than that: a range on an empty file is 416).
export async function fetchBlob(url, max) {
  let res;
  try {
    res = await fetch(url, { credentials: 'same-origin', headers: max ? { Range: `bytes=0-${max - 1}` } : {} });
  } catch {
    throw offline();
  }
  if (!res.ok) {
    const text = await res.text();
    loggedOut(res.status, '/mimei');
    throw toError(res.status, text);
  }
  return { blob: await res.blob(), partial: res.status === 206 };
}
