package devices

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/identity"
	"github.com/peer-node/peer/internal/idrecord"
	"github.com/peer-node/peer/internal/keystore"
	"github.com/peer-node/peer/internal/kv"
	"github.com/peer-node/peer/internal/kv/memkv"
	"github.com/peer-node/peer/internal/netport"
	"github.com/peer-node/peer/internal/netport/memnet"
	"github.com/peer-node/peer/internal/pairing"
)

// clock is a settable clock for the paired side.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// recorder keeps the events a service published and counts Changed calls.
type recorder struct {
	mu      sync.Mutex
	kinds   []string
	data    []map[string]any
	changed int
}

func (r *recorder) Event(kind string, data any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.kinds = append(r.kinds, kind)
	m, _ := data.(map[string]any)
	r.data = append(r.data, m)
}

func (r *recorder) Changed() {
	r.mu.Lock()
	r.changed++
	r.mu.Unlock()
}

func (r *recorder) changes() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changed
}

func (r *recorder) count(kind string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, k := range r.kinds {
		if k == kind {
			n++
		}
	}
	return n
}

func (r *recorder) last(kind string) map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.kinds) - 1; i >= 0; i-- {
		if r.kinds[i] == kind {
			return r.data[i]
		}
	}
	return nil
}

// device is one running device on the test network.
type device struct {
	keys  *keystore.Store
	store kv.Store
	node  *memnet.Node
	svc   *Service
	rec   *recorder
	clock *clock
}

func (d *device) id() netport.PeerID { return d.node.Self() }

func (d *device) persona() string { return d.keys.DefaultPersona().ID }

// newKeys makes a key store: a new persona (seed nil) or a new device of
// the persona seed derives.
func newKeys(t *testing.T, seed []byte) *keystore.Store {
	t.Helper()
	ks, _, err := keystore.Create(filepath.Join(t.TempDir(), "keys"), keystore.CreateOptions{Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

// deviceID is the network name of ks's device.
func deviceID(t *testing.T, ks *keystore.Store) netport.PeerID {
	t.Helper()
	id, err := identity.DeviceID(ks.DevicePublicKey())
	if err != nil {
		t.Fatal(err)
	}
	return netport.PeerID(id)
}

func newNet(t *testing.T) *memnet.Net {
	n := memnet.New()
	t.Cleanup(n.Close)
	return n
}

// startDevice runs the service of ks on n, named by its device key as on
// the real network.
func startDevice(t *testing.T, n *memnet.Net, ks *keystore.Store, st kv.Store, mod func(*Config)) *device {
	t.Helper()
	if st == nil {
		st = memkv.New()
	}
	d := &device{keys: ks, store: st, node: n.Node(deviceID(t, ks)), rec: &recorder{}, clock: newClock()}
	cfg := Config{
		Net: d.node, KV: st, Keys: ks,
		Advertised: func(int) []string { return []string{"/memnet/" + string(d.node.Self())} },
		Changed:    d.rec.Changed, Event: d.rec.Event, Now: d.clock.Now,
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	d.svc = s
	return d
}

// joiner is the joining side: a short-lived node with a throw-away name,
// and where its keys and devices go.
type joiner struct {
	node    *memnet.Node
	keysDir string
	store   *memkv.Store
}

var joiners sync.Mutex
var joinerSeq int

func newJoiner(t *testing.T, n *memnet.Net) *joiner {
	joiners.Lock()
	joinerSeq++
	name := netport.PeerID("joiner-" + strings.Repeat("x", joinerSeq))
	joiners.Unlock()
	return &joiner{node: n.Node(name), keysDir: filepath.Join(t.TempDir(), "keys"), store: memkv.New()}
}

func (j *joiner) join(code, name string) (JoinResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return Join(ctx, j.node, code, JoinOptions{KeysDir: j.keysDir, KV: j.store, Name: name})
}

// noKeys fails the test if the joiner left a key store behind.
func (j *joiner) noKeys(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(j.keysDir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("keys dir left behind after a failed join (stat: %v)", err)
	}
	ds, err := load(j.store, discard)
	if err != nil || len(ds) != 0 {
		t.Fatalf("devices stored after a failed join: %v, %v", ds, err)
	}
}

func code(t *testing.T, d *device) *pairing.Code {
	t.Helper()
	c, err := d.svc.CreatePairing(0)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPairTwoDevicesThenAThird(t *testing.T) {
	n := newNet(t)
	a := startDevice(t, n, newKeys(t, nil), nil, nil)
	c := code(t, a)
	if got := a.rec.count("device.pairing"); got != 1 {
		t.Fatalf("%d device.pairing events, want 1", got)
	}
	j := newJoiner(t, n)
	res, err := j.join(c.String(), " laptop ")
	if err != nil {
		t.Fatal(err)
	}
	if res.Persona != a.persona() {
		t.Fatalf("joined persona %s, want %s", res.Persona, a.persona())
	}

	// The joiner's key store is of the same persona, with a device key of
	// its own that res names.
	bk, err := keystore.Open(j.keysDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if bk.DefaultPersona().ID != a.persona() || bk.DefaultPersona().Name != a.keys.DefaultPersona().Name {
		t.Fatalf("joined key store has persona %+v", bk.DefaultPersona())
	}
	if res.Device != deviceID(t, bk) || res.Device == a.id() {
		t.Fatalf("result device %s, key store's %s", res.Device, deviceID(t, bk))
	}

	// The paired device lists the new one, with a valid certificate.
	la := a.svc.List()
	if len(la) != 1 || la[0].PeerID != res.Device || la[0].Name != "laptop" {
		t.Fatalf("paired device lists %+v", la)
	}
	if id, err := CheckCert(la[0].Cert, a.persona(), time.Now()); err != nil || id != res.Device {
		t.Fatalf("stored certificate: %s, %v", id, err)
	}
	if !a.svc.IsOwn(res.Device) {
		t.Fatal("IsOwn(new device) = false")
	}
	if a.rec.changes() != 1 || a.rec.count("device.paired") != 1 {
		t.Fatalf("changed %d, device.paired %d; want 1, 1", a.rec.changes(), a.rec.count("device.paired"))
	}
	if ev := a.rec.last("device.paired"); ev["device"] != res.Device.String() || ev["name"] != "laptop" {
		t.Fatalf("device.paired %v", ev)
	}

	// The new device, once running on its own key, lists the first one.
	b := startDevice(t, n, bk, j.store, nil)
	lb := b.svc.List()
	if len(lb) != 1 || lb[0].PeerID != a.id() || !slices.Equal(lb[0].Addrs, []string{"/memnet/" + string(a.id())}) {
		t.Fatalf("new device lists %+v", lb)
	}
	if id, err := CheckCert(lb[0].Cert, a.persona(), time.Now()); err != nil || id != a.id() {
		t.Fatalf("stored certificate of the first device: %s, %v", id, err)
	}

	// A third device paired by the second learns of both, the second first.
	j3 := newJoiner(t, n)
	res3, err := j3.join(code(t, b).String(), "")
	if err != nil {
		t.Fatal(err)
	}
	var got []netport.PeerID
	for _, d := range res3.Devices {
		got = append(got, d.PeerID)
	}
	if want := []netport.PeerID{b.id(), a.id()}; !slices.Equal(got, want) {
		t.Fatalf("third device learnt %v, want %v", got, want)
	}
	stored, err := load(j3.store, discard)
	if err != nil || len(stored) != 2 || stored[0].PeerID != b.id() {
		t.Fatalf("third device stored %+v, %v", stored, err)
	}
	if !b.svc.IsOwn(res3.Device) || b.svc.List()[1].Name != "" {
		t.Fatalf("second device lists %+v", b.svc.List())
	}
}

func TestCodeRefused(t *testing.T) {
	n := newNet(t)
	a := startDevice(t, n, newKeys(t, nil), nil, nil)

	used := code(t, a)
	if _, err := newJoiner(t, n).join(used.String(), ""); err != nil {
		t.Fatal(err)
	}
	wrong := *code(t, a)
	wrong.Secret[0] ^= 1
	expired := code(t, a)

	for _, tc := range []struct {
		name    string
		code    string
		advance time.Duration // of the paired device's clock
	}{
		{"used", used.String(), 0},
		{"wrong", wrong.String(), 0},
		{"expired", expired.String(), DefaultPairTTL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a.clock.Advance(tc.advance)
			before := a.rec.count("device.pair_failed")
			j := newJoiner(t, n)
			_, err := j.join(tc.code, "")
			if !errors.Is(err, pairing.ErrRefused) || !strings.Contains(err.Error(), "unknown, used or expired") {
				t.Fatalf("join: %v, want a refusal", err)
			}
			j.noKeys(t)
			if got := a.rec.count("device.pair_failed"); got != before+1 {
				t.Fatalf("device.pair_failed events %d, want %d", got, before+1)
			}
			if ev := a.rec.last("device.pair_failed"); ev["peer"] != j.node.Self().String() {
				t.Fatalf("device.pair_failed %v", ev)
			}
		})
	}
	if len(a.svc.List()) != 1 {
		t.Fatalf("paired device lists %d devices, want 1", len(a.svc.List()))
	}
}

func TestJoinerRefusesExpiredCode(t *testing.T) {
	n := newNet(t)
	a := startDevice(t, n, newKeys(t, nil), nil, nil)
	c := code(t, a)
	j := newJoiner(t, n)
	_, err := Join(context.Background(), j.node, c.String(), JoinOptions{
		KeysDir: j.keysDir, KV: j.store, Now: func() time.Time { return c.Expires },
	})
	if !errors.Is(err, pairing.ErrExpired) {
		t.Fatalf("join: %v, want ErrExpired", err)
	}
	j.noKeys(t)
	if n.Streams(j.node.Self(), a.id()) != 0 {
		t.Fatal("the joiner dialled with an expired code")
	}
	if CheckCode(c.String(), c.Expires) == nil || CheckCode(c.String(), time.Now()) != nil {
		t.Fatal("CheckCode does not agree with Join")
	}
}

func TestGuessingIsLimited(t *testing.T) {
	n := newNet(t)
	a := startDevice(t, n, newKeys(t, nil), nil, nil)
	good := code(t, a)
	for i := range MaxPairFailures {
		bad := *good
		bad.Secret[i%pairing.SecretLen] ^= 0x80
		if _, err := newJoiner(t, n).join(bad.String(), ""); !errors.Is(err, pairing.ErrRefused) {
			t.Fatalf("wrong code %d: %v, want a refusal", i, err)
		}
	}
	// Past the limit even the right code is refused…
	j := newJoiner(t, n)
	if _, err := j.join(good.String(), ""); !errors.Is(err, pairing.ErrRefused) {
		t.Fatalf("right code past the limit: %v, want a refusal", err)
	}
	j.noKeys(t)
	// … and, once the failures are a minute old, a right code works again.
	a.clock.Advance(time.Minute + time.Second)
	if _, err := newJoiner(t, n).join(code(t, a).String(), ""); err != nil {
		t.Fatalf("right code a minute later: %v", err)
	}
}

func TestTooManyDevices(t *testing.T) {
	n := newNet(t)
	ks := newKeys(t, nil)
	st := memkv.New()
	for i := range MaxOwnDevices - 1 { // real devices: a joiner checks every certificate
		other := newKeys(t, ks.RootSeed())
		if err := put(st, Device{PeerID: deviceID(t, other), Cert: certOf(t, other), Added: time.UnixMilli(int64(i))}); err != nil {
			t.Fatal(err)
		}
	}
	a := startDevice(t, n, ks, st, nil)
	c1, c2 := code(t, a), code(t, a) // the last free place, twice
	if _, err := newJoiner(t, n).join(c1.String(), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := a.svc.CreatePairing(0); !errors.Is(err, ErrTooManyDevices) {
		t.Fatalf("CreatePairing with %d devices: %v, want ErrTooManyDevices", MaxOwnDevices, err)
	}
	j := newJoiner(t, n)
	if _, err := j.join(c2.String(), ""); !errors.Is(err, pairing.ErrRefused) || !strings.Contains(err.Error(), "8 devices") {
		t.Fatalf("second code once full: %v, want a refusal", err)
	}
	j.noKeys(t)
	if got := len(a.svc.List()); got != MaxOwnDevices {
		t.Fatalf("%d devices, want %d", got, MaxOwnDevices)
	}
}

func TestCreatePairing(t *testing.T) {
	n := newNet(t)
	a := startDevice(t, n, newKeys(t, nil), nil, nil)
	for _, tc := range []struct {
		ttl time.Duration
		ok  bool
	}{
		{0, true}, {time.Second, true}, {pairing.MaxTTL, true},
		{-time.Second, false}, {pairing.MaxTTL + time.Second, false},
	} {
		c, err := a.svc.CreatePairing(tc.ttl)
		if tc.ok != (err == nil) || (!tc.ok && !errors.Is(err, ErrBadTTL)) {
			t.Errorf("ttl %v: %v", tc.ttl, err)
			continue
		}
		if !tc.ok {
			continue
		}
		p, err := pairing.ParseCode(c.String(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if id, err := peerIDText(p.PeerID); err != nil || id != a.id() {
			t.Errorf("code names %s (%v), want %s", id, err, a.id())
		}
	}
	// A node whose name is no peer ID cannot show a code.
	s, err := New(Config{Net: n.Node("not-a-peer-id"), KV: memkv.New(), Keys: a.keys})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.CreatePairing(0); err == nil {
		t.Fatal("CreatePairing on a node with no peer ID: no error")
	}
}

// fakeServer answers the pairing protocol as told, on the network name
// of the device key of keys (so that codes it makes reach it).
type fakeServer struct {
	node    *memnet.Node
	welcome func(*pairing.Hello) *pairing.Welcome
	done    *pairing.Done
	joined  chan error // what the server read after its welcome
}

func newFakeServer(t *testing.T, n *memnet.Net, keys *keystore.Store, welcome func(*pairing.Hello) *pairing.Welcome, done *pairing.Done) *fakeServer {
	f := &fakeServer{node: n.Node(deviceID(t, keys)), welcome: welcome, done: done, joined: make(chan error, 1)}
	f.node.Handle(pairing.ProtocolID, func(st netport.Stream) {
		defer st.Close()
		_ = st.SetDeadline(time.Now().Add(10 * time.Second))
		b, err := pairing.Read(st)
		if err != nil {
			f.joined <- err
			return
		}
		h, err := pairing.ParseHello(b)
		if err == nil {
			b, err = pairing.EncodeWelcome(f.welcome(h))
		}
		if err == nil {
			err = pairing.Write(st, b)
		}
		if err != nil {
			f.joined <- err
			return
		}
		b, err = pairing.Read(st)
		if err == nil {
			_, err = pairing.ParseJoined(b)
		}
		f.joined <- err
		if err == nil && f.done != nil {
			if b, err := pairing.EncodeDone(f.done); err == nil {
				_ = pairing.Write(st, b)
			}
		}
	})
	return f
}

func (f *fakeServer) code(t *testing.T) string {
	raw, err := peerIDBytes(f.node.Self())
	if err != nil {
		t.Fatal(err)
	}
	c, err := pairing.NewCode(raw, nil, time.Minute, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return c.String()
}

func certOf(t *testing.T, ks *keystore.Store) []byte {
	t.Helper()
	c, err := ks.DeviceCert(ks.DefaultPersona().ID)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A "pairing server" that hands over a seed which is not its persona's
// must be refused before any key store is made: the joiner would become a
// device of someone else's persona (or of one the server controls).
func TestJoinRefusesForeignWelcome(t *testing.T) {
	server := newKeys(t, nil)                   // the device dialled, persona S
	other := newKeys(t, nil)                    // persona O
	otherDevice := newKeys(t, other.RootSeed()) // another device of O
	for _, tc := range []struct {
		name    string
		seed    []byte
		devices [][]byte
		want    string
	}{
		{"seed of another persona", other.RootSeed(), [][]byte{certOf(t, server)}, "device 0 of the welcome"},
		{"another device of the seed's persona", other.RootSeed(), [][]byte{certOf(t, otherDevice)}, "does not come from a device of the persona"},
		{"a stranger in the list", server.RootSeed(), [][]byte{certOf(t, server), certOf(t, other)}, "device 1 of the welcome"},
		{"a damaged certificate", server.RootSeed(), [][]byte{certOf(t, server)[1:]}, "device 0 of the welcome"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNet(t)
			f := newFakeServer(t, n, server, func(*pairing.Hello) *pairing.Welcome {
				w := &pairing.Welcome{OK: true, Seed: tc.seed, PersonaName: "default"}
				for _, c := range tc.devices {
					w.Devices = append(w.Devices, pairing.Device{Cert: c})
				}
				return w
			}, &pairing.Done{OK: true})
			j := newJoiner(t, n)
			_, err := j.join(f.code(t), "")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("join: %v, want an error with %q", err, tc.want)
			}
			j.noKeys(t)
			if err := <-f.joined; err == nil {
				t.Fatal("the joiner sent its certificate to a foreign server")
			}
		})
	}
}

func TestJoinRemovesKeysWhenDoneRefused(t *testing.T) {
	server := newKeys(t, nil)
	for _, tc := range []struct {
		name string
		done *pairing.Done // nil: the server hangs up instead
	}{
		{"refused", &pairing.Done{Message: "no thanks"}},
		{"hung up", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNet(t)
			f := newFakeServer(t, n, server, func(*pairing.Hello) *pairing.Welcome {
				return &pairing.Welcome{OK: true, Seed: server.RootSeed(), Devices: []pairing.Device{{Cert: certOf(t, server)}}}
			}, tc.done)
			j := newJoiner(t, n)
			_, err := j.join(f.code(t), "")
			if err == nil {
				t.Fatal("join succeeded")
			}
			if tc.done != nil && (!errors.Is(err, pairing.ErrRefused) || !strings.Contains(err.Error(), "no thanks")) {
				t.Fatalf("join: %v, want the refusal", err)
			}
			if err := <-f.joined; err != nil {
				t.Fatalf("the server did not get a valid Joined: %v", err)
			}
			j.noKeys(t)
		})
	}
}

func TestJoinFinishFailureRemovesKeys(t *testing.T) {
	n := newNet(t)
	a := startDevice(t, n, newKeys(t, nil), nil, nil)
	j := newJoiner(t, n)
	_, err := Join(context.Background(), j.node, code(t, a).String(), JoinOptions{
		KeysDir: j.keysDir, KV: j.store, Finish: func() error { return errors.New("disk full") },
	})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("join: %v, want Finish's error", err)
	}
	if _, err := os.Stat(j.keysDir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("keys dir left behind (stat: %v)", err)
	}
}

func TestJoinRefusesExistingKeys(t *testing.T) {
	n := newNet(t)
	a := startDevice(t, n, newKeys(t, nil), nil, nil)
	j := newJoiner(t, n)
	existing := newKeys(t, nil)
	_, err := Join(context.Background(), j.node, code(t, a).String(), JoinOptions{KeysDir: existing.Dir(), KV: j.store})
	if !errors.Is(err, keystore.ErrExists) {
		t.Fatalf("join into a key store: %v, want keystore.ErrExists", err)
	}
	if _, err := keystore.Open(existing.Dir(), nil); err != nil {
		t.Fatalf("the existing key store was harmed: %v", err)
	}
	if a.rec.count("device.pair_failed")+a.rec.count("device.paired") != 0 {
		t.Fatal("the joiner talked to the other device")
	}
}

func TestJoinUnreachable(t *testing.T) {
	n := newNet(t)
	a := startDevice(t, n, newKeys(t, nil), nil, nil)
	c := code(t, a)
	a.node.Close()
	j := newJoiner(t, n)
	if _, err := j.join(c.String(), ""); err == nil || !strings.Contains(err.Error(), "could not reach") {
		t.Fatalf("join: %v, want unreachable", err)
	}
	j.noKeys(t)
}

func TestConnectLearnsAddrs(t *testing.T) {
	n := newNet(t)
	var fetch func(context.Context, netport.PeerID) (*idrecord.Record, error)
	var fetchMu sync.Mutex
	a := startDevice(t, n, newKeys(t, nil), nil, func(c *Config) {
		c.FetchRecord = func(ctx context.Context, p netport.PeerID) (*idrecord.Record, error) {
			fetchMu.Lock()
			defer fetchMu.Unlock()
			return fetch(ctx, p)
		}
	})
	j := newJoiner(t, n)
	res, err := j.join(code(t, a).String(), "")
	if err != nil {
		t.Fatal(err)
	}
	bk, err := keystore.Open(j.keysDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := startDevice(t, n, bk, j.store, nil)
	newAddrs := []string{"/ip4/192.0.2.7/tcp/4001"}
	foreign := newKeys(t, nil)
	records := []*idrecord.Record{
		// Another persona's record naming b: ignored.
		{Persona: foreign.DefaultPersona().ID, Devices: []idrecord.Device{{Cert: certOf(t, bk), Addrs: []string{"/ip4/198.51.100.1/tcp/1"}}}},
		// Our persona's, with b's new addresses.
		{Persona: a.persona(), Devices: []idrecord.Device{{Cert: certOf(t, a.keys), Addrs: []string{"/ip4/203.0.113.9/tcp/1"}}, {Cert: certOf(t, bk), Addrs: newAddrs}}},
	}
	for i, rec := range records {
		fetchMu.Lock()
		fetch = func(_ context.Context, p netport.PeerID) (*idrecord.Record, error) {
			if p != b.id() {
				return nil, errors.New("no record")
			}
			return rec, nil
		}
		fetchMu.Unlock()
		n.DropLink(a.id(), b.id())
		d := a.svc.List()[0]
		if err := a.svc.Connect(context.Background(), d); err != nil {
			t.Fatal(err)
		}
		if !a.node.Connected(res.Device) {
			t.Fatal("not connected after Connect")
		}
		if i == 0 {
			a.svc.LearnAddrs(context.Background(), b.id()) // synchronously, then check nothing changed
			if got := a.svc.List()[0].Addrs; slices.Equal(got, records[0].Devices[0].Addrs) {
				t.Fatalf("learnt addresses from another persona's record: %v", got)
			}
			continue
		}
		await(t, "the new addresses stored", func() bool { return slices.Equal(a.svc.List()[0].Addrs, newAddrs) })
	}
	// And they are in the store, not only the cache.
	ds, err := load(a.store, discard)
	if err != nil || len(ds) != 1 || !slices.Equal(ds[0].Addrs, newAddrs) {
		t.Fatalf("stored %+v, %v", ds, err)
	}
	if a.rec.changes() != 1 {
		t.Fatalf("Changed called %d times, want 1 (address updates do not call it)", a.rec.changes())
	}
}

func TestCloseAbortsPairing(t *testing.T) {
	n := newNet(t)
	a := startDevice(t, n, newKeys(t, nil), nil, nil)
	j := newJoiner(t, n)
	st, err := j.node.NewStream(context.Background(), a.id(), pairing.ProtocolID)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	closed := make(chan error, 1)
	go func() { closed <- a.svc.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close waits for a pairing that sends nothing")
	}
	_ = st.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := pairing.Read(st); err == nil {
		t.Fatal("the stream still answers after Close")
	}
	if _, err := j.node.NewStream(context.Background(), a.id(), pairing.ProtocolID); !errors.Is(err, netport.ErrNoHandler) {
		t.Fatalf("stream after Close: %v, want ErrNoHandler", err)
	}
}

func TestCheckCert(t *testing.T) {
	ks := newKeys(t, nil)
	other := newKeys(t, nil)
	for _, tc := range []struct {
		name    string
		cert    []byte
		persona string
		ok      bool
	}{
		{"own", certOf(t, ks), ks.DefaultPersona().ID, true},
		{"another persona's", certOf(t, other), ks.DefaultPersona().ID, false},
		{"damaged", certOf(t, ks)[2:], ks.DefaultPersona().ID, false},
		{"empty", nil, ks.DefaultPersona().ID, false},
	} {
		id, err := CheckCert(tc.cert, tc.persona, time.Now())
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
		if tc.ok && id != deviceID(t, ks) {
			t.Errorf("%s: device %s, want %s", tc.name, id, deviceID(t, ks))
		}
	}
	// A forged signature.
	c, _ := ks.DeviceCert(ks.DefaultPersona().ID)
	c.Sig[0] ^= 1
	b, _ := c.Marshal()
	if _, err := CheckCert(b, ks.DefaultPersona().ID, time.Now()); !errors.Is(err, identity.ErrBadSignature) {
		t.Errorf("forged: %v, want ErrBadSignature", err)
	}
}

// await polls cond until it holds or a deadline passes.
func await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
