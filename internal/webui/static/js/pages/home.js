// Home: who this node is (persona and device IDs), whether it is online and
// reachable, and how much it stores.

import { get } from '../api.js';
import * as events from '../events.js';
import { bytes, copyButton, duration, fill, h, qrImage, section, settle } from '../ui.js';

function idRow(label, id, what) {
  return h('div', { class: 'idrow' },
    h('dt', { text: label }),
    h('dd', {}, h('code', { class: 'id', text: id || '—' }), id ? copyButton(id, what) : null));
}

function dl(rows) {
  return h('dl', { class: 'facts' }, rows.map(([k, v]) => h('div', {}, h('dt', { text: k }), h('dd', {}, v))));
}

export function render(main) {
  const idBox = h('div', { 'aria-busy': 'true' }, h('p', { class: 'muted', text: 'Loading…' }));
  const statusBox = h('div', {}, h('p', { class: 'muted', text: 'Loading…' }));
  const storeBox = h('div', {}, h('p', { class: 'muted', text: 'Loading…' }));
  // The IDs as QR codes, for a phone to scan: folded away so the page
  // stays short on a phone, fetched once (they never change).
  const qrBox = h('div', { class: 'qrs', id: 'id-qr' });
  const qrs = h('details', { class: 'alt', id: 'qr-codes' }, h('summary', { text: 'Show QR codes' }), qrBox);
  let qrLoaded = false;
  let live = 'off';

  fill(main,
    h('h1', { text: 'Home' }),
    h('div', { class: 'grid' },
      section('Identity', idBox),
      section('Status', statusBox),
      section('Storage', storeBox)));

  async function load() {
    const [id, st, net, stats] = await Promise.all([
      settle(get('/identity')), settle(get('/status')), settle(get('/net')), settle(get('/store/stats'))]);
    if (id.e) fill(idBox, h('p', { class: 'error', text: id.e.message }));
    else {
      fill(idBox, h('dl', { class: 'ids' },
        idRow('Persona', id.v.persona.id, 'persona ID'),
        idRow('Device', id.v.device.peer_id, 'device ID')),
      h('p', { class: 'muted', text: `Persona name: ${id.v.persona.name || '(none)'} · ${id.v.personas.length} persona(s) on this node` }));
      idBox.append(qrs);
      idBox.removeAttribute('aria-busy');
      if (!qrLoaded) loadQR();
    }
    const rows = [['Node', h('span', { class: `badge ${live === 'live' ? 'ok' : 'warn'}`, id: 'online', text: live === 'live' ? 'Online' : 'Connecting…' })]];
    if (!st.e) rows.push(['Version', st.v.version], ['Up for', duration(st.v.uptime_seconds)]);
    if (net.e) rows.push(['Network', net.e.code === 'network_off' ? 'Off' : net.e.message]);
    else {
      rows.push(['Reachability', h('span', { class: `badge ${net.v.reachability === 'public' ? 'ok' : ''}`, text: net.v.reachability })]);
      rows.push(['NAT', net.v.nat_type]);
      rows.push(['Connections', `${net.v.direct} direct, ${net.v.relayed_conns} relayed`]);
      rows.push(['Relays', String(net.v.relays.length)]);
    }
    fill(statusBox, dl(rows), h('p', {}, h('a', { href: '#/network', text: 'Network details' })));
    if (stats.e) fill(storeBox, h('p', { class: stats.e.code === 'unavailable' ? 'muted' : 'error', text: stats.e.message }));
    else {
      fill(storeBox, dl([
        ['Used on disk', h('span', { id: 'disk-used', text: bytes(stats.v.disk_bytes) })],
        ['Live data', bytes(stats.v.live_bytes)],
        ['MiMei', String(stats.v.mimei)],
        ['Versions', String(stats.v.versions)],
      ]), h('p', {}, h('a', { href: '#/files', text: 'Browse files' })));
    }
  }

  async function loadQR() {
    qrLoaded = true;
    try {
      const q = await get('/identity/qr');
      fill(qrBox,
        q.persona_svg ? h('figure', {}, qrImage(q.persona_svg, 'QR code of the persona ID'), h('figcaption', { text: 'Persona' })) : null,
        q.device_svg ? h('figure', {}, qrImage(q.device_svg, 'QR code of the device ID'), h('figcaption', { text: 'Device' })) : null);
    } catch (ex) {
      qrLoaded = false;
      fill(qrBox, h('p', { class: 'error', text: ex.message }));
    }
  }

  let timer = null;
  const reload = () => { clearTimeout(timer); timer = setTimeout(load, 300); };
  const offState = events.onState((s) => { const was = live; live = s; if (was !== s) reload(); });
  const offEvents = events.subscribe(['peer.connected', 'peer.disconnected', 'file.put', 'mimei.backup', 'net.published', 'persona.created'], reload);
  load();
  return () => { clearTimeout(timer); offState(); offEvents(); };
}
