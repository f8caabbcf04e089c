// The node's event stream (server-sent events): one EventSource for the
// whole app; pages subscribe to the event types they show and unsubscribe
// when they are left. The browser reconnects by itself and resumes from the
// last event ID.

import { BASE } from './api.js';

let source = null;
const handlers = new Map(); // type -> Set of functions
const stateFns = new Set();
let state = 'off';

function setState(s) {
  state = s;
  stateFns.forEach((fn) => fn(s));
}

// onState calls fn with 'live', 'connecting', 'closed' or 'off' now and at
// every change.
export function onState(fn) {
  stateFns.add(fn);
  fn(state);
  return () => stateFns.delete(fn);
}

function dispatch(ev) {
  let msg;
  try { msg = JSON.parse(ev.data); } catch { return; }
  for (const fn of handlers.get(ev.type) || []) {
    try { fn(msg.data, msg); } catch (e) { console.warn('event handler failed', e); }
  }
}

export function connect() {
  if (source) return;
  setState('connecting');
  source = new EventSource(`${BASE}/events`, { withCredentials: true });
  source.addEventListener('open', () => setState('live'));
  source.addEventListener('error', () => setState(source && source.readyState === EventSource.CLOSED ? 'closed' : 'connecting'));
  for (const type of handlers.keys()) source.addEventListener(type, dispatch);
}

export function disconnect() {
  if (source) source.close();
  source = null;
  setState('off');
}

// subscribe calls fn(data, event) for each event of the given types and
// returns the function that stops it.
export function subscribe(types, fn) {
  for (const t of types) {
    if (!handlers.has(t)) {
      handlers.set(t, new Set());
      if (source) source.addEventListener(t, dispatch);
    }
    handlers.get(t).add(fn);
  }
  return () => types.forEach((t) => handlers.get(t)?.delete(fn));
}
