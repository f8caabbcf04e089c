package node

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/peer-node/peer/internal/codec"
	"github.com/peer-node/peer/internal/datadir"
	"github.com/peer-node/peer/internal/identity"
	"github.com/peer-node/peer/internal/keystore"
	"github.com/peer-node/peer/internal/kv"
	"github.com/peer-node/peer/internal/kv/pebblekv"
	"github.com/peer-node/peer/internal/p2p"
	"github.com/peer-node/peer/internal/pairing"
)

// Own devices: the other devices of our persona, paired by a one-time
// code (docs/devices.md). Each is kept under "dv/<peer ID>" with its
// device certificate and last known addresses; every device lists all of
// them in the identity record it publishes, and they keep the persona's
// MiMei in sync (shareSvc.syncOwn).

var ownDevicePrefix = []byte("dv/")

// Pairing timing and limits.
const (
	pairTimeout     = 30 * time.Second
	defaultPairTTL  = 10 * time.Minute
	maxPairFailures = 10 // wrong codes per minute before pairing refuses everyone for a while
	maxOwnDevices   = 7  // besides this one: an identity record lists at most 8
)

// ownDevice is another device of our persona.
type ownDevice struct {
	PeerID peer.ID
	Cert   []byte // encoded identity.DeviceCert
	Addrs  []string
	Name   string
	Added  time.Time
}

type ownDeviceWire struct {
	_     struct{} `cbor:",toarray"`
	Cert  []byte
	Addrs []string
	Name  string
	Added int64
}

func ownDeviceKey(p peer.ID) []byte { return append(bytes.Clone(ownDevicePrefix), p.String()...) }

// loadOwnDevices reads the paired devices, oldest first.
func loadOwnDevices(r kv.Reader) ([]ownDevice, error) {
	it := r.Iter(kv.IterOptions{Prefix: ownDevicePrefix})
	defer it.Close()
	var out []ownDevice
	for it.Next() {
		p, err := peer.Decode(string(it.Key()[len(ownDevicePrefix):]))
		if err != nil {
			return nil, fmt.Errorf("own devices: bad key %q: %w", it.Key(), err)
		}
		var w ownDeviceWire
		if err := codec.Unmarshal(it.Value(), &w); err != nil {
			return nil, fmt.Errorf("own device %s: %w", p, err)
		}
		out = append(out, ownDevice{PeerID: p, Cert: w.Cert, Addrs: w.Addrs, Name: w.Name, Added: time.UnixMilli(w.Added)})
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b ownDevice) int { return a.Added.Compare(b.Added) })
	return out, nil
}

func putOwnDevice(w kv.Writer, d ownDevice) error {
	b, err := codec.Marshal(&ownDeviceWire{Cert: d.Cert, Addrs: d.Addrs, Name: d.Name, Added: d.Added.UnixMilli()})
	if err != nil {
		return err
	}
	return w.Set(ownDeviceKey(d.PeerID), b)
}

// checkOwnCert verifies that cert is a valid certificate of persona and
// returns the device's peer ID.
func checkOwnCert(raw []byte, persona string, now time.Time) (peer.ID, error) {
	c, err := identity.ParseDeviceCert(raw)
	if err != nil {
		return "", err
	}
	if err := c.Verify(now, nil); err != nil {
		return "", err
	}
	if c.Persona != persona {
		return "", fmt.Errorf("device certificate is for %s, not %s", c.Persona, persona)
	}
	return p2p.PeerID(c.DeviceKey())
}

// ---- the running node's side ----

// pairState is the pairing codes this node has shown and not yet used.
type pairState struct {
	mu       sync.Mutex
	codes    map[[32]byte]time.Time // SHA-256 of the secret -> expiry
	failures []time.Time
}

// ownDevices returns the paired devices (cached; reloaded on change).
func (s *netSvc) ownDevices() []ownDevice {
	if p := s.own.Load(); p != nil {
		return *p
	}
	return nil
}

func (s *netSvc) reloadOwnDevices() {
	ds, err := loadOwnDevices(s.n.store)
	if err != nil {
		s.n.log.Error("read own devices", "err", err)
		return
	}
	s.own.Store(&ds)
}

// isOwnDevice reports whether p is a paired device of our persona.
func (s *netSvc) isOwnDevice(p peer.ID) bool {
	return slices.ContainsFunc(s.ownDevices(), func(d ownDevice) bool { return d.PeerID == p })
}

// createPairing makes a one-time pairing code for this device.
func (s *netSvc) createPairing(ttl time.Duration) (*pairing.Code, error) {
	if ttl == 0 {
		ttl = defaultPairTTL
	}
	if len(s.ownDevices()) >= maxOwnDevices {
		return nil, fmt.Errorf("%w: this persona already has %d devices, the most an identity record lists", errBadTarget, maxOwnDevices+1)
	}
	c, err := pairing.NewCode([]byte(s.host.ID()), s.advertised(pairing.MaxAddrs), ttl, time.Now())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBadTarget, err)
	}
	s.pair.mu.Lock()
	defer s.pair.mu.Unlock()
	if s.pair.codes == nil {
		s.pair.codes = map[[32]byte]time.Time{}
	}
	now := time.Now()
	for k, exp := range s.pair.codes {
		if !now.Before(exp) {
			delete(s.pair.codes, k)
		}
	}
	s.pair.codes[sha256.Sum256(c.Secret[:])] = c.Expires
	s.n.bus.Publish("device.pairing", map[string]any{"expires": c.Expires.UTC().Format(time.RFC3339)})
	return c, nil
}

// takeCode consumes a pairing secret: true once per valid, unexpired code.
// Wrong secrets are counted; past maxPairFailures a minute every attempt
// is refused, so a code cannot be guessed.
func (s *netSvc) takeCode(secret [pairing.SecretLen]byte) bool {
	s.pair.mu.Lock()
	defer s.pair.mu.Unlock()
	now := time.Now()
	s.pair.failures = slices.DeleteFunc(s.pair.failures, func(t time.Time) bool { return now.Sub(t) > time.Minute })
	if len(s.pair.failures) >= maxPairFailures {
		return false
	}
	k := sha256.Sum256(secret[:])
	exp, ok := s.pair.codes[k]
	delete(s.pair.codes, k)
	if !ok || !now.Before(exp) {
		s.pair.failures = append(s.pair.failures, now)
		return false
	}
	return true
}

// servePair is the paired device's side of the pairing protocol.
func (s *netSvc) servePair(st network.Stream) {
	defer st.Close()
	_ = st.SetDeadline(time.Now().Add(pairTimeout))
	send := func(enc func() ([]byte, error)) bool {
		b, err := enc()
		if err == nil {
			err = pairing.Write(st, b)
		}
		if err != nil {
			_ = st.Reset()
			return false
		}
		return true
	}
	refuse := func(why string) {
		send(func() ([]byte, error) { return pairing.EncodeWelcome(&pairing.Welcome{Message: why}) })
	}
	b, err := pairing.Read(st)
	if err != nil {
		_ = st.Reset()
		return
	}
	hello, err := pairing.ParseHello(b)
	if err != nil {
		refuse("malformed hello")
		return
	}
	if !s.takeCode(hello.Secret) {
		refuse("unknown, used or expired pairing code: make a new one with `peer device add`")
		s.n.bus.Publish("device.pair_failed", map[string]any{"peer": st.Conn().RemotePeer().String()})
		return
	}
	persona := s.n.keys.DefaultPersona()
	welcome := &pairing.Welcome{OK: true, Seed: s.n.keys.RootSeed(), PersonaName: persona.Name}
	defer clear(welcome.Seed)
	cert, err := s.n.keys.DeviceCert(persona.ID)
	if err == nil {
		var self []byte
		if self, err = cert.Marshal(); err == nil {
			welcome.Devices = append(welcome.Devices, pairing.Device{Cert: self, Addrs: s.advertised(pairing.MaxAddrs)})
		}
	}
	if err != nil {
		refuse("internal error")
		s.n.log.Error("pairing: own certificate", "err", err)
		return
	}
	for _, d := range s.ownDevices() {
		welcome.Devices = append(welcome.Devices, pairing.Device{Cert: d.Cert, Addrs: trimAddrs(d.Addrs), Name: d.Name})
	}
	if !send(func() ([]byte, error) { return pairing.EncodeWelcome(welcome) }) {
		return
	}
	if b, err = pairing.Read(st); err != nil {
		_ = st.Reset()
		return
	}
	done := &pairing.Done{OK: true}
	joined, err := pairing.ParseJoined(b)
	var id peer.ID
	if err == nil {
		id, err = checkOwnCert(joined.Device.Cert, persona.ID, time.Now())
	}
	if err == nil {
		err = putOwnDevice(s.n.store, ownDevice{PeerID: id, Cert: joined.Device.Cert, Addrs: joined.Device.Addrs, Name: deviceName(joined.Device.Name, hello.Name), Added: time.Now()})
	}
	if err != nil {
		done = &pairing.Done{Message: "the new device's certificate was not accepted"}
		s.n.log.Warn("pairing: joined message", "err", err)
	}
	send(func() ([]byte, error) { return pairing.EncodeDone(done) })
	if err != nil {
		return
	}
	s.reloadOwnDevices()
	s.refreshSets()
	s.publishSoon()
	s.n.log.Info("device paired", "device", id, "name", hello.Name)
	s.n.bus.Publish("device.paired", map[string]any{"device": id.String(), "name": deviceName(joined.Device.Name, hello.Name)})
}

func trimAddrs(a []string) []string {
	if len(a) > pairing.MaxAddrs {
		return a[:pairing.MaxAddrs]
	}
	return a
}

func deviceName(names ...string) string {
	for _, n := range names {
		if n = strings.TrimSpace(n); n != "" {
			return n
		}
	}
	return ""
}

// publishSoon asks the publishing loop to publish our record now.
func (s *netSvc) publishSoon() {
	select {
	case s.republish <- struct{}{}:
	default:
	}
}

// learnOwnAddrs updates the stored addresses of own device p from its
// identity record (called after connecting to it).
func (s *netSvc) learnOwnAddrs(ctx context.Context, p peer.ID) {
	rec, err := s.disc.FetchID(ctx, p)
	if err != nil || rec.Persona != s.n.Persona() {
		return
	}
	for _, d := range rec.Devices {
		c, err := identity.ParseDeviceCert(d.Cert)
		if err != nil {
			continue
		}
		if id, err := p2p.PeerID(c.DeviceKey()); err != nil || id != p {
			continue
		}
		for _, od := range s.ownDevices() {
			if od.PeerID == p && !slices.Equal(od.Addrs, d.Addrs) && len(d.Addrs) > 0 {
				od.Addrs = trimAddrs(d.Addrs)
				if err := putOwnDevice(s.n.store, od); err == nil {
					s.reloadOwnDevices()
				}
			}
		}
	}
}

// connectOwn connects to own device d: by its stored addresses, else by
// whatever the network knows of it.
func (s *netSvc) connectOwn(ctx context.Context, d ownDevice) error {
	if s.host.Host().Network().Connectedness(d.PeerID) == network.Connected {
		return nil
	}
	if err := s.host.Connect(network.WithAllowLimitedConn(ctx, "own device"), addrInfo(d.PeerID, d.Addrs)); err != nil {
		return fmt.Errorf("own device %s: %w", d.PeerID, err)
	}
	s.goBackground(func() {
		lctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
		defer cancel()
		s.learnOwnAddrs(lctx, d.PeerID)
	})
	return nil
}

// ---- the joining device's side ----

// JoinOptions say how to join a persona as a new device.
type JoinOptions struct {
	Passphrase []byte        // seals the new key store; nil = unsealed
	Name       string        // what this device calls itself (shown on the others)
	Timeout    time.Duration // 0 = 30 s
	// Listen is where the short-lived pairing host listens; nil = loopback
	// on a free port (it only dials out).
	Listen []string
}

// Join makes dir's identity a new device of the persona whose device
// showed code: it connects to that device, proves it holds the code,
// receives the persona's root seed and devices, creates its key store
// with its own device key and certificate, and tells the other device.
// dir must hold no identity yet. Run `peer up` afterwards: the node then
// brings over the persona's MiMei.
func Join(ctx context.Context, dir, code string, opts JoinOptions) (InitResult, error) {
	c, err := pairing.ParseCode(code, time.Now())
	if err != nil {
		return InitResult{}, err
	}
	target, err := peer.IDFromBytes(c.PeerID)
	if err != nil {
		return InitResult{}, fmt.Errorf("%w: bad peer ID in the code", pairing.ErrMalformed)
	}
	if err := datadir.Prepare(dir); err != nil {
		return InitResult{}, err
	}
	lock, err := datadir.Lock(dir)
	if err != nil {
		return InitResult{}, err
	}
	defer lock.Release()
	if _, err := LoadConfig(dir, nil, nil); err != nil {
		return InitResult{}, err
	}
	kdir := filepath.Join(dir, KeysDir)
	if ok, err := keystore.Exists(kdir); err != nil {
		return InitResult{}, err
	} else if ok {
		return InitResult{}, fmt.Errorf("%s already holds an identity: %w (join with a fresh data directory)", dir, ErrAlreadyInitialised)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = pairTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()

	_, tmpKey, err := ed25519.GenerateKey(nil)
	if err != nil {
		return InitResult{}, err
	}
	listen := opts.Listen
	if listen == nil {
		listen = []string{"/ip4/127.0.0.1/tcp/0"}
	}
	h, err := p2p.New(ctx, tmpKey, p2p.Options{ListenAddrs: listen, DHT: "off", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return InitResult{}, fmt.Errorf("pairing host: %w", err)
	}
	defer h.Close()
	if err := h.Connect(ctx, addrInfo(target, c.Addrs)); err != nil {
		return InitResult{}, fmt.Errorf("could not reach the device that showed the code (is it running and on the same network?): %w", err)
	}
	st, err := h.Host().NewStream(ctx, target, pairing.ProtocolID)
	if err != nil {
		return InitResult{}, fmt.Errorf("the other device does not speak the pairing protocol: %w", err)
	}
	defer st.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = st.SetDeadline(dl)
	}
	send := func(b []byte, err error) error {
		if err != nil {
			return err
		}
		return pairing.Write(st, b)
	}
	if err := send(pairing.EncodeHello(&pairing.Hello{Secret: c.Secret, Name: opts.Name})); err != nil {
		return InitResult{}, err
	}
	b, err := pairing.Read(st)
	if err != nil {
		return InitResult{}, fmt.Errorf("pairing: %w", err)
	}
	w, err := pairing.ParseWelcome(b)
	if err != nil {
		return InitResult{}, err
	}
	defer clear(w.Seed)
	if !w.OK {
		return InitResult{}, fmt.Errorf("%w: %s", pairing.ErrRefused, w.Message)
	}
	// The seed must be the persona of the device we dialled: the first
	// device is that device, certified by the persona the seed derives.
	persona := identity.DID(identity.PersonaKey(w.Seed, 0).Public().(ed25519.PublicKey))
	var others []ownDevice
	for i, d := range w.Devices {
		id, err := checkOwnCert(d.Cert, persona, time.Now())
		if err != nil {
			return InitResult{}, fmt.Errorf("pairing: device %d of the welcome: %w", i, err)
		}
		if i == 0 && id != target {
			return InitResult{}, errors.New("pairing: the welcome does not come from a device of the persona it hands over")
		}
		others = append(others, ownDevice{PeerID: id, Cert: d.Cert, Addrs: d.Addrs, Name: d.Name, Added: time.Now().Add(time.Duration(i) * time.Millisecond)})
	}

	ks, _, err := keystore.Create(kdir, keystore.CreateOptions{Seed: w.Seed, Passphrase: opts.Passphrase, FirstPersonaName: w.PersonaName})
	if err != nil {
		return InitResult{}, fmt.Errorf("create identity: %w", err)
	}
	ok := false
	defer func() {
		if !ok { // the other device did not record us: leave no half-joined identity
			_ = os.RemoveAll(kdir)
		}
	}()
	cert, err := ks.DeviceCert(persona)
	if err != nil {
		return InitResult{}, err
	}
	certB, err := cert.Marshal()
	if err != nil {
		return InitResult{}, err
	}
	if err := send(pairing.EncodeJoined(&pairing.Joined{Device: pairing.Device{Cert: certB, Name: opts.Name}})); err != nil {
		return InitResult{}, err
	}
	if b, err = pairing.Read(st); err != nil {
		return InitResult{}, fmt.Errorf("pairing: %w", err)
	}
	done, err := pairing.ParseDone(b)
	if err != nil {
		return InitResult{}, err
	}
	if !done.OK {
		return InitResult{}, fmt.Errorf("%w: %s", pairing.ErrRefused, done.Message)
	}
	if err := storeOwnDevices(dir, others); err != nil {
		return InitResult{}, err
	}
	if _, err := ensureToken(dir); err != nil {
		return InitResult{}, err
	}
	dev, err := p2p.PeerID(ks.DevicePublicKey())
	if err != nil {
		return InitResult{}, err
	}
	ok = true
	return InitResult{Persona: persona, Device: dev.String()}, nil
}

// storeOwnDevices writes the devices learnt at pairing into the data
// directory's store (no node runs: Join holds the lock).
func storeOwnDevices(dir string, ds []ownDevice) error {
	st, err := pebblekv.Open(filepath.Join(dir, StoreDir), pebblekv.Options{})
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	b := st.NewBatch()
	for _, d := range ds {
		if err := putOwnDevice(b, d); err != nil {
			b.Discard()
			st.Close()
			return err
		}
	}
	err = b.Commit()
	if err == nil {
		err = st.Sync()
	}
	return errors.Join(err, st.Close())
}
