// Network: how this node stands on the peer-to-peer network: reachability,
// relays, and each open connection, direct or relayed.

import { get } from '../api.js';
import * as events from '../events.js';
import { fill, h, section, short, when } from '../ui.js';

function facts(rows) {
  return h('dl', { class: 'facts' }, rows.map(([k, v]) => h('div', {}, h('dt', { text: k }), h('dd', {}, v))));
}

function addrList(addrs, empty) {
  if (!addrs || !addrs.length) return h('p', { class: 'muted', text: empty });
  return h('ul', { class: 'addrs' }, addrs.map((a) => h('li', {}, h('code', { text: a }))));
}

export function render(main) {
  const status = h('div', { 'aria-busy': 'true' }, h('p', { class: 'muted', text: 'Loading…' }));
  const conns = h('div', {}, h('p', { class: 'muted', text: 'Loading…' }));
  const relays = h('div', {});
  const addrs = h('div', {});
  const refresh = h('button', { type: 'button', text: 'Refresh', on: { click: load } });

  fill(main,
    h('div', { class: 'title-row' }, h('h1', { text: 'Network' }), refresh),
    h('div', { class: 'grid' },
      section('This node', status),
      section('Relays', relays)),
    section('Connections', conns),
    section('Addresses', addrs));

  async function load() {
    let n;
    try {
      n = await get('/net');
    } catch (ex) {
      status.removeAttribute('aria-busy');
      fill(status, h('p', { class: ex.code === 'network_off' ? '' : 'error', role: 'alert', text: ex.message }));
      fill(conns);
      return;
    }
    status.removeAttribute('aria-busy');
    const hp = n.hole_punch;
    fill(status, facts([
      ['Peer ID', h('code', { class: 'id', text: n.peer_id })],
      ['Reachability', h('span', { class: `badge ${n.reachability === 'public' ? 'ok' : ''}`, id: 'reachability', text: n.reachability })],
      ['NAT', n.nat_type],
      ['DHT', `${n.dht_mode}, ${n.routing_table} peers in the routing table`],
      ['Published', n.publish_error ? `failed: ${n.publish_error}` : when(n.published)],
      ['Hole punches', `${hp.succeeded} succeeded, ${hp.failed} failed`],
    ]));
    fill(relays, addrList(n.relays, 'No relay holds a reservation for this node.'));
    fill(addrs, h('h3', { text: 'Listening on' }), addrList(n.listen_addrs, 'None.'), h('h3', { text: 'Advertised' }), addrList(n.addrs, 'None.'));
    if (!n.conns.length) {
      fill(conns, h('p', { class: 'muted', text: 'No open connections.' }));
      return;
    }
    fill(conns, h('p', { class: 'muted', text: `${n.direct} direct, ${n.relayed_conns} relayed` }),
      h('ul', { class: 'list', id: 'conns' }, n.conns.map((c) => h('li', { class: 'item' },
        h('span', { class: 'name', title: c.peer_id }, c.name || (c.persona ? short(c.persona, 12) : short(c.peer_id, 10))),
        h('span', { class: `badge ${c.relayed ? 'warn' : 'ok'}`, text: c.relayed ? 'relayed' : 'direct' }),
        h('span', { class: 'meta' }, `${c.transport} · ${c.direction} · since ${when(c.opened)} · `, h('code', { text: c.addr }))))));
  }

  let timer = null;
  const soon = () => { clearTimeout(timer); timer = setTimeout(load, 300); };
  const off = events.subscribe(['peer.connected', 'peer.disconnected', 'net.holepunch', 'net.published'], soon);
  load();
  return () => { clearTimeout(timer); off(); };
}
